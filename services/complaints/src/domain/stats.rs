//! Complaint statistics by customer, subject, handler or month: how many were received, are
//! open, closed, overdue, reopened; how long replies and closes took on average; the reopen
//! rate and the customers' satisfaction. These figures feed the analytics service's factor 19
//! (投诉处理).
//!
//! Definitions, so that a hand count agrees with the service:
//! - time to reply: complaint time → first reply ever (a reopen does not restart it);
//! - time to close: complaint time → last close, over closed complaints;
//! - overdue: replied after a deadline at least once, or unreplied past the current deadline;
//! - reopen rate: complaints reopened at least once / closed complaints;
//! - satisfaction: closed with the customer satisfied / closed complaints;
//! - averages and percentages have two places, rounded half away from zero; `None` when there is
//!   nothing to average (no reply, no close).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use super::complaint::{ComplaintRecord, Reaction, State};

/// Label of the group of complaints nobody handles yet.
pub const UNASSIGNED_LABEL: &str = "未指定处理人";

/// What statistics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Only the total.
    None,
    /// By customer.
    Customer,
    /// By subject.
    Subject,
    /// By handler (`sub`).
    Handler,
    /// By month of the complaint time, local time.
    Month,
}

/// The figures of one group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsRow {
    /// Customer id, subject, handler id or `YYYY-MM`; empty for the total.
    pub key: String,
    /// Subject, handler's name or month.
    pub label: String,
    /// The customer, when grouped by customer.
    pub customer_id: String,
    /// Received.
    pub received: u32,
    /// Not closed.
    pub open: u32,
    /// Closed.
    pub closed: u32,
    /// Overdue (see the module docs).
    pub overdue: u32,
    /// Reopened at least once.
    pub reopened: u32,
    /// Average hours to the first reply.
    pub average_hours_to_reply: Option<Decimal>,
    /// Average hours to the last close.
    pub average_hours_to_close: Option<Decimal>,
    /// Reopened / closed, percent.
    pub reopen_rate_percent: Option<Decimal>,
    /// Closed satisfied.
    pub satisfied: u32,
    /// Closed partly satisfied.
    pub partly_satisfied: u32,
    /// Closed unsatisfied.
    pub unsatisfied: u32,
    /// Satisfied / closed, percent.
    pub satisfaction_percent: Option<Decimal>,
}

#[derive(Default)]
struct Tally {
    row: StatsRow,
    reply_seconds: i64,
    replies: i64,
    close_seconds: i64,
    closes: i64,
}

impl Tally {
    fn add(&mut self, r: &ComplaintRecord, now: DateTime<Utc>) {
        let row = &mut self.row;
        row.received += 1;
        if r.state == State::Closed {
            row.closed += 1;
        } else {
            row.open += 1;
        }
        if r.was_ever_overdue(now) {
            row.overdue += 1;
        }
        if r.reopen_count > 0 {
            row.reopened += 1;
        }
        let Some(complained) = r.card.complaint_time else {
            return;
        };
        if let Some(first) = r.first_reply_time {
            self.reply_seconds += (first - complained).num_seconds();
            self.replies += 1;
        }
        if r.state == State::Closed {
            if let Some(closed) = r.close_time {
                self.close_seconds += (closed - complained).num_seconds();
                self.closes += 1;
            }
            match r.reaction {
                Some(Reaction::Satisfied) => row.satisfied += 1,
                Some(Reaction::PartlySatisfied) => row.partly_satisfied += 1,
                Some(Reaction::Unsatisfied) => row.unsatisfied += 1,
                None => {}
            }
        }
    }

    fn finish(mut self) -> StatsRow {
        let row = &mut self.row;
        row.average_hours_to_reply = ratio(self.reply_seconds, self.replies * 3600);
        row.average_hours_to_close = ratio(self.close_seconds, self.closes * 3600);
        row.reopen_rate_percent = ratio(i64::from(row.reopened) * 100, i64::from(row.closed));
        row.satisfaction_percent = ratio(i64::from(row.satisfied) * 100, i64::from(row.closed));
        self.row
    }
}

/// `numerator / denominator` with two places, `None` over zero.
fn ratio(numerator: i64, denominator: i64) -> Option<Decimal> {
    if denominator == 0 {
        return None;
    }
    let value = Decimal::from(numerator) / Decimal::from(denominator);
    Some(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// The group of a complaint: key, label, customer.
fn group_of(
    r: &ComplaintRecord,
    grouping: Grouping,
    utc_offset: Duration,
) -> (String, String, String) {
    match grouping {
        Grouping::None => (String::new(), String::new(), String::new()),
        Grouping::Customer => (
            r.card.customer_id.clone(),
            String::new(),
            r.card.customer_id.clone(),
        ),
        Grouping::Subject => (
            r.card.subject.clone(),
            r.card.subject.clone(),
            String::new(),
        ),
        Grouping::Handler => {
            if r.handler.id.is_empty() {
                (String::new(), UNASSIGNED_LABEL.to_owned(), String::new())
            } else {
                (r.handler.id.clone(), r.handler.name.clone(), String::new())
            }
        }
        Grouping::Month => {
            let month = r
                .card
                .complaint_time
                .map(|t| (t + utc_offset).format("%Y-%m").to_string())
                .unwrap_or_default();
            (month.clone(), month, String::new())
        }
    }
}

/// The statistics of `complaints` at `now`: one row per group, most complaints first (ties by
/// key), and the total. Months are those of local time (UTC + `utc_offset`).
pub fn compute<'a>(
    complaints: impl IntoIterator<Item = &'a ComplaintRecord>,
    grouping: Grouping,
    now: DateTime<Utc>,
    utc_offset: Duration,
) -> (Vec<StatsRow>, StatsRow) {
    let mut total = Tally::default();
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for r in complaints {
        total.add(r, now);
        if grouping == Grouping::None {
            continue;
        }
        let (key, label, customer_id) = group_of(r, grouping, utc_offset);
        let tally = groups.entry(key.clone()).or_insert_with(|| Tally {
            row: StatsRow {
                key,
                label,
                customer_id,
                ..StatsRow::default()
            },
            ..Tally::default()
        });
        tally.add(r, now);
    }
    let mut rows: Vec<StatsRow> = groups.into_values().map(Tally::finish).collect();
    rows.sort_by(|a, b| b.received.cmp(&a.received).then_with(|| a.key.cmp(&b.key)));
    (rows, total.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::complaint::{Actor, ComplaintCard};
    use crate::domain::lifecycle::{Step, apply};
    use crate::domain::sla::ReplyTargets;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, d, h, 0, 0)
            .single()
            .expect("valid")
    }

    fn who(id: &str) -> Actor {
        Actor {
            id: id.into(),
            name: format!("{id}名"),
        }
    }

    /// A complaint made at `made`, taken through `steps` (each at its own time).
    fn complaint(
        customer: &str,
        subject: &str,
        made: DateTime<Utc>,
        steps: Vec<(Step, DateTime<Utc>)>,
    ) -> ComplaintRecord {
        let card = ComplaintCard {
            customer_id: customer.into(),
            complaint_time: Some(made),
            complainant: "某人".into(),
            subject: subject.into(),
            content: "内容".into(),
            ..ComplaintCard::default()
        };
        let targets = ReplyTargets::default();
        let mut r = ComplaintRecord::file(
            format!("{customer}-{subject}-{}", made.timestamp()),
            card,
            &who("desk"),
            made,
            48,
            targets.due(made, 48),
        );
        for (step, when) in steps {
            apply(&mut r, step, &who("actor"), when, &targets).expect("legal step");
        }
        r
    }

    fn through_reply(
        handler: &str,
        made: DateTime<Utc>,
        replied: DateTime<Utc>,
    ) -> Vec<(Step, DateTime<Utc>)> {
        vec![
            (
                Step::Analyse {
                    analysis: "a".into(),
                },
                made,
            ),
            (
                Step::StartHandling {
                    handling_method: "m".into(),
                    handler: who(handler),
                },
                made,
            ),
            (
                Step::Reply {
                    result: "r".into(),
                    reply: String::new(),
                    replier: who(handler),
                    at: replied,
                },
                replied,
            ),
        ]
    }

    fn close(reaction: Reaction) -> Step {
        Step::Close {
            reaction,
            note: String::new(),
        }
    }

    /// The hand-computed fixture (now = June 20 00:00 UTC, 48 h targets):
    ///
    /// | # | customer | subject | handler | made      | first reply | closed     | reaction | notes |
    /// |---|----------|---------|---------|-----------|-------------|------------|----------|-------|
    /// | 1 | c1       | 交货    | h1      | 1st 00:00 | 1st 10:00   | 2nd 00:00  | 满意     |       |
    /// | 2 | c1       | 质量    | h1      | 2nd 00:00 | 5th 00:00   | 6th 00:00  | 不满意   | late (72 h) |
    /// | 3 | c2       | 交货    | h2      | 3rd 00:00 | 3rd 05:00   | 8th 00:00  | 基本满意 | reopened on 4th 00:00 after an unsatisfied close on 3rd 12:00, replied again 4th 06:00 |
    /// | 4 | c2       | 交货    | —       | 10th 00:00| —           | —          | —        | open, overdue since 12th |
    /// | 5 | c3       | 质量    | h2      | 19th 00:00| —           | —          | —        | handling, not yet due |
    fn fixture() -> Vec<ComplaintRecord> {
        let mut third = through_reply("h2", at(3, 0), at(3, 5));
        third.push((close(Reaction::Unsatisfied), at(3, 12)));
        third.push((
            Step::Reopen {
                reason: "不满意".into(),
            },
            at(4, 0),
        ));
        third.push((
            Step::Reply {
                result: "r2".into(),
                reply: String::new(),
                replier: who("h2"),
                at: at(4, 6),
            },
            at(4, 6),
        ));
        third.push((close(Reaction::PartlySatisfied), at(8, 0)));
        let mut first = through_reply("h1", at(1, 0), at(1, 10));
        first.push((close(Reaction::Satisfied), at(2, 0)));
        let mut second = through_reply("h1", at(2, 0), at(5, 0));
        second.push((close(Reaction::Unsatisfied), at(6, 0)));
        let mut fifth = through_reply("h2", at(19, 0), at(19, 0));
        fifth.pop(); // not replied yet
        vec![
            complaint("c1", "交货", at(1, 0), first),
            complaint("c1", "质量", at(2, 0), second),
            complaint("c2", "交货", at(3, 0), third),
            complaint("c2", "交货", at(10, 0), vec![]),
            complaint("c3", "质量", at(19, 0), fifth),
        ]
    }

    fn d(s: &str) -> Option<Decimal> {
        Some(s.parse().expect("decimal"))
    }

    #[test]
    fn the_total_matches_the_hand_count() {
        let (rows, total) = compute(&fixture(), Grouping::None, at(20, 0), Duration::zero());
        assert!(rows.is_empty());
        assert_eq!(
            (
                total.received,
                total.open,
                total.closed,
                total.overdue,
                total.reopened
            ),
            (5, 2, 3, 2, 1)
        );
        // Replies: 10 h, 72 h, 5 h → 87 / 3 = 29.00.
        assert_eq!(total.average_hours_to_reply, d("29.00"));
        // Closes: 24 h, 96 h, 120 h → 240 / 3 = 80.00.
        assert_eq!(total.average_hours_to_close, d("80.00"));
        assert_eq!(total.reopen_rate_percent, d("33.33"));
        assert_eq!(
            (total.satisfied, total.partly_satisfied, total.unsatisfied),
            (1, 1, 1)
        );
        assert_eq!(total.satisfaction_percent, d("33.33"));
    }

    #[test]
    fn by_customer_and_by_handler_match_the_hand_count() {
        let (rows, _) = compute(&fixture(), Grouping::Customer, at(20, 0), Duration::zero());
        let keys: Vec<_> = rows.iter().map(|r| (r.key.as_str(), r.received)).collect();
        assert_eq!(keys, [("c1", 2), ("c2", 2), ("c3", 1)]);
        let c1 = &rows[0];
        assert_eq!((c1.closed, c1.overdue, c1.reopened), (2, 1, 0));
        assert_eq!(c1.average_hours_to_reply, d("41.00"));
        assert_eq!(c1.satisfaction_percent, d("50.00"));
        assert_eq!(c1.customer_id, "c1");
        let c2 = &rows[1];
        assert_eq!((c2.open, c2.closed, c2.overdue, c2.reopened), (1, 1, 1, 1));
        assert_eq!(c2.reopen_rate_percent, d("100.00"));
        assert_eq!(c2.average_hours_to_close, d("120.00"));
        let c3 = &rows[2];
        assert_eq!(c3.average_hours_to_reply, None);
        assert_eq!(c3.satisfaction_percent, None);

        let (rows, _) = compute(&fixture(), Grouping::Handler, at(20, 0), Duration::zero());
        let keys: Vec<_> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.label.as_str(), r.received))
            .collect();
        assert_eq!(
            keys,
            [
                ("h1", "h1名", 2),
                ("h2", "h2名", 2),
                ("", UNASSIGNED_LABEL, 1)
            ]
        );
    }

    #[test]
    fn by_subject_and_by_local_month() {
        let (rows, _) = compute(&fixture(), Grouping::Subject, at(20, 0), Duration::zero());
        let keys: Vec<_> = rows.iter().map(|r| (r.key.as_str(), r.received)).collect();
        assert_eq!(keys, [("交货", 3), ("质量", 2)]);
        // A complaint at 30 June 20:00 UTC is July in China (UTC+8).
        let late_june = complaint(
            "c9",
            "x",
            Utc.with_ymd_and_hms(2026, 6, 30, 20, 0, 0)
                .single()
                .expect("valid"),
            vec![],
        );
        let (rows, _) = compute([&late_june], Grouping::Month, at(20, 0), Duration::hours(8));
        assert_eq!(rows[0].key, "2026-07");
        let (rows, _) = compute([&late_june], Grouping::Month, at(20, 0), Duration::zero());
        assert_eq!(rows[0].key, "2026-06");
    }
}
