//! The rulebook-wide settings, from `settings(#{ ... })`: the default locale, the universal
//! holdout, the fatigue budget, the shop's page kinds, currency and free-shipping threshold,
//! and the attribution window.

use rhai::Map;

use crate::language::fields::Fields;

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
    /// Page kinds the shop uses besides the standard ones (`rulebook::lint::PAGE_KINDS`).
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

const FIELDS: &[&str] = &[
    "default_locale",
    "holdout",
    "holdout_seed",
    "fatigue",
    "page_kinds",
    "free_shipping_from",
    "currency",
    "attribution_days",
];

const FATIGUE: &[&str] = &[
    "overlays_per_page",
    "prompts_per_session",
    "quiet_minutes_after_dismiss",
];

impl Settings {
    /// Reads `settings(#{ ... })`: what is not given keeps its default.
    pub(crate) fn parse(value: Map) -> Result<Settings, String> {
        let mut fields = Fields::top(value, "settings", FIELDS)?;
        let defaults = Settings::default();
        let free_shipping_from = fields.number("free_shipping_from", 0.0, 1e9)?;
        let currency = match fields.string("currency")? {
            None => defaults.currency,
            Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => code,
            Some(code) => {
                return Err(format!(
                    "`currency` must be a currency code such as \"EUR\", not \"{code}\""
                ))
            }
        };
        let mut settings = Settings {
            free_shipping_from,
            currency,
            attribution_days: fields
                .whole("attribution_days", 1, 90)?
                .unwrap_or(defaults.attribution_days),
            page_kinds: fields.strings("page_kinds")?.unwrap_or_default(),
            default_locale: fields
                .string("default_locale")?
                .unwrap_or(defaults.default_locale),
            holdout_percent: fields
                .number("holdout", 0.0, 100.0)?
                .unwrap_or(defaults.holdout_percent),
            holdout_seed: fields
                .string("holdout_seed")?
                .unwrap_or(defaults.holdout_seed),
            ..defaults
        };
        let example = "#{ prompts_per_session: 3, quiet_minutes_after_dismiss: 30 }";
        if let Some(mut fatigue) = fields.map("fatigue", example, FATIGUE)? {
            let d = &settings;
            settings = Settings {
                overlays_per_page: fatigue
                    .whole("overlays_per_page", 0, 1)?
                    .unwrap_or(d.overlays_per_page),
                prompts_per_session: fatigue
                    .whole("prompts_per_session", 0, 100)?
                    .unwrap_or(d.prompts_per_session),
                quiet_minutes_after_dismiss: fatigue
                    .whole("quiet_minutes_after_dismiss", 0, 7 * 24 * 60)?
                    .unwrap_or(d.quiet_minutes_after_dismiss),
                ..settings
            };
        }
        Ok(settings)
    }
}
