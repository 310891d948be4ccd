//! The analyses over 90 days of a shop with 20 experiments and 30 segments: the computing
//! part of an analytics call (the D1 read is in `cargo xtask bench --only analytics`).

use criterion::{criterion_group, criterion_main, Criterion};
use rapport_analytics::experiments::{self, Design, Metric, Reading};
use rapport_analytics::tables::{Row, Table};
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
    arms: Vec<Row>,
    designs: Vec<Design>,
    segments: Vec<Row>,
    answers: Vec<Row>,
    stages: Vec<Row>,
    movements: Vec<Row>,
    pages: Vec<Row>,
    searches: Vec<Row>,
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
                shop.arms.push(
                    Row::new(Table::Arms, &[&rule, arm, &day(d)])
                        .with("visitors", n)
                        .with("conversions", n * 0.05)
                        .with("revenue", n * 3.0)
                        .with("revenue_ss", n * 180.0)
                        .with("clicks", n * 0.1)
                        .with("clicks_ss", n * 0.12),
                );
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
            shop.segments.push(
                Row::new(Table::Segments, &[&today, &name])
                    .with("visitors", 1_000.0)
                    .with("converters", 30.0 + s as f64)
                    .with("revenue", 2_000.0)
                    .with("promoters", 10.0)
                    .with("passives", 5.0)
                    .with("detractors", 3.0)
                    .with("clusters", 700.0)
                    .with("days_ss", 1_600.0)
                    .with("converting_ss", 45.0 + s as f64)
                    .with("cross", 60.0 + s as f64),
            );
            if s > 0 {
                shop.answers.push(
                    Row::new(Table::Answers, &[&today, "nps", &name, "", "", ""])
                        .with("answers", 18.0)
                        .with("promoters", 10.0)
                        .with("passives", 5.0)
                        .with("detractors", 3.0),
                );
            }
        }
        for kind in ["home", "product", "cart", "search", "checkout"] {
            for stage in stages {
                shop.answers.push(
                    Row::new(
                        Table::Answers,
                        &[&today, "nps", "", kind, "nps-survey", stage],
                    )
                    .with("answers", 4.0)
                    .with("promoters", 2.0)
                    .with("detractors", 1.0)
                    .with("passives", 1.0),
                );
            }
        }
        for (i, stage) in stages.iter().enumerate() {
            shop.stages
                .push(Row::new(Table::Stages, &[&today, stage]).with("visitors", 100.0 * i as f64));
            shop.movements.push(
                Row::new(Table::Movements, &[&today, stage, stages[(i + 1) % 9]])
                    .with("visitors", 7.0),
            );
        }
        for p in 0..50 {
            shop.pages.push(
                Row::new(
                    Table::Pages,
                    &[&today, &format!("/products/p{p}"), "product"],
                )
                .with("views", 300.0)
                .with("landings", 100.0)
                .with("quick_exits", p as f64)
                .with("rage_clicks", (p % 7) as f64),
            );
        }
        for q in 0..20 {
            shop.searches.push(
                Row::new(Table::Searches, &[&today, &format!("query {q}")])
                    .with("searches", 3.0)
                    .with("total", 3.0 + q as f64 * 5.0),
            );
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
