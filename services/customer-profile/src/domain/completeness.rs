//! Completeness of a card (一个客户一份档案,不得出现缺页丢失): which of the fields the card form
//! asks for are still empty. The required set differs for companies (附表四 / 表2-7) and
//! individuals (表2-8).

use super::card::CustomerCard;
use super::classification::{ContactRole, CustomerKind};

/// The outcome: a percentage and the missing field paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completeness {
    /// Share of required fields that are filled, 0–100, rounded down.
    pub score: i32,
    /// Paths of the empty required fields, in form order.
    pub missing: Vec<&'static str>,
    /// How many fields are required for this kind.
    pub required: i32,
}

type Check = (&'static str, fn(&CustomerCard) -> bool);

/// What the company card asks for, in the order of the form.
const COMPANY: &[Check] = &[
    ("name", |c| !c.name.trim().is_empty()),
    ("credit_code", |c| c.credit_code.is_some()),
    ("address", |c| !c.address.trim().is_empty()),
    ("postcode", |c| c.postcode.is_some()),
    ("phone", |c| c.phone.is_some()),
    ("fax", |c| c.fax.is_some()),
    ("email", |c| c.email.is_some()),
    ("business_scope", |c| !c.business_scope.trim().is_empty()),
    ("industry", |c| !c.industry.trim().is_empty()),
    ("ownership", |c| c.ownership.is_some()),
    ("customer_type", |c| c.customer_type.is_some()),
    ("grade", |c| c.grade.is_some()),
    ("region", |c| !c.region.trim().is_empty()),
    ("owner_id", |c| !c.owner_id.trim().is_empty()),
    ("contacts.decision_maker", |c| {
        has_role(c, ContactRole::DecisionMaker)
    }),
    ("contacts.manager", |c| has_role(c, ContactRole::Manager)),
    ("competitors", |c| !c.competitors.is_empty()),
    ("bank_name", |c| !c.bank_name.trim().is_empty()),
    ("bank_account", |c| !c.bank_account.trim().is_empty()),
    ("finance.debt_ratio", |c| c.finance.debt_ratio.is_some()),
    ("finance.return_on_assets", |c| {
        c.finance.return_on_assets.is_some()
    }),
    ("founded_date", |c| c.founded_date.is_some()),
];

/// What the individual card asks for.
const PERSON: &[Check] = &[
    ("name", |c| !c.name.trim().is_empty()),
    ("phone", |c| c.phone.is_some()),
    ("address", |c| !c.address.trim().is_empty()),
    ("email", |c| c.email.is_some()),
    ("person.sex", |c| {
        c.person.as_ref().is_some_and(|p| p.sex.is_some())
    }),
    ("person.birth_date", |c| {
        c.person.as_ref().is_some_and(|p| p.birth_date.is_some())
    }),
    ("person.employer", |c| {
        c.person
            .as_ref()
            .is_some_and(|p| !p.employer.trim().is_empty())
    }),
    ("person.title", |c| {
        c.person
            .as_ref()
            .is_some_and(|p| !p.title.trim().is_empty())
    }),
    ("grade", |c| c.grade.is_some()),
    ("region", |c| !c.region.trim().is_empty()),
    ("owner_id", |c| !c.owner_id.trim().is_empty()),
];

fn has_role(card: &CustomerCard, role: ContactRole) -> bool {
    card.contacts.iter().any(|c| c.role == Some(role))
}

/// Measures a card.
pub fn assess(card: &CustomerCard) -> Completeness {
    let checks = match card.kind {
        Some(CustomerKind::Person) => PERSON,
        _ => COMPANY,
    };
    let missing: Vec<&'static str> = checks
        .iter()
        .filter(|(_, filled)| !filled(card))
        .map(|(name, _)| *name)
        .collect();
    let required = checks.len() as i32;
    let filled = required - missing.len() as i32;
    Completeness {
        score: filled * 100 / required,
        missing,
        required,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::Contact;

    #[test]
    fn an_empty_company_card_misses_everything_but_the_name() {
        let card = CustomerCard {
            kind: Some(CustomerKind::Company),
            name: "华通机电".into(),
            ..CustomerCard::default()
        };
        let result = assess(&card);
        assert_eq!(result.required, 22);
        assert_eq!(result.missing.len(), 21);
        assert_eq!(result.score, 4);
        assert_eq!(result.missing[0], "credit_code");
    }

    #[test]
    fn a_decision_maker_fills_that_slot() {
        let mut card = CustomerCard {
            kind: Some(CustomerKind::Company),
            name: "华通机电".into(),
            ..CustomerCard::default()
        };
        card.contacts.push(Contact {
            name: "张伟".into(),
            role: Some(ContactRole::DecisionMaker),
            ..Contact::default()
        });
        let result = assess(&card);
        assert!(!result.missing.contains(&"contacts.decision_maker"));
        assert!(result.missing.contains(&"contacts.manager"));
    }
}
