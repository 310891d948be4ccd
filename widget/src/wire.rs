//! The wire format, as the widget speaks it: events become JavaScript objects that the
//! browser's own `JSON.stringify` writes, and the edge's answers are read from the objects
//! `JSON.parse` gives (a decision's experiences go to the view as they are). The types are
//! `rapport-protocol`'s; only the conversion is here.
//!
//! Converting by hand rather than through serde keeps the download small: serde_json and the
//! code serde derives for reading were most of the module's size. The edge checks every
//! field anyway, and the round trip through both sides is covered by the end-to-end tests.

use js_sys::{Array, Object, Reflect, JSON};
use rapport_protocol::{Consent, Event, EventData, ExperienceRef, PageContext, Product};
use wasm_bindgen::JsValue;

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

pub fn page(page: &PageContext) -> JsValue {
    let obj = Obj::new();
    obj.set("url", page.url.as_str())
        .set("path", page.path.as_str())
        .opt("kind", &page.kind)
        .opt("locale", &page.locale);
    obj.done()
}

fn product(product: &Product) -> JsValue {
    let obj = Obj::new();
    obj.set("id", product.id.as_str())
        .opt("name", &product.name)
        .opt("currency", &product.currency)
        .opt("category", &product.category)
        .opt("availability", &product.availability)
        .opt("url", &product.url)
        .opt("image", &product.image);
    if let Some(price) = product.price {
        obj.set("price", price);
    }
    obj.done()
}

fn reference(obj: &Obj, r: &ExperienceRef) {
    obj.set("rule", r.rule.as_str())
        .set("experience", r.experience.as_str())
        .opt("variant", &r.variant)
        .opt("segment", &r.segment);
}

/// One event, as the edge reads it: `{id, session_id, client_ts, type, ...payload}`.
pub fn event(event: &Event) -> JsValue {
    let obj = Obj::new();
    obj.set("id", event.id.as_str())
        .set("session_id", event.session_id.as_str());
    if let Some(ts) = event.client_ts {
        obj.set("client_ts", ts);
    }
    payload(&obj, &event.data);
    obj.done()
}

/// What `on(name, callback)` subscribers get for a prompt event: its type and payload
/// (`{type, rule, experience, variant, segment}`, with `survey` and `score` for answers).
pub fn event_detail(data: &EventData) -> JsValue {
    let obj = Obj::new();
    payload(&obj, data);
    obj.done()
}

fn payload(obj: &Obj, data: &EventData) {
    obj.set("type", data.kind());
    match data {
        EventData::PageView(view) => {
            obj.set("page", page(&view.page))
                .opt("title", &view.title)
                .opt("referrer", &view.referrer);
        }
        EventData::ProductView(view) => {
            obj.set("product", product(&view.product));
        }
        EventData::AddToCart(add) => {
            obj.set("product", product(&add.product))
                .set("quantity", add.quantity);
        }
        EventData::RemoveFromCart(remove) => {
            obj.set("product_id", remove.product_id.as_str())
                .set("quantity", remove.quantity);
        }
        EventData::Search(search) => {
            obj.set("query", search.query.as_str());
            if let Some(results) = search.results {
                obj.set("results", results);
            }
        }
        EventData::Cart(contents) => {
            let items: Array = contents
                .items
                .iter()
                .map(|line| {
                    let obj = Obj::new();
                    obj.set("product", product(&line.product))
                        .set("quantity", line.quantity);
                    obj.done()
                })
                .collect();
            obj.set("items", items);
        }
        EventData::CheckoutStep(reached) => {
            obj.set("step", reached.step.as_str());
        }
        EventData::OrderComplete(order) => {
            obj.set("order_id", order.order_id.as_str())
                .opt("currency", &order.currency);
            if let Some(value) = order.value {
                obj.set("value", value);
            }
        }
        EventData::Scroll(scroll) => {
            obj.set("percent", scroll.percent);
        }
        EventData::Engagement(engaged) => {
            obj.set("seconds", engaged.seconds);
        }
        EventData::RageClick(rage) => {
            obj.opt("target", &rage.target);
        }
        EventData::Impression(r) | EventData::Dismiss(r) | EventData::Exposure(r) => {
            reference(obj, r)
        }
        EventData::Click(click) => {
            reference(obj, &click.experience);
            obj.opt("product", &click.product)
                .opt("strategy", &click.strategy);
            if let Some(position) = click.position {
                obj.set("position", position);
            }
        }
        EventData::Answer(answer) => {
            reference(obj, &answer.experience);
            let survey = match answer.survey {
                rapport_protocol::Survey::Nps => "nps",
                rapport_protocol::Survey::Csat => "csat",
            };
            obj.set("survey", survey)
                .set("score", answer.score)
                .opt("comment", &answer.comment);
        }
        EventData::Consent(consent) => {
            obj.set("analytics", consent.analytics)
                .set("personalization", consent.personalization);
        }
    }
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
    page_context: &PageContext,
    preview: Option<&str>,
    consent: Option<Consent>,
    events: &[JsValue],
) -> String {
    let obj = Obj::new();
    obj.set("site", site)
        .set("visitor_id", visitor_id)
        .set("session_id", session_id)
        .set("page", page(page_context));
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

/// A string field; numbers are taken as their text (a SKU of 1042).
pub fn text(value: &JsValue, key: &str) -> Option<String> {
    let field = get(value, key);
    // The browser writes numbers as text (JSON writes a finite number as JavaScript does);
    // Rust's float formatting would add to the download.
    field
        .as_string()
        .or_else(|| {
            field
                .as_f64()
                .filter(|n| n.is_finite())
                .map(|_| stringify(&field))
        })
        .filter(|s| !s.is_empty())
}

/// A number field; numeric strings are read too (`"59.00"`).
pub fn number(value: &JsValue, key: &str) -> Option<f64> {
    let field = get(value, key);
    field
        .as_f64()
        .or_else(|| field.as_string().map(|s| js_sys::Number::parse_float(&s)))
        .filter(|n| n.is_finite())
}

pub fn list(value: &JsValue, key: &str) -> Vec<JsValue> {
    let field = get(value, key);
    if Array::is_array(&field) {
        Array::from(&field).iter().collect()
    } else {
        Vec::new()
    }
}

/// A product from a `track` command's properties: `id` is required.
pub fn product_from(props: &JsValue) -> Result<Product, String> {
    Ok(Product {
        image: text(props, "image"),
        id: text(props, "id").ok_or("a product needs an `id`")?,
        name: text(props, "name"),
        price: number(props, "price"),
        currency: text(props, "currency"),
        category: text(props, "category"),
        availability: text(props, "availability"),
        url: text(props, "url"),
    })
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
