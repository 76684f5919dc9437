//! Customer feedback records (客户反馈记录): time, content and follow-up of what a customer told
//! us, about a complaint or in general.

use chrono::{DateTime, Utc};
use dossier_kit::Violations;
use serde::{Deserialize, Serialize};

use super::complaint::{MAX_NAME_CHARS, MAX_TEXT_CHARS};

/// The fields a person writes on a feedback record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeedbackEntry {
    /// The customer.
    pub customer_id: String,
    /// The complaint it concerns; empty for general feedback.
    pub complaint_id: String,
    /// 时间: when the feedback was given.
    pub feedback_time: Option<DateTime<Utc>>,
    /// 内容.
    pub content: String,
    /// 跟进.
    pub follow_up: String,
    /// Who gave it.
    pub person: String,
}

/// Fields `UpdateFeedback` may change.
pub const EDITABLE_FIELDS: [&str; 4] = ["feedback_time", "content", "follow_up", "person"];

/// A feedback record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    /// Stable id.
    pub id: String,
    /// What was written.
    pub entry: FeedbackEntry,
    /// Who recorded it.
    pub recorded_by: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When recorded.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: String,
}

impl FeedbackRecord {
    /// The etag of the current version.
    pub fn etag(&self) -> String {
        super::complaint::etag_of(self.version)
    }
}

/// The faults of a feedback entry: customer, time (not in the future) and content required.
pub fn validate(entry: &FeedbackEntry, now: DateTime<Utc>) -> Violations {
    let mut v = Violations::new();
    if entry.customer_id.trim().is_empty() {
        v.add("customer_id", "is required");
    }
    match entry.feedback_time {
        None => v.add("feedback_time", "is required"),
        Some(at) if at > now => v.add("feedback_time", "must not be in the future"),
        Some(_) => {}
    }
    if entry.content.trim().is_empty() {
        v.add("content", "is required");
    }
    for (field, value, max) in [
        ("customer_id", &entry.customer_id, MAX_NAME_CHARS),
        ("complaint_id", &entry.complaint_id, MAX_NAME_CHARS),
        ("person", &entry.person, MAX_NAME_CHARS),
        ("content", &entry.content, MAX_TEXT_CHARS),
        ("follow_up", &entry.follow_up, MAX_TEXT_CHARS),
    ] {
        if value.chars().count() > max {
            v.add(field, format!("must be at most {max} characters"));
        }
    }
    v
}

/// Copies the fields named in `paths` (checked against [`EDITABLE_FIELDS`]) onto `entry`.
pub fn apply_fields(entry: &mut FeedbackEntry, incoming: &FeedbackEntry, paths: &[String]) {
    for path in paths {
        match path.as_str() {
            "feedback_time" => entry.feedback_time = incoming.feedback_time,
            "content" => entry.content = incoming.content.clone(),
            "follow_up" => entry.follow_up = incoming.follow_up.clone(),
            "person" => entry.person = incoming.person.clone(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn customer_time_and_content_are_required_and_the_time_not_ahead() {
        let now = Utc
            .with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
            .single()
            .expect("valid");
        let v = validate(&FeedbackEntry::default(), now);
        let fields: Vec<_> = v.list().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["customer_id", "feedback_time", "content"]);
        let entry = FeedbackEntry {
            customer_id: "c".into(),
            feedback_time: Some(now + chrono::Duration::hours(1)),
            content: "好".into(),
            ..FeedbackEntry::default()
        };
        assert_eq!(validate(&entry, now).list()[0].field, "feedback_time");
    }
}
