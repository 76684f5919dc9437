//! Masking one customer card with ten contacts (target: under 20 µs per message).
//!
//! `cargo bench -p dossier-masking` prints, per case, the mean time per message of:
//! - `decode+encode`: decoding the bytes as a `DynamicMessage` and encoding it again, nothing
//!   else (the baseline, measured in the same run);
//! - `reflective`: decode, `Masker::mask_message`, encode — the reflective walk;
//! - `mask_bytes`: `Masker::mask_bytes`, the byte-level walk the gateway uses on the bytes it
//!   forwards (bytes in, masked bytes out).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use dossier_kit::auth::Role;
use dossier_masking::{Masker, Relation};
use prost::Message;
use prost_reflect::DynamicMessage;

const WARMUP: u32 = 2_000;
const ITERATIONS: u32 = 20_000;

/// Mean time per call: the best of five batches of `iterations / 5` calls after a warm-up. The
/// machine is shared (builds, other benchmarks); the best batch is the least disturbed one.
fn mean(iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..WARMUP {
        f();
    }
    let batch = (iterations / 5).max(1);
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed() / batch
        })
        .min()
        .unwrap_or_default()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let mut planter = common::Planter::default();
    let card = common::customer(&mut planter, common::CUSTOMER_ID);
    let bytes = card.encode_to_vec();
    let masker = Masker::new();
    let descriptor = masker
        .pool()
        .get_message_by_name(common::CUSTOMER)
        .expect("Customer is in the contract");

    if std::env::var_os("PROFILE_ONLY").is_some() {
        let caller = common::caller(Role::SalesRep, &[]);
        for _ in 0..300_000 {
            black_box(masker.mask_bytes(common::CUSTOMER, black_box(bytes.as_slice()), &caller, &|_| Relation::Other).unwrap());
        }
        return;
    }
    println!(
        "customer card: {} bytes, {} contacts, {} planted strings; {ITERATIONS} iterations per case after {WARMUP} warm-up, best of 5 batches",
        bytes.len(),
        card.contacts.len(),
        planter.canaries.len()
    );
    println!(
        "{:<32} {:>14} {:>12} {:>12} {:>8}",
        "case", "decode+encode", "reflective", "mask_bytes", "masked"
    );
    let cases = [
        ("sales_rep, Other (the target)", Role::SalesRep, Relation::Other),
        ("sales_rep, Owner", Role::SalesRep, Relation::Owner),
        ("auditor, Other (partial forms)", Role::Auditor, Relation::Other),
        ("executive (nothing masked)", Role::Executive, Relation::Other),
    ];
    for (label, role, relation) in cases {
        let caller = common::caller(role, &[]);
        let relation_of = move |_: &str| relation;
        let (_, report) = masker
            .mask_bytes(common::CUSTOMER, &bytes, &caller, &relation_of)
            .unwrap();
        let baseline = mean(ITERATIONS, || {
            let message =
                DynamicMessage::decode(descriptor.clone(), black_box(bytes.as_slice())).unwrap();
            black_box(message.encode_to_vec());
        });
        let reflective = mean(ITERATIONS, || {
            let mut message =
                DynamicMessage::decode(descriptor.clone(), black_box(bytes.as_slice())).unwrap();
            black_box(masker.mask_message(&mut message, &caller, &relation_of));
            black_box(message.encode_to_vec());
        });
        let byte_level = mean(ITERATIONS, || {
            let out = masker
                .mask_bytes(
                    common::CUSTOMER,
                    black_box(bytes.as_slice()),
                    &caller,
                    &relation_of,
                )
                .unwrap();
            black_box(out);
        });
        println!(
            "{:<32} {:>11.2} µs {:>9.2} µs {:>9.2} µs {:>8}",
            label,
            micros(baseline),
            micros(reflective),
            micros(byte_level),
            report.masked_paths.len()
        );
    }
}
