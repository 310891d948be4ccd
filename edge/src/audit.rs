//! The audit log's entries: every admin change, typed. The `Rulebooks` object stores them
//! (`objects::rulebooks::record`) as the action's name and its detail.

use serde::{Deserialize, Serialize};

/// One admin change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A rulebook passed its checks and tests, and is now active.
    Publish {
        id: i64,
        version: String,
        note: String,
        rules: usize,
        segments: usize,
        tests_passed: usize,
    },
    /// A rulebook was refused: it did not compile, or its tests failed. Nothing changed.
    PublishRefused {
        note: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problems: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tests_failed: Option<usize>,
    },
    /// A rulebook passed its checks and tests, and waits for a second person's approval.
    RequestPublish { request: i64, note: String },
    /// A second person approved a waiting publish, which is now the active version.
    ApprovePublish {
        request: i64,
        requested_by: String,
        id: i64,
        version: String,
    },
    /// A waiting publish was withdrawn (by whoever asked) or turned down.
    WithdrawPublish { request: i64, requested_by: String },
    /// Publishing now does, or does not, wait for a second person's approval.
    SetWorkflow { publish_approval: bool },
    /// A stored version became the active one (a rollback when it is older).
    Activate {
        id: i64,
        version: String,
        previous: Option<i64>,
    },
    CreatePreview {
        site: String,
        experience: String,
        expires: i64,
        /// The draft previewed (its content hash); absent for the active rulebook.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draft: Option<String>,
    },
    /// The owner invited someone to the team.
    Invite { name: String, role: String },
    /// A member's role changed.
    ChangeRole { name: String, role: String },
    /// A member (or an open invitation) was removed from the team.
    RemoveMember { name: String },
    /// Everything stored about a visitor was erased, at an admin's request or, `by` the
    /// visitor, at the shopper's own.
    EraseVisitor {
        site: String,
        visitor_id: String,
        events: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

impl Action {
    /// The action's name and its detail, as the audit log stores and lists them.
    pub fn entry(&self) -> (String, serde_json::Value) {
        let mut detail = serde_json::to_value(self).expect("actions are plain data");
        let name = detail
            .as_object_mut()
            .and_then(|fields| fields.remove("action"))
            .and_then(|name| name.as_str().map(str::to_owned))
            .unwrap_or_default();
        (name, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_the_name_and_the_rest() {
        let (name, detail) = Action::EraseVisitor {
            site: "demo".into(),
            visitor_id: "v-1".into(),
            events: 3,
            by: None,
        }
        .entry();
        assert_eq!(name, "erase_visitor");
        assert_eq!(
            detail,
            serde_json::json!({ "site": "demo", "visitor_id": "v-1", "events": 3 })
        );
    }
}
