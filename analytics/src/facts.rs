//! What one visitor adds to the aggregate tables, worked out where the visitor's history is:
//! in its Durable Object, which calls these as events, decisions and purchases arrive. Each
//! function updates what the visitor's record remembers for analytics (`Profile::experiments`,
//! [`Tracking`](crate::visitor::Tracking)) and gives the deltas, so that summing the rows of any period gives
//! exact counts and sufficient statistics without any visitor data in the aggregates.
//!
//! - Experiments: a visitor is enrolled in the arm of their first exposure (an impression,
//!   or a control's exposure when the treatment's trigger would have fired), on that UTC day;
//!   later purchases, clicks and answers add to that day's row, as a change of the visitor's
//!   own total (a revenue going from r to r + x adds x and (r + x)² − r²).
//! - Segments and stages are counted per visitor-day: the first decision of a day records
//!   the visitor's segments and lifecycle stage.

use rapport_protocol::{Answer, Event, EventData, ExperienceRef, PageView, Survey};
use rapport_rules::profile::{is_in_stock, Enrolment};
use rapport_rules::report::{self, day};
use rapport_rules::visitor::lifecycle::Lifecycle;
use rapport_rules::Rulebook;

use crate::tables::{Row, Table};
use crate::visitor::{Changes, Purchase, Visitor};

pub use rapport_rules::{HOLDOUT_ARM, PERSONALISED_ARM, PROGRAMME};

/// Engaged seconds after which a landing is no longer an exit "straight after arriving".
pub const QUICK_EXIT_SECONDS: u64 = 10;
/// A session ends after this long without events.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

/// NPS scores up to this are detractors; CSAT scores up to this are unhappy.
const NPS_DETRACTOR_MAX: u8 = 6;
const CSAT_UNHAPPY_MAX: u8 = 2;
/// The longest comment or search query kept.
const TEXT_LIMIT: usize = 500;
const QUERY_LIMIT: usize = 100;

fn text(value: &str, limit: usize) -> String {
    value.trim().chars().take(limit).collect()
}

/// `(n + x)² − n²`: what a change of `x` to a total of `n` adds to a sum of squares.
fn square_delta(before: f64, after: f64) -> f64 {
    after * after - before * before
}

fn arm_row(rule: &str, e: &Enrolment) -> Row {
    Row::new(Table::Arms, &[rule, &e.arm, &day(e.at_ms)])
}

impl Visitor {
    /// Events of `site` newly stored (each once, in the order they came), at `now_ms`:
    /// everything the object must keep (this record) and send (the changes). Each event's
    /// rows are worked out from the profile as it was before it, then the event is folded
    /// into the profile, then the lifecycle stage it may have moved to is counted.
    pub fn events<'a>(
        &mut self,
        site: &str,
        events: impl IntoIterator<Item = &'a Event>,
        now_ms: i64,
    ) -> Changes {
        if self.tracking.site != site {
            self.tracking.site = site.to_owned();
        }
        let (mut tallies, mut rows) = (Vec::new(), Vec::new());
        for stored in events {
            rows.extend(event(self, stored, now_ms));
            self.profile.apply(stored, now_ms);
            tallies.extend(report::tally_event(&stored.data, now_ms));
        }
        rows.extend(after_change(self, now_ms));
        Changes::merged(tallies, rows)
    }

    /// Purchases newly reported by the shop's server at `now_ms`, credited to what the
    /// visitor saw and, within `attribution_days`, to their experiments and segments; then
    /// whatever else the server changed (trusted facts, already set on the profile).
    pub fn purchases(
        &mut self,
        purchases: &[Purchase],
        attribution_days: u32,
        now_ms: i64,
    ) -> Changes {
        let (mut tallies, mut rows) = (Vec::new(), Vec::new());
        for bought in purchases {
            tallies.extend(report::tally_conversion(
                &self.profile,
                bought.value,
                bought.at_ms,
            ));
            rows.extend(purchase(self, bought.value, bought.at_ms, attribution_days));
            if bought.from_this_visitor {
                self.profile.cart.clear();
            }
        }
        rows.extend(after_change(self, now_ms));
        Changes::merged(tallies, rows)
    }

    /// Whether a decision at `now_ms` counts the visitor: their first of the UTC day.
    /// Cheap, so that other decisions write nothing.
    pub fn counts_decision(&self, now_ms: i64) -> bool {
        self.tracking.day != day(now_ms)
    }

    /// A decision served at `now_ms` under `book`: on the visitor's first of the day, their
    /// segments and stage for the day.
    pub fn decided(&mut self, book: &Rulebook, now_ms: i64) -> Changes {
        let mut rows = decided(book, self, now_ms);
        rows.extend(after_change(self, now_ms));
        Changes::merged(Vec::new(), rows)
    }

    /// When the session, idle, is over with its landing page still open: the time to judge
    /// that landing.
    pub fn session_ends_at(&self) -> Option<i64> {
        self.tracking
            .landing
            .as_ref()
            .map(|_| self.profile.last_seen_ms + SESSION_IDLE_MS)
    }

    /// The session is over (idle since its last event): its landing, if the visitor left it
    /// straight away, was a quick exit.
    pub fn session_over(&mut self, now_ms: i64) -> Changes {
        Changes::merged(Vec::new(), quick_exit(self, now_ms).into_iter().collect())
    }
}

/// Where and when an event happened: its UTC day, and the page the visitor was last on.
struct Moment {
    today: String,
    path: String,
    kind: String,
    now_ms: i64,
}

/// The rows `event` adds, from the profile as it was before the event; call before
/// `Profile::apply`, then [`after_change`].
fn event(visitor: &mut Visitor, event: &Event, now_ms: i64) -> Vec<Row> {
    let mut rows = Vec::new();
    // A new session: the last one's landing page, if nothing followed it, was an exit.
    let new_session = event.session_id != visitor.profile.session_id;
    if new_session {
        rows.extend(quick_exit(visitor, now_ms));
    }
    let page = visitor.profile.recent_pages.front();
    let at = Moment {
        today: day(now_ms),
        path: page.map(|p| p.path.clone()).unwrap_or_default(),
        kind: page.and_then(|p| p.kind.clone()).unwrap_or_default(),
        now_ms,
    };
    let today = &at.today;
    match &event.data {
        EventData::Exposure(r) | EventData::Impression(r) => rows.extend(enrol(visitor, r, now_ms)),
        EventData::Click(c) => rows.extend(click(visitor, &c.experience)),
        EventData::Answer(answer) => rows.extend(answered(visitor, answer, &at)),
        EventData::PageView(view) => rows.push(page_view(visitor, view, new_session, today)),
        EventData::Engagement(engaged) => {
            let total =
                visitor.profile.session_engaged_seconds + u64::from(engaged.seconds.min(3_600));
            if !new_session && total >= QUICK_EXIT_SECONDS {
                visitor.tracking.landing = None;
            }
        }
        EventData::RageClick(_) if !at.path.is_empty() => {
            let row = Row::new(Table::Pages, &[today, &at.path, &at.kind]);
            rows.push(row.with("rage_clicks", 1.0));
        }
        EventData::Search(search) => {
            let query = text(&search.query.to_lowercase(), QUERY_LIMIT);
            if !query.is_empty() {
                let nothing = search.results == Some(0);
                rows.push(
                    Row::new(Table::Searches, &[today, &query])
                        .with("searches", f64::from(nothing))
                        .with("total", 1.0),
                );
            }
        }
        EventData::ProductView(view) if !is_in_stock(&view.product) => {
            let name = view.product.name.as_deref().unwrap_or_default();
            let row = Row::new(Table::SoldOut, &[today, &view.product.id, &text(name, 200)]);
            rows.push(row.with("views", 1.0));
        }
        _ => {}
    }
    rows
}

/// An impression or exposure: the visitor's enrolment in its arm, if it is their first.
fn enrol(visitor: &mut Visitor, r: &ExperienceRef, now_ms: i64) -> Option<Row> {
    let arm = r.variant.as_ref()?;
    if visitor.profile.experiments.contains_key(&r.rule) {
        return None;
    }
    let enrolment = Enrolment {
        arm: arm.clone(),
        at_ms: now_ms,
        ..Enrolment::default()
    };
    let row = arm_row(&r.rule, &enrolment).with("visitors", 1.0);
    visitor
        .profile
        .experiments
        .insert(r.rule.clone(), enrolment);
    Some(row)
}

/// A click on the experience of the arm the visitor is enrolled in.
fn click(visitor: &mut Visitor, r: &ExperienceRef) -> Option<Row> {
    let e = visitor.profile.experiments.get_mut(&r.rule)?;
    if r.variant.as_deref() != Some(e.arm.as_str()) {
        return None;
    }
    let before = f64::from(e.clicks);
    e.clicks += 1;
    let after = f64::from(e.clicks);
    Some(
        arm_row(&r.rule, e)
            .with("clicks", 1.0)
            .with("clicks_ss", square_delta(before, after)),
    )
}

/// A survey answer: the experiment's score, the answers by page kind, experience, stage and
/// segment, a low score's comment, and a detractor on the page.
fn answered(visitor: &mut Visitor, answer: &Answer, at: &Moment) -> Vec<Row> {
    let score = answer.score;
    let mut rows = Vec::new();
    if let Some(e) = visitor.profile.experiments.get_mut(&answer.experience.rule) {
        let before = e.score.map(f64::from);
        e.score = Some(score);
        let after = f64::from(score);
        let row = arm_row(&answer.experience.rule, e)
            .with("answers", if before.is_none() { 1.0 } else { 0.0 })
            .with("score", after - before.unwrap_or(0.0))
            .with("score_ss", square_delta(before.unwrap_or(0.0), after));
        rows.push(row);
    }
    let (survey, low) = match answer.survey {
        Survey::Nps => ("nps", score <= NPS_DETRACTOR_MAX),
        Survey::Csat => ("csat", score <= CSAT_UNHAPPY_MAX),
    };
    let nps = answer.survey == Survey::Nps;
    let stage = visitor.profile.lifecycle(at.now_ms).as_str();
    let counts = |row: Row| {
        row.with("answers", 1.0)
            .with("promoters", f64::from(nps && score >= 9))
            .with("passives", f64::from(nps && (7..=8).contains(&score)))
            .with("detractors", f64::from(nps && score <= NPS_DETRACTOR_MAX))
    };
    let scored = |row: Row| {
        counts(row)
            .with("satisfied", f64::from(!nps && score >= 4))
            .with("score", f64::from(score))
    };
    let (today, path, kind) = (&at.today, &at.path, &at.kind);
    let experience = answer.experience.experience.as_str();
    let by_page = [today.as_str(), survey, "", kind, experience, stage];
    rows.push(scored(Row::new(Table::Answers, &by_page)));
    for segment in &visitor.tracking.segments {
        let by_segment = [today.as_str(), survey, segment, "", "", ""];
        rows.push(scored(Row::new(Table::Answers, &by_segment)));
    }
    if nps {
        for segment in site_and(&visitor.tracking.segments) {
            rows.push(counts(Row::new(Table::Segments, &[today, segment])));
        }
    }
    let comment = answer.comment.as_deref().map(|c| text(c, TEXT_LIMIT));
    if let Some(comment) = comment.filter(|c| low && !c.is_empty()) {
        let score = score.to_string();
        let labels = [today.as_str(), survey, &score, experience, path, &comment];
        rows.push(Row::new(Table::Comments, &labels).with("visitors", 1.0));
    }
    if nps && score <= NPS_DETRACTOR_MAX && !path.is_empty() {
        rows.push(Row::new(Table::Pages, &[today, path, kind]).with("detractors", 1.0));
    }
    rows
}

/// A page view: a view of its page, and a landing if it opens the session (an exit straight
/// away until something follows it).
fn page_view(visitor: &mut Visitor, view: &PageView, new_session: bool, today: &str) -> Row {
    let path = view.page.path.clone();
    let kind = view.page.kind.clone().unwrap_or_default();
    let mut row = Row::new(Table::Pages, &[today, &path, &kind]).with("views", 1.0);
    if new_session || visitor.profile.session_page_views == 0 {
        row = row.with("landings", 1.0);
        visitor.tracking.landing = Some(path);
    } else {
        // A second page: the landing was no exit.
        visitor.tracking.landing = None;
    }
    row
}

/// The landing page of a session that is over, if the visitor left it straight away.
fn quick_exit(visitor: &mut Visitor, now_ms: i64) -> Option<Row> {
    let path = visitor.tracking.landing.take()?;
    let kind = visitor
        .profile
        .recent_pages
        .front()
        .filter(|p| p.path == path)
        .and_then(|p| p.kind.clone())
        .unwrap_or_default();
    // The exit happened on the day of the visitor's last event.
    let at = if visitor.profile.last_seen_ms > 0 {
        visitor.profile.last_seen_ms
    } else {
        now_ms
    };
    Some(Row::new(Table::Pages, &[&day(at), &path, &kind]).with("quick_exits", 1.0))
}

/// After the profile changed: a move between lifecycle stages, if it made one (the new
/// stage is counted for the day too).
fn after_change(visitor: &mut Visitor, now_ms: i64) -> Vec<Row> {
    let stage = visitor.profile.lifecycle(now_ms).as_str();
    let before = std::mem::replace(&mut visitor.tracking.stage, stage.to_owned());
    if before.is_empty() || before == stage {
        return Vec::new();
    }
    let today = day(now_ms);
    let mut rows =
        vec![Row::new(Table::Movements, &[&today, &before, stage]).with("visitors", 1.0)];
    if visitor.tracking.day == today {
        rows.push(Row::new(Table::Stages, &[&today, stage]).with("visitors", 1.0));
    }
    rows
}

/// At a decision: on the visitor's first decision of a UTC day, their segments and stage
/// for the day. Empty on later decisions the same day. (The programme's arms, like every
/// experiment's, are enrolled at their first exposure.)
fn decided(book: &Rulebook, visitor: &mut Visitor, now_ms: i64) -> Vec<Row> {
    let today = day(now_ms);
    let mut rows = Vec::new();
    if visitor.tracking.day == today {
        return rows;
    }
    let segments = rapport_rules::segments_of(book, &visitor.profile, now_ms);
    let stage = visitor.profile.lifecycle(now_ms);
    let tracking = &mut visitor.tracking;
    let week = iso_week(now_ms);
    if tracking.week != week {
        tracking.week = week;
        tracking.week_days.clear();
    }
    for segment in site_and(&segments) {
        // A new day in the visitor's cluster: n → n + 1 days, y converting ones.
        let [n, y] = tracking.week_days.entry(segment.to_owned()).or_default();
        let (before, converting) = (f64::from(*n), f64::from(*y));
        *n += 1;
        rows.push(
            Row::new(Table::Segments, &[&today, segment])
                .with("visitors", 1.0)
                .with("clusters", f64::from(before == 0.0))
                .with("days_ss", square_delta(before, before + 1.0))
                .with("cross", converting),
        );
    }
    rows.push(Row::new(Table::Stages, &[&today, stage.as_str()]).with("visitors", 1.0));
    let tracking = &mut visitor.tracking;
    if !tracking.stage.is_empty() && tracking.stage != stage.as_str() {
        rows.push(
            Row::new(Table::Movements, &[&today, &tracking.stage, stage.as_str()])
                .with("visitors", 1.0),
        );
    }
    tracking.day = today;
    tracking.segments = segments;
    tracking.stage = stage.as_str().to_owned();
    tracking.converted = false;
    rows
}

/// `""` (the whole site), then each segment.
fn site_and(segments: &[String]) -> impl Iterator<Item = &str> {
    std::iter::once("").chain(segments.iter().map(String::as_str))
}

/// A purchase of `value` reported by the shop's server at `at_ms`: a conversion and its
/// revenue for every experiment the visitor was first exposed to within `attribution_days`
/// before, and for the segments of the visitor's last counted day if it began within
/// `attribution_days` (so a day's conversion is known once its window has closed).
fn purchase(visitor: &mut Visitor, value: f64, at_ms: i64, attribution_days: u32) -> Vec<Row> {
    let value = if value.is_finite() {
        value.max(0.0)
    } else {
        0.0
    };
    let window = i64::from(attribution_days) * 24 * 60 * 60 * 1000;
    let mut rows = Vec::new();
    for (rule, e) in visitor.profile.experiments.iter_mut() {
        if at_ms < e.at_ms || at_ms > e.at_ms + window {
            continue;
        }
        let before = e.revenue;
        e.revenue += value;
        let first = !e.converted;
        e.converted = true;
        rows.push(
            arm_row(rule, e)
                .with("conversions", f64::from(first))
                .with("revenue", value)
                .with("revenue_ss", square_delta(before, e.revenue)),
        );
    }
    let tracking = &mut visitor.tracking;
    if day_starts_within(&tracking.day, at_ms, window) {
        let first = !tracking.converted;
        tracking.converted = true;
        for segment in site_and(&tracking.segments) {
            let mut row =
                Row::new(Table::Segments, &[&tracking.day, segment]).with("revenue", value);
            if first {
                // The day converts: y → y + 1 in the visitor's cluster of n days.
                let [n, y] = tracking.week_days.entry(segment.to_owned()).or_default();
                let before = f64::from(*y);
                *y += 1;
                row = row
                    .with("converters", 1.0)
                    .with("converting_ss", square_delta(before, before + 1.0))
                    .with("cross", f64::from(*n));
            }
            rows.push(row);
        }
    }
    rows
}

/// Whether the UTC day `day` (`YYYY-MM-DD`) began no more than `window` ms before `at_ms`.
fn day_starts_within(day: &str, at_ms: i64, window: i64) -> bool {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .is_some_and(|start| {
            let start = start.and_utc().timestamp_millis();
            at_ms >= start && at_ms - start <= window
        })
}

/// The ISO week of an edge time, `2026-W49`: the span of one visitor's cluster of days.
fn iso_week(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%G-W%V")
        .to_string()
}

/// The lifecycle stages, in funnel order.
pub const STAGES: [Lifecycle; 9] = [
    Lifecycle::New,
    Lifecycle::Engaged,
    Lifecycle::Cart,
    Lifecycle::Customer,
    Lifecycle::Repeat,
    Lifecycle::Loyal,
    Lifecycle::Advocate,
    Lifecycle::AtRisk,
    Lifecycle::Lapsed,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_protocol::{Engagement, ExperienceRef, PageContext, PageView};
    use rapport_rules::SourceFile;

    const DEC_1: i64 = 1_796_083_200_000; // 2026-12-01T00:00:00Z
    const HOUR: i64 = 60 * 60 * 1000;

    fn reference(variant: &str) -> ExperienceRef {
        ExperienceRef {
            rule: "welcome".into(),
            experience: format!("welcome-{variant}"),
            variant: Some(variant.into()),
            segment: Some("first_time".into()),
        }
    }

    fn ev(session: &str, data: EventData) -> Event {
        Event {
            id: "e".into(),
            session_id: session.into(),
            client_ts: None,
            data,
        }
    }

    fn feed(visitor: &mut Visitor, e: &Event, at: i64) -> Vec<Row> {
        let mut rows = event(visitor, e, at);
        visitor.profile.apply(e, at);
        rows.extend(after_change(visitor, at));
        rows
    }

    fn sum(rows: &[Row], table: Table, measure: &str) -> f64 {
        rows.iter()
            .filter(|r| r.table == table)
            .map(|r| r.get(measure))
            .sum()
    }

    #[test]
    fn a_visitor_counts_once_in_the_arm_of_the_first_exposure() {
        let mut p = Visitor::new("v1");
        let mut rows = feed(
            &mut p,
            &ev("s", EventData::Exposure(reference("control"))),
            DEC_1,
        );
        rows.extend(feed(
            &mut p,
            &ev("s", EventData::Impression(reference("offer"))),
            DEC_1 + HOUR,
        ));
        assert_eq!(sum(&rows, Table::Arms, "visitors"), 1.0);
        assert_eq!(rows[0].labels, ["welcome", "control", "2026-12-01"]);
        assert_eq!(p.profile.experiments["welcome"].arm, "control");
        // A click on another arm's experience is not this visitor's.
        let rows = feed(
            &mut p,
            &ev("s", EventData::Click(reference("offer").into())),
            DEC_1 + HOUR,
        );
        assert_eq!(sum(&rows, Table::Arms, "clicks"), 0.0);
    }

    #[test]
    fn deltas_sum_to_each_visitors_totals_and_their_squares() {
        let mut p = Visitor::new("v1");
        let mut rows = feed(
            &mut p,
            &ev("s", EventData::Impression(reference("offer"))),
            DEC_1,
        );
        for _ in 0..3 {
            rows.extend(feed(
                &mut p,
                &ev("s", EventData::Click(reference("offer").into())),
                DEC_1 + HOUR,
            ));
        }
        // Two purchases in the window, one after it (7 days by default).
        rows.extend(purchase(&mut p, 30.0, DEC_1 + 2 * HOUR, 7));
        rows.extend(purchase(&mut p, 20.0, DEC_1 + 3 * 24 * HOUR, 7));
        rows.extend(purchase(&mut p, 99.0, DEC_1 + 8 * 24 * HOUR, 7));
        let arms: Vec<Row> = rows
            .iter()
            .filter(|r| r.table == Table::Arms)
            .cloned()
            .collect();
        // Every delta lands on the day of first exposure.
        assert!(arms.iter().all(|r| r.label("day") == "2026-12-01"));
        assert_eq!(sum(&arms, Table::Arms, "clicks"), 3.0);
        assert_eq!(sum(&arms, Table::Arms, "clicks_ss"), 9.0);
        assert_eq!(sum(&arms, Table::Arms, "conversions"), 1.0);
        assert_eq!(sum(&arms, Table::Arms, "revenue"), 50.0);
        assert_eq!(sum(&arms, Table::Arms, "revenue_ss"), 2500.0);
    }

    #[test]
    fn a_landing_left_straight_away_is_a_quick_exit() {
        let page = |path: &str| {
            EventData::PageView(PageView {
                page: PageContext {
                    url: format!("https://shop.example{path}"),
                    path: path.into(),
                    kind: Some("product".into()),
                    locale: None,
                },
                title: None,
                referrer: None,
            })
        };
        let mut p = Visitor::new("v1");
        let mut rows = feed(&mut p, &ev("s1", page("/a")), DEC_1);
        // The next session shows the first one ended on its landing page.
        rows.extend(feed(&mut p, &ev("s2", page("/b")), DEC_1 + 2 * HOUR));
        rows.extend(feed(
            &mut p,
            &ev("s2", EventData::Engagement(Engagement { seconds: 30 })),
            DEC_1 + 2 * HOUR,
        ));
        rows.extend(feed(&mut p, &ev("s3", page("/c")), DEC_1 + 5 * HOUR));
        let exits: Vec<&Row> = rows
            .iter()
            .filter(|r| r.table == Table::Pages && r.get("quick_exits") > 0.0)
            .collect();
        assert_eq!(exits.len(), 1);
        assert_eq!(exits[0].label("path"), "/a");
        assert_eq!(sum(&rows, Table::Pages, "landings"), 3.0);
        // /c is still open: its session ends after 30 idle minutes.
        assert_eq!(
            p.session_ends_at(),
            Some(DEC_1 + 5 * HOUR + SESSION_IDLE_MS)
        );
        assert_eq!(
            quick_exit(&mut p, DEC_1 + 6 * HOUR).unwrap().label("path"),
            "/c"
        );
    }

    #[test]
    fn segments_and_stages_count_once_a_day_and_a_purchase_converts_the_day() {
        let book = Rulebook::compile(&[SourceFile::new(
            "segments.rhai",
            "segment(\"everyone_here\", |v| true);\nsettings(#{ holdout: 50 });",
        )])
        .unwrap();
        let mut p = Visitor::new("v1");
        let rows = decided(&book, &mut p, DEC_1);
        assert_eq!(sum(&rows, Table::Segments, "visitors"), 2.0); // the site and the segment
        assert_eq!(sum(&rows, Table::Stages, "visitors"), 1.0);
        // A decision enrols no one, in the programme either: its first exposure does.
        assert_eq!(sum(&rows, Table::Arms, "visitors"), 0.0);
        assert!(decided(&book, &mut p, DEC_1 + HOUR).is_empty());
        let bought = purchase(&mut p, 10.0, DEC_1 + 2 * HOUR, 7);
        assert_eq!(sum(&bought, Table::Segments, "converters"), 2.0);
        let again = purchase(&mut p, 10.0, DEC_1 + 3 * HOUR, 7);
        assert_eq!(sum(&again, Table::Segments, "converters"), 0.0);
        assert_eq!(sum(&again, Table::Segments, "revenue"), 20.0);
        // A purchase makes a customer: one move, and the new stage counts for the day.
        let moved = after_change(&mut p, DEC_1 + 3 * HOUR);
        assert_eq!(
            sum(&moved, Table::Movements, "visitors"),
            0.0,
            "no trusted purchase yet"
        );
        assert_eq!(decided(&book, &mut p, DEC_1 + 24 * HOUR).len(), 3);
    }
}
