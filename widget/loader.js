// The loader part of rapport.js. `cargo xtask build` puts it in one closure with
// wasm-bindgen's glue (which defines `wasm_bindgen`) and `capture.js`, and minifies the
// result.
//
// It reads the configuration from its own script tag while that tag is still
// `document.currentScript`, asks the edge for the site's settings while the wasm module
// loads, starts the module and capture's watchers, records the first page once the app has
// rendered it, and leaves `window.rapport` as the command queue the page may already be
// filling (capture, the view and the loader send the wasm module theirs there too). The
// view, which draws prompts, is a module of its own that only pages with something to show
// download (`rapportView` below).
var script = document.currentScript;
// The view's file (see `view` below), named by the build.
var VIEW_FILE = "rapport-view.js";
var queue = (window.rapport = window.rapport || []);
if (script && Array.isArray(queue) && !queue._rapportLoading) {
  // A second copy of the tag on the same page does nothing.
  queue._rapportLoading = true;
  var tag = script.dataset;
  var src = new URL(script.src, location.href);
  var config = {
    site: tag.site || "",
    endpoint: tag.endpoint || src.origin,
    consent: tag.consent,
    // A preview link's token (`?rapport_preview=TOKEN`).
    preview: new URLSearchParams(location.search).get("rapport_preview"),
    // Global Privacy Control or Do Not Track: consent withheld until the site passes it.
    privacy: !!navigator.globalPrivacyControl || /^(1|yes)$/.test(navigator.doNotTrack),
  };
  // Clicks on the shop's cart buttons (`capture.js`), queued for the wasm while it loads.
  var cartClicks = (event) => {
    var data = cartClick(event.target);
    if (data) window.rapport.push(["_cart", data]);
  };
  document.addEventListener("click", cartClicks);
  // The site may require opt-in consent at the edge (`"consent": "opt-in"` in SITES), so
  // that a page without `data-consent="required"` cannot leak: on a first visit, nothing is
  // stored or sent until the widget knows. An edge that cannot say is taken to require it.
  // A browser that already keeps a visitor id or a consent has been through this (a site
  // that has since changed its setting says so in its decisions).
  var required = () => {
    config.consent = "required";
  };
  var kept = (key) => {
    try {
      return localStorage.getItem("rapport:" + key);
    } catch (blocked) {}
  };
  // This visitor's last page showed something: the view loads beside the wasm module.
  if (kept("view")) {
    view(1);
    localStorage.removeItem("rapport:view");
  }
  Promise.all([
    wasm_bindgen({ module_or_path: new URL("rapport_bg.wasm", src) }),
    config.consent == "required" ||
      kept("vid") ||
      kept("consent") ||
      fetch(config.endpoint + "/v1/sites/" + encodeURIComponent(config.site))
        .then((answer) => answer.json())
        .then((site) => {
          if (site.consent != "opt-out") required();
        }, required),
  ])
    .then(() => {
      // A tag without `data-site` does not start (the widget says so on the console).
      if (!wasm_bindgen.start(config)) return document.removeEventListener("click", cartClicks);
      watch();
      // On page exit, or when the tab goes to the background, what waits to be sent goes by
      // beacon (after capture's last engaged time).
      var exit = () => window.rapport.push(["_exit"]);
      addEventListener("pagehide", exit);
      document.addEventListener("visibilitychange", () => document.visibilityState == "hidden" && exit());
      // `data-routes="manual"`: the app says itself when a page is ready, the first one too.
      if (tag.routes != "manual") watchPages();
    })
    .catch((error) => {
      document.removeEventListener("click", cartClicks);
      console.warn("rapport: the widget could not start", error);
    });
}

// A page counts as ready once what Rapport reads of it (the page kind; the body's data
// attributes: search results, checkout step, order; the language; product markup) has
// settled: an app that renders after load, or after a route change, gets its page view and
// decision once it has rendered.
//
// The first page is recorded at once when it is ready as it loads (it has a page kind, and a
// product page its product); otherwise, like every new route, once what Rapport reads has
// appeared, a product page has its product, and nothing of that changed for 50 ms; at most
// 600 ms later.
//
// Single-page apps change pages through the History API (or, for hash routers, `#/...`):
// each new path, query or hash route is a page view and a new decision; an anchor on the
// page (`#reviews`) is not. What the previous page showed goes at once (`_leave`). Routers
// render the new route after the URL changes, or before: a new route counts once what
// Rapport reads changed. Only the last of quick successive routes gets a page view.
function watchPages() {
  var where = () => location.pathname + location.search + (/^#!?\//.test(location.hash) ? location.hash : "");
  var reads = () =>
    [pageKind(), JSON.stringify(document.body && document.body.dataset), document.documentElement.lang]
      .concat([].map.call(document.querySelectorAll("script[type='application/ld+json'],[data-rapport-product]"), (e) => e.outerHTML))
      .join();
  // A product page is ready once it has its product.
  var whole = () => pageKind() != "product" || /Product|rapport-product/.test(reads());
  var last = where();
  var seen;
  var quiet, limit, observer;
  var stop = () => {
    if (observer) observer.disconnect();
    clearTimeout(quiet);
    clearTimeout(limit);
  };
  var done = () => {
    stop();
    seen = reads();
    window.rapport.push(["page"]);
  };
  // `first`: the page as it loaded, which needs a kind; a new route needs a change.
  var settle = (first) => {
    var check = () => {
      clearTimeout(quiet);
      if ((first ? pageKind() : reads() != seen) && whole()) quiet = setTimeout(done, 50);
    };
    stop();
    limit = setTimeout(done, 600);
    requestAnimationFrame(check);
    observer = new MutationObserver(check);
    observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  };
  pageKind() && whole() ? done() : settle(1);
  var changed = () => {
    if (where() != last) {
      last = where();
      window.rapport.push(["_leave"]);
      settle();
    }
  };
  ["pushState", "replaceState"].forEach((name) => {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      changed();
      return result;
    };
  });
  addEventListener("popstate", changed);
  addEventListener("hashchange", changed);
}

// The view (`view.js`), a module of its own that the wasm module reaches through
// `rapportView` (`src/view.rs`). It is imported when a decision first has something to
// show, or, when this visitor's last page showed something (`rapport:view`, kept only for a
// visitor Rapport may record), at once, beside the wasm module. The build names the file by
// its content (`VIEW_FILE`), so the browser keeps it across pages and releases. Every call
// waits on the one import in the order made, so a prompt armed while it loads still hears
// the events and the page change that follow.
var viewLoading;
function view(load) {
  if (load && !viewLoading)
    viewLoading = import(new URL(VIEW_FILE, src)).then(
      (module) => module.default(scrolledPercent),
      (error) => {
        viewLoading = 0;
        console.warn("rapport: the view could not load", error);
      },
    );
  return viewLoading || Promise.resolve();
}
var rapportView = {
  // What the shopper does with the prompt goes back to the wasm module as a command.
  arm: (experience) => {
    try {
      if (kept("vid")) localStorage.setItem("rapport:view", 1);
    } catch (full) {}
    view(1).then((shown) => shown && shown.arm(experience, (outcome, score, comment) => window.rapport.push(["_report", experience, outcome, score, comment])));
  },
  tracked: (event) => view().then((shown) => shown && shown.tracked(event)),
  clear: () => view().then((shown) => shown && shown.clear()),
};

// How far down the page the shopper has scrolled, in percent (100 when nothing scrolls).
function scrolledPercent() {
  var scrollable = document.documentElement.scrollHeight - innerHeight;
  return scrollable > 0 ? (scrollY / scrollable) * 100 : 100;
}

// The widget's one way to the edge (`dom::post` in the wasm module): POSTs a text body and
// hands `done` the status and the answer's text, exactly once; status 0 when the network
// failed. A text body makes a cross-origin call a "simple request", with no preflight.
// Only a preview link's decision carries the trace (or, for a link the edge refused, why):
// then the preview panel, a module of its own that shoppers never download, shows it.
function rapportPost(url, body, keepalive, done) {
  var failed = (error) => {
    done(0, String(error));
  };
  fetch(url, { method: "POST", body: body, keepalive: keepalive }).then((response) => {
    response.text().then((text) => {
      done(response.status, text);
      if (/"(trace|preview_error)":/.test(text)) import(new URL("rapport-preview.js", src)).then((panel) => panel.default(text));
    }, failed);
  }, failed);
}

// The page's `on` and `off` subscriptions (`dom::listen` in the wasm module): a callback is
// registered once per event however often `on` names it, until `off` takes it away, so an
// app's effect that subscribes twice (React's StrictMode) hears each event once.
var listeners = [];
function rapportListen(on, event, callback) {
  if (typeof event != "string" || typeof callback != "function") return console.warn("rapport: on and off take an event name and a function");
  listeners = listeners.filter((l) => l[0] != event || l[1] != callback);
  if (on) listeners.push([event, callback]);
}

// Calls the subscribers to `event` (and to `"*"`) with `detail`; one that throws is reported
// on the console and stops nothing else.
function rapportNotify(event, detail) {
  listeners.forEach((l) => {
    if (l[0] == event || l[0] == "*")
      try {
        l[1](event, detail);
      } catch (error) {
        console.warn("rapport: an on() callback failed:", error);
      }
  });
}

// A new id (`dom::random_id` in the wasm module): 128 random bits as 32 hex digits, from the
// browser's cryptographic generator.
function rapportId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join("");
}

// A shop may mark its cart buttons with data attributes and also `track` the same click:
// the second report of one cart change (the same kind and product, the other way, within
// 100 ms) is the same click told twice.
var lastCart = [];
function rapportTwice(fromButton, kind, product) {
  var now = Date.now();
  var twice = lastCart[0] != fromButton && lastCart[1] == kind + product && now - lastCart[2] < 100;
  if (product) lastCart = twice ? [] : [fromButton, kind + product, now];
  return twice && !!product;
}
