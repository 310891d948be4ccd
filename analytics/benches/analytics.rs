//! The analyses over 90 days of a shop with 20 experiments and 30 segments: the computing
//! part of an analytics call (the D1 read is in `cargo xtask bench --only analytics`).

use criterion::{criterion_group, criterion_main, Criterion};
use rapport_analytics::experiments::{self, Design, Metric, Reading};
use rapport_analytics::tables::{
    AnswerDay, ArmDay, MovementDay, PageDay, SearchDay, SegmentDay, StageDay,
};
use rapport_analytics::{lifecycle, satisfaction, segments, weak_spots};

const DAYS: usize = 90;
const EXPERIMENTS: usize = 20;
const SEGMENTS: usize = 30;

fn day(d: usize) -> String {
    // 90 days from 2026-09-01.
    let month = [(9, 30), (10, 31), (11, 30)];
    let mut rest = d;
    for (m, len) in month {
        if rest < len {
            return format!("2026-{m:02}-{:02}", rest + 1);
        }
        rest -= len;
    }
    "2026-12-01".to_owned()
}

struct Shop {
    arms: Vec<ArmDay>,
    designs: Vec<Design>,
    segments: Vec<SegmentDay>,
    answers: Vec<AnswerDay>,
    stages: Vec<StageDay>,
    movements: Vec<MovementDay>,
    pages: Vec<PageDay>,
    searches: Vec<SearchDay>,
}

fn shop() -> Shop {
    let mut shop = Shop {
        arms: Vec::new(),
        designs: Vec::new(),
        segments: Vec::new(),
        answers: Vec::new(),
        stages: Vec::new(),
        movements: Vec::new(),
        pages: Vec::new(),
        searches: Vec::new(),
    };
    let stages = [
        "new", "engaged", "cart", "customer", "repeat", "loyal", "advocate", "at_risk", "lapsed",
    ];
    for e in 0..EXPERIMENTS {
        let rule = format!("experiment-{e:02}");
        shop.designs.push(Design {
            rule: rule.clone(),
            arms: vec![
                ("a".into(), 0.45, true),
                ("b".into(), 0.45, true),
                ("control".into(), 0.1, false),
            ],
            primary: Metric::Conversion,
        });
        for d in 0..DAYS {
            for (arm, n) in [("a", 450.0), ("b", 450.0), ("control", 100.0)] {
                shop.arms.push(ArmDay {
                    rule: rule.clone(),
                    arm: arm.into(),
                    day: day(d),
                    visitors: n,
                    conversions: n * 0.05,
                    revenue: n * 3.0,
                    revenue_ss: n * 180.0,
                    clicks: n * 0.1,
                    clicks_ss: n * 0.12,
                    ..ArmDay::default()
                });
            }
        }
    }
    for d in 0..DAYS {
        let today = day(d);
        for s in 0..=SEGMENTS {
            let name = if s == 0 {
                String::new()
            } else {
                format!("segment-{s:02}")
            };
            shop.segments.push(SegmentDay {
                day: today.clone(),
                segment: name.clone(),
                visitors: 1_000.0,
                converters: 30.0 + s as f64,
                revenue: 2_000.0,
                promoters: 10.0,
                passives: 5.0,
                detractors: 3.0,
                clusters: 700.0,
                days_ss: 1_600.0,
                converting_ss: 45.0 + s as f64,
                cross: 60.0 + s as f64,
                ..SegmentDay::default()
            });
            if s > 0 {
                shop.answers.push(AnswerDay {
                    day: today.clone(),
                    survey: "nps".into(),
                    segment: name,
                    answers: 18.0,
                    promoters: 10.0,
                    passives: 5.0,
                    detractors: 3.0,
                    ..AnswerDay::default()
                });
            }
        }
        for kind in ["home", "product", "cart", "search", "checkout"] {
            for stage in stages {
                shop.answers.push(AnswerDay {
                    day: today.clone(),
                    survey: "nps".into(),
                    page_kind: kind.into(),
                    experience: "nps-survey".into(),
                    stage: stage.into(),
                    answers: 4.0,
                    promoters: 2.0,
                    detractors: 1.0,
                    passives: 1.0,
                    ..AnswerDay::default()
                });
            }
        }
        for (i, stage) in stages.iter().enumerate() {
            shop.stages.push(StageDay {
                day: today.clone(),
                stage: (*stage).into(),
                visitors: 100.0 * i as f64,
            });
            shop.movements.push(MovementDay {
                day: today.clone(),
                from_stage: (*stage).into(),
                to_stage: stages[(i + 1) % 9].into(),
                visitors: 7.0,
            });
        }
        for p in 0..50 {
            shop.pages.push(PageDay {
                day: today.clone(),
                path: format!("/products/p{p}"),
                kind: "product".into(),
                views: 300.0,
                landings: 100.0,
                quick_exits: p as f64,
                rage_clicks: (p % 7) as f64,
                detractors: 0.0,
            });
        }
        for q in 0..20 {
            shop.searches.push(SearchDay {
                day: today.clone(),
                query: format!("query {q}"),
                searches: 3.0,
                total: 3.0 + q as f64 * 5.0,
            });
        }
    }
    shop
}

fn bench(c: &mut Criterion) {
    let shop = shop();
    c.bench_function("experiments: 20 experiments, 90 days (5,400 rows)", |b| {
        b.iter(|| experiments::results(&shop.arms, &shop.designs, Reading::default()))
    });
    c.bench_function("satisfaction: 90 days", |b| {
        b.iter(|| satisfaction::satisfaction(&shop.answers, &[], None))
    });
    c.bench_function("lifecycle: 90 days", |b| {
        b.iter(|| lifecycle::lifecycle(&shop.stages, &shop.movements))
    });
    c.bench_function("weak spots: 50 pages, 90 days", |b| {
        b.iter(|| weak_spots::weak_spots(&shop.pages, &shop.searches, &[]))
    });
    let targets: Vec<(String, Vec<String>)> = (1..=SEGMENTS)
        .map(|s| {
            (
                format!("segment-{s:02}"),
                vec![format!("experiment-{:02}", s % 20)],
            )
        })
        .collect();
    let results = experiments::results(&shop.arms, &shop.designs, Reading::default());
    let performance = segments::rule_performance(&[], &results);
    c.bench_function("segments: 30 segments, 90 days", |b| {
        b.iter(|| {
            segments::segments(
                &shop.segments,
                &segments::Period {
                    from: &day(0),
                    to: &day(DAYS - 1),
                    attribution_days: 7,
                },
                &targets,
                &performance,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
