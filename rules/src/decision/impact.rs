//! What publishing a draft would change: the active rulebook and the draft each decide for
//! the same sample of recent visitors, and each experience is counted on both sides.
//!
//! Each sampled visitor is decided for as they were when sampled: on the last page they
//! viewed, at the moment of their latest activity, so that "this session", caps and
//! schedules read the same in both rulebooks. Nothing is recorded.
//!
//! Every experience of the draft is listed, whether it reaches anyone or not. One that would
//! reach no one, or lose at least half of those it reaches now, names its main reason: the
//! draft's trace for its rule, over the visitors it would not reach, most common first
//! (the `who` condition is false: `v.language = "en", needs == "it"`, for 197 of an even
//! spread of 200 visitors; the whole sample when it is smaller).

use std::collections::BTreeMap;

use rapport_protocol::{Decision, PageContext};
use serde::Serialize;

use crate::decision::decide::{decide, decision};
use crate::decision::trace::Outcome;
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
    /// Every experience either rulebook shows to someone in the sample, and every one the
    /// draft has, the most-changed first.
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
    /// Why it would reach no one, or lose at least half its visitors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Why>,
}

/// The main reason an experience would not reach the sample's visitors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    /// The draft's trace line for the experience's rule.
    pub reason: String,
    /// For how many of the visitors looked at (`of`: the whole sample, or an even spread of
    /// [`MAX_EXPLAINED`] of a larger one).
    pub visitors: usize,
    pub of: usize,
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
                            why: None,
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
    // The draft's experiences that reach no one are listed too.
    for rule in draft.outline().rules {
        for shown in rule.experiences {
            let Some(experience) = shown.id else { continue };
            by_experience
                .entry(experience.clone())
                .or_insert_with(|| ExperienceImpact {
                    experience,
                    rule: rule.id.clone(),
                    now: 0,
                    after: 0,
                    gained: 0,
                    lost: 0,
                    why: None,
                });
        }
    }
    explain(draft, sample, &mut by_experience);
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

/// The most visitors the reasons are worked out over.
pub const MAX_EXPLAINED: usize = 200;

/// Names the main reason for each experience that would reach no one or lose at least half
/// its visitors: the most common trace line of its rule among the visitors it would not
/// reach. The explaining decisions run only when some experience needs them.
fn explain(
    draft: &Rulebook,
    sample: &[Sampled],
    experiences: &mut BTreeMap<String, ExperienceImpact>,
) {
    let needs: BTreeMap<String, Vec<String>> = experiences
        .values()
        .filter(|e| e.after == 0 || (e.now > 0 && 2 * e.lost >= e.now))
        .fold(BTreeMap::new(), |mut rules, e| {
            rules
                .entry(e.rule.clone())
                .or_default()
                .push(e.experience.clone());
            rules
        });
    if needs.is_empty() || sample.is_empty() {
        return;
    }
    // A rule the draft no longer has: that is the reason.
    let written: std::collections::BTreeSet<String> =
        draft.rules().map(|r| r.id.to_owned()).collect();
    for (rule, names) in &needs {
        if written.contains(rule) {
            continue;
        }
        for name in names {
            if let Some(experience) = experiences.get_mut(name) {
                experience.why = Some(Why {
                    reason: format!("the draft has no rule \"{rule}\""),
                    visitors: experience.lost,
                    of: sample.len(),
                });
            }
        }
    }
    // Per rule: each reason's count among the visitors the rule did not show to. Explaining
    // costs about four plain decisions, so it runs over an even spread of at most
    // `MAX_EXPLAINED` visitors of the sample, which the answer's `of` says.
    let step = sample.len().div_ceil(MAX_EXPLAINED).max(1);
    let explained: Vec<&Sampled> = sample.iter().step_by(step).collect();
    let mut reasons: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for visitor in &explained {
        let page = last_page(&visitor.profile);
        let report = decide(draft, &visitor.profile, &page, visitor.at_ms);
        for line in &report.trace {
            if line.outcome == Outcome::Matched {
                continue;
            }
            if let Some((rule, _)) = needs.get_key_value(&*line.rule) {
                *reasons
                    .entry(rule.as_str())
                    .or_default()
                    .entry(line.reason.to_string())
                    .or_default() += 1;
            }
        }
    }
    for (rule, names) in &needs {
        let Some(main) = reasons.get(rule.as_str()).and_then(|counts| {
            counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(reason, n)| (reason.clone(), *n))
        }) else {
            continue;
        };
        for name in names {
            if let Some(experience) = experiences.get_mut(name) {
                experience.why = Some(Why {
                    reason: main.0.clone(),
                    visitors: main.1,
                    of: explained.len(),
                });
            }
        }
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
                    image: None,
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
                why: None,
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
                why: None,
            }
        );
    }

    #[test]
    fn an_experience_that_reaches_no_one_is_listed_with_its_main_reason() {
        let active = book(BAR);
        let draft = book(&format!(
            r#"{BAR}
            rule("italian", #{{ who: |v| v.language == "it", priority: 10, show: #{{ id: "ciao-bar",
                kind: "toast", content: #{{ en: #{{ body: "Ciao" }} }} }} }});"#
        ));
        let sample = [
            visitor("a", 0.0, "/"),
            visitor("b", 80.0, "/"),
            visitor("c", 0.0, "/x"),
        ];
        let impact = impact(&active, &draft, &sample);
        let ciao = impact
            .experiences
            .iter()
            .find(|e| e.experience == "ciao-bar")
            .expect("listed though it reaches no one");
        assert_eq!((ciao.now, ciao.after), (0, 0));
        let why = ciao.why.as_ref().expect("a reason");
        assert_eq!((why.visitors, why.of), (3, 3));
        assert_eq!(
            why.reason,
            "the `who` condition is false: v.language = \"\", needs == \"it\""
        );
        let hello = impact
            .experiences
            .iter()
            .find(|e| e.experience == "hello-bar")
            .unwrap();
        assert_eq!(hello.why, None, "it keeps its visitors");
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
        let why = gone.experiences[0]
            .why
            .as_ref()
            .expect("a lost experience says why");
        assert!(why.reason.contains("no rule"), "{why:?}");
        let same = impact(&active, &active, &sample);
        assert_eq!(same.changed, 0);
        let nobody = impact(&active, &active, &[]);
        assert_eq!(
            nobody.experiences.len(),
            1,
            "the draft's experience, at zero"
        );
        assert_eq!(nobody.experiences[0].why, None, "no sample, no reason");
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
