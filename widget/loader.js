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
  var early = function (event) {
    queue.push(["_click", event.target]);
  };
  document.addEventListener("click", early);
  wasm_bindgen({ module_or_path: new URL("rapport_bg.wasm", src) })
    .then(function () {
      document.removeEventListener("click", early);
      wasm_bindgen.start(config);
      watchRoutes();
    })
    .catch(function (error) {
      document.removeEventListener("click", early);
      console.warn("rapport: the widget could not start", error);
    });
}

// Single-page apps change pages through the History API: each new path (or query) is a
// page view and a new decision, as if the page had loaded. Hash changes are not.
function watchRoutes() {
  var where = function () {
    return location.pathname + location.search;
  };
  var last = where();
  var changed = function () {
    if (where() !== last) {
      last = where();
      window.rapport.push(["page"]);
    }
  };
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      changed();
      return result;
    };
  });
  addEventListener("popstate", changed);
}

// The widget's one way to the edge (`dom::post` in the wasm module): POSTs a text body and
// hands `done` the status and the answer's text, exactly once; status 0 when the network
// failed. A text body makes a cross-origin call a "simple request", with no preflight.
function rapportPost(url, body, keepalive, done) {
  var failed = function (error) {
    done(0, String(error));
  };
  fetch(url, { method: "POST", body: body, keepalive: keepalive }).then(function (response) {
    response.text().then(function (text) {
      done(response.status, text);
    }, failed);
  }, failed);
}
