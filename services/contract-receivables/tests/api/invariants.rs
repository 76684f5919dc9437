//! Thousands of random operations against the ledger and store directly (fast), checking
//! after every step: receivables = delivered − paid − discounts − approved claims, nothing
//! negative, aging buckets add up to the open balance, and every yuan paid in is either on a
//! receivable or held as credit.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use dossier_contract_receivables::domain::claim::{ClaimState, Finding, ReturnClaim};
use dossier_contract_receivables::domain::contract::{ContractDraft, ContractLine, PaymentTerms};
use dossier_contract_receivables::domain::credit::OverrideUse;
use dossier_contract_receivables::domain::movement::{Delivery, Payment};
use dossier_contract_receivables::domain::receivable::Receivable;
use dossier_contract_receivables::ledger::{DeliveryInput, Key, Ledger, PaymentInput, PlanInput};
use dossier_contract_receivables::store::{Filter, Store};
use dossier_kit::auth::{Caller, Role};
use dossier_kit::clock::{Clock, ManualClock};
use dossier_testkit::TestDb;
use rust_decimal::Decimal;

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn cents(&mut self, max_yuan: u64) -> Decimal {
        Decimal::new((self.below(max_yuan * 100) + 1) as i64, 2)
    }
}

fn key(n: u64) -> String {
    format!("k-{n}")
}

async fn check(store: &Store, customer: &str, today: NaiveDate, step: usize) {
    let f = Filter::customer(customer);
    let deliveries: Vec<Delivery> = store.all(&f).await.expect("deliveries");
    let receivables: Vec<Receivable> = store.all(&f).await.expect("receivables");
    let payments: Vec<Payment> = store.all(&f).await.expect("payments");
    let claims: Vec<ReturnClaim> = store.all(&f).await.expect("claims");
    let delivered: Decimal = deliveries.iter().map(|d| d.amount).sum();
    let paid: Decimal = receivables.iter().map(|r| r.paid_amount).sum();
    let discounts: Decimal = receivables.iter().map(|r| r.discount_amount).sum();
    let approved: Decimal = claims
        .iter()
        .filter(|c| c.state == ClaimState::Approved)
        .map(|c| c.approved_amount)
        .sum();
    let open: Decimal = receivables.iter().map(Receivable::open_amount).sum();
    assert_eq!(
        open,
        delivered - paid - discounts - approved,
        "step {step}: balance rule"
    );
    assert!(
        receivables.iter().all(|r| r.open_amount() >= Decimal::ZERO),
        "step {step}: negative receivable"
    );
    let aging = dossier_contract_receivables::domain::receivable::Aging::of(&receivables, today);
    assert_eq!(aging.total(), open, "step {step}: aging adds up");
    let credit = store.customer_credit(customer).await.expect("credit");
    let received: Decimal = payments.iter().map(|p| p.amount).sum();
    assert_eq!(
        received,
        paid + credit,
        "step {step}: money in = on receivables + credit held"
    );
}

#[tokio::test]
async fn random_operations_keep_the_books_balanced() {
    let db = TestDb::new().await;
    let conn = dossier_kit::db::connect_and_migrate::<
        dossier_contract_receivables::store::migration::Migrator,
    >(&db.url)
    .await
    .expect("db");
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
            .single()
            .expect("time"),
    );
    let ledger = Ledger::new(Store::new(conn), Arc::new(clock.clone()));
    let store = ledger.store().clone();
    let boss = Caller {
        sub: "boss".into(),
        name: "经理".into(),
        role: Role::SalesManager,
        team: "east".into(),
        scopes: Default::default(),
    };
    let customers = ["cust-a", "cust-b"];
    for (i, c) in customers.iter().enumerate() {
        let line = ledger
            .request_credit_line(
                &boss,
                c,
                Decimal::from(10_000_000),
                NaiveDate::from_ymd_opt(2026, 1, 1).expect("d"),
                NaiveDate::from_ymd_opt(2030, 1, 1).expect("d"),
                vec![],
                "",
                Key {
                    request_id: &key(i as u64 + 1_000_000),
                    fingerprint: "x",
                },
            )
            .await
            .expect("line");
        ledger
            .decide_credit_line(&boss, &line.id, Some(None), "", "")
            .await
            .expect("approved");
    }
    let steps: usize = std::env::var("INVARIANT_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut contracts: Vec<(String, String)> = Vec::new(); // (customer, contract id)
    let mut deliveries: Vec<(String, String)> = Vec::new(); // (customer, delivery id)
    let mut refused = 0usize;
    for step in 0..steps {
        let n = step as u64;
        let customer = customers[rng.below(2) as usize];
        let today = clock.now().date_naive();
        let op = rng.below(100);
        let outcome = if op < 12 || contracts.is_empty() {
            let terms = if rng.below(2) == 0 {
                PaymentTerms::default()
            } else {
                PaymentTerms {
                    net_days: 30,
                    discount_percent: Decimal::from(2),
                    discount_days: 10,
                }
            };
            let draft = ContractDraft {
                contract_no: format!("HT-{n}"),
                customer_id: customer.into(),
                signed_date: today,
                signer: String::new(),
                lines: vec![ContractLine {
                    line_no: 1,
                    product: "油".into(),
                    unit: "kg".into(),
                    quantity: Decimal::new((rng.below(100_000) + 1000) as i64, 3),
                    unit_price: rng.cents(90),
                    delivered_quantity: Decimal::ZERO,
                    delivered_amount: Decimal::ZERO,
                    packing: String::new(),
                }],
                terms,
                valid_from: today,
                valid_to: today + Duration::days(365),
                salesperson_id: "rep".into(),
                notes: String::new(),
            };
            match ledger
                .create_contract(
                    &boss,
                    draft,
                    Key {
                        request_id: &key(n),
                        fingerprint: "c",
                    },
                )
                .await
            {
                Ok(c) => ledger
                    .activate_contract(&boss, &c.id, "", OverrideUse::None)
                    .await
                    .map(|c| contracts.push((customer.into(), c.id))),
                Err(e) => Err(e),
            }
        } else if op < 45 {
            let (_, contract_id) = &contracts[rng.below(contracts.len() as u64) as usize];
            let quantity = Decimal::new((rng.below(30_000) + 1) as i64, 3);
            let input = DeliveryInput {
                contract_id: contract_id.clone(),
                line_no: 1,
                delivery_date: today,
                quantity,
                notes: String::new(),
            };
            ledger
                .record_delivery(
                    &boss,
                    input,
                    OverrideUse::None,
                    Key {
                        request_id: &key(n),
                        fingerprint: "d",
                    },
                )
                .await
                .map(|d| deliveries.push((d.customer_id.clone(), d.id)))
        } else if op < 80 {
            let input = PaymentInput {
                customer_id: customer.into(),
                contract_id: String::new(),
                amount: rng.cents(3000),
                received_date: today,
                method: 1,
                reference: String::new(),
                receivable_ids: vec![],
                repayment_plan_id: String::new(),
                notes: String::new(),
                payer_bank_name: String::new(),
                payer_bank_account: String::new(),
            };
            // Every fifth payment is sent twice: the retry must not count.
            let first = ledger
                .record_payment(
                    &boss,
                    input.clone(),
                    Key {
                        request_id: &key(n),
                        fingerprint: "p",
                    },
                )
                .await;
            if rng.below(5) == 0 {
                let again = ledger
                    .record_payment(
                        &boss,
                        input,
                        Key {
                            request_id: &key(n),
                            fingerprint: "p",
                        },
                    )
                    .await;
                assert_eq!(
                    first.as_ref().ok(),
                    again.as_ref().ok(),
                    "step {step}: replay differs"
                );
            }
            first.map(|_| ())
        } else if op < 92 && !deliveries.is_empty() {
            let (_, delivery_id) = &deliveries[rng.below(deliveries.len() as u64) as usize];
            let claim = ReturnClaim {
                id: String::new(),
                customer_id: String::new(),
                contract_id: String::new(),
                delivery_id: delivery_id.clone(),
                kind: 2,
                product: String::new(),
                quantity: None,
                unit: String::new(),
                amount: rng.cents(200),
                reason: "破损".into(),
                finding: None,
                state: ClaimState::Filed,
                approved_amount: Decimal::ZERO,
                decided_by: String::new(),
                decided_at: None,
                decision_comment: String::new(),
                receivable_id: String::new(),
                revision: 0,
                created_at: clock.now(),
                created_by: String::new(),
            };
            match ledger
                .file_claim(
                    &boss,
                    claim,
                    Key {
                        request_id: &key(n),
                        fingerprint: "f",
                    },
                )
                .await
            {
                Ok(filed) => {
                    let finding = Finding {
                        party: 1,
                        cause: "运输".into(),
                        finding: String::new(),
                        assessed_by: "boss".into(),
                        assessed_at: clock.now(),
                    };
                    ledger
                        .decide_claim(
                            &boss,
                            &filed.id,
                            rng.below(3) != 0,
                            None,
                            finding,
                            "",
                            "",
                            Key {
                                request_id: "",
                                fingerprint: "",
                            },
                        )
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(e),
            }
        } else if op < 96 {
            // A plan over everything open outside plans, in two instalments.
            let open: Vec<Receivable> = store
                .all::<Receivable>(&Filter::customer(customer).states(&["open"]))
                .await
                .expect("open");
            let debt: Decimal = open
                .iter()
                .filter(|r| r.repayment_plan_id.is_empty())
                .map(Receivable::open_amount)
                .sum();
            let half = (debt / Decimal::from(2)).round_dp(2);
            let input = PlanInput {
                customer_id: customer.into(),
                agreement_no: format!("XY-{n}"),
                signed_date: today,
                receivable_ids: vec![],
                instalments: vec![
                    (today + Duration::days(30), half),
                    (today + Duration::days(60), debt - half),
                ],
                notes: String::new(),
            };
            ledger
                .create_plan(
                    &boss,
                    input,
                    Key {
                        request_id: &key(n),
                        fingerprint: "plan",
                    },
                )
                .await
                .map(|_| ())
        } else {
            clock.advance(Duration::days(rng.below(9) as i64 + 1));
            ledger.sweep_overdue("").await.map(|_| ())
        };
        if outcome.is_err() {
            refused += 1;
        }
        check(&store, customer, clock.now().date_naive(), step).await;
    }
    // The run exercised the rules rather than failing everything.
    assert!(
        refused < steps / 3,
        "{refused} of {steps} operations refused"
    );
    let payments: Vec<Payment> = store.all(&Filter::default()).await.expect("payments");
    assert!(payments.len() > steps / 5);
}
