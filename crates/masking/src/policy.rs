//! The masking policy as data: who may see which sensitivity class of a record, by role and by
//! the caller's relation to the record (DOMAIN.md §6, "gateway").
//!
//! Everything the gateway decides about field visibility is in [`ROLE_TABLE`] and
//! [`SCOPE_TABLE`]; the engine only looks values up here. Two classes are not policy but
//! invariants of the contract and are fixed in code: `SENSITIVITY_METADATA` is always revealed
//! (ids, versions, timestamps: needed to use the API at all) and `SENSITIVITY_UNSPECIFIED` is always
//! cleared (a field nobody classified is treated as the most restricted: deny by default).

use dossier_kit::auth::{Caller, Role};
use dossier_proto::sensitivity::{FieldAnnotation, MaskStyle, Sensitivity};

/// What the caller may see of one field. Ordered from least to most revealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// The field is removed from the message.
    Clear,
    /// The field is shown in its partial form (its `MaskStyle`), or cleared when it has none.
    Partial,
    /// The field is shown as it is.
    Reveal,
}

/// The caller's relation to the record a message is about, decided from the message's
/// `customer_ref` field (see the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relation {
    /// The caller is the customer's responsible salesperson (责任业务员 = self).
    Owner,
    /// The customer belongs to the caller's sales team.
    Team,
    /// The caller holds an active, approved borrowing grant (借阅) for this customer.
    Borrower,
    /// None of the above, or the record is unknown.
    Other,
}

impl Relation {
    /// Every relation, for tables and tests.
    pub const ALL: [Relation; 4] = [
        Relation::Owner,
        Relation::Team,
        Relation::Borrower,
        Relation::Other,
    ];
}

/// The content classes the tables decide, in the column order of [`RoleRow::access`].
/// `METADATA` and `UNSPECIFIED` are not columns: they are fixed (see the module docs).
pub const CONTENT_CLASSES: [Sensitivity; 6] = [
    Sensitivity::PublicIdentity,
    Sensitivity::Contact,
    Sensitivity::Personal,
    Sensitivity::Business,
    Sensitivity::Financial,
    Sensitivity::Internal,
];

/// One row of the role table: what `role` sees of a record it stands in one of `relations` to.
#[derive(Debug, Clone, Copy)]
pub struct RoleRow {
    /// The access level.
    pub role: Role,
    /// The relations this row covers.
    pub relations: &'static [Relation],
    /// Access per class, in [`CONTENT_CLASSES`] order:
    /// PUBLIC_IDENTITY, CONTACT, PERSONAL, BUSINESS, FINANCIAL, INTERNAL.
    pub access: [Access; 6],
}

const R: Access = Access::Reveal;
const P: Access = Access::Partial;
const C: Access = Access::Clear;

use Relation::{Borrower, Other, Owner, Team};

const ANY_RELATION: &[Relation] = &[Owner, Team, Borrower, Other];
const ALL_REVEALED: [Access; 6] = [R; 6];

/// The role × relation table. Every role except `integration` has exactly one row per relation
/// (a unit test checks it); `integration` is decided by [`SCOPE_TABLE`] instead.
///
/// Columns:                                  PUBLIC  CONTACT PERSONAL BUSINESS FINANCIAL INTERNAL
pub static ROLE_TABLE: &[RoleRow] = &[
    // §6 roles table, `sales_rep`, own customers: identity, contacts' name/title/phone/email,
    // business, contracts and credit status; never personal fields (and not our internal notes).
    row(Role::SalesRep, &[Owner], [R, R, C, R, R, C]),
    // §6 `sales_rep`, others' customers: only company name, contact names, job titles (发放制度).
    row(Role::SalesRep, &[Team, Other], [R, C, C, C, C, C]),
    // §6 Borrowing: an active grant lifts the borrower to full view of that one archive.
    row(Role::SalesRep, &[Borrower], ALL_REVEALED),
    // §6 `customer_service`: everything (seed: full data), whatever the relation.
    row(Role::CustomerService, ANY_RELATION, ALL_REVEALED),
    // §6 `sales_manager`: everything for the team (own customers included); borrowing lifts too.
    row(Role::SalesManager, &[Owner, Team, Borrower], ALL_REVEALED),
    // §6 `sales_manager`, outside the team: identity and business; contact channels only in part.
    row(Role::SalesManager, &[Other], [R, P, C, R, C, C]),
    // §6 `executive` (经理级以上): everything.
    row(Role::Executive, ANY_RELATION, ALL_REVEALED),
    // §6 `finance`: contracts, receivables, credit, payments and customer identity; no personal
    // fields. Contact channels in part (enough to recognise a debtor, not to call around).
    row(Role::Finance, &[Owner, Team, Other], [R, P, C, R, R, C]),
    // §6 Borrowing: full view of the borrowed archive, whatever the role.
    row(Role::Finance, &[Borrower], ALL_REVEALED),
    // §6 `archivist` (档案管理员): everything; the custodian reviews, closes and merges.
    row(Role::Archivist, ANY_RELATION, ALL_REVEALED),
    // §6 `auditor`: the audit log; business data masked: identity, contact channels in part.
    row(Role::Auditor, &[Owner, Team, Other], [R, P, C, C, C, C]),
    // §6 Borrowing: full view of the borrowed archive, whatever the role.
    row(Role::Auditor, &[Borrower], ALL_REVEALED),
];

const fn row(role: Role, relations: &'static [Relation], access: [Access; 6]) -> RoleRow {
    RoleRow {
        role,
        relations,
        access,
    }
}

/// The scope table of `integration` service accounts (§6: "what its scopes name, masked
/// accordingly"): each scope reveals the listed classes; everything else is cleared. No scope
/// but `customers.personal` / `customers.internal` reaches PERSONAL or INTERNAL.
///
/// Integration accounts are decided by scope alone, whatever the relation: borrowing is a filed
/// form of a person (客户资料借阅表), and a service account owns no customers.
pub static SCOPE_TABLE: &[(&str, &[Sensitivity])] = &[
    (
        "customers.basic",
        &[
            Sensitivity::PublicIdentity,
            Sensitivity::Contact,
            Sensitivity::Business,
        ],
    ),
    ("customers.contact", &[Sensitivity::Contact]),
    ("receivables", &[Sensitivity::Financial]),
    ("finance", &[Sensitivity::Financial]),
    ("customers.personal", &[Sensitivity::Personal]),
    ("customers.internal", &[Sensitivity::Internal]),
];

/// The access of a caller, for one relation, to every class: the policy resolved once so the
/// engine can look a field up by array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants([Access; 8]);

impl Grants {
    /// Resolves the tables for `caller` standing in `relation` to a record.
    pub fn new(caller: &Caller, relation: Relation) -> Grants {
        let mut columns = [C; 6];
        if caller.role == Role::Integration {
            for (scope, classes) in SCOPE_TABLE {
                if caller.scopes.contains(*scope) {
                    for class in *classes {
                        if let Some(column) = column(*class) {
                            columns[column] = R;
                        }
                    }
                }
            }
        } else if let Some(found) = ROLE_TABLE
            .iter()
            .find(|row| row.role == caller.role && row.relations.contains(&relation))
        {
            columns = found.access;
        }
        // A role × relation missing from the table keeps every column Clear: deny by default.
        let mut grants = [C; 8];
        for (class, access) in CONTENT_CLASSES.iter().zip(columns) {
            grants[*class as usize] = access;
        }
        // Fixed by the contract, not by policy (module docs).
        grants[Sensitivity::Metadata as usize] = R;
        grants[Sensitivity::Unspecified as usize] = C;
        Grants(grants)
    }

    /// The access to one class.
    #[inline]
    pub fn get(&self, sensitivity: Sensitivity) -> Access {
        // `Sensitivity` is a closed enum with discriminants 0..=7, so the index is in range; the
        // fallback only guards against a future variant numbered past the array.
        self.0
            .get(sensitivity as usize)
            .copied()
            .unwrap_or(Access::Clear)
    }
}

/// The column of a content class in [`RoleRow::access`]; `None` for the fixed classes. The match
/// has no wildcard on purpose: a class added to the contract fails to compile here until the
/// policy says what to do with it.
fn column(sensitivity: Sensitivity) -> Option<usize> {
    match sensitivity {
        Sensitivity::PublicIdentity => Some(0),
        Sensitivity::Contact => Some(1),
        Sensitivity::Personal => Some(2),
        Sensitivity::Business => Some(3),
        Sensitivity::Financial => Some(4),
        Sensitivity::Internal => Some(5),
        Sensitivity::Metadata | Sensitivity::Unspecified => None,
    }
}

/// The access of `caller`, standing in `relation` to a record, to a field of class `sensitivity`.
pub fn access(caller: &Caller, relation: Relation, sensitivity: Sensitivity) -> Access {
    Grants::new(caller, relation).get(sensitivity)
}

/// The caller's relation to a record a salesperson wrote that names no customer at its top (a
/// work journal, a visit plan, a market report), decided from its author (`author_ref`) and the
/// author's team (`author_team`, empty when the message has none): the author is the caller →
/// `Owner` (the author reads and writes their own record as an owner does their customer's); the
/// author is in the caller's team → `Team` (the team's manager reviews it); else `Other`. A
/// caller or author without a team is in no team.
pub fn author_relation(caller: &Caller, author: &str, team: &str) -> Relation {
    if !author.is_empty() && author == caller.sub {
        Relation::Owner
    } else if !team.is_empty() && team == caller.team {
        Relation::Team
    } else {
        Relation::Other
    }
}

/// The caller's relation to an aggregate limited to one team's customers (a request field marked
/// `team_scope`): a member of that team stands to the totals as to the team's customers (`Team`);
/// anyone else, or an aggregate over every team (`team` empty), as to any customer (`Other`).
pub fn team_scope_relation(caller: &Caller, team: &str) -> Relation {
    author_relation(caller, "", team)
}

/// Applies a field's mask style to an access: `Partial` on a field without a partial form
/// degrades to `Clear`.
#[inline]
pub fn with_mask(access: Access, mask: MaskStyle) -> Access {
    if access == Access::Partial && mask == MaskStyle::Unspecified {
        Access::Clear
    } else {
        access
    }
}

/// The access of `caller`, standing in `relation` to a record, to a field with these annotations
/// (class and mask style together). Not defined for message-typed fields, which have no partial
/// form: the engine clears those unless revealed.
pub fn field_access(caller: &Caller, relation: Relation, annotation: &FieldAnnotation) -> Access {
    with_mask(
        access(caller, relation, annotation.sensitivity),
        annotation.mask,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const ALL_CLASSES: [Sensitivity; 8] = [
        Sensitivity::Unspecified,
        Sensitivity::Metadata,
        Sensitivity::PublicIdentity,
        Sensitivity::Contact,
        Sensitivity::Personal,
        Sensitivity::Business,
        Sensitivity::Financial,
        Sensitivity::Internal,
    ];

    fn caller(role: Role, scopes: &[&str]) -> Caller {
        Caller {
            sub: "u-1".into(),
            name: String::new(),
            role,
            team: "east".into(),
            scopes: scopes
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>(),
        }
    }

    const EVERY_SCOPE: &[&str] = &[
        "customers.basic",
        "customers.contact",
        "receivables",
        "finance",
        "customers.personal",
        "customers.internal",
    ];

    #[test]
    fn every_role_and_relation_has_exactly_one_row() {
        for role in Role::ALL {
            for relation in Relation::ALL {
                let rows = ROLE_TABLE
                    .iter()
                    .filter(|row| row.role == role && row.relations.contains(&relation))
                    .count();
                let expected = usize::from(role != Role::Integration);
                assert_eq!(rows, expected, "{role} × {relation:?}");
            }
        }
    }

    #[test]
    fn unspecified_is_cleared_for_everyone() {
        for role in Role::ALL {
            for relation in Relation::ALL {
                let caller = caller(role, EVERY_SCOPE);
                assert_eq!(
                    access(&caller, relation, Sensitivity::Unspecified),
                    Access::Clear,
                    "{role} × {relation:?}"
                );
            }
        }
    }

    #[test]
    fn metadata_is_revealed_to_everyone() {
        for role in Role::ALL {
            for relation in Relation::ALL {
                let caller = caller(role, &[]);
                assert_eq!(
                    access(&caller, relation, Sensitivity::Metadata),
                    Access::Reveal,
                    "{role} × {relation:?}"
                );
            }
        }
    }

    #[test]
    fn borrowing_reveals_everything_to_people() {
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Integration) {
            let caller = caller(role, &[]);
            for class in ALL_CLASSES.into_iter().skip(1) {
                assert_eq!(access(&caller, Borrower, class), R, "{role} {class:?}");
            }
        }
    }

    #[test]
    fn sales_rep_sees_own_customers_without_personal_and_others_reduced() {
        let rep = caller(Role::SalesRep, &[]);
        assert_eq!(access(&rep, Owner, Sensitivity::Contact), R);
        assert_eq!(access(&rep, Owner, Sensitivity::Financial), R);
        assert_eq!(access(&rep, Owner, Sensitivity::Personal), C);
        assert_eq!(access(&rep, Owner, Sensitivity::Internal), C);
        for relation in [Team, Other] {
            assert_eq!(access(&rep, relation, Sensitivity::PublicIdentity), R);
            for class in [
                Sensitivity::Contact,
                Sensitivity::Personal,
                Sensitivity::Business,
                Sensitivity::Financial,
                Sensitivity::Internal,
            ] {
                assert_eq!(access(&rep, relation, class), C, "{relation:?} {class:?}");
            }
        }
    }

    #[test]
    fn integration_is_decided_by_scope_alone() {
        let none = caller(Role::Integration, &[]);
        for relation in Relation::ALL {
            for class in CONTENT_CLASSES {
                assert_eq!(access(&none, relation, class), C, "{relation:?} {class:?}");
            }
        }
        let basic = caller(Role::Integration, &["customers.basic"]);
        let erp = caller(Role::Integration, &["receivables"]);
        for relation in Relation::ALL {
            assert_eq!(access(&basic, relation, Sensitivity::PublicIdentity), R);
            assert_eq!(access(&basic, relation, Sensitivity::Contact), R);
            assert_eq!(access(&basic, relation, Sensitivity::Business), R);
            assert_eq!(access(&basic, relation, Sensitivity::Financial), C);
            assert_eq!(access(&basic, relation, Sensitivity::Personal), C);
            assert_eq!(access(&basic, relation, Sensitivity::Internal), C);
            assert_eq!(access(&erp, relation, Sensitivity::Financial), R);
            assert_eq!(access(&erp, relation, Sensitivity::PublicIdentity), C);
        }
        let contact = caller(Role::Integration, &["customers.contact", "finance"]);
        assert_eq!(access(&contact, Other, Sensitivity::Contact), R);
        assert_eq!(access(&contact, Other, Sensitivity::Financial), R);
        assert_eq!(access(&contact, Other, Sensitivity::PublicIdentity), C);
        let all = caller(Role::Integration, EVERY_SCOPE);
        assert_eq!(access(&all, Other, Sensitivity::Personal), R);
        assert_eq!(access(&all, Other, Sensitivity::Internal), R);
    }

    #[test]
    fn partial_without_a_mask_style_is_cleared() {
        let auditor = caller(Role::Auditor, &[]);
        let styled = FieldAnnotation {
            sensitivity: Sensitivity::Contact,
            mask: MaskStyle::Phone,
            customer_ref: false,
            author_ref: false,
            author_team: false,
            masked_fields: false,
            team_scope: false,
        };
        let plain = FieldAnnotation {
            mask: MaskStyle::Unspecified,
            ..styled
        };
        assert_eq!(field_access(&auditor, Other, &styled), P);
        assert_eq!(field_access(&auditor, Other, &plain), C);
        assert_eq!(with_mask(R, MaskStyle::Unspecified), R);
    }

    #[test]
    fn access_is_ordered_from_clear_to_reveal() {
        assert!(C < P && P < R);
    }
}
