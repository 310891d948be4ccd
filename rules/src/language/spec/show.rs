//! `show`: the experience a rule (or an experiment's variant) shows: its kind, where it goes,
//! and its content by locale.

use std::collections::BTreeMap;

use rapport_protocol::{is_safe_link, BarPosition, ExperienceKind};
use rhai::{Dynamic, FnPtr};

use super::{LocalContent, Show};
use crate::language::fields::{self, map, Fields};
use crate::language::template::Template;

const FIELDS: &[&str] = &["id", "kind", "slot", "position", "content", "products"];

/// The map at `path` (such as `example`); its experience is `default_id` unless it names one.
pub(super) fn parse(
    default_id: String,
    value: Dynamic,
    path: &str,
    example: &str,
) -> Result<Show, String> {
    let mut show = Fields::read(value, path, example, FIELDS)?;
    let experience = show.name("id")?.unwrap_or(default_id);
    let kind = kind(&mut show)?;
    let slot = slot(&mut show, kind)?;
    let position = match show.take("position") {
        None => None,
        Some(_) if kind != ExperienceKind::Bar => {
            return Err(format!("`{path}.position` only goes with a bar"))
        }
        Some(p) => {
            let name = fields::string(p, &format!("{path}.position"))?;
            Some(BarPosition::parse(&name).ok_or_else(|| {
                format!("`{path}.position` must be \"top\" or \"bottom\", not \"{name}\"")
            })?)
        }
    };
    let products = products(show.take("products"), kind, path)?;
    let by_locale = map(
        show.require("content")?,
        &format!("{path}.content"),
        "#{ en: #{ body: \"...\" } }",
    )?;
    if by_locale.is_empty() {
        return Err(format!("`{path}.content` needs at least one locale"));
    }
    let mut content = BTreeMap::new();
    for (locale, text) in by_locale {
        let field = format!("{path}.content.{locale}");
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

fn kind(show: &mut Fields) -> Result<ExperienceKind, String> {
    let path = show.path("kind");
    let written = fields::string(show.require("kind")?, &path)?;
    let kinds: Vec<(&str, ExperienceKind)> = ExperienceKind::ALL
        .into_iter()
        .map(|k| (k.as_str(), k))
        .collect();
    let names: Vec<&str> = kinds.iter().map(|(name, _)| *name).collect();
    let help = format!("one of {}", names.join(", "));
    fields::choose(&written, &kinds, &path, &help)
}

/// `slot`: the `[data-rapport-slot]` element inline content and recommendations fill.
fn slot(show: &mut Fields, kind: ExperienceKind) -> Result<Option<String>, String> {
    let path = show.path("slot");
    let slot = show.string("slot")?;
    match (&slot, kind.needs_slot()) {
        (None, true) => Err(format!(
            "`{path}` is missing: a {} fills a [data-rapport-slot] element",
            kind.as_str()
        )),
        (Some(_), false) => Err(format!(
            "`{path}` only goes with inline and recommendations"
        )),
        (Some(name), true) => fields::valid_name(name.clone(), &path).map(Some),
        (None, false) => Ok(None),
    }
}

/// `products`: the function giving a recommendation's products, and only for those.
fn products(
    written: Option<Dynamic>,
    kind: ExperienceKind,
    path: &str,
) -> Result<Option<FnPtr>, String> {
    let recommendations = kind == ExperienceKind::Recommendations;
    match written {
        None if recommendations => Err(format!(
            "`{path}.products` is missing: give |v| ... returning products"
        )),
        None => Ok(None),
        Some(p) if p.is_fnptr() && recommendations => Ok(Some(p.cast::<FnPtr>())),
        Some(_) if recommendations => Err(format!(
            "`{path}.products` must be a function such as |v| v.recent_products"
        )),
        Some(_) => Err(format!("`{path}.products` only goes with recommendations")),
    }
}

/// One locale's texts, each a template; a coupon's code; a call to action.
fn parse_text(value: Dynamic, path: &str, kind: ExperienceKind) -> Result<LocalContent, String> {
    let mut text = Fields::read(
        value,
        path,
        "#{ title: ..., body: ..., cta: ... }",
        &["title", "body", "cta", "code"],
    )?;
    let title = text
        .string("title")?
        .map(|t| template(&t, &format!("{path}.title")))
        .transpose()?;
    let body = fields::string(text.require("body")?, &format!("{path}.body"))?;
    let body = template(&body, &format!("{path}.body"))?;
    let code = text.string("code")?;
    match (kind == ExperienceKind::Coupon, &code) {
        (true, None) => return Err(format!("`{path}.code` is missing: a coupon reveals a code")),
        (false, Some(_)) => return Err(format!("`{path}.code` only goes with coupons")),
        _ => {}
    }
    let cta = match text.map("cta", "#{ label: ..., url: ... }", &["label", "url"])? {
        None => None,
        Some(mut cta) => {
            let label = fields::string(cta.require("label")?, &format!("{path}.cta.label"))?;
            let label = template(&label, &format!("{path}.cta.label"))?;
            let url = fields::string(cta.require("url")?, &format!("{path}.cta.url"))?;
            if !is_safe_link(&url) {
                return Err(format!(
                    "`{path}.cta.url` must be an http(s) or relative link, not \"{url}\""
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

fn template(text: &str, path: &str) -> Result<Template, String> {
    Template::parse(text).map_err(|e| format!("`{path}`: {e}"))
}
