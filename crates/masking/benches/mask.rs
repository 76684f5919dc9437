//! Masking one customer card with ten contacts (target: under 20 µs per message).
//!
//! `cargo bench -p dossier-masking` prints the time per message of:
//! - `generated decode+encode`: the generated prost code decoding and encoding the card — a
//!   calibration: the fastest a full decode can be on this machine;
//! - `decode+encode`: decoding the bytes as a `DynamicMessage` and encoding it again, nothing
//!   else (the baseline the brief asks for);
//! - `reflective`: decode, `Masker::mask_message`, encode — the reflective walk;
//! - `mask_bytes`: `Masker::mask_bytes`, the byte-level walk the gateway uses on the bytes it
//!   forwards (bytes in, masked bytes out).
//!
//! The machine is shared (builds, other benchmarks, a virtualised CPU), so every measurement is
//! taken in `BATCHES` batches, the batches of all measurements interleaved so that all of them
//! see the same disturbances; each line gives the fastest batch and, in brackets, the median one.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use dossier_kit::auth::Role;
use dossier_masking::{Masker, Relation};
use dossier_proto::customer::Customer;
use prost::Message;
use prost_reflect::DynamicMessage;

/// Calls per measurement, after the warm-up.
const ITERATIONS: u32 = 20_000;
const WARMUP: u32 = 2_000;
const BATCHES: u32 = 40;

struct Measurement<'a> {
    label: String,
    run: Box<dyn FnMut() + 'a>,
    batches: Vec<Duration>,
}

impl<'a> Measurement<'a> {
    fn new(label: impl Into<String>, run: impl FnMut() + 'a) -> Self {
        Measurement {
            label: label.into(),
            run: Box::new(run),
            batches: Vec::new(),
        }
    }

    fn best(&self) -> f64 {
        micros(self.batches.iter().min().copied().unwrap_or_default())
    }

    fn median(&self) -> f64 {
        let mut sorted = self.batches.clone();
        sorted.sort();
        micros(sorted.get(sorted.len() / 2).copied().unwrap_or_default())
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn run_all(measurements: &mut [Measurement<'_>]) {
    for m in measurements.iter_mut() {
        for _ in 0..WARMUP {
            (m.run)();
        }
    }
    let per_batch = ITERATIONS / BATCHES;
    for _ in 0..BATCHES {
        for m in measurements.iter_mut() {
            let start = Instant::now();
            for _ in 0..per_batch {
                (m.run)();
            }
            m.batches.push(start.elapsed() / per_batch);
        }
    }
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
    let cases = [
        ("sales_rep, Other (target)", Role::SalesRep, Relation::Other),
        ("sales_rep, Owner", Role::SalesRep, Relation::Owner),
        ("auditor, Other (partial)", Role::Auditor, Relation::Other),
        (
            "executive (nothing masked)",
            Role::Executive,
            Relation::Other,
        ),
    ];
    let callers: Vec<_> = cases
        .iter()
        .map(|(_, role, _)| common::caller(*role, &[]))
        .collect();

    let bytes = bytes.as_slice();
    let descriptor = &descriptor;
    let masker = &masker;
    let mut measurements = vec![
        Measurement::new("generated decode+encode", || {
            let typed = Customer::decode(black_box(bytes)).unwrap();
            black_box(typed.encode_to_vec());
        }),
        Measurement::new("decode+encode (baseline)", || {
            let message = DynamicMessage::decode(descriptor.clone(), black_box(bytes)).unwrap();
            black_box(message.encode_to_vec());
        }),
    ];
    let mut masked_paths = Vec::new();
    for ((label, _, relation), caller) in cases.iter().zip(&callers) {
        let relation = *relation;
        let (_, report) = masker
            .mask_bytes(common::CUSTOMER, bytes, caller, &move |_| relation)
            .unwrap();
        masked_paths.push(report.masked_paths.len());
        measurements.push(Measurement::new(
            format!("{label}: reflective"),
            move || {
                let mut message =
                    DynamicMessage::decode(descriptor.clone(), black_box(bytes)).unwrap();
                black_box(masker.mask_message(&mut message, caller, &move |_| relation));
                black_box(message.encode_to_vec());
            },
        ));
        measurements.push(Measurement::new(
            format!("{label}: mask_bytes"),
            move || {
                let out = masker
                    .mask_bytes(common::CUSTOMER, black_box(bytes), caller, &move |_| {
                        relation
                    })
                    .unwrap();
                black_box(out);
            },
        ));
    }

    run_all(&mut measurements);

    println!(
        "customer card: {} bytes, {} contacts, {} planted strings; {ITERATIONS} calls per line \
         after {WARMUP} warm-up, in {BATCHES} interleaved batches",
        bytes.len(),
        card.contacts.len(),
        planter.canaries.len()
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "µs per message", "fastest", "median"
    );
    for m in &measurements {
        println!("{:<44} {:>10.2} {:>10.2}", m.label, m.best(), m.median());
    }
    for ((label, _, _), paths) in cases.iter().zip(masked_paths) {
        println!("{label}: {paths} masked paths");
    }
}
