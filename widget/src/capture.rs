//! Turning the page and the site's `track` commands into events. Reads only what the shop
//! publishes about itself (page kind, language, product markup); never form fields.

use std::cell::Cell;
use std::rc::Rc;

use rapport_protocol::{
    AddToCart, CartContents, CheckoutStep, Engagement, EventData, OrderComplete, PageContext,
    Product, ProductView, RageClick, RemoveFromCart, Scroll, Search,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::dom;
use crate::view;
use crate::wire::{self, get, list, number, text};

/// Where the shopper is now. The page kind comes from `<body data-rapport-page="...">`, or
/// else from the first element with one (an app renders its own, inside the body).
pub fn page_context() -> PageContext {
    let document = dom::document();
    let location = dom::window().location();
    let kind_of = |element: Option<web_sys::Element>| {
        element?
            .get_attribute("data-rapport-page")
            .filter(|k| !k.is_empty())
    };
    let kind = kind_of(document.body().map(Into::into)).or_else(|| {
        kind_of(
            document
                .query_selector("[data-rapport-page]:not([data-rapport-page=''])")
                .ok()
                .flatten(),
        )
    });
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
    let mut product = product_from_element(&element, "data-rapport-product")?;
    // The page presents this product: it is the product's page.
    product.url = product
        .url
        .or_else(|| dom::window().location().pathname().ok());
    Some(product)
}

/// A product described by an element's attributes: the id in `id_attribute`, and
/// `data-name`, `data-price`, `data-currency`, `data-category`, `data-availability`,
/// `data-url`, `data-image`.
fn product_from_element(element: &web_sys::Element, id_attribute: &str) -> Option<Product> {
    let data = |name: &str| element.get_attribute(name).filter(|v| !v.is_empty());
    Some(Product {
        image: data("data-image"),
        id: data(id_attribute)?,
        name: data("data-name"),
        price: data("data-price")
            .map(|p| js_sys::Number::parse_float(&p))
            .filter(|p| p.is_finite()),
        currency: data("data-currency"),
        category: data("data-category"),
        availability: data("data-availability"),
        url: data("data-url"),
    })
}

/// A click on an element marked `data-rapport-add-to-cart="SKU"` (with the product's
/// `data-name`, `data-price`... and optionally `data-quantity`) or
/// `data-rapport-remove-from-cart="SKU"`: the cart change, without a line of the shop's
/// JavaScript.
pub fn cart_click(target: &JsValue) -> Option<EventData> {
    let element = target
        .dyn_ref::<web_sys::Element>()?
        .closest("[data-rapport-add-to-cart], [data-rapport-remove-from-cart]")
        .ok()??;
    let quantity = element
        .get_attribute("data-quantity")
        .and_then(|q| dom::parse_whole::<u32>(q.trim_ascii()))
        .filter(|q| *q >= 1)
        .unwrap_or(1);
    match product_from_element(&element, "data-rapport-add-to-cart") {
        Some(product) => Some(EventData::AddToCart(AddToCart { product, quantity })),
        None => Some(EventData::RemoveFromCart(RemoveFromCart {
            product_id: element
                .get_attribute("data-rapport-remove-from-cart")
                .filter(|id| !id.is_empty())?,
            quantity,
        })),
    }
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
        // A picture's address (a list or an ImageObject is not read).
        image: text(json, "image"),
        id: text(json, "sku")
            .or_else(|| text(json, "productID"))
            .or_else(|| text(json, "@id"))?,
        name: text(json, "name"),
        price: number(&offer, "price"),
        currency: text(&offer, "priceCurrency"),
        category: text(json, "category"),
        availability: text(&offer, "availability").map(|a| {
            match a.bytes().rposition(|b| b == b'/') {
                // `https://schema.org/InStock` is `InStock`.
                Some(at) => a.get(at + 1..).unwrap_or_default().to_owned(),
                None => a,
            }
        }),
        url: dom::window().location().pathname().ok(),
    })
}

/// `quantity`, a whole number of at least 1 (1 when missing or not a number).
fn quantity_of(props: &JsValue) -> u32 {
    number(props, "quantity")
        .filter(|q| *q >= 1.0 && *q <= f64::from(u32::MAX))
        .map_or(1, |q| q as u32)
}

/// Builds an event from `rapport.push(['track', name, props])`.
pub fn event_from_command(name: &JsValue, props: &JsValue) -> Result<EventData, String> {
    let name = name.as_string().ok_or("the event name must be a string")?;
    if !(props.is_undefined() || props.is_null() || props.is_object()) {
        return Err("the event properties must be a plain object".into());
    }
    let product =
        || wire::product_from(props).map_err(|e| dom::cat(&[name.as_str(), ": ", e.as_str()]));
    let quantity = quantity_of(props);
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
        "cart" => Ok(EventData::Cart(CartContents {
            // Each item is a product with its quantity, as `add_to_cart` takes them.
            items: list(props, "items")
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let product = wire::product_from(item).map_err(|e| {
                        dom::cat(&["cart: items[", &dom::decimal(index as u64), "]: ", &e])
                    })?;
                    Ok(AddToCart {
                        product,
                        quantity: quantity_of(item),
                    })
                })
                .collect::<Result<_, String>>()?,
        })),
        "checkout_step" => Ok(EventData::CheckoutStep(CheckoutStep {
            step: text(props, "step").ok_or("checkout_step: a step needs a `step` name")?,
        })),
        "order_complete" => Ok(EventData::OrderComplete(OrderComplete {
            order_id: text(props, "order_id")
                .ok_or("order_complete: an order needs an `order_id`")?,
            value: number(props, "value"),
            currency: text(props, "currency"),
        })),
        "search" => Ok(EventData::Search(Search {
            query: text(props, "query").ok_or("search: a search needs a `query`")?,
            results: number(props, "results")
                .filter(|r| *r >= 0.0)
                .map(|r| r as u32),
        })),
        other => Err(dom::cat(&[
            "unknown event \"",
            other,
            "\" (expected add_to_cart, remove_from_cart, cart, product_view, search, \
             checkout_step or order_complete)",
        ])),
    }
}

/// Scroll depths reported once per page.
const SCROLL_MILESTONES: [u8; 4] = [25, 50, 75, 100];
/// Engaged time is counted in ticks, while the page is visible and had input lately.
const TICK_MS: i32 = 5_000;
const ACTIVE_WINDOW_MS: f64 = 30_000.0;
/// Engaged seconds are reported in slices of this size, and what is left on page exit.
const ENGAGEMENT_SLICE: u32 = 30;
/// Three clicks within this time and distance are a rage click.
const RAGE_WINDOW_MS: f64 = 1_000.0;
const RAGE_DISTANCE_PX: i32 = 40;

thread_local! {
    static DEEPEST_SCROLL: Cell<u8> = const { Cell::new(0) };
}

/// A new page (a load, or a single-page app's route change): scroll depth starts over.
pub fn new_page() {
    DEEPEST_SCROLL.with(|d| d.set(0));
}

/// Watches the shopper's behaviour on the page and hands what matters to `record`: scroll
/// depth milestones, engaged time (visible and active), and rage clicks. Only positions,
/// times and element tags are read: never text, never form values.
pub fn watch(record: impl Fn(EventData) + Clone + 'static) {
    let window = dom::window();
    let on_scroll = record.clone();
    dom::on(&window, "scroll", move |_| {
        let percent = view::scrolled_percent();
        let reached = SCROLL_MILESTONES
            .into_iter()
            .rfind(|m| percent >= f64::from(*m));
        if let Some(milestone) = reached {
            if milestone > DEEPEST_SCROLL.with(Cell::get) {
                DEEPEST_SCROLL.with(|d| d.set(milestone));
                on_scroll(EventData::Scroll(Scroll { percent: milestone }));
            }
        }
    });

    let last_input = Rc::new(Cell::new(dom::now_ms()));
    for event in ["mousemove", "keydown", "scroll", "touchstart", "click"] {
        let last_input = Rc::clone(&last_input);
        dom::on(&window, event, move |_| last_input.set(dom::now_ms()));
    }
    let engaged = Rc::new(Cell::new(0u32));
    {
        let (engaged, record) = (Rc::clone(&engaged), record.clone());
        dom::set_interval(TICK_MS, move || {
            let visible = dom::document().visibility_state() == web_sys::VisibilityState::Visible;
            if visible && dom::now_ms() - last_input.get() < ACTIVE_WINDOW_MS {
                engaged.set(engaged.get() + (TICK_MS / 1000) as u32);
            }
            if engaged.get() >= ENGAGEMENT_SLICE {
                engaged.set(0);
                record(EventData::Engagement(Engagement {
                    seconds: ENGAGEMENT_SLICE,
                }));
            }
        });
    }
    {
        let record = record.clone();
        dom::on(&dom::document(), "visibilitychange", move |_| {
            let hidden = dom::document().visibility_state() == web_sys::VisibilityState::Hidden;
            if hidden && engaged.get() > 0 {
                record(EventData::Engagement(Engagement {
                    seconds: engaged.replace(0),
                }));
            }
        });
    }

    let clicks: Rc<std::cell::RefCell<Vec<(f64, i32, i32)>>> = Rc::default();
    dom::on(&dom::document(), "click", move |event| {
        let Some(mouse) = event.dyn_ref::<web_sys::MouseEvent>() else {
            return;
        };
        let now = dom::now_ms();
        let (x, y) = (mouse.client_x(), mouse.client_y());
        let mut recent = clicks.borrow_mut();
        recent.retain(|(at, cx, cy)| {
            now - at < RAGE_WINDOW_MS
                && (cx - x).abs() <= RAGE_DISTANCE_PX
                && (cy - y).abs() <= RAGE_DISTANCE_PX
        });
        recent.push((now, x, y));
        if recent.len() >= 3 {
            recent.clear();
            let target = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .map(|e| e.tag_name().to_ascii_lowercase());
            record(EventData::RageClick(RageClick { target }));
        }
    });
}

/// A search results page (`data-rapport-page="search"`) reports its query (from `q`,
/// `query`, `search` or `s` in the URL) and, when the page says so with
/// `data-rapport-results` on `<body>`, how many results it found.
pub fn search_on_page(page: &PageContext) -> Option<Search> {
    if page.kind.as_deref() != Some("search") {
        return None;
    }
    let query = ["q", "query", "search", "s"]
        .iter()
        .find_map(|name| dom::query_param(name))
        .filter(|q| !q.trim_ascii().is_empty())?;
    let results = dom::document()
        .body()
        .and_then(|b| b.get_attribute("data-rapport-results"))
        .and_then(|r| dom::parse_whole(r.trim_ascii()));
    Some(Search {
        query: query.chars().take(200).collect(),
        results,
    })
}

/// What a server-rendered checkout page says about itself on `<body>`: the step
/// (`data-rapport-checkout-step="payment"`), or the order it confirms
/// (`data-rapport-order="ID"`, with `data-rapport-order-value` and
/// `data-rapport-order-currency`).
pub fn checkout_on_page() -> Option<EventData> {
    let body = dom::document().body()?;
    let attribute = |name: &str| {
        body.get_attribute(name)
            .filter(|v| !v.trim_ascii().is_empty())
    };
    if let Some(order_id) = attribute("data-rapport-order") {
        return Some(EventData::OrderComplete(OrderComplete {
            order_id,
            value: attribute("data-rapport-order-value")
                .map(|v| js_sys::Number::parse_float(&v))
                .filter(|v| v.is_finite()),
            currency: attribute("data-rapport-order-currency"),
        }));
    }
    attribute("data-rapport-checkout-step")
        .map(|step| EventData::CheckoutStep(CheckoutStep { step }))
}
