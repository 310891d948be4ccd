//! A compiled rulebook's outline, for people browsing it (the console's workspace): each
//! segment and rule with where it is written, and what each rule shows to whom.

use rapport_protocol::ExperienceKind;
use serde::Serialize;

use crate::language::rulebook::Rulebook;
use crate::language::spec::{Offer, Show, Who};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outline {
    pub segments: Vec<SegmentOutline>,
    /// Highest priority first, as they decide.
    pub rules: Vec<RuleOutline>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentOutline {
    pub name: String,
    pub file: String,
    pub line: usize,
    /// The rules whose `who` names it.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOutline {
    pub id: String,
    pub description: String,
    pub file: String,
    pub line: usize,
    pub priority: i64,
    pub enabled: bool,
    /// Its segments joined by `+`, `everyone`, or `custom` for a condition.
    pub audience: String,
    /// The page kinds it is limited to (none: every page).
    pub pages: Vec<String>,
    pub experiment: bool,
    /// What it shows: one experience, or an experiment's arms (a control shows none).
    pub experiences: Vec<ExperienceOutline>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperienceOutline {
    /// `None` for an experiment's control.
    pub id: Option<String>,
    pub kind: Option<ExperienceKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// An arm's share of the experiment's visitors, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

fn shown(show: Option<&Show>, variant: Option<&str>, weight: Option<f64>) -> ExperienceOutline {
    ExperienceOutline {
        id: show.map(|s| s.experience.clone()),
        kind: show.map(|s| s.kind),
        variant: variant.map(str::to_owned),
        weight,
    }
}

impl Rulebook {
    /// Every segment and rule, with its file and line.
    pub fn outline(&self) -> Outline {
        let rules: Vec<RuleOutline> = self
            .rules
            .iter()
            .map(|rule| RuleOutline {
                id: rule.id.clone(),
                description: rule.description.clone(),
                file: rule.file.clone(),
                line: rule.position.line().unwrap_or(1),
                priority: rule.priority,
                enabled: rule.enabled,
                audience: rule.who.label(),
                pages: rule.pages.clone(),
                experiment: matches!(rule.offer, Offer::Experiment(_)),
                experiences: match &rule.offer {
                    Offer::Show(show) => vec![shown(Some(show), None, None)],
                    Offer::Experiment(e) => e
                        .variants
                        .iter()
                        .zip(&e.weights)
                        .map(|(v, w)| shown(v.show.as_ref(), Some(&v.id), Some(*w)))
                        .collect(),
                },
            })
            .collect();
        let segments = self
            .segments
            .iter()
            .map(|segment| SegmentOutline {
                name: segment.name.clone(),
                file: segment.file.clone(),
                line: segment.position.line().unwrap_or(1),
                rules: self
                    .rules
                    .iter()
                    .filter(
                        |r| matches!(&r.who, Who::Segments(names) if names.contains(&segment.name)),
                    )
                    .map(|r| r.id.clone())
                    .collect(),
            })
            .collect();
        Outline { segments, rules }
    }
}

#[cfg(test)]
mod tests {
    use crate::language::rulebook::{Rulebook, SourceFile};

    #[test]
    fn the_outline_places_each_segment_and_rule_and_what_it_shows() {
        let book = Rulebook::compile(&[
            SourceFile::new(
                "segments.rhai",
                "segment(\"phone\", |v| v.device == \"mobile\");\n",
            ),
            SourceFile::new(
                "welcome.rhai",
                r#"
rule("welcome", #{
    who: "phone",
    page: "home",
    experiment: #{ seed: "w", variants: [
        #{ id: "control", weight: 50 },
        #{ id: "story", weight: 50, show: #{ id: "welcome-story", kind: "bar",
            content: #{ en: #{ body: "Hi" } } } },
    ] },
});
"#,
            ),
        ])
        .unwrap_or_else(|errors| panic!("{errors:?}"));
        let outline = book.outline();
        assert_eq!(outline.segments.len(), 1);
        assert_eq!(outline.segments[0].name, "phone");
        assert_eq!(outline.segments[0].line, 1);
        assert_eq!(outline.segments[0].rules, vec!["welcome".to_owned()]);
        let rule = &outline.rules[0];
        assert_eq!((rule.file.as_str(), rule.line), ("welcome.rhai", 2));
        assert_eq!(rule.audience, "phone");
        assert_eq!(rule.pages, vec!["home".to_owned()]);
        assert!(rule.experiment);
        assert_eq!(rule.experiences.len(), 2);
        assert_eq!(rule.experiences[0].id, None, "the control shows nothing");
        assert_eq!(rule.experiences[1].id.as_deref(), Some("welcome-story"));
        assert_eq!(rule.experiences[1].weight, Some(0.5));
        let json = serde_json::to_value(&outline).unwrap();
        assert_eq!(json["rules"][0]["experiences"][1]["kind"], "bar");
    }
}
