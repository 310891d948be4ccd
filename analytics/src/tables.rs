//! Every aggregate table, listed once in [`tables!`]: the daily report and the analytics'
//! tables. Each table is a typed row (a struct: its labels, which with the site key the row,
//! and its measures, which are summed), a variant of [`Table`] (its SQL name, columns and
//! key) and a variant of [`Row`] (a delta of any table, as the visitor objects send them to
//! the aggregators). The SQL that writes and reads them is written here from that list
//! ([`Table::upsert_sql`], [`Table::select_sql`]); the tables themselves are in the edge's
//! D1 migrations, which the edge's tests hold to this list. No table holds a visitor id, and
//! no measure is named by a string: a misspelt one does not compile.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

/// How a measure is stored: its SQL column type, and its value as D1 binds it.
pub trait Measure: Copy + Default + std::ops::AddAssign {
    const SQL_TYPE: &'static str;
    fn to_f64(self) -> f64;
    fn from_f64(value: f64) -> Self;
}

impl Measure for i64 {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(value: f64) -> Self {
        value.round() as i64
    }
}

impl Measure for f64 {
    const SQL_TYPE: &'static str = "REAL";
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(value: f64) -> Self {
        value
    }
}

/// A table's typed row: what [`tables!`] gives each table's struct.
pub trait Aggregate: Clone + Default + Into<Row> {
    const TABLE: Table;
    /// The labels' values, in [`Table::labels`] order.
    fn labels(&self) -> Vec<&str>;
    /// The measures' values, in [`Table::measures`] order.
    fn values(&self) -> Vec<f64>;
    /// Adds another row's measures into this one's.
    fn add(&mut self, other: &Self);
    /// What is left of these sums once `part`'s are taken away, each measure at least zero
    /// (the rest of the site, say, from the site's sums and a segment's); the labels stay.
    fn remainder(&self, part: &Self) -> Self;
    /// A row from its labels and values in column order (as rows travel, and as D1 gives
    /// them back); `None` when the counts do not fit.
    fn from_columns(labels: &[String], values: &[f64]) -> Option<Self>;
    /// The row, when `row` is one of this table's.
    fn of(row: &Row) -> Option<&Self>;

    /// The values of the labels that key the row ([`Table::key`]).
    fn key(&self) -> Vec<&str> {
        let key = Self::TABLE.key();
        Self::TABLE
            .labels()
            .iter()
            .zip(self.labels())
            .filter(|(name, _)| key.contains(name))
            .map(|(_, value)| value)
            .collect()
    }
}

/// The aggregate tables. For each: its doc, its [`Table`] and [`Row`] variant, its typed
/// row, its SQL name, the labels that key it when not all of them do, its text labels in
/// column order, and its measures with their types.
macro_rules! tables {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident($row:ident) in $name:literal $(keyed by [$($key:ident),+])? {
            labels: [$($(#[$label_meta:meta])* $label:ident),+ $(,)?],
            measures: [$($(#[doc = $measure_doc:literal])* $measure:ident: $ty:ty),+ $(,)?],
        }
    )+) => {
        /// An aggregate table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Table {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Table {
            pub const ALL: &'static [Table] = &[$(Table::$variant),+];

            /// The SQL table's name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Table::$variant => $name,)+
                }
            }

            /// The text columns (after the site), in column order; every table has `day`.
            pub fn labels(self) -> &'static [&'static str] {
                match self {
                    $(Table::$variant => &[$(stringify!($label)),+],)+
                }
            }

            /// The labels that key a row (after the site).
            pub fn key(self) -> &'static [&'static str] {
                match self {
                    $(Table::$variant => tables!(@key [$($($key),+)?] [$($label),+]),)+
                }
            }

            /// The summed columns and their SQL types, in column order.
            pub fn measures(self) -> &'static [(&'static str, &'static str)] {
                match self {
                    $(Table::$variant => &[$((stringify!($measure), <$ty as Measure>::SQL_TYPE)),+],)+
                }
            }
        }

        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
            #[serde(default, deny_unknown_fields)]
            pub struct $row {
                $($(#[$label_meta])* pub $label: String,)+
                $($(#[doc = $measure_doc])* pub $measure: $ty,)+
            }

            impl Aggregate for $row {
                const TABLE: Table = Table::$variant;

                fn labels(&self) -> Vec<&str> {
                    vec![$(self.$label.as_str()),+]
                }

                fn values(&self) -> Vec<f64> {
                    vec![$(Measure::to_f64(self.$measure)),+]
                }

                fn add(&mut self, other: &Self) {
                    $(self.$measure += other.$measure;)+
                }

                fn remainder(&self, part: &Self) -> Self {
                    let less = |a: f64, b: f64| (a - b).max(0.0);
                    $row {
                        $($measure: Measure::from_f64(less(
                            Measure::to_f64(self.$measure),
                            Measure::to_f64(part.$measure),
                        )),)+
                        ..self.clone()
                    }
                }

                fn from_columns(labels: &[String], values: &[f64]) -> Option<Self> {
                    let (mut labels, mut values) = (labels.iter(), values.iter());
                    let row = $row {
                        $($label: labels.next()?.clone(),)+
                        $($measure: Measure::from_f64(*values.next()?),)+
                    };
                    (labels.next().is_none() && values.next().is_none()).then_some(row)
                }

                fn of(row: &Row) -> Option<&Self> {
                    match row {
                        Row::$variant(row) => Some(row),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }

            impl $row {
                /// This table's rows among `rows`.
                pub fn among(rows: &[Row]) -> impl Iterator<Item = &$row> {
                    rows.iter().filter_map(<$row as Aggregate>::of)
                }
            }

            impl From<$row> for Row {
                fn from(row: $row) -> Row {
                    Row::$variant(row)
                }
            }
        )+

        /// A row of any table: a delta from a visitor object on its way to D1. In JSON, its
        /// table, and its labels and values in column order (one encoding for every table,
        /// which keeps the edge's code small).
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(try_from = "Stored")]
        pub enum Row {
            $($variant($row),)+
        }

        impl Row {
            pub fn table(&self) -> Table {
                match self {
                    $(Row::$variant(_) => Table::$variant,)+
                }
            }

            /// The labels' values, in [`Table::labels`] order.
            pub fn labels(&self) -> Vec<&str> {
                match self {
                    $(Row::$variant(row) => row.labels(),)+
                }
            }

            /// The values of the labels that key the row.
            pub fn key(&self) -> Vec<&str> {
                match self {
                    $(Row::$variant(row) => row.key(),)+
                }
            }

            /// The measures' values, in [`Table::measures`] order.
            pub fn values(&self) -> Vec<f64> {
                match self {
                    $(Row::$variant(row) => row.values(),)+
                }
            }

            /// Adds `other`'s measures when it is a row of the same table.
            fn add(&mut self, other: &Row) {
                match (self, other) {
                    $((Row::$variant(a), Row::$variant(b)) => a.add(b),)+
                    _ => {}
                }
            }

            /// A row of `table` from its labels and values in column order.
            fn from_columns(table: Table, labels: &[String], values: &[f64]) -> Option<Row> {
                match table {
                    $(Table::$variant => $row::from_columns(labels, values).map(Row::$variant),)+
                }
            }
        }
    };
    (@key [] [$($label:ident),+]) => {
        &[$(stringify!($label)),+]
    };
    (@key [$($key:ident),+] [$($label:ident),+]) => {
        &[$(stringify!($key)),+]
    };
}

tables! {
    /// The daily report: exposures, impressions, clicks, dismissals, answers and conversions
    /// per day, experience, variant and audience segment.
    Report(ReportDay) in "daily" keyed by [day, experience, variant, segment] {
        labels: [
            /// UTC day, `YYYY-MM-DD`; empty in totals over days.
            #[serde(skip_serializing_if = "String::is_empty")]
            day,
            experience,
            /// The rule that showed the experience: a label of it, not part of the key.
            rule,
            /// Empty when the rule is not an experiment.
            variant,
            /// The audience segment; empty in totals over segments.
            #[serde(skip_serializing_if = "String::is_empty")]
            segment,
        ],
        measures: [
            /// Control-group visitors who would have been shown the experiment.
            exposures: i64,
            impressions: i64,
            clicks: i64,
            dismissals: i64,
            answers: i64,
            score_sum: i64,
            /// NPS answers of 9-10.
            promoters: i64,
            /// NPS answers of 0-6.
            detractors: i64,
            conversions: i64,
            revenue: f64,
        ],
    }

    /// Per experiment arm and day of first exposure: each visitor's per-metric values, as
    /// sufficient statistics (sums and sums of squares).
    Arms(ArmDay) in "arm_daily" {
        labels: [rule, arm, day],
        measures: [
            visitors: f64,
            conversions: f64,
            revenue: f64,
            revenue_ss: f64,
            clicks: f64,
            clicks_ss: f64,
            answers: f64,
            score: f64,
            score_ss: f64,
        ],
    }

    /// Survey answers by day, survey, segment, page kind, experience and lifecycle stage.
    Answers(AnswerDay) in "answer_daily" {
        labels: [day, survey, segment, page_kind, experience, stage],
        measures: [
            answers: f64,
            promoters: f64,
            passives: f64,
            detractors: f64,
            satisfied: f64,
            score: f64,
        ],
    }

    /// The comments that came with low scores.
    Comments(CommentDay) in "comment_daily" {
        labels: [day, survey, score, experience, page, comment],
        measures: [visitors: f64],
    }

    /// Visitor-days per lifecycle stage.
    Stages(StageDay) in "stage_daily" {
        labels: [day, stage],
        measures: [visitors: f64],
    }

    /// Moves between lifecycle stages.
    Movements(MovementDay) in "movement_daily" {
        labels: [day, from_stage, to_stage],
        measures: [visitors: f64],
    }

    /// Per page: views, landings, exits straight after landing, rage clicks, detractors.
    Pages(PageDay) in "page_daily" {
        labels: [day, path, kind],
        measures: [
            views: f64,
            landings: f64,
            quick_exits: f64,
            rage_clicks: f64,
            detractors: f64,
        ],
    }

    /// Searches by query: those that found nothing (`searches`) of all (`total`). (With
    /// every search's total: local state from before keeps `search_daily`.)
    Searches(SearchDay) in "search_days" {
        labels: [day, query],
        measures: [searches: f64, total: f64],
    }

    /// Views of sold-out products.
    SoldOut(SoldOutDay) in "sold_out_daily" {
        labels: [day, product, name],
        measures: [views: f64],
    }

    /// Per segment (and `""`, the whole site): visitor-days, converting ones, revenue, NPS,
    /// and the sums a variance clustered by visitor needs: each visitor's days and converting
    /// days within an ISO week are a cluster (`clusters`, and the changes of the sums of their
    /// squares and cross products). (With those columns: local state from before them keeps
    /// its `segment_daily`, unread.)
    Segments(SegmentDay) in "segment_days" {
        labels: [day, segment],
        measures: [
            visitors: f64,
            converters: f64,
            revenue: f64,
            answers: f64,
            promoters: f64,
            passives: f64,
            detractors: f64,
            clusters: f64,
            days_ss: f64,
            converting_ss: f64,
            cross: f64,
        ],
    }
}

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Columns<'a> {
            table: Table,
            labels: Vec<&'a str>,
            values: Vec<f64>,
        }
        Columns {
            table: self.table(),
            labels: self.labels(),
            values: self.values(),
        }
        .serialize(serializer)
    }
}

/// A row as it travels, or as a version before the typed tables kept it: outboxes and
/// aggregators may hold either across an upgrade.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    /// A row's table, labels and values in column order (as the analytics' rows always
    /// travelled).
    Columns {
        table: Table,
        labels: Vec<String>,
        values: Vec<f64>,
    },
    /// Before: the report's bare tally.
    Tally(ReportDay),
    /// Before: the aggregators' deltas, tagged by kind.
    Delta(Delta),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Delta {
    Tally(ReportDay),
    Row {
        table: Table,
        labels: Vec<String>,
        values: Vec<f64>,
    },
}

impl TryFrom<Stored> for Row {
    type Error = String;

    fn try_from(stored: Stored) -> Result<Row, String> {
        let (table, labels, values) = match stored {
            Stored::Tally(tally) | Stored::Delta(Delta::Tally(tally)) => return Ok(tally.into()),
            Stored::Columns {
                table,
                labels,
                values,
            }
            | Stored::Delta(Delta::Row {
                table,
                labels,
                values,
            }) => (table, labels, values),
        };
        Row::from_columns(table, &labels, &values).ok_or_else(|| {
            format!(
                "a {} row has {} labels and {} measures",
                table.name(),
                table.labels().len(),
                table.measures().len()
            )
        })
    }
}

impl Table {
    /// The columns in the order [`Table::upsert_sql`] takes its values: site, labels,
    /// measures.
    pub fn columns(self) -> Vec<&'static str> {
        std::iter::once("site")
            .chain(self.labels().iter().copied())
            .chain(self.measures().iter().map(|(name, _)| *name))
            .collect()
    }

    /// `INSERT ... ON CONFLICT DO UPDATE`, adding each measure to the row's; one `?` per
    /// column of [`Table::columns`].
    pub fn upsert_sql(self) -> String {
        let names = self.columns();
        let sums: Vec<String> = self
            .measures()
            .iter()
            .map(|(m, _)| format!("{m} = {m} + excluded.{m}"))
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (site, {}) DO UPDATE SET {}",
            self.name(),
            names.join(", "),
            vec!["?"; names.len()].join(", "),
            self.key().join(", "),
            sums.join(", ")
        )
    }

    /// `SELECT` of every column but the site, for a site (`?1`) and the days `?2..=?3`,
    /// and, when `label` is given, that label's value (`?4`); ordered by the labels.
    /// `label` must be one of the table's labels: a column name, never a caller's text.
    pub fn select_sql(self, label: Option<&str>) -> String {
        let columns = &self.columns()[1..];
        let mut sql = format!(
            "SELECT {} FROM {} WHERE site = ?1 AND day >= ?2 AND day <= ?3",
            columns.join(", "),
            self.name()
        );
        if let Some(label) = label {
            assert!(
                self.labels().contains(&label),
                "{} has no label {label}",
                self.name()
            );
            sql.push_str(&format!(" AND {label} = ?4"));
        }
        sql.push_str(&format!(" ORDER BY {}", self.labels().join(", ")));
        sql
    }
}

impl Row {
    /// An `INSERT` with the row's values written in, for a SQL file (`wrangler d1 execute
    /// --file`): text quoted as SQL quotes it, numbers as Rust writes them.
    pub fn insert_sql(&self, site: &str) -> String {
        let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
        let values: Vec<String> = std::iter::once(quote(site))
            .chain(self.labels().into_iter().map(quote))
            .chain(self.values().into_iter().map(|v| v.to_string()))
            .collect();
        let table = self.table();
        format!(
            "INSERT INTO {} ({}) VALUES ({});",
            table.name(),
            table.columns().join(", "),
            values.join(", ")
        )
    }
}

/// Sums rows with the same table and key, keeping the first-seen order (a burst of a
/// visitor's events costs one upsert per row). Rows that add nothing go.
pub fn merge(rows: Vec<Row>) -> Vec<Row> {
    let key = |row: &Row| (row.table(), owned(row.key()));
    let mut merged = grouped(rows, key, Row::add);
    merged.retain(|r| r.values().iter().any(|v| *v != 0.0));
    merged
}

/// Sums rows of one table with the same key, keeping the first-seen order and the first
/// row's labels.
pub fn combine<T: Aggregate>(rows: impl IntoIterator<Item = T>) -> Vec<T> {
    grouped(rows, |row| owned(row.key()), T::add)
}

/// Sums rows by a key of their own (some of their labels, say), keeping the first-seen
/// order: each key with the sum of its rows' measures (whose labels are left empty).
pub fn sum_by<'a, T: Aggregate + 'a, K: Eq + Hash + Clone>(
    rows: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, T)> {
    let blank = rows.into_iter().map(|row| (key(row), total([row])));
    grouped(blank, |(k, _)| k.clone(), |(_, sum), (_, row)| sum.add(row))
}

/// Items with the same key folded into the first of them by `add`, in first-seen order.
fn grouped<T, K: Eq + Hash>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    add: impl Fn(&mut T, &T),
) -> Vec<T> {
    let mut at: HashMap<K, usize> = HashMap::new();
    let mut groups: Vec<T> = Vec::new();
    for item in items {
        match at.entry(key(&item)) {
            std::collections::hash_map::Entry::Occupied(i) => add(&mut groups[*i.get()], &item),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(groups.len());
                groups.push(item);
            }
        }
    }
    groups
}

fn owned(labels: Vec<&str>) -> Vec<String> {
    labels.into_iter().map(str::to_owned).collect()
}

/// The sum of rows' measures (labels left empty).
pub fn total<'a, T: Aggregate + 'a>(rows: impl IntoIterator<Item = &'a T>) -> T {
    let mut sum = T::default();
    for row in rows {
        sum.add(row);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_day_distinct_columns_and_a_key_of_its_labels() {
        for table in Table::ALL.iter().copied() {
            assert!(table.labels().contains(&"day"), "{table:?}");
            assert!(table.key().iter().all(|k| table.labels().contains(k)));
            let mut columns = table.columns();
            let count = columns.len();
            columns.sort();
            columns.dedup();
            assert_eq!(columns.len(), count, "{table:?}");
        }
        assert_eq!(
            Table::Report.key(),
            ["day", "experience", "variant", "segment"]
        );
        assert_eq!(Table::Stages.key(), ["day", "stage"]);
    }

    #[test]
    fn every_table_has_its_statements() {
        for table in Table::ALL.iter().copied() {
            let upsert = table.upsert_sql();
            for (m, _) in table.measures() {
                assert!(upsert.contains(&format!("{m} = {m} + excluded.{m}")));
            }
            assert_eq!(upsert.matches('?').count(), table.columns().len());
            assert!(upsert.contains(&format!("ON CONFLICT (site, {})", table.key().join(", "))));
            assert!(!table.select_sql(None).contains("site,"));
        }
        assert!(Table::Report
            .select_sql(Some("experience"))
            .contains("AND experience = ?4"));
    }

    #[test]
    fn a_rows_insert_names_every_column_and_quotes_its_text() {
        let row: Row = SearchDay {
            day: "2026-12-01".into(),
            query: "men's shirt".into(),
            searches: 0.0,
            total: 2.5,
        }
        .into();
        assert_eq!(
            row.insert_sql("demo"),
            "INSERT INTO search_days (site, day, query, searches, total) \
             VALUES ('demo', '2026-12-01', 'men''s shirt', 0, 2.5);"
        );
    }

    #[test]
    #[should_panic(expected = "no label")]
    fn a_select_refuses_a_label_the_table_does_not_have() {
        Table::Stages.select_sql(Some("stage; DROP TABLE daily"));
    }

    #[test]
    fn rows_merge_by_key_and_empty_ones_go() {
        let stage = |stage: &str, visitors: f64| -> Row {
            StageDay {
                day: "2026-12-01".into(),
                stage: stage.into(),
                visitors,
            }
            .into()
        };
        // The report's rule is a label outside its key: rows differing only by it merge.
        let shown = |rule: &str| -> Row {
            ReportDay {
                day: "2026-12-01".into(),
                experience: "welcome".into(),
                rule: rule.into(),
                impressions: 1,
                ..ReportDay::default()
            }
            .into()
        };
        let merged = merge(vec![
            stage("new", 1.0),
            stage("cart", 1.0),
            stage("new", 1.0),
            stage("loyal", 0.0),
            shown("a"),
            shown("b"),
        ]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0], stage("new", 2.0));
        let Row::Report(report) = &merged[2] else {
            panic!("{merged:?}")
        };
        assert_eq!((report.rule.as_str(), report.impressions), ("a", 2));
    }

    #[test]
    fn sums_by_a_key_of_the_rows_own() {
        let row = |day: &str, stage: &str, visitors: f64| StageDay {
            day: day.into(),
            stage: stage.into(),
            visitors,
        };
        let rows = [
            row("2026-12-01", "new", 1.0),
            row("2026-12-02", "new", 2.0),
            row("2026-12-01", "cart", 4.0),
        ];
        let by_stage = sum_by(&rows, |r| r.stage.clone());
        assert_eq!(by_stage.len(), 2);
        assert_eq!(by_stage[0].0, "new");
        assert_eq!(by_stage[0].1.visitors, 3.0);
        assert_eq!(by_stage[0].1.day, "");
        assert_eq!(total(&rows).visitors, 7.0);
        let rest = total(&rows).remainder(&rows[2]);
        assert_eq!(rest.visitors, 3.0);
        assert_eq!(
            rows[0].remainder(&rows[1]).visitors,
            0.0,
            "never below zero"
        );
    }

    #[test]
    fn rows_travel_as_their_table_and_columns_and_rows_from_before_still_read() {
        let row: Row = SoldOutDay {
            day: "2026-12-01".into(),
            product: "mug".into(),
            name: "Mug".into(),
            views: 2.0,
        }
        .into();
        let json = serde_json::to_string(&row).unwrap();
        let columns = r#"{"table":"sold_out","labels":["2026-12-01","mug","Mug"],"values":[2.0]}"#;
        assert_eq!(json, columns);
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), row);
        // As outboxes and aggregators kept them before: a bare tally, a delta by kind.
        let delta = format!(r#"{{"row":{columns}}}"#);
        assert_eq!(serde_json::from_str::<Row>(&delta).unwrap(), row);
        let tally = r#"{"day":"2026-12-01","experience":"welcome","rule":"welcome","variant":"","segment":"new","impressions":1}"#;
        let Row::Report(report) = serde_json::from_str::<Row>(tally).unwrap() else {
            panic!("a bare tally is a report row")
        };
        assert_eq!((report.impressions, report.segment.as_str()), (1, "new"));
        let wrapped = format!(r#"{{"tally":{tally}}}"#);
        assert!(matches!(
            serde_json::from_str::<Row>(&wrapped),
            Ok(Row::Report(_))
        ));
        // What fits no table is refused, not read as zeros.
        let short = r#"{"table":"sold_out","labels":["2026-12-01"],"values":[2.0]}"#;
        assert!(serde_json::from_str::<Row>(short).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"table":"stages","visits":1}"#).is_err());
        let report: Row = ReportDay {
            day: "2026-12-01".into(),
            revenue: 12.5,
            conversions: 1,
            ..ReportDay::default()
        }
        .into();
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), report);
        assert!(serde_json::from_str::<Row>(r#"{"learn":{}}"#).is_err());
    }
}
