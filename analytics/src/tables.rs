//! The analytics' daily aggregate tables, each listed once: its labels (which, with the site,
//! key a row) and its measures (summed). The visitor objects send [`Row`]s as deltas; the edge
//! writes each table's statements from this list and reads rows back as [`Row`]s for the
//! analyses. The tables themselves are in the edge's D1 migrations, which the edge's tests
//! hold to this list. No table holds a visitor id.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// An aggregate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Per experiment arm and day of first exposure: each visitor's per-metric values, as
    /// sufficient statistics (sums and sums of squares).
    Arms,
    /// Survey answers by day, survey, segment, page kind, experience and lifecycle stage.
    Answers,
    /// The comments that came with low scores.
    Comments,
    /// Visitor-days per lifecycle stage.
    Stages,
    /// Moves between lifecycle stages.
    Movements,
    /// Per page: views, landings, exits straight after landing, rage clicks, detractors.
    Pages,
    /// Searches by query: those that found nothing (`searches`) of all (`total`).
    Searches,
    /// Views of sold-out products.
    SoldOut,
    /// Per segment (and `""`, the whole site): visitor-days, converting ones, revenue, NPS,
    /// and the sums a variance clustered by visitor needs: each visitor's days and converting
    /// days within an ISO week are a cluster (`clusters`, and the changes of the sums of their
    /// squares and cross products).
    Segments,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::Arms,
        Table::Answers,
        Table::Comments,
        Table::Stages,
        Table::Movements,
        Table::Pages,
        Table::Searches,
        Table::SoldOut,
        Table::Segments,
    ];

    /// The SQL table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Arms => "arm_daily",
            Table::Answers => "answer_daily",
            Table::Comments => "comment_daily",
            Table::Stages => "stage_daily",
            Table::Movements => "movement_daily",
            Table::Pages => "page_daily",
            // With every search's total (local state from before keeps `search_daily`).
            Table::Searches => "search_days",
            Table::SoldOut => "sold_out_daily",
            // With the columns of the clustered variance (local state from before them keeps
            // its `segment_daily`, unread).
            Table::Segments => "segment_days",
        }
    }

    /// The text columns that key a row (after the site); every table has `day`.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Table::Arms => &["rule", "arm", "day"],
            Table::Answers => &[
                "day",
                "survey",
                "segment",
                "page_kind",
                "experience",
                "stage",
            ],
            Table::Comments => &["day", "survey", "score", "experience", "page", "comment"],
            Table::Stages => &["day", "stage"],
            Table::Movements => &["day", "from_stage", "to_stage"],
            Table::Pages => &["day", "path", "kind"],
            Table::Searches => &["day", "query"],
            Table::SoldOut => &["day", "product", "name"],
            Table::Segments => &["day", "segment"],
        }
    }

    /// The summed columns (SQL `REAL`).
    pub fn measures(self) -> &'static [&'static str] {
        match self {
            Table::Arms => &[
                "visitors",
                "conversions",
                "revenue",
                "revenue_ss",
                "clicks",
                "clicks_ss",
                "answers",
                "score",
                "score_ss",
            ],
            Table::Answers => &[
                "answers",
                "promoters",
                "passives",
                "detractors",
                "satisfied",
                "score",
            ],
            Table::Comments | Table::Stages | Table::Movements => &["visitors"],
            Table::Pages => &[
                "views",
                "landings",
                "quick_exits",
                "rage_clicks",
                "detractors",
            ],
            Table::Searches => &["searches", "total"],
            Table::SoldOut => &["views"],
            Table::Segments => &[
                "visitors",
                "converters",
                "revenue",
                "answers",
                "promoters",
                "passives",
                "detractors",
                "clusters",
                "days_ss",
                "converting_ss",
                "cross",
            ],
        }
    }
}

impl Table {
    /// The columns in the order [`Table::upsert_sql`] takes its values: site, labels,
    /// measures.
    pub fn columns(self) -> Vec<&'static str> {
        std::iter::once("site")
            .chain(self.labels().iter().copied())
            .chain(self.measures().iter().copied())
            .collect()
    }

    /// `INSERT ... ON CONFLICT DO UPDATE`, adding each measure to the row's; one `?` per
    /// column of [`Table::columns`].
    pub fn upsert_sql(self) -> String {
        let names = self.columns();
        let sums: Vec<String> = self
            .measures()
            .iter()
            .map(|m| format!("{m} = {m} + excluded.{m}"))
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (site, {}) DO UPDATE SET {}",
            self.name(),
            names.join(", "),
            vec!["?"; names.len()].join(", "),
            self.labels().join(", "),
            sums.join(", ")
        )
    }
}

/// One row of a table: a delta from a visitor object, or a row (or sum of rows) read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub table: Table,
    /// In [`Table::labels`] order.
    pub labels: Vec<String>,
    /// In [`Table::measures`] order.
    pub values: Vec<f64>,
}

impl Row {
    /// A row of zeros with these labels.
    pub fn new(table: Table, labels: &[&str]) -> Row {
        debug_assert_eq!(labels.len(), table.labels().len());
        Row {
            table,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            values: vec![0.0; table.measures().len()],
        }
    }

    /// Sets a measure (by column name) and gives the row back.
    pub fn with(mut self, measure: &str, value: f64) -> Row {
        let at = self.column(measure);
        self.values[at] = value;
        self
    }

    fn column(&self, measure: &str) -> usize {
        self.table
            .measures()
            .iter()
            .position(|m| *m == measure)
            .unwrap_or_else(|| panic!("{:?} has no measure {measure}", self.table))
    }

    /// A measure's value.
    pub fn get(&self, measure: &str) -> f64 {
        self.values[self.column(measure)]
    }

    /// A label's value.
    pub fn label(&self, name: &str) -> &str {
        let at = self
            .table
            .labels()
            .iter()
            .position(|l| *l == name)
            .unwrap_or_else(|| panic!("{:?} has no label {name}", self.table));
        &self.labels[at]
    }

    /// Whether the row carries anything.
    pub fn is_zero(&self) -> bool {
        self.values.iter().all(|v| *v == 0.0)
    }

    fn add(&mut self, other: &Row) {
        for (a, b) in self.values.iter_mut().zip(&other.values) {
            *a += b;
        }
    }
}

/// Sums rows with the same table and labels, keeping the first-seen order (a burst of a
/// visitor's events costs one upsert per row). Rows that add nothing go.
pub fn merge(rows: Vec<Row>) -> Vec<Row> {
    let mut at: HashMap<(Table, Vec<String>), usize> = HashMap::new();
    let mut merged: Vec<Row> = Vec::new();
    for row in rows {
        match at.get(&(row.table, row.labels.clone())) {
            Some(&i) => merged[i].add(&row),
            None => {
                at.insert((row.table, row.labels.clone()), merged.len());
                merged.push(row);
            }
        }
    }
    merged.retain(|r| !r.is_zero());
    merged
}

/// Sums rows by the value of some of their labels (the others are blanked), keeping the
/// first-seen order: the per-stage totals of a period, say.
pub fn sum_by(rows: &[Row], labels: &[&str]) -> Vec<Row> {
    let mut at: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut sums: Vec<Row> = Vec::new();
    for row in rows {
        let key: Vec<&str> = row
            .table
            .labels()
            .iter()
            .zip(&row.labels)
            .map(|(name, value)| {
                if labels.contains(name) {
                    value.as_str()
                } else {
                    ""
                }
            })
            .collect();
        match at.get(&key) {
            Some(&i) => sums[i].add(row),
            None => {
                sums.push(Row {
                    table: row.table,
                    labels: key.iter().map(|l| (*l).to_owned()).collect(),
                    values: row.values.clone(),
                });
                at.insert(key, sums.len() - 1);
            }
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_day_and_distinct_columns() {
        for table in Table::ALL {
            assert!(table.labels().contains(&"day"), "{table:?}");
            let mut columns: Vec<&str> = table.labels().to_vec();
            columns.extend(table.measures());
            let count = columns.len();
            columns.sort();
            columns.dedup();
            assert_eq!(columns.len(), count, "{table:?}");
            assert!(!columns.contains(&"site"));
        }
    }

    #[test]
    fn every_table_has_its_statements() {
        for table in Table::ALL {
            let upsert = table.upsert_sql();
            for m in table.measures() {
                assert!(upsert.contains(&format!("{m} = {m} + excluded.{m}")));
            }
            assert_eq!(upsert.matches('?').count(), table.columns().len());
        }
    }

    #[test]
    fn rows_merge_by_labels_and_empty_ones_go() {
        let a = Row::new(Table::Stages, &["2026-12-01", "new"]).with("visitors", 1.0);
        let b = Row::new(Table::Stages, &["2026-12-01", "cart"]).with("visitors", 1.0);
        let zero = Row::new(Table::Stages, &["2026-12-01", "loyal"]);
        let merged = merge(vec![a.clone(), b, a, zero]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].get("visitors"), 2.0);
        let by_day = sum_by(&merged, &["day"]);
        assert_eq!(by_day.len(), 1);
        assert_eq!(by_day[0].get("visitors"), 3.0);
        assert_eq!(by_day[0].label("stage"), "");
    }
}
