// The demo shop's own code, not Rapport's: a cart kept in localStorage. It shows both ways of
// telling Rapport about the cart: add-to-cart buttons carry `data-rapport-add-to-cart`
// attributes, and removals are one line (`rapport.push(['track', ...])`).
window.rapport = window.rapport || [];

(function () {
  "use strict";
  var KEY = "tidewater:cart";

  function load() {
    try {
      return JSON.parse(localStorage.getItem(KEY)) || [];
    } catch (e) {
      return [];
    }
  }

  function save(cart) {
    localStorage.setItem(KEY, JSON.stringify(cart));
    render(cart);
  }

  function money(value) {
    return "€" + value.toFixed(2);
  }

  function render(cart) {
    var count = cart.reduce(function (n, line) { return n + line.quantity; }, 0);
    document.querySelectorAll("[data-cart-count]").forEach(function (badge) {
      badge.textContent = String(count);
    });
    var list = document.querySelector("[data-cart-lines]");
    if (!list) return;
    list.replaceChildren();
    var total = 0;
    cart.forEach(function (line) {
      total += line.price * line.quantity;
      var row = document.createElement("li");
      row.className = "cart-line";
      var name = document.createElement("span");
      name.textContent = line.name + " × " + line.quantity;
      var price = document.createElement("span");
      price.textContent = money(line.price * line.quantity);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "Remove";
      remove.dataset.remove = line.id;
      row.append(name, price, remove);
      list.append(row);
    });
    document.querySelector("[data-cart-total]").textContent = money(total);
    document.querySelector("[data-cart-empty]").hidden = cart.length > 0;
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-to-cart]");
    if (add) {
      var product = {
        id: add.dataset.id,
        name: add.dataset.name,
        price: Number(add.dataset.price),
        currency: "EUR",
        category: add.dataset.category,
      };
      var cart = load();
      var line = cart.find(function (l) { return l.id === product.id; });
      if (line) line.quantity += 1;
      else cart.push({ id: product.id, name: product.name, price: product.price, quantity: 1 });
      save(cart);
      // No call to Rapport here: the button's `data-rapport-add-to-cart` attributes tell it.
      add.textContent = "Added to cart ✓";
      return;
    }
    var remove = event.target.closest("[data-remove]");
    if (remove) {
      var id = remove.dataset.remove;
      save(load().filter(function (l) { return l.id !== id; }));
      window.rapport.push(["track", "remove_from_cart", { id: id, quantity: 1 }]);
      return;
    }
    if (event.target.closest("[data-place-order]")) {
      var cart = load();
      if (cart.length === 0) return;
      var order = {
        order_id: "T-" + Date.now().toString(36).toUpperCase(),
        value: cart.reduce(function (n, l) { return n + l.price * l.quantity; }, 0),
        currency: "EUR",
      };
      sessionStorage.setItem("tidewater:order", JSON.stringify(order));
      save([]);
      location.href = "/order";
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    render(load());
    // The cart page tells Rapport the whole cart, which settles any difference from the
    // adds and removes it heard (a cart changed in another browser, say).
    if (document.body.dataset.rapportPage === "cart") {
      window.rapport.push(["track", "cart", {
        items: load().map(function (l) {
          return { id: l.id, name: l.name, price: l.price, currency: "EUR", quantity: l.quantity,
                   url: "/products/" + l.id };
        }),
      }]);
    }
    // The confirmation page tells Rapport about the order once (a reload is the same order,
    // which Rapport counts once anyway). Revenue that counts comes from the shop's server.
    var placed = document.querySelector("[data-order-id]");
    var order = sessionStorage.getItem("tidewater:order");
    if (placed && order) {
      order = JSON.parse(order);
      placed.textContent = order.order_id;
      window.rapport.push(["track", "order_complete", order]);
    }
  });
})();
