//! `experiment`: variants with weights (one or more may be a control that shows nothing),
//! its seed, coverage and namespace, what the control does, and its primary metric.

use rhai::Dynamic;

use super::{ControlMode, Experiment, Variant, METRICS};
use crate::language::fields::{number, string, valid_name, Fields};

const FIELDS: &[&str] = &[
    "seed",
    "coverage",
    "namespace",
    "variants",
    "control",
    "metric",
];

const EXAMPLE: &str =
    "#{ variants: [#{ id: \"a\", weight: 50, show: ... }, #{ id: \"control\", weight: 50 }] }";

pub(super) fn parse(rule_id: &str, value: Dynamic) -> Result<Experiment, String> {
    let mut experiment = Fields::read(value, "experiment", EXAMPLE, FIELDS)?;
    let metrics: Vec<(&str, &str)> = METRICS.iter().map(|m| (*m, *m)).collect();
    let metric = experiment
        .choice(
            "metric",
            &metrics,
            "\"conversion\" (the default), \"revenue\", \"clicks\" or \"score\"",
        )?
        .unwrap_or(METRICS[0])
        .to_owned();
    let control = experiment
        .choice(
            "control",
            &[
                ("falls_through", ControlMode::FallsThrough),
                ("holds", ControlMode::Holds),
            ],
            "\"falls_through\" (lower rules may show) or \"holds\" (the placement stays empty)",
        )?
        .unwrap_or(ControlMode::FallsThrough);
    let seed = experiment
        .string("seed")?
        .unwrap_or_else(|| rule_id.to_owned());
    let coverage = experiment.number("coverage", 0.0, 1.0)?.unwrap_or(1.0);
    let namespace = experiment.take("namespace").map(namespace).transpose()?;
    let variants = experiment
        .take("variants")
        .ok_or("`experiment.variants` is missing")?
        .try_cast::<rhai::Array>()
        .ok_or("`experiment.variants` must be a list of variants")?;
    if variants.len() < 2 {
        return Err("`experiment.variants` needs at least two variants".into());
    }
    let mut parsed: Vec<Variant> = Vec::with_capacity(variants.len());
    let mut written_weights = Vec::with_capacity(variants.len());
    for (index, variant) in variants.into_iter().enumerate() {
        let (variant, weight) = parse_variant(rule_id, index, variant)?;
        if parsed.iter().any(|v| v.id == variant.id) {
            return Err(format!("variant \"{}\" is defined twice", variant.id));
        }
        written_weights.push(weight);
        parsed.push(variant);
    }
    if parsed.iter().all(|v| v.show.is_none()) {
        return Err("every variant is a control: at least one needs `show`".into());
    }
    let total: f64 = written_weights.iter().sum();
    Ok(Experiment {
        seed,
        coverage,
        namespace,
        weights: written_weights.iter().map(|w| w / total).collect(),
        written_weights,
        control,
        variants: parsed,
        metric,
    })
}

/// `[name, start, end]`: the share of a namespace the experiment uses.
fn namespace(written: Dynamic) -> Result<(String, f64, f64), String> {
    let help =
        "`experiment.namespace` must be [name, start, end], such as [\"checkout\", 0.0, 0.5]";
    let parts = written.try_cast::<rhai::Array>().ok_or(help)?;
    if parts.len() != 3 {
        return Err(help.into());
    }
    let name = string(parts[0].clone(), "experiment.namespace[0]")?;
    let start = number(&parts[1], "experiment.namespace[1]", 0.0, 1.0)?;
    let end = number(&parts[2], "experiment.namespace[2]", 0.0, 1.0)?;
    if end <= start {
        return Err(help.into());
    }
    Ok((name, start, end))
}

/// Variant `index`: its id, what it shows (nothing for a control), and its weight as written.
fn parse_variant(rule_id: &str, index: usize, written: Dynamic) -> Result<(Variant, f64), String> {
    let path = format!("experiment.variants[{index}]");
    let mut variant = Fields::read(
        written,
        &path,
        "#{ id: \"a\", weight: 50, show: ... }",
        &["id", "weight", "show"],
    )?;
    let id = string(variant.require("id")?, &format!("{path}.id"))?;
    let id = valid_name(id, &format!("{path}.id"))?;
    let weight = number(
        &variant.require("weight")?,
        &format!("{path}.weight"),
        0.0,
        1_000_000.0,
    )?;
    if weight <= 0.0 {
        return Err(format!("`{path}.weight` must be above 0"));
    }
    let show = variant
        .take("show")
        .map(|s| {
            super::show::parse(
                format!("{rule_id}-{id}"),
                s,
                &format!("{path}.show"),
                "#{ kind: ..., content: ... }",
            )
        })
        .transpose()?;
    Ok((Variant { id, show }, weight))
}
