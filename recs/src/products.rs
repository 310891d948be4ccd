//! A site's products, as recommendations need them: learnt from the product pages shoppers
//! view, or fed by the shop's server, which wins. A product not seen nor fed for a while ages
//! out. Each product is checked on its own, and a bad one is refused with its field named.

use std::collections::HashMap;

use crate::Item;

/// Where a product's details came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Read from a product page a shopper viewed.
    Learnt,
    /// Sent by the shop's server: it wins over what pages say until fed again.
    Fed,
}

/// One product, as a recommendation card shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// In the currency's major unit (19.9 for €19.90).
    pub price: f64,
    /// ISO 4217, three capital letters.
    pub currency: String,
    /// The shop's category, as its pages name it (`Shirts`).
    pub category: String,
    #[serde(default = "in_stock")]
    pub available: bool,
    /// https, or relative to the shop.
    pub url: String,
    pub image: Option<String>,
}

fn in_stock() -> bool {
    true
}

/// A product refused, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    pub field: String,
    pub message: String,
}

/// Whether a link is one a card may carry: https, or a path on the shop (not `//host`).
pub fn safe_link(url: &str) -> bool {
    url.starts_with("https://") && url.len() > "https://".len()
        || (url.starts_with('/') && !url.starts_with("//"))
}

impl Product {
    /// The product if every field is one a card can show; otherwise the first field at
    /// fault.
    pub fn checked(self) -> Result<Product, Refused> {
        let refuse = |field: &str, message: &str| {
            Err(Refused {
                field: field.to_owned(),
                message: message.to_owned(),
            })
        };
        let text = |value: &str, most: usize| {
            !value.trim().is_empty() && value.chars().count() <= most && !value.contains('\0')
        };
        if !text(&self.id, 128) {
            return refuse("id", "a product id is 1 to 128 characters");
        }
        if !text(&self.name, 200) {
            return refuse("name", "a product name is 1 to 200 characters");
        }
        if !(self.price.is_finite() && self.price >= 0.0) {
            return refuse("price", "a price is a number of at least 0");
        }
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return refuse("currency", "a currency is an ISO 4217 code such as EUR");
        }
        if !text(&self.category, 100) {
            return refuse("category", "a category is 1 to 100 characters");
        }
        if !safe_link(&self.url) {
            return refuse("url", "a product link is https:// or a path on the shop");
        }
        if self.image.as_deref().is_some_and(|i| !safe_link(i)) {
            return refuse("image", "an image link is https:// or a path on the shop");
        }
        Ok(self)
    }
}

/// What is kept of each product.
#[derive(Debug, Clone)]
struct Kept {
    product: Product,
    source: Source,
    /// When a page showed it or the server fed it last, in milliseconds.
    seen_ms: i64,
    /// When it was first met: new products can be recommended before they have history.
    first_ms: i64,
}

/// A site's products, each with the dense [`Item`] id the signals use.
#[derive(Debug, Default)]
pub struct Products {
    ids: HashMap<String, Item>,
    /// Each item's id, by item.
    names: Vec<String>,
    kept: Vec<Option<Kept>>,
}

impl Products {
    /// Records what a product page showed at `at_ms`. A product the server fed keeps the
    /// server's details; the page only says it is still live.
    pub fn learn(&mut self, product: Product, at_ms: i64) -> Result<Item, Refused> {
        self.put(product.checked()?, Source::Learnt, at_ms)
    }

    /// Records what the shop's server sent: it wins over pages.
    pub fn feed(&mut self, product: Product, at_ms: i64) -> Result<Item, Refused> {
        self.put(product.checked()?, Source::Fed, at_ms)
    }

    fn put(&mut self, product: Product, source: Source, at_ms: i64) -> Result<Item, Refused> {
        let item = self.intern(&product.id);
        let slot = &mut self.kept[item as usize];
        match slot {
            Some(kept) if kept.source == Source::Fed && source == Source::Learnt => {
                kept.seen_ms = kept.seen_ms.max(at_ms);
            }
            _ => {
                let first_ms = slot.as_ref().map_or(at_ms, |k| k.first_ms);
                *slot = Some(Kept {
                    product,
                    source,
                    seen_ms: at_ms,
                    first_ms,
                });
            }
        }
        Ok(item)
    }

    /// Marks a product sold out or back in stock (the server's word, or a page's).
    pub fn set_available(&mut self, id: &str, available: bool) -> bool {
        let Some(kept) = self
            .ids
            .get(id)
            .and_then(|&i| self.kept[i as usize].as_mut())
        else {
            return false;
        };
        kept.product.available = available;
        true
    }

    /// Forgets the products neither seen nor fed since `before_ms`; gives their ids.
    pub fn aged_out(&mut self, before_ms: i64) -> Vec<String> {
        let mut gone = Vec::new();
        for slot in &mut self.kept {
            if slot.as_ref().is_some_and(|k| k.seen_ms < before_ms) {
                gone.extend(slot.take().map(|k| k.product.id));
            }
        }
        gone
    }

    /// Where a product came from, when it was last seen and when first met (ms), to store.
    pub fn history(&self, item: Item) -> Option<(Source, i64, i64)> {
        let kept = self.kept.get(item as usize)?.as_ref()?;
        Some((kept.source, kept.seen_ms, kept.first_ms))
    }

    /// Puts back a stored product as it was kept.
    pub fn restore(
        &mut self,
        product: Product,
        source: Source,
        seen_ms: i64,
        first_ms: i64,
    ) -> Item {
        let item = self.intern(&product.id);
        self.kept[item as usize] = Some(Kept {
            product,
            source,
            seen_ms,
            first_ms,
        });
        item
    }

    /// The item `id` has or is given, whether or not its details are known yet.
    pub fn intern(&mut self, id: &str) -> Item {
        if let Some(&item) = self.ids.get(id) {
            return item;
        }
        let item = self.kept.len() as Item;
        self.ids.insert(id.to_owned(), item);
        self.names.push(id.to_owned());
        self.kept.push(None);
        item
    }

    /// The id of an item met before, known details or not.
    pub fn id_of(&self, item: Item) -> Option<&str> {
        self.names.get(item as usize).map(String::as_str)
    }

    /// How many items have been met, with details or not (their ids are `0..met()`).
    pub fn met(&self) -> usize {
        self.names.len()
    }

    /// How many products have details.
    pub fn len(&self) -> usize {
        self.kept.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item of an id met before, whether or not its details are known.
    pub fn known(&self, id: &str) -> Option<Item> {
        self.ids.get(id).copied()
    }

    pub fn item(&self, id: &str) -> Option<Item> {
        self.ids
            .get(id)
            .copied()
            .filter(|&i| self.kept[i as usize].is_some())
    }

    pub fn get(&self, item: Item) -> Option<&Product> {
        self.kept.get(item as usize)?.as_ref().map(|k| &k.product)
    }

    pub fn source(&self, item: Item) -> Option<Source> {
        self.kept.get(item as usize)?.as_ref().map(|k| k.source)
    }

    /// The products first met since `since_ms`, newest first.
    pub fn new_since(&self, since_ms: i64) -> Vec<Item> {
        let mut new: Vec<(i64, Item)> = self
            .kept
            .iter()
            .enumerate()
            .filter_map(|(i, k)| {
                let k = k.as_ref()?;
                (k.first_ms >= since_ms).then_some((k.first_ms, i as Item))
            })
            .collect();
        new.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        new.into_iter().map(|(_, i)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn product(id: &str, category: &str, price: f64) -> Product {
        Product {
            id: id.into(),
            name: format!("Product {id}"),
            price,
            currency: "EUR".into(),
            category: category.into(),
            available: true,
            url: format!("/products/{id}"),
            image: Some(format!("https://cdn.example/{id}.jpg")),
        }
    }

    #[test]
    fn a_bad_product_is_refused_by_field() {
        let bad = |change: fn(&mut Product)| {
            let mut p = product("mug", "Kitchen", 12.0);
            change(&mut p);
            p.checked().unwrap_err().field
        };
        assert_eq!(bad(|p| p.id.clear()), "id");
        assert_eq!(bad(|p| p.price = f64::NAN), "price");
        assert_eq!(bad(|p| p.price = -1.0), "price");
        assert_eq!(bad(|p| p.currency = "euro".into()), "currency");
        assert_eq!(bad(|p| p.url = "javascript:alert(1)".into()), "url");
        assert_eq!(bad(|p| p.url = "//evil.example/x".into()), "url");
        assert_eq!(
            bad(|p| p.image = Some("http://cdn.example/a.jpg".into())),
            "image"
        );
        assert!(product("mug", "Kitchen", 12.0).checked().is_ok());
    }

    #[test]
    fn the_fed_version_wins_and_stale_products_age_out() {
        let mut products = Products::default();
        let mug = products
            .learn(product("mug", "Kitchen", 12.0), 1_000)
            .unwrap();
        products
            .feed(product("mug", "Kitchen", 10.0), 2_000)
            .unwrap();
        // A page with an old price does not undo the server's.
        products
            .learn(product("mug", "Kitchen", 12.0), 3_000)
            .unwrap();
        assert_eq!(products.get(mug).unwrap().price, 10.0);
        assert_eq!(products.source(mug), Some(Source::Fed));
        assert!(products.set_available("mug", false));
        assert!(!products.get(mug).unwrap().available);

        products
            .learn(product("bowl", "Kitchen", 8.0), 10_000)
            .unwrap();
        assert_eq!(products.aged_out(5_000).len(), 1);
        assert_eq!(products.item("mug"), None);
        assert!(products.item("bowl").is_some());
        assert_eq!(products.new_since(9_000).len(), 1);
    }
}
