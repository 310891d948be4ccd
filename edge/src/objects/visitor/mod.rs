//! The `Visitor` Durable Object's calls and the functions the rest of the edge calls it by.
//! The object itself is in [`object`]; its report outbox and alarm in `outbox`.

mod object;
mod outbox;

pub use object::Visitor;

use rapport_protocol::{Consent, DecideRequest, Event, PageContext};
use rapport_rules::customer::Trusted;
use rapport_rules::Profile;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use worker::Env;

use super::catalogue::{self, Fill};
use super::{encode, send, Ingested, ObjectCall};
use crate::error::{ApiError, Context};

/// A call to the visitor `site:visitor_id`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VisitorCall {
    pub site: String,
    pub visitor_id: String,
    pub call: Call,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Store these events once each and fold them into the profile: answers [`Ingested`].
    /// With `opt_in` (the site requires consent), nothing is recorded before a consent to
    /// analytics; without it, nothing after a refusal.
    Ingest {
        events: Vec<Event>,
        #[serde(default)]
        opt_in: bool,
        /// When the events arrived, by the edge's clock (`clock::request_ms`).
        at_ms: i64,
    },
    /// Store the page's events (if any), then decide for this page: answers [`DecideAnswer`].
    Decide(Decide),
    /// Take the customer's trusted facts and conversions: answers nothing.
    Trusted(TrustedPush),
    /// Everything stored: answers the profile and the raw events.
    Export,
    /// Erase everything: answers [`Erased`].
    Erase,
}

impl ObjectCall for VisitorCall {
    const BINDING: &'static str = "VISITORS";

    fn object(&self) -> String {
        format!("{}:{}", self.site, self.visitor_id)
    }

    fn name(&self) -> &'static str {
        match self.call {
            Call::Ingest { .. } => "ingest",
            Call::Decide(_) => "decide",
            Call::Trusted(_) => "trusted",
            Call::Export => "export",
            Call::Erase => "erase",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Decide {
    pub page: PageContext,
    /// What a verified preview token forces in (and from which draft).
    #[serde(default)]
    pub preview: Option<crate::preview::Claims>,
    /// The page's word on consent, which wins over the stored one for this decision.
    #[serde(default)]
    pub consent: Option<Consent>,
    /// The site requires opt-in consent: a visitor who has not given it is not counted.
    #[serde(default)]
    pub opt_in: bool,
    /// When the page asked, by the edge's clock (`clock::request_ms`).
    pub at_ms: i64,
    /// The page's waiting events, checked: stored once each before the decision, which sees
    /// them, as an `Ingest` would (with `opt_in`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

/// What a `Decide` call answers: the decision, and what became of the events it carried
/// (`None` when it carried none, or storing them failed: the page sends them again).
#[derive(Debug, Serialize, Deserialize)]
pub struct DecideAnswer {
    pub decided: Decided,
    #[serde(default)]
    pub stored: Option<Ingested>,
    /// Recommendation slots the decision's experiences ask the catalogue to fill.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fills: Vec<Fill>,
}

impl Decide {
    /// Whether this decision may be recorded in the analytics: the page's word on consent,
    /// or else the stored one, or else the site's default.
    pub fn may_record(&self, stored: Option<Consent>) -> bool {
        self.consent
            .or(stored)
            .map_or(!self.opt_in, |c| c.analytics)
    }
}

/// The decision as JSON (passed through to the page as it is), or with a preview the full
/// report; `Err` says why a preview cannot be shown (the active rulebook has no such
/// experience).
pub type Decided = Result<Box<RawValue>, String>;

/// What the retailer's systems tell a visitor through its customer (see `customer`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrustedPush {
    /// The customer's facts now; `None` leaves the profile's as they are.
    #[serde(default)]
    pub trusted: Option<Trusted>,
    /// The link to the customer is gone: forget its facts.
    #[serde(default)]
    pub unlink: bool,
    #[serde(default)]
    pub conversions: Vec<Conversion>,
    /// When the newest fact happened (a lifecycle move it causes is dated then); `None`
    /// when the push is delivered.
    #[serde(default)]
    pub at_ms: Option<i64>,
}

/// A purchase to credit to what this visitor saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conversion {
    /// The server event's id: a conversion is credited once, however often it is pushed.
    pub id: String,
    pub value: f64,
    pub at_ms: i64,
    /// Whether the order was placed from this browser, which empties its cart.
    pub from_this_visitor: bool,
}

/// What erasing a visitor removed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Erased {
    pub events: i64,
    /// The customer the visitor was linked to, which must forget the link.
    pub customer_id: Option<String>,
}

async fn call<A: serde::de::DeserializeOwned>(
    env: &Env,
    site: &str,
    visitor_id: &str,
    call: Call,
) -> Result<A, ApiError> {
    let call = VisitorCall {
        site: site.to_owned(),
        visitor_id: visitor_id.to_owned(),
        call,
    };
    send(env, &call).await
}

/// Stores `events`, which arrived at `at_ms`, once each.
pub async fn ingest(
    env: &Env,
    site: &str,
    visitor_id: &str,
    events: Vec<Event>,
    opt_in: bool,
    at_ms: i64,
) -> Result<Ingested, ApiError> {
    let call_ = Call::Ingest {
        events,
        opt_in,
        at_ms,
    };
    call(env, site, visitor_id, call_).await
}

/// What deciding for a page gave: the decision (or a preview's report) as JSON, the rules
/// whose condition hit the operations limit (for the visitor's profile to remember), and
/// the recommendation slots left to fill from the catalogue.
pub(crate) struct Outcome {
    pub decided: Decided,
    pub stopped: Vec<String>,
    pub fills: Vec<Fill>,
}

/// Decides for `profile` with the page's consent (which wins over the stored one).
pub(crate) fn decide_for(
    book: &rapport_rules::Rulebook,
    stored: &Profile,
    call: &Decide,
    now: i64,
) -> worker::Result<Outcome> {
    let mut stopped = Vec::new();
    let mut fills = Vec::new();
    let with_consent;
    let profile = match call.consent {
        Some(consent) if stored.consent != Some(consent) => {
            with_consent = Profile {
                consent: Some(consent),
                ..stored.clone()
            };
            &with_consent
        }
        _ => stored,
    };
    let json = match &call.preview {
        Some(claims) => {
            match rapport_rules::preview(book, profile, &call.page, now, &claims.experience) {
                Ok(mut report) => {
                    fills = catalogue::slots(&mut report.decision.experiences);
                    encode(&report)
                }
                Err(message) => {
                    return Ok(Outcome {
                        decided: Err(message),
                        stopped,
                        fills,
                    })
                }
            }
        }
        None => {
            let mut report = rapport_rules::decision(book, profile, &call.page, now);
            for line in report
                .trace
                .iter()
                .filter(|t| t.outcome == rapport_rules::Outcome::Errored)
            {
                worker::console_warn!("rule {} errored: {}", line.rule, line.reason);
            }
            stopped = std::mem::take(&mut report.stopped);
            fills = catalogue::slots(&mut report.decision.experiences);
            encode(&report.decision)
        }
    };
    let json = json.doing("encoding the decision")?;
    let raw = RawValue::from_string(json).doing("encoding the decision")?;
    Ok(Outcome {
        decided: Ok(raw),
        stopped,
        fills,
    })
}

/// The decision for a visitor, as JSON, after storing `events` (checked, and only with a
/// visitor id) in the same call to the visitor's object; with `preview` (a verified token's
/// experience), the full report with that experience forced in, or why it cannot be shown.
/// Gives what became of the events too, `None` when storing them failed.
///
/// A request without a visitor id (a shopper who has not consented yet keeps none) is decided
/// here, for a profile that knows nothing, with no object and nothing stored. So is one that
/// says nothing of consent on a site that requires opt-in (a page without the widget's
/// consent mode): it is decided as consent withheld, and its id goes nowhere (its events go
/// to the object on their own, which withholds them unless one is the consent).
pub async fn decide(
    env: &Env,
    request: &DecideRequest,
    preview: Option<crate::preview::Claims>,
    opt_in: bool,
    at_ms: i64,
    events: Vec<Event>,
) -> Result<(Result<String, String>, Option<Ingested>), ApiError> {
    let unasked = opt_in && request.consent.is_none();
    let mut decide = Decide {
        page: request.page.clone(),
        preview,
        consent: request.consent.or(unasked.then_some(Consent {
            analytics: false,
            personalization: false,
        })),
        opt_in,
        at_ms,
        events,
    };
    if request.visitor_id.is_empty() || unasked {
        let stored = match decide.events.is_empty() {
            true => None,
            false => {
                let events = std::mem::take(&mut decide.events);
                ingest(
                    env,
                    &request.site,
                    &request.visitor_id,
                    events,
                    opt_in,
                    at_ms,
                )
                .await
                .ok()
            }
        };
        let draft = decide.preview.as_ref().and_then(|p| p.rulebook.as_deref());
        let book = match super::rulebooks::deciding(env, draft)
            .await
            .context("compiling the active rulebook")?
        {
            Ok(book) => book,
            Err(refused) => return Ok((Err(refused), stored)),
        };
        // No one to remember a runaway rule for: an unidentified visitor stores nothing.
        let outcome = decide_for(&book, &Profile::new(""), &decide, at_ms)
            .context("deciding for an unidentified visitor")?;
        let decided = filled(env, &request.site, outcome.decided, &outcome.fills, at_ms).await;
        return Ok((decided, stored));
    }
    let answer: DecideAnswer = call(
        env,
        &request.site,
        &request.visitor_id,
        Call::Decide(decide),
    )
    .await?;
    let decided = filled(env, &request.site, answer.decided, &answer.fills, at_ms).await;
    Ok((decided, answer.stored))
}

/// A decision as the page gets it: its recommendation slots filled from the catalogue.
async fn filled(
    env: &Env,
    site: &str,
    decided: Decided,
    fills: &[Fill],
    at_ms: i64,
) -> Result<String, String> {
    match decided {
        Ok(json) => Ok(catalogue::fill(env, site, json.get().to_owned(), fills, at_ms).await),
        Err(refused) => Err(refused),
    }
}

/// Erases everything stored about a visitor.
pub async fn erase(env: &Env, site: &str, visitor_id: &str) -> Result<Erased, ApiError> {
    call(env, site, visitor_id, Call::Erase).await
}

/// Hands a visitor its customer's trusted facts and conversions.
pub async fn push_trusted(
    env: &Env,
    site: &str,
    visitor_id: &str,
    push: TrustedPush,
) -> Result<(), ApiError> {
    call(env, site, visitor_id, Call::Trusted(push)).await
}

/// Everything stored about a visitor: the profile and the newest raw events.
pub async fn export(
    env: &Env,
    site: &str,
    visitor_id: &str,
) -> Result<serde_json::Value, ApiError> {
    call(env, site, visitor_id, Call::Export).await
}
