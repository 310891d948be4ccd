//! The visitor sample in D1 (binding `REPORTS`): the latest profile of each of a site's most
//! recently active visitors, at most [`SIZE`], for one purpose: the console's impact of a
//! draft (`rapport_rules::impact`), which runs the active rulebook and the draft over it.
//!
//! Only visitors whose site reported consent to analytics are kept, and only those who have
//! viewed a page. A visitor object writes its profile here in the same D1 batch as its
//! outbox (so a burst of events costs one write), removes it when consent to analytics is
//! withdrawn (by an event, or by the page's word in a decision request), and erasing a
//! visitor removes it with everything else. Older visitors fall out as newer ones arrive.

use rapport_rules::impact::Sampled;
use rapport_rules::Profile;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::aggregates::database;
use crate::error::{ApiError, Context};

/// The most visitors a site's sample holds.
pub const SIZE: u32 = 2_000;

/// Keeps a visitor's latest profile (the table is in the D1 migrations).
pub(crate) const UPSERT: &str =
    "INSERT INTO visitor_sample (site, visitor_id, at_ms, profile) VALUES (?, ?, ?, ?)
     ON CONFLICT (site, visitor_id) DO UPDATE SET at_ms = excluded.at_ms,
     profile = excluded.profile";

/// Whether `profile` may be in the sample: its site reported consent to analytics, and it
/// has viewed a page (a profile only the retailer's server wrote to has nothing to decide on).
pub fn belongs(profile: &Profile) -> bool {
    profile.consent.is_some_and(|c| c.analytics) && !profile.recent_pages.is_empty()
}

/// The statements that keep `profile` in its site's sample (or take it out, when its site
/// has withheld consent since), and drop the oldest visitors beyond [`SIZE`]: for the
/// outbox's batch. A visitor who never belonged costs none.
pub fn statements(
    db: &D1Database,
    site: &str,
    profile: &Profile,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    if !belongs(profile) {
        // Only a withheld consent can follow a time in the sample (page views stay).
        if profile.consent.is_some_and(|c| !c.analytics) {
            return Ok(vec![remove(db, site, &profile.visitor_id)?]);
        }
        return Ok(Vec::new());
    }
    let mut statements = Vec::new();
    let body = serde_json::to_string(profile).context("encoding a sampled profile")?;
    statements.push(
        db.prepare(UPSERT)
            .bind(&[
                site.into(),
                profile.visitor_id.as_str().into(),
                (profile.last_seen_ms as f64).into(),
                body.into(),
            ])
            .context("binding a sampled profile")?,
    );
    // Beyond SIZE visitors, the oldest go (with fewer, the cut-off is NULL and none do).
    statements.push(
        db.prepare(
            "DELETE FROM visitor_sample WHERE site = ?1 AND at_ms < (SELECT at_ms FROM
             visitor_sample WHERE site = ?1 ORDER BY at_ms DESC LIMIT 1 OFFSET ?2)",
        )
        .bind(&[site.into(), JsValue::from(SIZE - 1)])
        .context("binding the sample's trim")?,
    );
    Ok(statements)
}

fn remove(db: &D1Database, site: &str, visitor_id: &str) -> Result<D1PreparedStatement, ApiError> {
    db.prepare("DELETE FROM visitor_sample WHERE site = ? AND visitor_id = ?")
        .bind(&[site.into(), visitor_id.into()])
        .context("binding a sample removal")
}

/// Takes an erased visitor out of the sample.
pub async fn erase(env: &Env, site: &str, visitor_id: &str) -> Result<(), ApiError> {
    let db = database(env)?;
    remove(&db, site, visitor_id)?
        .run()
        .await
        .context("erasing a visitor from the sample")?;
    Ok(())
}

/// A site's sample, the most recent visitor first.
pub async fn read(env: &Env, site: &str) -> Result<Vec<Sampled>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        at_ms: f64,
        profile: String,
    }
    let db = database(env)?;
    let rows: Vec<Row> = db
        .prepare(
            "SELECT at_ms, profile FROM visitor_sample WHERE site = ? ORDER BY at_ms DESC LIMIT ?",
        )
        .bind(&[site.into(), JsValue::from(SIZE)])
        .context("binding the sample query")?
        .all()
        .await
        .context("reading the visitor sample")?
        .results()
        .context("reading the visitor sample")?;
    // A profile an older edge wrote that this one cannot read is left out, not fatal.
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let profile: Profile = serde_json::from_str(&row.profile).ok()?;
            Some(Sampled {
                profile,
                at_ms: row.at_ms as i64,
            })
        })
        .collect())
}
