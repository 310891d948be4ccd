//! The Rapport widget, compiled to WebAssembly and started by the `rapport.js` loader.
//!
//! The entry point only reads the configuration and hands over: [`dom`] owns all DOM plumbing,
//! [`capture`] turns the page into events, [`transport`] delivers them exactly once, and
//! [`view`] hands what the edge decided to `view.js`, which shows it. The widget holds no
//! decision logic: it shows what `/v1/decide` answers, nothing else.

mod capture;
mod dom;
mod store;
mod transport;
mod view;
mod wire;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rapport_protocol::{Answer, Consent, EventData, ExperienceRef, PageView, ProductView, Survey};
use wasm_bindgen::prelude::*;

use crate::transport::Transport;

/// The widget allocates little (a few events and one decision at a time); a free list serves
/// that with far less code than the standard allocator, which every shopper would download.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// What the loader read from the script tag (`data-site`, and the script's own origin).
struct Config {
    site: String,
    endpoint: String,
    /// A preview token from the page URL (`?rapport_preview=TOKEN`): the edge forces its
    /// experience in, and nothing the previewer does is reported, so previews never count
    /// in reports or caps.
    preview: Option<String>,
}

/// The running widget: one per page.
struct Widget {
    config: Config,
    transport: Rc<Transport>,
    session_id: RefCell<String>,
    /// Experiences already on screen on this page, by experience id.
    shown: RefCell<Vec<String>>,
    /// What the site passed with `consent`, or, while it has not, what Global Privacy
    /// Control or Do Not Track imply (nothing allowed); `None` when neither says anything.
    consent: Cell<Option<Consent>>,
    /// Set by `forget`: nothing more is recorded or shown on this page.
    forgotten: Cell<bool>,
    /// `on(event, callback)` subscriptions.
    listeners: RefCell<Vec<(String, js_sys::Function)>>,
}

/// Starts the widget. Called once by the loader after the wasm module is instantiated, with
/// `{ site, endpoint }`.
#[wasm_bindgen]
pub fn start(config: JsValue) {
    let read = |key: &str| {
        js_sys::Reflect::get(&config, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let config = Config {
        site: read("site"),
        endpoint: read("endpoint").trim_end_matches('/').to_owned(),
        preview: dom::query_param("rapport_preview").filter(|t| !t.is_empty()),
    };
    if config.site.is_empty() {
        dom::warn("rapport: the script tag needs a data-site attribute");
        return;
    }
    let visitor_id = store::visitor_id();
    let widget = Rc::new(Widget {
        transport: Rc::new(Transport::new(&config.endpoint, &config.site, &visitor_id)),
        session_id: RefCell::new(store::session_id()),
        config,
        shown: RefCell::new(Vec::new()),
        consent: Cell::new(store::consent().or_else(|| {
            dom::privacy_signal().then_some(Consent {
                analytics: false,
                personalization: false,
            })
        })),
        forgotten: Cell::new(false),
        listeners: RefCell::new(Vec::new()),
    });
    widget.transport.install_unload_flush();
    install_command_queue(&widget);
    let shop = Rc::clone(&widget);
    dom::on(&dom::document(), "click", move |event| {
        if let Some(data) = event.target().and_then(|t| capture::cart_click(&t)) {
            site_event(&shop, data);
        }
    });
    let watcher = Rc::clone(&widget);
    capture::watch(move |data| {
        track(&watcher, data);
        watcher.transport.schedule_flush();
    });
    page(&widget);
}

impl Widget {
    /// Whether events may be recorded: not after `forget`, and not when the shopper's
    /// consent (or privacy signal) says no to analytics.
    fn may_track(&self) -> bool {
        !self.forgotten.get() && self.consent.get().is_none_or(|c| c.analytics)
    }

    /// Calls the page's `on(name, callback)` subscribers with `detail`. A callback that
    /// throws is reported on the console and does not stop the others.
    fn notify(&self, name: &str, detail: &JsValue) {
        for (event, callback) in self.listeners.borrow().iter() {
            if event == name || event == "*" {
                if let Err(err) = callback.call2(&JsValue::NULL, &name.into(), detail) {
                    web_sys::console::warn_2(&"rapport: an on() callback failed".into(), &err);
                }
            }
        }
    }

    /// Whether `experience` is new on this page, marking it seen: a decision asked again
    /// (after an add to cart, say) never shows or reports the same experience twice.
    fn first_time(&self, experience: &str) -> bool {
        let mut shown = self.shown.borrow_mut();
        if shown.iter().any(|e| e == experience) {
            return false;
        }
        shown.push(experience.to_owned());
        true
    }
}

/// Records a page view (and a product view where the page shows one), then decides.
fn page(widget: &Rc<Widget>) {
    capture::new_page();
    let page = capture::page_context();
    let search = capture::search_on_page(&page);
    track(
        widget,
        EventData::PageView(PageView {
            page,
            title: Some(dom::document().title()).filter(|t| !t.is_empty()),
            referrer: Some(dom::document().referrer()).filter(|r| !r.is_empty()),
        }),
    );
    if let Some(product) = capture::product_on_page() {
        track(widget, EventData::ProductView(ProductView { product }));
    }
    if let Some(search) = search {
        track(widget, EventData::Search(search));
    }
    if let Some(checkout) = capture::checkout_on_page() {
        track(widget, checkout);
    }
    refresh(widget);
}

fn track(widget: &Widget, data: EventData) {
    if !widget.may_track() {
        return;
    }
    let session_id = store::touch_session(&widget.session_id);
    widget.transport.enqueue(&session_id, data);
}

/// Delivers what is queued, then asks the edge what to show now. Events go first so the
/// decision sees them (an add to cart on the previous page, say).
fn refresh(widget: &Rc<Widget>) {
    if widget.forgotten.get() {
        return;
    }
    let after = Rc::clone(widget);
    widget.transport.flush(Box::new(move || decide(&after)));
}

/// Asks the edge what to show now, and arms it.
fn decide(widget: &Rc<Widget>) {
    let request = wire::decide_request(
        &widget.config.site,
        widget.transport.visitor_id(),
        &widget.session_id.borrow(),
        &capture::page_context(),
        widget.config.preview.as_deref(),
        widget.consent.get(),
    );
    let url = [widget.config.endpoint.as_str(), "/v1/decide"].concat();
    let widget = Rc::clone(widget);
    dom::post_json(
        &url,
        &request,
        Box::new(move |answer| match answer {
            Ok(answer) => show_decision(&widget, &answer),
            Err(err) => dom::warn(&["rapport: no decision (", &err, ")"].concat()),
        }),
    );
}

/// Records the control groups the visitor is in, and arms each experience not yet shown on
/// this page.
fn show_decision(widget: &Rc<Widget>, answer: &JsValue) {
    for control in wire::list(answer, "controls")
        .iter()
        .filter_map(wire::experience_ref)
    {
        if widget.first_time(&control.experience) && widget.config.preview.is_none() {
            track(widget, EventData::Exposure(control));
            widget.transport.schedule_flush();
        }
    }
    // The view gets each experience as the edge wrote it; the widget keeps only what its
    // events name.
    for experience in wire::list(answer, "experiences") {
        let Some(reference) = wire::experience_ref(&experience) else {
            continue;
        };
        if !widget.first_time(&reference.experience) {
            continue;
        }
        let survey = match wire::text(&experience, "kind").as_deref() {
            Some("csat") => Survey::Csat,
            _ => Survey::Nps,
        };
        let on_screen = Rc::clone(widget);
        view::show(&experience, survey, move |outcome| {
            report(&on_screen, outcome, reference.clone());
        });
    }
}

/// Turns what the shopper did with a prompt into an event.
fn report(widget: &Rc<Widget>, outcome: view::Outcome, reference: ExperienceRef) {
    if widget.config.preview.is_some() {
        return;
    }
    let data = match outcome {
        view::Outcome::Shown => EventData::Impression(reference),
        view::Outcome::Clicked => EventData::Click(reference),
        view::Outcome::Dismissed => EventData::Dismiss(reference),
        view::Outcome::Answered {
            survey,
            score,
            comment,
        } => EventData::Answer(Answer {
            experience: reference,
            survey,
            score,
            comment,
        }),
    };
    let answered = matches!(data, EventData::Answer(_));
    widget.notify(data.kind(), &wire::event_detail(&data));
    track(widget, data);
    if answered {
        // An answer can change the visitor's segment (a detractor gets service recovery):
        // decide again now, in the same page view.
        refresh(widget);
    } else {
        widget.transport.schedule_flush();
    }
}

/// `forget`: stops recording and showing on this page, removes everything Rapport keeps in
/// the browser, and asks the edge to erase the visitor. The next page starts afresh, with a
/// new random id.
fn forget(widget: &Rc<Widget>) {
    widget.forgotten.set(true);
    widget.transport.clear();
    view::clear();
    store::forget(&widget.config.site);
    let url = [widget.config.endpoint.as_str(), "/v1/forget"].concat();
    let body = wire::forget_request(&widget.config.site, widget.transport.visitor_id());
    let widget = Rc::clone(widget);
    dom::post_json(
        &url,
        &body,
        Box::new(move |erased| {
            let detail = wire::get(erased.as_ref().unwrap_or(&JsValue::NULL), "erased");
            if erased.is_err() {
                dom::warn("rapport: the edge could not be asked to forget this visitor");
            }
            widget.notify("forget", &detail);
        }),
    );
}

/// `identify`: links this visitor to the shop's customer account, so decisions see what the
/// shop's systems report about the customer (orders, tickets, traits), then decides again.
/// The shop's server signs the customer id; the edge refuses anything else. A visitor is
/// identified once per customer: later pages of a signed-in shopper send nothing.
fn identify(widget: &Rc<Widget>, customer_id: String, signature: String) {
    if !widget.may_track() || widget.config.preview.is_some() {
        return;
    }
    if store::identified().as_deref() == Some(customer_id.as_str()) {
        return;
    }
    let url = [widget.config.endpoint.as_str(), "/v1/identify"].concat();
    let body = wire::identify_request(
        &widget.config.site,
        widget.transport.visitor_id(),
        &customer_id,
        &signature,
    );
    let widget = Rc::clone(widget);
    dom::post_json(
        &url,
        &body,
        Box::new(move |answer| match answer {
            Ok(answer) => {
                store::set_identified(&customer_id);
                widget.notify("identify", &answer);
                refresh(&widget);
            }
            Err(err) => dom::warn(&["rapport: identify failed (", &err, ")"].concat()),
        }),
    );
}

/// Records what the shop reports (a `track` command, or a click on a cart button marked with
/// data attributes), shows what waited for it, and decides again when it can change the
/// decision.
fn site_event(widget: &Rc<Widget>, data: EventData) {
    let name = data.kind();
    let changes_decision = matches!(
        data,
        EventData::AddToCart(_)
            | EventData::RemoveFromCart(_)
            | EventData::Cart(_)
            | EventData::OrderComplete(_)
    );
    track(widget, data);
    view::tracked(name);
    if changes_decision {
        refresh(widget);
    } else {
        widget.transport.schedule_flush();
    }
}

/// Replaces the `window.rapport` array the page may have filled before the script loaded with
/// an object whose `push` runs commands at once, after running the queued ones in order.
fn install_command_queue(widget: &Rc<Widget>) {
    let window = dom::window();
    let queued = js_sys::Reflect::get(&window, &"rapport".into()).unwrap_or(JsValue::UNDEFINED);
    let api = js_sys::Object::new();
    let handler = Rc::clone(widget);
    let push =
        Closure::<dyn Fn(JsValue)>::new(move |command: JsValue| run_command(&handler, command));
    let _ = js_sys::Reflect::set(&api, &"push".into(), push.as_ref());
    // The page keeps calling `rapport.push` for as long as it lives.
    push.forget();
    let _ = js_sys::Reflect::set(&window, &"rapport".into(), &api);
    if let Some(queued) = queued.dyn_ref::<js_sys::Array>() {
        for command in queued.iter() {
            run_command(widget, command);
        }
    }
}

/// Runs one command, `['track', name, props]` or `['page']`. A bad command is reported on
/// the console and ignored: it must never break the page.
fn run_command(widget: &Rc<Widget>, command: JsValue) {
    let Some(parts) = command.dyn_ref::<js_sys::Array>() else {
        dom::warn(
            "rapport: commands are arrays, like rapport.push(['track', 'add_to_cart', {...}])",
        );
        return;
    };
    let name = parts.get(0).as_string().unwrap_or_default();
    match name.as_str() {
        "track" => match capture::event_from_command(&parts.get(1), &parts.get(2)) {
            Ok(data) => site_event(widget, data),
            Err(message) => dom::warn(&["rapport: track: ", &message].concat()),
        },
        "page" => {
            widget.shown.borrow_mut().clear();
            view::clear();
            page(widget);
        }
        "consent" => {
            let props = parts.get(1);
            let flag = |key: &str| wire::get(&props, key).as_bool().unwrap_or(false);
            let consent = Consent {
                analytics: flag("analytics"),
                personalization: flag("personalization"),
            };
            store::set_consent(consent);
            widget.consent.set(Some(consent));
            if consent.analytics {
                // The edge keeps it with the profile, so later decisions follow it too.
                track(widget, EventData::Consent(consent));
            } else {
                widget.transport.clear();
            }
            refresh(widget);
        }
        "on" => match (
            parts.get(1).as_string(),
            parts.get(2).dyn_into::<js_sys::Function>(),
        ) {
            (Some(event), Ok(callback)) => widget.listeners.borrow_mut().push((event, callback)),
            _ => dom::warn("rapport: on takes an event name and a function"),
        },
        "forget" => forget(widget),
        // A cart button clicked while the wasm was loading, queued by the loader.
        "_click" => {
            if let Some(data) = capture::cart_click(&parts.get(1)) {
                site_event(widget, data);
            }
        }
        "identify" => match (
            parts.get(1).as_string().filter(|c| !c.is_empty()),
            wire::text(&parts.get(2), "signature"),
        ) {
            (Some(customer_id), Some(signature)) => identify(widget, customer_id, signature),
            _ => dom::warn(
                "rapport: identify takes a customer id and {signature}, signed by the shop's \
                 server (see the README)",
            ),
        },
        other => dom::warn(&["rapport: unknown command \"", other, "\""].concat()),
    }
}
