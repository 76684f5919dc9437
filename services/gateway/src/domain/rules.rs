//! The record-level rules the gateway adds to the masking table (DOMAIN.md §6), as data: what a
//! salesperson may list and search (查询制度), which fields only some roles may set, and which
//! documents a borrow never lends. The masking policy itself is `dossier_masking::policy`.

use dossier_kit::auth::{Caller, Role};

/// Lists a `sales_rep` may run only over their own customers: the method and the path of its
/// owner filter in the request. An empty filter is set to the caller; another owner is refused.
pub const OWN_CUSTOMERS_ONLY: &[(&str, &str)] = &[
    (
        "/dossier.customer.v1.CustomerService/ListCustomers",
        "owner_id",
    ),
    (
        "/dossier.customer.v1.CustomerService/ExportCustomers",
        "filter.owner_id",
    ),
];

/// Searches across the whole archive, which a `sales_rep` may not run at all (no global search).
pub const ARCHIVE_WIDE_SEARCHES: &[&str] = &["/dossier.customer.v1.CustomerService/FindDuplicates"];

/// Roles limited to their own customers for lists, searches and writes.
pub const OWN_RECORDS_ROLES: &[Role] = &[Role::SalesRep];

/// Whether `caller` is limited to their own customers.
pub fn limited_to_own(caller: &Caller) -> bool {
    OWN_RECORDS_ROLES.contains(&caller.role)
}

/// A field only some roles may set (or set only to themselves).
#[derive(Debug, Clone, Copy)]
pub struct ProtectedField {
    /// Full name: `<message full name>.<field>`.
    pub field: &'static str,
    /// Roles that may set it to anything.
    pub roles: &'static [Role],
    /// What other callers may still set it to: their own `sub` or team (a salesperson opening a
    /// card for themselves), or nothing.
    pub own_value: OwnValue,
}

/// What a caller outside [`ProtectedField::roles`] may set a protected field to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnValue {
    /// Their own `sub`.
    Sub,
    /// Their own team.
    Team,
    /// Nothing.
    Nothing,
}

const MANAGERS: &[Role] = &[
    Role::CustomerService,
    Role::SalesManager,
    Role::Executive,
    Role::Archivist,
    Role::Integration,
];

/// Fields whose value decides who owns a record or how much credit a customer gets.
pub const PROTECTED_FIELDS: &[ProtectedField] = &[
    ProtectedField {
        field: "dossier.customer.v1.Customer.owner_id",
        roles: MANAGERS,
        own_value: OwnValue::Sub,
    },
    ProtectedField {
        field: "dossier.customer.v1.Customer.team",
        roles: MANAGERS,
        own_value: OwnValue::Team,
    },
    ProtectedField {
        field: "dossier.customer.v1.Customer.custodian_id",
        roles: &[Role::Executive, Role::Archivist],
        own_value: OwnValue::Nothing,
    },
    ProtectedField {
        field: "dossier.contract.v1.CreditLine.approved_amount",
        roles: &[Role::SalesManager, Role::Executive],
        own_value: OwnValue::Nothing,
    },
    ProtectedField {
        field: "dossier.contract.v1.ApproveCreditLineRequest.approved_amount",
        roles: &[Role::SalesManager, Role::Executive],
        own_value: OwnValue::Nothing,
    },
];

/// Whether `caller` may set the field `full_name` to `value`; `None` when the field is not
/// protected.
pub fn may_set_protected(caller: &Caller, full_name: &str, value: &str) -> Option<bool> {
    let rule = PROTECTED_FIELDS.iter().find(|p| p.field == full_name)?;
    Some(
        rule.roles.contains(&caller.role)
            || match rule.own_value {
                OwnValue::Sub => value == caller.sub,
                OwnValue::Team => value == caller.team,
                OwnValue::Nothing => false,
            },
    )
}

/// Responses that may carry an original document (原始资料): the method and the path of the
/// `original` flag. An original is viewable by those entitled, never lent: a borrow does not
/// reach it.
pub const ORIGINALS: &[(&str, &str)] = &[(
    "/dossier.customer.v1.CustomerService/GetDocument",
    "document.original",
)];

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            sub: "rep-1".into(),
            name: "rep".into(),
            role,
            team: "east".into(),
            scopes: Default::default(),
        }
    }

    #[test]
    fn a_salesperson_sets_owner_and_team_only_to_themselves() {
        let rep = caller(Role::SalesRep);
        let owner = "dossier.customer.v1.Customer.owner_id";
        let team = "dossier.customer.v1.Customer.team";
        assert_eq!(may_set_protected(&rep, owner, "rep-1"), Some(true));
        assert_eq!(may_set_protected(&rep, owner, "rep-2"), Some(false));
        assert_eq!(may_set_protected(&rep, team, "east"), Some(true));
        assert_eq!(may_set_protected(&rep, team, "north"), Some(false));
        assert_eq!(
            may_set_protected(&caller(Role::SalesManager), owner, "rep-2"),
            Some(true)
        );
        assert_eq!(
            may_set_protected(&rep, "dossier.customer.v1.Customer.name", "x"),
            None
        );
    }

    #[test]
    fn only_managers_approve_credit() {
        let field = "dossier.contract.v1.ApproveCreditLineRequest.approved_amount";
        assert_eq!(
            may_set_protected(&caller(Role::Finance), field, "1"),
            Some(false)
        );
        assert_eq!(
            may_set_protected(&caller(Role::SalesRep), field, "1"),
            Some(false)
        );
        assert_eq!(
            may_set_protected(&caller(Role::SalesManager), field, "1"),
            Some(true)
        );
    }
}
