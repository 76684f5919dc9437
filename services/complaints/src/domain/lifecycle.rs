//! The life cycle of a complaint: received → analysed → handling → replied → closed, and back
//! from closed to handling when the customer is not satisfied. This module is the only place a
//! complaint changes state; every change it allows appends a [`Transition`] naming who and
//! when, and every other move is refused with `FAILED_PRECONDITION`
//! (`INVALID_STATE_TRANSITION`), leaving the complaint as it was.

use chrono::{DateTime, Utc};
use dossier_kit::{Problem, Violations};

use super::complaint::{
    Actor, ComplaintRecord, Escalation, Reaction, State, Transition, step_name, step_text,
};
use super::sla::ReplyTargets;

/// A step of the life cycle with what it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// RECEIVED → ANALYSED: 投诉分析.
    Analyse {
        /// The analysis.
        analysis: String,
    },
    /// ANALYSED → HANDLING: 处理办法 and 处理人.
    StartHandling {
        /// How it will be handled.
        handling_method: String,
        /// Who handles it.
        handler: Actor,
    },
    /// HANDLING → REPLIED: 处理结果, the reply, 回复人 and 回复时间.
    Reply {
        /// The result of the handling.
        result: String,
        /// What was replied.
        reply: String,
        /// Who replied.
        replier: Actor,
        /// When the reply was given.
        at: DateTime<Utc>,
    },
    /// REPLIED → CLOSED with 客户反应.
    Close {
        /// The customer's reaction.
        reaction: Reaction,
        /// A closing note.
        note: String,
    },
    /// CLOSED → HANDLING when the customer is not satisfied; a new deadline runs.
    Reopen {
        /// Why.
        reason: String,
    },
}

impl Step {
    /// The step's name, as errors and events say it.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Analyse { .. } => "analyse",
            Step::StartHandling { .. } => "start_handling",
            Step::Reply { .. } => "reply",
            Step::Close { .. } => "close",
            Step::Reopen { .. } => "reopen",
        }
    }

    /// The state the step starts from and the state it leads to.
    pub fn edge(&self) -> (State, State) {
        match self {
            Step::Analyse { .. } => (State::Received, State::Analysed),
            Step::StartHandling { .. } => (State::Analysed, State::Handling),
            Step::Reply { .. } => (State::Handling, State::Replied),
            Step::Close { .. } => (State::Replied, State::Closed),
            Step::Reopen { .. } => (State::Closed, State::Handling),
        }
    }

    /// The faults of the step's own input, whatever the complaint's state.
    pub fn validate(&self, record: &ComplaintRecord, now: DateTime<Utc>) -> Violations {
        let mut v = Violations::new();
        match self {
            Step::Analyse { analysis } => step_text(&mut v, "analysis", analysis),
            Step::StartHandling {
                handling_method,
                handler,
            } => {
                step_text(&mut v, "handling_method", handling_method);
                step_name(&mut v, "handler", &handler.name);
                step_name(&mut v, "handler_id", &handler.id);
            }
            Step::Reply {
                result,
                reply,
                replier,
                at,
            } => {
                step_text(&mut v, "result", result);
                if reply.chars().count() > super::complaint::MAX_TEXT_CHARS {
                    v.add("reply", "is too long");
                }
                step_name(&mut v, "replier", &replier.name);
                if *at > now {
                    v.add("reply_time", "must not be in the future");
                } else if record.card.complaint_time.is_some_and(|t| *at < t) {
                    v.add("reply_time", "must not be before the complaint_time");
                }
            }
            Step::Close { note, .. } => {
                if note.chars().count() > super::complaint::MAX_TEXT_CHARS {
                    v.add("note", "is too long");
                }
            }
            Step::Reopen { reason } => step_text(&mut v, "reason", reason),
        }
        v
    }
}

fn illegal(record: &ComplaintRecord, step: &Step) -> Problem {
    let (from, to) = step.edge();
    Problem::FailedPrecondition {
        reason: "INVALID_STATE_TRANSITION",
        message: format!(
            "complaint {} is {}; {} needs it {} (to make it {})",
            record.id,
            record.state.code(),
            step.name(),
            from.code(),
            to.code()
        ),
        metadata: vec![
            ("state".into(), record.state.code().into()),
            ("step".into(), step.name().into()),
        ],
    }
}

/// Applies `step` by `actor` at `now`, or refuses it and leaves `record` untouched: bad input is
/// `INVALID_ARGUMENT`, a step from the wrong state (or a reopen of a complaint closed with the
/// customer satisfied) `FAILED_PRECONDITION`.
pub fn apply(
    record: &mut ComplaintRecord,
    step: Step,
    actor: &Actor,
    now: DateTime<Utc>,
    targets: &ReplyTargets,
) -> Result<(), Problem> {
    step.validate(record, now).finish(|| ())?;
    let (from, to) = step.edge();
    if record.state != from {
        return Err(illegal(record, &step));
    }
    let mut note = String::new();
    match step {
        Step::Analyse { analysis } => record.analysis = analysis,
        Step::StartHandling {
            handling_method,
            handler,
        } => {
            record.handling_method = handling_method;
            record.handler = handler;
        }
        Step::Reply {
            result,
            reply,
            replier,
            at,
        } => {
            record.result = result;
            record.reply = reply;
            record.replier = replier;
            record.reply_time = Some(at);
            record.first_reply_time.get_or_insert(at);
            if at >= record.reply_due {
                record.replied_late = true;
            }
        }
        Step::Close {
            reaction,
            note: closing,
        } => {
            record.reaction = Some(reaction);
            record.close_time = Some(now);
            note = closing;
        }
        Step::Reopen { reason } => {
            if record.reaction == Some(Reaction::Satisfied) {
                return Err(Problem::precondition(
                    "CUSTOMER_SATISFIED",
                    format!(
                        "complaint {} was closed with the customer satisfied; file a new complaint instead",
                        record.id
                    ),
                ));
            }
            record.reopen_count += 1;
            record.reaction = None;
            record.close_time = None;
            record.reply_time = None;
            record.reply_due = targets.due(now, record.reply_target_hours);
            note = reason;
        }
    }
    record.state = to;
    record.history.push(Transition {
        from: Some(from),
        to,
        actor: actor.clone(),
        at: now,
        note,
    });
    Ok(())
}

/// Escalates an open complaint to the manager `to_id`; it stays in its state.
pub fn escalate(
    record: &mut ComplaintRecord,
    to_id: &str,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let mut v = Violations::new();
    if to_id.trim().is_empty() {
        v.add("escalate_to_id", "is required");
    }
    step_name(&mut v, "escalate_to_id", to_id);
    step_text(&mut v, "reason", reason);
    v.finish(|| ())?;
    if record.state == State::Closed {
        return Err(Problem::precondition(
            "COMPLAINT_CLOSED",
            format!("complaint {} is closed; reopen it first", record.id),
        ));
    }
    record.escalations.push(Escalation {
        to_id: to_id.trim().to_owned(),
        by_id: actor.id.clone(),
        at: now,
        reason: reason.trim().to_owned(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::complaint::ComplaintCard;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
            .single()
            .expect("valid")
    }

    fn actor(id: &str) -> Actor {
        Actor {
            id: id.into(),
            name: format!("{id}-name"),
        }
    }

    fn filed() -> ComplaintRecord {
        let card = ComplaintCard {
            customer_id: "c1".into(),
            complaint_time: Some(t0()),
            complainant: "王经理".into(),
            subject: "交货延迟".into(),
            content: "晚到五天".into(),
            ..ComplaintCard::default()
        };
        ComplaintRecord::file(
            "k1".into(),
            card,
            &actor("desk"),
            t0(),
            48,
            t0() + Duration::hours(48),
        )
    }

    fn analyse() -> Step {
        Step::Analyse {
            analysis: "物流排期错误".into(),
        }
    }
    fn handle() -> Step {
        Step::StartHandling {
            handling_method: "补偿运费".into(),
            handler: actor("h1"),
        }
    }
    fn reply(at: DateTime<Utc>) -> Step {
        Step::Reply {
            result: "已补偿".into(),
            reply: "致歉并补偿".into(),
            replier: actor("r1"),
            at,
        }
    }
    fn close(reaction: Reaction) -> Step {
        Step::Close {
            reaction,
            note: String::new(),
        }
    }

    /// One random action: a step (possibly illegal, possibly with bad input) or an escalation.
    fn random_step(rng: &mut SplitMix, now: DateTime<Utc>) -> Option<Step> {
        let blank = rng.below(6) == 0;
        let text = |s: &str| if blank { String::new() } else { s.to_owned() };
        match rng.below(6) {
            0 => Some(Step::Analyse {
                analysis: text("分析"),
            }),
            1 => Some(Step::StartHandling {
                handling_method: text("办法"),
                handler: actor("h"),
            }),
            2 => Some(Step::Reply {
                result: text("结果"),
                reply: String::new(),
                replier: actor("r"),
                at: now - Duration::minutes(rng.below(30) as i64),
            }),
            3 => Some(Step::Close {
                reaction: match rng.below(3) {
                    0 => Reaction::Satisfied,
                    1 => Reaction::PartlySatisfied,
                    _ => Reaction::Unsatisfied,
                },
                note: String::new(),
            }),
            4 => Some(Step::Reopen {
                reason: text("客户不满意"),
            }),
            _ => None,
        }
    }

    /// A small deterministic PRNG, so a failing sequence can be replayed from its seed.
    pub(crate) struct SplitMix(u64);
    impl SplitMix {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed)
        }
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// What must hold of every complaint, whatever happened to it.
    fn check_invariants(r: &ComplaintRecord) -> Result<(), String> {
        let last = r.history.last().ok_or("no history")?;
        if last.to != r.state {
            return Err(format!(
                "history ends in {:?}, state is {:?}",
                last.to, r.state
            ));
        }
        if r.history[0].from.is_some() || r.history[0].to != State::Received {
            return Err("history does not start with the filing".into());
        }
        for pair in r.history.windows(2) {
            let legal = matches!(
                (pair[1].from, pair[1].to),
                (Some(State::Received), State::Analysed)
                    | (Some(State::Analysed), State::Handling)
                    | (Some(State::Handling), State::Replied)
                    | (Some(State::Replied), State::Closed)
                    | (Some(State::Closed), State::Handling)
            );
            if !legal || pair[1].from != Some(pair[0].to) || pair[1].at < pair[0].at {
                return Err(format!("illegal recorded transition {:?}", pair[1]));
            }
            if pair[1].actor.id.is_empty() {
                return Err("a transition without its actor".into());
            }
        }
        let reopens = r
            .history
            .iter()
            .filter(|t| t.from == Some(State::Closed))
            .count();
        if reopens != r.reopen_count as usize {
            return Err(format!(
                "{reopens} reopens recorded, count {}",
                r.reopen_count
            ));
        }
        let past = |s: State| r.history.iter().any(|t| t.to == s);
        let ok = match r.state {
            State::Received => r.analysis.is_empty(),
            State::Analysed => !r.analysis.is_empty() && r.handling_method.is_empty(),
            State::Handling => !r.handling_method.is_empty() && r.reply_time.is_none(),
            State::Replied => r.reply_time.is_some() && r.reaction.is_none(),
            State::Closed => r.reaction.is_some() && r.close_time.is_some(),
        };
        if !ok {
            return Err(format!("fields do not fit state {:?}: {r:?}", r.state));
        }
        if past(State::Replied) != r.first_reply_time.is_some() {
            return Err("first reply time out of step with the history".into());
        }
        Ok(())
    }

    #[test]
    fn the_happy_path_records_every_step_with_who_and_when() {
        let targets = ReplyTargets::default();
        let mut r = filed();
        let mut now = t0();
        for step in [analyse(), handle(), reply(t0() + Duration::hours(3))] {
            now += Duration::hours(1);
            apply(&mut r, step, &actor("x"), now, &targets).expect("legal");
        }
        now += Duration::hours(1);
        apply(
            &mut r,
            close(Reaction::Satisfied),
            &actor("y"),
            now,
            &targets,
        )
        .expect("legal");
        assert_eq!(r.state, State::Closed);
        assert_eq!(r.history.len(), 5);
        assert_eq!(r.history[4].actor.id, "y");
        assert_eq!(r.history[4].at, now);
        assert_eq!(r.handler.id, "h1");
        assert!(!r.replied_late);
        check_invariants(&r).expect("consistent");
    }

    #[test]
    fn a_step_from_the_wrong_state_is_refused_and_changes_nothing() {
        let targets = ReplyTargets::default();
        let mut r = filed();
        let before = r.clone();
        let err = apply(&mut r, reply(t0()), &actor("x"), t0(), &targets).expect_err("illegal");
        assert!(matches!(
            err,
            Problem::FailedPrecondition {
                reason: "INVALID_STATE_TRANSITION",
                ..
            }
        ));
        assert_eq!(r, before);
    }

    #[test]
    fn a_satisfied_customer_is_not_reopened_an_unsatisfied_one_gets_a_new_deadline() {
        let targets = ReplyTargets::default();
        let mut r = filed();
        for step in [analyse(), handle(), reply(t0()), close(Reaction::Satisfied)] {
            apply(&mut r, step, &actor("x"), t0(), &targets).expect("legal");
        }
        let reopen = Step::Reopen {
            reason: "again".into(),
        };
        let err = apply(&mut r, reopen.clone(), &actor("x"), t0(), &targets).expect_err("no");
        assert!(matches!(
            err,
            Problem::FailedPrecondition {
                reason: "CUSTOMER_SATISFIED",
                ..
            }
        ));

        let mut r = filed();
        for step in [
            analyse(),
            handle(),
            reply(t0()),
            close(Reaction::Unsatisfied),
        ] {
            apply(&mut r, step, &actor("x"), t0(), &targets).expect("legal");
        }
        let later = t0() + Duration::days(10);
        apply(&mut r, reopen, &actor("m"), later, &targets).expect("reopened");
        assert_eq!(r.state, State::Handling);
        assert_eq!(r.reopen_count, 1);
        assert_eq!(r.reply_due, later + Duration::hours(48));
        assert!(r.reaction.is_none() && r.reply_time.is_none());
        assert_eq!(r.first_reply_time, Some(t0()));
        assert_eq!(r.history.last().map(|t| t.note.as_str()), Some("again"));
    }

    #[test]
    fn a_late_reply_stays_counted_as_overdue() {
        let targets = ReplyTargets::default();
        let mut r = filed();
        let late = t0() + Duration::hours(48);
        for step in [analyse(), handle(), reply(late)] {
            apply(&mut r, step, &actor("x"), late, &targets).expect("legal");
        }
        assert!(r.replied_late);
        assert!(!r.is_overdue(late));
        assert!(r.was_ever_overdue(late));
    }

    #[test]
    fn bad_step_input_is_invalid_argument_naming_the_field() {
        let targets = ReplyTargets::default();
        let mut r = filed();
        let err = apply(
            &mut r,
            Step::Analyse {
                analysis: " ".into(),
            },
            &actor("x"),
            t0(),
            &targets,
        )
        .expect_err("blank");
        match err {
            Problem::InvalidArgument(v) => assert_eq!(v[0].field, "analysis"),
            other => panic!("{other:?}"),
        }
        let err = escalate(&mut r, "", "overdue", &actor("x"), t0()).expect_err("no manager");
        assert!(matches!(err, Problem::InvalidArgument(_)));
    }

    #[test]
    fn escalation_keeps_the_state_and_is_refused_once_closed() {
        let targets = ReplyTargets::default();
        let mut r = filed();
        escalate(&mut r, "mgr", "overdue", &actor("x"), t0()).expect("escalated");
        assert_eq!(r.state, State::Received);
        assert!(r.is_escalated());
        for step in [
            analyse(),
            handle(),
            reply(t0()),
            close(Reaction::Unsatisfied),
        ] {
            apply(&mut r, step, &actor("x"), t0(), &targets).expect("legal");
        }
        assert!(!r.is_escalated());
        assert!(escalate(&mut r, "mgr", "again", &actor("x"), t0()).is_err());
    }

    /// Property: from any sequence of actions, legal or not, the complaint never reaches an
    /// inconsistent state; every accepted step adds exactly one transition; every refused one
    /// leaves it untouched.
    #[test]
    fn random_action_sequences_never_break_the_state_machine() {
        let targets = ReplyTargets::default();
        let mut accepted_by_step = std::collections::BTreeMap::<&str, usize>::new();
        for seed in 0..400u64 {
            let mut rng = SplitMix::new(seed);
            let mut r = filed();
            let mut now = t0();
            for _ in 0..40 {
                now += Duration::minutes(30 + rng.below(600) as i64);
                let who = actor(&format!("u{}", rng.below(4)));
                let before = r.clone();
                let outcome = match random_step(&mut rng, now) {
                    Some(step) => {
                        let name = step.name();
                        let result = apply(&mut r, step, &who, now, &targets);
                        if result.is_ok() {
                            *accepted_by_step.entry(name).or_default() += 1;
                            assert_eq!(r.history.len(), before.history.len() + 1, "seed {seed}");
                            let last = r.history.last().expect("history");
                            assert_eq!((&last.actor, last.at), (&who, now), "seed {seed}");
                        }
                        result
                    }
                    None => escalate(&mut r, "mgr", "slow", &who, now),
                };
                match outcome {
                    Ok(()) => {}
                    Err(Problem::InvalidArgument(_) | Problem::FailedPrecondition { .. }) => {
                        assert_eq!(r, before, "seed {seed}: a refusal changed the complaint")
                    }
                    Err(other) => panic!("seed {seed}: unexpected {other:?}"),
                }
                if let Err(fault) = check_invariants(&r) {
                    panic!("seed {seed}: {fault}");
                }
            }
        }
        // The generator reaches every step, so the property is not vacuous.
        for step in ["analyse", "start_handling", "reply", "close", "reopen"] {
            assert!(
                accepted_by_step.get(step).copied().unwrap_or(0) > 10,
                "{step} too rarely accepted: {accepted_by_step:?}"
            );
        }
    }
}
