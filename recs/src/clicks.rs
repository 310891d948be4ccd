//! Click files as the session-rec framework prepares them: tab-separated, a header, then
//! `SessionId`, `ItemId`, `Time` (Unix seconds, maybe with a fraction) per click.

use std::collections::HashMap;
use std::fmt;

use crate::Item;

/// One shopper's session: its clicks in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// When its first click happened, in Unix seconds.
    pub start: f64,
    pub items: Vec<Item>,
}

/// The dense ids given to the product ids met so far, in the order met.
#[derive(Debug, Default)]
pub struct Catalogue {
    ids: HashMap<String, Item>,
}

impl Catalogue {
    /// The dense id of `product`, given to it now if it is new.
    pub fn intern(&mut self, product: &str) -> Item {
        let next = self.ids.len() as Item;
        *self.ids.entry(product.to_owned()).or_insert(next)
    }

    pub fn get(&self, product: &str) -> Option<Item> {
        self.ids.get(product).copied()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A line of a click file that cannot be read, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The sessions in `text`, ordered by their first click, each with its clicks in time order.
/// Product ids get dense ids from `catalogue`.
pub fn parse(text: &str, catalogue: &mut Catalogue) -> Result<Vec<Session>, ParseError> {
    let mut by_session: HashMap<&str, Vec<(f64, Item)>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() || (number == 1 && line.starts_with("SessionId")) {
            continue;
        }
        let bad = |message: String| ParseError {
            line: number,
            message,
        };
        let mut fields = line.split('\t');
        let (Some(session), Some(item), Some(time), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad(
                "expected three tab-separated fields: SessionId, ItemId, Time".into(),
            ));
        };
        if session.is_empty() || item.is_empty() {
            return Err(bad("SessionId and ItemId must not be empty".into()));
        }
        let time: f64 = time
            .trim()
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| bad(format!("Time must be Unix seconds, not {time:?}")))?;
        let clicks = by_session.entry(session).or_insert_with(|| {
            order.push(session);
            Vec::new()
        });
        clicks.push((time, catalogue.intern(item)));
    }
    let mut sessions: Vec<Session> = order
        .into_iter()
        .map(|id| {
            let mut clicks = by_session.remove(id).unwrap_or_default();
            clicks.sort_by(|a, b| a.0.total_cmp(&b.0));
            Session {
                start: clicks.first().map_or(0.0, |c| c.0),
                items: clicks.into_iter().map(|(_, item)| item).collect(),
            }
        })
        .collect();
    sessions.sort_by(|a, b| a.start.total_cmp(&b.start));
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_come_in_time_order_with_their_clicks_in_order() {
        let mut catalogue = Catalogue::default();
        let text = "SessionId\tItemId\tTime\n2\tb\t20.5\n1\ta\t10\n2\ta\t19\n1\tc\t11\n";
        let sessions = parse(text, &mut catalogue).unwrap();
        let (a, b, c) = (
            catalogue.get("a").unwrap(),
            catalogue.get("b").unwrap(),
            catalogue.get("c").unwrap(),
        );
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].items, vec![a, c]);
        assert_eq!(sessions[1].items, vec![a, b]);
        assert_eq!(sessions[1].start, 19.0);
    }

    #[test]
    fn a_bad_line_is_named() {
        let mut catalogue = Catalogue::default();
        let error = parse("SessionId\tItemId\tTime\n1\ta\t10\n1\tb\n", &mut catalogue).unwrap_err();
        assert_eq!(error.line, 3);
        let error = parse("1\ta\tsoon\n", &mut catalogue).unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.message.contains("Time"), "{error}");
    }
}
