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
use rapport_rules::visitor::lifecycle::Lifecycle;
use rapport_rules::Rulebook;

use crate::report::{self, day};
use crate::tables::{
    AnswerDay, ArmDay, CommentDay, MovementDay, PageDay, Row, SearchDay, SegmentDay, SoldOutDay,
    StageDay,
};
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

/// An arm's row for the day of the visitor's enrolment: every delta of theirs lands there.
fn arm_row(rule: &str, e: &Enrolment) -> ArmDay {
    ArmDay {
        rule: rule.to_owned(),
        arm: e.arm.clone(),
        day: day(e.at_ms),
        ..ArmDay::default()
    }
}

fn page_row(day: &str, path: &str, kind: &str) -> PageDay {
    PageDay {
        day: day.to_owned(),
        path: path.to_owned(),
        kind: kind.to_owned(),
        ..PageDay::default()
    }
}

fn segment_row(day: &str, segment: &str) -> SegmentDay {
    SegmentDay {
        day: day.to_owned(),
        segment: segment.to_owned(),
        ..SegmentDay::default()
    }
}

/// A visitor-day in a stage, or a move between two.
fn stage_row(day: &str, stage: &str) -> Row {
    StageDay {
        day: day.to_owned(),
        stage: stage.to_owned(),
        visitors: 1.0,
    }
    .into()
}

fn movement_row(day: &str, from: &str, to: &str) -> Row {
    MovementDay {
        day: day.to_owned(),
        from_stage: from.to_owned(),
        to_stage: to.to_owned(),
        visitors: 1.0,
    }
    .into()
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
        let mut rows = Vec::new();
        for stored in events {
            rows.extend(event(self, stored, now_ms));
            self.profile.apply(stored, now_ms);
            rows.extend(report::tally_event(&stored.data, now_ms).map(Row::from));
        }
        rows.extend(after_change(self, now_ms));
        Changes::merged(rows)
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
        let mut rows = Vec::new();
        for bought in purchases {
            let conversions = report::tally_conversion(&self.profile, bought.value, bought.at_ms);
            rows.extend(conversions.into_iter().map(Row::from));
            rows.extend(purchase(self, bought.value, bought.at_ms, attribution_days));
            if bought.from_this_visitor {
                self.profile.cart.clear();
            }
        }
        rows.extend(after_change(self, now_ms));
        Changes::merged(rows)
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
        Changes::merged(rows)
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
        Changes::merged(quick_exit(self, now_ms).into_iter().collect())
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
        EventData::Exposure(r) | EventData::Impression(r) => {
            rows.extend(enrol(visitor, r, now_ms).map(Row::from))
        }
        EventData::Click(c) => rows.extend(click(visitor, &c.experience).map(Row::from)),
        EventData::Answer(answer) => rows.extend(answered(visitor, answer, &at)),
        EventData::PageView(view) => rows.push(page_view(visitor, view, new_session, today).into()),
        EventData::Engagement(engaged) => {
            let total =
                visitor.profile.session_engaged_seconds + u64::from(engaged.seconds.min(3_600));
            if !new_session && total >= QUICK_EXIT_SECONDS {
                visitor.tracking.landing = None;
            }
        }
        EventData::RageClick(_) if !at.path.is_empty() => {
            let row = PageDay {
                rage_clicks: 1.0,
                ..page_row(today, &at.path, &at.kind)
            };
            rows.push(row.into());
        }
        EventData::Search(search) => {
            let query = text(&search.query.to_lowercase(), QUERY_LIMIT);
            if !query.is_empty() {
                let nothing = search.results == Some(0);
                let row = SearchDay {
                    day: today.clone(),
                    query,
                    searches: f64::from(nothing),
                    total: 1.0,
                };
                rows.push(row.into());
            }
        }
        EventData::ProductView(view) if !is_in_stock(&view.product) => {
            let name = view.product.name.as_deref().unwrap_or_default();
            let row = SoldOutDay {
                day: today.clone(),
                product: view.product.id.clone(),
                name: text(name, 200),
                views: 1.0,
            };
            rows.push(row.into());
        }
        _ => {}
    }
    rows
}

/// An impression or exposure: the visitor's enrolment in its arm, if it is their first.
fn enrol(visitor: &mut Visitor, r: &ExperienceRef, now_ms: i64) -> Option<ArmDay> {
    let arm = r.variant.as_ref()?;
    if visitor.profile.experiments.contains_key(&r.rule) {
        return None;
    }
    let enrolment = Enrolment {
        arm: arm.clone(),
        at_ms: now_ms,
        ..Enrolment::default()
    };
    let row = ArmDay {
        visitors: 1.0,
        ..arm_row(&r.rule, &enrolment)
    };
    visitor
        .profile
        .experiments
        .insert(r.rule.clone(), enrolment);
    Some(row)
}

/// A click on the experience of the arm the visitor is enrolled in.
fn click(visitor: &mut Visitor, r: &ExperienceRef) -> Option<ArmDay> {
    let e = visitor.profile.experiments.get_mut(&r.rule)?;
    if r.variant.as_deref() != Some(e.arm.as_str()) {
        return None;
    }
    let before = f64::from(e.clicks);
    e.clicks += 1;
    let after = f64::from(e.clicks);
    Some(ArmDay {
        clicks: 1.0,
        clicks_ss: square_delta(before, after),
        ..arm_row(&r.rule, e)
    })
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
        let row = ArmDay {
            answers: if before.is_none() { 1.0 } else { 0.0 },
            score: after - before.unwrap_or(0.0),
            score_ss: square_delta(before.unwrap_or(0.0), after),
            ..arm_row(&answer.experience.rule, e)
        };
        rows.push(row.into());
    }
    let (survey, low) = match answer.survey {
        Survey::Nps => ("nps", score <= NPS_DETRACTOR_MAX),
        Survey::Csat => ("csat", score <= CSAT_UNHAPPY_MAX),
    };
    let nps = answer.survey == Survey::Nps;
    let stage = visitor.profile.lifecycle(at.now_ms).as_str();
    let (promoter, passive, detractor) = (
        f64::from(nps && score >= 9),
        f64::from(nps && (7..=8).contains(&score)),
        f64::from(nps && score <= NPS_DETRACTOR_MAX),
    );
    let (today, path, kind) = (&at.today, &at.path, &at.kind);
    let experience = answer.experience.experience.as_str();
    let scored = |segment: &str, page_kind: &str, experience: &str, stage: &str| AnswerDay {
        day: today.clone(),
        survey: survey.to_owned(),
        segment: segment.to_owned(),
        page_kind: page_kind.to_owned(),
        experience: experience.to_owned(),
        stage: stage.to_owned(),
        answers: 1.0,
        promoters: promoter,
        passives: passive,
        detractors: detractor,
        satisfied: f64::from(!nps && score >= 4),
        score: f64::from(score),
    };
    rows.push(scored("", kind, experience, stage).into());
    for segment in &visitor.tracking.segments {
        rows.push(scored(segment, "", "", "").into());
    }
    if nps {
        for segment in site_and(&visitor.tracking.segments) {
            let row = SegmentDay {
                answers: 1.0,
                promoters: promoter,
                passives: passive,
                detractors: detractor,
                ..segment_row(today, segment)
            };
            rows.push(row.into());
        }
    }
    let comment = answer.comment.as_deref().map(|c| text(c, TEXT_LIMIT));
    if let Some(comment) = comment.filter(|c| low && !c.is_empty()) {
        let row = CommentDay {
            day: today.clone(),
            survey: survey.to_owned(),
            score: score.to_string(),
            experience: experience.to_owned(),
            page: path.clone(),
            comment,
            visitors: 1.0,
        };
        rows.push(row.into());
    }
    if nps && score <= NPS_DETRACTOR_MAX && !path.is_empty() {
        let row = PageDay {
            detractors: 1.0,
            ..page_row(today, path, kind)
        };
        rows.push(row.into());
    }
    rows
}

/// A page view: a view of its page, and a landing if it opens the session (an exit straight
/// away until something follows it).
fn page_view(visitor: &mut Visitor, view: &PageView, new_session: bool, today: &str) -> PageDay {
    let path = view.page.path.clone();
    let kind = view.page.kind.clone().unwrap_or_default();
    let mut row = PageDay {
        views: 1.0,
        ..page_row(today, &path, &kind)
    };
    if new_session || visitor.profile.session_page_views == 0 {
        row.landings = 1.0;
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
    let row = PageDay {
        quick_exits: 1.0,
        ..page_row(&day(at), &path, &kind)
    };
    Some(row.into())
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
    let mut rows = vec![movement_row(&today, &before, stage)];
    if visitor.tracking.day == today {
        rows.push(stage_row(&today, stage));
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
        let row = SegmentDay {
            visitors: 1.0,
            clusters: f64::from(before == 0.0),
            days_ss: square_delta(before, before + 1.0),
            cross: converting,
            ..segment_row(&today, segment)
        };
        rows.push(row.into());
    }
    rows.push(stage_row(&today, stage.as_str()));
    let tracking = &mut visitor.tracking;
    if !tracking.stage.is_empty() && tracking.stage != stage.as_str() {
        rows.push(movement_row(&today, &tracking.stage, stage.as_str()));
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
        let row = ArmDay {
            conversions: f64::from(first),
            revenue: value,
            revenue_ss: square_delta(before, e.revenue),
            ..arm_row(rule, e)
        };
        rows.push(row.into());
    }
    let tracking = &mut visitor.tracking;
    if day_starts_within(&tracking.day, at_ms, window) {
        let first = !tracking.converted;
        tracking.converted = true;
        for segment in site_and(&tracking.segments) {
            let mut row = SegmentDay {
                revenue: value,
                ..segment_row(&tracking.day, segment)
            };
            if first {
                // The day converts: y → y + 1 in the visitor's cluster of n days.
                let [n, y] = tracking.week_days.entry(segment.to_owned()).or_default();
                let before = f64::from(*y);
                *y += 1;
                row.converters = 1.0;
                row.converting_ss = square_delta(before, before + 1.0);
                row.cross = f64::from(*n);
            }
            rows.push(row.into());
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
    use crate::tables::{total, Aggregate};
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

    /// The sum of one measure of one table's rows.
    fn sum<T: Aggregate>(rows: &[Row], measure: impl Fn(&T) -> f64) -> f64 {
        rows.iter().filter_map(T::of).map(measure).sum()
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
        assert_eq!(sum(&rows, |r: &ArmDay| r.visitors), 1.0);
        assert_eq!(rows[0].labels(), ["welcome", "control", "2026-12-01"]);
        assert_eq!(p.profile.experiments["welcome"].arm, "control");
        // A click on another arm's experience is not this visitor's.
        let rows = feed(
            &mut p,
            &ev("s", EventData::Click(reference("offer").into())),
            DEC_1 + HOUR,
        );
        assert_eq!(sum(&rows, |r: &ArmDay| r.clicks), 0.0);
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
        // Every delta lands on the day of first exposure.
        assert!(ArmDay::among(&rows).all(|r| r.day == "2026-12-01"));
        let arms = total(ArmDay::among(&rows));
        assert_eq!(arms.clicks, 3.0);
        assert_eq!(arms.clicks_ss, 9.0);
        assert_eq!(arms.conversions, 1.0);
        assert_eq!(arms.revenue, 50.0);
        assert_eq!(arms.revenue_ss, 2500.0);
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
        let exits: Vec<&PageDay> = PageDay::among(&rows)
            .filter(|r| r.quick_exits > 0.0)
            .collect();
        assert_eq!(exits.len(), 1);
        assert_eq!(exits[0].path, "/a");
        assert_eq!(sum(&rows, |r: &PageDay| r.landings), 3.0);
        // /c is still open: its session ends after 30 idle minutes.
        assert_eq!(
            p.session_ends_at(),
            Some(DEC_1 + 5 * HOUR + SESSION_IDLE_MS)
        );
        let exit = quick_exit(&mut p, DEC_1 + 6 * HOUR).unwrap();
        assert_eq!(PageDay::of(&exit).unwrap().path, "/c");
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
        assert_eq!(sum(&rows, |r: &SegmentDay| r.visitors), 2.0); // the site and the segment
        assert_eq!(sum(&rows, |r: &StageDay| r.visitors), 1.0);
        // A decision enrols no one, in the programme either: its first exposure does.
        assert_eq!(sum(&rows, |r: &ArmDay| r.visitors), 0.0);
        assert!(decided(&book, &mut p, DEC_1 + HOUR).is_empty());
        let bought = purchase(&mut p, 10.0, DEC_1 + 2 * HOUR, 7);
        assert_eq!(sum(&bought, |r: &SegmentDay| r.converters), 2.0);
        let again = purchase(&mut p, 10.0, DEC_1 + 3 * HOUR, 7);
        assert_eq!(sum(&again, |r: &SegmentDay| r.converters), 0.0);
        assert_eq!(sum(&again, |r: &SegmentDay| r.revenue), 20.0);
        // A purchase makes a customer: one move, and the new stage counts for the day.
        let moved = after_change(&mut p, DEC_1 + 3 * HOUR);
        assert_eq!(
            sum(&moved, |r: &MovementDay| r.visitors),
            0.0,
            "no trusted purchase yet"
        );
        assert_eq!(decided(&book, &mut p, DEC_1 + 24 * HOUR).len(), 3);
    }
}
