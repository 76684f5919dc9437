//! Who may do what in analytics. Reads serve the managers' reports and the salespeople's own
//! sheets (the gateway masks what a caller may not see); scoring is the evaluators' work.

use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};

/// What a call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Reads sheets, reports, exports, lag.
    Read,
    /// Enters sales-force scores.
    Score,
}

/// Refuses with PERMISSION_DENIED unless `caller` may perform `operation`.
pub fn authorize(caller: &Caller, operation: Operation) -> Result<(), Problem> {
    use Role::*;
    match operation {
        Operation::Read => caller.require_any(
            &[
                SalesRep,
                SalesManager,
                Executive,
                Finance,
                CustomerService,
                Archivist,
                Auditor,
            ],
            "read analytics",
        ),
        Operation::Score => caller.require_any(
            &[SalesRep, SalesManager, Executive],
            "score the sales force",
        ),
    }
}

/// Refuses with PERMISSION_DENIED unless `caller` may score the customer owned by `owner_id` in
/// `team`: the salesperson responsible for it, a manager of its team, or an executive. (Any
/// evaluator scoring any customer would let a salesperson grade a colleague's distributors.)
pub fn authorize_scoring(caller: &Caller, owner_id: &str, team: &str) -> Result<(), Problem> {
    let allowed = match caller.role {
        Role::Executive => true,
        Role::SalesManager => !caller.team.is_empty() && caller.team == team,
        Role::SalesRep => caller.sub == owner_id,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Problem::denied(
            "only the customer's salesperson, a manager of its team or an executive may score it",
        ))
    }
}
