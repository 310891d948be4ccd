//! The sites this edge serves, and for each the web origins allowed to call it from a browser.
//!
//! Configured by the `SITES` variable: a JSON object
//! `{"demo": {"origins": ["https://shop.example"], "consent": "opt-in"}}`, or simply a
//! comma-separated list of site keys (same-origin pages only, no consent required). A page on
//! the edge's own origin may always call it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sites(BTreeMap<String, Site>);

/// One site's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Site {
    /// The web origins, besides the edge's own, whose pages may use the site's key.
    #[serde(default)]
    origins: Vec<String>,
    #[serde(default)]
    consent: ConsentMode,
}

/// Whether the site's shoppers are recorded before they consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentMode {
    /// Recorded unless they refuse (or their browser sends a privacy signal).
    #[default]
    OptOut,
    /// Nothing is stored, sent or recorded until the site passes consent to analytics: the
    /// GDPR's and ePrivacy's default, which an EU shop needs. The edge enforces it too, so a
    /// page without `data-consent="required"` cannot leak.
    OptIn,
}

impl Sites {
    pub fn parse(text: &str) -> Result<Sites, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let sites: BTreeMap<String, Site> =
                serde_json::from_str(text).map_err(|e| format!("SITES: {e}"))?;
            return Ok(Sites(
                sites
                    .into_iter()
                    .map(|(key, mut site)| {
                        for origin in &mut site.origins {
                            origin.truncate(origin.trim_end_matches('/').len());
                        }
                        (key, site)
                    })
                    .collect(),
            ));
        }
        Ok(Sites(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| (s.to_owned(), Site::default()))
                .collect(),
        ))
    }

    /// Each site key with the origins of its shop's pages.
    pub fn list(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0
            .iter()
            .map(|(key, site)| (key.as_str(), site.origins.as_slice()))
    }

    /// Whether `site` records shoppers only once they consent (`"consent": "opt-in"`).
    pub fn consent(&self, site: &str) -> ConsentMode {
        self.0.get(site).map(|s| s.consent).unwrap_or_default()
    }

    pub fn serves(&self, site: &str) -> bool {
        self.0.contains_key(site)
    }

    /// Whether a page on `origin` may use `site`'s key.
    pub fn allows(&self, site: &str, origin: &str) -> bool {
        self.0
            .get(site)
            .is_some_and(|s| s.origins.iter().any(|o| o == origin))
    }

    /// Whether any site allows `origin` (for preflights, which do not say the site).
    pub fn any_allows(&self, origin: &str) -> bool {
        self.0
            .values()
            .flat_map(|s| &s.origins)
            .any(|o| o == origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_config_lists_origins_per_site() {
        let sites =
            Sites::parse(r#"{"demo": {"origins": ["https://shop.example/"]}, "b": {}}"#).unwrap();
        assert!(sites.serves("demo") && sites.serves("b") && !sites.serves("c"));
        assert!(sites.allows("demo", "https://shop.example"));
        assert!(!sites.allows("b", "https://shop.example"));
        assert!(sites.any_allows("https://shop.example"));
        assert!(!sites.any_allows("https://evil.example"));
    }

    #[test]
    fn a_plain_list_serves_same_origin_pages_only() {
        let sites = Sites::parse("demo, other").unwrap();
        assert!(sites.serves("other"));
        assert!(!sites.any_allows("https://shop.example"));
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(Sites::parse(r#"{"demo": {"origin": []}}"#).is_err());
        assert!(Sites::parse(r#"{"demo": {"consent": "required"}}"#).is_err());
    }

    #[test]
    fn consent_is_opt_out_unless_the_site_says_opt_in() {
        let sites =
            Sites::parse(r#"{"eu": {"consent": "opt-in"}, "us": {"consent": "opt-out"}, "b": {}}"#)
                .unwrap();
        assert_eq!(sites.consent("eu"), ConsentMode::OptIn);
        assert_eq!(sites.consent("us"), ConsentMode::OptOut);
        assert_eq!(sites.consent("b"), ConsentMode::OptOut);
        assert_eq!(
            Sites::parse("demo").unwrap().consent("demo"),
            ConsentMode::OptOut
        );
    }
}
