//! The wire format, as the wasm module speaks it: the requests it sends, the events it stamps
//! and the prompt outcomes it turns into events become JavaScript objects that the browser's
//! own `JSON.stringify` writes, and the edge's answers are read from the objects `JSON.parse`
//! gives (a decision's experiences go to the view as they are). Capture's events come from
//! `capture.js` already in their wire form. The types are `rapport-protocol`'s; only the
//! conversion is here.
//!
//! Converting by hand rather than through serde keeps the download small: serde_json and the
//! code serde derives for reading were most of the module's size. The edge checks every
//! field anyway, and the round trip through both sides is covered by the end-to-end tests.

use js_sys::{Array, Object, Reflect, JSON};
use rapport_protocol::{Consent, ExperienceRef, Survey};
use wasm_bindgen::{JsCast, JsValue};

use crate::view::Outcome;

/// A JavaScript object being filled in.
struct Obj(Object);

impl Obj {
    fn new() -> Obj {
        Obj(Object::new())
    }

    fn set(&self, key: &str, value: impl Into<JsValue>) -> &Obj {
        let _ = Reflect::set(&self.0, &key.into(), &value.into());
        self
    }

    fn opt(&self, key: &str, value: &Option<String>) -> &Obj {
        if let Some(value) = value {
            self.set(key, value.as_str());
        }
        self
    }

    fn done(self) -> JsValue {
        self.0.into()
    }
}

pub fn stringify(value: &JsValue) -> String {
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// One event, as the edge reads it: `{type, ...payload, id, session_id, client_ts}`, a new
/// object (a subscriber to the event may keep `data`), whose stamp nothing in `data` can
/// replace.
pub fn event(id: &str, session_id: &str, client_ts: f64, data: &JsValue) -> JsValue {
    let obj = Obj(Object::assign(&Object::new(), data.unchecked_ref()));
    obj.set("id", id)
        .set("session_id", session_id)
        .set("client_ts", client_ts);
    obj.done()
}

fn reference(obj: &Obj, r: &ExperienceRef) {
    obj.set("rule", r.rule.as_str())
        .set("experience", r.experience.as_str())
        .opt("variant", &r.variant)
        .opt("segment", &r.segment);
}

/// What the shopper did with a prompt, as an event's type and payload (`{type, rule,
/// experience, variant, segment}`, with `product`, `strategy` and `position` for a click on
/// a recommendation, and `survey`, `score` and `comment` for an answer). A click's strategy
/// goes only with a product.
pub fn outcome(
    outcome: Outcome,
    experience: &ExperienceRef,
    strategy: &Option<String>,
) -> (&'static str, JsValue) {
    let obj = Obj::new();
    reference(&obj, experience);
    let kind = match outcome {
        Outcome::Exposed => "exposure",
        Outcome::Shown => "impression",
        Outcome::Dismissed => "dismiss",
        Outcome::Clicked { product, position } => {
            if product.is_some() {
                obj.opt("strategy", strategy);
            }
            obj.opt("product", &product);
            if let Some(position) = position {
                obj.set("position", position);
            }
            "click"
        }
        Outcome::Answered {
            survey,
            score,
            comment,
        } => {
            let survey = match survey {
                Survey::Nps => "nps",
                Survey::Csat => "csat",
            };
            obj.set("survey", survey)
                .set("score", score)
                .opt("comment", &comment);
            "answer"
        }
    };
    obj.set("type", kind);
    (kind, obj.done())
}

/// The consent the site passed, as the event the edge keeps with the profile.
pub fn consent_event(consent: Consent) -> JsValue {
    let obj = consent_object(consent);
    let _ = Reflect::set(&obj, &"type".into(), &"consent".into());
    obj
}

/// `{site, visitor_id, events}` for `POST /v1/events`.
pub fn batch(site: &str, visitor_id: &str, events: &[JsValue]) -> String {
    let list: Array = events.iter().collect();
    let obj = Obj::new();
    obj.set("site", site)
        .set("visitor_id", visitor_id)
        .set("events", list);
    stringify(&obj.done())
}

/// The body of `POST /v1/decide`, with the events waiting to be sent (stored before the
/// edge decides).
pub fn decide_request(
    site: &str,
    visitor_id: &str,
    session_id: &str,
    page: &JsValue,
    preview: Option<&str>,
    consent: Option<Consent>,
    events: &[JsValue],
) -> String {
    let obj = Obj::new();
    obj.set("site", site)
        .set("visitor_id", visitor_id)
        .set("session_id", session_id)
        .set("page", page);
    if !events.is_empty() {
        obj.set("events", events.iter().collect::<Array>());
    }
    if let Some(token) = preview {
        obj.set("preview", token);
    }
    if let Some(consent) = consent {
        obj.set("consent", consent_object(consent));
    }
    stringify(&obj.done())
}

fn consent_object(consent: Consent) -> JsValue {
    let obj = Obj::new();
    obj.set("analytics", consent.analytics)
        .set("personalization", consent.personalization);
    obj.done()
}

/// The body of `POST /v1/forget`.
pub fn forget_request(site: &str, visitor_id: &str) -> String {
    let obj = Obj::new();
    obj.set("site", site).set("visitor_id", visitor_id);
    stringify(&obj.done())
}

/// The body of `POST /v1/identify`.
pub fn identify_request(
    site: &str,
    visitor_id: &str,
    customer_id: &str,
    signature: &str,
) -> String {
    let obj = Obj::new();
    obj.set("site", site)
        .set("visitor_id", visitor_id)
        .set("customer_id", customer_id)
        .set("signature", signature);
    stringify(&obj.done())
}

// Reading.

pub fn get(value: &JsValue, key: &str) -> JsValue {
    if value.is_object() {
        Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A string field, when it is one and not empty.
pub fn text(value: &JsValue, key: &str) -> Option<String> {
    get(value, key).as_string().filter(|s| !s.is_empty())
}

pub fn list(value: &JsValue, key: &str) -> Vec<JsValue> {
    let field = get(value, key);
    if Array::is_array(&field) {
        Array::from(&field).iter().collect()
    } else {
        Vec::new()
    }
}

/// Who an experience or control-group entry of a decision is: what its events name.
pub fn experience_ref(value: &JsValue) -> Option<ExperienceRef> {
    Some(ExperienceRef {
        rule: text(value, "rule")?,
        experience: text(value, "experience")?,
        variant: text(value, "variant"),
        segment: text(value, "segment"),
    })
}
