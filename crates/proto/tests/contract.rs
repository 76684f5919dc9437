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
