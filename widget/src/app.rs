//! The widget's controller: one [`Widget`] per page, which records what the shopper does,
//! asks the edge what to show, hands it to the view, and turns what the shopper does with a
//! prompt into events. `commands` calls it for the page's `rapport.push([...])` commands.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rapport_protocol::{Answer, Consent, EventData, ExperienceRef, PageView, ProductView, Survey};
use wasm_bindgen::JsValue;

use crate::transport::Transport;
use crate::{capture, dom, store, view, wire};

// `#[inline(always)]` below marks the functions called once, from `lib` or `commands`: the
// widget's size profile does not inline them across modules by itself, and each call kept
// costs bytes every shopper downloads.

/// What the loader read from the script tag (`data-site`, and the script's own origin).
pub struct Config {
    pub site: String,
    pub endpoint: String,
    /// A preview token from the page URL (`?rapport_preview=TOKEN`): the edge forces its
    /// experience in, and nothing the previewer does is reported, so previews never count
    /// in reports or caps.
    pub preview: Option<String>,
}

/// The running widget: one per page.
pub struct Widget {
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
    /// Set when the edge refuses the page URL's preview token (expired, forged).
    preview_refused: Cell<bool>,
    /// Counts the pages left: a decision is shown only on the page it was asked for.
    page_seq: Cell<u32>,
    /// `on(event, callback)` subscriptions.
    listeners: RefCell<Vec<(String, js_sys::Function)>>,
}

/// The controller for this page, with the visitor and session it finds in the browser.
#[inline(always)]
pub fn new(config: Config) -> Rc<Widget> {
    let consent = store::consent().or_else(|| {
        dom::privacy_signal().then_some(Consent {
            analytics: false,
            personalization: false,
        })
    });
    // Until the site passes consent to analytics, the widget keeps no identifier in the
    // browser and sends none: decisions for such a shopper need no identity.
    let widget = Rc::new(Widget {
        transport: Rc::new(Transport::new(&config.endpoint, &config.site, "")),
        session_id: RefCell::new(String::new()),
        config,
        shown: RefCell::new(Vec::new()),
        consent: Cell::new(consent),
        forgotten: Cell::new(false),
        preview_refused: Cell::new(false),
        page_seq: Cell::new(0),
        listeners: RefCell::new(Vec::new()),
    });
    if widget.may_track() {
        identified_by_browser(&widget);
    }
    widget.transport.install_unload_flush();
    widget
}

/// Gives the shopper the browser's visitor id and session (made and kept on first use).
fn identified_by_browser(widget: &Widget) {
    widget.transport.set_visitor_id(store::visitor_id());
    widget.session_id.replace(store::session_id());
}

/// Starts watching the page (its own cart buttons, capture) and records the first page view,
/// then decides. Commands the page queued before the script loaded have run by now.
#[inline(always)]
pub fn run(widget: &Rc<Widget>) {
    let shop = Rc::clone(widget);
    dom::on(&dom::document(), "click", move |event| {
        if let Some(data) = event.target().and_then(|t| capture::cart_click(&t)) {
            site_event(&shop, data);
        }
    });
    let watcher = Rc::clone(widget);
    capture::watch(move |data| {
        track(&watcher, data);
        watcher.transport.schedule_flush();
    });
    page(widget);
}

impl Widget {
    /// Whether the page shows a preview: then nothing the previewer does with it is reported.
    fn previewing(&self) -> bool {
        self.config.preview.is_some() && !self.preview_refused.get()
    }

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
                dom::call_listener(callback, name, detail);
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

/// `_leave`: the page is going (a single-page app's route changed). What it showed goes,
/// its armed triggers with it, and a decision still on its way for it is dropped.
pub fn leave(widget: &Widget) {
    widget.page_seq.set(widget.page_seq.get() + 1);
    widget.shown.borrow_mut().clear();
    view::clear();
}

/// `page`: a new page in a single-page app, recorded and decided for.
#[inline(always)]
pub fn new_page(widget: &Rc<Widget>) {
    leave(widget);
    page(widget);
}

/// `consent`: what the site's consent banner says, kept for later pages. Without consent to
/// analytics nothing waiting is sent; either way the decision is asked again.
#[inline(always)]
pub fn set_consent(widget: &Rc<Widget>, consent: Consent) {
    store::set_consent(consent);
    widget.consent.set(Some(consent));
    if consent.analytics {
        identified_by_browser(widget);
        // The edge keeps it with the profile, so later decisions follow it too.
        track(widget, EventData::Consent(consent));
    } else {
        widget.transport.clear();
    }
    refresh(widget);
}

/// `on(event, callback)`: `callback(name, detail)` hears `event` (`"*"` for every one).
#[inline(always)]
pub fn subscribe(widget: &Widget, event: String, callback: js_sys::Function) {
    widget.listeners.borrow_mut().push((event, callback));
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
        &widget.transport.visitor_id(),
        &widget.session_id.borrow(),
        &capture::page_context(),
        // The token, until the edge refuses it: `previewing`'s test, written out here because
        // a method shared by both cost the download 32 B.
        widget
            .config
            .preview
            .as_deref()
            .filter(|_| !widget.preview_refused.get()),
        widget.consent.get(),
    );
    let url = [widget.config.endpoint.as_str(), "/v1/decide"].concat();
    let asked_on = widget.page_seq.get();
    let widget = Rc::clone(widget);
    dom::post_json(
        &url,
        &request,
        Box::new(move |answer| match answer {
            Ok(_) if widget.page_seq.get() != asked_on => {}
            Ok(answer) => show_decision(&widget, &answer),
            Err(err) => dom::warn(&["rapport: no decision (", &err, ")"].concat()),
        }),
    );
}

/// Records the control groups the visitor is in, and arms each experience not yet shown on
/// this page.
fn show_decision(widget: &Rc<Widget>, answer: &JsValue) {
    // A preview link the edge refused (expired, forged): the shopper got the usual decision,
    // and is no previewer from now on. The preview panel (loaded by the loader for such an
    // answer) says why.
    if wire::text(answer, "preview_error").is_some() {
        widget.preview_refused.set(true);
    }
    // The view gets each experience as the edge wrote it, and the widget keeps only what
    // its events name. A control group's entry has no kind: the view arms the trigger the
    // treatment would have shown on, and its firing is the exposure.
    for experience in wire::list(answer, "controls")
        .into_iter()
        .chain(wire::list(answer, "experiences"))
    {
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

/// Turns what the shopper did with a prompt into an event; a control's trigger firing is
/// its exposure.
fn report(widget: &Rc<Widget>, outcome: view::Outcome, reference: ExperienceRef) {
    if widget.previewing() {
        return;
    }
    let data = match outcome {
        view::Outcome::Exposed => EventData::Exposure(reference),
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
pub fn forget(widget: &Rc<Widget>) {
    widget.forgotten.set(true);
    widget.transport.clear();
    view::clear();
    // The id the browser kept, even one a shopper who withholds consent now had before.
    let kept = store::kept_visitor_id();
    store::forget(&widget.config.site);
    let Some(visitor_id) = kept else {
        // Nothing identifies this shopper anywhere: nothing to erase at the edge.
        widget.notify("forget", &JsValue::TRUE);
        return;
    };
    let url = [widget.config.endpoint.as_str(), "/v1/forget"].concat();
    let body = wire::forget_request(&widget.config.site, &visitor_id);
    let widget = Rc::clone(widget);
    dom::post_json(
        &url,
        &body,
        Box::new(move |erased| {
            let detail = wire::get(erased.as_ref().unwrap_or(&JsValue::NULL), "erased");
            if erased.is_err() {
                dom::warn("rapport: forget did not reach the edge");
            }
            widget.notify("forget", &detail);
        }),
    );
}

/// `identify`: links this visitor to the shop's customer account, so decisions see what the
/// shop's systems report about the customer (orders, tickets, traits), then decides again.
/// The shop's server signs the customer id; the edge refuses anything else. A visitor is
/// identified once per customer: later pages of a signed-in shopper send nothing.
pub fn identify(widget: &Rc<Widget>, customer_id: String, signature: String) {
    if !widget.may_track() || widget.previewing() {
        return;
    }
    if store::identified().as_deref() == Some(customer_id.as_str()) {
        return;
    }
    let url = [widget.config.endpoint.as_str(), "/v1/identify"].concat();
    let body = wire::identify_request(
        &widget.config.site,
        &widget.transport.visitor_id(),
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
pub fn site_event(widget: &Rc<Widget>, data: EventData) {
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
