//! The analyses over 90 days of a shop with 20 experiments and 30 segments
//! (`rapport_analytics::bench_shop`): the computing part of an analytics call (the D1 read
//! is in `cargo xtask bench --only analytics`, over the same rows).

use criterion::{criterion_group, criterion_main, Criterion};
use rapport_analytics::bench_shop::{self, day, DAYS, EXPERIMENTS, SEGMENTS};
use rapport_analytics::experiments::{self, Design, Metric, Reading};
use rapport_analytics::tables::{
    Aggregate, AnswerDay, ArmDay, MovementDay, PageDay, Row, SearchDay, SegmentDay, StageDay,
};
use rapport_analytics::{lifecycle, satisfaction, segments, weak_spots};

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

/// The benchmark shop's rows by table, with its experiments' designs.
fn shop() -> Shop {
    fn of<T: Aggregate>(rows: &[Row]) -> Vec<T> {
        rows.iter().filter_map(T::of).cloned().collect()
    }
    let rows = bench_shop::rows();
    Shop {
        arms: of(&rows),
        designs: (0..EXPERIMENTS)
            .map(|e| Design {
                rule: bench_shop::experiment(e),
                arms: vec![
                    ("a".into(), 0.45, true),
                    ("b".into(), 0.45, true),
                    ("control".into(), 0.1, false),
                ],
                primary: Metric::Conversion,
            })
            .collect(),
        segments: of(&rows),
        answers: of(&rows),
        stages: of(&rows),
        movements: of(&rows),
        pages: of(&rows),
        searches: of(&rows),
    }
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
                bench_shop::segment(s),
                vec![bench_shop::experiment(s % EXPERIMENTS)],
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
