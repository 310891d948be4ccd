//! Folding events into a profile.

use super::*;
use rapport_protocol::{AddToCart, PageView, RemoveFromCart};

fn event(session: &str, data: EventData) -> Event {
    Event {
        id: "evt-00000000".into(),
        session_id: session.into(),
        client_ts: None,
        data,
    }
}

fn product(id: &str, price: f64) -> Product {
    Product {
        image: None,
        id: id.into(),
        name: Some(format!("Product {id}")),
        price: Some(price),
        currency: Some("EUR".into()),
        category: Some("shirts".into()),
        availability: None,
        url: None,
    }
}

#[test]
fn a_cart_in_two_currencies_is_valued_in_its_first() {
    let line = |price: f64, currency: Option<&str>| CartLine {
        product: Product {
            image: None,
            id: format!("p{price}"),
            name: None,
            price: Some(price),
            currency: currency.map(str::to_owned),
            category: None,
            availability: None,
            url: None,
        },
        quantity: 1,
    };
    let mut profile = Profile::new("v");
    profile.cart = vec![
        line(10.0, Some("EUR")),
        line(20.0, Some("USD")),
        line(5.0, None),
    ];
    assert_eq!(profile.cart_value(), 15.0);
    assert_eq!(profile.cart_currency(), Some("EUR"));
}

#[test]
fn a_cart_snapshot_replaces_the_cart_within_its_limit() {
    use rapport_protocol::CartContents;
    let mut p = Profile::new("visitor-1");
    let line = |id: &str, quantity: u32| AddToCart {
        product: product(id, 10.0),
        quantity,
    };
    p.apply(&event("s1", EventData::AddToCart(line("a", 1))), 1);
    let snapshot = CartContents {
        items: vec![line("b", 2), line("c", 0), line("b", 1)],
    };
    p.apply(&event("s1", EventData::Cart(snapshot)), 2);
    let lines: Vec<(&str, u32)> = p
        .cart
        .iter()
        .map(|l| (l.product.id.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("b", 3), ("c", 1)]);

    let huge = CartContents {
        items: (0..CART_LIMIT + 50)
            .map(|i| line(&i.to_string(), 1))
            .collect(),
    };
    p.apply(&event("s1", EventData::Cart(huge)), 3);
    assert_eq!(p.cart.len(), CART_LIMIT);
    p.apply(
        &event("s1", EventData::Cart(CartContents { items: vec![] })),
        4,
    );
    assert!(p.cart.is_empty());
}

#[test]
fn an_order_confirmation_finishes_the_checkout_once() {
    use rapport_protocol::{CheckoutStep, OrderComplete};
    let mut p = Profile::new("visitor-1");
    let step = |name: &str| {
        event(
            "s1",
            EventData::CheckoutStep(CheckoutStep { step: name.into() }),
        )
    };
    let order = |id: &str| {
        event(
            "s1",
            EventData::OrderComplete(OrderComplete {
                order_id: id.into(),
                value: Some(94.0),
                currency: Some("EUR".into()),
            }),
        )
    };
    p.apply(
        &event(
            "s1",
            EventData::AddToCart(AddToCart {
                product: product("a", 59.0),
                quantity: 1,
            }),
        ),
        1,
    );
    p.apply(&step("shipping"), 2);
    p.apply(&step(&format!("  {}  ", "x".repeat(80))), 3);
    assert_eq!(p.checkout.step.as_deref(), Some("x".repeat(40).as_str()));
    p.apply(&step("payment"), 4);
    assert_eq!(
        (p.checkout.step.as_deref(), p.checkout.step_ms),
        (Some("payment"), Some(4))
    );

    p.apply(&order("order-1"), 5);
    p.apply(&order("order-1"), 6);
    assert_eq!(
        (p.checkout.orders, p.checkout.session_orders),
        (1, 1),
        "seen again"
    );
    assert_eq!((p.checkout.step.as_ref(), p.cart.len()), (None, 0));
    assert_eq!(
        p.purchases.count, 0,
        "only the shop's server reports purchases"
    );

    p.apply(&order("order-2"), 7);
    p.apply(&step("shipping"), 8);
    p.apply(
        &event(
            "s2",
            EventData::CheckoutStep(CheckoutStep { step: " ".into() }),
        ),
        9,
    );
    assert_eq!((p.checkout.orders, p.checkout.session_orders), (2, 0));
    assert_eq!(
        p.checkout.step.as_deref(),
        Some("shipping"),
        "a blank step is ignored"
    );
}

#[test]
fn cart_adds_merge_and_removes_drop_lines() {
    let mut p = Profile::new("visitor-1");
    let add = |id: &str, q: u32| {
        event(
            "s1",
            EventData::AddToCart(AddToCart {
                product: product(id, 10.0),
                quantity: q,
            }),
        )
    };
    p.apply(&add("a", 1), 1);
    p.apply(&add("a", 2), 2);
    p.apply(&add("b", 1), 3);
    assert_eq!(p.cart_items(), 4);
    assert_eq!(p.cart_value(), 40.0);
    p.apply(
        &event(
            "s1",
            EventData::RemoveFromCart(RemoveFromCart {
                product_id: "a".into(),
                quantity: 3,
            }),
        ),
        4,
    );
    assert_eq!(p.cart.len(), 1);
    assert_eq!(p.lifecycle(4).as_str(), "cart");
}

#[test]
fn sessions_count_distinct_session_ids() {
    let mut p = Profile::new("visitor-1");
    let view = |s: &str| {
        event(
            s,
            EventData::PageView(PageView {
                page: PageContext {
                    url: "http://x/".into(),
                    path: "/".into(),
                    kind: Some("home".into()),
                    locale: None,
                },
                title: None,
                referrer: None,
            }),
        )
    };
    p.apply(&view("s1"), 10);
    p.apply(&view("s1"), 20);
    p.apply(&view("s2"), 30);
    assert_eq!(p.sessions, 2);
    assert_eq!(p.page_views, 3);
    assert_eq!(p.session_page_views, 1);
    assert_eq!(p.first_seen_ms, 10);
    assert_eq!(p.lifecycle(30).as_str(), "engaged");
}

#[test]
fn impressions_count_per_session() {
    let mut p = Profile::new("visitor-1");
    let seen = |s: &str| {
        event(
            s,
            EventData::Impression(ExperienceRef {
                rule: "welcome".into(),
                experience: "welcome-bar".into(),
                variant: None,
                segment: None,
            }),
        )
    };
    p.apply(&seen("s1"), 1);
    p.apply(&seen("s1"), 2);
    p.apply(&seen("s2"), 3);
    let h = &p.prompts["welcome-bar"];
    assert_eq!((h.impressions, h.session_impressions), (3, 1));
}

#[test]
fn customers_drift_to_at_risk_and_lapsed() {
    let mut p = Profile::new("visitor-1");
    p.purchases.count = 2;
    p.last_seen_ms = 1;
    assert_eq!(p.lifecycle(DAY_MS).as_str(), "repeat");
    assert_eq!(p.lifecycle(61 * DAY_MS).as_str(), "at_risk");
    assert_eq!(p.lifecycle(200 * DAY_MS).as_str(), "lapsed");
}

#[test]
fn a_customer_back_after_months_is_still_at_risk_on_that_visit() {
    let mut p = Profile::new("visitor-1");
    p.record_purchase(80.0, 0);
    p.apply(
        &event(
            "s1",
            EventData::Scroll(rapport_protocol::Scroll { percent: 10 }),
        ),
        0,
    );
    let back = 90 * DAY_MS;
    p.apply(
        &event(
            "s2",
            EventData::Scroll(rapport_protocol::Scroll { percent: 10 }),
        ),
        back,
    );
    assert_eq!(p.days_away(back), 90);
    assert_eq!(p.lifecycle(back).as_str(), "at_risk");
}

#[test]
fn answers_update_nps_and_prompt_history() {
    let mut p = Profile::new("visitor-1");
    let answer = rapport_protocol::Answer {
        experience: ExperienceRef {
            rule: "nps".into(),
            experience: "nps-survey".into(),
            variant: None,
            segment: None,
        },
        survey: rapport_protocol::Survey::Nps,
        score: 12,
        comment: Some("great".into()),
    };
    p.apply(&event("s1", EventData::Answer(answer)), 5);
    assert_eq!(p.nps.as_ref().map(|a| a.score), Some(10));
    assert_eq!(p.prompts["nps-survey"].answers, 1);
}

#[test]
fn utm_source_comes_from_the_landing_url() {
    let check = |url: &str, expected: Option<&str>| {
        assert_eq!(query_param(url, "utm_source").as_deref(), expected, "{url}");
    };
    check(
        "https://shop/?utm_source=news%20letter&x=1",
        Some("news letter"),
    );
    check("https://shop/?a=1&utm_source=ads#top", Some("ads"));
    check("https://shop/?utm_source=", None);
    check("https://shop/", None);
}
