//! Segments that need attention, proven by simulation with fixed seeds: shoppers with no real
//! difference between segments (each a random trait of the visitor, the same behaviour in and
//! out of it), some keener to buy than others, visiting on several days of a week, answering
//! NPS now and then, and buying with a lag. Their visitor-days are summed into the segments
//! table's rows with the sums a clustered variance needs, as `facts` sends them, and read by
//! `segments::segments` as the API reads them. What is measured:
//!
//! - with 14 segments and with 30, the chance that any segment is flagged at all (the
//!   false discovery rate of 10% bounds it when nothing is different);
//! - with purchases that lag (60% the same day, 85% within 3 days, 92% within 6), the chance of
//!   a "getting worse" flag over a period that ends today;
//! - a planted segment that converts a third less is flagged.
//!
//! docs/analytics.md has the measured rates.

use std::collections::BTreeMap;

use rapport_analytics::segments::{segments, CheckKind, Period, Segments};
use rapport_analytics::tables::SegmentDay;

/// The days of the simulated period: 2026-11-02 (a Monday) on.
fn day(n: u32) -> String {
    let date = chrono_day(n);
    format!("2026-{:02}-{:02}", date.0, date.1)
}

fn chrono_day(n: u32) -> (u32, u32) {
    // November has 30 days; the period runs into December.
    let d = 2 + n;
    if d <= 30 {
        (11, d)
    } else {
        (12, d - 30)
    }
}

/// A population: who is in which segment, and how they behave.
struct World {
    segments: usize,
    visitors: usize,
    /// Days of the period on which visits happen (0..days).
    days: u32,
    /// The last day of the period (today): purchases that arrive after it are not yet known.
    today: u32,
    /// Whether purchases lag (else they come the same day).
    lag: bool,
    /// A segment that converts this much less (its index and the factor), if any.
    planted: Option<(usize, f64)>,
}

impl World {
    /// Lag in days of a purchase: 60% the same day, 85% within 3, 92% within 6, the rest
    /// within two weeks.
    fn lag(&self, rng: &mut fastrand::Rng) -> u32 {
        if !self.lag {
            return 0;
        }
        let u = rng.f64();
        if u < 0.60 {
            0
        } else if u < 0.85 {
            rng.u32(1..=3)
        } else if u < 0.92 {
            rng.u32(4..=6)
        } else {
            rng.u32(7..=14)
        }
    }

    /// Each day's and segment's sums: visitors, clusters, days_ss, cross, converters,
    /// converting_ss, promoters, passives and detractors.
    fn rows(&self, rng: &mut fastrand::Rng) -> Vec<SegmentDay> {
        let mut sums: BTreeMap<(u32, usize), [f64; 9]> = BTreeMap::new();
        for _ in 0..self.visitors {
            // Segment 0 stands for the whole site.
            let member: Vec<bool> = (0..=self.segments)
                .map(|s| s == 0 || rng.f64() < 0.3)
                .collect();
            // One in five shoppers is keen: 12% of their days convert, against 2%.
            let keen = rng.f64() < 0.2;
            let mut rate = if keen { 0.12 } else { 0.02 };
            if let Some((s, factor)) = self.planted {
                if member[s + 1] {
                    rate *= factor;
                }
            }
            // A visitor visits on 1 to 4 days of one week.
            let week = rng.u32(0..self.days / 7);
            let mut visit_days: Vec<u32> = (0..rng.u32(1..=4))
                .map(|_| week * 7 + rng.u32(0..7))
                .collect();
            visit_days.sort_unstable();
            visit_days.dedup();
            // Per segment, the visitor's cluster so far: days and converting days.
            let mut clusters = vec![(0.0_f64, 0.0_f64); self.segments + 1];
            for &d in &visit_days {
                let converts = rng.f64() < rate && {
                    let lag = self.lag(rng);
                    // Known by today, within the 7-day attribution window.
                    d + lag <= self.today && lag <= 7
                };
                let answer = (rng.f64() < 0.15).then(|| rng.f64());
                for s in (0..=self.segments).filter(|s| member[*s]) {
                    let (days, converting) = &mut clusters[s];
                    let r = sums.entry((d, s)).or_default();
                    r[0] += 1.0;
                    r[1] += f64::from(*days == 0.0);
                    r[2] += 2.0 * *days + 1.0;
                    r[3] += *converting;
                    *days += 1.0;
                    if converts {
                        r[4] += 1.0;
                        r[5] += 2.0 * *converting + 1.0;
                        r[3] += *days;
                        *converting += 1.0;
                    }
                    match answer {
                        Some(u) if u < 0.5 => r[6] += 1.0,
                        Some(u) if u < 0.8 => r[7] += 1.0,
                        Some(_) => r[8] += 1.0,
                        None => {}
                    }
                }
            }
        }
        sums.into_iter()
            .map(|((d, s), r)| {
                let name = if s == 0 {
                    String::new()
                } else {
                    format!("segment-{:02}", s - 1)
                };
                let [visitors, clusters, days_ss, cross, converters, converting_ss, promoters, passives, detractors] =
                    r;
                SegmentDay {
                    day: day(d),
                    segment: name,
                    visitors,
                    clusters,
                    days_ss,
                    cross,
                    converters,
                    converting_ss,
                    promoters,
                    passives,
                    detractors,
                    ..SegmentDay::default()
                }
            })
            .collect()
    }

    fn read(&self, rng: &mut fastrand::Rng) -> Segments {
        let rows = self.rows(rng);
        let (from, to) = (day(0), day(self.today));
        segments(
            &rows,
            &Period {
                from: &from,
                to: &to,
                attribution_days: 7,
            },
            &[],
            &[],
        )
    }
}

/// Of `runs` seeded worlds, the share where `flagged` holds.
fn rate(world: &World, runs: u64, seed: u64, flagged: impl Fn(&Segments) -> bool) -> f64 {
    let mut rng = fastrand::Rng::with_seed(seed);
    let hits = (0..runs).filter(|_| flagged(&world.read(&mut rng))).count();
    hits as f64 / runs as f64
}

/// The Monte Carlo allowance: two standard errors of a rate of `p` over `runs`.
fn allowance(p: f64, runs: u64) -> f64 {
    2.0 * (p * (1.0 - p) / runs as f64).sqrt()
}

fn any_flag(s: &Segments) -> bool {
    s.segments.iter().any(|r| r.needs_attention)
}

#[test]
fn with_no_real_difference_a_segment_is_rarely_flagged() {
    const RUNS: u64 = 300;
    for (segments, seed) in [(14, 14), (30, 30)] {
        let world = World {
            segments,
            visitors: 4_000,
            days: 28,
            today: 35,
            lag: false,
            planted: None,
        };
        let rate = rate(&world, RUNS, seed, any_flag);
        println!("{segments} segments, no difference: any flagged in {rate:.3} of runs");
        assert!(
            rate <= 0.10 + allowance(0.10, RUNS),
            "{segments} segments: some segment flagged in {rate:.3} of runs"
        );
    }
}

#[test]
fn lagged_purchases_over_a_period_that_ends_today_do_not_read_as_getting_worse() {
    const RUNS: u64 = 300;
    let world = World {
        segments: 14,
        visitors: 6_000,
        days: 28,
        today: 27,
        lag: true,
        planted: None,
    };
    let worse = |s: &Segments| {
        s.segments.iter().any(|r| {
            r.checks
                .iter()
                .any(|c| c.check == CheckKind::ConversionTrend && c.flagged)
        })
    };
    let rate = rate(&world, RUNS, 27, worse);
    println!("lagged purchases, period ending today: getting worse in {rate:.3} of runs");
    assert!(rate <= 0.10 + allowance(0.10, RUNS), "{rate}");
}

#[test]
fn a_segment_that_converts_a_third_less_is_flagged() {
    const RUNS: u64 = 100;
    let world = World {
        segments: 14,
        visitors: 6_000,
        days: 28,
        today: 35,
        lag: false,
        planted: Some((3, 2.0 / 3.0)),
    };
    let found = |s: &Segments| {
        s.segments
            .iter()
            .any(|r| r.segment == "segment-03" && r.needs_attention)
    };
    let rate = rate(&world, RUNS, 3, found);
    println!("a segment converting a third less: flagged in {rate:.3} of runs");
    assert!(rate >= 0.8, "{rate}");
}
