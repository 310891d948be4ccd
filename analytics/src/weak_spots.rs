//! Weak spots: the pages where shoppers struggle (rage clicks, exits straight after
//! arriving, detractor answers), the searches that find nothing, and the sold-out products
//! shoppers keep looking at.

use serde::Serialize;

use crate::stats::{self, Estimate};
use crate::tables::{sum_by, Row, Table};

/// How many entries each ranking keeps.
pub const TOP: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub path: String,
    pub kind: String,
    pub views: f64,
    pub landings: f64,
    /// Sessions that landed here and left without another page or 10 engaged seconds.
    pub quick_exits: f64,
    /// Quick exits per landing, with its interval.
    pub quick_exit_rate: Option<Estimate>,
    pub rage_clicks: f64,
    /// Rage clicks per 100 views.
    pub rage_clicks_per_100_views: Option<f64>,
    pub detractors: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counted {
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub count: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeakSpots {
    pub by_rage_clicks: Vec<Page>,
    pub by_quick_exits: Vec<Page>,
    pub by_detractors: Vec<Page>,
    pub zero_result_searches: Vec<Counted>,
    pub sold_out_products: Vec<Counted>,
}

fn ranked(pages: &[Page], by: impl Fn(&Page) -> f64) -> Vec<Page> {
    let mut ranked: Vec<Page> = pages.iter().filter(|p| by(p) > 0.0).cloned().collect();
    ranked.sort_by(|a, b| by(b).total_cmp(&by(a)).then_with(|| a.path.cmp(&b.path)));
    ranked.truncate(TOP);
    ranked
}

fn top(rows: &[Row], table: Table, key: &str, name: Option<&str>, measure: &str) -> Vec<Counted> {
    let mine: Vec<Row> = rows.iter().filter(|r| r.table == table).cloned().collect();
    let mut labels = vec![key];
    labels.extend(name);
    let mut counted: Vec<Counted> = sum_by(&mine, &labels)
        .into_iter()
        .map(|r| Counted {
            key: r.label(key).to_owned(),
            name: name.map(|n| r.label(n).to_owned()).unwrap_or_default(),
            count: r.get(measure),
        })
        .collect();
    counted.sort_by(|a, b| b.count.total_cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    counted.truncate(TOP);
    counted
}

/// The weak spots of a period, from the pages, searches and sold-out tables' rows.
pub fn weak_spots(pages: &[Row], searches: &[Row], sold_out: &[Row]) -> WeakSpots {
    let page_rows: Vec<Row> = pages
        .iter()
        .filter(|r| r.table == Table::Pages)
        .cloned()
        .collect();
    let all: Vec<Page> = sum_by(&page_rows, &["path", "kind"])
        .into_iter()
        .map(|r| {
            let views = r.get("views");
            Page {
                path: r.label("path").to_owned(),
                kind: r.label("kind").to_owned(),
                views,
                landings: r.get("landings"),
                quick_exits: r.get("quick_exits"),
                quick_exit_rate: stats::wilson(r.get("quick_exits"), r.get("landings")),
                rage_clicks: r.get("rage_clicks"),
                rage_clicks_per_100_views: (views > 0.0)
                    .then(|| (r.get("rage_clicks") / views * 1000.0).round() / 10.0),
                detractors: r.get("detractors"),
            }
        })
        .collect();
    WeakSpots {
        by_rage_clicks: ranked(&all, |p| p.rage_clicks),
        by_quick_exits: ranked(&all, |p| p.quick_exits),
        by_detractors: ranked(&all, |p| p.detractors),
        zero_result_searches: top(searches, Table::Searches, "query", None, "searches"),
        sold_out_products: top(sold_out, Table::SoldOut, "product", Some("name"), "views"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_ranked_by_each_sign_of_trouble() {
        let page = |day: &str, path: &str, views: f64, rage: f64, exits: f64| {
            Row::new(Table::Pages, &[day, path, "product"])
                .with("views", views)
                .with("landings", views / 2.0)
                .with("rage_clicks", rage)
                .with("quick_exits", exits)
        };
        let pages = vec![
            page("2026-12-01", "/a", 100.0, 1.0, 20.0),
            page("2026-12-02", "/a", 100.0, 1.0, 20.0),
            page("2026-12-01", "/b", 50.0, 9.0, 1.0),
            page("2026-12-01", "/c", 50.0, 0.0, 0.0),
        ];
        let searches = vec![
            Row::new(Table::Searches, &["2026-12-01", "wetsuit"]).with("searches", 3.0),
            Row::new(Table::Searches, &["2026-12-02", "wetsuit"]).with("searches", 2.0),
            Row::new(Table::Searches, &["2026-12-02", "kite"]).with("searches", 4.0),
        ];
        let w = weak_spots(&pages, &searches, &[]);
        assert_eq!(w.by_rage_clicks[0].path, "/b");
        assert_eq!(w.by_rage_clicks[0].rage_clicks_per_100_views, Some(18.0));
        assert_eq!(w.by_quick_exits[0].path, "/a");
        assert_eq!(w.by_quick_exits[0].quick_exits, 40.0);
        assert_eq!(w.by_quick_exits[0].quick_exit_rate.unwrap().value, 0.4);
        // A page with no trouble is in no ranking.
        assert!(w.by_rage_clicks.iter().all(|p| p.path != "/c"));
        assert_eq!(w.zero_result_searches[0].key, "wetsuit");
        assert_eq!(w.zero_result_searches[0].count, 5.0);
    }
}
