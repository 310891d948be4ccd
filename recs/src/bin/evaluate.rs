//! `cargo run --release -p rapport-recs --bin evaluate -- TRAIN TEST`: learns TRAIN, then
//! predicts the next click for every prefix of every session of TEST (session-rec's
//! format: `SessionId`, `ItemId`, `Time`, tab-separated, with a header), and prints HR@20,
//! MRR@20, coverage@20, popularity bias, memory per item and speed for Rapport's strategies
//! and the research baselines. Without files, it runs the synthetic shop.

use std::process::ExitCode;

use rapport_recs::catalogue::KEPT_SESSIONS;
use rapport_recs::clicks::{self, Catalogue, Session};
use rapport_recs::evaluate::{evaluate, table, Report};
use rapport_recs::neighbours::Decay;
use rapport_recs::strategies::{
    AssociationRules, ForYou, ItemKnn, Popular, Recommender, SessionKnn, Similar,
};
use rapport_recs::synthetic::Shop;

/// Counters per item in the streaming neighbours.
const CAPACITY: usize = 50;
/// Co-occurrence halves in weight every 30 days.
const HALF_LIFE: f64 = 30.0 * 86_400.0;

fn read(path: &str, catalogue: &mut Catalogue) -> Result<Vec<Session>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    clicks::parse(&text, catalogue).map_err(|e| format!("{path}:{}: {}", e.line, e.message))
}

fn run(train: &[Session], test: &[Session]) -> Vec<Report> {
    let decay = Decay {
        start: train.first().map_or(0.0, |s| s.start),
        half_life: HALF_LIFE,
    };
    let mut recommenders: Vec<Box<dyn Recommender>> = vec![
        Box::new(Similar::streaming(decay, CAPACITY)),
        Box::new(Similar::exact(decay)),
        Box::new(ForYou::new(decay, KEPT_SESSIONS, CAPACITY)),
        Box::new(Popular::default()),
        Box::new(AssociationRules::default()),
        Box::new(ItemKnn::default()),
        Box::new(SessionKnn::default()),
    ];
    recommenders
        .iter_mut()
        .map(|r| evaluate(r.as_mut(), train, test))
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (train, test, what) = match args.as_slice() {
        [] => {
            let shop = Shop {
                categories: 20,
                per_category: 10,
            };
            let train = shop.sessions(5_000, 1, 0.0, 1.0);
            let test = shop.sessions(1_000, 2, 5_000.0 * 60.0, 1.0);
            (
                train,
                test,
                "the synthetic shop (200 items, planted twins and complements)".to_owned(),
            )
        }
        [train, test] => {
            let mut catalogue = Catalogue::default();
            match (read(train, &mut catalogue), read(test, &mut catalogue)) {
                (Ok(a), Ok(b)) => (a, b, format!("{train} → {test}")),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("evaluate: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("usage: evaluate [TRAIN TEST]   (session-rec's tab-separated SessionId, ItemId, Time)");
            return ExitCode::from(2);
        }
    };
    let clicks = |s: &[Session]| s.iter().map(|s| s.items.len()).sum::<usize>();
    println!(
        "{what}: {} training sessions ({} clicks), {} test sessions ({} clicks)\n",
        train.len(),
        clicks(&train),
        test.len(),
        clicks(&test)
    );
    print!("{}", table(&run(&train, &test)));
    ExitCode::SUCCESS
}
