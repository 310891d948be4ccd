//! The daily report (`GET /v1/admin/reports`): the `daily` rows of a site and period,
//! one per day, experience, variant and audience segment (`rapport_analytics::tables::ReportDay`),
//! with their totals and rates (`rapport_analytics::report::totals`). Visitor objects
//! work the rows out and the aggregators sum them into D1, as for every aggregate table
//! (`crate::aggregates`).

use rapport_analytics::report::{self, ReportDay};
use serde::Deserialize;
use serde_json::json;
use worker::Env;

use crate::error::ApiError;

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

/// The label `GET /v1/admin/reports` filters by.
const EXPERIENCE: &str = "experience";

/// The report rows of a site and period (all experiences when `experience` is empty).
pub async fn rows(
    env: &Env,
    site: &str,
    from: &str,
    to: &str,
    experience: &str,
) -> Result<Vec<ReportDay>, ApiError> {
    let filter = (!experience.is_empty()).then_some((EXPERIENCE, experience));
    crate::aggregates::read(env, site, from, to, filter).await
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
    use rapport_analytics::tables::Table;

    #[test]
    fn the_report_is_filtered_by_one_of_its_labels() {
        // `select_sql` refuses a name that is not one of the table's labels.
        let sql = Table::Report.select_sql(Some(super::EXPERIENCE));
        assert!(
            sql.ends_with("AND experience = ?4 ORDER BY day, experience, rule, variant, segment")
        );
    }
}
