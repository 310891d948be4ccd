// The loader part of rapport.js. `cargo xtask build` puts it in one closure with
// wasm-bindgen's glue (which defines `wasm_bindgen`) and the view (`view.js`), and minifies
// the result.
//
// It reads the configuration from its own script tag while that tag is still
// `document.currentScript`, starts the wasm module, and leaves `window.rapport`
// as the command queue the page may already be filling.
var script = document.currentScript;
var queue = (window.rapport = window.rapport || []);
if (script && Array.isArray(queue) && !queue._rapportLoading) {
  // A second copy of the tag on the same page does nothing.
  queue._rapportLoading = true;
  var src = new URL(script.src, location.href);
  var config = {
    site: script.dataset.site || "",
    endpoint: script.dataset.endpoint || src.origin,
  };
  // Cart buttons clicked while the wasm loads are queued for it, in order.
  var early = (event) => {
    queue.push(["_click", event.target]);
  };
  document.addEventListener("click", early);
  wasm_bindgen({ module_or_path: new URL("rapport_bg.wasm", src) })
    .then(() => {
      document.removeEventListener("click", early);
      wasm_bindgen.start(config);
      // `data-routes="manual"`: the app says itself when a page is new, with `page`.
      if (script.dataset.routes !== "manual") watchRoutes();
    })
    .catch((error) => {
      document.removeEventListener("click", early);
      console.warn("rapport: the widget could not start", error);
    });
}

// Single-page apps change pages through the History API (or, for hash routers, `#/...`):
// each new path, query or hash route is a page view and a new decision, as if the page had
// loaded; an anchor on the page (`#reviews`) is not. What the previous page showed goes at
// once (`_leave`); the new page is recorded once the app has rendered it.
//
// Routers render the new route after the URL changes, or before: after a frame, the page
// counts as rendered once what Rapport reads of it (the body's data attributes: kind, search
// results, checkout step, order; the language; product markup) has changed, a product page
// has its product, and nothing of that changed for 50 ms; at most 600 ms after the URL.
// Only the last of quick successive routes gets a page view.
function watchRoutes() {
  var where = () => location.pathname + location.search + (/^#!?\//.test(location.hash) ? location.hash : "");
  var reads = () =>
    [JSON.stringify(document.body.dataset), document.documentElement.lang]
      .concat([].map.call(document.querySelectorAll("script[type='application/ld+json'],[data-rapport-product]"), (e) => e.outerHTML))
      .join();
  var last = where();
  var seen = reads();
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
  var check = () => {
    var now = reads();
    clearTimeout(quiet);
    if (now != seen && (!/"rapportPage":"product"/.test(now) || /Product|rapport-product/.test(now))) quiet = setTimeout(done, 50);
  };
  var changed = () => {
    if (where() != last) {
      last = where();
      window.rapport.push(["_leave"]);
      stop();
      limit = setTimeout(done, 600);
      requestAnimationFrame(check);
      observer = new MutationObserver(check);
      observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
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
