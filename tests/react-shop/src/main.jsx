// Harbour & Co: a React single-page shop integrated with Rapport from the README alone, for
// the end-to-end tests. It renders after load (the catalogue arrives from the server first),
// keeps the page kind on the element its router renders, shows a product's JSON-LD only
// once the product is known, routes prompt links itself, subscribes in an effect (which
// StrictMode runs twice in development), and reports cart clicks both ways: with the
// buttons' data attributes and with `track` in `onClick`.
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, Route, Routes, useNavigate, useParams } from "react-router";

window.rapport = window.rapport || [];

function useCatalogue() {
  const [catalogue, setCatalogue] = useState(null);
  useEffect(() => {
    let live = true;
    fetch("/catalogue.json")
      .then((answer) => answer.json())
      .then((products) => live && setCatalogue(products));
    return () => {
      live = false;
    };
  }, []);
  return catalogue;
}

// What the shop's own analytics hear from Rapport: an effect that subscribes and takes the
// subscription off when it is cleaned up, as React expects.
function useRapportEvents() {
  useEffect(() => {
    const heard = (type, detail) => {
      (window.heard = window.heard || []).push([type, detail.experience]);
    };
    window.rapport.push(["on", "impression", heard]);
    window.rapport.push(["on", "click", heard]);
    return () => {
      window.rapport.push(["off", "impression", heard]);
      window.rapport.push(["off", "click", heard]);
    };
  }, []);
}

// Prompt links go through the router: no full page load, and the click is still recorded.
function usePromptLinks() {
  const navigate = useNavigate();
  useEffect(() => {
    const go = (event) => {
      event.preventDefault();
      navigate(event.detail.url);
    };
    addEventListener("rapport:navigate", go);
    return () => removeEventListener("rapport:navigate", go);
  }, [navigate]);
}

function Home({ catalogue }) {
  return (
    <main data-rapport-page="home">
      <h1>Harbour & Co</h1>
      <ul className="products">
        {catalogue.map((product) => (
          <li key={product.id}>
            <Link to={`/products/${product.id}`}>{product.name}</Link>
          </li>
        ))}
      </ul>
      <section id="new">New arrivals</section>
    </main>
  );
}

function ProductPage({ catalogue }) {
  const { id } = useParams();
  const product = catalogue.find((p) => p.id === id);
  if (!product) return <main data-rapport-page="not-found">No such product</main>;
  const inStock = product.availability === "InStock";
  const jsonLd = {
    "@context": "https://schema.org",
    "@type": "Product",
    sku: product.id,
    name: product.name,
    category: product.category,
    offers: {
      "@type": "Offer",
      price: product.price,
      priceCurrency: "EUR",
      availability: `https://schema.org/${product.availability}`,
    },
  };
  const add = () => {
    window.rapport.push([
      "track",
      "add_to_cart",
      { id: product.id, name: product.name, price: product.price, currency: "EUR", quantity: 1 },
    ]);
  };
  return (
    <main data-rapport-page="product">
      <script type="application/ld+json" dangerouslySetInnerHTML={{ __html: JSON.stringify(jsonLd) }} />
      <h1>{product.name}</h1>
      <p>€{product.price.toFixed(2)}</p>
      <button
        type="button"
        disabled={!inStock}
        onClick={add}
        data-rapport-add-to-cart={product.id}
        data-name={product.name}
        data-price={product.price}
        data-currency="EUR"
        data-category={product.category}
      >
        {inStock ? "Add to cart" : "Sold out"}
      </button>
      <div data-rapport-slot="stock-alert" style={{ minHeight: "4rem" }} />
      <section data-rapport-slot="also-like" />
    </main>
  );
}

function App() {
  const catalogue = useCatalogue();
  useRapportEvents();
  usePromptLinks();
  if (!catalogue) return <p className="loading">Loading…</p>;
  return (
    <Routes>
      <Route path="/" element={<Home catalogue={catalogue} />} />
      <Route path="/products/:id" element={<ProductPage catalogue={catalogue} />} />
    </Routes>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
);
