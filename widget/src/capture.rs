//! Turning the page and the site's `track` commands into events. Reads only what the shop
//! publishes about itself (page kind, language, product markup); never form fields.

use rapport_protocol::{AddToCart, EventData, PageContext, Product, ProductView, RemoveFromCart};
use wasm_bindgen::JsValue;

use crate::dom;
use crate::wire::{self, get, list, number, text};

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
                .and_then(|t| wire::parse(&t))
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
        price: data("data-price")
            .map(|p| js_sys::Number::parse_float(&p))
            .filter(|p| p.is_finite()),
        currency: data("data-currency"),
        category: data("data-category"),
        availability: data("data-availability"),
        url: dom::window().location().pathname().ok(),
    })
}

/// Reads a schema.org Product, alone, in an array or in an `@graph`.
fn product_from_json_ld(json: &JsValue) -> Option<Product> {
    if js_sys::Array::is_array(json) {
        return js_sys::Array::from(json)
            .iter()
            .find_map(|item| product_from_json_ld(&item));
    }
    let graph = get(json, "@graph");
    if !graph.is_undefined() {
        return product_from_json_ld(&graph);
    }
    if text(json, "@type").as_deref() != Some("Product") {
        return None;
    }
    let offers = get(json, "offers");
    let offer = list(json, "offers").into_iter().next().unwrap_or(offers);
    Some(Product {
        id: text(json, "sku")
            .or_else(|| text(json, "productID"))
            .or_else(|| text(json, "@id"))?,
        name: text(json, "name"),
        price: number(&offer, "price"),
        currency: text(&offer, "priceCurrency"),
        category: text(json, "category"),
        availability: text(&offer, "availability")
            .map(|a| a.rsplit('/').next().unwrap_or(&a).to_owned()),
        url: dom::window().location().pathname().ok(),
    })
}

/// Builds an event from `rapport.push(['track', name, props])`.
pub fn event_from_command(name: &JsValue, props: &JsValue) -> Result<EventData, String> {
    let name = name.as_string().ok_or("the event name must be a string")?;
    if !(props.is_undefined() || props.is_null() || props.is_object()) {
        return Err("the event properties must be a plain object".into());
    }
    let product = || wire::product_from(props).map_err(|e| format!("{name}: {e}"));
    let quantity = number(props, "quantity")
        .filter(|q| *q >= 1.0 && *q <= f64::from(u32::MAX))
        .map_or(1, |q| q as u32);
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
