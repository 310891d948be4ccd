//! Where a visitor falls: in an experiment's arms (GrowthBook's assignment: the namespace
//! first, then the bucket against the variants' ranges), and in the universal holdout.

use rapport_protocol::{ExperienceRef, PROGRAMME};
use serde::Serialize;

use crate::bucket::{bucket, bucket_ranges, choose_variant, in_namespace};
use crate::language::rulebook::Rulebook;
use crate::language::spec::{Experiment, Show};
use crate::visitor::profile::Profile;

/// Where a visitor id falls in an experiment.
pub(crate) enum Arm<'a> {
    /// Outside the experiment's namespace (named), at this bucket.
    OutsideNamespace(&'a str, f64),
    /// In the namespace, at this bucket, but outside the experiment's coverage.
    OutsideCoverage(f64),
    /// At this bucket, in variant `index`.
    In(f64, usize),
}

/// GrowthBook's assignment: the namespace first, then the bucket against the variants' ranges.
pub(crate) fn arm_of<'a>(experiment: &'a Experiment, visitor_id: &str) -> Arm<'a> {
    let n = bucket(&experiment.seed, visitor_id);
    if let Some((name, start, end)) = &experiment.namespace {
        if !in_namespace(visitor_id, name, *start, *end) {
            return Arm::OutsideNamespace(name, n);
        }
    }
    match choose_variant(n, &bucket_ranges(&experiment.weights, experiment.coverage)) {
        Some(index) => Arm::In(n, index),
        None => Arm::OutsideCoverage(n),
    }
}

/// Where a visitor id falls in a rule's experiment: what `rapport bucket` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// 0 to 1, GrowthBook's hash of the seed and the visitor id.
    pub bucket: f64,
    /// The variant, or `None` outside the experiment's namespace or coverage.
    pub variant: Option<String>,
    /// Whether that variant is a control (it shows nothing).
    pub control: bool,
    /// Each variant with its share, in order.
    pub shares: Vec<(String, f64)>,
}

/// The experiment arm of `visitor_id` in rule `rule_id`, whoever the visitor is otherwise.
pub fn assignment(book: &Rulebook, rule_id: &str, visitor_id: &str) -> Result<Assignment, String> {
    let experiment = book.experiment(rule_id)?;
    let (n, index) = match arm_of(experiment, visitor_id) {
        Arm::OutsideNamespace(_, n) | Arm::OutsideCoverage(n) => (n, None),
        Arm::In(n, index) => (n, Some(index)),
    };
    Ok(Assignment {
        bucket: n,
        variant: index.map(|i| experiment.variants[i].id.clone()),
        control: index.is_some_and(|i| experiment.variants[i].show.is_none()),
        shares: experiment
            .variants
            .iter()
            .zip(&experiment.weights)
            .map(|(v, w)| (v.id.clone(), *w))
            .collect(),
    })
}

/// What a programme arm's exposure names: the programme, the arm, and (as its experience)
/// the arm and the experience it stands for, so that each is armed on the page apart.
pub(crate) fn programme_ref(arm: &str, show: &Show) -> ExperienceRef {
    ExperienceRef {
        rule: PROGRAMME.to_owned(),
        experience: format!("{arm}:{}", show.experience),
        variant: Some(arm.to_owned()),
        segment: None,
    }
}

/// Whether the visitor is in the universal holdout (`settings.holdout`): never shown a
/// personalised experience, so that the programme as a whole can be measured.
pub fn in_holdout(book: &Rulebook, profile: &Profile) -> bool {
    let percent = book.settings.holdout_percent;
    percent > 0.0 && bucket(&book.settings.holdout_seed, &profile.visitor_id) * 100.0 < percent
}
