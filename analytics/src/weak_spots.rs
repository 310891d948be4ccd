//! Weak spots: the pages where shoppers struggle (exits straight after arriving, rage
//! clicks, detractor answers), the searches that find nothing, and the sold-out products
//! shoppers keep looking at.
//!
//! A busy page has more of everything. So pages and queries are ranked by their **excess**:
//! how many more quick exits, rage clicks, detractors or empty results they have than the
//! site's own rate predicts for their traffic, and only where their Wilson interval lies
//! above that rate and they have a minimum count. Every page's raw counts are listed too.

use serde::Serialize;

use crate::stats::{self, Estimate};
use crate::tables::{sum_by, PageDay, SearchDay, SoldOutDay};

/// How many entries each ranking keeps.
pub const TOP: usize = 10;
/// Fewer landings, views or searches than this are not ranked.
pub const MIN_BASE: f64 = 30.0;
/// Fewer exits, rage clicks, detractors or empty results than this are not ranked.
pub const MIN_COUNT: f64 = 5.0;

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

/// A page or a query with more of a sign of trouble than the site's rate predicts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excess {
    /// The page's path, or the search query.
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The sign of trouble, and what it is counted against (landings, views, searches).
    pub count: f64,
    pub base: f64,
    /// `count / base` with its Wilson interval.
    pub rate: Estimate,
    /// What the site's rate predicts for this base, and how many more there were.
    pub expected: f64,
    pub excess: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counted {
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub count: f64,
}

/// The site's own rates, which predict each page's and query's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRates {
    pub quick_exits_per_landing: Option<f64>,
    pub rage_clicks_per_view: Option<f64>,
    pub detractors_per_view: Option<f64>,
    pub empty_results_per_search: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeakSpots {
    pub site_rates: SiteRates,
    /// What a page or query needs to be ranked: landings, views or searches, and
    /// occurrences.
    pub minimum_base: f64,
    pub minimum_count: f64,
    pub by_quick_exits: Vec<Excess>,
    pub by_rage_clicks: Vec<Excess>,
    pub by_detractors: Vec<Excess>,
    pub zero_result_searches: Vec<Excess>,
    pub sold_out_products: Vec<Counted>,
    /// Every page's counts, the busiest first (at most 50).
    pub pages: Vec<Page>,
}

/// The entries whose `count` of `base` is above the site's rate, by excess.
fn by_excess(entries: impl Iterator<Item = (String, String, f64, f64)>) -> Vec<Excess> {
    let entries: Vec<(String, String, f64, f64)> = entries.collect();
    let (count, base) = entries
        .iter()
        .fold((0.0, 0.0), |(c, b), e| (c + e.2, b + e.3));
    if base <= 0.0 {
        return Vec::new();
    }
    let site = count / base;
    let mut ranked: Vec<Excess> = entries
        .into_iter()
        .filter(|(_, _, count, base)| *base >= MIN_BASE && *count >= MIN_COUNT)
        .filter_map(|(key, kind, count, base)| {
            // Several rage clicks can come from one view: the rate is capped at one.
            let rate = stats::wilson(count.min(base), base)?;
            let expected = base * site;
            (rate.ci_low > site).then_some(Excess {
                key,
                kind,
                count,
                base,
                rate,
                expected,
                excess: count - expected,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.excess
            .total_cmp(&a.excess)
            .then_with(|| a.key.cmp(&b.key))
    });
    ranked.truncate(TOP);
    ranked
}

fn rate(count: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| count / base)
}

/// The weak spots of a period, from the pages, searches and sold-out tables' rows.
pub fn weak_spots(pages: &[PageDay], searches: &[SearchDay], sold_out: &[SoldOutDay]) -> WeakSpots {
    let mut all: Vec<Page> = sum_by(pages, |r| (r.path.clone(), r.kind.clone()))
        .into_iter()
        .map(|((path, kind), r)| Page {
            path,
            kind,
            views: r.views,
            landings: r.landings,
            quick_exits: r.quick_exits,
            quick_exit_rate: stats::wilson(r.quick_exits, r.landings),
            rage_clicks: r.rage_clicks,
            rage_clicks_per_100_views: (r.views > 0.0)
                .then(|| (r.rage_clicks / r.views * 1000.0).round() / 10.0),
            detractors: r.detractors,
        })
        .collect();
    let queries: Vec<(String, String, f64, f64)> = sum_by(searches, |r| r.query.clone())
        .into_iter()
        .map(|(query, r)| (query, String::new(), r.searches, r.total))
        .collect();
    let of = |by: fn(&Page) -> (f64, f64)| {
        all.iter().map(move |p| {
            let (count, base) = by(p);
            (p.path.clone(), p.kind.clone(), count, base)
        })
    };
    // The site's rate: the sum of counts over the sum of bases.
    let site_rate = |by: fn(&Page) -> (f64, f64)| {
        let (count, base) = all.iter().fold((0.0, 0.0), |(c, b), p| {
            let (count, base) = by(p);
            (c + count, b + base)
        });
        rate(count, base)
    };
    let exits: fn(&Page) -> (f64, f64) = |p| (p.quick_exits, p.landings);
    let rage: fn(&Page) -> (f64, f64) = |p| (p.rage_clicks, p.views);
    let detractors: fn(&Page) -> (f64, f64) = |p| (p.detractors, p.views);
    let empty = queries
        .iter()
        .fold((0.0, 0.0), |(c, b), q| (c + q.2, b + q.3));
    let site = SiteRates {
        quick_exits_per_landing: site_rate(exits),
        rage_clicks_per_view: site_rate(rage),
        detractors_per_view: site_rate(detractors),
        empty_results_per_search: rate(empty.0, empty.1),
    };
    let spots = WeakSpots {
        site_rates: site,
        minimum_base: MIN_BASE,
        minimum_count: MIN_COUNT,
        by_quick_exits: by_excess(of(exits)),
        by_rage_clicks: by_excess(of(rage)),
        by_detractors: by_excess(of(detractors)),
        zero_result_searches: by_excess(queries.into_iter()),
        sold_out_products: top(sold_out),
        pages: Vec::new(),
    };
    all.sort_by(|a, b| {
        b.views
            .total_cmp(&a.views)
            .then_with(|| a.path.cmp(&b.path))
    });
    all.truncate(50);
    WeakSpots {
        pages: all,
        ..spots
    }
}

/// The sold-out products viewed most.
fn top(rows: &[SoldOutDay]) -> Vec<Counted> {
    let mut counted: Vec<Counted> = sum_by(rows, |r| (r.product.clone(), r.name.clone()))
        .into_iter()
        .map(|((key, name), r)| Counted {
            key,
            name,
            count: r.views,
        })
        .collect();
    counted.sort_by(|a, b| b.count.total_cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    counted.truncate(TOP);
    counted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(path: &str, views: f64, landings: f64, exits: f64, rage: f64) -> PageDay {
        PageDay {
            day: "2026-12-01".into(),
            path: path.into(),
            kind: "product".into(),
            views,
            landings,
            quick_exits: exits,
            rage_clicks: rage,
            detractors: 0.0,
        }
    }

    #[test]
    fn pages_are_ranked_by_excess_over_the_sites_rate_not_by_volume() {
        let pages = vec![
            // The busiest page exits at the site's usual 30%: many exits, no excess.
            page("/", 5000.0, 3000.0, 900.0, 20.0),
            // A small page that loses 60% of its landings: 24 exits, 12 more than predicted.
            page("/a", 100.0, 40.0, 24.0, 1.0),
            // Too few landings to judge.
            page("/b", 20.0, 10.0, 9.0, 9.0),
            // Rage clicks on 1 view in 10, against the site's 0.6%.
            page("/c", 300.0, 10.0, 3.0, 30.0),
        ];
        let search = |query: &str, searches: f64, total: f64| SearchDay {
            day: "2026-12-01".into(),
            query: query.into(),
            searches,
            total,
        };
        let searches = vec![search("wetsuit", 40.0, 40.0), search("shirt", 10.0, 400.0)];
        let w = weak_spots(&pages, &searches, &[]);
        let site = w.site_rates.quick_exits_per_landing.unwrap();
        assert!((site - 936.0 / 3060.0).abs() < 1e-12);
        assert_eq!(w.by_quick_exits.len(), 1, "{:?}", w.by_quick_exits);
        let a = &w.by_quick_exits[0];
        assert_eq!((a.key.as_str(), a.count, a.base), ("/a", 24.0, 40.0));
        assert!((a.excess - (24.0 - 40.0 * site)).abs() < 1e-9);
        assert!(a.rate.ci_low > site);
        assert_eq!(w.by_rage_clicks[0].key, "/c");
        assert!(w
            .by_rage_clicks
            .iter()
            .all(|p| p.key != "/b" && p.key != "/"));
        // "wetsuit" finds nothing every time, against the site's 11%; "shirt" is usual.
        assert_eq!(w.zero_result_searches.len(), 1);
        assert_eq!(w.zero_result_searches[0].key, "wetsuit");
        assert!((w.zero_result_searches[0].expected - 40.0 * 50.0 / 440.0).abs() < 1e-9);
        // Every page's counts are listed, the busiest first.
        assert_eq!(w.pages[0].path, "/");
        assert_eq!(w.pages.len(), 4);
    }
}
