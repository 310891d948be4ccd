//! The analytics API under `/v1/admin/analytics/`, behind the admin token: experiment
//! results, satisfaction, the lifecycle funnel, weak spots and segments that need attention,
//! each for a site and a period of UTC days. The analyses are `rapport_analytics`'s; this
//! module checks the parameters, reads the aggregate rows and writes the answer.

use rapport_analytics::experiments::{self, Reading};
use rapport_analytics::stats::{Correction, Interval};
use rapport_analytics::tables::{Aggregate, ArmDay};
use rapport_analytics::{lifecycle, satisfaction, segments, weak_spots};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::check_site;
use crate::aggregates::read;
use crate::error::{ApiError, Context};
use crate::http::{json_response, parse_query};
use crate::sites::Sites;

/// The longest period one call reads.
pub const MAX_DAYS: i64 = 400;
/// How the programme (the universal holdout) is named in a path.
pub const PROGRAMME_PATH: &str = "~programme";

/// The parameters every analytics call takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub site: String,
    /// Inclusive `YYYY-MM-DD` bounds.
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub segment: Option<String>,
    /// `fixed` (the default) or `sequential` (always-valid intervals).
    #[serde(default)]
    pub interval: Option<String>,
    /// How an experiment's comparisons are corrected for their number: `holm` (the
    /// default) or `bh` (Benjamini–Hochberg).
    #[serde(default)]
    pub correction: Option<String>,
    /// The relative lift on the primary metric an experiment should be able to detect, for
    /// how long it still needs (0.10 by default).
    #[serde(default)]
    pub minimum_effect: Option<String>,
}

/// Checks a period's bounds: days, in order; gives its length in days.
pub fn check_period(from: &str, to: &str) -> Result<i64, ApiError> {
    use chrono::NaiveDate;
    let day = |field: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 10)
            .ok_or_else(|| {
                ApiError::bad(
                    field,
                    format!("`{field}` is a day, YYYY-MM-DD, not \"{text}\""),
                )
            })
    };
    let (start, end) = (day("from", from)?, day("to", to)?);
    if end < start {
        return Err(ApiError::bad(
            "to",
            format!("`to` ({to}) is before `from` ({from})"),
        ));
    }
    Ok((end - start).num_days() + 1)
}

impl Query {
    fn read(req: &Request, sites: &Sites) -> Result<Query, ApiError> {
        let query: Query = parse_query(req)?;
        check_site(sites, &query.site)?;
        if check_period(&query.from, &query.to)? > MAX_DAYS {
            return Err(ApiError::bad(
                "to",
                format!("an analytics period is at most {MAX_DAYS} days"),
            ));
        }
        if let Some(segment) = &query.segment {
            if segment.is_empty() || segment.len() > 64 {
                return Err(ApiError::bad("segment", "`segment` is a segment's name"));
            }
        }
        Ok(query)
    }

    /// Refuses `segment` where an analysis has no breakdown by segment, rather than
    /// answering for the whole site as if it had been applied.
    fn without_segment(self, what: &str) -> Result<Query, ApiError> {
        match &self.segment {
            None => Ok(self),
            Some(_) => Err(ApiError::bad(
                "segment",
                format!("{what} are not broken down by segment; `segment` applies to satisfaction and segments"),
            )),
        }
    }

    fn interval(&self) -> Result<Interval, ApiError> {
        match self.interval.as_deref() {
            None | Some("fixed") => Ok(Interval::Fixed),
            Some("sequential") => Ok(Interval::DEFAULT_SEQUENTIAL),
            Some(other) => Err(ApiError::bad(
                "interval",
                format!("`interval` is \"fixed\" or \"sequential\", not \"{other}\""),
            )),
        }
    }

    /// How the experiments are read: interval, correction and minimum effect.
    fn reading(&self) -> Result<Reading, ApiError> {
        let minimum_effect = match self.minimum_effect.as_deref() {
            None => Reading::default().minimum_effect,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|e| *e > 0.0 && *e <= 10.0)
                .ok_or_else(|| {
                    ApiError::bad(
                        "minimum_effect",
                        format!("`minimum_effect` is a relative lift above 0 (0.1 for 10%), not \"{text}\""),
                    )
                })?,
        };
        Ok(Reading {
            interval: self.interval()?,
            correction: self.correction()?,
            minimum_effect,
        })
    }

    fn correction(&self) -> Result<Correction, ApiError> {
        match self.correction.as_deref() {
            None | Some("holm") => Ok(Correction::Holm),
            Some("bh") => Ok(Correction::BenjaminiHochberg),
            Some(other) => Err(ApiError::bad(
                "correction",
                format!("`correction` is \"holm\" or \"bh\", not \"{other}\""),
            )),
        }
    }

    /// The answer's head: what was asked.
    fn head(&self) -> serde_json::Map<String, Value> {
        let mut head = serde_json::Map::new();
        head.insert("site".into(), self.site.clone().into());
        head.insert("from".into(), self.from.clone().into());
        head.insert("to".into(), self.to.clone().into());
        if let Some(segment) = &self.segment {
            head.insert("segment".into(), segment.clone().into());
        }
        head
    }

    /// The period's rows of one table.
    async fn rows<T: Aggregate>(&self, env: &Env) -> Result<Vec<T>, ApiError> {
        read(env, &self.site, &self.from, &self.to, None).await
    }
}

/// The head with the analysis's fields after it.
fn answer<T: serde::Serialize>(q: &Query, body: &T) -> Result<Response, ApiError> {
    let mut out = q.head();
    match serde_json::to_value(body).context("encoding an analysis")? {
        Value::Object(fields) => out.extend(fields),
        other => {
            out.insert("result".into(), other);
        }
    }
    Ok(json_response(&Value::Object(out), 200))
}

/// Before any day the aggregates can hold: days compare as text.
const FIRST_DAY: &str = "0000-01-01";

/// The arms' rows an experiments reading needs, and the active rulebook.
async fn experiment_rows(
    env: &Env,
    q: &Query,
    reading: &Reading,
) -> Result<(Vec<ArmDay>, std::rc::Rc<rapport_rules::Rulebook>), ApiError> {
    // Always-valid intervals are read from each experiment's first exposure, whatever the
    // period's start: the rows from the first day there is, up to the period's end.
    let rows = match reading.interval {
        Interval::Sequential { .. } => read(env, &q.site, FIRST_DAY, &q.to, None).await?,
        Interval::Fixed => q.rows(env).await?,
    };
    let book = crate::objects::rulebooks::current(env)
        .await
        .map_err(|e| ApiError::internal("compiling the active rulebook", e))?;
    Ok((rows, book))
}

/// `GET /v1/admin/analytics/experiments`: every experiment's arms, lifts and verdicts.
pub async fn experiments(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let q = Query::read(req, sites)?.without_segment("experiments")?;
    let reading = q.reading()?;
    let (rows, book) = experiment_rows(env, &q, &reading).await?;
    answer(
        &q,
        &json!({ "experiments": experiments::report(&book, &rows, reading) }),
    )
}

/// `GET /v1/admin/analytics/experiments/{rule}`: one experiment, with its daily series.
pub async fn experiment(
    req: &Request,
    env: &Env,
    sites: &Sites,
    rule: &str,
) -> Result<Response, ApiError> {
    let q = Query::read(req, sites)?.without_segment("experiments")?;
    let rule = if rule == PROGRAMME_PATH {
        rapport_analytics::facts::PROGRAMME
    } else {
        rule
    };
    let reading = q.reading()?;
    let (rows, book) = experiment_rows(env, &q, &reading).await?;
    let Some(detail) = experiments::detail(&book, &rows, reading, rule) else {
        return Err(ApiError::no_such(
            "rule",
            format!("no experiment \"{rule}\" in the active rulebook or in this period"),
        ));
    };
    answer(&q, &detail)
}

/// `GET /v1/admin/analytics/satisfaction`: NPS (with its split) and CSAT with intervals, by
/// group and week; how often each survey shown was answered; low-score comments, grouped.
pub async fn satisfaction(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let q = Query::read(req, sites)?;
    let book = crate::objects::rulebooks::current(env)
        .await
        .map_err(|e| ApiError::internal("compiling the active rulebook", e))?;
    let answers = q.rows(env).await?;
    let comments = q.rows(env).await?;
    let tallies = crate::reports::rows(env, &q.site, &q.from, &q.to, "").await?;
    let segment = q.segment.as_deref();
    let result = satisfaction::analyse(&book, &answers, &comments, &tallies, segment);
    answer(&q, &result)
}

/// `GET /v1/admin/analytics/lifecycle`: the funnel, day by day, and the moves.
pub async fn lifecycle(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let q = Query::read(req, sites)?.without_segment("lifecycle stages")?;
    let stages = q.rows(env).await?;
    let movements = q.rows(env).await?;
    answer(&q, &lifecycle::lifecycle(&stages, &movements))
}

/// `GET /v1/admin/analytics/weak-spots`: troubled pages, empty searches, sold-out demand.
pub async fn weak_spots(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let q = Query::read(req, sites)?.without_segment("weak spots")?;
    let pages = q.rows(env).await?;
    let searches = q.rows(env).await?;
    let sold_out = q.rows(env).await?;
    answer(&q, &weak_spots::weak_spots(&pages, &searches, &sold_out))
}

/// `GET /v1/admin/analytics/segments`: every segment against the rest of the site, flagged
/// where it needs attention, with the rules that target it.
pub async fn segments(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let q = Query::read(req, sites)?;
    let book = crate::objects::rulebooks::current(env)
        .await
        .map_err(|e| ApiError::internal("compiling the active rulebook", e))?;
    let sources = segments::Sources {
        segments: &q.rows(env).await?,
        arms: &q.rows(env).await?,
        tallies: &crate::reports::rows(env, &q.site, &q.from, &q.to, "").await?,
    };
    let Some(result) = segments::analyse(&book, &sources, &q.from, &q.to, q.segment.as_deref())
    else {
        return Err(ApiError::no_such(
            "segment",
            format!(
                "no segment \"{}\" in the active rulebook or in this period",
                q.segment.as_deref().unwrap_or_default()
            ),
        ));
    };
    answer(&q, &result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_days_in_order_and_not_too_long() {
        assert_eq!(check_period("2026-12-01", "2026-12-01").ok(), Some(1));
        assert_eq!(check_period("2026-11-30", "2026-12-01").ok(), Some(2));
        let field = |r: Result<i64, ApiError>| match r {
            Err(ApiError::BadRequest { field, .. }) => field,
            _ => None,
        };
        assert_eq!(
            field(check_period("2026-12-02", "2026-12-01")).as_deref(),
            Some("to")
        );
        assert_eq!(
            field(check_period("2026-13-01", "2026-12-01")).as_deref(),
            Some("from")
        );
        assert_eq!(
            field(check_period("2026-12-01", "2026-12-1")).as_deref(),
            Some("to")
        );
        assert_eq!(check_period("2025-01-01", "2026-12-01").ok(), Some(700));
    }
}
