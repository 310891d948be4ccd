//! What a rule shows, built for the visitor: its content in their language with live values,
//! its products, and why a condition did not hold.

use super::*;

use rapport_protocol::SlotRequest;

impl<'a> State<'a> {
    /// The experience as the page gets it: its translation for the page's language, with
    /// live values filled in.
    pub(super) fn experience(
        &self,
        rule: &Rule,
        show: &Show,
        variant: Option<&str>,
        placement: Cow<'static, str>,
        products: Products,
    ) -> Experience {
        let (book, page, profile) = (self.book, self.page, self.profile);
        let fallback = book.settings.default_locale.as_str();
        let wanted = page.locale.as_deref().unwrap_or(fallback);
        // "pt-BR" falls back to "pt", then to the rulebook's default, then to any translation;
        // tags match whatever their case (`<html lang="IT">` is Italian) and separator.
        let language = wanted.split(['-', '_']).next().unwrap_or(wanted);
        let (locale, text) = [wanted, language, fallback]
            .iter()
            .find_map(|l| show.content.iter().find(|(key, _)| same_locale(key, l)))
            .or_else(|| show.content.iter().next())
            .map(|(l, t)| (l.clone(), t.clone()))
            .expect("the compiler refuses a show without content");
        let (products, fill) = match products {
            Products::Cards(cards) => (cards, None),
            Products::Fill(slot) => (Vec::new(), Some(*slot)),
        };
        let values = crate::language::template::Values {
            profile,
            page,
            settings: &book.settings,
            locale: &locale,
        };
        Experience {
            rule: rule.id.clone(),
            experience: show.experience.clone(),
            variant: variant.map(str::to_owned),
            segment: Some(rule.who.label()),
            kind: show.kind,
            placement: placement.into_owned(),
            slot: show.slot.clone(),
            position: show.position,
            trigger: rule.trigger.clone(),
            content: Content {
                title: text.title.map(|t| t.render(&values)),
                body: text.body.render(&values),
                cta: text.cta.map(|(label, url)| CallToAction {
                    label: label.render(&values),
                    url,
                }),
                code: text.code,
                products,
                locale,
            },
            // Set by `offer` for prompts; a preview's forced experience is drawn whatever
            // the budget says.
            budget: None,
            strategy: fill.as_ref().map(|slot| slot.strategy.as_str().to_owned()),
            fill,
        }
    }

    /// `: v.cart.value = 77.0, needs > 80` for a condition found false, in full reports.
    pub(super) fn why_false(&self, script: usize, test: &FnPtr) -> String {
        if !self.explain {
            return String::new();
        }
        crate::language::analysis::explain_false(
            &self.book.engine,
            &self.book.scripts[script],
            test.fn_name(),
            test.curry().len(),
            self.visitor,
        )
        .map(|why| format!(": {why}"))
        .unwrap_or_default()
    }

    /// A recommendation's products: those the rule lists, or a slot for the edge to fill,
    /// with what this shopper must not be shown (the product on screen, the cart, what they
    /// bought).
    pub(super) fn products(&self, rule: &Rule, source: &FnPtr) -> Result<Products, String> {
        let list = match call_products(self.book, rule.script, source, self.visitor)
            .map_err(|err| located(&rule.file, &err))?
        {
            Listed::Given(list) => list,
            Listed::Learnt(mut slot) => {
                let profile = self.profile;
                if self.page.kind.as_deref() == Some("product") {
                    slot.on_screen = profile
                        .recent_products
                        .front()
                        .map(|p| p.product.id.clone());
                }
                let cart = profile.cart.iter().map(|line| &line.product.id);
                slot.exclude = cart.chain(&profile.bought).cloned().collect();
                return Ok(Products::Fill(slot));
            }
        };
        let mut cards = Vec::new();
        for item in list {
            if cards.len() == MAX_PRODUCTS {
                break;
            }
            let card = match item.try_cast_result::<ProductView>() {
                Ok(view) => {
                    let p = view.product();
                    // Nothing out of stock is ever recommended.
                    if !is_in_stock(p) {
                        continue;
                    }
                    p.name.clone().map(|name| ProductCard {
                        id: p.id.clone(),
                        name,
                        price: p.price,
                        currency: p.currency.clone(),
                        url: p.url.clone().filter(|u| is_safe_link(u)),
                        image: p.image.clone().filter(|u| is_safe_link(u)),
                        reason: None,
                    })
                }
                Err(other) => {
                    let map = other.try_cast::<Map>().ok_or(
                        "`products` must give products (from v.recent_products, or maps with id and name)",
                    )?;
                    if map.get("in_stock").and_then(|s| s.as_bool().ok()) == Some(false) {
                        continue;
                    }
                    let text = |key: &str| {
                        map.get(key)
                            .and_then(|v| v.clone().into_immutable_string().ok())
                            .map(|s| s.to_string())
                            .filter(|s| !s.is_empty())
                    };
                    let id = text("id").ok_or("a recommended product needs an `id`")?;
                    text("name").map(|name| ProductCard {
                        id,
                        name,
                        price: map.get("price").and_then(|p| p.as_float().ok()),
                        currency: text("currency"),
                        url: text("url").filter(|u| is_safe_link(u)),
                        image: text("image").filter(|u| is_safe_link(u)),
                        reason: None,
                    })
                }
            };
            cards.push(card.ok_or("a recommended product needs a `name`")?);
        }
        Ok(Products::Cards(cards))
    }
}

/// A recommendation's products as the decision has them.
pub(super) enum Products {
    Cards(Vec<ProductCard>),
    /// Learnt from behaviour: the edge fills the slot.
    Fill(Box<SlotRequest>),
}

impl Products {
    pub(super) fn none() -> Products {
        Products::Cards(Vec::new())
    }
}

/// `file:line:col: message` for a script error inside a rule or segment.
pub(super) fn located(file: &str, err: &EvalAltResult) -> String {
    let position = innermost(err).position();
    format!(
        "{file}:{}:{}: {}",
        position.line().unwrap_or(0),
        position.position().unwrap_or(0),
        rhai_message(err)
    )
}
