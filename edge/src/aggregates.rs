//! The analytics' aggregate tables in D1 (binding `REPORTS`, beside the report's `daily`
//! table): one table per `rapport_analytics::tables::Table`, one row per site and labels,
//! with summed measures. Their statements come from the table list (`Table::upsert_sql`);
//! the tables are in the D1 migrations (`edge/migrations/`), whose tests (`migrations.rs`)
//! apply them to SQLite and hold every table to its list.

use rapport_analytics::tables::{Row, Table};
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::{ApiError, Context};

pub fn database(env: &Env) -> Result<D1Database, ApiError> {
    env.d1("REPORTS")
        .map_err(|_| ApiError::NotConfigured("the REPORTS database"))
}

/// The statements that sum `rows` for `site` into their tables, for one batch with the
/// report's own rows.
pub fn statements(
    db: &D1Database,
    site: &str,
    rows: &[Row],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let mut statements = Vec::new();
    for table in Table::ALL {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.table == table).collect();
        if mine.is_empty() {
            continue;
        }
        let sql = table.upsert_sql();
        for row in mine {
            let mut values: Vec<JsValue> = vec![site.into()];
            values.extend(row.labels.iter().map(|l| JsValue::from(l.as_str())));
            values.extend(row.values.iter().map(|v| JsValue::from(*v)));
            statements.push(
                db.prepare(&sql)
                    .bind(&values)
                    .context("binding an analytics row")?,
            );
        }
    }
    Ok(statements)
}

/// A site's rows of `table` for the days `from..=to`, with an extra condition on one label
/// when `filter` is given.
pub async fn read(
    env: &Env,
    table: Table,
    site: &str,
    from: &str,
    to: &str,
    filter: Option<(&str, &str)>,
) -> Result<Vec<Row>, ApiError> {
    let db = database(env)?;
    let columns: Vec<&str> = table
        .labels()
        .iter()
        .chain(table.measures())
        .copied()
        .collect();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE site = ? AND day >= ? AND day <= ?",
        columns.join(", "),
        table.name()
    );
    let mut binds: Vec<JsValue> = vec![site.into(), from.into(), to.into()];
    if let Some((label, value)) = filter {
        // `label` is one of the table's own column names, never the caller's text.
        debug_assert!(table.labels().contains(&label));
        sql.push_str(&format!(" AND {label} = ?"));
        binds.push(value.into());
    }
    let found: Vec<Map<String, Value>> = db
        .prepare(&sql)
        .bind(&binds)
        .context("binding an analytics query")?
        .all()
        .await
        .context(format_args!("reading {}", table.name()))?
        .results()
        .context(format_args!("reading {}", table.name()))?;
    Ok(found
        .into_iter()
        .map(|row| Row {
            table,
            labels: table
                .labels()
                .iter()
                .map(|l| {
                    row.get(*l)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect(),
            values: table
                .measures()
                .iter()
                .map(|m| row.get(*m).and_then(Value::as_f64).unwrap_or(0.0))
                .collect(),
        })
        .collect())
}
