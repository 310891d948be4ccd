//! The widget's controller: one [`Widget`] per page, which records what the shopper does,
//! asks the edge what to show, hands it to the view, and turns what the shopper does with a
//! prompt into events. `commands` calls it for the page's `rapport.push([...])` commands.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rapport_protocol::{Consent, Survey};
use wasm_bindgen::JsValue;

use crate::transport::{self, Transport};
use crate::{capture, dom, store, view, wire};

// `#[inline(always)]` below marks the functions called once, from `lib` or `commands`: the
// widget's size profile does not inline them across modules by itself, and each call kept
// costs bytes every shopper downloads.

/// What the loader read from the script tag (`data-site`, `data-consent`, and the script's
/// own origin) and learnt from the edge (whether the site requires opt-in consent).
pub struct Config {
    pub site: String,
    pub endpoint: String,
    /// A preview token from the page URL (`?rapport_preview=TOKEN`): the edge forces its
    /// experience in, and nothing the previewer does is reported, so previews never count
    /// in reports or caps.
    pub preview: Option<String>,
    /// Nothing is stored or sent until the site passes consent to analytics
    /// (`data-consent="required"`, or the site's setting at the edge).
    pub consent_required: bool,
    /// The browser asks sites not to track (Global Privacy Control or Do Not Track): as
    /// good as consent withheld until the site passes it.
    pub privacy_signal: bool,
}

/// The running widget: one per page.
pub struct Widget {
    config: Config,
    transport: Rc<Transport>,
    session_id: RefCell<String>,
    /// Experiences already on screen on this page, by experience id.
    shown: RefCell<Vec<String>>,
    /// What the site passed with `consent`, or, while it has not, what Global Privacy
    /// Control, Do Not Track or a site that requires consent imply (nothing allowed); `None`
    /// when none of them says anything.
    consent: Cell<Option<Consent>>,
    /// Where the current page stands: `NO_PAGE` until the first page (or a new route) is
    /// ready, then `UNRECORDED` (the shopper may not be recorded yet) or `RECORDED`.
    page_state: Cell<u8>,
    /// Set by `forget`: nothing more is recorded or shown on this page.
    forgotten: Cell<bool>,
    /// Set when the edge refuses the page URL's preview token (expired, forged).
    preview_refused: Cell<bool>,
    /// Counts the pages left: a decision is shown only on the page it was asked for.
    page_seq: Cell<u32>,
}

/// Consent withheld: what a privacy signal, or a site that requires consent and has not had
/// it, means for the widget.
const WITHHELD: Consent = Consent {
    analytics: false,
    personalization: false,
};

const NO_PAGE: u8 = 0;
const UNRECORDED: u8 = 1;
const RECORDED: u8 = 2;

/// The controller for this page, with the visitor and session it finds in the browser.
#[inline(always)]
pub fn new(config: Config) -> Rc<Widget> {
    let consent = store::consent()
        .or_else(|| (config.consent_required || config.privacy_signal).then_some(WITHHELD));
    // Until the site passes consent to analytics, the widget keeps no identifier in the
    // browser and sends none: decisions for such a shopper need no identity.
    let widget = Rc::new(Widget {
        transport: Rc::new(Transport::new(&config.endpoint, &config.site, "")),
        session_id: RefCell::new(String::new()),
        config,
        shown: RefCell::new(Vec::new()),
        consent: Cell::new(consent),
        page_state: Cell::new(NO_PAGE),
        forgotten: Cell::new(false),
        preview_refused: Cell::new(false),
        page_seq: Cell::new(0),
    });
    if widget.may_track() {
        identified_by_browser(&widget);
    } else {
        withhold(&widget);
    }
    widget
}

/// Consent to analytics is withheld or withdrawn: the visitor and session ids, the customer
/// link and what waited to be sent leave the browser at once. An id the browser kept goes to
/// the edge one last time, with the next decision and its consent, so that the edge stops
/// recording for it and takes it out of the visitor sample; no request after that carries it.
fn withhold(widget: &Widget) {
    if let Some(kept) = store::kept_visitor_id() {
        widget.transport.set_visitor_id(kept);
    }
    widget.transport.clear();
    store::forget(false);
    widget.session_id.take();
}

/// Gives the shopper the browser's visitor id and session (made and kept on first use).
fn identified_by_browser(widget: &Widget) {
    widget.transport.set_visitor_id(store::visitor_id());
    widget.session_id.replace(store::session_id());
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
    widget.page_state.set(NO_PAGE);
    widget.shown.borrow_mut().clear();
    view::clear();
}

/// `page`: the page is ready (the first one, or a single-page app's new route): recorded and
/// decided for.
#[inline(always)]
pub fn new_page(widget: &Rc<Widget>) {
    leave(widget);
    page(widget);
}

/// `consent`: what the site's consent banner says, kept for later pages. Without consent to
/// analytics, nothing identifies the shopper any more (see [`withhold`]). A page that could
/// not be recorded before is recorded now, once; either way the decision is asked again.
#[inline(always)]
pub fn set_consent(widget: &Rc<Widget>, consent: Consent) {
    if !consent.analytics {
        withhold(widget);
    }
    store::set_consent(consent);
    widget.consent.set(Some(consent));
    if consent.analytics {
        identified_by_browser(widget);
        // The edge keeps it with the profile, so later decisions follow it too.
        track(widget, &wire::consent_event(consent));
    }
    match widget.page_state.get() {
        // The page's own view will decide, once it is ready.
        NO_PAGE => {}
        UNRECORDED if consent.analytics => page(widget),
        _ => refresh(widget),
    }
}

/// Records a page view (and its product, search and checkout step or order, as the page
/// says them), then decides.
fn page(widget: &Rc<Widget>) {
    widget.page_state.set(if widget.may_track() {
        RECORDED
    } else {
        UNRECORDED
    });
    for data in capture::page_events().iter() {
        track(widget, &data);
    }
    refresh(widget);
}

/// Records an event in its wire form (`{type, ...}`), when the shopper may be recorded.
fn track(widget: &Widget, data: &JsValue) {
    if !widget.may_track() {
        return;
    }
    let session_id = store::touch_session(&widget.session_id);
    widget.transport.enqueue(&session_id, data);
}

/// What the shopper does on the page (scroll depth, engaged time, rage clicks), seen by
/// `capture.js`: recorded, and sent within the second.
pub fn seen(widget: &Rc<Widget>, data: &JsValue) {
    track(widget, data);
    widget.transport.schedule_flush();
}

/// `_exit`: the page is going away, or out of sight; what waits to be sent goes by beacon.
pub fn exit(widget: &Widget) {
    widget.transport.beacon();
}

/// Asks the edge what to show now, and arms it. The events waiting to be sent go with the
/// request, in the one round trip: the edge stores them first, so the decision sees them (an
/// add to cart on the previous page, say), and says it has them.
fn refresh(widget: &Rc<Widget>) {
    if widget.forgotten.get() {
        return;
    }
    let events = widget.transport.waiting();
    let sent = transport::ids(&events);
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
        &events,
    );
    if !widget.may_track() {
        // An id kept from before the shopper withheld consent went with this decision, to
        // tell the edge; it goes with none after it.
        widget.transport.set_visitor_id(String::new());
    }
    let url = dom::cat(&[widget.config.endpoint.as_str(), "/v1/decide"]);
    let asked_on = widget.page_seq.get();
    let widget = Rc::clone(widget);
    dom::post_json(
        &url,
        &request,
        Box::new(move |answer| {
            if !sent.is_empty() {
                let stored = answer
                    .as_ref()
                    .is_ok_and(|a| wire::get(a, "events").is_object());
                widget.transport.answered(&sent, stored);
            }
            match answer {
                Ok(_) if widget.page_seq.get() != asked_on => {}
                Ok(answer) => show_decision(&widget, &answer),
                Err(err) => dom::warn(&dom::cat(&["rapport: no decision (", &err, ")"])),
            }
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
    // The site requires consent, and this browser kept an id from before it did.
    if wire::text(answer, "consent").is_some() && widget.consent.get().is_none() {
        widget.consent.set(Some(WITHHELD));
        withhold(widget);
    }
    // The view gets each experience as the edge wrote it, and the widget keeps only what
    // its events name. A control group's entry has no kind: the view arms the trigger the
    // treatment would have shown on, and its firing is the exposure.
    for experience in wire::list(answer, "controls")
        .into_iter()
        .chain(wire::list(answer, "experiences"))
    {
        match wire::text(&experience, "experience") {
            Some(id) if widget.first_time(&id) => {}
            _ => continue,
        }
        view::arm(&experience);
    }
}

/// `_report`: what the shopper did with a prompt the view showed (`outcome`, `score` and
/// `comment`, see [`view::Outcome::from_view`]), as an event; a control's trigger firing is
/// its exposure.
pub fn report(
    widget: &Rc<Widget>,
    experience: &JsValue,
    outcome: &JsValue,
    score: &JsValue,
    comment: Option<String>,
) {
    let byte = |n: &JsValue| n.as_f64().unwrap_or_default() as u8;
    let survey = match wire::text(experience, "kind").as_deref() {
        Some("csat") => Survey::Csat,
        _ => Survey::Nps,
    };
    let (Some(reference), Some(outcome)) = (
        wire::experience_ref(experience),
        view::Outcome::from_view(byte(outcome), survey, byte(score), comment),
    ) else {
        return;
    };
    if widget.previewing() {
        return;
    }
    let answered = matches!(outcome, view::Outcome::Answered { .. });
    let strategy = wire::text(experience, "strategy");
    let (kind, data) = wire::outcome(outcome, &reference, &strategy);
    dom::notify(kind, &data);
    track(widget, &data);
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
    // The id in use, or the one a shopper who has just withheld consent had: the next
    // decision would have told the edge of it.
    let kept = Some(widget.transport.visitor_id()).filter(|id| !id.is_empty());
    store::forget(true);
    let Some(visitor_id) = kept else {
        // Nothing identifies this shopper anywhere: nothing to erase at the edge.
        dom::notify("forget", &JsValue::TRUE);
        return;
    };
    let url = dom::cat(&[widget.config.endpoint.as_str(), "/v1/forget"]);
    let body = wire::forget_request(&widget.config.site, &visitor_id);
    dom::post_json(
        &url,
        &body,
        Box::new(move |erased| {
            let detail = wire::get(erased.as_ref().unwrap_or(&JsValue::NULL), "erased");
            if erased.is_err() {
                dom::warn("rapport: forget did not reach the edge");
            }
            dom::notify("forget", &detail);
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
    let url = dom::cat(&[widget.config.endpoint.as_str(), "/v1/identify"]);
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
                dom::notify("identify", &answer);
                refresh(&widget);
            }
            Err(err) => dom::warn(&dom::cat(&["rapport: identify failed (", &err, ")"])),
        }),
    );
}

/// Records what the shop reports (a `track` command, or a click on a cart button marked with
/// data attributes: `from_button`), shows what waited for it, and decides again when it can
/// change the decision. A shop whose cart buttons carry the attributes and also call `track`
/// reports each click both ways, at once: the cart changes once.
pub fn site_event(widget: &Rc<Widget>, data: &JsValue, from_button: bool) {
    let name = wire::text(data, "type").unwrap_or_default();
    let product = match name.as_str() {
        "add_to_cart" => wire::text(&wire::get(data, "product"), "id"),
        "remove_from_cart" => wire::text(data, "product_id"),
        _ => None,
    };
    if dom::told_twice(from_button, &name, product.as_deref().unwrap_or_default()) {
        return;
    }
    track(widget, data);
    view::tracked(&name);
    // A cart change (which names its product), the cart or an order can change what to show.
    if product.is_some() || name == "cart" || name == "order_complete" {
        refresh(widget);
    } else {
        widget.transport.schedule_flush();
    }
}
