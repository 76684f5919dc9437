//! Messages ↔ domain values: the one place that knows both the proto shapes and the records.

use chrono::{DateTime, Utc};
use dossier_kit::Violations;
use dossier_kit::time::{from_timestamp, to_timestamp};
use dossier_proto::complaint::{self as pb};

use crate::domain::complaint::{ComplaintCard, ComplaintRecord, Reaction, State};
use crate::domain::feedback::{FeedbackEntry, FeedbackRecord};
use crate::domain::stats::{Grouping, StatsRow};

/// A state as the enum number of the wire.
pub fn state_to_proto(state: State) -> pb::ComplaintState {
    match state {
        State::Received => pb::ComplaintState::Received,
        State::Analysed => pb::ComplaintState::Analysed,
        State::Handling => pb::ComplaintState::Handling,
        State::Replied => pb::ComplaintState::Replied,
        State::Closed => pb::ComplaintState::Closed,
    }
}

/// A filter's state: 0 means none.
pub fn state_from_proto(field: &str, number: i32, v: &mut Violations) -> Option<State> {
    match pb::ComplaintState::try_from(number) {
        Ok(pb::ComplaintState::Unspecified) => None,
        Ok(pb::ComplaintState::Received) => Some(State::Received),
        Ok(pb::ComplaintState::Analysed) => Some(State::Analysed),
        Ok(pb::ComplaintState::Handling) => Some(State::Handling),
        Ok(pb::ComplaintState::Replied) => Some(State::Replied),
        Ok(pb::ComplaintState::Closed) => Some(State::Closed),
        Err(_) => {
            v.add(field, format!("{number} is not a ComplaintState"));
            None
        }
    }
}

fn reaction_to_proto(reaction: Option<Reaction>) -> pb::CustomerReaction {
    match reaction {
        None => pb::CustomerReaction::Unspecified,
        Some(Reaction::Satisfied) => pb::CustomerReaction::Satisfied,
        Some(Reaction::PartlySatisfied) => pb::CustomerReaction::PartlySatisfied,
        Some(Reaction::Unsatisfied) => pb::CustomerReaction::Unsatisfied,
    }
}

/// A reaction: 0 means none.
pub fn reaction_from_proto(field: &str, number: i32, v: &mut Violations) -> Option<Reaction> {
    match pb::CustomerReaction::try_from(number) {
        Ok(pb::CustomerReaction::Unspecified) => None,
        Ok(pb::CustomerReaction::Satisfied) => Some(Reaction::Satisfied),
        Ok(pb::CustomerReaction::PartlySatisfied) => Some(Reaction::PartlySatisfied),
        Ok(pb::CustomerReaction::Unsatisfied) => Some(Reaction::Unsatisfied),
        Err(_) => {
            v.add(field, format!("{number} is not a CustomerReaction"));
            None
        }
    }
}

/// A grouping of statistics.
pub fn grouping_from_proto(number: i32, v: &mut Violations) -> Grouping {
    match pb::StatsGrouping::try_from(number) {
        Ok(pb::StatsGrouping::Unspecified) => Grouping::None,
        Ok(pb::StatsGrouping::Customer) => Grouping::Customer,
        Ok(pb::StatsGrouping::Subject) => Grouping::Subject,
        Ok(pb::StatsGrouping::Handler) => Grouping::Handler,
        Ok(pb::StatsGrouping::Month) => Grouping::Month,
        Err(_) => {
            v.add("group_by", format!("{number} is not a StatsGrouping"));
            Grouping::None
        }
    }
}

/// An optional timestamp field.
pub fn optional_time(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    ts.and_then(|ts| v.check(from_timestamp(field, ts)))
}

fn time(at: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    at.map(to_timestamp)
}

/// The card fields of a message (step fields and output-only fields are ignored). Strings are
/// trimmed; violations name the message's own field paths.
pub fn card_from_proto(m: &pb::Complaint) -> (ComplaintCard, Violations) {
    let mut v = Violations::new();
    let card = ComplaintCard {
        customer_id: m.customer_id.trim().to_owned(),
        complaint_time: optional_time("complaint_time", m.complaint_time.as_ref(), &mut v),
        complainant: m.complainant.trim().to_owned(),
        complainant_phone: m.complainant_phone.trim().to_owned(),
        receiver: m.receiver.trim().to_owned(),
        receiver_id: m.receiver_id.trim().to_owned(),
        subject: m.subject.trim().to_owned(),
        content: m.content.trim().to_owned(),
        notes: m.notes.trim().to_owned(),
        contract_id: m.contract_id.trim().to_owned(),
    };
    (card, v)
}

/// A complaint as the wire shows it at `now` (`overdue` is computed for that instant).
pub fn complaint_to_proto(r: &ComplaintRecord, now: DateTime<Utc>) -> pb::Complaint {
    let c = &r.card;
    pb::Complaint {
        id: r.id.clone(),
        customer_id: c.customer_id.clone(),
        complaint_time: time(c.complaint_time),
        complainant: c.complainant.clone(),
        receiver: c.receiver.clone(),
        subject: c.subject.clone(),
        content: c.content.clone(),
        analysis: r.analysis.clone(),
        handling_method: r.handling_method.clone(),
        handler: r.handler.name.clone(),
        result: r.result.clone(),
        reply_time: time(r.reply_time),
        replier: r.replier.name.clone(),
        customer_reaction: reaction_to_proto(r.reaction) as i32,
        state: state_to_proto(r.state) as i32,
        reply_due_time: Some(to_timestamp(r.reply_due)),
        etag: r.etag(),
        notes: c.notes.clone(),
        complainant_phone: c.complainant_phone.clone(),
        receiver_id: c.receiver_id.clone(),
        handler_id: r.handler.id.clone(),
        replier_id: r.replier.id.clone(),
        reply: r.reply.clone(),
        overdue: r.is_overdue(now),
        reopen_count: i32::try_from(r.reopen_count).unwrap_or(i32::MAX),
        history: r
            .history
            .iter()
            .map(|t| pb::StateTransition {
                from_state: t
                    .from
                    .map(state_to_proto)
                    .unwrap_or(pb::ComplaintState::Unspecified) as i32,
                to_state: state_to_proto(t.to) as i32,
                actor_id: t.actor.id.clone(),
                actor_name: t.actor.name.clone(),
                transition_time: Some(to_timestamp(t.at)),
                note: t.note.clone(),
            })
            .collect(),
        escalations: r
            .escalations
            .iter()
            .map(|e| pb::Escalation {
                escalated_to_id: e.to_id.clone(),
                escalated_by: e.by_id.clone(),
                escalate_time: Some(to_timestamp(e.at)),
                reason: e.reason.clone(),
            })
            .collect(),
        close_time: time(r.close_time),
        contract_id: c.contract_id.clone(),
        create_time: Some(to_timestamp(r.created_at)),
        update_time: Some(to_timestamp(r.updated_at)),
        created_by: r.created_by.clone(),
    }
}

/// The written fields of a feedback message.
pub fn entry_from_proto(m: &pb::Feedback) -> (FeedbackEntry, Violations) {
    let mut v = Violations::new();
    let entry = FeedbackEntry {
        customer_id: m.customer_id.trim().to_owned(),
        complaint_id: m.complaint_id.trim().to_owned(),
        feedback_time: optional_time("feedback_time", m.feedback_time.as_ref(), &mut v),
        content: m.content.trim().to_owned(),
        follow_up: m.follow_up.trim().to_owned(),
        person: m.person.trim().to_owned(),
    };
    (entry, v)
}

/// A feedback record as the wire shows it.
pub fn feedback_to_proto(r: &FeedbackRecord) -> pb::Feedback {
    let e = &r.entry;
    pb::Feedback {
        id: r.id.clone(),
        customer_id: e.customer_id.clone(),
        complaint_id: e.complaint_id.clone(),
        feedback_time: time(e.feedback_time),
        content: e.content.clone(),
        follow_up: e.follow_up.clone(),
        person: e.person.clone(),
        recorded_by: r.recorded_by.clone(),
        etag: r.etag(),
        create_time: Some(to_timestamp(r.created_at)),
        update_time: Some(to_timestamp(r.updated_at)),
    }
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn figure(value: Option<rust_decimal::Decimal>) -> String {
    value.map(|d| format!("{d:.2}")).unwrap_or_default()
}

/// A statistics row.
pub fn stats_row_to_proto(row: &StatsRow) -> pb::ComplaintStatsRow {
    pb::ComplaintStatsRow {
        key: row.key.clone(),
        label: row.label.clone(),
        customer_id: row.customer_id.clone(),
        received_count: count(row.received),
        open_count: count(row.open),
        closed_count: count(row.closed),
        overdue_count: count(row.overdue),
        reopened_count: count(row.reopened),
        average_hours_to_reply: figure(row.average_hours_to_reply),
        average_hours_to_close: figure(row.average_hours_to_close),
        reopen_rate_percent: figure(row.reopen_rate_percent),
        satisfied_count: count(row.satisfied),
        partly_satisfied_count: count(row.partly_satisfied),
        unsatisfied_count: count(row.unsatisfied),
        satisfaction_percent: figure(row.satisfaction_percent),
    }
}
