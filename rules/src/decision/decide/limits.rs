//! What holds a rule back before or after its audience: its schedule, pages, the holdout and
//! consent; its caps, the session's fatigue budget, a quiet period after a dismissal, and a
//! placement already taken.

use super::*;

impl State<'_> {
    /// Caps, the fatigue budget and placements: whether `show` is held back.
    pub(super) fn held_back(
        &self,
        rule: &Rule,
        show: &Show,
    ) -> Option<(Outcome, Cow<'static, str>)> {
        if let Some(reason) = capped(rule, show, self.profile, self.now_ms) {
            return Some((Outcome::Capped, reason.into()));
        }
        if !show.kind.needs_slot() {
            if self.quiet {
                return Some((
                    Outcome::Capped,
                    "quiet period after the visitor dismissed a prompt".into(),
                ));
            }
            if self.prompts_left == 0 {
                return Some((
                    Outcome::Capped,
                    "the session's prompt budget is used up".into(),
                ));
            }
            if show.kind.is_overlay() && self.book.settings.overlays_per_page == 0 {
                return Some((
                    Outcome::Capped,
                    "overlays are turned off in the settings".into(),
                ));
            }
        }
        let placement = show.kind.placement(show.slot.as_deref());
        // Overlays are given out on the page when their trigger fires: one on another
        // trigger is an alternative (the page shows whichever comes first), but one that
        // shows at once, or on the same trigger, takes the place.
        let conflicts = |taken: &Taken<'_>| match taken.trigger {
            Some(trigger) => *trigger == Trigger::Immediately || *trigger == rule.trigger,
            None => true,
        };
        self.taken
            .iter()
            .find(|t| t.placement == placement && conflicts(t))
            .map(|t| {
                let by = t.rule;
                let how = if t.trigger.is_some() {
                    " on the same trigger"
                } else {
                    ""
                };
                (
                    Outcome::Outranked,
                    format!("the {placement} placement went to rule \"{by}\"{how}").into(),
                )
            })
    }
}

/// The checks that need no script: schedule, page, holdout and consent. `Some` says why
/// the rule stops here.
pub(super) fn prechecked(
    rule: &Rule,
    page: &PageContext,
    now_ms: i64,
    holdout: bool,
    profile: &Profile,
) -> Option<(Outcome, Cow<'static, str>)> {
    if !rule.enabled {
        return Some((
            Outcome::Paused,
            "the rule is paused (`enabled: false`)".into(),
        ));
    }
    if rule.start_ms.is_some_and(|start| now_ms < start) {
        return Some((
            Outcome::OutOfSchedule,
            "the rule has not started yet".into(),
        ));
    }
    if rule.end_ms.is_some_and(|end| now_ms >= end) {
        return Some((Outcome::OutOfSchedule, "the rule has ended".into()));
    }
    if let Some(recurring) = rule.recurring.as_ref().filter(|r| !r.contains(now_ms)) {
        return Some((
            Outcome::OutOfSchedule,
            format!("outside its hours ({})", recurring.label).into(),
        ));
    }
    if !targets_page(rule, page) {
        return Some((
            Outcome::NotHere,
            "the rule does not target this page".into(),
        ));
    }
    if rule.personalized && holdout {
        return Some((
            Outcome::Held,
            "the visitor is in the universal holdout".into(),
        ));
    }
    if rule.personalized && !profile.allows_personalization() {
        return Some((
            Outcome::Held,
            "the visitor has not consented to personalisation".into(),
        ));
    }
    None
}

/// Prompts the session may still see: the budget less the prompts it has been shown this
/// session. Inline content fills space the page reserved and is no prompt: its impressions
/// spend nothing.
pub(super) fn prompts_left(book: &Rulebook, profile: &Profile) -> u32 {
    let inline: Vec<&str> = book
        .rules
        .iter()
        .flat_map(Rule::shows)
        .filter(|show| show.kind.needs_slot())
        .map(|show| show.experience.as_str())
        .collect();
    let seen: u32 = profile
        .prompts
        .iter()
        .filter(|(experience, h)| {
            h.session_id == profile.session_id && !inline.contains(&experience.as_str())
        })
        .map(|(_, h)| h.session_impressions)
        .sum();
    book.settings.prompts_per_session.saturating_sub(seen)
}

pub(super) fn in_quiet_period(book: &Rulebook, profile: &Profile, now_ms: i64) -> bool {
    let quiet_ms = i64::from(book.settings.quiet_minutes_after_dismiss) * 60_000;
    profile
        .prompts
        .values()
        .filter_map(|h| h.last_dismissed_ms)
        .any(|at| now_ms - at < quiet_ms)
}

pub(super) fn targets_page(rule: &Rule, page: &PageContext) -> bool {
    let kind_ok = rule.pages.is_empty()
        || page
            .kind
            .as_deref()
            .is_some_and(|k| rule.pages.iter().any(|p| p == k));
    let path_ok = rule.paths.is_empty() || rule.paths.iter().any(|p| page.path.starts_with(p));
    kind_ok && path_ok
}

/// Why the experience is held back by its rule's caps, if it is.
pub(super) fn capped(rule: &Rule, show: &Show, profile: &Profile, now_ms: i64) -> Option<String> {
    let history = profile.prompts.get(&show.experience)?;
    let cap = &rule.cap;
    if let Some(max) = cap.per_session {
        if history.session_id == profile.session_id && history.session_impressions >= max {
            return Some(format!("seen {max} time(s) this session"));
        }
    }
    if let Some(max) = cap.per_visitor {
        if history.impressions >= max {
            return Some(format!("seen {max} time(s) in all"));
        }
    }
    if let Some((times, days)) = cap.per_days {
        let since = now_ms - i64::from(days) * DAY_MS;
        let recent = history
            .recent_impressions_ms
            .iter()
            .filter(|&&at| at > since)
            .count();
        if recent >= times as usize {
            return Some(format!("seen {times} time(s) in the last {days} day(s)"));
        }
    }
    if cap.stop_after_click && history.clicks > 0 {
        return Some("already clicked".into());
    }
    if cap.stop_after_dismiss && history.dismissals > 0 {
        return Some("dismissed by the visitor".into());
    }
    let survey = matches!(show.kind, ExperienceKind::Nps | ExperienceKind::Csat);
    if (cap.stop_after_answer || survey) && history.answers > 0 {
        return Some("already answered".into());
    }
    None
}
