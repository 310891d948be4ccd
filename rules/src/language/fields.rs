//! Reading a map a marketer wrote (`rule("id", #{ ... })`, `settings(#{ ... })` and every
//! map inside them): each field taken by name, typed, and refused with its full path
//! (`cap.per_days.times`) and what it should be. Unknown fields are refused up front, with a
//! suggestion.

use rhai::{Dynamic, Map};

use crate::language::diagnostic::did_you_mean;

/// A map being read; `at` is its own path (empty for a rule's or the settings' map).
pub(crate) struct Fields {
    map: Map,
    at: String,
}

impl Fields {
    /// The map of a rule or of the settings (`what`), with only `allowed` fields.
    pub(crate) fn top(map: Map, what: &str, allowed: &[&str]) -> Result<Fields, String> {
        check_fields(&map, allowed, what)?;
        Ok(Fields {
            map,
            at: String::new(),
        })
    }

    /// `value` as the map at path `at` (such as `#{ per_session: 1 }`: `example`), with only
    /// `allowed` fields.
    pub(crate) fn read(
        value: Dynamic,
        at: &str,
        example: &str,
        allowed: &[&str],
    ) -> Result<Fields, String> {
        let map = map(value, at, example)?;
        check_fields(&map, allowed, &format!("`{at}`"))?;
        Ok(Fields {
            map,
            at: at.to_owned(),
        })
    }

    /// The full path of field `name`.
    pub(crate) fn path(&self, name: &str) -> String {
        if self.at.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.at)
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Field `name` as written, if it is there.
    pub(crate) fn take(&mut self, name: &str) -> Option<Dynamic> {
        self.map.remove(name)
    }

    /// Field `name`, which must be there.
    pub(crate) fn require(&mut self, name: &str) -> Result<Dynamic, String> {
        self.take(name)
            .ok_or_else(|| format!("`{}` is missing", self.path(name)))
    }

    pub(crate) fn string(&mut self, name: &str) -> Result<Option<String>, String> {
        let path = self.path(name);
        self.take(name).map(|v| string(v, &path)).transpose()
    }

    /// A string, or a list of strings.
    pub(crate) fn strings(&mut self, name: &str) -> Result<Option<Vec<String>>, String> {
        let path = self.path(name);
        self.take(name).map(|v| string_list(v, &path)).transpose()
    }

    /// A number (whole or decimal) from `min` to `max`.
    pub(crate) fn number(&mut self, name: &str, min: f64, max: f64) -> Result<Option<f64>, String> {
        let path = self.path(name);
        self.take(name)
            .map(|v| number(&v, &path, min, max))
            .transpose()
    }

    /// A whole number from `min` to `max`.
    pub(crate) fn whole(&mut self, name: &str, min: i64, max: i64) -> Result<Option<u32>, String> {
        let path = self.path(name);
        self.take(name)
            .map(|v| whole(&v, &path, min, max))
            .transpose()
    }

    /// `true` or `false`.
    pub(crate) fn flag(&mut self, name: &str) -> Result<Option<bool>, String> {
        let path = self.path(name);
        self.take(name)
            .map(|v| {
                v.as_bool()
                    .map_err(|t| format!("`{path}` must be true or false, not {t}"))
            })
            .transpose()
    }

    /// A name: lower-case letters, digits, '-' and '_'.
    pub(crate) fn name(&mut self, name: &str) -> Result<Option<String>, String> {
        let path = self.path(name);
        self.string(name)?.map(|n| valid_name(n, &path)).transpose()
    }

    /// One of `choices` by its name; else "`path` must be {help}, not ...".
    pub(crate) fn choice<T: Copy>(
        &mut self,
        name: &str,
        choices: &[(&str, T)],
        help: &str,
    ) -> Result<Option<T>, String> {
        let path = self.path(name);
        self.string(name)?
            .map(|written| choose(&written, choices, &path, help))
            .transpose()
    }

    /// The map in field `name`, read like this one.
    pub(crate) fn map(
        &mut self,
        name: &str,
        example: &str,
        allowed: &[&str],
    ) -> Result<Option<Fields>, String> {
        let path = self.path(name);
        self.take(name)
            .map(|v| Fields::read(v, &path, example, allowed))
            .transpose()
    }
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
        did_you_mean(unknown, allowed.iter().copied()),
        allowed.join(", ")
    ))
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(crate) fn valid_name(name: String, path: &str) -> Result<String, String> {
    if is_valid_name(&name) {
        Ok(name)
    } else {
        Err(format!(
            "`{path}` must be lower-case letters, digits, '-' and '_'"
        ))
    }
}

/// The choice named `written`; else "`path` must be {help}, not ...".
pub(crate) fn choose<T: Copy>(
    written: &str,
    choices: &[(&str, T)],
    path: &str,
    help: &str,
) -> Result<T, String> {
    choices
        .iter()
        .find(|(name, _)| *name == written)
        .map(|(_, value)| *value)
        .ok_or_else(|| format!("`{path}` must be {help}, not \"{written}\""))
}

pub(crate) fn string(value: Dynamic, field: &str) -> Result<String, String> {
    value
        .into_immutable_string()
        .map(|s| s.to_string())
        .map_err(|t| format!("`{field}` must be a string, not {t}"))
}

/// A string, or an array of strings.
pub(crate) fn string_list(value: Dynamic, field: &str) -> Result<Vec<String>, String> {
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

/// A number (integer or decimal) from `min` to `max`.
pub(crate) fn number(value: &Dynamic, field: &str, min: f64, max: f64) -> Result<f64, String> {
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

/// A whole number from `min` to `max`.
pub(crate) fn whole(value: &Dynamic, field: &str, min: i64, max: i64) -> Result<u32, String> {
    match value.as_int() {
        Ok(n) if (min..=max).contains(&n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
        _ => Err(format!(
            "`{field}` must be a whole number from {min} to {max}"
        )),
    }
}

pub(crate) fn map(value: Dynamic, field: &str, example: &str) -> Result<Map, String> {
    value
        .try_cast::<Map>()
        .ok_or_else(|| format!("`{field}` must be a map such as {example}"))
}
