//! Report aggregates in D1 (binding `REPORTS`): one row per site, day, experience, variant
//! and audience segment, with the measures `rapport_rules::report` defines.
//!
//! Visitor objects compute tallies and keep them in their own outbox until D1 has them;
//! [`statements`] sums a batch into D1 in one transaction. The statements are written from
//! `report::LABELS` and `report::MEASURES`; the table is in the D1 migrations
//! (`edge/migrations/`), which the tests apply to SQLite and hold to those lists.

use rapport_analytics::tables::Row;
use rapport_rules::report::{self, Tally, LABELS, MEASURES};
use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::{ApiError, Context};

/// The primary key: the site and every label but the rule.
pub(crate) fn key() -> Vec<&'static str> {
    std::iter::once("site")
        .chain(LABELS.iter().copied().filter(|l| *l != "rule"))
        .collect()
}

/// `INSERT ... ON CONFLICT DO UPDATE`, adding each measure to the row's.
pub(crate) fn upsert() -> String {
    let names: Vec<&str> = std::iter::once("site")
        .chain(LABELS.iter().copied())
        .chain(MEASURES.iter().map(|(name, _)| *name))
        .collect();
    let sums: Vec<String> = MEASURES
        .iter()
        .map(|(name, _)| format!("{name} = {name} + excluded.{name}"))
        .collect();
    format!(
        "INSERT INTO daily ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        names.join(", "),
        vec!["?"; names.len()].join(", "),
        key().join(", "),
        sums.join(", ")
    )
}

/// Every column but the site.
fn columns() -> String {
    let names: Vec<&str> = LABELS
        .iter()
        .copied()
        .chain(MEASURES.iter().map(|(name, _)| *name))
        .collect();
    names.join(", ")
}

fn database(env: &Env) -> Result<D1Database, ApiError> {
    crate::aggregates::database(env)
}

/// The statements that sum `tallies` for `site` into the daily rows, and `rows` into the
/// analytics' tables, for one batch (all or nothing) with whatever else the caller writes.
pub fn statements(
    db: &D1Database,
    site: &str,
    tallies: &[Tally],
    rows: &[Row],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let upsert = upsert();
    let mut statements = crate::aggregates::statements(db, site, rows)?;
    for tally in tallies {
        let mut values: Vec<JsValue> = vec![site.into()];
        values.extend(tally.labels().into_iter().map(JsValue::from));
        values.extend(tally.measures().into_iter().map(JsValue::from));
        let statement = db
            .prepare(&upsert)
            .bind(&values)
            .context("binding a report row")?;
        statements.push(statement);
    }
    Ok(statements)
}

/// `GET /v1/admin/reports` parameters.
#[derive(Debug, Deserialize)]
pub struct Query {
    pub site: String,
    /// Inclusive `YYYY-MM-DD` bounds.
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub experience: Option<String>,
}

/// The report rows of a site and period (all experiences when `experience` is empty).
pub async fn rows(
    env: &Env,
    site: &str,
    from: &str,
    to: &str,
    experience: &str,
) -> Result<Vec<Tally>, ApiError> {
    let db = database(env)?;
    let sql = format!(
        "SELECT {} FROM daily WHERE site = ? AND day >= ? AND day <= ? AND (? = '' OR experience = ?)
         ORDER BY day, experience, variant, segment",
        columns()
    );
    let rows: Vec<Tally> = db
        .prepare(&sql)
        .bind(&[
            site.into(),
            from.into(),
            to.into(),
            experience.into(),
            experience.into(),
        ])
        .context("binding the report query")?
        .all()
        .await
        .context("reading report rows from D1")?
        .results()
        .context("reading report rows from D1")?;
    Ok(rows)
}

/// The rows for a site and period, and per experience and variant their totals with the
/// rates (`report::totals`).
pub async fn query(env: &Env, q: &Query) -> Result<serde_json::Value, ApiError> {
    let experience = q.experience.clone().unwrap_or_default();
    let rows = rows(env, &q.site, &q.from, &q.to, &experience).await?;
    let totals = report::totals(&rows);
    Ok(json!({ "site": q.site, "from": q.from, "to": q.to, "totals": totals, "rows": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_name_every_measure() {
        let upsert = upsert();
        for (name, _) in MEASURES {
            assert!(upsert.contains(&format!("{name} = {name} + excluded.{name}")));
        }
        let placeholders = upsert.matches('?').count();
        assert_eq!(placeholders, 1 + LABELS.len() + MEASURES.len());
    }
}
