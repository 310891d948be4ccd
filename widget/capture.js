// Capture: the page read into events. `cargo xtask build` puts it in the one closure of
// `rapport.js` with the loader and wasm-bindgen's glue. It reads only what the shop publishes
// about itself (page kind, language, product markup, data attributes) and where and when the
// shopper scrolls, clicks and types: never text the shopper typed, never form fields.
//
// Every event leaves here in its wire form (`{type, ...}`, as the edge reads it); the wasm
// module decides whether it may be recorded, stamps it (id, session, time) and delivers it
// exactly once (`src/capture.rs` is its interface). Reading the DOM from wasm costs a
// generated glue function, an import and string copies for every call; here it costs a
// property access, which is what keeps pages without a prompt near their 18 KB budget.

// A field of an object (nothing from anything else, `null` included).
var field = (value, key) => (value && typeof value == "object" ? value[key] : undefined);
// A string field; a finite number is taken as its text (a SKU of 1042). Empty is none.
var text = (value, key) => {
  var found = field(value, key);
  if (typeof found == "number" && isFinite(found)) found += "";
  return typeof found == "string" && found ? found : undefined;
};
// A finite number, or the text of one: a number field (`"59.00"` is read too), an attribute.
var finite = (found) => {
  found = typeof found == "string" ? parseFloat(found) : found;
  return typeof found == "number" && isFinite(found) ? found : undefined;
};
var number = (value, key) => finite(field(value, key));
// A whole number written in digits only (no sign, no spaces), up to 2^32 - 1.
var wholeNumber = (digits) => (/^\d{1,10}$/.test(digits) && digits < 2 ** 32 ? +digits : undefined);
var list = (value, key) => {
  var found = field(value, key);
  return Array.isArray(found) ? found : [];
};
var path = () => location.pathname;

// The page kind: `<body data-rapport-page="...">`, or else the first element that has one
// (an app renders its own, inside the body).
function pageKind() {
  return (
    (document.body && document.body.dataset.rapportPage) ||
    (document.querySelector("[data-rapport-page]:not([data-rapport-page=''])") || { dataset: {} }).dataset.rapportPage ||
    undefined
  );
}

// Where the shopper is now: `{url, path, kind, locale}`.
function rapportContext() {
  return {
    url: location.href,
    path: path(),
    kind: pageKind(),
    locale: document.documentElement.lang || undefined,
  };
}

// A product with the id `id` (none without one), whose other fields `read(name)` gives as
// text: a price is read as a number.
function productOf(id, read) {
  return (
    id && {
      id: id,
      name: read("name"),
      price: finite(read("price")),
      currency: read("currency"),
      category: read("category"),
      availability: read("availability"),
      url: read("url"),
      image: read("image"),
    }
  );
}

// A product described by an element's attributes: the id in `idAttribute`, and `data-name`,
// `data-price`, `data-currency`, `data-category`, `data-availability`, `data-url`,
// `data-image`.
function elementProduct(element, idAttribute) {
  var data = (name) => element.getAttribute(name) || undefined;
  return productOf(data(idAttribute), (name) => data("data-" + name));
}

// A schema.org Product, alone, in an array or in an `@graph`.
function jsonLdProduct(json) {
  if (Array.isArray(json)) {
    for (var item of json) {
      var found = jsonLdProduct(item);
      if (found) return found;
    }
    return;
  }
  var graph = field(json, "@graph");
  if (graph !== undefined) return jsonLdProduct(graph);
  var id = text(json, "sku") || text(json, "productID") || text(json, "@id");
  if (text(json, "@type") != "Product" || !id) return;
  var offers = field(json, "offers");
  var offer = Array.isArray(offers) ? offers[0] : offers;
  var availability = text(offer, "availability");
  return {
    id: id,
    name: text(json, "name"),
    price: number(offer, "price"),
    currency: text(offer, "priceCurrency"),
    category: text(json, "category"),
    // `https://schema.org/InStock` is `InStock`.
    availability: availability && availability.slice(availability.lastIndexOf("/") + 1),
    url: path(),
    // A picture's address (a list or an ImageObject is not read).
    image: text(json, "image"),
  };
}

// The product this page presents, from schema.org `Product` JSON-LD or, failing that, from
// an element with `data-rapport-product` (`data-name`, `data-price`, ... beside it).
function pageProduct() {
  for (var script of document.querySelectorAll("script[type='application/ld+json']")) {
    try {
      var found = jsonLdProduct(JSON.parse(script.textContent));
    } catch (notJson) {}
    if (found) return found;
  }
  var element = document.querySelector("[data-rapport-product]");
  found = element && elementProduct(element, "data-rapport-product");
  // The page presents this product: it is the product's page.
  if (found) found.url = found.url || path();
  return found;
}

// What a server-rendered page says about itself on `<body>`: a search results page
// (`data-rapport-page="search"`) its query (from `q`, `query`, `search` or `s` in the URL)
// and how many it found (`data-rapport-results`); a checkout page its step
// (`data-rapport-checkout-step="payment"`) or the order it confirms (`data-rapport-order`,
// with `data-rapport-order-value` and `data-rapport-order-currency`).
function bodyEvents(kind) {
  var body = document.body;
  var attribute = (name) => {
    var value = body && body.getAttribute(name);
    return value && value.trim() ? value : undefined;
  };
  var events = [];
  var params = new URLSearchParams(location.search);
  var query = ["q", "query", "search", "s"].map((name) => params.get(name)).find((q) => q != null);
  if (kind == "search" && query && query.trim())
    events.push({
      type: "search",
      query: Array.from(query).slice(0, 200).join(""),
      results: wholeNumber((attribute("data-rapport-results") || "").trim()),
    });
  var order = attribute("data-rapport-order");
  var step = attribute("data-rapport-checkout-step");
  if (order)
    events.push({
      type: "order_complete",
      order_id: order,
      value: finite(attribute("data-rapport-order-value")),
      currency: attribute("data-rapport-order-currency"),
    });
  else if (step) events.push({ type: "checkout_step", step: step });
  return events;
}

// A new page (a load, or a single-page app's route): its events, the page view first, and
// scroll depth starts over.
var deepestScroll = 0;
function rapportPage() {
  var page = rapportContext();
  var product = pageProduct();
  deepestScroll = 0;
  return [
    {
      type: "page_view",
      page: page,
      title: document.title || undefined,
      referrer: document.referrer || undefined,
    },
  ]
    .concat(product ? [{ type: "product_view", product: product }] : [])
    .concat(bodyEvents(page.kind));
}

// `quantity`, a whole number of at least 1 (1 when missing or not a number).
var quantityOf = (props) => {
  var quantity = number(props, "quantity");
  return quantity >= 1 && quantity < 2 ** 32 ? Math.floor(quantity) : 1;
};

// A click on an element marked `data-rapport-add-to-cart="SKU"` (with the product's
// `data-name`, `data-price`... and optionally `data-quantity`) or
// `data-rapport-remove-from-cart="SKU"`: the cart change, without a line of the shop's
// JavaScript.
function cartClick(target) {
  var element = target instanceof Element && target.closest("[data-rapport-add-to-cart], [data-rapport-remove-from-cart]");
  if (!element) return;
  var quantity = wholeNumber((element.getAttribute("data-quantity") || "").trim()) || 1;
  var product = elementProduct(element, "data-rapport-add-to-cart");
  var removed = element.getAttribute("data-rapport-remove-from-cart");
  return product
    ? { type: "add_to_cart", product: product, quantity: quantity }
    : removed
      ? { type: "remove_from_cart", product_id: removed, quantity: quantity }
      : undefined;
}

// The event a `rapport.push(['track', name, props])` command reports, or, as a string, why
// it cannot (the wasm module warns with it).
function rapportTrack(name, props) {
  if (typeof name != "string") return "the event name must be a string";
  if (props != null && typeof props != "object") return "the event properties must be a plain object";
  var product = (item, where) => {
    var found = productOf(text(item, "id"), (name) => text(item, name));
    if (!found) throw where + ": a product needs an `id`";
    return found;
  };
  var needs = (key, what) => {
    var value = text(props, key);
    if (!value) throw name + ": " + what;
    return value;
  };
  var events = {
    add_to_cart: () => ({ product: product(props, name), quantity: quantityOf(props) }),
    remove_from_cart: () => ({ product_id: product(props, name).id, quantity: quantityOf(props) }),
    product_view: () => ({ product: product(props, name) }),
    // Each item is a product with its quantity, as `add_to_cart` takes them.
    cart: () => ({
      items: list(props, "items").map((item, index) => ({
        product: product(item, "cart: items[" + index + "]"),
        quantity: quantityOf(item),
      })),
    }),
    checkout_step: () => ({ step: needs("step", "a step needs a `step` name") }),
    order_complete: () => ({
      order_id: needs("order_id", "an order needs an `order_id`"),
      value: number(props, "value"),
      currency: text(props, "currency"),
    }),
    search: () => {
      var results = number(props, "results");
      return {
        query: needs("query", "a search needs a `query`"),
        results: results >= 0 ? Math.min(Math.floor(results), 2 ** 32 - 1) : undefined,
      };
    },
  };
  if (!events.hasOwnProperty(name))
    return 'unknown event "' + name + '" (expected add_to_cart, remove_from_cart, cart, product_view, search, checkout_step or order_complete)';
  try {
    return Object.assign({ type: name }, events[name]());
  } catch (message) {
    return message + "";
  }
}

// Scroll depths reported once per page.
var SCROLL_MILESTONES = [25, 50, 75, 100];
// Engaged time is counted in ticks of 5 s, while the page is visible and had input in the
// last 30 s, and reported in slices of 30 s, and what is left when the page is hidden.
var TICK_MS = 5e3;
var ACTIVE_WINDOW_MS = 3e4;
var ENGAGEMENT_SLICE = 30;
// Three clicks within a second and 40 px of each other are a rage click.
var RAGE_WINDOW_MS = 1e3;
var RAGE_DISTANCE_PX = 40;

// Watches the shopper's behaviour on the page, once the wasm module runs, and hands what
// matters to it: scroll depth milestones, engaged time (visible and active) and rage clicks
// (the shop's cart buttons are the loader's `cartClicks`, from before the module runs). Only
// positions, times and element tags are read.
function watch() {
  var record = (data) => window.rapport.push(["_seen", data]);
  var visible = () => document.visibilityState == "visible";
  var lastInput = Date.now();
  var engaged = 0;
  var clicks = [];
  addEventListener("scroll", () => {
    var percent = scrolledPercent();
    var reached = SCROLL_MILESTONES.filter((milestone) => percent >= milestone).pop();
    if (reached > deepestScroll) record({ type: "scroll", percent: (deepestScroll = reached) });
  });
  ["mousemove", "keydown", "scroll", "touchstart", "click"].forEach((name) =>
    addEventListener(name, () => {
      lastInput = Date.now();
    }),
  );
  setInterval(() => {
    if (visible() && Date.now() - lastInput < ACTIVE_WINDOW_MS) engaged += TICK_MS / 1e3;
    if (engaged >= ENGAGEMENT_SLICE) {
      engaged = 0;
      record({ type: "engagement", seconds: ENGAGEMENT_SLICE });
    }
  }, TICK_MS);
  document.addEventListener("visibilitychange", () => {
    if (!visible() && engaged) {
      record({ type: "engagement", seconds: engaged });
      engaged = 0;
    }
  });
  document.addEventListener("click", (event) => {
    if (!(event instanceof MouseEvent)) return;
    var now = Date.now();
    var x = event.clientX;
    var y = event.clientY;
    clicks = clicks.filter((c) => now - c[0] < RAGE_WINDOW_MS && Math.abs(c[1] - x) <= RAGE_DISTANCE_PX && Math.abs(c[2] - y) <= RAGE_DISTANCE_PX);
    if (clicks.push([now, x, y]) > 2) {
      clicks = [];
      record({ type: "rage_click", target: event.target instanceof Element ? event.target.tagName.toLowerCase() : undefined });
    }
  });
}
