//! A preview: one experience forced in first, whoever the visitor is, so that a marketer sees
//! it on a real page.

use super::*;

/// The full report of [`decide`], with the experience whose id is `experience` forced in
/// first, whoever the visitor is and whatever its schedule, pages, caps or experiment say:
/// how a marketer previews an experience on a real page. The other rules decide as usual
/// around it. Fails when no rule shows that experience.
pub fn preview(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
    experience: &str,
) -> Result<DecisionReport, String> {
    book.rules
        .iter()
        .find_map(|rule| {
            let shows: Vec<(&Show, Option<&str>)> = match &rule.offer {
                Offer::Show(show) => vec![(show, None)],
                Offer::Experiment(experiment) => experiment
                    .variants
                    .iter()
                    .filter_map(|v| v.show.as_ref().map(|s| (s, Some(v.id.as_str()))))
                    .collect(),
            };
            shows
                .into_iter()
                .find(|(show, _)| show.experience == experience)
                .map(|(show, variant)| Forced {
                    rule,
                    show,
                    variant,
                })
        })
        .map(|forced| run(book, profile, page, now_ms, true, Some(forced), None))
        .ok_or_else(|| format!("no rule shows an experience \"{experience}\""))
}

/// An experience a preview puts first.
pub(super) struct Forced<'a> {
    pub(super) rule: &'a Rule,
    pub(super) show: &'a Show,
    pub(super) variant: Option<&'a str>,
}

impl<'a> State<'a> {
    /// Puts a previewed experience in first, taking its placement. Recommendations the
    /// visitor cannot have yet are shown empty rather than not at all.
    pub(super) fn force(&mut self, forced: &Forced<'a>) {
        let (rule, show) = (forced.rule, forced.show);
        let products = show
            .products
            .as_ref()
            .and_then(|source| self.products(rule, source).ok())
            .unwrap_or_else(Products::none);
        let placement = show.kind.placement(show.slot.as_deref());
        self.take(rule, show, placement.clone());
        let shown = self.experience(rule, show, forced.variant, placement, products);
        self.experiences.push(shown);
    }
}
