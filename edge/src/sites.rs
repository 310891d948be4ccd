//! The sites this edge serves, and for each the web origins allowed to call it from a browser.
//!
//! Configured by the `SITES` variable: a JSON object
//! `{"demo": {"origins": ["https://shop.example"]}}`, or simply a comma-separated list of site
//! keys (same-origin pages only). A page on the edge's own origin may always call it.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sites(BTreeMap<String, Vec<String>>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteConfig {
    #[serde(default)]
    origins: Vec<String>,
}

impl Sites {
    pub fn parse(text: &str) -> Result<Sites, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let sites: BTreeMap<String, SiteConfig> =
                serde_json::from_str(text).map_err(|e| format!("SITES: {e}"))?;
            return Ok(Sites(
                sites
                    .into_iter()
                    .map(|(key, config)| {
                        let origins = config
                            .origins
                            .iter()
                            .map(|o| o.trim_end_matches('/').to_owned())
                            .collect();
                        (key, origins)
                    })
                    .collect(),
            ));
        }
        Ok(Sites(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| (s.to_owned(), Vec::new()))
                .collect(),
        ))
    }

    /// Each site key with the origins of its shop's pages.
    pub fn list(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0
            .iter()
            .map(|(site, origins)| (site.as_str(), origins.as_slice()))
    }

    pub fn serves(&self, site: &str) -> bool {
        self.0.contains_key(site)
    }

    /// Whether a page on `origin` may use `site`'s key.
    pub fn allows(&self, site: &str, origin: &str) -> bool {
        self.0
            .get(site)
            .is_some_and(|origins| origins.iter().any(|o| o == origin))
    }

    /// Whether any site allows `origin` (for preflights, which do not say the site).
    pub fn any_allows(&self, origin: &str) -> bool {
        self.0.values().flatten().any(|o| o == origin)
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
    }
}
