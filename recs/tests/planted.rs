//! The synthetic shop's planted structure is found, and only where it was planted: the
//! streaming neighbours hold each item's twin and complement, the streaming top-K reaches
//! 95% of the exact co-occurrence's HR@20, and no Rapport strategy falls below popularity.

use rapport_recs::evaluate::evaluate;
use rapport_recs::neighbours::{CoOccurrence, Decay, Streaming};
use rapport_recs::strategies::{ForYou, Popular, Recommender, Similar};
use rapport_recs::synthetic::Shop;
use rapport_recs::Item;

const SHOP: Shop = Shop {
    categories: 20,
    per_category: 10,
};

/// The share of items whose twin is among their 2 heaviest streaming neighbours, and whose
/// complement is among their 6 heaviest (co-viewing is symmetric: an item is as close to
/// its complement as to the item it complements), after 5,000 sessions with the structure
/// planted `planted` strong.
fn found(planted: f64) -> (f64, f64) {
    let mut streaming = Streaming::new(Decay::NONE, 16);
    for session in SHOP.sessions(5_000, 1, 0.0, planted) {
        streaming.learn(&session.items, session.start);
    }
    let share = |planted_for: &dyn Fn(Item) -> Item, n: usize| {
        let hits = (0..SHOP.items())
            .filter(|&item| {
                streaming
                    .neighbours(item, n)
                    .iter()
                    .any(|&(i, _)| i == planted_for(item))
            })
            .count();
        hits as f64 / f64::from(SHOP.items())
    };
    (
        share(&|i| SHOP.twin(i), 2),
        share(&|i| SHOP.complement(i), 6),
    )
}

#[test]
fn planted_twins_and_complements_are_found_in_bounded_memory() {
    let (twins, complements) = found(1.0);
    assert!(twins >= 0.95, "twins found for {twins:.3} of the items");
    assert!(
        complements >= 0.80,
        "complements found for {complements:.3} of the items"
    );
    // Without the planted steps, twins come up no more than any other item of the category
    // would (2 of 9 others), and complements, in another category, never.
    let (twins, complements) = found(0.0);
    assert!(twins < 0.5, "unplanted twins found for {twins:.3}");
    assert!(
        complements < 0.05,
        "unplanted complements found for {complements:.3}"
    );
}

#[test]
fn streaming_neighbours_reach_the_exact_hit_rate_and_beat_popularity() {
    let train = SHOP.sessions(5_000, 1, 0.0, 1.0);
    let test = SHOP.sessions(1_000, 2, 5_000.0 * 60.0, 1.0);
    let decay = Decay {
        start: 0.0,
        half_life: 30.0 * 86_400.0,
    };
    let streaming = evaluate(&mut Similar::streaming(decay, 16), &train, &test);
    let exact = evaluate(&mut Similar::exact(decay), &train, &test);
    let popular = evaluate(&mut Popular::default(), &train, &test);
    let for_you = evaluate(&mut ForYou::new(decay, 2_000, 16), &train, &test);
    assert!(
        streaming.hit_rate >= 0.95 * exact.hit_rate,
        "streaming {:.3}, exact {:.3}",
        streaming.hit_rate,
        exact.hit_rate
    );
    for report in [&streaming, &for_you] {
        assert!(
            report.hit_rate > popular.hit_rate && report.coverage > popular.coverage,
            "{report:?} against {popular:?}"
        );
    }
    // Bounded: at most 16 counters per item, whatever the traffic.
    assert!(streaming.bytes_per_item <= 16.0 * 24.0, "{streaming:?}");
    assert!(
        Similar::streaming(decay, 16).name().contains("streaming"),
        "the report names the kind"
    );
}
