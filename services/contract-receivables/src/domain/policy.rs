//! Who may do what with contracts and money. Record-level masking is the gateway's; these are
//! the operation-level rules the service enforces itself.

use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};

/// An operation not every role may perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read contracts, receivables, credit and statements.
    Read,
    /// Draft, edit, activate, complete, terminate contracts; record deliveries; file claims,
    /// deferral, credit-line and override requests.
    Sell,
    /// Record payments received.
    Collect,
    /// Decide: approve credit lines, overrides, deferrals, claims, amendments; approve an
    /// excess in the call itself.
    Approve,
}

impl Operation {
    fn allowed(self) -> (&'static [Role], Option<&'static str>) {
        use Role::*;
        match self {
            Operation::Read => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Finance,
                    Archivist,
                    Auditor,
                    Integration,
                ],
                Some("receivables"),
            ),
            Operation::Sell => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Integration,
                ],
                Some("contracts.write"),
            ),
            Operation::Collect => (
                &[Finance, SalesManager, Executive, Integration],
                Some("receivables"),
            ),
            Operation::Approve => (&[SalesManager, Executive], None),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Operation::Read => "read contracts and receivables",
            Operation::Sell => "record contracts and deliveries",
            Operation::Collect => "record payments",
            Operation::Approve => "approve credit, deferrals, claims and amendments",
        }
    }
}

/// Refuses unless `caller` may perform `operation`.
pub fn authorize(caller: &Caller, operation: Operation) -> Result<(), Problem> {
    let (roles, scope) = operation.allowed();
    caller.require_any(roles, operation.describe())?;
    if caller.role == Role::Integration
        && let Some(scope) = scope
        && !caller.scopes.contains(scope)
    {
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

    fn caller(role: Role) -> Caller {
        Caller {
            sub: "u".into(),
            name: String::new(),
            role,
            team: String::new(),
            scopes: Default::default(),
        }
    }

    #[test]
    fn only_managers_approve_and_salespeople_do_not_book_money() {
        assert!(authorize(&caller(Role::SalesManager), Operation::Approve).is_ok());
        assert!(authorize(&caller(Role::SalesRep), Operation::Approve).is_err());
        assert!(authorize(&caller(Role::SalesRep), Operation::Collect).is_err());
        assert!(authorize(&caller(Role::Finance), Operation::Collect).is_ok());
        assert!(authorize(&caller(Role::Integration), Operation::Collect).is_err());
    }
}
