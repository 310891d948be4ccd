//! Showing experiences. The DOM work is `view.js`, bundled into `rapport.js` beside the glue
//! (see ARCHITECTURE.md for why); this module is its interface: the widget arms what the edge
//! decided and hears back what the shopper did with it.

use rapport_protocol::Survey;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Arms an experience from the decision (the edge's JSON object as it came) and shows it
    /// when its trigger fires. What the shopper does with it comes back as the command
    /// `['_report', experience, outcome, score, comment]`. A kind the view does not know (from
    /// a newer edge) is not shown.
    #[wasm_bindgen(js_namespace = rapportView)]
    pub fn arm(experience: &JsValue);

    /// The page tracked an event: shows what waited for it (`after_event` triggers).
    #[wasm_bindgen(js_namespace = rapportView)]
    pub fn tracked(event: &str);

    /// Removes every prompt and pending trigger (a single-page app moved to another page).
    #[wasm_bindgen(js_namespace = rapportView)]
    pub fn clear();
}

/// What the shopper did with a prompt, reported as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Shown,
    /// A control group's trigger fired: it would have been shown.
    Exposed,
    /// A click: on a recommendation, which product and its place in the row (from 1).
    Clicked {
        product: Option<String>,
        position: Option<u8>,
    },
    Dismissed,
    Answered {
        survey: Survey,
        score: u8,
        /// What the shopper chose to add in the NPS comment box.
        comment: Option<String>,
    },
}

impl Outcome {
    /// Reads what the view reports (`SHOWN`, `CLICKED`, `DISMISSED`, `ANSWERED` and `EXPOSED` in
    /// `view.js`): an answer comes with a score (and an optional comment) to a `survey` of
    /// the experience's kind.
    pub fn from_view(
        outcome: u8,
        survey: Survey,
        score: u8,
        comment: Option<String>,
    ) -> Option<Outcome> {
        Some(match outcome {
            0 => Outcome::Shown,
            1 => Outcome::Clicked {
                position: (score > 0).then_some(score),
                product: comment,
            },
            2 => Outcome::Dismissed,
            3 => Outcome::Answered {
                survey,
                score,
                comment: comment.filter(|c| !c.is_empty()),
            },
            4 => Outcome::Exposed,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_read_from_the_view() {
        assert_eq!(
            Outcome::from_view(4, Survey::Nps, 0, None),
            Some(Outcome::Exposed)
        );
        assert_eq!(
            Outcome::from_view(0, Survey::Nps, 0, None),
            Some(Outcome::Shown)
        );
        assert_eq!(
            Outcome::from_view(1, Survey::Nps, 0, None),
            Some(Outcome::Clicked {
                product: None,
                position: None
            })
        );
        assert_eq!(
            Outcome::from_view(1, Survey::Nps, 2, Some("linen-shirt".into())),
            Some(Outcome::Clicked {
                product: Some("linen-shirt".into()),
                position: Some(2)
            }),
            "a recommended product's click says which and where"
        );
        assert_eq!(
            Outcome::from_view(2, Survey::Csat, 0, None),
            Some(Outcome::Dismissed)
        );
        assert_eq!(
            Outcome::from_view(3, Survey::Nps, 3, Some("slow delivery".into())),
            Some(Outcome::Answered {
                survey: Survey::Nps,
                score: 3,
                comment: Some("slow delivery".into())
            })
        );
        assert_eq!(
            Outcome::from_view(3, Survey::Csat, 5, Some(String::new())),
            Some(Outcome::Answered {
                survey: Survey::Csat,
                score: 5,
                comment: None
            }),
            "an empty comment is no comment"
        );
        assert_eq!(Outcome::from_view(5, Survey::Nps, 0, None), None);
    }
}
