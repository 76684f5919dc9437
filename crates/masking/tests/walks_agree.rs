//! `mask_bytes` works on the encoding directly; `mask_message` on a decoded `DynamicMessage`.
//! They must make the same decisions: on real messages (same bytes, same report) and on
//! corrupted ones (same refusal, or the same masked content).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;

use common::*;
use dossier_kit::auth::{Caller, Role};
use dossier_masking::{MaskReport, Masker, Relation};
use dossier_proto::common::ChangeEvent;
use dossier_proto::customer::{CustomerVersion, GetCustomerHistoryResponse, ListCustomersResponse};
use prost::Message;
use prost_reflect::{DynamicMessage, ReflectMessage, Value};

fn masker() -> &'static Masker {
    static MASKER: std::sync::OnceLock<Masker> = std::sync::OnceLock::new();
    MASKER.get_or_init(Masker::new)
}

fn relation_of(relation: Relation) -> impl Fn(&str) -> Relation {
    move |id: &str| {
        if id == CUSTOMER_ID {
            relation
        } else {
            Relation::Other
        }
    }
}

/// Masks through the reflective walk: decode, `mask_message`, encode.
fn reflective(
    name: &str,
    bytes: &[u8],
    caller: &Caller,
    relation_of: &dyn Fn(&str) -> Relation,
) -> Option<(Vec<u8>, MaskReport)> {
    let descriptor = masker().pool().get_message_by_name(name).unwrap();
    let mut message = DynamicMessage::decode(descriptor, bytes).ok()?;
    let report = masker().mask_message(&mut message, caller, relation_of);
    Some((message.encode_to_vec(), report))
}

fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let mut planter = Planter::default();
    let card = customer(&mut planter, CUSTOMER_ID);
    let other = customer(&mut planter, "cust-other");
    let event = ChangeEvent {
        sequence: 7,
        event_type: "customer.updated".into(),
        aggregate_id: CUSTOMER_ID.into(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_770_000_000,
            nanos: 1,
        }),
        actor_id: "u-1".into(),
        payload: Some(prost_types::Any {
            type_url: "type.googleapis.com/dossier.customer.v1.Customer".into(),
            value: card.encode_to_vec(),
        }),
        customer_id: CUSTOMER_ID.into(),
        masked_fields: Vec::new(),
    };
    let page = ListCustomersResponse {
        customers: vec![card.clone(), other.clone()],
        next_page_token: "next".into(),
        total_size: 2,
    };
    let history = GetCustomerHistoryResponse {
        versions: vec![CustomerVersion {
            version: 2,
            actor_id: "u-2".into(),
            change_time: None,
            kind: 2,
            changed_fields: vec!["phone".into()],
            old_values: Some(other),
            new_values: Some(card.clone()),
            note: "cny-note".into(),
        }],
        next_page_token: String::new(),
        total_size: 1,
    };
    let mut with_unknown = card.encode_to_vec();
    with_unknown.extend_from_slice(&[0xBA, 0x3E, 3, b'x', b'y', b'z']);
    vec![
        (CUSTOMER, card.encode_to_vec()),
        ("dossier.common.v1.ChangeEvent", event.encode_to_vec()),
        (
            "dossier.customer.v1.ListCustomersResponse",
            page.encode_to_vec(),
        ),
        (
            "dossier.customer.v1.GetCustomerHistoryResponse",
            history.encode_to_vec(),
        ),
        (CUSTOMER, with_unknown),
    ]
}

#[test]
fn both_walks_give_the_same_bytes_and_report() {
    for (name, bytes) in samples() {
        for caller in callers() {
            for relation in Relation::ALL {
                let relation_of = relation_of(relation);
                let label = format!("{name} {} {:?} {relation:?}", caller.role, caller.scopes);
                let fast = masker()
                    .mask_bytes(name, &bytes, &caller, &relation_of)
                    .unwrap();
                let slow = reflective(name, &bytes, &caller, &relation_of).unwrap();
                assert_eq!(fast.1, slow.1, "{label}");
                assert_eq!(fast.0, slow.0, "{label}");
            }
        }
    }
}

/// A small deterministic generator, so a failure replays.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..=rng.below(3) {
        if out.is_empty() {
            break;
        }
        let at = rng.below(out.len());
        match rng.below(6) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => out[at] = rng.next() as u8,
            2 => {
                out.remove(at);
            }
            3 => out.insert(at, rng.next() as u8),
            4 => out.truncate(at),
            _ => {
                // Repeat a slice: duplicated fields, split messages.
                let len = 1 + rng.below(40.min(out.len() - at));
                let piece = out[at..at + len].to_vec();
                let to = rng.below(out.len());
                out.splice(to..to, piece);
            }
        }
    }
    out
}

/// The canonical encoding of a message: fields in number order, defaults omitted, and the same
/// for the messages packed in its `Any` fields (whose bytes a plain re-encoding leaves as they
/// are).
fn canonical(mut message: DynamicMessage) -> Vec<u8> {
    canonicalise(&mut message);
    message.encode_to_vec()
}

fn canonicalise(message: &mut DynamicMessage) {
    if message.descriptor().full_name() == "google.protobuf.Any" {
        let url = message
            .get_field_by_name("type_url")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let name = url.rsplit('/').next().unwrap_or_default();
        if let Some(descriptor) = masker().pool().get_message_by_name(name) {
            let bytes = message
                .get_field_by_name("value")
                .and_then(|v| v.as_bytes().cloned())
                .unwrap_or_default();
            if let Ok(packed) = DynamicMessage::decode(descriptor, bytes.as_ref()) {
                message.set_field_by_name("value", Value::Bytes(canonical(packed).into()));
            }
        }
        return;
    }
    for (_, value) in message.fields_mut() {
        match value {
            Value::Message(inner) => canonicalise(inner),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        canonicalise(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn sorted(report: &MaskReport) -> BTreeSet<String> {
    report.masked_paths.iter().cloned().collect()
}

#[test]
fn both_walks_agree_on_corrupted_input() {
    // MASKING_FUZZ_ROUNDS / MASKING_FUZZ_SEED run a longer or different search.
    let rounds: usize = std::env::var("MASKING_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let seed: u64 = std::env::var("MASKING_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut rng = XorShift(seed | 1);
    let callers = [
        (caller(Role::SalesRep, &[]), Relation::Owner),
        (caller(Role::SalesRep, &[]), Relation::Other),
        (caller(Role::Auditor, &[]), Relation::Other),
        (caller(Role::Executive, &[]), Relation::Other),
    ];
    let samples = samples();
    let (mut refused, mut masked) = (0, 0);
    for round in 0..rounds {
        let (name, bytes) = &samples[round % samples.len()];
        let input = mutate(&mut rng, bytes);
        let (caller, relation) = &callers[round % callers.len()];
        let relation_of = relation_of(*relation);
        let fast = masker().mask_bytes(name, &input, caller, &relation_of);
        let slow = reflective(name, &input, caller, &relation_of);
        let label = format!("round {round}: {name} {} {relation:?}", caller.role);
        match (fast, slow) {
            (Err(_), None) => refused += 1,
            (Ok((fast, fast_report)), Some((slow, slow_report))) => {
                let descriptor = masker().pool().get_message_by_name(name).unwrap();
                let fast_message = DynamicMessage::decode(descriptor.clone(), fast.as_slice());
                let slow_message = DynamicMessage::decode(descriptor, slow.as_slice()).unwrap();
                // Compared in canonical form: the byte-level walk keeps the input's field order,
                // a decode-encode round trip sorts by number; both mean the same.
                let fast_message = fast_message.expect("the fast output decodes");
                assert_eq!(canonical(fast_message), canonical(slow_message), "{label}");
                assert_eq!(sorted(&fast_report), sorted(&slow_report), "{label}");
                assert_eq!(
                    sorted(&fast_report).len(),
                    fast_report.masked_paths.len(),
                    "{label}: a path twice"
                );
                assert_eq!(
                    fast_report.classes_revealed, slow_report.classes_revealed,
                    "{label}"
                );
                assert_eq!(
                    fast_report.classes_partial, slow_report.classes_partial,
                    "{label}"
                );
                masked += 1;
            }
            (Ok(_), None) => {
                let descriptor = masker().pool().get_message_by_name(name).unwrap();
                let error = DynamicMessage::decode(descriptor, input.as_slice()).err();
                panic!("{label}: accepted what a decoder refuses ({error:?}): {input:?}")
            }
            (Err(error), Some(_)) => panic!("{label}: refused what a decoder accepts: {error}"),
        }
    }
    // Both outcomes must have been exercised for the comparison to mean anything.
    assert!(
        refused > 100 && masked > 100,
        "refused {refused}, masked {masked}"
    );
}

#[test]
fn nested_any_payloads_are_bounded() {
    // An event packing an event packing an event ...: deeper than the limit is wiped, in both
    // walks, instead of recursing without bound.
    let mut planter = Planter::default();
    let card = customer(&mut planter, CUSTOMER_ID);
    let mut packed = prost_types::Any {
        type_url: "type.googleapis.com/dossier.customer.v1.Customer".into(),
        value: card.encode_to_vec(),
    };
    for depth in 0..20 {
        let event = ChangeEvent {
            sequence: depth,
            payload: Some(packed),
            ..Default::default()
        };
        packed = prost_types::Any {
            type_url: "type.googleapis.com/dossier.common.v1.ChangeEvent".into(),
            value: event.encode_to_vec(),
        };
    }
    let name = "dossier.common.v1.ChangeEvent";
    let bytes = ChangeEvent::decode(packed.value.as_slice())
        .unwrap()
        .encode_to_vec();
    let executive = caller(Role::Executive, &[]);
    let fast = masker()
        .mask_bytes(name, &bytes, &executive, &|_| Relation::Other)
        .unwrap();
    let slow = reflective(name, &bytes, &executive, &|_| Relation::Other).unwrap();
    assert_eq!(fast, slow);
    assert!(
        !contains(&fast.0, &card.name),
        "the innermost payload is beyond the limit"
    );
    assert!(fast.1.masked_paths.iter().any(|p| p.ends_with("payload")));
}
