//! Every aggregate table in D1 (binding `REPORTS`): the daily report and the analytics'
//! tables, one per `rapport_analytics::tables::Table`, one row per site and key, with summed
//! measures. The statements come from the typed list (`Table::upsert_sql`,
//! `Table::select_sql`) and run here only; the tables are in the D1 migrations
//! (`edge/migrations/`), whose tests (`migrations.rs`) apply them to SQLite and hold every
//! table to its list.

use rapport_analytics::tables::{Aggregate, Row, Table};
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::{ApiError, Context};

pub fn database(env: &Env) -> Result<D1Database, ApiError> {
    env.d1("REPORTS")
        .map_err(|_| ApiError::NotConfigured("the REPORTS database"))
}

/// The statements that sum `rows` for `site` into their tables, for one batch (all or
/// nothing) with whatever else the caller writes.
pub fn statements(
    db: &D1Database,
    site: &str,
    rows: &[Row],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let mut statements = Vec::new();
    for table in Table::ALL.iter().copied() {
        let mut mine = rows.iter().filter(|r| r.table() == table).peekable();
        if mine.peek().is_none() {
            continue;
        }
        let sql = table.upsert_sql();
        for row in mine {
            let mut values: Vec<JsValue> = vec![site.into()];
            values.extend(row.labels().into_iter().map(JsValue::from));
            values.extend(row.values().into_iter().map(JsValue::from));
            statements.push(
                db.prepare(&sql)
                    .bind(&values)
                    .context(format_args!("binding a {} row", table.name()))?,
            );
        }
    }
    Ok(statements)
}

/// A site's rows of table `T` for the days `from..=to`, ordered by their labels; with
/// `filter`, only those whose label (one of the table's own column names, never the
/// caller's text) has that value.
pub async fn read<T: Aggregate>(
    env: &Env,
    site: &str,
    from: &str,
    to: &str,
    filter: Option<(&str, &str)>,
) -> Result<Vec<T>, ApiError> {
    let db = database(env)?;
    let table = T::TABLE;
    let mut binds: Vec<JsValue> = vec![site.into(), from.into(), to.into()];
    if let Some((_, value)) = filter {
        binds.push(value.into());
    }
    // Each row's columns in the select's order, labels then measures: one way of reading
    // for every table.
    let found: Vec<Vec<Value>> = db
        .prepare(table.select_sql(filter.map(|(label, _)| label)))
        .bind(&binds)
        .context(format_args!("binding a query of {}", table.name()))?
        .raw()
        .await
        .context(format_args!("reading {}", table.name()))?;
    let labels = table.labels().len();
    found
        .into_iter()
        .map(|columns| {
            let (text, numbers) = columns.split_at(labels.min(columns.len()));
            let text: Vec<String> = text
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect();
            let numbers: Vec<f64> = numbers.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect();
            T::from_columns(&text, &numbers).ok_or_else(|| {
                ApiError::internal(
                    format!("reading {}", table.name()),
                    format!("a row of {} columns", columns.len()),
                )
            })
        })
        .collect()
}
