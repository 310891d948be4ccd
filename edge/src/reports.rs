//! Report aggregates in D1 (binding `REPORTS`): one row per site, day, experience, variant
//! and audience segment, with the counts the marketer console reads.
//!
//! Visitor objects compute tallies (`rapport_rules::report`) and keep them in their own
//! outbox until D1 has them; [`add`] sums a batch into D1 in one transaction. The table is
//! created on first use, so a fresh database (local or deployed) needs no migration step.

use rapport_rules::report::Tally;
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::error::ApiError;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS daily (
    site TEXT NOT NULL, day TEXT NOT NULL, experience TEXT NOT NULL, rule TEXT NOT NULL,
    variant TEXT NOT NULL, segment TEXT NOT NULL,
    exposures INTEGER NOT NULL DEFAULT 0, impressions INTEGER NOT NULL DEFAULT 0,
    clicks INTEGER NOT NULL DEFAULT 0, dismissals INTEGER NOT NULL DEFAULT 0,
    answers INTEGER NOT NULL DEFAULT 0, score_sum INTEGER NOT NULL DEFAULT 0,
    promoters INTEGER NOT NULL DEFAULT 0, detractors INTEGER NOT NULL DEFAULT 0,
    conversions INTEGER NOT NULL DEFAULT 0, revenue REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (site, day, experience, variant, segment)
)";

const UPSERT: &str = "INSERT INTO daily (site, day, experience, rule, variant, segment,
    exposures, impressions, clicks, dismissals, answers, score_sum, promoters, detractors,
    conversions, revenue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (site, day, experience, variant, segment) DO UPDATE SET
    exposures = exposures + excluded.exposures, impressions = impressions + excluded.impressions,
    clicks = clicks + excluded.clicks, dismissals = dismissals + excluded.dismissals,
    answers = answers + excluded.answers, score_sum = score_sum + excluded.score_sum,
    promoters = promoters + excluded.promoters, detractors = detractors + excluded.detractors,
    conversions = conversions + excluded.conversions, revenue = revenue + excluded.revenue";

fn database(env: &Env) -> worker::Result<D1Database> {
    env.d1("REPORTS")
}

/// Sums `tallies` for `site` into the daily rows, all or nothing.
pub async fn add(env: &Env, site: &str, tallies: &[Tally]) -> worker::Result<()> {
    if tallies.is_empty() {
        return Ok(());
    }
    let db = database(env)?;
    let mut statements = vec![db.prepare(SCHEMA)];
    for t in tallies {
        let values: [JsValue; 16] = [
            site.into(),
            t.day.as_str().into(),
            t.experience.as_str().into(),
            t.rule.as_str().into(),
            t.variant.as_str().into(),
            t.segment.as_str().into(),
            (t.exposures as f64).into(),
            (t.impressions as f64).into(),
            (t.clicks as f64).into(),
            (t.dismissals as f64).into(),
            (t.answers as f64).into(),
            (t.score_sum as f64).into(),
            (t.promoters as f64).into(),
            (t.detractors as f64).into(),
            (t.conversions as f64).into(),
            t.revenue.into(),
        ];
        statements.push(db.prepare(UPSERT).bind(&values)?);
    }
    db.batch(statements).await?;
    Ok(())
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Row {
    day: String,
    experience: String,
    rule: String,
    variant: String,
    segment: String,
    exposures: i64,
    impressions: i64,
    clicks: i64,
    dismissals: i64,
    answers: i64,
    score_sum: i64,
    promoters: i64,
    detractors: i64,
    conversions: i64,
    revenue: f64,
}

/// `part / whole` to four decimals; `None` when there is nothing to divide by.
fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// The rows for a site and period, and per experience and variant the totals with their
/// rates: click-through (clicks per impression), conversion rate (conversions per
/// impression, or per exposure for a control group), average answer and NPS.
pub async fn query(env: &Env, q: &Query) -> Result<serde_json::Value, ApiError> {
    let db = database(env).map_err(|_| ApiError::NotConfigured("the REPORTS database"))?;
    db.prepare(SCHEMA).run().await?;
    let experience = q.experience.clone().unwrap_or_default();
    let rows: Vec<Row> = db
        .prepare(
            "SELECT day, experience, rule, variant, segment, exposures, impressions, clicks,
                    dismissals, answers, score_sum, promoters, detractors, conversions, revenue
             FROM daily WHERE site = ? AND day >= ? AND day <= ? AND (? = '' OR experience = ?)
             ORDER BY day, experience, variant, segment",
        )
        .bind(&[
            q.site.as_str().into(),
            q.from.as_str().into(),
            q.to.as_str().into(),
            experience.as_str().into(),
            experience.as_str().into(),
        ])?
        .all()
        .await?
        .results()?;

    let mut totals: Vec<Row> = Vec::new();
    for row in &rows {
        let same = |t: &&mut Row| t.experience == row.experience && t.variant == row.variant;
        match totals.iter_mut().find(|t| same(t)) {
            Some(t) => {
                t.exposures += row.exposures;
                t.impressions += row.impressions;
                t.clicks += row.clicks;
                t.dismissals += row.dismissals;
                t.answers += row.answers;
                t.score_sum += row.score_sum;
                t.promoters += row.promoters;
                t.detractors += row.detractors;
                t.conversions += row.conversions;
                t.revenue += row.revenue;
            }
            None => totals.push(Row {
                day: String::new(),
                segment: String::new(),
                ..row.clone()
            }),
        }
    }
    let totals: Vec<serde_json::Value> = totals
        .iter()
        .map(|t| {
            // A control group is never shown anything: its conversions are per exposure.
            let reached = if t.impressions > 0 {
                t.impressions
            } else {
                t.exposures
            };
            let nps_answers = t.promoters + t.detractors > 0;
            json!({
                "experience": t.experience, "rule": t.rule, "variant": t.variant,
                "exposures": t.exposures, "impressions": t.impressions, "clicks": t.clicks,
                "dismissals": t.dismissals, "answers": t.answers,
                "conversions": t.conversions, "revenue": t.revenue,
                "click_through_rate": ratio(t.clicks, t.impressions),
                "conversion_rate": ratio(t.conversions, reached),
                "average_answer": ratio(t.score_sum, t.answers),
                "nps": ratio(t.promoters - t.detractors, t.answers)
                    .filter(|_| nps_answers)
                    .map(|r| (r * 100.0).round()),
            })
        })
        .collect();
    Ok(json!({ "site": q.site, "from": q.from, "to": q.to, "totals": totals, "rows": rows }))
}
