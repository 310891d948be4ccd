//! A visitor as their Durable Object keeps them: the rules' profile and the analytics'
//! bookkeeping, in one record; and what folding something in gives the object to send.
//! [`facts`](crate::facts) does the folding (`Visitor::events`, `purchases`, `decided`,
//! `session_over`).

use rapport_rules::Profile;
use serde::{Deserialize, Serialize};

use crate::tables::{self, Row};

/// A visitor's record: the rules' profile, and what only the analytics read beside it. It
/// is stored as one JSON object (the profile's fields, and `tracking`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Visitor {
    #[serde(flatten)]
    pub profile: Profile,
    #[serde(default, skip_serializing_if = "Tracking::is_empty")]
    pub tracking: Tracking,
}

/// What the analytics counted for the visitor on the last day they were decided for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tracking {
    /// The site the visitor is counted for (an idle session's exit is counted later, by an
    /// alarm that knows nothing else).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub site: String,
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The segments they were in that day.
    pub segments: Vec<String>,
    /// Their lifecycle stage as last counted.
    pub stage: String,
    /// A purchase was counted for that day.
    pub converted: bool,
    /// The ISO week of `day` (`2026-W49`), and per segment (`""`: the site) the visitor's
    /// days and converting days in it: a cluster, for the variance of conversion rates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub week: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub week_days: std::collections::BTreeMap<String, [u32; 2]>,
    /// The path of the session's landing page, while the session has only that page and
    /// the visitor might still leave straight away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<String>,
}

impl Tracking {
    pub fn is_empty(&self) -> bool {
        self.site.is_empty()
            && self.day.is_empty()
            && self.stage.is_empty()
            && self.landing.is_none()
    }
}

/// What folding something in gives the object to send: rows of the aggregate tables (the
/// daily report's and the analytics'), merged by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub rows: Vec<Row>,
}

impl Changes {
    pub(crate) fn merged(rows: Vec<Row>) -> Changes {
        Changes {
            rows: tables::merge(rows),
        }
    }
}

/// A purchase the shop's server reported, not seen before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Purchase {
    pub value: f64,
    pub at_ms: i64,
    /// Bought by this visitor (not only by their customer account elsewhere): the cart was
    /// bought.
    pub from_this_visitor: bool,
}

impl Visitor {
    pub fn new(visitor_id: &str) -> Visitor {
        Visitor {
            profile: Profile::new(visitor_id),
            tracking: Tracking::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_protocol::{Event, EventData, PageContext, PageView};

    /// A record stored before the analytics' bookkeeping left the profile reads the same:
    /// the profile's fields, with `tracking` beside them.
    #[test]
    fn a_stored_profile_with_its_tracking_reads_as_a_record_and_writes_back_alike() {
        let stored = r#"{"visitor_id":"v1","visits":2,"page_views":5,
            "tracking":{"site":"demo","day":"2026-12-01","segments":["italian"],"stage":"engaged",
                        "converted":false,"landing":"/a"}}"#;
        let record: Visitor = serde_json::from_str(stored).unwrap();
        assert_eq!(record.profile.visitor_id, "v1");
        assert_eq!(record.profile.sessions, 2);
        assert_eq!(record.tracking.site, "demo");
        assert_eq!(record.tracking.segments, ["italian"]);
        assert_eq!(record.tracking.landing.as_deref(), Some("/a"));
        let written = serde_json::to_value(&record).unwrap();
        assert_eq!(written["visits"], 2);
        assert_eq!(written["tracking"]["day"], "2026-12-01");
        assert_eq!(serde_json::from_value::<Visitor>(written).unwrap(), record);
        // A visitor the analytics never counted keeps no `tracking`.
        let fresh = serde_json::to_value(Visitor::new("v2")).unwrap();
        assert!(fresh.get("tracking").is_none(), "{fresh}");
    }

    /// Each event's rows come from the profile as it was before the event: a session's
    /// first page view is its landing (after folding it in, the session has a page already).
    #[test]
    fn events_are_counted_before_they_are_folded_in() {
        let view = |id: &str, path: &str| Event {
            id: id.into(),
            session_id: "s1".into(),
            client_ts: None,
            data: EventData::PageView(PageView {
                page: PageContext {
                    url: format!("https://shop.example{path}"),
                    path: path.into(),
                    kind: Some("home".into()),
                    locale: None,
                },
                title: None,
                referrer: None,
            }),
        };
        let mut record = Visitor::new("v1");
        let events = [view("e1", "/"), view("e2", "/b")];
        let changes = record.events("demo", &events, 1_796_083_200_000);
        let pages = crate::tables::total(crate::tables::PageDay::among(&changes.rows));
        let (landings, views) = (pages.landings, pages.views);
        assert_eq!((landings, views), (1.0, 2.0));
        assert_eq!(record.profile.page_views, 2);
        assert_eq!(record.tracking.site, "demo");
        // The second page: the landing was no exit.
        assert_eq!(record.tracking.landing, None);
    }
}
