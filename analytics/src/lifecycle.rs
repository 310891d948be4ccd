//! The lifecycle funnel: visitor-days per stage per day, and the moves between stages.

use serde::Serialize;

use crate::facts::STAGES;
use crate::tables::{sum_by, MovementDay, StageDay};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageCount {
    pub stage: &'static str,
    /// Visitor-days in the stage over the period.
    pub visitors: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub day: String,
    /// Visitors seen that day, per stage in funnel order.
    pub stages: Vec<StageCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Movement {
    pub from: String,
    pub to: String,
    pub visitors: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lifecycle {
    /// The period's visitor-days per stage, in funnel order.
    pub funnel: Vec<StageCount>,
    pub daily: Vec<Day>,
    /// Moves between stages, most frequent first.
    pub movements: Vec<Movement>,
}

fn counts(rows: &[&StageDay]) -> Vec<StageCount> {
    STAGES
        .iter()
        .map(|stage| StageCount {
            stage: stage.as_str(),
            visitors: rows
                .iter()
                .filter(|r| r.stage == stage.as_str())
                .map(|r| r.visitors)
                // (An empty sum of floats is −0.0.)
                .fold(0.0, |a, b| a + b),
        })
        .collect()
}

/// The funnel of a period from the stages and movements tables' rows.
pub fn lifecycle(stages: &[StageDay], movements: &[MovementDay]) -> Lifecycle {
    let stage_rows: Vec<&StageDay> = stages.iter().collect();
    let mut days: Vec<&str> = stages.iter().map(|r| r.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    let daily = days
        .into_iter()
        .map(|day| {
            let mine: Vec<&StageDay> = stages.iter().filter(|r| r.day == day).collect();
            Day {
                day: day.to_owned(),
                stages: counts(&mine),
            }
        })
        .collect();
    let mut movements: Vec<Movement> =
        sum_by(movements, |r| (r.from_stage.clone(), r.to_stage.clone()))
            .into_iter()
            .map(|((from, to), sum)| Movement {
                from,
                to,
                visitors: sum.visitors,
            })
            .collect();
    movements.sort_by(|a, b| {
        b.visitors
            .total_cmp(&a.visitors)
            .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
    });
    Lifecycle {
        funnel: counts(&stage_rows),
        daily,
        movements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_counted_in_funnel_order_and_moves_summed() {
        let stage = |day: &str, stage: &str, visitors: f64| StageDay {
            day: day.into(),
            stage: stage.into(),
            visitors,
        };
        let rows = vec![
            stage("2026-12-02", "cart", 3.0),
            stage("2026-12-01", "new", 10.0),
            stage("2026-12-02", "new", 7.0),
        ];
        let moved = |day: &str, from: &str, to: &str, visitors: f64| MovementDay {
            day: day.into(),
            from_stage: from.into(),
            to_stage: to.into(),
            visitors,
        };
        let moves = vec![
            moved("2026-12-01", "new", "cart", 2.0),
            moved("2026-12-02", "new", "cart", 1.0),
            moved("2026-12-02", "cart", "customer", 1.0),
        ];
        let l = lifecycle(&rows, &moves);
        assert_eq!(l.funnel[0].stage, "new");
        assert_eq!(l.funnel[0].visitors, 17.0);
        assert_eq!(l.funnel[2].visitors, 3.0);
        assert_eq!(l.funnel.len(), 9);
        assert_eq!(l.daily.len(), 2);
        assert_eq!(l.daily[0].day, "2026-12-01");
        assert_eq!(
            (l.movements[0].from.as_str(), l.movements[0].visitors),
            ("new", 3.0)
        );
    }
}
