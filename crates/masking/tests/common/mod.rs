//! A customer card with a unique canary string planted in every string field, and the policy of
//! DOMAIN.md §6 restated independently of `policy.rs`, shared by the tests and the benchmark.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use dossier_kit::auth::{Caller, Role};
use dossier_masking::{Access, Relation};
use dossier_proto::customer::{
    Competitor, Contact, Customer, Finance, PersonDetails, SupplySource,
};
use dossier_proto::sensitivity::{self, MaskStyle, Sensitivity};

pub const CUSTOMER: &str = "dossier.customer.v1.Customer";
pub const CUSTOMER_ID: &str = "cust-0001";

/// A planted value and where it sits.
#[derive(Debug, Clone)]
pub struct Canary {
    /// Message type and field name, e.g. (`dossier.customer.v1.Contact`, `phone`).
    pub message: &'static str,
    pub field: &'static str,
    /// The field's path in the masking report's convention.
    pub path: String,
    /// The Customer field holding the sub-message, with its class; `None` at the top.
    pub container: Option<(&'static str, Sensitivity)>,
    pub class: Sensitivity,
    pub mask: MaskStyle,
    pub text: String,
}

/// Where canaries are being planted.
#[derive(Clone, Copy)]
pub struct Spot {
    message: &'static str,
    container: Option<&'static str>,
    step: &'static str,
}

pub const TOP: Spot = Spot {
    message: CUSTOMER,
    container: None,
    step: "",
};
pub const CONTACTS: Spot = Spot {
    message: "dossier.customer.v1.Contact",
    container: Some("contacts"),
    step: "[].",
};
pub const PERSON: Spot = Spot {
    message: "dossier.customer.v1.PersonDetails",
    container: Some("person"),
    step: ".",
};
pub const COMPETITORS: Spot = Spot {
    message: "dossier.customer.v1.Competitor",
    container: Some("competitors"),
    step: "[].",
};
pub const SUPPLY: Spot = Spot {
    message: "dossier.customer.v1.SupplySource",
    container: Some("supply_sources"),
    step: "[].",
};
pub const FINANCE: Spot = Spot {
    message: "dossier.customer.v1.Finance",
    container: Some("finance"),
    step: ".",
};

const DISTRICTS: [&str; 8] = [
    "西湖", "上城", "拱墅", "滨江", "萧山", "余杭", "钱塘", "临平",
];

#[derive(Default)]
pub struct Planter {
    pub canaries: Vec<Canary>,
    seq: u32,
}

impl Planter {
    /// A fresh unique value for `field` of `spot.message`, shaped for the field's mask style so
    /// its partial form can be checked.
    pub fn plant(&mut self, spot: Spot, field: &'static str) -> String {
        let annotation = sensitivity::lookup(spot.message, field)
            .unwrap_or_else(|| panic!("{}.{field} is not in the contract", spot.message));
        self.seq += 1;
        let n = self.seq;
        let text = match annotation.mask {
            MaskStyle::Phone => format!("1380000{n:04}"),
            MaskStyle::CreditCode => format!("91330100MA{n:04}XY5N"),
            MaskStyle::Address => {
                let district = DISTRICTS[n as usize % DISTRICTS.len()];
                format!("浙江省杭州市{district}区文三路{n}号")
            }
            MaskStyle::BankAccount => format!("622202120000{n:04}"),
            MaskStyle::Email => format!("user{n:03}@corp{n:03}.cn"),
            MaskStyle::Unspecified => format!("cny{n:03}-{field}"),
        };
        let container = spot.container.map(|name| {
            let class = sensitivity::lookup(CUSTOMER, name).unwrap().sensitivity;
            (name, class)
        });
        let path = match spot.container {
            Some(name) => format!("{name}{}{field}", spot.step),
            None => field.to_owned(),
        };
        self.canaries.push(Canary {
            message: spot.message,
            field,
            path,
            container,
            class: annotation.sensitivity,
            mask: annotation.mask,
            text: text.clone(),
        });
        text
    }
}

/// A customer card with ten contacts, person details, finance, competitors and supply sources,
/// every string field holding a canary (the id is `id`).
pub fn customer(p: &mut Planter, id: &str) -> Customer {
    let t = TOP;
    let mut c = Customer {
        id: id.to_owned(),
        archive_no: p.plant(t, "archive_no"),
        kind: 1,
        name: p.plant(t, "name"),
        credit_code: p.plant(t, "credit_code"),
        address: p.plant(t, "address"),
        postcode: p.plant(t, "postcode"),
        phone: p.plant(t, "phone"),
        fax: p.plant(t, "fax"),
        email: p.plant(t, "email"),
        bank_name: p.plant(t, "bank_name"),
        bank_account: p.plant(t, "bank_account"),
        industry: p.plant(t, "industry"),
        business_scope: p.plant(t, "business_scope"),
        ownership: 3,
        customer_type: 3,
        channel: 2,
        grade: 1,
        trade_standing: 1,
        lifecycle: 3,
        region: p.plant(t, "region"),
        location_type: 1,
        route_code: p.plant(t, "route_code"),
        route_order: 7,
        owner_id: p.plant(t, "owner_id"),
        team: p.plant(t, "team"),
        custodian_id: p.plant(t, "custodian_id"),
        contacts: Vec::new(),
        competitors: Vec::new(),
        finance: None,
        notes: p.plant(t, "notes"),
        review_due_at: Some(prost_types::Timestamp {
            seconds: 1_780_000_000,
            nanos: 0,
        }),
        etag: p.plant(t, "etag"),
        create_time: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        update_time: Some(prost_types::Timestamp {
            seconds: 1_760_000_000,
            nanos: 0,
        }),
        founded_date: p.plant(t, "founded_date"),
        first_trade_date: p.plant(t, "first_trade_date"),
        staff_count: 120,
        yearly_sales: p.plant(t, "yearly_sales"),
        tags: vec![p.plant(t, "tags"), p.plant(t, "tags")],
        state: 1,
        merged_into_id: p.plant(t, "merged_into_id"),
        supply_sources: Vec::new(),
        sales_situation: p.plant(t, "sales_situation"),
        usage: p.plant(t, "usage"),
        purchase_volume: p.plant(t, "purchase_volume"),
        technical_requirements: p.plant(t, "technical_requirements"),
        our_products: p.plant(t, "our_products"),
        cooperation: p.plant(t, "cooperation"),
        price_float: p.plant(t, "price_float"),
        person: None,
        last_reviewed_at: Some(prost_types::Timestamp {
            seconds: 1_750_000_000,
            nanos: 0,
        }),
        created_by: p.plant(t, "created_by"),
        updated_by: p.plant(t, "updated_by"),
    };
    for i in 0..10 {
        let s = CONTACTS;
        c.contacts.push(Contact {
            name: p.plant(s, "name"),
            sex: 2,
            title: p.plant(s, "title"),
            department: p.plant(s, "department"),
            role: 1 + (i % 3),
            phone: p.plant(s, "phone"),
            email: p.plant(s, "email"),
            birth_date: p.plant(s, "birth_date"),
            education: p.plant(s, "education"),
            native_place: p.plant(s, "native_place"),
            character: p.plant(s, "character"),
            hobbies: p.plant(s, "hobbies"),
            home_address: p.plant(s, "home_address"),
            home_phone: p.plant(s, "home_phone"),
            relation_to_decision_makers: p.plant(s, "relation_to_decision_makers"),
        });
    }
    let s = PERSON;
    c.person = Some(PersonDetails {
        sex: 1,
        birth_date: p.plant(s, "birth_date"),
        employer: p.plant(s, "employer"),
        title: p.plant(s, "title"),
        education: p.plant(s, "education"),
        native_place: p.plant(s, "native_place"),
        character: p.plant(s, "character"),
        hobbies: p.plant(s, "hobbies"),
        home_address: p.plant(s, "home_address"),
        home_phone: p.plant(s, "home_phone"),
    });
    for _ in 0..3 {
        let s = COMPETITORS;
        c.competitors.push(Competitor {
            name: p.plant(s, "name"),
            products: p.plant(s, "products"),
            share_percent: p.plant(s, "share_percent"),
            price: p.plant(s, "price"),
            policy: p.plant(s, "policy"),
        });
    }
    for _ in 0..2 {
        let s = SUPPLY;
        c.supply_sources.push(SupplySource {
            name: p.plant(s, "name"),
            address: p.plant(s, "address"),
            manager: p.plant(s, "manager"),
        });
    }
    let s = FINANCE;
    c.finance = Some(Finance {
        debt_ratio: p.plant(s, "debt_ratio"),
        return_on_assets: p.plant(s, "return_on_assets"),
        total_assets: p.plant(s, "total_assets"),
        condition: p.plant(s, "condition"),
    });
    c
}

pub fn caller(role: Role, scopes: &[&str]) -> Caller {
    Caller {
        sub: "u-rep-1".into(),
        name: "张三".into(),
        role,
        team: "east".into(),
        scopes: scopes
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
    }
}

/// DOMAIN.md §6, restated here independently of `policy.rs` so that a slip in the data table is
/// caught rather than copied.
pub fn expected(caller: &Caller, relation: Relation, class: Sensitivity) -> Access {
    use Access::{Clear as C, Partial as P, Reveal as R};
    use Sensitivity::*;
    match class {
        Metadata => return R,
        Unspecified => return C,
        _ => {}
    }
    if caller.role == Role::Integration {
        let has = |scope: &str| caller.scopes.contains(scope);
        let granted = match class {
            PublicIdentity | Business => has("customers.basic"),
            Contact => has("customers.basic") || has("customers.contact"),
            Financial => has("receivables") || has("finance"),
            Personal => has("customers.personal"),
            Internal => has("customers.internal"),
            Metadata | Unspecified => false,
        };
        return if granted { R } else { C };
    }
    if relation == Relation::Borrower {
        return R;
    }
    match caller.role {
        Role::CustomerService | Role::Executive | Role::Archivist => R,
        Role::SalesRep => match (relation, class) {
            (_, PublicIdentity) => R,
            (Relation::Owner, Contact | Business | Financial) => R,
            _ => C,
        },
        Role::SalesManager => match (relation, class) {
            (Relation::Owner | Relation::Team, _) => R,
            (_, PublicIdentity | Business) => R,
            (_, Contact) => P,
            _ => C,
        },
        Role::Finance => match class {
            PublicIdentity | Business | Financial => R,
            Contact => P,
            _ => C,
        },
        Role::Auditor => match class {
            PublicIdentity => R,
            Contact => P,
            _ => C,
        },
        Role::Integration => C,
    }
}

/// What should become of a canary: its container's class first (a sub-message is either walked
/// or cleared whole), then its own class and mask style.
pub fn expected_for(caller: &Caller, relation: Relation, canary: &Canary) -> Access {
    if let Some((_, class)) = canary.container
        && expected(caller, relation, class) != Access::Reveal
    {
        return Access::Clear;
    }
    match expected(caller, relation, canary.class) {
        Access::Partial if canary.mask == MaskStyle::Unspecified => Access::Clear,
        access => access,
    }
}

/// Every combination the matrix test runs: each role × relation, integration accounts with
/// several scope sets.
pub fn callers() -> Vec<Caller> {
    let mut callers: Vec<Caller> = Role::ALL
        .into_iter()
        .filter(|role| *role != Role::Integration)
        .map(|role| caller(role, &[]))
        .collect();
    for scopes in [
        &[][..],
        &["customers.basic"][..],
        &["customers.contact"][..],
        &["customers.basic", "receivables"][..],
        &[
            "customers.basic",
            "customers.personal",
            "customers.internal",
        ][..],
    ] {
        callers.push(caller(Role::Integration, scopes));
    }
    callers
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
