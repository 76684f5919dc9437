//! The daily work journal (附表九 业务工作日志) and its sign-off chain.
//!
//! The chain is the form's: 制表人 (author) submits → 部门主管 (department head) → 主管副总
//! (vice-president) → 会计 (accountant) → 出纳 (cashier); the last two confirm the collections, so
//! a journal without collection entries is approved after the vice-president. Any reviewer may
//! return the journal to its author, who edits and submits again; an approved journal is final.
//!
//! The chain's parts map onto Dossier's roles: the department head is a `sales_manager` of the
//! author's team, the vice-president an `executive`, accountant and cashier are `finance` — two
//! different people, because the cashier's signature is a second pair of eyes on the money.

use chrono::{DateTime, Utc};
use dossier_kit::auth::{Caller, Role};
use dossier_kit::{Problem, Violations};

/// Where a journal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalState {
    /// Being written.
    Draft,
    /// Awaiting the department head.
    Submitted,
    /// Awaiting the vice-president.
    HeadApproved,
    /// Awaiting the accountant.
    VicePresidentApproved,
    /// Awaiting the cashier.
    AccountantConfirmed,
    /// Final.
    Approved,
    /// Back with the author.
    Returned,
}

/// A part in the sign-off chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOffRole {
    /// 制表人.
    Author,
    /// 部门主管.
    DepartmentHead,
    /// 主管副总.
    VicePresident,
    /// 会计.
    Accountant,
    /// 出纳.
    Cashier,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// On to the next step.
    Approve,
    /// Back to the author.
    Return,
}

/// One signature, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The part played.
    pub role: SignOffRole,
    /// Who (`sub`).
    pub actor_id: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// What the chain knows of a journal.
#[derive(Debug, Clone)]
pub struct Chain<'a> {
    /// Current state.
    pub state: JournalState,
    /// The author.
    pub author_id: &'a str,
    /// The author's team.
    pub team: &'a str,
    /// Whether the journal records collections (then finance confirms them).
    pub has_collections: bool,
    /// Who signed as accountant in the current round, if anyone.
    pub accountant_id: Option<&'a str>,
}

impl JournalState {
    /// The part whose review is awaited, if any.
    pub fn awaiting(self) -> Option<SignOffRole> {
        match self {
            JournalState::Submitted => Some(SignOffRole::DepartmentHead),
            JournalState::HeadApproved => Some(SignOffRole::VicePresident),
            JournalState::VicePresidentApproved => Some(SignOffRole::Accountant),
            JournalState::AccountantConfirmed => Some(SignOffRole::Cashier),
            _ => None,
        }
    }

    /// Whether the author may still edit it.
    pub fn editable(self) -> bool {
        matches!(self, JournalState::Draft | JournalState::Returned)
    }

    /// Stable code for the database.
    pub fn code(self) -> &'static str {
        match self {
            JournalState::Draft => "draft",
            JournalState::Submitted => "submitted",
            JournalState::HeadApproved => "head_approved",
            JournalState::VicePresidentApproved => "vice_president_approved",
            JournalState::AccountantConfirmed => "accountant_confirmed",
            JournalState::Approved => "approved",
            JournalState::Returned => "returned",
        }
    }
}

/// Refuses changes to a journal that has left the author's hands.
pub fn ensure_editable(state: JournalState) -> Result<(), Problem> {
    match state {
        s if s.editable() => Ok(()),
        JournalState::Approved => Err(Problem::precondition(
            "JOURNAL_APPROVED",
            "an approved journal cannot be changed",
        )),
        _ => Err(Problem::precondition(
            "JOURNAL_UNDER_REVIEW",
            "the journal is under review; it can be changed only when returned",
        )),
    }
}

/// The author submits: only he, only from draft or returned.
pub fn submit(chain: &Chain<'_>, caller: &Caller) -> Result<JournalState, Problem> {
    if caller.sub != chain.author_id {
        return Err(Problem::denied(format!(
            "only the author {} may submit the journal",
            chain.author_id
        )));
    }
    ensure_editable(chain.state)?;
    Ok(JournalState::Submitted)
}

/// Whether `caller` may sign as `role` on `chain`.
fn may_sign(role: SignOffRole, chain: &Chain<'_>, caller: &Caller) -> Result<(), Problem> {
    let refuse = |why: String| Err(Problem::denied(why));
    if caller.sub == chain.author_id {
        return refuse("the author may not review his own journal".into());
    }
    match role {
        SignOffRole::DepartmentHead => {
            if caller.role != Role::SalesManager {
                return refuse(format!(
                    "the department head's step needs a sales_manager, not {}",
                    caller.role
                ));
            }
            if caller.team != chain.team {
                return refuse(format!(
                    "the department head of team {} signs, not of team {}",
                    chain.team, caller.team
                ));
            }
        }
        SignOffRole::VicePresident => {
            if caller.role != Role::Executive {
                return refuse(format!(
                    "the vice-president's step needs an executive, not {}",
                    caller.role
                ));
            }
        }
        SignOffRole::Accountant | SignOffRole::Cashier => {
            if caller.role != Role::Finance {
                return refuse(format!(
                    "the accountant's and cashier's steps need finance, not {}",
                    caller.role
                ));
            }
            if role == SignOffRole::Cashier && chain.accountant_id == Some(caller.sub.as_str()) {
                return refuse("the cashier must be another person than the accountant".into());
            }
        }
        SignOffRole::Author => return refuse("the author does not review".into()),
    }
    Ok(())
}

/// A reviewer decides at the current step: returns the new state and the part he signed as.
/// A wrong actor is PERMISSION_DENIED; a journal awaiting nobody is FAILED_PRECONDITION.
pub fn review(
    chain: &Chain<'_>,
    caller: &Caller,
    decision: Decision,
    comment: &str,
) -> Result<(JournalState, SignOffRole), Problem> {
    let Some(role) = chain.state.awaiting() else {
        return Err(Problem::precondition(
            "JOURNAL_NOT_AWAITING_REVIEW",
            format!("the journal is {} and awaits no review", chain.state.code()),
        ));
    };
    may_sign(role, chain, caller)?;
    if decision == Decision::Return {
        if comment.trim().is_empty() {
            return Err(Problem::invalid(
                "comment",
                "is required to return a journal: say what to change",
            ));
        }
        return Ok((JournalState::Returned, role));
    }
    let next = match role {
        SignOffRole::DepartmentHead => JournalState::HeadApproved,
        SignOffRole::VicePresident if chain.has_collections => JournalState::VicePresidentApproved,
        SignOffRole::VicePresident => JournalState::Approved,
        SignOffRole::Accountant => JournalState::AccountantConfirmed,
        SignOffRole::Cashier | SignOffRole::Author => JournalState::Approved,
    };
    Ok((next, role))
}

/// A visit row's time span, for the overlap check.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// From.
    pub from: DateTime<Utc>,
    /// To.
    pub to: DateTime<Utc>,
}

/// Checks the visit rows' from–to times: each ends after it starts, and no two overlap (one
/// person cannot be at two customers at once). `spans[i]` is row `i`; `None` rows are skipped.
pub fn check_spans(spans: &[Option<Span>], violations: &mut Violations) {
    for (i, span) in spans.iter().enumerate() {
        if let Some(span) = span
            && span.to <= span.from
        {
            violations.add(
                format!("journal.visits[{i}].to_time"),
                "is not after from_time",
            );
        }
    }
    let mut ordered: Vec<(usize, Span)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.filter(|s| s.to > s.from).map(|s| (i, s)))
        .collect();
    ordered.sort_by_key(|(_, s)| s.from);
    for pair in ordered.windows(2) {
        let ((earlier_row, earlier), (later_row, later)) = (pair[0], pair[1]);
        if later.from < earlier.to {
            violations.add(
                format!("journal.visits[{later_row}].from_time"),
                format!("overlaps visit row {earlier_row}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn caller(role: Role, sub: &str, team: &str) -> Caller {
        Caller {
            sub: sub.into(),
            name: sub.into(),
            role,
            team: team.into(),
            scopes: Default::default(),
        }
    }

    fn chain(state: JournalState, has_collections: bool) -> Chain<'static> {
        Chain {
            state,
            author_id: "rep",
            team: "east",
            has_collections,
            accountant_id: None,
        }
    }

    #[test]
    fn the_chain_runs_head_vice_president_accountant_cashier() {
        let head = caller(Role::SalesManager, "head", "east");
        let vp = caller(Role::Executive, "vp", "");
        let accountant = caller(Role::Finance, "acc", "");
        let cashier = caller(Role::Finance, "cash", "");
        let mut c = chain(JournalState::Submitted, true);
        for (who, expected) in [
            (&head, JournalState::HeadApproved),
            (&vp, JournalState::VicePresidentApproved),
            (&accountant, JournalState::AccountantConfirmed),
            (&cashier, JournalState::Approved),
        ] {
            let (next, _) = review(&c, who, Decision::Approve, "").expect("signs");
            assert_eq!(next, expected);
            c.state = next;
            if next == JournalState::AccountantConfirmed {
                c.accountant_id = Some("acc");
            }
        }
    }

    #[test]
    fn without_collections_the_vice_president_approves_finally() {
        let vp = caller(Role::Executive, "vp", "");
        let (next, role) = review(
            &chain(JournalState::HeadApproved, false),
            &vp,
            Decision::Approve,
            "",
        )
        .expect("signs");
        assert_eq!(
            (next, role),
            (JournalState::Approved, SignOffRole::VicePresident)
        );
    }

    #[test]
    fn a_wrong_actor_is_denied_at_every_step() {
        let wrong = [
            (
                JournalState::Submitted,
                caller(Role::SalesManager, "m", "west"),
            ),
            (
                JournalState::Submitted,
                caller(Role::Executive, "vp", "east"),
            ),
            (
                JournalState::HeadApproved,
                caller(Role::SalesManager, "m", "east"),
            ),
            (
                JournalState::VicePresidentApproved,
                caller(Role::Executive, "vp", ""),
            ),
            (
                JournalState::AccountantConfirmed,
                caller(Role::Finance, "acc", ""),
            ),
        ];
        for (state, who) in wrong {
            let mut c = chain(state, true);
            c.accountant_id = Some("acc");
            let err = review(&c, &who, Decision::Approve, "").expect_err("denied");
            assert!(
                matches!(err, Problem::PermissionDenied { .. }),
                "{state:?}: {err:?}"
            );
        }
    }

    #[test]
    fn returning_needs_a_comment_and_goes_back_to_the_author() {
        let head = caller(Role::SalesManager, "head", "east");
        let c = chain(JournalState::Submitted, false);
        assert!(review(&c, &head, Decision::Return, " ").is_err());
        let (next, _) = review(&c, &head, Decision::Return, "补充回款").expect("returns");
        assert_eq!(next, JournalState::Returned);
        let author = caller(Role::SalesRep, "rep", "east");
        let resubmit = chain(JournalState::Returned, false);
        assert_eq!(
            submit(&resubmit, &author).expect("again"),
            JournalState::Submitted
        );
    }

    #[test]
    fn an_approved_journal_is_final() {
        assert!(ensure_editable(JournalState::Approved).is_err());
        assert!(ensure_editable(JournalState::Submitted).is_err());
        assert!(ensure_editable(JournalState::Returned).is_ok());
        let head = caller(Role::SalesManager, "head", "east");
        assert!(
            review(
                &chain(JournalState::Approved, false),
                &head,
                Decision::Approve,
                ""
            )
            .is_err()
        );
    }

    #[test]
    fn overlapping_or_backwards_visit_rows_are_refused() {
        let t = |h: u32, m: u32| {
            Utc.with_ymd_and_hms(2026, 6, 15, h, m, 0)
                .single()
                .expect("t")
        };
        let mut v = Violations::new();
        check_spans(
            &[
                Some(Span {
                    from: t(9, 0),
                    to: t(10, 0),
                }),
                Some(Span {
                    from: t(10, 0),
                    to: t(11, 0),
                }),
            ],
            &mut v,
        );
        assert!(v.is_empty(), "touching rows do not overlap");
        check_spans(
            &[
                Some(Span {
                    from: t(9, 0),
                    to: t(10, 0),
                }),
                Some(Span {
                    from: t(9, 30),
                    to: t(11, 0),
                }),
                Some(Span {
                    from: t(12, 0),
                    to: t(11, 0),
                }),
            ],
            &mut v,
        );
        let fields: Vec<&str> = v.list().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["journal.visits[2].to_time", "journal.visits[1].from_time"]
        );
    }
}
