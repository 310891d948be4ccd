//! Reading what a marketer wrote in `rule(id, #{ ... })` and `settings(#{ ... })` into typed
//! rules. Every message names the field, so diagnostics read like
//! `welcome.rhai:3:1: error: rule "welcome": `cap.per_session` must be a whole number above 0`.

use std::collections::BTreeMap;

use rapport_protocol::{is_safe_link, BarPosition, ExperienceKind, Trigger};
use rhai::{Dynamic, FnPtr, Map};

use crate::template::Template;

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

/// Rulebook-wide settings, from `settings(#{ ... })`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub default_locale: String,
    /// Percent of visitors (0 to 100) who never see personalised experiences.
    pub holdout_percent: f64,
    pub holdout_seed: String,
    /// 0 or 1: whether overlays (modals, slide-ins, surveys, coupons) may show at all.
    pub overlays_per_page: u32,
    /// Prompts (everything but inline content) one session may see.
    pub prompts_per_session: u32,
    /// After the visitor dismisses a prompt, no prompt for this long.
    pub quiet_minutes_after_dismiss: u32,
    /// Page kinds the shop uses besides the standard ones (`lint::PAGE_KINDS`).
    pub page_kinds: Vec<String>,
    /// The cart value from which shipping is free, for `{cart.to_free_shipping}`.
    pub free_shipping_from: Option<f64>,
    /// The shop's currency (ISO 4217), for money when the cart says none.
    pub currency: String,
    /// How many days after a visitor's first exposure to an experiment their purchases
    /// count for it.
    pub attribution_days: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            default_locale: "en".to_owned(),
            holdout_percent: 0.0,
            holdout_seed: "rapport-holdout".to_owned(),
            overlays_per_page: 1,
            prompts_per_session: 3,
            quiet_minutes_after_dismiss: 30,
            page_kinds: Vec::new(),
            free_shipping_from: None,
            currency: "EUR".to_owned(),
            attribution_days: 7,
        }
    }
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Refuses a field not in `allowed`, naming it by its full path (`cap.per_sesion`) with a
/// suggestion; `what` is the map's own path in backquotes, or "rule" or "settings".
pub(crate) fn check_fields(map: &Map, allowed: &[&str], what: &str) -> Result<(), String> {
    let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) else {
        return Ok(());
    };
    let parent = what.trim_matches('`');
    let path = match what {
        "rule" | "settings" => unknown.to_string(),
        _ => format!("{parent}.{unknown}"),
    };
    Err(format!(
        "unknown field `{path}` in {what}{} (expected one of: {})",
        crate::diagnostic::did_you_mean(unknown, allowed.iter().copied()),
        allowed.join(", ")
    ))
}

fn string(value: Dynamic, field: &str) -> Result<String, String> {
    value
        .into_immutable_string()
        .map(|s| s.to_string())
        .map_err(|t| format!("`{field}` must be a string, not {t}"))
}

/// A string, or an array of strings.
fn string_list(value: Dynamic, field: &str) -> Result<Vec<String>, String> {
    let items = if value.is_array() {
        value.cast::<rhai::Array>()
    } else {
        vec![value]
    };
    items
        .into_iter()
        .map(|item| {
            item.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|t| format!("`{field}` must be a string or a list of strings, not {t}"))
        })
        .collect()
}

/// A number (integer or decimal) within `range`.
fn number(value: &Dynamic, field: &str, min: f64, max: f64) -> Result<f64, String> {
    let n = value
        .as_float()
        .ok()
        .or_else(|| value.as_int().ok().map(|i| i as f64))
        .ok_or_else(|| format!("`{field}` must be a number, not {}", value.type_name()))?;
    if !(min..=max).contains(&n) {
        return Err(format!("`{field}` must be from {min} to {max}, not {n}"));
    }
    Ok(n)
}

/// A whole number within `range`.
fn whole(value: &Dynamic, field: &str, min: i64, max: i64) -> Result<u32, String> {
    match value.as_int() {
        Ok(n) if (min..=max).contains(&n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
        _ => Err(format!(
            "`{field}` must be a whole number from {min} to {max}"
        )),
    }
}

fn map(value: Dynamic, field: &str, example: &str) -> Result<Map, String> {
    value
        .try_cast::<Map>()
        .ok_or_else(|| format!("`{field}` must be a map such as {example}"))
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

pub(crate) fn parse_rule(
    id: &str,
    mut spec: Map,
    script: usize,
    file: &str,
    position: rhai::Position,
) -> Result<Rule, String> {
    if !is_valid_name(id) {
        return Err("ids must be lower-case letters, digits, '-' and '_'".into());
    }
    check_fields(&spec, RULE_FIELDS, "rule")?;
    let description = spec
        .remove("description")
        .map(|d| string(d, "description"))
        .transpose()?
        .unwrap_or_default();
    let priority = match spec.remove("priority") {
        None => 0,
        Some(p) => p
            .as_int()
            .map_err(|t| format!("`priority` must be a whole number, not {t}"))?,
    };
    let who = match spec.remove("who") {
        None => Who::Everyone,
        Some(w) if w.is_fnptr() => Who::Test(w.cast::<FnPtr>()),
        Some(w) if w.is_string() => Who::Segments(vec![string(w, "who")?]),
        Some(w) if w.is_array() => Who::Segments(string_list(w, "who")?),
        Some(w) => return Err(format!("{WHO_HELP}, not {}", w.type_name())),
    };
    let pages = spec
        .remove("page")
        .map(|p| string_list(p, "page"))
        .transpose()?
        .unwrap_or_default();
    let paths = spec
        .remove("path")
        .map(|p| string_list(p, "path"))
        .transpose()?
        .unwrap_or_default();
    let (start_ms, end_ms, recurring) = match spec.remove("schedule") {
        None => (None, None, None),
        Some(schedule) => parse_schedule(schedule)?,
    };
    let personalized = match spec.remove("personalized") {
        None => true,
        Some(p) => p
            .as_bool()
            .map_err(|t| format!("`personalized` must be true or false, not {t}"))?,
    };
    let enabled = match spec.remove("enabled") {
        None => true,
        Some(e) => e
            .as_bool()
            .map_err(|t| format!("`enabled` must be true or false, not {t}"))?,
    };
    let trigger = spec
        .remove("when")
        .map(parse_trigger)
        .transpose()?
        .unwrap_or(Trigger::Immediately);
    let cap = spec
        .remove("cap")
        .map(parse_cap)
        .transpose()?
        .unwrap_or_default();
    let offer = match (spec.remove("show"), spec.remove("experiment")) {
        (Some(show), None) => Offer::Show(parse_show(
            id.to_owned(),
            map(show, "show", "#{ kind: \"bar\", content: ... }")?,
            "show",
        )?),
        (None, Some(experiment)) => Offer::Experiment(parse_experiment(id, experiment)?),
        (Some(_), Some(_)) => {
            return Err("give either `show` or `experiment`, not both".into());
        }
        (None, None) => {
            return Err(
                "`show` is missing: say what the rule shows (or give an `experiment`)".into(),
            )
        }
    };
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

type Schedule = (Option<i64>, Option<i64>, Option<Recurring>);

fn parse_schedule(value: Dynamic) -> Result<Schedule, String> {
    let schedule = map(
        value,
        "schedule",
        "#{ start: \"2026-11-27T00:00:00Z\", end: \"...\" } or #{ days: \"weekdays\", hours: \"18:00-22:00\", time_zone: \"Europe/Lisbon\" }",
    )?;
    check_fields(
        &schedule,
        &["start", "end", "days", "hours", "time_zone"],
        "`schedule`",
    )?;
    let time = |field: &str| -> Result<Option<i64>, String> {
        schedule
            .get(field)
            .map(|t| {
                let text = string(t.clone(), &format!("schedule.{field}"))?;
                parse_time(&text).map_err(|e| format!("`schedule.{field}`: {e}"))
            })
            .transpose()
    };
    let (start, end) = (time("start")?, time("end")?);
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            return Err("`schedule.end` must come after `schedule.start`".into());
        }
    }
    let recurring = if ["days", "hours", "time_zone"]
        .iter()
        .any(|k| schedule.contains_key(*k))
    {
        Some(parse_recurring(&schedule)?)
    } else {
        None
    };
    Ok((start, end, recurring))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_recurring(schedule: &Map) -> Result<Recurring, String> {
    let zone_name = match schedule.get("time_zone") {
        None => "UTC".to_owned(),
        Some(zone) => string(zone.clone(), "schedule.time_zone")?,
    };
    let time_zone: chrono_tz::Tz = zone_name.parse().map_err(|_| {
        format!(
            "`schedule.time_zone` must be an IANA time zone such as \"Europe/Lisbon\", not \"{zone_name}\""
        )
    })?;
    let (days, days_label) = match schedule.get("days") {
        None => ([true; 7], "every day".to_owned()),
        Some(days) if days.is_string() => {
            let name = string(days.clone(), "schedule.days")?;
            let set = match name.as_str() {
                "weekdays" => [true, true, true, true, true, false, false],
                "weekends" => [false, false, false, false, false, true, true],
                "every_day" => [true; 7],
                one if DAYS.contains(&one) => {
                    let mut set = [false; 7];
                    set[DAYS.iter().position(|d| *d == one).unwrap_or(0)] = true;
                    set
                }
                other => {
                    return Err(format!(
                        "`schedule.days` must be \"weekdays\", \"weekends\", \"every_day\" or days such as [\"sat\", \"sun\"], not \"{other}\""
                    ))
                }
            };
            (set, name.replace('_', " "))
        }
        Some(days) => {
            let mut set = [false; 7];
            let names = string_list(days.clone(), "schedule.days")?;
            for name in &names {
                let index = DAYS.iter().position(|d| d == name).ok_or_else(|| {
                    format!(
                        "`schedule.days`: \"{name}\" is not a day; days are {}",
                        DAYS.join(", ")
                    )
                })?;
                set[index] = true;
            }
            (set, names.join(","))
        }
    };
    let (from, to, hours_label) = match schedule.get("hours") {
        None => (0, 24 * 60, String::new()),
        Some(hours) => {
            let text = string(hours.clone(), "schedule.hours")?;
            let help = || {
                format!(
                    "`schedule.hours` must be a time range such as \"18:00-22:00\", not \"{text}\""
                )
            };
            let (a, b) = text.split_once(['-', '–']).ok_or_else(help)?;
            let minutes = |t: &str| -> Option<u32> {
                let (h, m) = t.trim().split_once(':')?;
                let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
                (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
            };
            let (from, to) = (minutes(a).ok_or_else(help)?, minutes(b).ok_or_else(help)?);
            if from == to {
                return Err(format!("`schedule.hours` \"{text}\" is an empty range"));
            }
            (from, to, format!(" {}-{}", a.trim(), b.trim()))
        }
    };
    if !days.contains(&true) {
        return Err("`schedule.days` needs at least one day".into());
    }
    Ok(Recurring {
        time_zone,
        days,
        from,
        to,
        label: format!("{days_label}{hours_label} {zone_name}"),
    })
}

fn parse_trigger(value: Dynamic) -> Result<Trigger, String> {
    const HELP: &str = "`when` must be \"immediately\", \"exit_intent\", or a map with one of \
        after_seconds, scroll, idle_seconds, after_event, element_visible";
    if value.is_string() {
        return match value.into_immutable_string().unwrap_or_default().as_str() {
            "immediately" => Ok(Trigger::Immediately),
            "exit_intent" => Ok(Trigger::ExitIntent),
            other => Err(format!("{HELP}, not \"{other}\"")),
        };
    }
    let when = value.try_cast::<Map>().ok_or(HELP)?;
    check_fields(
        &when,
        &[
            "after_seconds",
            "scroll",
            "idle_seconds",
            "after_event",
            "element_visible",
        ],
        "`when`",
    )?;
    if when.len() != 1 {
        return Err(format!("{HELP}: exactly one"));
    }
    let (key, value) = when.into_iter().next().ok_or(HELP)?;
    let field = format!("when.{key}");
    Ok(match key.as_str() {
        "after_seconds" => Trigger::AfterSeconds {
            seconds: whole(&value, &field, 0, 3_600)?,
        },
        "idle_seconds" => Trigger::Idle {
            seconds: whole(&value, &field, 1, 3_600)?,
        },
        "scroll" => Trigger::Scroll {
            percent: u8::try_from(whole(&value, &field, 0, 100)?).unwrap_or(100),
        },
        "after_event" => Trigger::AfterEvent {
            event: string(value, &field)?,
        },
        _ => {
            let selector = string(value, &field)?;
            if selector.trim().is_empty() || selector.len() > 200 {
                return Err(format!(
                    "`{field}` must be a CSS selector such as \"#reviews\""
                ));
            }
            Trigger::ElementVisible { selector }
        }
    })
}

fn parse_cap(value: Dynamic) -> Result<Cap, String> {
    let cap = map(value, "cap", "#{ per_session: 1 }")?;
    check_fields(
        &cap,
        &["per_session", "per_visitor", "per_days", "stop_after"],
        "`cap`",
    )?;
    let count = |field: &str| -> Result<Option<u32>, String> {
        cap.get(field)
            .map(|v| whole(v, &format!("cap.{field}"), 1, 1_000))
            .transpose()
    };
    let mut result = Cap {
        per_session: count("per_session")?,
        per_visitor: count("per_visitor")?,
        ..Cap::default()
    };
    if let Some(per_days) = cap.get("per_days") {
        let window = map(per_days.clone(), "cap.per_days", "#{ times: 1, days: 7 }")?;
        check_fields(&window, &["times", "days"], "`cap.per_days`")?;
        let get = |field: &str, max: i64| {
            window
                .get(field)
                .ok_or_else(|| format!("`cap.per_days.{field}` is missing"))
                .and_then(|v| whole(v, &format!("cap.per_days.{field}"), 1, max))
        };
        result.per_days = Some((get("times", 1_000)?, get("days", 365)?));
    }
    if let Some(stop_after) = cap.get("stop_after") {
        // An explicit list replaces the default.
        result.stop_after_dismiss = false;
        for stop in string_list(stop_after.clone(), "cap.stop_after")? {
            match stop.as_str() {
                "clicked" => result.stop_after_click = true,
                "dismissed" => result.stop_after_dismiss = true,
                "answered" => result.stop_after_answer = true,
                other => {
                    return Err(format!(
                        "`cap.stop_after` must be \"clicked\", \"dismissed\" or \"answered\", not \"{other}\""
                    ))
                }
            }
        }
    }
    Ok(result)
}

fn parse_experiment(rule_id: &str, value: Dynamic) -> Result<Experiment, String> {
    let mut experiment = map(
        value,
        "experiment",
        "#{ variants: [#{ id: \"a\", weight: 50, show: ... }, #{ id: \"control\", weight: 50 }] }",
    )?;
    check_fields(
        &experiment,
        &[
            "seed",
            "coverage",
            "namespace",
            "variants",
            "control",
            "metric",
        ],
        "`experiment`",
    )?;
    let metric = match experiment.remove("metric") {
        None => METRICS[0].to_owned(),
        Some(metric) => {
            let metric = string(metric, "experiment.metric")?;
            if !METRICS.contains(&metric.as_str()) {
                return Err(format!(
                    "`experiment.metric` must be \"conversion\" (the default), \"revenue\", \"clicks\" or \"score\", not \"{metric}\""
                ));
            }
            metric
        }
    };
    let control = match experiment.remove("control") {
        None => ControlMode::FallsThrough,
        Some(mode) => match string(mode, "experiment.control")?.as_str() {
            "falls_through" => ControlMode::FallsThrough,
            "holds" => ControlMode::Holds,
            other => {
                return Err(format!(
                    "`experiment.control` must be \"falls_through\" (lower rules may show) or \"holds\" (the placement stays empty), not \"{other}\""
                ))
            }
        },
    };
    let seed = experiment
        .remove("seed")
        .map(|s| string(s, "experiment.seed"))
        .transpose()?
        .unwrap_or_else(|| rule_id.to_owned());
    let coverage = experiment
        .remove("coverage")
        .map(|c| number(&c, "experiment.coverage", 0.0, 1.0))
        .transpose()?
        .unwrap_or(1.0);
    let namespace = match experiment.remove("namespace") {
        None => None,
        Some(ns) => {
            let help = "`experiment.namespace` must be [name, start, end], such as [\"checkout\", 0.0, 0.5]";
            let parts = ns.try_cast::<rhai::Array>().ok_or(help)?;
            if parts.len() != 3 {
                return Err(help.into());
            }
            let name = string(parts[0].clone(), "experiment.namespace[0]")?;
            let start = number(&parts[1], "experiment.namespace[1]", 0.0, 1.0)?;
            let end = number(&parts[2], "experiment.namespace[2]", 0.0, 1.0)?;
            if end <= start {
                return Err(help.into());
            }
            Some((name, start, end))
        }
    };
    let variants = experiment
        .remove("variants")
        .ok_or("`experiment.variants` is missing")?
        .try_cast::<rhai::Array>()
        .ok_or("`experiment.variants` must be a list of variants")?;
    if variants.len() < 2 {
        return Err("`experiment.variants` needs at least two variants".into());
    }
    let mut parsed = Vec::with_capacity(variants.len());
    let mut raw_weights = Vec::with_capacity(variants.len());
    for (index, variant) in variants.into_iter().enumerate() {
        let field = format!("experiment.variants[{index}]");
        let mut variant = map(variant, &field, "#{ id: \"a\", weight: 50, show: ... }")?;
        check_fields(&variant, &["id", "weight", "show"], &format!("`{field}`"))?;
        let id = string(
            variant
                .remove("id")
                .ok_or_else(|| format!("`{field}.id` is missing"))?,
            &format!("{field}.id"),
        )?;
        if !is_valid_name(&id) {
            return Err(format!(
                "`{field}.id` must be lower-case letters, digits, '-' and '_'"
            ));
        }
        if parsed.iter().any(|v: &Variant| v.id == id) {
            return Err(format!("variant \"{id}\" is defined twice"));
        }
        let weight = number(
            &variant
                .remove("weight")
                .ok_or_else(|| format!("`{field}.weight` is missing"))?,
            &format!("{field}.weight"),
            0.0,
            1_000_000.0,
        )?;
        if weight <= 0.0 {
            return Err(format!("`{field}.weight` must be above 0"));
        }
        let show = variant
            .remove("show")
            .map(|s| {
                parse_show(
                    format!("{rule_id}-{id}"),
                    map(s, &format!("{field}.show"), "#{ kind: ..., content: ... }")?,
                    &format!("{field}.show"),
                )
            })
            .transpose()?;
        raw_weights.push(weight);
        parsed.push(Variant { id, show });
    }
    if parsed.iter().all(|v| v.show.is_none()) {
        return Err("every variant is a control: at least one needs `show`".into());
    }
    let total: f64 = raw_weights.iter().sum();
    Ok(Experiment {
        seed,
        coverage,
        namespace,
        weights: raw_weights.iter().map(|w| w / total).collect(),
        written_weights: raw_weights,
        control,
        variants: parsed,
        metric,
    })
}

fn parse_show(default_id: String, mut show: Map, field: &str) -> Result<Show, String> {
    check_fields(
        &show,
        &["id", "kind", "slot", "position", "content", "products"],
        &format!("`{field}`"),
    )?;
    let experience = match show.remove("id") {
        None => default_id,
        Some(id) => {
            let id = string(id, &format!("{field}.id"))?;
            if !is_valid_name(&id) {
                return Err(format!(
                    "`{field}.id` must be lower-case letters, digits, '-' and '_'"
                ));
            }
            id
        }
    };
    let kind_name = string(
        show.remove("kind")
            .ok_or_else(|| format!("`{field}.kind` is missing"))?,
        &format!("{field}.kind"),
    )?;
    let kind = ExperienceKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind_name)
        .ok_or_else(|| {
            let names: Vec<&str> = ExperienceKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "`{field}.kind` must be one of {}, not \"{kind_name}\"",
                names.join(", ")
            )
        })?;
    let slot = show
        .remove("slot")
        .map(|s| string(s, &format!("{field}.slot")))
        .transpose()?;
    match (&slot, kind.needs_slot()) {
        (None, true) => {
            return Err(format!(
                "`{field}.slot` is missing: a {kind_name} fills a [data-rapport-slot] element"
            ))
        }
        (Some(_), false) => {
            return Err(format!(
                "`{field}.slot` only goes with inline and recommendations"
            ))
        }
        (Some(name), true) if !is_valid_name(name) => {
            return Err(format!(
                "`{field}.slot` must be lower-case letters, digits, '-' and '_'"
            ))
        }
        _ => {}
    }
    let position = match show.remove("position") {
        None => None,
        Some(_) if kind != ExperienceKind::Bar => {
            return Err(format!("`{field}.position` only goes with a bar"))
        }
        Some(p) => {
            let name = string(p, &format!("{field}.position"))?;
            Some(BarPosition::parse(&name).ok_or_else(|| {
                format!("`{field}.position` must be \"top\" or \"bottom\", not \"{name}\"")
            })?)
        }
    };
    let products = match show.remove("products") {
        None if kind == ExperienceKind::Recommendations => {
            return Err(format!(
                "`{field}.products` is missing: give |v| ... returning products"
            ))
        }
        None => None,
        Some(p) if p.is_fnptr() && kind == ExperienceKind::Recommendations => {
            Some(p.cast::<FnPtr>())
        }
        Some(_) if kind == ExperienceKind::Recommendations => {
            return Err(format!(
                "`{field}.products` must be a function such as |v| v.recent_products"
            ))
        }
        Some(_) => return Err(format!("`{field}.products` only goes with recommendations")),
    };
    let by_locale = map(
        show.remove("content")
            .ok_or_else(|| format!("`{field}.content` is missing"))?,
        &format!("{field}.content"),
        "#{ en: #{ body: \"...\" } }",
    )?;
    if by_locale.is_empty() {
        return Err(format!("`{field}.content` needs at least one locale"));
    }
    let mut content = BTreeMap::new();
    for (locale, text) in by_locale {
        let field = format!("{field}.content.{locale}");
        let text = map(text, &field, "#{ title: ..., body: ..., cta: ... }")?;
        content.insert(locale.to_string(), parse_text(text, &field, kind)?);
    }
    Ok(Show {
        experience,
        kind,
        slot,
        position,
        content,
        products,
    })
}

fn parse_text(mut text: Map, field: &str, kind: ExperienceKind) -> Result<LocalContent, String> {
    check_fields(
        &text,
        &["title", "body", "cta", "code"],
        &format!("`{field}`"),
    )?;
    let template = |value: Dynamic, part: &str| -> Result<Template, String> {
        let path = format!("{field}.{part}");
        Template::parse(&string(value, &path)?).map_err(|e| format!("`{path}`: {e}"))
    };
    let title = text
        .remove("title")
        .map(|t| template(t, "title"))
        .transpose()?;
    let body = template(
        text.remove("body")
            .ok_or_else(|| format!("`{field}.body` is missing"))?,
        "body",
    )?;
    let code = text
        .remove("code")
        .map(|c| string(c, &format!("{field}.code")))
        .transpose()?;
    match (kind == ExperienceKind::Coupon, &code) {
        (true, None) => {
            return Err(format!(
                "`{field}.code` is missing: a coupon reveals a code"
            ))
        }
        (false, Some(_)) => return Err(format!("`{field}.code` only goes with coupons")),
        _ => {}
    }
    let cta = match text.remove("cta") {
        None => None,
        Some(cta) => {
            let mut cta = map(cta, &format!("{field}.cta"), "#{ label: ..., url: ... }")?;
            check_fields(&cta, &["label", "url"], &format!("`{field}.cta`"))?;
            let label = template(
                cta.remove("label")
                    .ok_or_else(|| format!("`{field}.cta.label` is missing"))?,
                "cta.label",
            )?;
            let url = string(
                cta.remove("url")
                    .ok_or_else(|| format!("`{field}.cta.url` is missing"))?,
                &format!("{field}.cta.url"),
            )?;
            if !is_safe_link(&url) {
                return Err(format!(
                    "`{field}.cta.url` must be an http(s) or relative link, not \"{url}\""
                ));
            }
            Some((label, url))
        }
    };
    Ok(LocalContent {
        title,
        body,
        cta,
        code,
    })
}

pub(crate) fn parse_settings(value: Map) -> Result<Settings, String> {
    check_fields(
        &value,
        &[
            "default_locale",
            "holdout",
            "holdout_seed",
            "fatigue",
            "page_kinds",
            "free_shipping_from",
            "currency",
            "attribution_days",
        ],
        "settings",
    )?;

    let mut settings = Settings::default();
    if let Some(from) = value.get("free_shipping_from") {
        settings.free_shipping_from = Some(number(from, "free_shipping_from", 0.0, 1e9)?);
    }
    if let Some(currency) = value.get("currency") {
        let code = string(currency.clone(), "currency")?;
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "`currency` must be a currency code such as \"EUR\", not \"{code}\""
            ));
        }
        settings.currency = code;
    }
    if let Some(days) = value.get("attribution_days") {
        settings.attribution_days = whole(days, "attribution_days", 1, 90)?;
    }
    if let Some(kinds) = value.get("page_kinds") {
        settings.page_kinds = string_list(kinds.clone(), "page_kinds")?;
    }
    if let Some(locale) = value.get("default_locale") {
        settings.default_locale = string(locale.clone(), "default_locale")?;
    }
    if let Some(holdout) = value.get("holdout") {
        settings.holdout_percent = number(holdout, "holdout", 0.0, 100.0)?;
    }
    if let Some(seed) = value.get("holdout_seed") {
        settings.holdout_seed = string(seed.clone(), "holdout_seed")?;
    }
    if let Some(fatigue) = value.get("fatigue") {
        let fatigue = map(
            fatigue.clone(),
            "fatigue",
            "#{ prompts_per_session: 3, quiet_minutes_after_dismiss: 30 }",
        )?;
        check_fields(
            &fatigue,
            &[
                "overlays_per_page",
                "prompts_per_session",
                "quiet_minutes_after_dismiss",
            ],
            "`fatigue`",
        )?;
        if let Some(n) = fatigue.get("overlays_per_page") {
            settings.overlays_per_page = whole(n, "fatigue.overlays_per_page", 0, 1)?;
        }
        if let Some(n) = fatigue.get("prompts_per_session") {
            settings.prompts_per_session = whole(n, "fatigue.prompts_per_session", 0, 100)?;
        }
        if let Some(n) = fatigue.get("quiet_minutes_after_dismiss") {
            settings.quiet_minutes_after_dismiss =
                whole(n, "fatigue.quiet_minutes_after_dismiss", 0, 7 * 24 * 60)?;
        }
    }
    Ok(settings)
}
