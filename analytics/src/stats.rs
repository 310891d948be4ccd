//! Experiment statistics from sufficient statistics, as GrowthBook's `gbstats` computes them
//! (frequentist engine): Welch's t-test on the relative or absolute difference of two arms'
//! means, with the delta method for the relative lift, optional always-valid (sequential)
//! intervals, and the sample-ratio-mismatch check. Pure: no I/O, no clock.
//!
//! Sources (docs/analytics.md has the formulas): GrowthBook `gbstats` `frequentist/tests.py`
//! and `models/tests.py`; Waudby-Smith et al., "Time-uniform central limit theory and
//! asymptotic confidence sequences" (arXiv 2103.06476), eq. 9 and 155.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, StudentsT};

/// One arm's sufficient statistics for one metric: visitors, and the sum and sum of squares
/// of the metric's per-visitor values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Moments {
    pub n: f64,
    pub sum: f64,
    pub sum_squares: f64,
}

/// How a metric's per-visitor values vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 0 or 1 per visitor (converted or not): variance p(1 − p).
    Proportion,
    /// Any number per visitor (revenue, clicks, a score): the sample variance.
    Mean,
}

/// Which difference between the arms is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// (μB − μA) / |μA|.
    Relative,
    /// μB − μA.
    Absolute,
}

/// The kind of interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Interval {
    /// A fixed-horizon interval: valid when read once, at the planned end.
    Fixed,
    /// An always-valid interval (a confidence sequence): valid however often it is read.
    /// `tuning` is the total sample size it is tightest at (GrowthBook's default: 5,000).
    Sequential { tuning: f64 },
}

impl Interval {
    pub const DEFAULT_SEQUENTIAL: Interval = Interval::Sequential { tuning: 5_000.0 };
}

/// The estimated difference of treatment B over control A.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    pub estimate: f64,
    pub standard_error: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub degrees_of_freedom: f64,
}

/// Why no effect can be estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoEffect {
    /// An arm has fewer than two visitors, or its values do not vary.
    ZeroVariance,
    /// The control's mean is zero, so a relative lift has no meaning.
    ZeroBaseline,
}

impl NoEffect {
    pub fn words(self) -> &'static str {
        match self {
            NoEffect::ZeroVariance => "an arm has too few visitors, or all of them alike",
            NoEffect::ZeroBaseline => "the control's average is zero",
        }
    }
}

impl Moments {
    pub fn mean(&self) -> f64 {
        if self.n > 0.0 {
            self.sum / self.n
        } else {
            0.0
        }
    }

    /// The per-visitor variance: p(1 − p) for a proportion, the sample variance otherwise.
    pub fn variance(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Proportion => {
                let p = self.mean();
                p * (1.0 - p)
            }
            Kind::Mean if self.n > 1.0 => {
                (self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1.0)
            }
            Kind::Mean => 0.0,
        }
    }

    /// Adds another row's statistics.
    pub fn add(&mut self, other: Moments) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
    }
}

/// The difference of `b` over `a` at 95% (`alpha` 0.05), as gbstats' two-sided t-test (or its
/// sequential form) gives it.
pub fn compare(
    a: Moments,
    b: Moments,
    kind: Kind,
    scale: Scale,
    interval: Interval,
    alpha: f64,
) -> Result<Effect, NoEffect> {
    let (var_a, var_b) = (a.variance(kind), b.variance(kind));
    if a.n < 2.0 || b.n < 2.0 || var_a <= 0.0 || var_b <= 0.0 {
        return Err(NoEffect::ZeroVariance);
    }
    let (mean_a, mean_b) = (a.mean(), b.mean());
    // (gbstats gives no result for a zero baseline on either scale; a difference from
    // zero is still a difference, so only the relative lift is refused here.)
    if mean_a == 0.0 && scale == Scale::Relative {
        return Err(NoEffect::ZeroBaseline);
    }
    let (estimate, variance) = match scale {
        Scale::Absolute => (mean_b - mean_a, var_a / a.n + var_b / b.n),
        // The delta method, arms independent.
        Scale::Relative => (
            (mean_b - mean_a) / mean_a.abs(),
            var_b / (mean_a * mean_a * b.n) + var_a * mean_b * mean_b / (mean_a.powi(4) * a.n),
        ),
    };
    if variance <= 0.0 || !variance.is_finite() {
        return Err(NoEffect::ZeroVariance);
    }
    let se = variance.sqrt();
    // Welch–Satterthwaite, from the absolute-scale variances even for the relative lift.
    let dof = (var_b / b.n + var_a / a.n).powi(2)
        / (var_b.powi(2) / (b.n.powi(2) * (b.n - 1.0))
            + var_a.powi(2) / (a.n.powi(2) * (a.n - 1.0)));
    let (half, p_value) = match interval {
        Interval::Fixed => {
            let t = StudentsT::new(0.0, 1.0, dof).map_err(|_| NoEffect::ZeroVariance)?;
            let half = t.inverse_cdf(1.0 - alpha / 2.0) * se;
            let p = 2.0 * (1.0 - t.cdf((estimate / se).abs()));
            (half, p)
        }
        Interval::Sequential { tuning } => {
            let n = a.n + b.n;
            let rho = sequential_rho(alpha, tuning);
            let s2 = variance * n;
            let tr2p1 = n * rho * rho + 1.0;
            let half = (s2 * 2.0 * tr2p1 * (tr2p1.sqrt() / alpha).ln() / (n * rho).powi(2)).sqrt();
            // The e-value's reciprocal (eq. 155), an always-valid p-value.
            let st2 = estimate * estimate * n / (se * se);
            let e_value = (rho * rho * st2 / (2.0 * tr2p1)).exp() / tr2p1.sqrt();
            (half, (1.0 / e_value).min(1.0))
        }
    };
    Ok(Effect {
        estimate,
        standard_error: se,
        ci_low: estimate - half,
        ci_high: estimate + half,
        p_value,
        degrees_of_freedom: dof,
    })
}

/// The mixing parameter that makes the confidence sequence tightest at `tuning` visitors
/// (Waudby-Smith et al., eq. 161).
fn sequential_rho(alpha: f64, tuning: f64) -> f64 {
    let l = -2.0 * alpha.ln();
    ((l + (l + 1.0).ln()) / tuning).sqrt()
}

/// The fewest visitors per arm, on average, before the sample ratio is judged: the total
/// must reach 8 times the number of arms (GrowthBook's rule). An arm with no visitors at all
/// is then judged too, and is the worst split there is.
pub const SRM_MIN_PER_ARM: f64 = 8.0;
/// Below this p-value the split is reported as broken.
pub const SRM_THRESHOLD: f64 = 0.001;

/// The sample-ratio-mismatch p-value: Pearson's chi-square of the visitors per arm against the
/// configured weights, k − 1 degrees of freedom. `None` when there is too little to judge
/// (fewer than two arms with weight, or fewer than [`SRM_MIN_PER_ARM`] visitors per arm in
/// total).
pub fn sample_ratio_p_value(visitors: &[f64], weights: &[f64]) -> Option<f64> {
    if visitors.len() != weights.len() || visitors.len() < 2 {
        return None;
    }
    let total: f64 = visitors.iter().sum();
    let weight: f64 = weights.iter().sum();
    if weight <= 0.0 || total < SRM_MIN_PER_ARM * visitors.len() as f64 {
        return None;
    }
    let mut chi = 0.0;
    let mut arms = 0;
    for (observed, w) in visitors.iter().zip(weights) {
        if *w <= 0.0 {
            continue;
        }
        let expected = total * w / weight;
        chi += (observed - expected).powi(2) / expected;
        arms += 1;
    }
    if arms < 2 {
        return None;
    }
    let dist = ChiSquared::new(f64::from(arms - 1)).ok()?;
    Some(1.0 - dist.cdf(chi))
}

/// How the p-values of an experiment's comparisons (every treatment, every metric) are
/// adjusted for how many there are, as GrowthBook offers: without it, four metrics over two
/// treatments read "won" or "lost" by chance far more often than 5% of the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm's step-down method (1979): the chance that any comparison reads a difference that
    /// is not there stays under 5% (the family-wise error rate).
    #[default]
    Holm,
    /// Benjamini and Hochberg's method (1995): among the comparisons that read a difference,
    /// the expected share that are not real stays under 5% (the false discovery rate). More
    /// finds, a few of them false.
    BenjaminiHochberg,
}

/// The p-values adjusted for their number, in the order given, as R's `p.adjust` computes
/// them: Holm's `min(1, max over j ≤ i of (m − j + 1) p(j))` and Benjamini–Hochberg's
/// `min(1, min over j ≥ i of m p(j) / j)`, over the p-values sorted ascending.
pub fn adjust(p_values: &[f64], correction: Correction) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    match correction {
        Correction::Holm => {
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
                adjusted[i] = running;
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running = 1.0f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min(m as f64 * p_values[i] / (rank + 1) as f64);
                adjusted[i] = running.min(1.0);
            }
        }
    }
    adjusted
}

/// A proportion or a score with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The 97.5th percentile of the standard normal.
const Z_975: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `successes` out of `n` (a CSAT, a conversion rate).
pub fn wilson(successes: f64, n: f64) -> Option<Estimate> {
    if n <= 0.0 {
        return None;
    }
    let p = successes / n;
    let z2 = Z_975 * Z_975;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_975 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Estimate {
        value: p,
        ci_low: (centre - half).max(0.0),
        ci_high: (centre + half).min(1.0),
    })
}

/// The Net Promoter Score (−100 to 100) with its adjusted-Wald 95% interval (Rocks 2016:
/// add ¾ to the promoters and the detractors, 3 to the answers).
pub fn nps(promoters: f64, passives: f64, detractors: f64) -> Option<Estimate> {
    let n = promoters + passives + detractors;
    if n <= 0.0 {
        return None;
    }
    let value = 100.0 * (promoters - detractors) / n;
    let n_adj = n + 3.0;
    let p = (promoters + 0.75) / n_adj;
    let d = (detractors + 0.75) / n_adj;
    let centre = p - d;
    let se = ((p + d - centre * centre) / n_adj).sqrt();
    Some(Estimate {
        value,
        ci_low: (100.0 * (centre - Z_975 * se)).max(-100.0),
        ci_high: (100.0 * (centre + Z_975 * se)).min(100.0),
    })
}

/// Whether two independent proportions differ (a two-proportion z-test, pooled), as a
/// two-sided p-value; `None` when either has no trials or the pooled rate is 0 or 1.
pub fn proportions_differ(x1: f64, n1: f64, x2: f64, n2: f64) -> Option<f64> {
    if n1 <= 0.0 || n2 <= 0.0 {
        return None;
    }
    let pooled = (x1 + x2) / (n1 + n2);
    let var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if var <= 0.0 {
        return None;
    }
    let z = (x1 / n1 - x2 / n2) / var.sqrt();
    let normal = statrs::distribution::Normal::standard();
    Some(2.0 * (1.0 - normal.cdf(z.abs())))
}

/// A difference between two groups (`a − b`), with its 95% interval and the one-sided p-value
/// that `a` is below `b` (a normal test of the difference over its standard error).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The probability, were the groups alike, of a difference at least this far below 0.
    pub p_below: f64,
}

/// `a − b` for two independent estimates with their variances; `None` without variance.
pub fn difference(a: f64, var_a: f64, b: f64, var_b: f64) -> Option<Difference> {
    let se = (var_a + var_b).sqrt();
    if !se.is_finite() || se <= 0.0 {
        return None;
    }
    let estimate = a - b;
    let normal = statrs::distribution::Normal::standard();
    Some(Difference {
        estimate,
        ci_low: estimate - Z_975 * se,
        ci_high: estimate + Z_975 * se,
        p_below: normal.cdf(estimate / se),
    })
}

/// A rate over visitor-days whose days come in clusters (one visitor's days), from the sums
/// over clusters: `y` successes in `n` trials, `clusters` of them, and the sums of each
/// cluster's `n²`, `y²` and `n·y`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClusteredRate {
    pub n: f64,
    pub y: f64,
    pub clusters: f64,
    pub n_ss: f64,
    pub y_ss: f64,
    pub cross: f64,
}

impl ClusteredRate {
    /// The rate `y / n` and its cluster-robust variance (the ratio estimator's linearised
    /// variance, with the small-sample factor k / (k − 1) over k clusters): days of one
    /// visitor are not independent trials. `None` below two clusters.
    pub fn rate_and_variance(&self) -> Option<(f64, f64)> {
        let k = self.clusters;
        if self.n <= 0.0 || k < 2.0 {
            return None;
        }
        let p = self.y / self.n;
        // Σ (y_i − p n_i)², from the sums.
        let spread = (self.y_ss - 2.0 * p * self.cross + p * p * self.n_ss).max(0.0);
        Some((p, k / (k - 1.0) * spread / (self.n * self.n)))
    }
}

/// The NPS (−100 to 100) and the variance of its estimate: 100² (p + d − (p − d)²) / n over
/// the shares of promoters and detractors, with Rocks' adjustment (¾ added to each, 3 to the
/// answers) so that a small group is not judged with no spread.
pub fn nps_and_variance(promoters: f64, passives: f64, detractors: f64) -> Option<(f64, f64)> {
    let n = promoters + passives + detractors;
    if n <= 0.0 {
        return None;
    }
    let n_adj = n + 3.0;
    let p = (promoters + 0.75) / n_adj;
    let d = (detractors + 0.75) / n_adj;
    let centre = p - d;
    Some((
        100.0 * (promoters - detractors) / n,
        1e4 * (p + d - centre * centre) / n_adj,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clustered_rate_of_single_days_is_the_binomial_and_whole_visitors_count_once() {
        // 1,000 visitors of one day each, 100 converting: p(1 − p)/n, times k/(k − 1).
        let single = ClusteredRate {
            n: 1000.0,
            y: 100.0,
            clusters: 1000.0,
            n_ss: 1000.0,
            y_ss: 100.0,
            cross: 100.0,
        };
        let (p, var) = single.rate_and_variance().unwrap();
        assert_eq!(p, 0.1);
        assert!(
            (var - 0.1 * 0.9 / 1000.0 * 1000.0 / 999.0).abs() < 1e-12,
            "{var}"
        );
        // The same days from 250 visitors of 4 days each, who convert on all their days or
        // none: the information of 250 trials, not 1,000.
        let whole = ClusteredRate {
            n: 1000.0,
            y: 100.0,
            clusters: 250.0,
            n_ss: 250.0 * 16.0,
            y_ss: 25.0 * 16.0,
            cross: 25.0 * 16.0,
        };
        let (_, var) = whole.rate_and_variance().unwrap();
        assert!(
            (var - 0.1 * 0.9 / 250.0 * 250.0 / 249.0).abs() < 1e-12,
            "{var}"
        );
        assert_eq!(ClusteredRate::default().rate_and_variance(), None);
    }

    #[test]
    fn an_nps_difference_takes_both_groups_spread() {
        // Rocks (2016)'s adjusted-Wald variance: 50 promoters, 30 passives, 20 detractors
        // (NPS 30) has p = 50.75/103, d = 20.75/103.
        let (value, var) = nps_and_variance(50.0, 30.0, 20.0).unwrap();
        assert_eq!(value, 30.0);
        let (p, d) = (50.75 / 103.0, 20.75 / 103.0);
        assert!((var - 1e4 * (p + d - (p - d) * (p - d)) / 103.0).abs() < 1e-9);
        // Two such groups: the difference's standard error is √2 times one group's.
        let diff = difference(value, var, value, var).unwrap();
        assert_eq!(diff.estimate, 0.0);
        assert!((diff.ci_high - Z_975 * (2.0 * var).sqrt()).abs() < 1e-9);
        assert!((diff.p_below - 0.5).abs() < 1e-12);
        // A difference 1.645 standard errors below zero is one-sided p = 0.05.
        let diff = difference(0.0, 0.5, 1.645, 0.5).unwrap();
        assert!((diff.p_below - 0.05).abs() < 1e-4, "{}", diff.p_below);
    }

    fn m(n: f64, sum: f64, sum_squares: f64) -> Moments {
        Moments {
            n,
            sum,
            sum_squares,
        }
    }

    #[test]
    fn an_arm_without_variance_or_a_zero_baseline_has_no_effect() {
        let flat = m(100.0, 100.0, 100.0);
        let varied = m(100.0, 50.0, 40.0);
        let fixed = Interval::Fixed;
        assert_eq!(
            compare(flat, varied, Kind::Mean, Scale::Relative, fixed, 0.05),
            Err(NoEffect::ZeroVariance)
        );
        // An empty arm.
        assert_eq!(
            compare(
                Moments::default(),
                varied,
                Kind::Mean,
                Scale::Relative,
                fixed,
                0.05
            ),
            Err(NoEffect::ZeroVariance)
        );
        // No conversions in either arm: a proportion of 0 has no variance.
        let none = m(50.0, 0.0, 0.0);
        assert_eq!(
            compare(none, none, Kind::Proportion, Scale::Absolute, fixed, 0.05),
            Err(NoEffect::ZeroVariance)
        );
        // A mean of zero with spread: the relative lift is undefined, the absolute is not.
        let centred = m(10.0, 0.0, 20.0);
        assert_eq!(
            compare(centred, varied, Kind::Mean, Scale::Relative, fixed, 0.05),
            Err(NoEffect::ZeroBaseline)
        );
        assert!(compare(centred, varied, Kind::Mean, Scale::Absolute, fixed, 0.05).is_ok());
    }

    #[test]
    fn the_sample_ratio_is_judged_against_the_weights() {
        // 50/50 with 5,000 against 5,200: chi-square 3.92, p ≈ 0.0477 (no alarm).
        let p = sample_ratio_p_value(&[5_000.0, 5_200.0], &[50.0, 50.0]).unwrap();
        assert!((p - 0.047_69).abs() < 1e-4, "{p}");
        // 5,000 against 5,600 is broken.
        let p = sample_ratio_p_value(&[5_000.0, 5_600.0], &[50.0, 50.0]).unwrap();
        assert!(p < SRM_THRESHOLD, "{p}");
        // The same counts match a 47/53 split.
        let p = sample_ratio_p_value(&[5_000.0, 5_600.0], &[47.0, 53.0]).unwrap();
        assert!(p > 0.5, "{p}");
        // An arm nobody reached is the worst split of all: 45/45/10 with none in the 10%.
        let p = sample_ratio_p_value(&[5_000.0, 5_000.0, 0.0], &[45.0, 45.0, 10.0]).unwrap();
        assert!(p < SRM_THRESHOLD, "{p}");
        // Judged once the total reaches 8 a arm, whatever one arm has.
        assert!(sample_ratio_p_value(&[3.0, 20.0], &[50.0, 50.0]).is_some());
        // Too few to judge.
        assert_eq!(sample_ratio_p_value(&[3.0, 12.0], &[50.0, 50.0]), None);
        assert_eq!(sample_ratio_p_value(&[30.0], &[100.0]), None);
    }

    #[test]
    fn proportions_that_differ_have_a_small_p_value() {
        let p = proportions_differ(30.0, 100.0, 60.0, 100.0).unwrap();
        assert!(p < 0.001);
        let p = proportions_differ(50.0, 100.0, 52.0, 100.0).unwrap();
        assert!(p > 0.5);
        assert_eq!(proportions_differ(0.0, 10.0, 0.0, 10.0), None);
    }
}
