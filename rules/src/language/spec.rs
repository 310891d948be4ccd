//! Reading what a marketer wrote in `rule(id, #{ ... })` and `settings(#{ ... })` into typed
//! rules. Every message names the field, so diagnostics read like
//! `welcome.rhai:3:1: error: rule "welcome": `cap.per_session` must be a whole number above 0`.

use std::collections::BTreeMap;

use rapport_protocol::{BarPosition, ExperienceKind, Trigger};
use rhai::{FnPtr, Map};

use crate::language::fields::Fields;
use crate::language::template::Template;

mod experiment;
mod schedule;
mod show;
mod when;

use crate::language::fields::is_valid_name;

/// A rule, ready to decide.
pub(crate) struct Rule {
    pub(crate) id: String,
    /// The id again, shared by every trace line that names the rule.
    pub(crate) trace_id: std::rc::Rc<str>,
    pub(crate) description: String,
    pub(crate) script: usize,
    pub(crate) file: String,
    pub(crate) position: rhai::Position,
    pub(crate) priority: i64,
    pub(crate) who: Who,
    pub(crate) pages: Vec<String>,
    pub(crate) paths: Vec<String>,
    /// Edge times in ms; `None` is open-ended.
    pub(crate) start_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
    /// Recurring day parts in a time zone (`schedule.days`, `.hours`, `.time_zone`).
    pub(crate) recurring: Option<Recurring>,
    /// Where `schedule.end` was written, for the warning once it has passed.
    pub(crate) end_position: rhai::Position,
    /// `false` for experiences anyone may see: shown in the holdout and without consent.
    pub(crate) personalized: bool,
    /// `enabled: false` pauses the rule: it stays in the rulebook and is checked, and shows
    /// nothing until it is enabled again.
    pub(crate) enabled: bool,
    pub(crate) trigger: Trigger,
    pub(crate) cap: Cap,
    pub(crate) offer: Offer,
    /// Whether its file reads `v.segments`: every segment is then decided before its
    /// `who` function runs.
    pub(crate) reads_segments: bool,
}

pub(crate) enum Who {
    Everyone,
    Segments(Vec<String>),
    Test(FnPtr),
}

impl Who {
    /// How reports name the audience: its segments joined by `+`, `everyone`, or `custom`.
    pub(crate) fn label(&self) -> String {
        match self {
            Who::Everyone => "everyone".to_owned(),
            Who::Segments(names) => names.join("+"),
            Who::Test(_) => "custom".to_owned(),
        }
    }
}

/// What a rule shows: one experience, or an experiment between variants.
pub(crate) enum Offer {
    Show(Show),
    Experiment(Experiment),
}

pub(crate) struct Experiment {
    pub(crate) seed: String,
    pub(crate) coverage: f64,
    /// Namespace name and the [start, end) share of it this experiment uses.
    pub(crate) namespace: Option<(String, f64, f64)>,
    pub(crate) variants: Vec<Variant>,
    /// Weights normalised to sum to 1, in variant order.
    pub(crate) weights: Vec<f64>,
    /// What the control group's visitors see in the rule's placement.
    pub(crate) control: ControlMode,
    /// The weights as written, for the check that they add up to 100.
    pub(crate) written_weights: Vec<f64>,
    /// The primary metric its verdict is judged on (one of [`METRICS`]).
    pub(crate) metric: String,
}

/// The metrics an experiment may name as its primary one; the first is the default.
pub(crate) const METRICS: [&str; 4] = ["conversion", "revenue", "clicks", "score"];

/// What the control group's visitors get where the treatment would have shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ControlMode {
    /// The rule shows nothing and lower-priority rules may fill the placement: the control
    /// measures "what the shop would do without this experiment" (the default).
    FallsThrough,
    /// The placement stays empty: the control measures "nothing at all here".
    Holds,
}

pub(crate) struct Variant {
    pub(crate) id: String,
    /// `None` for a control: the visitor is in the experiment and sees nothing.
    pub(crate) show: Option<Show>,
}

pub(crate) struct Show {
    pub(crate) experience: String,
    pub(crate) kind: ExperienceKind,
    pub(crate) slot: Option<String>,
    /// For a bar: the top or the bottom of the window (the bottom when `None`).
    pub(crate) position: Option<BarPosition>,
    /// Content by locale.
    pub(crate) content: BTreeMap<String, LocalContent>,
    /// For recommendations: `|v| ...` giving the products to show.
    pub(crate) products: Option<FnPtr>,
}

/// One translation of an experience's texts, each a [`Template`] that may show live values.
#[derive(Clone)]
pub(crate) struct LocalContent {
    pub(crate) title: Option<Template>,
    pub(crate) body: Template,
    /// The button's label and link.
    pub(crate) cta: Option<(Template, String)>,
    pub(crate) code: Option<String>,
}

pub(crate) struct Cap {
    pub(crate) per_session: Option<u32>,
    pub(crate) per_visitor: Option<u32>,
    /// At most `times` impressions within `days` days.
    pub(crate) per_days: Option<(u32, u32)>,
    pub(crate) stop_after_click: bool,
    pub(crate) stop_after_dismiss: bool,
    pub(crate) stop_after_answer: bool,
}

impl Default for Cap {
    /// Without a `stop_after`, a dismissed prompt stays away: a shopper who said no is not
    /// asked again.
    fn default() -> Cap {
        Cap {
            per_session: None,
            per_visitor: None,
            per_days: None,
            stop_after_click: false,
            stop_after_dismiss: true,
            stop_after_answer: false,
        }
    }
}

/// An RFC 3339 time (`2026-11-27T00:00:00Z`) in ms since the epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            format!("\"{text}\" is not an RFC 3339 time such as 2026-11-27T09:00:00Z ({e})")
        })
}

const WHO_HELP: &str =
    "`who` must be a segment name, a list of segment names or a function |v| ...";

const RULE_FIELDS: &[&str] = &[
    "description",
    "priority",
    "who",
    "page",
    "path",
    "schedule",
    "personalized",
    "enabled",
    "show",
    "experiment",
    "when",
    "cap",
];

/// Reads `rule(id, #{ ... })`, written in `file` (script number `script`) at `position`.
pub(crate) fn parse_rule(
    id: &str,
    spec: Map,
    script: usize,
    file: &str,
    position: rhai::Position,
) -> Result<Rule, String> {
    if !is_valid_name(id) {
        return Err("ids must be lower-case letters, digits, '-' and '_'".into());
    }
    let mut fields = Fields::top(spec, "rule", RULE_FIELDS)?;
    let description = fields.string("description")?.unwrap_or_default();
    let priority = match fields.take("priority") {
        None => 0,
        Some(p) => p
            .as_int()
            .map_err(|t| format!("`priority` must be a whole number, not {t}"))?,
    };
    let who = parse_who(fields.take("who"))?;
    let pages = fields.strings("page")?.unwrap_or_default();
    let paths = fields.strings("path")?.unwrap_or_default();
    let (start_ms, end_ms, recurring) = match fields.take("schedule") {
        None => (None, None, None),
        Some(schedule) => schedule::parse(schedule)?,
    };
    let personalized = fields.flag("personalized")?.unwrap_or(true);
    let enabled = fields.flag("enabled")?.unwrap_or(true);
    let trigger = fields
        .take("when")
        .map(when::parse_trigger)
        .transpose()?
        .unwrap_or(Trigger::Immediately);
    let cap = fields
        .take("cap")
        .map(when::parse_cap)
        .transpose()?
        .unwrap_or_default();
    let offer = parse_offer(id, fields.take("show"), fields.take("experiment"))?;
    Ok(Rule {
        id: id.to_owned(),
        trace_id: id.into(),
        description,
        script,
        file: file.to_owned(),
        position,
        priority,
        who,
        pages,
        paths,
        start_ms,
        end_ms,
        recurring,
        end_position: position,
        personalized,
        enabled,
        trigger,
        cap,
        offer,
        reads_segments: false,
    })
}

fn parse_who(who: Option<rhai::Dynamic>) -> Result<Who, String> {
    use crate::language::fields::{string, string_list};
    Ok(match who {
        None => Who::Everyone,
        Some(w) if w.is_fnptr() => Who::Test(w.cast::<FnPtr>()),
        Some(w) if w.is_string() => Who::Segments(vec![string(w, "who")?]),
        Some(w) if w.is_array() => Who::Segments(string_list(w, "who")?),
        Some(w) => return Err(format!("{WHO_HELP}, not {}", w.type_name())),
    })
}

fn parse_offer(
    id: &str,
    show: Option<rhai::Dynamic>,
    experiment: Option<rhai::Dynamic>,
) -> Result<Offer, String> {
    match (show, experiment) {
        (Some(show), None) => Ok(Offer::Show(show::parse(
            id.to_owned(),
            show,
            "show",
            "#{ kind: \"bar\", content: ... }",
        )?)),
        (None, Some(experiment)) => Ok(Offer::Experiment(experiment::parse(id, experiment)?)),
        (Some(_), Some(_)) => Err("give either `show` or `experiment`, not both".into()),
        (None, None) => {
            Err("`show` is missing: say what the rule shows (or give an `experiment`)".into())
        }
    }
}

/// When a rule may show within its dates: some days of the week, between two times, in a
/// time zone ("weekdays 18:00-22:00 Europe/Lisbon").
#[derive(Debug, Clone)]
pub(crate) struct Recurring {
    time_zone: chrono_tz::Tz,
    /// Monday first.
    days: [bool; 7],
    /// Minutes after local midnight; `to` before `from` runs past midnight.
    from: u32,
    to: u32,
    /// As the trace says it: "weekdays 18:00-22:00 Europe/Lisbon".
    pub(crate) label: String,
}

impl Recurring {
    /// Whether `now_ms` falls in one of the windows: on one of the days (the day the window
    /// opens, for windows past midnight), between the times, in the time zone.
    pub(crate) fn contains(&self, now_ms: i64) -> bool {
        use chrono::{Datelike, Timelike};
        let Some(utc) = chrono::DateTime::from_timestamp_millis(now_ms) else {
            return false;
        };
        let local = utc.with_timezone(&self.time_zone);
        let minute = local.hour() * 60 + local.minute();
        let today = local.weekday().num_days_from_monday() as usize;
        let yesterday = (today + 6) % 7;
        if self.from <= self.to {
            self.days[today] && (self.from..self.to).contains(&minute)
        } else {
            (self.days[today] && minute >= self.from) || (self.days[yesterday] && minute < self.to)
        }
    }
}

/// Whether two language tags are the same, whatever their case and separator (`pt_BR`,
/// `pt-br`).
pub(crate) fn same_locale(a: &str, b: &str) -> bool {
    let norm = |c: u8| match c {
        b'_' => b'-',
        c => c.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}
