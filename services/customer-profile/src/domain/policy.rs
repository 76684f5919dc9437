//! Who may do what to the archive, and the review rhythm (动态管理: a full review about every two
//! months). Record-level rules (a salesperson sees only his own customers in full) are the
//! gateway's; these are the operation-level rules the service itself enforces.

use chrono::{DateTime, Duration, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};

/// Days between full reviews unless configured otherwise.
pub const DEFAULT_REVIEW_INTERVAL_DAYS: i64 = 60;

/// When the next review falls due after a review (or the opening) at `from`.
pub fn next_review_due(from: DateTime<Utc>, interval_days: i64) -> DateTime<Utc> {
    from + Duration::days(interval_days)
}

/// An operation on the archive that not every role may perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Open or edit a card, file a document.
    Write,
    /// Archive a card.
    Archive,
    /// Merge duplicates.
    Merge,
    /// Hand a customer to another salesperson.
    Reassign,
    /// Record a full review.
    Review,
    /// Freeze a year into a volume.
    CloseYear,
    /// Bulk import.
    Import,
    /// Bulk export.
    Export,
}

impl Operation {
    /// The roles allowed to perform it. Integration accounts also need the named scope.
    fn allowed(self) -> (&'static [Role], Option<&'static str>) {
        use Role::*;
        match self {
            Operation::Write => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Archivist,
                    Integration,
                ],
                Some("customers.write"),
            ),
            Operation::Archive => (&[SalesManager, Executive, Archivist], None),
            Operation::Merge => (&[SalesManager, Executive, Archivist], None),
            Operation::Reassign => (&[SalesManager, Executive, Archivist], None),
            Operation::Review => (
                &[
                    SalesRep,
                    CustomerService,
                    SalesManager,
                    Executive,
                    Archivist,
                ],
                None,
            ),
            Operation::CloseYear => (&[Executive, Archivist], None),
            Operation::Import => (
                &[
                    CustomerService,
                    SalesManager,
                    Executive,
                    Archivist,
                    Integration,
                ],
                Some("customers.import"),
            ),
            Operation::Export => (&[CustomerService, SalesManager, Executive, Archivist], None),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Operation::Write => "change customer archives",
            Operation::Archive => "archive customers",
            Operation::Merge => "merge customers",
            Operation::Reassign => "reassign customers",
            Operation::Review => "review customer cards",
            Operation::CloseYear => "close archive years",
            Operation::Import => "import customers",
            Operation::Export => "export customers",
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
    fn auditors_and_finance_cannot_write() {
        assert!(authorize(&caller(Role::Auditor, &[]), Operation::Write).is_err());
        assert!(authorize(&caller(Role::Finance, &[]), Operation::Write).is_err());
        assert!(authorize(&caller(Role::SalesRep, &[]), Operation::Write).is_ok());
    }

    #[test]
    fn integration_accounts_need_the_scope() {
        assert!(authorize(&caller(Role::Integration, &[]), Operation::Write).is_err());
        assert!(
            authorize(
                &caller(Role::Integration, &["customers.write"]),
                Operation::Write
            )
            .is_ok()
        );
    }

    #[test]
    fn only_custodians_and_executives_close_years() {
        assert!(authorize(&caller(Role::Archivist, &[]), Operation::CloseYear).is_ok());
        assert!(authorize(&caller(Role::SalesManager, &[]), Operation::CloseYear).is_err());
    }

    #[test]
    fn reviews_fall_due_after_the_interval() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        assert_eq!(next_review_due(at, 60) - at, Duration::days(60));
    }
}
