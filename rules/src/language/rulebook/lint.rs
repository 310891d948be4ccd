//! Warnings: what compiles but will not work as the marketer probably meant it. Each has a
//! case in `tests/diagnostics/`.

use rapport_protocol::Trigger;
use rhai::{Position, AST};

use crate::language::diagnostic::{did_you_mean, Diagnostic};
use crate::language::rulebook::Rulebook;
use crate::language::settings::Settings;
use crate::language::spec::{same_locale, LocalContent, Offer, Rule, Show};
use crate::language::template::Template;

/// The page kinds Rapport's docs define for `<body data-rapport-page>`; a shop may add its
/// own with `settings(#{ page_kinds: [...] })`.
pub const PAGE_KINDS: &[&str] = &[
    "home",
    "category",
    "product",
    "search",
    "cart",
    "checkout",
    "order_confirmation",
    "account",
    "content",
];

/// Warnings found from the rulebook alone, while its syntax trees are at hand for positions.
pub(crate) fn compile_warnings(book: &Rulebook, trees: &[Option<AST>]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in &book.rules {
        let at = |field: &str| -> Position {
            trees
                .get(rule.script)
                .and_then(Option::as_ref)
                .and_then(|tree| crate::language::analysis::rule_field(tree, &rule.id, field))
                .unwrap_or(rule.position)
        };
        let mut warn = |field: &str, message: String| {
            out.push(Diagnostic::warning(
                &rule.file,
                at(field),
                format!("rule \"{}\": {message}", rule.id),
            ));
        };
        for (index, kind) in rule.pages.iter().enumerate() {
            let known = PAGE_KINDS.contains(&kind.as_str())
                || book.settings.page_kinds.iter().any(|k| k == kind);
            if !known {
                let field = if rule.pages.len() > 1 {
                    format!("page[{index}]")
                } else {
                    "page".to_owned()
                };
                let kinds = PAGE_KINDS
                    .iter()
                    .copied()
                    .chain(book.settings.page_kinds.iter().map(String::as_str));
                warn(
                    &field,
                    format!(
                        "\"{kind}\" is not a page kind{}; pages declare theirs with <body data-rapport-page>, and `settings(#{{ page_kinds: [...] }})` adds a shop's own",
                        did_you_mean(kind, kinds)
                    ),
                );
            }
        }
        if let Offer::Experiment(experiment) = &rule.offer {
            let total: f64 = experiment.written_weights.iter().sum();
            if (total - 100.0).abs() > 1e-9 && (total - 1.0).abs() > 1e-9 {
                let shares: Vec<String> = experiment
                    .variants
                    .iter()
                    .zip(&experiment.weights)
                    .map(|(v, w)| format!("{} {:.1}%", v.id, w * 100.0))
                    .collect();
                warn(
                    "experiment.variants",
                    format!(
                        "the variants' weights add up to {total}, not 100; they are scaled to {}",
                        shares.join(", ")
                    ),
                );
            }
        }
        for (path, show) in shows_with_paths(rule) {
            for (message, field) in content_warnings(show, &book.settings) {
                warn(&format!("{path}.{field}"), message);
            }
        }
        if let Some((field, message)) = unlikely_trigger(&rule.trigger, &rule.pages) {
            warn(field, message);
        }
    }
    out
}

/// The pages where shoppers neither search nor add to the cart in most shops.
const CHECKOUT_KINDS: &[&str] = &["checkout", "order_confirmation"];

/// A trigger that the rule's pages make unlikely to fire, where that can be known without the
/// pages: a wait longer than shoppers stay on one page, or an event its pages do not have.
/// (A `scroll` trigger on a page too short to scroll fires once the page's end is in view.)
fn unlikely_trigger(trigger: &Trigger, pages: &[String]) -> Option<(&'static str, String)> {
    const LONGEST_SECONDS: u32 = 300;
    match trigger {
        Trigger::AfterSeconds { seconds } | Trigger::Idle { seconds } if *seconds > LONGEST_SECONDS => {
            let field = if matches!(trigger, Trigger::Idle { .. }) {
                "when.idle_seconds"
            } else {
                "when.after_seconds"
            };
            Some((
                field,
                format!(
                    "it waits {} minutes on one page; few shoppers stay that long, so it will rarely show (at most {} minutes is usual)",
                    seconds / 60,
                    LONGEST_SECONDS / 60
                ),
            ))
        }
        Trigger::AfterEvent { event }
            if matches!(event.as_str(), "add_to_cart" | "search")
                && !pages.is_empty()
                && pages.iter().all(|p| CHECKOUT_KINDS.contains(&p.as_str())) =>
        {
            Some((
                "when.after_event",
                format!(
                    "it waits for \"{event}\" on {} pages, where shoppers rarely do that; it will rarely show",
                    pages.join(" and ")
                ),
            ))
        }
        _ => None,
    }
}

/// Each experience of a rule with the path of its `show` map.
fn shows_with_paths(rule: &Rule) -> Vec<(String, &Show)> {
    match &rule.offer {
        Offer::Show(show) => vec![("show".to_owned(), show)],
        Offer::Experiment(e) => e
            .variants
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.show
                    .as_ref()
                    .map(|s| (format!("experiment.variants[{i}].show"), s))
            })
            .collect(),
    }
}

/// Locale keys that are not language tags, translations that can never be chosen, a missing
/// default translation, and HTML in texts: (message, field under the `show` map).
fn content_warnings(show: &Show, settings: &Settings) -> Vec<(String, String)> {
    let default_locale = settings.default_locale.as_str();
    let mut out = Vec::new();
    let keys: Vec<&str> = show.content.keys().map(String::as_str).collect();
    for (index, key) in keys.iter().enumerate() {
        let field = format!("content.{key}");
        match language_tag(key) {
            Err(reason) => out.push((
                format!("`content.{key}`: \"{key}\" is not a language tag ({reason}), so no page ever asks for it"),
                field.clone(),
            )),
            Ok(canonical) if canonical != *key => out.push((
                format!("`content.{key}`: write the language tag as \"{canonical}\""),
                field.clone(),
            )),
            Ok(_) => {}
        }
        if let Some(earlier) = keys[..index].iter().find(|k| same_locale(k, key)) {
            out.push((
                format!("`content.{key}` can never be chosen: `content.{earlier}` is the same language tag and is found first"),
                field.clone(),
            ));
        }
    }
    let language = default_locale.split(['-', '_']).next().unwrap_or("");
    let has_default = keys
        .iter()
        .any(|k| same_locale(k, default_locale) || same_locale(k, language));
    if !has_default {
        let first = keys.first().copied().unwrap_or("");
        out.push((
            format!(
                "`content` has no \"{default_locale}\" text (the default locale): pages in a language without a translation get \"{first}\""
            ),
            "content".to_owned(),
        ));
    }
    for (key, text) in &show.content {
        for (part, value) in texts(text) {
            if value.reads("cart.to_free_shipping") && settings.free_shipping_from.is_none() {
                out.push((
                    format!("`content.{key}.{part}` shows {{cart.to_free_shipping}}, but `settings(#{{ free_shipping_from: ... }})` is not given: its fallback always shows"),
                    format!("content.{key}.{part}"),
                ));
            }
            if let Some(tag) = html_in(value.source()) {
                out.push((
                    format!("`content.{key}.{part}` contains HTML ({tag}); texts are shown as text, so the shopper would see it literally"),
                    format!("content.{key}.{part}"),
                ));
            }
        }
    }
    out
}

fn texts(text: &LocalContent) -> Vec<(&'static str, &Template)> {
    let mut parts = vec![("body", &text.body)];
    if let Some(title) = &text.title {
        parts.push(("title", title));
    }
    if let Some((label, _)) = &text.cta {
        parts.push(("cta.label", label));
    }
    parts
}

/// `<b>`, `</p>`, `<br/>` or an entity such as `&amp;`, if the text has one.
fn html_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'<' {
            let rest = &text[i + 1..];
            let name = rest.trim_start_matches('/');
            if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                let end = rest.find('>').map_or(rest.len().min(12), |e| e + 1);
                return Some(format!("`<{}`", &rest[..end]));
            }
        }
        if b == b'&' {
            let rest = &text[i + 1..];
            if let Some(end) = rest.find(';') {
                let entity = &rest[..end];
                if !entity.is_empty()
                    && entity.len() <= 8
                    && entity
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '#')
                {
                    return Some(format!("`&{entity};`"));
                }
            }
        }
    }
    None
}

/// The canonical form of a BCP 47 language tag as pages write it (`pt-BR`), or why `key`
/// is not one.
fn language_tag(key: &str) -> Result<String, &'static str> {
    let mut parts = key.split(['-', '_']);
    let language = parts.next().unwrap_or("");
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err("a language is two or three letters, such as \"en\" or \"pt-BR\"");
    }
    let mut tag = language.to_ascii_lowercase();
    for part in parts {
        let canonical = match part.len() {
            2 if part.chars().all(|c| c.is_ascii_alphabetic()) => part.to_ascii_uppercase(),
            3 if part.chars().all(|c| c.is_ascii_digit()) => part.to_owned(),
            4 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                let mut script = part.to_ascii_lowercase();
                script[..1].make_ascii_uppercase();
                script
            }
            _ => return Err("the region after the language is two letters, such as \"pt-BR\""),
        };
        tag.push('-');
        tag.push_str(&canonical);
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_canonicalised_or_refused() {
        assert_eq!(language_tag("en").unwrap(), "en");
        assert_eq!(language_tag("en_GB").unwrap(), "en-GB");
        assert_eq!(language_tag("pt-br").unwrap(), "pt-BR");
        assert_eq!(language_tag("zh-hant").unwrap(), "zh-Hant");
        assert!(language_tag("english").is_err());
        assert!(language_tag("e").is_err());
    }

    #[test]
    fn html_is_recognised_but_not_comparisons() {
        assert_eq!(html_in("<b>Sale</b>").as_deref(), Some("`<b>`"));
        assert_eq!(html_in("Tom &amp; Jerry").as_deref(), Some("`&amp;`"));
        assert_eq!(html_in("Orders < 3 days & more"), None);
    }
}
