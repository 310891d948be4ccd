//! Showing experiences. Floating prompts live in one shadow root at the end of the body;
//! inline content fills the `[data-rapport-slot=NAME]` element the page reserved, inside a
//! shadow root of its own. Styles come from a constructable stylesheet (allowed under a
//! strict `style-src`) and follow the page's CSS custom properties. Content from rules only
//! reaches the page through `textContent` and checked links.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rapport_protocol::{is_safe_link, Experience, ExperienceKind, Survey, Trigger};
use wasm_bindgen::JsCast;
use web_sys::{Element, ShadowRoot};

use crate::dom;

/// What the shopper did with a prompt, reported as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Shown,
    Clicked,
    Dismissed,
    Answered {
        survey: Survey,
        score: u8,
        /// What the shopper chose to add in the NPS comment box.
        comment: Option<String>,
    },
}

type Report = Rc<dyn Fn(Outcome)>;
/// An experience waiting for the page to track an event, and how to show it.
type Waiting = (String, Box<dyn FnOnce()>);

const STYLES: &str = r#"
:host { all: initial; }
.rp { box-sizing: border-box; z-index: 2147483000; font: 15px/1.45 var(--rapport-font, system-ui, -apple-system, "Segoe UI", sans-serif);
  color: var(--rapport-fg, #1d232b); background: var(--rapport-bg, #fff); animation: rp-in .25s ease-out; }
.rp * { box-sizing: border-box; }
.rp-bar { position: fixed; left: 0; right: 0; bottom: 0; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px;
  padding: 12px 16px; border-top: 3px solid var(--rapport-accent, #0b6e4f); box-shadow: 0 -4px 16px rgba(0,0,0,.12); }
.rp-slide_in, .rp-nps, .rp-csat { position: fixed; right: 16px; bottom: 16px; width: min(380px, calc(100vw - 32px)); padding: 18px 18px 16px;
  border-radius: 12px; box-shadow: 0 8px 32px rgba(0,0,0,.22); display: grid; gap: 10px; }
.rp-toast { position: fixed; left: 16px; bottom: 16px; max-width: min(360px, calc(100vw - 32px)); padding: 12px 16px;
  border-radius: 10px; box-shadow: 0 6px 24px rgba(0,0,0,.2); display: flex; gap: 12px; align-items: center; }
.rp-backdrop { position: fixed; inset: 0; z-index: 2147483000; background: rgba(15,20,25,.5); display: grid; place-items: center; }
.rp-modal, .rp-coupon { position: relative; width: min(440px, calc(100vw - 32px)); padding: 28px 24px 22px; border-radius: 14px;
  box-shadow: 0 12px 48px rgba(0,0,0,.3); display: grid; gap: 12px; }
.rp-inline, .rp-recommendations { display: grid; gap: 8px; padding: 14px 16px; border-radius: 10px; animation: none;
  border: 1px solid var(--rapport-border, #e6e1d8); }
.rp-text { flex: 1 1 260px; margin: 0; }
.rp-title { display: block; font-weight: 700; font-size: 1.05em; }
.rp-bar .rp-title { display: inline; margin-right: .5em; }
.rp-cta { justify-self: start; display: inline-block; padding: 9px 16px; border-radius: 8px; text-decoration: none; font-weight: 600;
  background: var(--rapport-accent, #0b6e4f); color: var(--rapport-accent-fg, #fff); white-space: nowrap; }
.rp-close { position: absolute; top: 6px; right: 6px; background: none; border: 0; cursor: pointer; color: inherit;
  font: 22px/1 system-ui, sans-serif; padding: 6px 9px; border-radius: 6px; }
.rp-bar .rp-close, .rp-toast .rp-close { position: static; }
.rp-code { display: flex; gap: 8px; align-items: center; }
.rp-code code { font: 600 18px/1 ui-monospace, monospace; letter-spacing: .08em; padding: 8px 12px; border: 2px dashed var(--rapport-accent, #0b6e4f); border-radius: 8px; }
.rp-scale { display: flex; flex-wrap: wrap; gap: 4px; }
.rp-scale button, .rp-copy { min-width: 30px; padding: 6px 8px; border: 1px solid #c9c3b8; border-radius: 6px; background: #fff; color: inherit; cursor: pointer; font: inherit; }
.rp-scale button:hover { border-color: var(--rapport-accent, #0b6e4f); }
.rp-comment { display: grid; gap: 8px; width: 100%; }
.rp-comment-field { width: 100%; font: inherit; padding: 8px; border: 1px solid #c9c3b8; border-radius: 6px; resize: vertical; }
.rp-comment .rp-cta { border: 0; cursor: pointer; }
.rp-products { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 8px 16px; }
.rp-products a { color: inherit; font-weight: 600; }
.rp-cta:focus-visible, .rp-close:focus-visible, .rp-scale button:focus-visible, .rp-copy:focus-visible { outline: 3px solid var(--rapport-focus, #1a73e8); outline-offset: 2px; }
@keyframes rp-in { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
@media (prefers-reduced-motion: reduce) { .rp { animation: none; } }
"#;

thread_local! {
    static ROOT: RefCell<Option<ShadowRoot>> = const { RefCell::new(None) };
    /// Experiences waiting for the page to track an event, by event name.
    static WAITING: RefCell<Vec<Waiting>> = RefCell::new(Vec::new());
    /// Counts the pages of a single-page app: a trigger armed on an earlier page (a scroll or
    /// idle listener, a timer) finds its page gone and shows nothing.
    static PAGE: Cell<u32> = const { Cell::new(0) };
}

/// A shadow root with Rapport's stylesheet, attached to `host`.
fn attach(host: &Element) -> Option<ShadowRoot> {
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .ok()?;
    if let Ok(sheet) = web_sys::CssStyleSheet::new() {
        if sheet.replace_sync(STYLES).is_ok() {
            let sheets = js_sys::Array::of1(&sheet);
            let _ = js_sys::Reflect::set(&root, &"adoptedStyleSheets".into(), &sheets);
        }
    }
    Some(root)
}

/// The shadow root floating prompts live in, created on first use.
fn root() -> Option<ShadowRoot> {
    if let Some(root) = ROOT.with(|r| r.borrow().clone()) {
        return Some(root);
    }
    let host = dom::create("div");
    dom::set_attr(&host, "id", "rapport-host");
    let root = attach(&host)?;
    dom::document().body()?.append_child(&host).ok()?;
    ROOT.with(|r| r.replace(Some(root.clone())));
    Some(root)
}

/// Removes every prompt and pending trigger (a single-page app moved to another page).
pub fn clear() {
    PAGE.with(|page| page.set(page.get().wrapping_add(1)));
    if let Some(root) = ROOT.with(|r| r.borrow().clone()) {
        root.set_inner_html("");
    }
    release_overlay();
    WAITING.with(|w| w.borrow_mut().clear());
    if let Ok(filled) = dom::document().query_selector_all("[data-rapport-filled]") {
        for index in 0..filled.length() {
            if let Some(element) = filled
                .item(index)
                .and_then(|n| n.dyn_into::<Element>().ok())
            {
                element.remove();
            }
        }
    }
}

/// The page tracked `event`: shows what waited for it.
pub fn tracked(event: &str) {
    let ready: Vec<Box<dyn FnOnce()>> = WAITING.with(|w| {
        let mut waiting = w.borrow_mut();
        let (ready, rest): (Vec<_>, Vec<_>) =
            waiting.drain(..).partition(|(name, _)| name == event);
        *waiting = rest;
        ready.into_iter().map(|(_, show)| show).collect()
    });
    for show in ready {
        show();
    }
}

/// A function that runs `action` the first time it is called, and never again.
fn once(action: impl FnOnce() + 'static) -> impl Fn() + Clone {
    let slot = Rc::new(RefCell::new(Some(action)));
    move || {
        if let Some(action) = slot.borrow_mut().take() {
            action();
        }
    }
}

/// Shows `experience` when its trigger fires, at most once. `report` hears what happened.
pub fn arm(experience: Experience, report: impl Fn(Outcome) + 'static) {
    let report: Report = Rc::new(report);
    let trigger = experience.trigger.clone();
    let overlay = experience.kind.is_overlay();
    let page = PAGE.with(Cell::get);
    let show_now = once(move || {
        // Decided for an earlier page of a single-page app: the new page's decision arms
        // what is still eligible.
        if PAGE.with(Cell::get) == page {
            show(&experience, &report);
        }
    });
    // Overlays wait for the tab to be in front and for no other tab of the shop to be
    // showing one: the shopper sees one at a time.
    let fire = move || {
        if overlay {
            when_overlay_free(show_now.clone());
        } else {
            show_now();
        }
    };
    match trigger {
        Trigger::Immediately => fire(),
        Trigger::AfterSeconds { seconds } => {
            dom::set_timeout(
                i32::try_from(seconds.saturating_mul(1000)).unwrap_or(i32::MAX),
                fire,
            );
        }
        Trigger::Scroll { percent } => {
            dom::on(&dom::window(), "scroll", move |_| {
                if dom::scrolled_percent() >= f64::from(percent) {
                    fire();
                }
            });
        }
        Trigger::ExitIntent => {
            let on_leave = fire.clone();
            dom::on(&dom::document(), "mouseout", move |event| {
                let leaving = event
                    .dyn_ref::<web_sys::MouseEvent>()
                    .is_some_and(|m| m.related_target().is_none() && m.client_y() <= 0);
                if leaving {
                    on_leave();
                }
            });
            // Phones have no pointer leaving the window: a quick scroll back up (a third of
            // the screen within 400 ms, from below the first screen) is the usual sign
            // that the shopper is heading for the address bar or the back button.
            let last = Rc::new(Cell::new((0.0f64, 0.0f64)));
            dom::on(&dom::window(), "scroll", move |_| {
                let window = dom::window();
                let y = window.scroll_y().unwrap_or(0.0);
                let screen = window
                    .inner_height()
                    .ok()
                    .and_then(|h| h.as_f64())
                    .unwrap_or(0.0);
                let now = dom::now_ms();
                let (from_y, at) = last.get();
                if now - at > 400.0 || y > from_y {
                    last.set((y, now));
                } else if from_y > screen && from_y - y > screen / 3.0 {
                    fire();
                }
            });
        }
        Trigger::Idle { seconds } => arm_idle(seconds, fire),
        Trigger::AfterEvent { event } => {
            WAITING.with(|w| w.borrow_mut().push((event, Box::new(fire))));
        }
        Trigger::ElementVisible { selector } => {
            let check = move || {
                let visible = dom::document()
                    .query_selector(&selector)
                    .ok()
                    .flatten()
                    .is_some_and(|e| in_viewport(&e));
                if visible {
                    fire();
                }
            };
            check();
            dom::on(&dom::window(), "scroll", move |_| check());
        }
    }
}

/// Fires after `seconds` without keyboard, pointer, touch or scroll input.
fn arm_idle(seconds: u32, fire: impl Fn() + Clone + 'static) {
    let generation = Rc::new(Cell::new(0u32));
    let restart = {
        let generation = Rc::clone(&generation);
        move || {
            let mine = generation.get().wrapping_add(1);
            generation.set(mine);
            let generation = Rc::clone(&generation);
            let fire = fire.clone();
            dom::set_timeout(
                i32::try_from(seconds.saturating_mul(1000)).unwrap_or(i32::MAX),
                move || {
                    if generation.get() == mine {
                        fire();
                    }
                },
            );
        }
    };
    restart();
    for event in [
        "mousemove",
        "keydown",
        "scroll",
        "touchstart",
        "pointerdown",
    ] {
        let restart = restart.clone();
        dom::on(&dom::window(), event, move |_| restart());
    }
}

fn in_viewport(element: &Element) -> bool {
    let rect = element.get_bounding_client_rect();
    let height = dom::window()
        .inner_height()
        .ok()
        .and_then(|h| h.as_f64())
        .unwrap_or(0.0);
    rect.height() > 0.0 && rect.top() < height && rect.bottom() > 0.0
}

fn element(tag: &str, class: &str) -> Element {
    let element = dom::create(tag);
    dom::set_attr(&element, "class", class);
    element
}

fn button(class: &str, label: &str) -> Element {
    let b = element("button", class);
    dom::set_attr(&b, "type", "button");
    dom::text(&b, label);
    b
}

fn show(experience: &Experience, report: &Report) {
    let kind = experience.kind;
    let content = &experience.content;
    let card = element("section", &["rp rp-", kind.as_str()].concat());
    dom::set_attr(&card, "data-experience", &experience.experience);
    dom::set_attr(&card, "lang", &content.locale);
    let label = content
        .title
        .clone()
        .unwrap_or_else(|| content.body.clone());
    dom::set_attr(&card, "aria-label", &label);

    let text = element("p", "rp-text");
    if let Some(title) = &content.title {
        let strong = element("strong", "rp-title");
        dom::text(&strong, title);
        let _ = text.append_child(&strong);
    }
    let body = element("span", "rp-body");
    dom::text(&body, &content.body);
    let _ = text.append_child(&body);
    let _ = card.append_child(&text);

    match kind {
        ExperienceKind::Coupon => add_coupon(&card, content.code.as_deref().unwrap_or_default()),
        ExperienceKind::Nps => add_scale(&card, Survey::Nps, 0..=10, report),
        ExperienceKind::Csat => add_scale(&card, Survey::Csat, 1..=5, report),
        ExperienceKind::Recommendations => add_products(&card, experience, report),
        _ => {}
    }
    if let Some(cta) = content.cta.as_ref().filter(|c| is_safe_link(&c.url)) {
        let link = element("a", "rp-cta");
        dom::set_attr(&link, "href", &cta.url);
        dom::text(&link, &cta.label);
        let report = Rc::clone(report);
        dom::on(&link, "click", move |_| report(Outcome::Clicked));
        let _ = card.append_child(&link);
    }

    if kind.needs_slot() {
        show_in_slot(experience, &card, report);
        return;
    }
    let Some(root) = root() else { return };
    // The outermost element: the card, or the backdrop holding a dialog card.
    let dialog = matches!(kind, ExperienceKind::Modal | ExperienceKind::Coupon);
    let outer: Element = if dialog {
        let backdrop = element("div", "rp-backdrop");
        dom::set_attr(&card, "role", "dialog");
        dom::set_attr(&card, "aria-modal", "true");
        let _ = backdrop.append_child(&card);
        backdrop
    } else {
        let role = if kind == ExperienceKind::Toast {
            "status"
        } else {
            "region"
        };
        dom::set_attr(&card, "role", role);
        card.clone()
    };

    let close = button("rp-close", "×");
    dom::set_attr(&close, "aria-label", "Dismiss");
    // A dialog gives focus back to where the shopper was when it closes.
    let previous = dialog
        .then(|| dom::document().active_element())
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    let dismiss = {
        let outer = outer.clone();
        let report = Rc::clone(report);
        move || {
            if outer.is_connected() {
                outer.remove();
                if kind.is_overlay() {
                    release_overlay();
                }
                if let Some(previous) = &previous {
                    let _ = previous.focus();
                }
                report(Outcome::Dismissed);
            }
        }
    };
    let on_close = dismiss.clone();
    dom::on(&close, "click", move |_| on_close());
    let _ = card.append_child(&close);
    if dialog {
        let on_key = dismiss.clone();
        let (trap_card, trap_root, trap_outer) = (card.clone(), root.clone(), outer.clone());
        dom::on(&dom::document(), "keydown", move |event| {
            let Some(key) = event.dyn_ref::<web_sys::KeyboardEvent>() else {
                return;
            };
            if !trap_outer.is_connected() {
                return;
            }
            match key.key().as_str() {
                "Escape" => on_key(),
                "Tab" => trap_focus(&trap_card, &trap_root, key),
                _ => {}
            }
        });
        // A click on the backdrop, outside the dialog, closes it.
        let on_backdrop = dismiss.clone();
        let backdrop = outer.clone();
        dom::on(&outer, "click", move |event| {
            let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
            if target.is_some_and(|t| t == backdrop) {
                on_backdrop();
            }
        });
    } else {
        // A prompt that does not hold focus still closes with Escape once the shopper has
        // tabbed into it.
        let on_key = dismiss.clone();
        dom::on(&card, "keydown", move |event| {
            if event
                .dyn_ref::<web_sys::KeyboardEvent>()
                .is_some_and(|k| k.key() == "Escape")
            {
                on_key();
            }
        });
    }
    if kind == ExperienceKind::Toast {
        dismiss_unless_focused(card.clone(), root.clone(), Rc::new(dismiss));
    }
    if root.append_child(&outer).is_ok() {
        if dialog {
            if let Some(button) = close.dyn_ref::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        }
        if kind.is_overlay() {
            hold_overlay(outer);
        }
        mark_shown(&experience.experience);
        report(Outcome::Shown);
    }
}

/// How long a toast stays when the shopper leaves it alone.
const TOAST_MS: i32 = 8_000;

/// Takes a toast away after a while, but never from under a shopper whose keyboard focus
/// is in it: they get as long as they need.
fn dismiss_unless_focused(card: Element, root: ShadowRoot, dismiss: Rc<dyn Fn()>) {
    dom::set_timeout(TOAST_MS, move || {
        let focused = root
            .active_element()
            .is_some_and(|active| card.contains(Some(&active)));
        if focused {
            dismiss_unless_focused(card, root, dismiss);
        } else {
            dismiss();
        }
    });
}

/// A performance mark (`rapport:shown:ID`), so the page, its monitoring and our benchmark
/// can see when a prompt reached the screen.
fn mark_shown(experience: &str) {
    let performance = js_sys::Reflect::get(&dom::window(), &"performance".into());
    if let Ok(performance) = performance {
        if let Ok(mark) = js_sys::Reflect::get(&performance, &"mark".into()) {
            if let Some(mark) = mark.dyn_ref::<js_sys::Function>() {
                let name = ["rapport:shown:", experience].concat();
                let _ = mark.call1(&performance, &name.into());
            }
        }
    }
}

/// The `localStorage` lease that lets one tab of the shop show an overlay at a time:
/// `TAB:UNTIL`, renewed while the overlay is open and removed when it closes.
const OVERLAY_KEY: &str = "rapport:overlay";
const OVERLAY_LEASE_MS: f64 = 10_000.0;

thread_local! {
    static TAB_ID: String = dom::random_id();
}

/// The tab holding the overlay lease and until when, if the lease is current.
fn overlay_holder() -> Option<(String, f64)> {
    let lease = dom::storage_get(OVERLAY_KEY)?;
    let (tab, until) = lease.split_once(':')?;
    let until = js_sys::Number::parse_float(until);
    (until > dom::now_ms()).then(|| (tab.to_owned(), until))
}

fn write_lease() {
    let until = dom::decimal((dom::now_ms() + OVERLAY_LEASE_MS) as u64);
    TAB_ID.with(|tab| dom::storage_set(OVERLAY_KEY, &[tab.as_str(), ":", &until].concat()));
}

/// Runs `show` once this tab is visible and no other tab holds the overlay lease; tries
/// again when another tab releases it, when this tab comes to the front, and when the
/// other tab's lease runs out (a tab that crashed).
fn when_overlay_free(show: impl Fn() + Clone + 'static) {
    let attempt = {
        let show = show.clone();
        move || {
            let visible = dom::document().visibility_state() == web_sys::VisibilityState::Visible;
            let mine = TAB_ID.with(|tab| overlay_holder().is_none_or(|(holder, _)| holder == *tab));
            if visible && mine {
                write_lease();
                show();
            }
        }
    };
    attempt();
    if let Some((_, until)) = overlay_holder() {
        let retry = attempt.clone();
        dom::set_timeout((until - dom::now_ms()) as i32 + 100, retry);
    }
    let on_storage = attempt.clone();
    dom::on(&dom::window(), "storage", move |_| on_storage());
    dom::on(&dom::document(), "visibilitychange", move |_| attempt());
}

/// Keeps the lease while `outer` is on the page, and gives it up when it goes.
fn hold_overlay(outer: Element) {
    write_lease();
    dom::set_timeout((OVERLAY_LEASE_MS / 2.0) as i32, move || {
        if outer.is_connected() {
            hold_overlay(outer);
        } else {
            release_overlay();
        }
    });
}

/// Gives the lease up, if this tab holds it.
pub fn release_overlay() {
    let mine = TAB_ID.with(|tab| overlay_holder().is_some_and(|(holder, _)| holder == *tab));
    if mine {
        if let Some(storage) = dom::local_storage() {
            let _ = storage.remove_item(OVERLAY_KEY);
        }
    }
}

/// Keeps Tab and Shift+Tab inside an open dialog, cycling between its first and last
/// controls, and brings focus back into it if it has left.
fn trap_focus(card: &Element, root: &ShadowRoot, key: &web_sys::KeyboardEvent) {
    let Ok(controls) = card.query_selector_all("a[href], button") else {
        return;
    };
    let control = |index: u32| {
        controls
            .item(index)
            .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
    };
    let (Some(first), Some(last)) = (control(0), control(controls.length().saturating_sub(1)))
    else {
        return;
    };
    let active = root.active_element();
    let is = |element: &web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == element.unchecked_ref::<Element>())
    };
    let target = if active.is_none() {
        Some(if key.shift_key() { &last } else { &first })
    } else if key.shift_key() && is(&first) {
        Some(&last)
    } else if !key.shift_key() && is(&last) {
        Some(&first)
    } else {
        None
    };
    if let Some(target) = target {
        key.prevent_default();
        let _ = target.focus();
    }
}

/// Inline content goes into the slot the page reserved for it, so nothing on the page moves.
fn show_in_slot(experience: &Experience, card: &Element, report: &Report) {
    let slot_name = experience.slot.as_deref().unwrap_or("default");
    let selector = ["[data-rapport-slot=\"", slot_name, "\"]"].concat();
    let Some(slot) = dom::document().query_selector(&selector).ok().flatten() else {
        dom::warn(
            &[
                "rapport: no ",
                &selector,
                " on this page for ",
                &experience.experience,
            ]
            .concat(),
        );
        return;
    };
    let host = dom::create("div");
    dom::set_attr(&host, "data-rapport-filled", &experience.experience);
    let Some(root) = attach(&host) else { return };
    let _ = root.append_child(card);
    slot.replace_children_with_node_1(&host);
    mark_shown(&experience.experience);
    report(Outcome::Shown);
}

fn add_coupon(card: &Element, code: &str) {
    let row = element("div", "rp-code");
    let code_element = dom::create("code");
    dom::text(&code_element, code);
    let copy = button("rp-copy", "Copy");
    let code = code.to_owned();
    let label = copy.clone();
    dom::on(&copy, "click", move |_| {
        // The Clipboard API is not in every browser's secure-context rules; failing is fine,
        // the code stays on screen to copy by hand.
        let clipboard = js_sys::Reflect::get(&dom::window().navigator(), &"clipboard".into()).ok();
        if let Some(clipboard) = clipboard.filter(|c| !c.is_undefined()) {
            if let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into()) {
                if let Some(write) = write.dyn_ref::<js_sys::Function>() {
                    let _ = write.call1(&clipboard, &code.as_str().into());
                    dom::text(&label, "Copied");
                }
            }
        }
    });
    let _ = row.append_child(&code_element);
    let _ = row.append_child(&copy);
    let _ = card.append_child(&row);
}

fn add_scale(
    card: &Element,
    survey: Survey,
    scores: std::ops::RangeInclusive<u8>,
    report: &Report,
) {
    let scale = element("div", "rp-scale");
    dom::set_attr(&scale, "role", "group");
    let label = match survey {
        Survey::Nps => "0 = not at all likely, 10 = extremely likely",
        Survey::Csat => "1 = very dissatisfied, 5 = very satisfied",
    };
    dom::set_attr(&scale, "aria-label", label);
    for score in scores {
        let choice = button("", &dom::decimal(score.into()));
        let report = Rc::clone(report);
        let scale_after = scale.clone();
        let card = card.clone();
        dom::on(&choice, "click", move |_| match survey {
            Survey::Csat => {
                report(Outcome::Answered {
                    survey,
                    score,
                    comment: None,
                });
                thank(&scale_after);
            }
            Survey::Nps => ask_comment(&card, &scale_after, score, &report),
        });
        let _ = scale.append_child(&choice);
    }
    let _ = card.append_child(&scale);
}

/// Thanks the shopper for an answer, then takes the survey away, freeing the overlay place
/// for what the answer may bring (a detractor is offered help at once).
fn thank(replacing: &Element) {
    let thanks = dom::create("p");
    dom::text(&thanks, "Thank you!");
    replacing.replace_children_with_node_1(&thanks);
    if let Ok(Some(card)) = replacing.closest(".rp") {
        dom::set_timeout(THANKS_MS, move || {
            card.remove();
            release_overlay();
        });
    }
}

/// How long the thanks for a survey answer stays on screen.
const THANKS_MS: i32 = 2_500;

/// After an NPS score: an optional comment. The answer is reported once, with the comment
/// when the shopper sends one, and with the score alone when they skip, close the prompt or
/// leave the page, so a score is never lost.
fn ask_comment(card: &Element, scale: &Element, score: u8, report: &Report) {
    let pending = Rc::new(Cell::new(true));
    let answer = {
        let (pending, report) = (Rc::clone(&pending), Rc::clone(report));
        move |comment: Option<String>| {
            if pending.replace(false) {
                report(Outcome::Answered {
                    survey: Survey::Nps,
                    score,
                    comment,
                });
            }
        }
    };
    let form = element("div", "rp-comment");
    let label = element("label", "rp-comment-label");
    dom::text(&label, "What is the main reason for your score? (optional)");
    let field = element("textarea", "rp-comment-field");
    dom::set_attr(&field, "maxlength", "2000");
    dom::set_attr(&field, "rows", "3");
    dom::set_attr(&field, "id", "rp-comment-field");
    dom::set_attr(&label, "for", "rp-comment-field");
    let send = button("rp-cta", "Send");
    let skip = button("rp-copy", "Skip");
    for child in [&label, &field, &send, &skip] {
        let _ = form.append_child(child);
    }
    scale.replace_children_with_node_1(&form);
    if let Some(field) = field.dyn_ref::<web_sys::HtmlElement>() {
        let _ = field.focus();
    }
    {
        let (answer, scale) = (answer.clone(), scale.clone());
        dom::on(&send, "click", move |_| {
            let text = field
                .dyn_ref::<web_sys::HtmlTextAreaElement>()
                .map(|f| f.value().trim().to_owned())
                .filter(|t| !t.is_empty());
            answer(text);
            thank(&scale);
        });
    }
    {
        let (answer, scale) = (answer.clone(), scale.clone());
        dom::on(&skip, "click", move |_| {
            answer(None);
            thank(&scale);
        });
    }
    let on_close = answer.clone();
    dom::on(card, "click", move |event| {
        let closing = event
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .is_some_and(|t| t.class_name() == "rp-close");
        if closing {
            on_close(None);
        }
    });
    dom::on(&dom::window(), "pagehide", move |_| answer(None));
}

fn add_products(card: &Element, experience: &Experience, report: &Report) {
    let list = element("ul", "rp-products");
    for product in &experience.content.products {
        let item = dom::create("li");
        let name: Element = match product.url.as_deref().filter(|u| is_safe_link(u)) {
            Some(url) => {
                let link = dom::create("a");
                dom::set_attr(&link, "href", url);
                let report = Rc::clone(report);
                dom::on(&link, "click", move |_| report(Outcome::Clicked));
                link
            }
            None => dom::create("span"),
        };
        dom::text(&name, &product.name);
        let _ = item.append_child(&name);
        if let Some(price) = product.price {
            let price_element = dom::create("span");
            let amount = dom::money(
                price,
                product.currency.as_deref(),
                &experience.content.locale,
            );
            dom::text(&price_element, &[" · ", &amount].concat());
            let _ = item.append_child(&price_element);
        }
        let _ = list.append_child(&item);
    }
    let _ = card.append_child(&list);
}
