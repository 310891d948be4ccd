//! Live values in texts: `Hi {first_name | "there"}, add {cart.to_free_shipping | "a little"}
//! more for free shipping`. Checked when the rulebook compiles (unknown names, a missing
//! fallback, `{{...}}`), filled in by the edge for each decision, and always shown as text.

use rapport_protocol::PageContext;

use crate::language::diagnostic::did_you_mean;
use crate::language::settings::Settings;
use crate::visitor::profile::Profile;

/// A text with its `{...}` parts, ready to fill in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    source: String,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value {
        name: &'static str,
        fallback: Option<String>,
    },
}

/// What a text may show, and whether every visitor has it (those that some visitors lack
/// need a fallback).
pub const VALUES: &[(&str, bool, &str)] = &[
    ("first_name", false, "the customer's first name (trait `first_name`)"),
    ("cart.items", true, "the number of items in the cart"),
    ("cart.value", true, "the cart's value, as money"),
    (
        "cart.to_free_shipping",
        false,
        "what is left to spend for free shipping (`settings.free_shipping_from`), as money; none for an empty cart or once reached",
    ),
    ("product.name", false, "the product on the page (product pages)"),
    ("product.price", false, "its price, as money"),
    ("visits", true, "the visitor's sessions so far"),
    ("purchases.count", true, "purchases so far"),
];

impl Template {
    /// Reads `text`; a mistake is a message naming the part.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let (before, after) = rest.split_at(open);
            if !before.is_empty() {
                pieces.push(Piece::Text(before.to_owned()));
            }
            if let Some(doubled) = after.strip_prefix("{{") {
                let inner = doubled.split("}}").next().unwrap_or("").trim();
                return Err(format!(
                    "`{{{{{inner}}}}}` would be shown as it is: live values take single braces, {{{inner} | \"...\"}}"
                ));
            }
            let close = after
                .find('}')
                .ok_or_else(|| format!("a `{{` is never closed in \"{text}\""))?;
            pieces.push(value(&after[1..close])?);
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("a `}}` has no `{{` before it in \"{text}\""));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template {
            source: text.to_owned(),
            pieces,
        })
    }

    /// The text as the marketer wrote it.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The text with its values filled in for one visitor on one page.
    pub(crate) fn render(&self, values: &Values<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Value { name, fallback } => {
                    if let Some(value) = values.get(name).or_else(|| fallback.clone()) {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }

    /// Whether the text reads `name`: `cart.to_free_shipping` needs its setting.
    pub(crate) fn reads(&self, name: &str) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Value { name: n, .. } if *n == name))
    }
}

fn value(inside: &str) -> Result<Piece, String> {
    let (name, fallback) = match inside.split_once('|') {
        Some((name, fallback)) => (name.trim(), Some(fallback.trim())),
        None => (inside.trim(), None),
    };
    let Some(&(known, always, _)) = VALUES.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!(
            "`{{{name}}}` is not a value texts can show (they are: {}){}",
            VALUES
                .iter()
                .map(|(n, _, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
            did_you_mean(name, VALUES.iter().map(|(n, _, _)| *n))
        ));
    };
    let fallback = match fallback {
        None if !always => {
            return Err(format!(
                "`{{{name}}}` needs a fallback for visitors without one, such as {{{name} | \"...\"}}"
            ))
        }
        None => None,
        Some(text) => Some(
            text.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| !t.contains('"'))
                .ok_or_else(|| {
                    format!("the fallback of `{{{name}}}` must be a quoted text, such as {{{name} | \"...\"}}")
                })?
                .to_owned(),
        ),
    };
    Ok(Piece::Value {
        name: known,
        fallback,
    })
}

/// What texts can show for one visitor on one page.
pub(crate) struct Values<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) page: &'a PageContext,
    pub(crate) settings: &'a Settings,
    /// The language the text is in, for writing money.
    pub(crate) locale: &'a str,
}

impl Values<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let profile = self.profile;
        let currency = || {
            profile
                .cart_currency()
                .unwrap_or(&self.settings.currency)
                .to_owned()
        };
        match name {
            "first_name" => profile
                .traits
                .get("first_name")
                .and_then(|n| n.as_str())
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            "cart.items" => Some(profile.cart_items().to_string()),
            "cart.value" => Some(money(profile.cart_value(), &currency(), self.locale)),
            // Unknown for an empty cart (or a visitor the edge knows nothing about), and
            // nothing once reached: the fallback shows then.
            "cart.to_free_shipping" => {
                let from = self.settings.free_shipping_from?;
                let left = from - profile.cart_value();
                (profile.cart_items() > 0 && left > 0.0)
                    .then(|| money(left, &currency(), self.locale))
            }
            "product.name" | "product.price" => {
                if self.page.kind.as_deref() != Some("product") {
                    return None;
                }
                let product = &profile.recent_products.front()?.product;
                if name == "product.name" {
                    product.name.clone()
                } else {
                    let currency = product
                        .currency
                        .clone()
                        .unwrap_or_else(|| self.settings.currency.clone());
                    product.price.map(|p| money(p, &currency, self.locale))
                }
            }
            "visits" => Some(profile.sessions.to_string()),
            "purchases.count" => Some(profile.purchases.count.to_string()),
            _ => None,
        }
    }
}

/// An amount of money as the text's language writes it: `€12.50` in English, `12,50 €` in
/// most of Europe; a currency without a symbol here keeps its code (`12.50 CHF`).
pub(crate) fn money(amount: f64, currency: &str, locale: &str) -> String {
    let symbol = match currency.to_ascii_uppercase().as_str() {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        "BRL" => "R$",
        _ => "",
    };
    let language = locale
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let comma = matches!(
        language.as_str(),
        "pt" | "it" | "fr" | "de" | "es" | "nl" | "da" | "sv" | "nb" | "fi" | "pl"
    );
    let digits = format!("{:.2}", amount.max(0.0));
    let digits = if comma {
        digits.replace('.', ",")
    } else {
        digits
    };
    match (symbol, comma) {
        ("", _) => format!("{digits} {}", currency.to_ascii_uppercase()),
        (symbol, false) => format!("{symbol}{digits}"),
        (symbol, true) => format!("{digits} {symbol}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(
        profile: &'a Profile,
        page: &'a PageContext,
        settings: &'a Settings,
    ) -> Values<'a> {
        Values {
            profile,
            page,
            settings,
            locale: "en",
        }
    }

    #[test]
    fn values_are_filled_in_with_their_fallbacks() {
        let template =
            Template::parse("Hi {first_name | \"there\"}, {visits} visits. Add {cart.to_free_shipping | \"nothing\"}.")
                .unwrap();
        let mut profile = Profile::new("v");
        profile.sessions = 3;
        profile.cart.push(crate::visitor::profile::CartLine {
            product: rapport_protocol::Product {
                image: None,
                id: "mug".into(),
                name: Some("Mug".into()),
                price: Some(12.5),
                currency: Some("EUR".into()),
                category: None,
                availability: None,
                url: None,
            },
            quantity: 1,
        });
        let page = PageContext {
            url: "/".into(),
            path: "/".into(),
            kind: Some("cart".into()),
            locale: None,
        };
        let settings = Settings {
            free_shipping_from: Some(50.0),
            ..Settings::default()
        };
        assert_eq!(
            template.render(&values(&profile, &page, &settings)),
            "Hi there, 3 visits. Add €37.50."
        );
        profile
            .traits
            .insert("first_name".into(), serde_json::json!("Ana"));
        assert!(template
            .render(&values(&profile, &page, &settings))
            .starts_with("Hi Ana,"));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| Template::parse(text).unwrap_err();
        assert!(err("Hi {{first_name}}").starts_with("`{{first_name}}` would be shown as it is"));
        assert!(err("Hi {frist_name | \"x\"}").contains("did you mean `first_name`?"));
        assert!(err("Hi {first_name}").contains("needs a fallback"));
        assert!(err("Hi {first_name | there}").contains("must be a quoted text"));
        assert!(err("Hi {first_name").contains("never closed"));
        assert_eq!(Template::parse("No values").unwrap().source(), "No values");
    }

    #[test]
    fn money_follows_the_language() {
        assert_eq!(money(12.5, "EUR", "en"), "€12.50");
        assert_eq!(money(12.5, "EUR", "pt-PT"), "12,50 €");
        assert_eq!(money(12.5, "CHF", "en"), "12.50 CHF");
    }
}
