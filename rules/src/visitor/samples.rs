//! Sample visitors that together fill every field of the visitor view: the rulebook compiler
//! runs each condition against them to find mistakes before any shopper does.

use crate::visitor::profile::*;
use rapport_protocol::{Consent, Product};

/// Sample visitors that together fill every field of the visitor view: the rulebook
/// compiler runs each condition against them to find mistakes before any shopper does.
pub(crate) fn samples() -> [Profile; 2] {
    let now = 1_800_000_000_000;
    let product = Product {
        id: "sample".into(),
        name: Some("Sample".into()),
        price: Some(10.0),
        currency: Some("EUR".into()),
        category: Some("sample".into()),
        availability: Some("OutOfStock".into()),
        url: Some("/products/sample".into()),
        image: Some("/images/sample.jpg".into()),
    };
    let mut rich = Profile::new("sample-visitor-rich");
    rich.customer_id = Some("customer-1".into());
    rich.first_seen_ms = now - 400 * DAY_MS;
    rich.last_seen_ms = now;
    rich.sessions = 9;
    rich.session_id = "sample-session".into();
    rich.session_started_ms = now;
    rich.previous_visit_ms = Some(now - 70 * DAY_MS);
    rich.page_views = 40;
    rich.session_page_views = 3;
    rich.product_views = 12;
    rich.recent_products.push_front(ProductVisit {
        product: product.clone(),
        at_ms: now,
    });
    rich.cart.push(CartLine {
        product,
        quantity: 2,
    });
    rich.searches.push_front(SearchVisit {
        query: "linen".into(),
        results: Some(0),
        at_ms: now,
    });
    rich.search_count = 3;
    rich.zero_result_searches = 1;
    rich.page_scroll = 80;
    rich.engaged_seconds = 900;
    rich.session_engaged_seconds = 120;
    rich.rage_clicks = 4;
    rich.session_rage_clicks = 4;
    rich.purchases = Purchases {
        count: 3,
        lifetime_value: 420.0,
        last_ms: Some(now - 70 * DAY_MS),
        returns: 1,
    };
    rich.support = Support {
        tickets: 2,
        open_tickets: 1,
        last_ms: Some(now - 3 * DAY_MS),
    };
    rich.traits.insert("tier".into(), "gold".into());
    rich.traits.insert("subscriber".into(), true.into());
    rich.nps = Some(SurveyAnswer {
        score: 4,
        at_ms: now - DAY_MS,
        comment: None,
    });
    rich.csat = Some(SurveyAnswer {
        score: 2,
        at_ms: now - DAY_MS,
        comment: None,
    });
    rich.prompts.insert(
        "sample-experience".into(),
        PromptHistory {
            rule: "sample".into(),
            impressions: 2,
            ..PromptHistory::default()
        },
    );
    rich.device = Some("mobile".into());
    rich.locale = Some("pt-PT".into());
    rich.country = Some("PT".into());
    rich.utm_source = Some("newsletter".into());
    rich.utm_campaign = Some("winter".into());
    rich.consent = Some(Consent {
        analytics: true,
        personalization: true,
    });
    let mut fresh = Profile::new("sample-visitor-new");
    fresh.last_seen_ms = now;
    [fresh, rich]
}
