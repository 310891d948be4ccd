// The view: shows what the edge decided. `cargo xtask build` makes it a module of its own,
// `rapport-view.HASH.js` (with `view.css` bundled as `rapportStyles`), which the loader
// imports only when a decision has something to show (see `loader.js`); the wasm module
// reaches it through the loader's `rapportView` (see `src/view.rs`). Most pages show nothing
// and never download it.
//
// The wasm module decides what happens (what may be recorded, delivery, asking the edge);
// this file, like `capture.js`, only touches the DOM. Every DOM call made from wasm crosses
// into JavaScript through a generated shim and copies its strings both ways: drawing prompts
// directly here is what keeps the widget inside its download budget.
//
// Floating prompts live in one shadow root at the end of the body; inline content fills the
// `[data-rapport-slot=NAME]` element the page reserved, inside a shadow root of its own.
// Styles (`view.css`, bundled as `rapportStyles`) come from a constructable stylesheet,
// allowed under a strict `style-src`, and follow the page's CSS custom properties. Content
// from rules reaches the page only through `textContent` and checked links.
// `scrolledPercent` is the loader's: one measure for scroll-depth events and scroll triggers.
export default (scrolledPercent) => {
  // Kinds that float over the page (one at a time, across the shop's tabs), and kinds that
  // fill a slot the page reserved. Any other kind the view does not know is not shown.
  var OVERLAYS = ["modal", "slide_in", "nps", "csat", "coupon"];
  var SLOTTED = ["inline", "recommendations"];
  var KINDS = OVERLAYS.concat(SLOTTED, ["bar", "toast"]);
  // The localStorage lease that lets one tab of the shop show an overlay at a time:
  // `TAB:UNTIL`, renewed while the overlay is open and removed when it closes.
  var LEASE_KEY = "rapport:overlay";
  var LEASE_MS = 1e4;
  var TOAST_MS = 8e3;
  var THANKS_MS = 2500;
  // What `report` hears (`Outcome::from_view` in src/view.rs).
  var SHOWN = 0;
  var CLICKED = 1;
  var DISMISSED = 2;
  var ANSWERED = 3;
  var EXPOSED = 4;
  // Any text without a colon that another tab will not pick.
  var TAB = Math.random() + "";

  var sheet;
  var root;
  // Experiences waiting for the page to track an event: [event, fire].
  var waiting = [];
  // Aborted when the page of a single-page app changes: what was armed for the old page
  // stops listening and shows nothing.
  var pageStop = new AbortController();
  // Overlays waiting for their triggers are alternatives (the edge sends several only on
  // different triggers): the first to fire takes the place and starts a new turn, and the
  // others, armed in the old turn, then show nothing. Overlays a later decision brings (help
  // after an NPS answer) are armed in the new turn.
  var overlayTurn = 0;
  // Prompts drawn on this page. A prompt comes with the session's budget as it was when the
  // edge decided (`budget`; inline content has none and spends none): it is drawn only while
  // fewer prompts than that have been drawn since it was armed, so when a decision offers
  // more prompts than the budget has room for, the first ones to reach the screen spend it.
  var drawn = 0;

  function el(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text != null) element.textContent = text;
    return element;
  }

  function button(className, label) {
    var b = el("button", className, label);
    b.type = "button";
    return b;
  }

  function on(target, type, listener, signal) {
    target.addEventListener(type, listener, { signal: signal });
  }

  // A field of the edge's answer as text; numbers are taken as their text.
  function text(value) {
    return typeof value == "string" || typeof value == "number" ? String(value) : "";
  }

  function number(value) {
    var n = typeof value == "string" ? parseFloat(value) : value;
    return typeof n == "number" && isFinite(n) ? n : null;
  }

  // Only http(s) and same-site relative links; never `javascript:` or `//other.site`. The
  // rulebook compiler already refused other links (`rapport_protocol::is_safe_link`, whose
  // rule this repeats); this is the second check, in the page, without the wasm round trip.
  function safeLink(url) {
    url = text(url).trim();
    return !url.startsWith("//") && /^([/#?]|https?:\/\/)/i.test(url);
  }

  function storage() {
    try {
      return localStorage;
    } catch (blocked) {
      return null;
    }
  }

  // The tab holding the overlay lease and until when, if the lease is current.
  function holder() {
    var lease = ((storage() && storage().getItem(LEASE_KEY)) || "").split(":");
    // `until` as text compares as a number; a missing one is never in the future.
    return lease[1] > Date.now() ? lease : null;
  }

  function mine(lease) {
    return !lease || lease[0] == TAB;
  }

  function writeLease() {
    try {
      storage().setItem(LEASE_KEY, TAB + ":" + (Date.now() + LEASE_MS));
    } catch (full) {
      // Without storage, each tab decides for itself.
    }
  }

  function release() {
    var lease = holder();
    if (lease && mine(lease)) storage().removeItem(LEASE_KEY);
  }

  // Keeps the lease while `outer` is on the page, and gives it up when it goes.
  function holdOverlay(outer) {
    writeLease();
    setTimeout(() => {
      outer.isConnected ? holdOverlay(outer) : release();
    }, LEASE_MS / 2);
  }

  // Runs `show` once this tab is visible and no other tab holds the lease; tries again when
  // another tab releases it, when this tab comes to the front, and when the other tab's lease
  // runs out (a tab that crashed).
  function whenOverlayFree(show, pageSignal) {
    var done = new AbortController();
    pageSignal.addEventListener("abort", () => {
      done.abort();
    });
    var attempt = () => {
      if (!done.signal.aborted && document.visibilityState == "visible" && mine(holder())) {
        done.abort();
        writeLease();
        show();
      }
    };
    attempt();
    var lease = holder();
    if (!mine(lease)) setTimeout(attempt, lease[1] - Date.now() + 100);
    on(window, "storage", attempt, done.signal);
    on(document, "visibilitychange", attempt, done.signal);
  }

  function inViewport(element) {
    var rect = element.getBoundingClientRect();
    return rect.height > 0 && rect.top < innerHeight && rect.bottom > 0;
  }

  // Arms the experience's trigger; `report(outcome, score, comment)` hears what the shopper
  // did (shown, clicked, dismissed, answered). A kind it does not know (from a newer
  // edge) is not shown. An arm that shows nothing (a control, the holdout) has no kind: it
  // waits for what its treatment (`shows_as`) would have, and where that would have been
  // drawn, its exposure is reported and nothing is.
  function arm(experience, report) {
    var kind = experience.kind;
    if (kind && !KINDS.includes(kind)) return;
    var shape = kind || experience.shows_as;
    // Only a control that keeps its place spends the turn and the budget it would take.
    var takes = !!(kind || experience.holds);
    var trigger = experience.trigger || {};
    var seconds = number(trigger.seconds) || 0;
    var pageSignal = pageStop.signal;
    var stop = new AbortController();
    var signal = stop.signal;
    var overlay = OVERLAYS.includes(shape);
    var turn = overlayTurn;
    pageSignal.addEventListener("abort", () => {
      stop.abort();
    });
    var since = drawn;
    var budget = experience.budget;
    var showNow = () => {
      if (drawn - since < budget || budget == null) {
        drawn += budget != null && takes;
        if (kind) show(experience, report);
        else if (!SLOTTED.includes(shape) || slotOf(experience)) report(EXPOSED);
      }
    };
    // Fires once: the trigger's listeners go, and an overlay takes the page's place and
    // waits its turn among tabs.
    var fire = () => {
      if (signal.aborted || (overlay && turn != overlayTurn)) return;
      stop.abort();
      if (!overlay) return showNow();
      overlayTurn += takes;
      whenOverlayFree(showNow, pageSignal);
    };
    switch (trigger.type) {
      case "after_seconds":
        setTimeout(fire, seconds * 1e3);
        break;
      case "scroll":
        // A page too short to scroll that far has its end in view: that counts as reached.
        var reached = () => {
          if (scrolledPercent() >= number(trigger.percent)) fire();
        };
        on(window, "scroll", reached, signal);
        reached();
        break;
      case "exit_intent":
        on(document, "mouseout", (event) => {
          if (!event.relatedTarget && event.clientY <= 0) fire();
        }, signal);
        // Phones have no pointer leaving the window: a quick scroll back up (a third of the
        // screen within 400 ms, from below the first screen) is the usual sign that the
        // shopper is heading for the address bar or the back button.
        var fromY = 0;
        var since = 0;
        on(window, "scroll", () => {
          var now = Date.now();
          if (now - since > 400 || scrollY > fromY) {
            fromY = scrollY;
            since = now;
          } else if (fromY > innerHeight && fromY - scrollY > innerHeight / 3) {
            fire();
          }
        }, signal);
        break;
      case "idle":
        // After `seconds` without keyboard, pointer, touch or scroll input.
        var timer;
        var restart = () => {
          clearTimeout(timer);
          if (!signal.aborted) timer = setTimeout(fire, seconds * 1e3);
        };
        restart();
        ["mousemove", "keydown", "scroll", "touchstart", "pointerdown"].forEach((type) => {
          on(window, type, restart, signal);
        });
        break;
      case "after_event":
        waiting.push([text(trigger.event), fire]);
        break;
      case "element_visible":
        var check = () => {
          var element;
          try {
            element = document.querySelector(text(trigger.selector));
          } catch (badSelector) {
            // A selector this browser cannot read shows nothing.
          }
          if (element && inViewport(element)) fire();
        };
        check();
        on(window, "scroll", check, signal);
        break;
      default:
        fire();
    }
  }

  // The page tracked `event`: shows what waited for it.
  function tracked(event) {
    waiting = waiting.filter((w) => {
      // What waited for it fires (showing never arms anything) and stops waiting.
      return w[0] != event || w[1]();
    });
  }

  // Removes every prompt and pending trigger (a single-page app moved to another page).
  function clear() {
    pageStop.abort();
    pageStop = new AbortController();
    waiting = [];
    if (root) root.replaceChildren();
    release();
    document.querySelectorAll("[data-rapport-filled]").forEach((filled) => {
      filled.remove();
    });
  }

  // A shadow root with Rapport's stylesheet, attached to `host`.
  function attach(host) {
    var shadow = host.attachShadow({ mode: "open" });
    try {
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(rapportStyles);
      }
      shadow.adoptedStyleSheets = [sheet];
    } catch (old) {
      // A browser without constructable stylesheets still gets readable, unstyled text.
    }
    return shadow;
  }

  // The shadow root floating prompts live in, created on first use.
  function floating() {
    if (!root && document.body) {
      var host = el("div");
      host.id = "rapport-host";
      root = attach(host);
      document.body.append(host);
    }
    return root;
  }

  // A performance mark (`rapport:shown:ID`), so the page, its monitoring and our benchmark
  // can see when a prompt reached the screen; then the impression.
  function shown(experience, report) {
    performance.mark("rapport:shown:" + experience.experience);
    report(SHOWN);
  }

  function show(experience, report) {
    var kind = experience.kind;
    var content = experience.content || {};
    var title = text(content.title);
    var body = text(content.body);
    // A bar runs along the bottom unless its rule puts it at the top.
    var card = el("section", "rp rp-" + kind + (experience.position == "top" ? " rp-top" : ""));
    card.setAttribute("data-experience", experience.experience);
    card.setAttribute("lang", text(content.locale));
    card.setAttribute("aria-label", title || body);
    var words = el("p", "rp-text");
    if (title) words.append(el("strong", "rp-title", title));
    words.append(el("span", "rp-body", body));
    card.append(words);
    if (kind == "coupon") addCoupon(card, text(content.code));
    if (kind == "nps" || kind == "csat") addScale(card, kind == "nps", report);
    if (kind == "recommendations") addProducts(card, experience, report);
    var cta = content.cta || {};
    if (text(cta.label) && safeLink(cta.url)) {
      var link = el("a", "rp-cta", text(cta.label));
      link.setAttribute("href", text(cta.url).trim());
      follow(link, experience, report);
      card.append(link);
    }
    if (SLOTTED.includes(kind)) return showInSlot(experience, card, report);

    var shadow = floating();
    if (!shadow) return;
    var overlay = OVERLAYS.includes(kind);
    var dialog = kind == "modal" || kind == "coupon";
    // The outermost element: the card, or the backdrop holding a dialog card.
    var outer = card;
    if (dialog) {
      outer = el("div", "rp-backdrop");
      card.setAttribute("role", "dialog");
      card.setAttribute("aria-modal", "true");
      outer.append(card);
    } else {
      card.setAttribute("role", kind == "toast" ? "status" : "region");
    }
    var close = button("rp-close", "×");
    close.setAttribute("aria-label", "Dismiss");
    // A dialog gives focus back to where the shopper was when it closes.
    var previous = dialog && document.activeElement;
    var gone = new AbortController();
    var dismiss = () => {
      if (!outer.isConnected) return;
      gone.abort();
      outer.remove();
      if (overlay) release();
      if (previous && previous.focus) previous.focus();
      report(DISMISSED);
    };
    on(close, "click", dismiss);
    card.append(close);
    if (dialog) {
      on(document, "keydown", (key) => {
        if (!outer.isConnected) return;
        if (key.key == "Escape") dismiss();
        if (key.key == "Tab") trapFocus(card, shadow, key);
      }, gone.signal);
      // A click on the backdrop, outside the dialog, closes it.
      on(outer, "click", (event) => {
        if (event.target == outer) dismiss();
      });
    } else {
      // A prompt that does not hold focus still closes with Escape once the shopper has
      // tabbed into it.
      on(card, "keydown", (key) => {
        if (key.key == "Escape") dismiss();
      });
    }
    if (kind == "toast") dismissUnlessFocused(card, shadow, dismiss);
    shadow.append(outer);
    if (dialog) close.focus();
    if (overlay) holdOverlay(outer);
    shown(experience, report);
  }

  // A click on a prompt's link is reported, then offered to the app's router: a cancelable
  // `rapport:navigate` event on `window`, with the link's `url` (as the rule wrote it) and
  // `experience`. An app that calls `preventDefault()` routes the URL itself; otherwise the
  // browser follows the link.
  // `position` and `id`: a recommended product's place in the row (from 1) and its id.
  function follow(link, experience, report, position, id) {
    on(link, "click", (click) => {
      report(CLICKED, position, id);
      var navigate = new CustomEvent("rapport:navigate", {
        cancelable: true,
        detail: { url: link.getAttribute("href"), experience: experience.experience },
      });
      if (!dispatchEvent(navigate)) click.preventDefault();
    });
  }

  // Takes a toast away after a while, but never from under a shopper whose keyboard focus is
  // in it: they get as long as they need.
  function dismissUnlessFocused(card, shadow, dismiss) {
    setTimeout(() => {
      if (card.contains(shadow.activeElement)) dismissUnlessFocused(card, shadow, dismiss);
      else dismiss();
    }, TOAST_MS);
  }

  // Keeps Tab and Shift+Tab inside an open dialog, cycling between its first and last
  // controls, and brings focus back into it if it has left.
  function trapFocus(card, shadow, key) {
    var controls = card.querySelectorAll("a[href], button");
    var first = controls[0];
    var last = controls[controls.length - 1];
    var active = shadow.activeElement;
    var target = key.shiftKey
      ? (!active || active == first) && last
      : (!active || active == last) && first;
    if (target) {
      key.preventDefault();
      target.focus();
    }
  }

  // The slot the page reserved for an inline experience, if it is on the page.
  function slotOf(experience) {
    return document.querySelector(
      '[data-rapport-slot="' + CSS.escape(text(experience.slot) || "default") + '"]'
    );
  }

  // Inline content goes into the slot the page reserved for it, so nothing on the page moves.
  function showInSlot(experience, card, report) {
    var slot = slotOf(experience);
    if (!slot) {
      console.warn(
        'rapport: no [data-rapport-slot="' + (text(experience.slot) || "default") + '"] on this page for ' +
          experience.experience
      );
      return;
    }
    var host = el("div");
    host.setAttribute("data-rapport-filled", experience.experience);
    attach(host).append(card);
    slot.replaceChildren(host);
    shown(experience, report);
  }

  function addCoupon(card, code) {
    var row = el("div", "rp-code");
    var copy = button("rp-copy", "Copy");
    on(copy, "click", () => {
      // The Clipboard API needs a secure context; without it the code stays on screen to
      // copy by hand.
      if (navigator.clipboard) {
        copy.textContent = "Copied";
        navigator.clipboard.writeText(code).catch(() => {
          copy.textContent = "Copy";
        });
      }
    });
    row.append(el("code", "", code), copy);
    card.append(row);
  }

  function addScale(card, nps, report) {
    var scale = el("div", "rp-scale");
    scale.setAttribute("role", "group");
    scale.setAttribute(
      "aria-label",
      nps
        ? "0 = not at all likely, 10 = extremely likely"
        : "1 = very dissatisfied, 5 = very satisfied",
    );
    for (var score = nps ? 0 : 1; score <= (nps ? 10 : 5); score++) {
      var choice = button("", score);
      on(choice, "click", (event) => {
        var picked = +event.target.textContent;
        if (nps) {
          askComment(card, scale, picked, report);
        } else {
          report(ANSWERED, picked);
          thank(scale);
        }
      });
      scale.append(choice);
    }
    card.append(scale);
  }

  // Thanks the shopper for an answer, then takes the survey away, freeing the overlay place
  // for what the answer may bring (a detractor is offered help at once).
  function thank(replacing) {
    replacing.replaceChildren(el("p", "", "Thank you!"));
    var card = replacing.closest(".rp");
    setTimeout(() => {
      card.remove();
      release();
    }, THANKS_MS);
  }

  // After an NPS score: an optional comment. The answer is reported once, with the comment
  // when the shopper sends one, and with the score alone when they skip, close the prompt or
  // leave the page, so a score is never lost.
  function askComment(card, scale, score, report) {
    var pending = true;
    var answer = (comment) => {
      if (pending) report(ANSWERED, score, comment);
      pending = false;
    };
    var form = el("div", "rp-comment");
    var label = el("label", "rp-comment-label", "What is the main reason for your score? (optional)");
    var field = el("textarea", "rp-comment-field");
    field.maxLength = 2000;
    field.rows = 3;
    field.id = label.htmlFor = "rp-comment-field";
    var send = button("rp-cta", "Send");
    var skip = button("rp-copy", "Skip");
    form.append(label, field, send, skip);
    scale.replaceChildren(form);
    field.focus();
    on(send, "click", () => {
      answer(field.value.trim() || undefined);
      thank(scale);
    });
    on(skip, "click", () => {
      answer();
      thank(scale);
    });
    on(card, "click", (event) => {
      if (event.target.className == "rp-close") answer();
    });
    on(window, "pagehide", () => {
      answer();
    });
  }

  function addProducts(card, experience, report) {
    var content = experience.content || {};
    var list = el("ul", "rp-products");
    (Array.isArray(content.products) ? content.products : []).forEach((product, index) => {
      var name = text(product && product.name);
      if (!name) return;
      var url = text(product.url).trim();
      var image = text(product.image).trim();
      var item = el("li");
      var label = el(safeLink(url) ? "a" : "span", "", name);
      if (label.tagName == "A") {
        label.setAttribute("href", url);
        follow(label, experience, report, index + 1, text(product.id));
      }
      // Drawn at a fixed size, so the row never moves as pictures arrive; the name beside
      // it says what it is.
      if (safeLink(image)) {
        var picture = el("img");
        picture.src = image;
        picture.alt = "";
        picture.width = picture.height = 96;
        item.append(picture);
      }
      item.append(label);
      var price = number(product.price);
      if (price != null) item.append(el("span", "", " · " + money(price, text(product.currency), text(content.locale))));
      list.append(item);
    });
    card.append(list);
  }

  // A price in the shopper's language; an unknown currency code or locale falls back to
  // plain digits.
  function money(amount, currency, locale) {
    try {
      return new Intl.NumberFormat(locale || undefined, { style: "currency", currency: currency }).format(amount);
    } catch (unknown) {
      return amount.toFixed(2);
    }
  }

  // A tab going away gives up the overlay it showed, so another tab may show one.
  on(window, "pagehide", release);

  return { arm: arm, tracked: tracked, clear: clear };
};
