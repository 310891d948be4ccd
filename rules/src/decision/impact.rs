//! What publishing a draft would change: the active rulebook and the draft each decide for
//! the same sample of recent visitors, and each experience is counted on both sides.
//!
//! Each sampled visitor is decided for as they were when sampled: on the last page they
//! viewed, at the moment of their latest activity, so that "this session", caps and
//! schedules read the same in both rulebooks. Nothing is recorded.

use std::collections::BTreeMap;

use rapport_protocol::{Decision, PageContext};
use serde::Serialize;

use crate::decision::decide::decision;
use crate::language::rulebook::Rulebook;
use crate::visitor::profile::Profile;

/// A visitor in the sample, as their visitor object last wrote it.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub profile: Profile,
    /// When the profile was sampled (the visitor's latest activity), in ms.
    pub at_ms: i64,
}

/// The sample's answer under both rulebooks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// Visitors in the sample.
    pub visitors: usize,
    /// Visitors whose experiences (or arm) would change with the draft.
    pub changed: usize,
    /// Every experience either rulebook shows to someone in the sample, the most-changed
    /// first.
    pub experiences: Vec<ExperienceImpact>,
}

/// How many sampled visitors one experience reaches now and after publishing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperienceImpact {
    pub experience: String,
    pub rule: String,
    /// Visitors the active rulebook shows it to.
    pub now: usize,
    /// Visitors the draft would show it to.
    pub after: usize,
    /// Visitors who would start or stop seeing it.
    pub gained: usize,
    pub lost: usize,
}

/// The page the visitor last viewed (the home page when they have viewed none).
pub fn last_page(profile: &Profile) -> PageContext {
    let (path, kind) = profile
        .recent_pages
        .front()
        .map(|p| (p.path.clone(), p.kind.clone()))
        .unwrap_or_else(|| ("/".to_owned(), None));
    PageContext {
        url: path.clone(),
        path,
        kind,
        locale: profile.locale.clone(),
    }
}

/// What each experience shown means for counting: its id, rule and arm.
type Shown = BTreeMap<String, (String, Option<String>)>;

fn shown(decision: &Decision) -> Shown {
    decision
        .experiences
        .iter()
        .map(|e| (e.experience.clone(), (e.rule.clone(), e.variant.clone())))
        .collect()
}

/// Runs `active` and `draft` over `sample`.
pub fn impact(active: &Rulebook, draft: &Rulebook, sample: &[Sampled]) -> Impact {
    let mut by_experience: BTreeMap<String, ExperienceImpact> = BTreeMap::new();
    let mut changed = 0;
    for visitor in sample {
        let page = last_page(&visitor.profile);
        let now = shown(&decision(active, &visitor.profile, &page, visitor.at_ms).decision);
        let after = shown(&decision(draft, &visitor.profile, &page, visitor.at_ms).decision);
        if now != after {
            changed += 1;
        }
        for (side, shows, other) in [(true, &now, &after), (false, &after, &now)] {
            for (experience, (rule, _)) in shows {
                let entry =
                    by_experience
                        .entry(experience.clone())
                        .or_insert_with(|| ExperienceImpact {
                            experience: experience.clone(),
                            rule: rule.clone(),
                            now: 0,
                            after: 0,
                            gained: 0,
                            lost: 0,
                        });
                let elsewhere = other.contains_key(experience);
                if side {
                    entry.now += 1;
                    entry.lost += usize::from(!elsewhere);
                } else {
                    // The draft's rule wins the label: it is what the console will publish.
                    entry.rule.clone_from(rule);
                    entry.after += 1;
                    entry.gained += usize::from(!elsewhere);
                }
            }
        }
    }
    let mut experiences: Vec<ExperienceImpact> = by_experience.into_values().collect();
    experiences.sort_by(|a, b| {
        (b.gained + b.lost)
            .cmp(&(a.gained + a.lost))
            .then(b.after.cmp(&a.after))
            .then(a.experience.cmp(&b.experience))
    });
    Impact {
        visitors: sample.len(),
        changed,
        experiences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::rulebook::SourceFile;
    use crate::visitor::profile::PageVisit;

    const NOW: i64 = 1_800_000_000_000;

    fn book(rules: &str) -> Rulebook {
        Rulebook::compile(&[
            SourceFile::new(
                "segments.rhai",
                r#"segment("big_cart", |v| v.cart.value >= 50.0);"#,
            ),
            SourceFile::new("rules.rhai", rules),
        ])
        .unwrap_or_else(|errors| panic!("{errors:?}"))
    }

    const BAR: &str = r#"rule("hello", #{ show: #{ id: "hello-bar",
        kind: "bar", content: #{ en: #{ body: "Hello" } } } });"#;

    fn visitor(id: &str, cart_value: f64, path: &str) -> Sampled {
        let mut profile = Profile::new(id);
        profile.recent_pages.push_front(PageVisit {
            path: path.into(),
            kind: Some("home".into()),
            at_ms: NOW,
        });
        if cart_value > 0.0 {
            profile.cart.push(crate::visitor::profile::CartLine {
                product: rapport_protocol::Product {
                    id: "p".into(),
                    name: None,
                    price: Some(cart_value),
                    currency: Some("EUR".into()),
                    category: None,
                    availability: None,
                    url: None,
                },
                quantity: 1,
            });
        }
        Sampled {
            profile,
            at_ms: NOW,
        }
    }

    #[test]
    fn each_experience_is_counted_now_and_after_publishing() {
        let active = book(BAR);
        let draft = book(&format!(
            r#"{BAR}
            rule("big", #{{ who: "big_cart", priority: 10, show: #{{ id: "big-toast",
                kind: "toast", content: #{{ en: #{{ body: "Free shipping" }} }} }} }});"#
        ));
        let sample = [
            visitor("a", 0.0, "/"),
            visitor("b", 80.0, "/"),
            visitor("c", 60.0, "/products/mug"),
        ];
        let impact = impact(&active, &draft, &sample);
        assert_eq!(impact.visitors, 3);
        assert_eq!(impact.changed, 2, "b and c gain the toast");
        assert_eq!(
            impact.experiences[0],
            ExperienceImpact {
                experience: "big-toast".into(),
                rule: "big".into(),
                now: 0,
                after: 2,
                gained: 2,
                lost: 0,
            }
        );
        assert_eq!(
            impact.experiences[1],
            ExperienceImpact {
                experience: "hello-bar".into(),
                rule: "hello".into(),
                now: 3,
                after: 3,
                gained: 0,
                lost: 0,
            }
        );
    }

    #[test]
    fn a_removed_rule_loses_its_visitors_and_the_same_book_changes_nothing() {
        let active = book(BAR);
        let empty = book(
            r#"rule("quiet", #{ who: "big_cart", show: #{ id: "q",
            kind: "toast", content: #{ en: #{ body: "q" } } } });"#,
        );
        let sample = [visitor("a", 0.0, "/"), visitor("b", 0.0, "/")];
        let gone = impact(&active, &empty, &sample);
        assert_eq!(gone.changed, 2);
        assert_eq!((gone.experiences[0].now, gone.experiences[0].after), (2, 0));
        assert_eq!(gone.experiences[0].lost, 2);
        let same = impact(&active, &active, &sample);
        assert_eq!(same.changed, 0);
        assert!(impact(&active, &active, &[]).experiences.is_empty());
    }

    #[test]
    fn the_last_page_viewed_is_the_page_decided_for() {
        let mut profile = visitor("a", 0.0, "/first").profile;
        profile.recent_pages.push_front(PageVisit {
            path: "/products/mug".into(),
            kind: Some("product".into()),
            at_ms: NOW,
        });
        profile.locale = Some("it".into());
        let page = last_page(&profile);
        assert_eq!(page.path, "/products/mug");
        assert_eq!(page.kind.as_deref(), Some("product"));
        assert_eq!(page.locale.as_deref(), Some("it"));
        assert_eq!(last_page(&Profile::new("x")).path, "/");
    }
}
