//! Turning the page and the site's `track` commands into events. Reads only what the shop
//! publishes about itself (page kind, language, product markup); never form fields.

use rapport_protocol::{AddToCart, EventData, PageContext, Product, ProductView, RemoveFromCart};
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::dom;

/// Where the shopper is now. The page kind comes from `<body data-rapport-page="...">`.
pub fn page_context() -> PageContext {
    let document = dom::document();
    let location = dom::window().location();
    let kind = document
        .body()
        .and_then(|b| b.dataset().get("rapportPage"))
        .filter(|k| !k.is_empty());
    let locale = document
        .document_element()
        .and_then(|e| e.get_attribute("lang"))
        .filter(|l| !l.is_empty());
    PageContext {
        url: location.href().unwrap_or_default(),
        path: location.pathname().unwrap_or_default(),
        kind,
        locale,
    }
}

/// The product this page presents, from schema.org `Product` JSON-LD or, failing that, from
/// an element with `data-rapport-product` (`data-name`, `data-price`, ... beside it).
pub fn product_on_page() -> Option<Product> {
    let document = dom::document();
    if let Ok(scripts) = document.query_selector_all("script[type='application/ld+json']") {
        for index in 0..scripts.length() {
            let text = scripts.item(index).and_then(|s| s.text_content());
            let product = text
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|json| product_from_json_ld(&json));
            if product.is_some() {
                return product;
            }
        }
    }
    let element = document.query_selector("[data-rapport-product]").ok()??;
    let data = |name: &str| element.get_attribute(name).filter(|v| !v.is_empty());
    Some(Product {
        id: data("data-rapport-product")?,
        name: data("data-name"),
        price: data("data-price").and_then(|p| p.parse().ok()),
        currency: data("data-currency"),
        category: data("data-category"),
        availability: data("data-availability"),
        url: dom::window().location().pathname().ok(),
    })
}

/// Reads a schema.org Product, alone, in an array or in an `@graph`.
fn product_from_json_ld(json: &Value) -> Option<Product> {
    match json {
        Value::Array(items) => items.iter().find_map(product_from_json_ld),
        Value::Object(map) if map.contains_key("@graph") => product_from_json_ld(&map["@graph"]),
        Value::Object(map) if map.get("@type").and_then(Value::as_str) == Some("Product") => {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let offer = match map.get("offers") {
                Some(Value::Array(offers)) => offers.first(),
                other => other,
            };
            let price = offer.and_then(|o| match o.get("price") {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            });
            Some(Product {
                id: text(map.get("sku"))
                    .or_else(|| text(map.get("productID")))
                    .or_else(|| text(map.get("@id")))?,
                name: text(map.get("name")),
                price,
                currency: offer.and_then(|o| text(o.get("priceCurrency"))),
                category: text(map.get("category")),
                availability: offer
                    .and_then(|o| text(o.get("availability")))
                    .map(|a| a.rsplit('/').next().unwrap_or(&a).to_owned()),
                url: dom::window().location().pathname().ok(),
            })
        }
        _ => None,
    }
}

/// Builds an event from `rapport.push(['track', name, props])`.
pub fn event_from_command(name: &JsValue, props: &JsValue) -> Result<EventData, String> {
    let name = name.as_string().ok_or("the event name must be a string")?;
    let props: Value = if props.is_undefined() || props.is_null() {
        Value::Object(Default::default())
    } else {
        let json = js_sys::JSON::stringify(props)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or("the event properties must be a plain object")?;
        serde_json::from_str(&json).map_err(|e| e.to_string())?
    };
    let product = || -> Result<Product, String> {
        serde_json::from_value(props.clone()).map_err(|e| format!("{name}: {e}"))
    };
    let quantity = props
        .get("quantity")
        .and_then(Value::as_u64)
        .and_then(|q| u32::try_from(q).ok())
        .unwrap_or(1);
    match name.as_str() {
        "add_to_cart" => Ok(EventData::AddToCart(AddToCart {
            product: product()?,
            quantity,
        })),
        "remove_from_cart" => Ok(EventData::RemoveFromCart(RemoveFromCart {
            product_id: product()?.id,
            quantity,
        })),
        "product_view" => Ok(EventData::ProductView(ProductView {
            product: product()?,
        })),
        other => Err(format!(
            "unknown event \"{other}\" (expected add_to_cart, remove_from_cart or product_view)"
        )),
    }
}
