//! Who may do what with complaints. Record-level rules (a salesperson sees only his own
//! customers in full; personal fields are masked) are the gateway's; these are the
//! operation-level rules the service itself enforces.

use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};

/// An operation on complaints that not every role may perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read complaints, feedback, statistics and the change feed.
    Read,
    /// File, correct and move complaints through their steps; record feedback.
    Write,
    /// Escalate a complaint to a manager.
    Escalate,
}

impl Operation {
    /// The roles allowed, and the scope an integration account needs.
    fn allowed(self) -> (&'static [Role], &'static str) {
        use Role::*;
        match self {
            // Finance sees contracts and money, not complaints (发放制度).
            Operation::Read => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Archivist,
                    Auditor,
                    Integration,
                ],
                "complaints.read",
            ),
            Operation::Write => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Archivist,
                    Integration,
                ],
                "complaints.write",
            ),
            Operation::Escalate => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Archivist,
                ],
                "complaints.write",
            ),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Operation::Read => "read complaints",
            Operation::Write => "change complaints",
            Operation::Escalate => "escalate complaints",
        }
    }
}

/// Refuses unless `caller` may perform `operation`.
pub fn authorize(caller: &Caller, operation: Operation) -> Result<(), Problem> {
    let (roles, scope) = operation.allowed();
    caller.require_any(roles, operation.describe())?;
    if caller.role == Role::Integration && !caller.scopes.contains(scope) {
        return Err(Problem::denied(format!(
            "integration accounts need scope {scope} to {}",
            operation.describe()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, scopes: &[&str]) -> Caller {
        Caller {
            sub: "u".into(),
            name: String::new(),
            role,
            team: String::new(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn finance_neither_reads_nor_writes_and_auditors_only_read() {
        assert!(authorize(&caller(Role::Finance, &[]), Operation::Read).is_err());
        assert!(authorize(&caller(Role::Auditor, &[]), Operation::Read).is_ok());
        assert!(authorize(&caller(Role::Auditor, &[]), Operation::Write).is_err());
        assert!(authorize(&caller(Role::SalesRep, &[]), Operation::Write).is_ok());
    }

    #[test]
    fn integration_accounts_need_the_scope() {
        assert!(authorize(&caller(Role::Integration, &[]), Operation::Read).is_err());
        assert!(
            authorize(
                &caller(Role::Integration, &["complaints.read"]),
                Operation::Read
            )
            .is_ok()
        );
        assert!(
            authorize(
                &caller(Role::Integration, &["complaints.write"]),
                Operation::Escalate
            )
            .is_err()
        );
    }
}
