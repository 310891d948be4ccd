//! When a rule's experience shows (`when`: its trigger) and how often (`cap`).

use rapport_protocol::Trigger;
use rhai::{Dynamic, Map};

use super::Cap;
use crate::language::fields::{self, check_fields, string, whole, Fields};

const TRIGGER_HELP: &str = "`when` must be \"immediately\", \"exit_intent\", or a map with one of \
    after_seconds, scroll, idle_seconds, after_event, element_visible";

/// `when`: a name, or a map with exactly one trigger and its setting.
pub(super) fn parse_trigger(value: Dynamic) -> Result<Trigger, String> {
    if value.is_string() {
        return match value.into_immutable_string().unwrap_or_default().as_str() {
            "immediately" => Ok(Trigger::Immediately),
            "exit_intent" => Ok(Trigger::ExitIntent),
            other => Err(format!("{TRIGGER_HELP}, not \"{other}\"")),
        };
    }
    let when = value.try_cast::<Map>().ok_or(TRIGGER_HELP)?;
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
        return Err(format!("{TRIGGER_HELP}: exactly one"));
    }
    let (key, value) = when.into_iter().next().ok_or(TRIGGER_HELP)?;
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

/// `cap`: impressions per session, per visitor and per days, and what stops it for good.
pub(super) fn parse_cap(value: Dynamic) -> Result<Cap, String> {
    let mut cap = Fields::read(
        value,
        "cap",
        "#{ per_session: 1 }",
        &["per_session", "per_visitor", "per_days", "stop_after"],
    )?;
    let mut result = Cap {
        per_session: cap.whole("per_session", 1, 1_000)?,
        per_visitor: cap.whole("per_visitor", 1, 1_000)?,
        ..Cap::default()
    };
    let example = "#{ times: 1, days: 7 }";
    if let Some(mut window) = cap.map("per_days", example, &["times", "days"])? {
        let times = window.require("times")?;
        let days = window.require("days")?;
        result.per_days = Some((
            whole(&times, "cap.per_days.times", 1, 1_000)?,
            whole(&days, "cap.per_days.days", 1, 365)?,
        ));
    }
    if let Some(stops) = cap.strings("stop_after")? {
        // An explicit list replaces the default.
        result.stop_after_dismiss = false;
        let help = "\"clicked\", \"dismissed\" or \"answered\"";
        let choices = [("clicked", 0), ("dismissed", 1), ("answered", 2)];
        for stop in stops {
            match fields::choose(&stop, &choices, "cap.stop_after", help)? {
                0 => result.stop_after_click = true,
                1 => result.stop_after_dismiss = true,
                _ => result.stop_after_answer = true,
            }
        }
    }
    Ok(result)
}
