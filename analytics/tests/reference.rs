//! The statistics reproduce published reference values: GrowthBook's gbstats test vectors
//! to 5 decimals, and the NPS and CSAT intervals MeasuringU publishes. The values are in
//! `reference.json`, copied from their sources; nothing here comes from our own output.

use rapport_analytics::stats::{self, Correction, Interval, Kind, Moments, NoEffect, Scale};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Reference {
    experiments: Vec<Case>,
    nps: Vec<NpsCase>,
    csat: Vec<CsatCase>,
    corrections: Vec<CorrectionCase>,
}

#[derive(Deserialize)]
struct CorrectionCase {
    p_values: Vec<f64>,
    #[serde(default)]
    holm: Option<Vec<f64>>,
    #[serde(default)]
    benjamini_hochberg: Option<Vec<f64>>,
    decimals: i32,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    kind: String,
    scale: String,
    interval: String,
    #[serde(default)]
    tuning: Option<f64>,
    a: Arm,
    b: Arm,
    expected: Expected,
}

#[derive(Deserialize)]
struct Arm {
    n: f64,
    sum: f64,
    sum_squares: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Expected {
    Values(BTreeMap<String, f64>),
    Error(String),
}

#[derive(Deserialize)]
struct NpsCase {
    promoters: f64,
    passives: f64,
    detractors: f64,
    expected: BTreeMap<String, f64>,
    decimals: i32,
}

#[derive(Deserialize)]
struct CsatCase {
    satisfied: f64,
    answers: f64,
    expected: BTreeMap<String, f64>,
    decimals: i32,
}

fn reference() -> Reference {
    let text = include_str!("reference.json");
    serde_json::from_str(text).expect("reference.json reads")
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    // -0.0 and 0.0 compare equal, as they should.
    (x * scale).round() / scale
}

fn check(name: &str, got: &BTreeMap<&str, f64>, expected: &BTreeMap<String, f64>, decimals: i32) {
    for (field, want) in expected {
        let value = got[field.as_str()];
        assert_eq!(
            round(value, decimals),
            round(*want, decimals),
            "{name}: {field} is {value}, expected {want}"
        );
    }
}

#[test]
fn experiments_match_gbstats_to_five_decimals() {
    let cases = reference().experiments;
    assert!(cases.len() >= 8);
    for case in cases {
        let kind = match case.kind.as_str() {
            "proportion" => Kind::Proportion,
            _ => Kind::Mean,
        };
        let scale = match case.scale.as_str() {
            "absolute" => Scale::Absolute,
            _ => Scale::Relative,
        };
        let interval = match case.interval.as_str() {
            "sequential" => Interval::Sequential {
                tuning: case.tuning.expect("a sequential case names its tuning"),
            },
            _ => Interval::Fixed,
        };
        let moments = |arm: &Arm| Moments {
            n: arm.n,
            sum: arm.sum,
            sum_squares: arm.sum_squares,
        };
        let result = stats::compare(
            moments(&case.a),
            moments(&case.b),
            kind,
            scale,
            interval,
            0.05,
        );
        match (&case.expected, result) {
            (Expected::Values(expected), Ok(effect)) => {
                let got = BTreeMap::from([
                    ("estimate", effect.estimate),
                    ("standard_error", effect.standard_error),
                    ("ci_low", effect.ci_low),
                    ("ci_high", effect.ci_high),
                    ("p_value", effect.p_value),
                ]);
                check(&case.name, &got, expected, 5);
            }
            (Expected::Error(error), Err(no)) => {
                assert_eq!(error, "zero_variance", "{}", case.name);
                assert_eq!(no, NoEffect::ZeroVariance, "{}", case.name);
            }
            (expected, result) => panic!(
                "{}: expected {}, got {result:?}",
                case.name,
                match expected {
                    Expected::Values(_) => "values",
                    Expected::Error(e) => e,
                }
            ),
        }
    }
}

#[test]
fn nps_intervals_match_the_adjusted_wald_reference() {
    for case in reference().nps {
        let e = stats::nps(case.promoters, case.passives, case.detractors).unwrap();
        let got = BTreeMap::from([
            ("value", e.value),
            ("ci_low", e.ci_low),
            ("ci_high", e.ci_high),
        ]);
        check("nps", &got, &case.expected, case.decimals);
    }
}

#[test]
fn csat_intervals_match_the_wilson_reference() {
    for case in reference().csat {
        let e = stats::wilson(case.satisfied, case.answers).unwrap();
        let got = BTreeMap::from([
            ("value", e.value),
            ("ci_low", e.ci_low),
            ("ci_high", e.ci_high),
        ]);
        check("csat", &got, &case.expected, case.decimals);
    }
}

#[test]
fn adjusted_p_values_match_r() {
    let cases = reference().corrections;
    assert!(!cases.is_empty());
    for case in cases {
        for (correction, expected) in [
            (Correction::Holm, &case.holm),
            (Correction::BenjaminiHochberg, &case.benjamini_hochberg),
        ] {
            let Some(expected) = expected else { continue };
            let got: Vec<f64> = stats::adjust(&case.p_values, correction)
                .iter()
                .map(|p| round(*p, case.decimals))
                .collect();
            let want: Vec<f64> = expected.iter().map(|p| round(*p, case.decimals)).collect();
            assert_eq!(got, want, "{correction:?} of {:?}", case.p_values);
        }
    }
}
