//! The complaint card (附表八 客户投诉管理卡) as the service keeps it: the fields of the form, where
//! the complaint stands, its reply deadline, every state change and every escalation. What a
//! valid card is lives here too.

use chrono::{DateTime, Utc};
use dossier_kit::{Problem, Violations};
use serde::{Deserialize, Serialize};

/// Longest subject (投诉主题), in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest free text (content, analysis, handling method, result, reply, notes), in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest name or id, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Where a complaint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// 已受理: filed, not yet analysed.
    Received,
    /// 已分析: the analysis is recorded.
    Analysed,
    /// 处理中: a handler works on it.
    Handling,
    /// 已回复: the customer was replied to.
    Replied,
    /// 已结案: closed with the customer's reaction.
    Closed,
}

impl State {
    /// Every state, in life-cycle order.
    pub const ALL: [State; 5] = [
        State::Received,
        State::Analysed,
        State::Handling,
        State::Replied,
        State::Closed,
    ];

    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Analysed => "analysed",
            State::Handling => "handling",
            State::Replied => "replied",
            State::Closed => "closed",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the customer still waits for a reply in this state (the deadline runs).
    pub fn awaits_reply(self) -> bool {
        matches!(self, State::Received | State::Analysed | State::Handling)
    }
}

/// The customer's reaction to the handling (客户反应).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// 满意.
    Satisfied,
    /// 基本满意.
    PartlySatisfied,
    /// 不满意.
    Unsatisfied,
}

impl Reaction {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Reaction::Satisfied => "satisfied",
            Reaction::PartlySatisfied => "partly_satisfied",
            Reaction::Unsatisfied => "unsatisfied",
        }
    }
}

/// Who did something: a user's `sub` and display name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// The user's `sub`.
    pub id: String,
    /// The user's name (the `sub` when the token carries none).
    pub name: String,
}

/// One state change: who, when, from where to where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// State before; `None` for the filing.
    pub from: Option<State>,
    /// State after.
    pub to: State,
    /// Who.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, e.g. a reopen's reason or a closing note.
    pub note: String,
}

/// One escalation to a manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// The manager escalated to.
    pub to_id: String,
    /// Who escalated.
    pub by_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// The fields of the form a person fills in when filing, correctable later.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ComplaintCard {
    /// 客户名称: the customer's id.
    pub customer_id: String,
    /// 投诉时间.
    pub complaint_time: Option<DateTime<Utc>>,
    /// 投诉人.
    pub complainant: String,
    /// The complainant's own phone (personal data).
    pub complainant_phone: String,
    /// 接诉人.
    pub receiver: String,
    /// The receiver's `sub`.
    pub receiver_id: String,
    /// 投诉主题.
    pub subject: String,
    /// 投诉内容.
    pub content: String,
    /// 备注.
    pub notes: String,
    /// The related contract, if any.
    pub contract_id: String,
}

/// Card fields `UpdateComplaint` may change: the others belong to a step or to the service.
pub const EDITABLE_FIELDS: [&str; 7] = [
    "complaint_time",
    "complainant",
    "complainant_phone",
    "subject",
    "content",
    "notes",
    "contract_id",
];

/// A complaint as stored: the card, the step fields, the deadline and the record of changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintRecord {
    /// Stable id.
    pub id: String,
    /// The form's fields.
    pub card: ComplaintCard,
    /// Where it stands.
    pub state: State,
    /// 投诉分析.
    pub analysis: String,
    /// 处理办法.
    pub handling_method: String,
    /// 处理人.
    pub handler: Actor,
    /// 处理结果.
    pub result: String,
    /// What was replied.
    pub reply: String,
    /// 回复时间 of the current reply; cleared by a reopen.
    pub reply_time: Option<DateTime<Utc>>,
    /// 回复人.
    pub replier: Actor,
    /// 客户反应 at the last close; cleared by a reopen.
    pub reaction: Option<Reaction>,
    /// When it was last closed; cleared by a reopen.
    pub close_time: Option<DateTime<Utc>>,
    /// The reply target in hours, fixed at filing from the customer's grade.
    pub reply_target_hours: u32,
    /// The current reply deadline.
    pub reply_due: DateTime<Utc>,
    /// The first reply ever given (statistics: time to reply survives reopens).
    pub first_reply_time: Option<DateTime<Utc>>,
    /// Whether any reply came after its deadline (statistics: overdue survives the reply).
    pub replied_late: bool,
    /// How many times it was reopened.
    pub reopen_count: u32,
    /// Every state change, oldest first.
    pub history: Vec<Transition>,
    /// Escalations, oldest first.
    pub escalations: Vec<Escalation>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When filed.
    pub created_at: DateTime<Utc>,
    /// Who filed it.
    pub created_by: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: String,
}

impl ComplaintRecord {
    /// A complaint just filed: RECEIVED, its deadline `reply_target_hours` after the complaint.
    pub fn file(
        id: String,
        card: ComplaintCard,
        actor: &Actor,
        now: DateTime<Utc>,
        reply_target_hours: u32,
        reply_due: DateTime<Utc>,
    ) -> Self {
        ComplaintRecord {
            id,
            card,
            state: State::Received,
            analysis: String::new(),
            handling_method: String::new(),
            handler: Actor::default(),
            result: String::new(),
            reply: String::new(),
            reply_time: None,
            replier: Actor::default(),
            reaction: None,
            close_time: None,
            reply_target_hours,
            reply_due,
            first_reply_time: None,
            replied_late: false,
            reopen_count: 0,
            history: vec![Transition {
                from: None,
                to: State::Received,
                actor: actor.clone(),
                at: now,
                note: String::new(),
            }],
            escalations: Vec::new(),
            version: 1,
            created_at: now,
            created_by: actor.id.clone(),
            updated_at: now,
            updated_by: actor.id.clone(),
        }
    }

    /// The etag of the current version.
    pub fn etag(&self) -> String {
        etag_of(self.version)
    }

    /// Refuses a change based on another version (`etag` empty: not checked).
    pub fn check_etag(&self, etag: &str) -> Result<(), Problem> {
        if etag.is_empty() || etag == self.etag() {
            Ok(())
        } else {
            Err(Problem::stale(etag, &self.etag()))
        }
    }

    /// Whether the reply deadline has passed without a reply at `now`. A complaint is overdue
    /// from the very instant of its deadline.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.awaits_reply() && now >= self.reply_due
    }

    /// Whether it counts as overdue in statistics: replied late once, or overdue now.
    pub fn was_ever_overdue(&self, now: DateTime<Utc>) -> bool {
        self.replied_late || self.is_overdue(now)
    }

    /// Escalated and not closed: on the manager's escalation list.
    pub fn is_escalated(&self) -> bool {
        !self.escalations.is_empty() && self.state != State::Closed
    }
}

/// The etag of `version`.
pub fn etag_of(version: i64) -> String {
    format!("\"v{version}\"")
}

fn too_long(v: &mut Violations, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
}

fn required(v: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        v.add(field, "is required");
    }
}

/// Whether `phone` looks like a phone number: digits with optional `+`, spaces, dashes and
/// parentheses, 5–20 digits.
fn is_phone(phone: &str) -> bool {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
}

/// The faults of a card: required fields, lengths, the phone's form, a complaint time not in
/// the future. Paths are the card's own field names.
pub fn validate_card(card: &ComplaintCard, now: DateTime<Utc>) -> Violations {
    let mut v = Violations::new();
    required(&mut v, "customer_id", &card.customer_id);
    match card.complaint_time {
        None => v.add("complaint_time", "is required"),
        Some(at) if at > now => v.add("complaint_time", "must not be in the future"),
        Some(_) => {}
    }
    required(&mut v, "complainant", &card.complainant);
    required(&mut v, "subject", &card.subject);
    required(&mut v, "content", &card.content);
    too_long(&mut v, "customer_id", &card.customer_id, MAX_NAME_CHARS);
    too_long(&mut v, "complainant", &card.complainant, MAX_NAME_CHARS);
    too_long(&mut v, "receiver", &card.receiver, MAX_NAME_CHARS);
    too_long(&mut v, "receiver_id", &card.receiver_id, MAX_NAME_CHARS);
    too_long(&mut v, "contract_id", &card.contract_id, MAX_NAME_CHARS);
    too_long(&mut v, "subject", &card.subject, MAX_SUBJECT_CHARS);
    too_long(&mut v, "content", &card.content, MAX_TEXT_CHARS);
    too_long(&mut v, "notes", &card.notes, MAX_TEXT_CHARS);
    if !card.complainant_phone.is_empty() && !is_phone(&card.complainant_phone) {
        v.add(
            "complainant_phone",
            "is not a phone number (5–20 digits, optionally + - ( ) and spaces)",
        );
    }
    v
}

/// Copies the fields named in `paths` from `incoming` onto `card` (paths already checked
/// against [`EDITABLE_FIELDS`]).
pub fn apply_fields(card: &mut ComplaintCard, incoming: &ComplaintCard, paths: &[String]) {
    for path in paths {
        match path.as_str() {
            "complaint_time" => card.complaint_time = incoming.complaint_time,
            "complainant" => card.complainant = incoming.complainant.clone(),
            "complainant_phone" => card.complainant_phone = incoming.complainant_phone.clone(),
            "subject" => card.subject = incoming.subject.clone(),
            "content" => card.content = incoming.content.clone(),
            "notes" => card.notes = incoming.notes.clone(),
            "contract_id" => card.contract_id = incoming.contract_id.clone(),
            _ => {}
        }
    }
}

/// Checks a free-text step field: required and not too long.
pub fn step_text(v: &mut Violations, field: &str, value: &str) {
    required(v, field, value);
    too_long(v, field, value, MAX_TEXT_CHARS);
}

/// Checks an optional name or id of a step.
pub fn step_name(v: &mut Violations, field: &str, value: &str) {
    too_long(v, field, value, MAX_NAME_CHARS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
            .single()
            .expect("valid")
    }

    fn card() -> ComplaintCard {
        ComplaintCard {
            customer_id: "c1".into(),
            complaint_time: Some(now()),
            complainant: "王经理".into(),
            subject: "交货延迟".into(),
            content: "第三批货晚到五天".into(),
            ..ComplaintCard::default()
        }
    }

    fn fields(v: &Violations) -> Vec<&str> {
        v.list().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn a_complete_card_is_valid() {
        assert!(validate_card(&card(), now()).is_empty());
    }

    #[test]
    fn every_missing_field_is_named() {
        let v = validate_card(&ComplaintCard::default(), now());
        assert_eq!(
            fields(&v),
            [
                "customer_id",
                "complaint_time",
                "complainant",
                "subject",
                "content"
            ]
        );
    }

    #[test]
    fn a_future_complaint_time_and_a_bad_phone_are_refused() {
        let mut c = card();
        c.complaint_time = Some(now() + chrono::Duration::seconds(1));
        c.complainant_phone = "call me".into();
        assert_eq!(
            fields(&validate_card(&c, now())),
            ["complaint_time", "complainant_phone"]
        );
        c.complaint_time = Some(now());
        c.complainant_phone = "+86 138-1234-5678".into();
        assert!(validate_card(&c, now()).is_empty());
    }

    #[test]
    fn overdue_starts_exactly_at_the_deadline_and_ends_with_the_reply() {
        let actor = Actor {
            id: "u".into(),
            name: "u".into(),
        };
        let due = now() + chrono::Duration::hours(48);
        let mut record = ComplaintRecord::file("id".into(), card(), &actor, now(), 48, due);
        assert!(!record.is_overdue(due - chrono::Duration::seconds(1)));
        assert!(record.is_overdue(due));
        record.state = State::Replied;
        assert!(!record.is_overdue(due));
    }
}
