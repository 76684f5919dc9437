//! The contract's own rules, checked over every message of every Dossier package.

use dossier_proto::sensitivity::{Sensitivity, annotation, lookup};
use dossier_proto::{API_PACKAGES, descriptor_pool};

fn dossier_messages() -> Vec<prost_reflect::MessageDescriptor> {
    descriptor_pool()
        .all_messages()
        .filter(|message| message.package_name().starts_with("dossier."))
        .collect()
}

#[test]
fn every_field_of_the_contract_carries_a_sensitivity_class() {
    let mut missing = Vec::new();
    let mut fields = 0;
    for message in dossier_messages() {
        for field in message.fields() {
            fields += 1;
            if annotation(&field).sensitivity == Sensitivity::Unspecified {
                missing.push(field.full_name().to_owned());
            }
        }
    }
    assert!(
        fields > 100,
        "expected the whole contract, saw {fields} fields"
    );
    assert!(
        missing.is_empty(),
        "fields without a sensitivity class: {missing:#?}"
    );
}

#[test]
fn every_api_package_is_in_the_descriptor_set() {
    let pool = descriptor_pool();
    for package in API_PACKAGES {
        assert!(
            pool.files().any(|file| file.package_name() == *package),
            "package {package} is missing"
        );
    }
}

#[test]
fn the_lookup_reads_class_and_partial_style() {
    let phone = lookup("dossier.customer.v1.Customer", "phone").expect("Customer.phone exists");
    assert_eq!(phone.sensitivity, Sensitivity::Contact);
    assert_eq!(phone.mask, dossier_proto::sensitivity::MaskStyle::Phone);
    let hobbies = lookup("dossier.customer.v1.Contact", "hobbies").expect("Contact.hobbies exists");
    assert_eq!(hobbies.sensitivity, Sensitivity::Personal);
    let id = lookup("dossier.customer.v1.Customer", "id").expect("Customer.id exists");
    assert!(id.customer_ref);
    assert!(lookup("dossier.customer.v1.Customer", "no_such_field").is_none());
}

#[test]
fn enums_start_with_an_unspecified_zero_value() {
    for file in descriptor_pool().files() {
        if !file.package_name().starts_with("dossier.") {
            continue;
        }
        for en in file.enums().chain(
            file.messages()
                .flat_map(|m| m.child_enums().collect::<Vec<_>>()),
        ) {
            let zero = en.get_value(0).expect("every enum has a zero value");
            assert!(
                zero.name().ends_with("_UNSPECIFIED"),
                "{} zero is {}",
                en.full_name(),
                zero.name()
            );
        }
    }
}

#[test]
fn every_customer_id_field_is_marked_as_a_customer_reference() {
    let unmarked: Vec<String> = dossier_messages()
        .into_iter()
        .flat_map(|message| message.fields().collect::<Vec<_>>())
        .filter(|field| field.name() == "customer_id" || field.name() == "customer_ids")
        .filter(|field| !annotation(field).customer_ref)
        .map(|field| field.full_name().to_owned())
        .collect();
    assert!(
        unmarked.is_empty(),
        "customer ids without customer_ref: {unmarked:#?}"
    );
}

/// The masking engine reads one `author_ref` and one `author_team` per message, as singular
/// strings; anything else would be silently ignored there, so the contract may not have it.
#[test]
fn author_fields_are_single_strings_and_a_team_goes_with_an_author() {
    use prost_reflect::Kind;
    let mut wrong = Vec::new();
    let mut authored = 0;
    for message in dossier_messages() {
        let fields: Vec<_> = message.fields().collect();
        let refs: Vec<_> = fields.iter().filter(|f| annotation(f).author_ref).collect();
        let teams: Vec<_> = fields
            .iter()
            .filter(|f| annotation(f).author_team)
            .collect();
        for field in refs.iter().chain(teams.iter()) {
            if !matches!(field.kind(), Kind::String) || field.is_list() || field.is_map() {
                wrong.push(format!("{}: not a singular string", field.full_name()));
            }
        }
        if refs.len() > 1 || teams.len() > 1 {
            wrong.push(format!(
                "{}: more than one author field",
                message.full_name()
            ));
        }
        if !teams.is_empty() && refs.is_empty() {
            wrong.push(format!(
                "{}: author_team without author_ref",
                message.full_name()
            ));
        }
        authored += refs.len();
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The journal is what the annotation exists for.
    let journal = lookup("dossier.visit.v1.Journal", "salesperson_id").expect("declared");
    let team = lookup("dossier.visit.v1.Journal", "team").expect("declared");
    assert!(journal.author_ref && !journal.customer_ref);
    assert!(team.author_team);
    assert!(authored >= 1);
}
