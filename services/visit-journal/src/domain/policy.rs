//! Who may call what. Record-level masking is the gateway's; these are the operation-level rules
//! the service enforces itself, plus the one ownership rule every write shares: a salesperson
//! acts only for himself, a manager for his team, an executive for anyone.

use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};

/// An operation not every role may perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Write a visit plan or a work plan.
    WritePlan,
    /// Record or correct a visit.
    RecordVisit,
    /// Open, edit or submit a work journal (as its author).
    WriteJournal,
    /// File a report.
    FileReport,
    /// Acknowledge reports and follow urgent ones.
    ManageReports,
    /// Add to a key-account follow-up sheet.
    WriteFollowUp,
    /// Read plans, visits, journals, reports, follow-ups and progress.
    Read,
}

impl Operation {
    fn allowed(self) -> &'static [Role] {
        use Role::*;
        match self {
            Operation::WritePlan | Operation::RecordVisit | Operation::WriteJournal => {
                &[SalesRep, SalesManager, Executive]
            }
            Operation::FileReport => &[SalesRep, SalesManager],
            Operation::ManageReports => &[SalesManager, Executive],
            Operation::WriteFollowUp => &[SalesRep, SalesManager, Executive, CustomerService],
            Operation::Read => &[
                SalesRep,
                SalesManager,
                Executive,
                CustomerService,
                Finance,
                Archivist,
                Auditor,
            ],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Operation::WritePlan => "write plans",
            Operation::RecordVisit => "record visits",
            Operation::WriteJournal => "write work journals",
            Operation::FileReport => "file reports",
            Operation::ManageReports => "manage reports",
            Operation::WriteFollowUp => "add to follow-up sheets",
            Operation::Read => "read visits and journals",
        }
    }
}

/// Refuses with PERMISSION_DENIED unless the caller's role may perform `operation`.
pub fn authorize(caller: &Caller, operation: Operation) -> Result<(), Problem> {
    caller.require_any(operation.allowed(), operation.describe())
}

/// The salesperson a write is for: `requested`, or the caller when empty. A salesperson may act
/// only for himself; managers and executives for others (the team check needs the target's team,
/// which only customer-profile's users know, so a manager is trusted within the service).
pub fn acting_for(caller: &Caller, requested: &str) -> Result<String, Problem> {
    let requested = requested.trim();
    if requested.is_empty() || requested == caller.sub {
        return Ok(caller.sub.clone());
    }
    if caller.is_any(&[Role::SalesManager, Role::Executive]) {
        Ok(requested.to_owned())
    } else {
        Err(Problem::denied(format!(
            "{} may act only for himself, not for {requested}",
            caller.sub
        )))
    }
}

/// The salesperson a read is scoped to: a salesperson sees only his own records, whatever he
/// asks for; everyone else gets what they asked for (empty: everyone's).
pub fn read_scope(caller: &Caller, requested: &str) -> Result<String, Problem> {
    if caller.role == Role::SalesRep {
        if !requested.is_empty() && requested != caller.sub {
            return Err(Problem::denied(format!(
                "{} may read only his own records, not {requested}'s",
                caller.sub
            )));
        }
        return Ok(caller.sub.clone());
    }
    Ok(requested.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, sub: &str) -> Caller {
        Caller {
            sub: sub.into(),
            name: sub.into(),
            role,
            team: "east".into(),
            scopes: Default::default(),
        }
    }

    #[test]
    fn a_salesperson_acts_only_for_himself() {
        let rep = caller(Role::SalesRep, "rep-1");
        assert_eq!(acting_for(&rep, "").expect("self"), "rep-1");
        assert_eq!(acting_for(&rep, "rep-1").expect("self"), "rep-1");
        assert!(acting_for(&rep, "rep-2").is_err());
        let manager = caller(Role::SalesManager, "boss");
        assert_eq!(acting_for(&manager, "rep-2").expect("team"), "rep-2");
    }

    #[test]
    fn a_salesperson_reads_only_his_own_records() {
        let rep = caller(Role::SalesRep, "rep-1");
        assert_eq!(read_scope(&rep, "").expect("own"), "rep-1");
        assert!(read_scope(&rep, "rep-2").is_err());
        let auditor = caller(Role::Auditor, "a");
        assert_eq!(read_scope(&auditor, "").expect("all"), "");
    }

    #[test]
    fn finance_may_read_but_not_record_visits() {
        let finance = caller(Role::Finance, "f");
        assert!(authorize(&finance, Operation::Read).is_ok());
        assert!(authorize(&finance, Operation::RecordVisit).is_err());
    }
}
