//! Showing experiences: each inside one shadow root, styled by a constructable stylesheet
//! (allowed under a strict `style-src`), themable through CSS custom properties, and filled
//! only through `textContent` and checked links.

use std::cell::RefCell;
use std::rc::Rc;

use rapport_protocol::{is_safe_link, Experience, ExperienceKind, Trigger};
use wasm_bindgen::JsCast;
use web_sys::{Element, ShadowRoot};

use crate::dom;

/// What the shopper did with a prompt, reported as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Shown,
    Clicked,
    Dismissed,
}

const STYLES: &str = r#"
:host { all: initial; }
.rp { box-sizing: border-box; z-index: 2147483000; font: 15px/1.45 var(--rapport-font, system-ui, -apple-system, "Segoe UI", sans-serif);
  color: var(--rapport-fg, #1d232b); background: var(--rapport-bg, #fff); animation: rp-in .25s ease-out; }
.rp * { box-sizing: border-box; }
.rp-bar { position: fixed; left: 0; right: 0; bottom: 0; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px;
  padding: 12px 16px; border-top: 3px solid var(--rapport-accent, #0b6e4f); box-shadow: 0 -4px 16px rgba(0,0,0,.12); }
.rp-slide_in { position: fixed; right: 16px; bottom: 16px; width: min(360px, calc(100vw - 32px)); padding: 18px 18px 16px;
  border-radius: 12px; box-shadow: 0 8px 32px rgba(0,0,0,.22); display: grid; gap: 10px; }
.rp-toast { position: fixed; left: 16px; bottom: 16px; max-width: min(360px, calc(100vw - 32px)); padding: 12px 16px;
  border-radius: 10px; box-shadow: 0 6px 24px rgba(0,0,0,.2); display: flex; gap: 12px; align-items: center; }
.rp-backdrop { position: fixed; inset: 0; z-index: 2147483000; background: rgba(15,20,25,.5); display: grid; place-items: center; }
.rp-modal { position: relative; width: min(440px, calc(100vw - 32px)); padding: 28px 24px 22px; border-radius: 14px;
  box-shadow: 0 12px 48px rgba(0,0,0,.3); display: grid; gap: 12px; }
.rp-text { flex: 1 1 260px; margin: 0; }
.rp-title { display: block; font-weight: 700; font-size: 1.05em; }
.rp-bar .rp-title { display: inline; margin-right: .5em; }
.rp-cta { justify-self: start; display: inline-block; padding: 9px 16px; border-radius: 8px; text-decoration: none; font-weight: 600;
  background: var(--rapport-accent, #0b6e4f); color: var(--rapport-accent-fg, #fff); white-space: nowrap; }
.rp-close { position: absolute; top: 6px; right: 6px; background: none; border: 0; cursor: pointer; color: inherit;
  font: 22px/1 system-ui, sans-serif; padding: 6px 9px; border-radius: 6px; }
.rp-bar .rp-close, .rp-toast .rp-close { position: static; }
.rp-cta:focus-visible, .rp-close:focus-visible { outline: 3px solid var(--rapport-focus, #1a73e8); outline-offset: 2px; }
@keyframes rp-in { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
@media (prefers-reduced-motion: reduce) { .rp { animation: none; } }
"#;

thread_local! {
    static ROOT: RefCell<Option<ShadowRoot>> = const { RefCell::new(None) };
}

/// The shadow root all prompts live in, created on first use.
fn root() -> Option<ShadowRoot> {
    if let Some(root) = ROOT.with(|r| r.borrow().clone()) {
        return Some(root);
    }
    let host = dom::create("div");
    dom::set_attr(&host, "id", "rapport-host");
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .ok()?;
    if let Ok(sheet) = web_sys::CssStyleSheet::new() {
        if sheet.replace_sync(STYLES).is_ok() {
            let sheets = js_sys::Array::of1(&sheet);
            let _ = js_sys::Reflect::set(&root, &"adoptedStyleSheets".into(), &sheets);
        }
    }
    dom::document().body()?.append_child(&host).ok()?;
    ROOT.with(|r| r.replace(Some(root.clone())));
    Some(root)
}

/// Removes every prompt (a single-page app moved to another page).
pub fn clear() {
    if let Some(root) = ROOT.with(|r| r.borrow().clone()) {
        root.set_inner_html("");
    }
}

/// Shows `experience` when its trigger fires, at most once. `report` hears what happened.
pub fn arm(experience: Experience, report: impl Fn(Outcome) + 'static) {
    let report = Rc::new(report);
    match experience.trigger {
        Trigger::Immediately => show(&experience, report),
        Trigger::AfterSeconds { seconds } => {
            let delay = i32::try_from(seconds.saturating_mul(1000)).unwrap_or(i32::MAX);
            dom::set_timeout(delay, move || show(&experience, report));
        }
        Trigger::Scroll { percent } => {
            let once = Rc::new(RefCell::new(Some((experience, report))));
            dom::on(&dom::window(), "scroll", move |_| {
                if scrolled_percent() >= f64::from(percent) {
                    if let Some((experience, report)) = once.borrow_mut().take() {
                        show(&experience, report);
                    }
                }
            });
        }
        Trigger::ExitIntent => {
            let once = Rc::new(RefCell::new(Some((experience, report))));
            dom::on(&dom::document(), "mouseout", move |event| {
                let leaving = event
                    .dyn_ref::<web_sys::MouseEvent>()
                    .is_some_and(|m| m.related_target().is_none() && m.client_y() <= 0);
                if leaving {
                    if let Some((experience, report)) = once.borrow_mut().take() {
                        show(&experience, report);
                    }
                }
            });
        }
    }
}

fn scrolled_percent() -> f64 {
    let window = dom::window();
    let Some(page) = dom::document().document_element() else {
        return 0.0;
    };
    let scrollable = f64::from(page.scroll_height())
        - window
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
    if scrollable <= 0.0 {
        return 100.0;
    }
    window.scroll_y().unwrap_or(0.0) / scrollable * 100.0
}

fn show(experience: &Experience, report: Rc<dyn Fn(Outcome)>) {
    let Some(root) = root() else { return };
    let content = &experience.content;
    let kind = match experience.kind {
        ExperienceKind::Bar => "bar",
        ExperienceKind::Modal => "modal",
        ExperienceKind::SlideIn => "slide_in",
        ExperienceKind::Toast => "toast",
    };
    let card = dom::create("section");
    dom::set_attr(&card, "class", &format!("rp rp-{kind}"));
    dom::set_attr(&card, "data-experience", &experience.experience);
    dom::set_attr(&card, "lang", &content.locale);
    let label = content
        .title
        .clone()
        .unwrap_or_else(|| content.body.clone());
    dom::set_attr(&card, "aria-label", &label);

    let text = dom::create("p");
    dom::set_attr(&text, "class", "rp-text");
    if let Some(title) = &content.title {
        let strong = dom::create("strong");
        dom::set_attr(&strong, "class", "rp-title");
        dom::text(&strong, title);
        let _ = text.append_child(&strong);
    }
    let body = dom::create("span");
    dom::set_attr(&body, "class", "rp-body");
    dom::text(&body, &content.body);
    let _ = text.append_child(&body);
    let _ = card.append_child(&text);

    if let Some(cta) = content.cta.as_ref().filter(|c| is_safe_link(&c.url)) {
        let link = dom::create("a");
        dom::set_attr(&link, "class", "rp-cta");
        dom::set_attr(&link, "href", &cta.url);
        dom::text(&link, &cta.label);
        let report = Rc::clone(&report);
        dom::on(&link, "click", move |_| report(Outcome::Clicked));
        let _ = card.append_child(&link);
    }

    // The outermost element: the card, or the backdrop holding a modal card.
    let outer: Element = if experience.kind == ExperienceKind::Modal {
        let backdrop = dom::create("div");
        dom::set_attr(&backdrop, "class", "rp-backdrop");
        dom::set_attr(&card, "role", "dialog");
        dom::set_attr(&card, "aria-modal", "true");
        let _ = backdrop.append_child(&card);
        backdrop
    } else {
        dom::set_attr(
            &card,
            "role",
            if experience.kind == ExperienceKind::Toast {
                "status"
            } else {
                "region"
            },
        );
        card.clone()
    };

    let close = dom::create("button");
    dom::set_attr(&close, "class", "rp-close");
    dom::set_attr(&close, "type", "button");
    dom::set_attr(&close, "aria-label", "Dismiss");
    dom::text(&close, "×");
    let dismiss = {
        let outer = outer.clone();
        let report = Rc::clone(&report);
        move || {
            if outer.is_connected() {
                outer.remove();
                report(Outcome::Dismissed);
            }
        }
    };
    let on_close = dismiss.clone();
    dom::on(&close, "click", move |_| on_close());
    let _ = card.append_child(&close);

    if experience.kind == ExperienceKind::Modal {
        let on_escape = dismiss.clone();
        dom::on(&dom::document(), "keydown", move |event| {
            let escape = event
                .dyn_ref::<web_sys::KeyboardEvent>()
                .is_some_and(|k| k.key() == "Escape");
            if escape {
                on_escape();
            }
        });
    }
    if experience.kind == ExperienceKind::Toast {
        dom::set_timeout(8_000, dismiss);
    }

    if root.append_child(&outer).is_ok() {
        if experience.kind == ExperienceKind::Modal {
            if let Some(button) = close.dyn_ref::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        }
        report(Outcome::Shown);
    }
}
