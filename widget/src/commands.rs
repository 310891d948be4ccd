//! The page's commands: `window.rapport.push([...])`, queued before the script loaded or
//! called after. A bad command is reported on the console and ignored: it must never break
//! the page.

use std::rc::Rc;

use rapport_protocol::Consent;
use wasm_bindgen::prelude::*;

use crate::app::{self, Widget};
use crate::{capture, dom, wire};

/// Replaces the `window.rapport` array the page may have filled before the script loaded with
/// an object whose `push` runs commands at once, after running the queued ones in order.
#[inline(always)]
pub fn install(widget: &Rc<Widget>) {
    let handler = Rc::clone(widget);
    let queued = dom::replace_queue("rapport", move |command| run(&handler, command));
    if let Some(queued) = queued {
        for command in queued.iter() {
            run(widget, command);
        }
    }
}

/// Runs one command, `['track', name, props]` or `['page']`. A bad command is reported on
/// the console and ignored: it must never break the page.
fn run(widget: &Rc<Widget>, command: JsValue) {
    if !js_sys::Array::is_array(&command) {
        dom::warn("rapport: a command is an array, like rapport.push(['page'])");
        return;
    }
    // An array's items by index, through the one property getter the widget imports.
    let part = |index: &str| wire::get(&command, index);
    let name = part("0").as_string().unwrap_or_default();
    match name.as_str() {
        "track" => {
            let data = capture::event_from_command(&part("1"), &part("2"));
            match data.as_string() {
                Some(message) => dom::warn(&dom::cat(&["rapport: track: ", &message])),
                None => app::site_event(widget, &data, false),
            }
        }
        "page" => app::new_page(widget),
        // The loader's: a single-page app's route changed; `page` follows once it rendered.
        "_leave" => app::leave(widget),
        "consent" => {
            let props = part("1");
            let flag = |key: &str| wire::get(&props, key).as_bool().unwrap_or(false);
            let consent = Consent {
                analytics: flag("analytics"),
                personalization: flag("personalization"),
            };
            app::set_consent(widget, consent);
        }
        "on" | "off" => dom::listen(name == "on", &part("1"), &part("2")),
        "forget" => app::forget(widget),
        // `capture.js`'s: a click on a cart button marked with data attributes (queued while
        // the wasm loads), and what the shopper does on the page.
        "_cart" => app::site_event(widget, &part("1"), true),
        "_seen" => app::seen(widget, &part("1")),
        // The view's: what the shopper did with a prompt.
        "_report" => app::report(
            widget,
            &part("1"),
            &part("2"),
            &part("3"),
            part("4").as_string(),
        ),
        // The loader's: the page is going away, or out of sight.
        "_exit" => app::exit(widget),
        "identify" => match (
            part("1").as_string().filter(|c| !c.is_empty()),
            wire::text(&part("2"), "signature"),
        ) {
            (Some(customer_id), Some(signature)) => app::identify(widget, customer_id, signature),
            _ => {
                dom::warn("rapport: identify takes a customer id and {signature} (see the README)")
            }
        },
        other => dom::warn(&dom::cat(&["rapport: unknown command \"", other, "\""])),
    }
}
