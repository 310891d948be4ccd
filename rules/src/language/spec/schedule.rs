//! `schedule`: dates a rule shows between, and recurring day parts in a time zone.

use rhai::Dynamic;

use super::Recurring;
use crate::language::fields::{self, choose, string_list, Fields};

/// The start and end (edge times in ms) and the recurring day parts.
pub(super) type Schedule = (Option<i64>, Option<i64>, Option<Recurring>);

const EXAMPLE: &str = "#{ start: \"2026-11-27T00:00:00Z\", end: \"...\" } or #{ days: \"weekdays\", hours: \"18:00-22:00\", time_zone: \"Europe/Lisbon\" }";

pub(super) fn parse(value: Dynamic) -> Result<Schedule, String> {
    let mut schedule = Fields::read(
        value,
        "schedule",
        EXAMPLE,
        &["start", "end", "days", "hours", "time_zone"],
    )?;
    let (start, end) = (time(&mut schedule, "start")?, time(&mut schedule, "end")?);
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            return Err("`schedule.end` must come after `schedule.start`".into());
        }
    }
    let recurring = if ["days", "hours", "time_zone"]
        .iter()
        .any(|k| schedule.has(k))
    {
        Some(recurring(schedule)?)
    } else {
        None
    };
    Ok((start, end, recurring))
}

fn time(schedule: &mut Fields, field: &str) -> Result<Option<i64>, String> {
    schedule
        .string(field)?
        .map(|text| super::parse_time(&text).map_err(|e| format!("`schedule.{field}`: {e}")))
        .transpose()
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn recurring(mut schedule: Fields) -> Result<Recurring, String> {
    let zone_name = schedule
        .string("time_zone")?
        .unwrap_or_else(|| "UTC".to_owned());
    let time_zone: chrono_tz::Tz = zone_name.parse().map_err(|_| {
        format!(
            "`schedule.time_zone` must be an IANA time zone such as \"Europe/Lisbon\", not \"{zone_name}\""
        )
    })?;
    let (days, days_label) = match schedule.take("days") {
        None => ([true; 7], "every day".to_owned()),
        Some(days) => days_of(days)?,
    };
    let (from, to, hours_label) = match schedule.string("hours")? {
        None => (0, 24 * 60, String::new()),
        Some(text) => hours(&text)?,
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

/// `schedule.days`: a name ("weekdays", "sat") or a list of days, Monday first, and its label.
fn days_of(days: Dynamic) -> Result<([bool; 7], String), String> {
    if days.is_string() {
        let name = fields::string(days, "schedule.days")?;
        let one = |day: usize| {
            let mut set = [false; 7];
            set[day] = true;
            set
        };
        let mut named = vec![
            ("weekdays", [true, true, true, true, true, false, false]),
            ("weekends", [false, false, false, false, false, true, true]),
            ("every_day", [true; 7]),
        ];
        named.extend(DAYS.iter().enumerate().map(|(i, d)| (*d, one(i))));
        let help = "\"weekdays\", \"weekends\", \"every_day\" or days such as [\"sat\", \"sun\"]";
        let set = choose(&name, &named, "schedule.days", help)?;
        return Ok((set, name.replace('_', " ")));
    }
    let mut set = [false; 7];
    let names = string_list(days, "schedule.days")?;
    for name in &names {
        let index = DAYS.iter().position(|d| d == name).ok_or_else(|| {
            format!(
                "`schedule.days`: \"{name}\" is not a day; days are {}",
                DAYS.join(", ")
            )
        })?;
        set[index] = true;
    }
    Ok((set, names.join(",")))
}

/// `schedule.hours` ("18:00-22:00") as minutes after midnight, and its label.
fn hours(text: &str) -> Result<(u32, u32, String), String> {
    let help =
        || format!("`schedule.hours` must be a time range such as \"18:00-22:00\", not \"{text}\"");
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
    Ok((from, to, format!(" {}-{}", a.trim(), b.trim())))
}
