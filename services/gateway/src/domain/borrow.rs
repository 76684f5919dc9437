//! Borrowing an archive (借阅, 客户资料借阅表): who may ask, who may decide, how long it lasts, and
//! when it lifts the borrower's view.
//!
//! A borrow is requested for one customer, a purpose and a due time (`until`, at most the policy
//! maximum after the request, 14 days when not given). A `sales_manager` of the customer's team
//! approves or rejects it — never the borrower. Once approved it is *active*: until `until` it
//! lifts the borrower to the full view of that one archive. It stays on the books until it is
//! returned; an active borrow past its due time is *overdue* (the view is no longer lifted, and
//! the archive is still owed).

use chrono::{DateTime, Duration, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};

/// Due time when the request names none.
pub const DEFAULT_BORROW_DAYS: i64 = 14;
/// Longest borrow the policy allows.
pub const MAX_BORROW_DAYS: i64 = 30;

/// Where a borrow stands. Stored as its `BorrowState` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorrowState {
    /// Asked for, not yet decided.
    Requested,
    /// Approved and not yet returned.
    Active,
    /// Refused.
    Rejected,
    /// Given back.
    Returned,
}

impl BorrowState {
    /// The proto enum number.
    pub fn number(self) -> i32 {
        match self {
            BorrowState::Requested => 1,
            BorrowState::Active => 2,
            BorrowState::Rejected => 3,
            BorrowState::Returned => 4,
        }
    }

    /// From the stored number.
    pub fn from_number(number: i32) -> Option<Self> {
        Some(match number {
            1 => BorrowState::Requested,
            2 => BorrowState::Active,
            3 => BorrowState::Rejected,
            4 => BorrowState::Returned,
            _ => return None,
        })
    }
}

/// The limits of the borrowing policy (configurable).
#[derive(Debug, Clone, Copy)]
pub struct BorrowPolicy {
    /// Days when the request names no due time.
    pub default_days: i64,
    /// The longest borrow, in days from the request (or approval).
    pub max_days: i64,
}

impl Default for BorrowPolicy {
    fn default() -> Self {
        Self {
            default_days: DEFAULT_BORROW_DAYS,
            max_days: MAX_BORROW_DAYS,
        }
    }
}

impl BorrowPolicy {
    /// The due time of a request made `now` asking for `until` (or the default).
    pub fn due_time(
        &self,
        now: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        field: &str,
    ) -> Result<DateTime<Utc>, Problem> {
        let Some(until) = until else {
            return Ok(now + Duration::days(self.default_days));
        };
        if until <= now {
            return Err(Problem::invalid(field, "must be in the future"));
        }
        if until > now + Duration::days(self.max_days) {
            return Err(Problem::invalid(
                field,
                format!(
                    "is beyond the longest borrow of {} days allowed",
                    self.max_days
                ),
            ));
        }
        Ok(until)
    }
}

/// Roles that may borrow an archive: people who work with customers. Integration accounts do not
/// borrow (a borrow is a person's signed form), and roles that see everything need not.
pub const BORROWER_ROLES: &[Role] = &[Role::SalesRep, Role::Finance, Role::Auditor];

/// Checks that `caller` may ask to borrow.
pub fn may_request(caller: &Caller) -> Result<(), Problem> {
    caller.require_any(BORROWER_ROLES, "borrow an archive")
}

/// Checks that `caller` may decide (approve or reject) a borrow by `borrower_id` of a customer of
/// `customer_team`: a `sales_manager` of that team, never the borrower.
pub fn may_decide(caller: &Caller, borrower_id: &str, customer_team: &str) -> Result<(), Problem> {
    if caller.sub == borrower_id {
        return Err(Problem::denied("a borrower cannot decide their own borrow"));
    }
    if caller.role != Role::SalesManager {
        return Err(Problem::denied("only a sales_manager decides borrows"));
    }
    if customer_team.is_empty() || caller.team != customer_team {
        return Err(Problem::denied(
            "only a sales_manager of the customer's team decides this borrow",
        ));
    }
    Ok(())
}

/// Checks that `caller` may give back a borrow of `borrower_id`: the borrower, or a manager of
/// the customer's team (who takes the file back), or the archivist.
pub fn may_return(caller: &Caller, borrower_id: &str, customer_team: &str) -> Result<(), Problem> {
    let manager = caller.role == Role::SalesManager && caller.team == customer_team;
    if caller.sub == borrower_id || manager || caller.role == Role::Archivist {
        Ok(())
    } else {
        Err(Problem::denied(
            "only the borrower, the team's manager or the archivist returns a borrow",
        ))
    }
}

/// Checks a decision on a borrow in `state`.
pub fn check_decidable(state: BorrowState) -> Result<(), Problem> {
    if state == BorrowState::Requested {
        Ok(())
    } else {
        Err(Problem::precondition(
            "BORROW_NOT_PENDING",
            "only a requested borrow can be approved or rejected",
        ))
    }
}

/// Checks a return of a borrow in `state`.
pub fn check_returnable(state: BorrowState) -> Result<(), Problem> {
    if state == BorrowState::Active {
        Ok(())
    } else {
        Err(Problem::precondition(
            "BORROW_NOT_ACTIVE",
            "only an active borrow can be returned",
        ))
    }
}

/// Whether an active borrow due at `until` lifts the view at `now` (strictly before its due time).
pub fn lifts_view(state: BorrowState, until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state == BorrowState::Active && now < until
}

/// Whether a borrow is overdue at `now`: approved, not returned, past its due time.
pub fn is_overdue(state: BorrowState, until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state == BorrowState::Active && now >= until
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

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, day, 9, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn due_time_defaults_and_bounds() {
        let policy = BorrowPolicy::default();
        assert_eq!(
            policy.due_time(at(1), None, "until").ok(),
            Some(at(15)),
            "14 days by default"
        );
        assert!(policy.due_time(at(1), Some(at(1)), "until").is_err());
        assert!(
            policy
                .due_time(at(1), Some(at(1) + Duration::days(31)), "until")
                .is_err()
        );
        assert_eq!(
            policy
                .due_time(at(1), Some(at(1) + Duration::days(30)), "until")
                .ok(),
            Some(at(1) + Duration::days(30))
        );
    }

    #[test]
    fn only_a_manager_of_the_team_other_than_the_borrower_decides() {
        let manager = caller(Role::SalesManager, "mgr", "east");
        assert!(may_decide(&manager, "rep", "east").is_ok());
        assert!(may_decide(&manager, "rep", "north").is_err());
        assert!(may_decide(&manager, "mgr", "east").is_err(), "own borrow");
        assert!(may_decide(&caller(Role::Executive, "ex", "east"), "rep", "east").is_err());
        assert!(may_decide(&caller(Role::SalesRep, "rep2", "east"), "rep", "east").is_err());
    }

    #[test]
    fn the_view_is_lifted_strictly_before_the_due_time() {
        let until = at(15);
        let second = Duration::seconds(1);
        assert!(lifts_view(BorrowState::Active, until, until - second));
        assert!(!lifts_view(BorrowState::Active, until, until));
        assert!(!lifts_view(BorrowState::Requested, until, until - second));
        assert!(!lifts_view(BorrowState::Returned, until, until - second));
        assert!(is_overdue(BorrowState::Active, until, until + second));
        assert!(!is_overdue(BorrowState::Returned, until, until + second));
    }
}
