//! The two races that must never lose money: concurrent payments with retried request ids,
//! and concurrent activations against one credit line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dossier_proto::contract::{self as pb};
use rust_decimal::Decimal;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn concurrent_payments_with_repeats_record_each_request_once() {
    let app = spawn_app().await;
    let customer = app.customer(1).await;
    app.credit_line(&customer, "100000.00").await;
    let c = app
        .active(&customer, "HT-PAY-1", "100", "99.99", None)
        .await;
    app.deliver(&c.id, "100", date("2026-06-02"))
        .await
        .expect("delivered");
    let day = app.today();

    // 200 distinct requests with amounts of varying cents, then 50 repeats of the first 50:
    // 35 unchanged (true retries) and 15 with the amount changed.
    let amount = |i: u32| format!("{}.{:02}", 10 + i % 37, (i * 7) % 100);
    let mut calls: Vec<(u32, String, bool)> = (0..200).map(|i| (i, amount(i), false)).collect();
    for i in 0..50u32 {
        let changed = i % 10 < 3;
        let a = if changed {
            format!("{}.01", 500 + i)
        } else {
            amount(i)
        };
        calls.push((i, a, changed));
    }
    // Interleave so repeats race their originals.
    calls.sort_by_key(|(i, _, repeat)| (*i, *repeat));
    let mut tasks = Vec::new();
    for (i, a, changed) in calls {
        let mut client = app.client.clone();
        let customer = customer.clone();
        tasks.push(tokio::spawn(async move {
            let reply = client
                .record_payment(finance(payment_request(
                    &customer,
                    &a,
                    day,
                    &format!("pay-{i}"),
                )))
                .await
                .map(|r| r.into_inner());
            (i, changed, reply)
        }));
    }
    let mut first: std::collections::HashMap<u32, pb::Payment> = Default::default();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    let mut refused = 0;
    for (i, changed, reply) in &results {
        match reply {
            Ok(p) if !changed => {
                if let Some(earlier) = first.get(i) {
                    assert_eq!(
                        earlier, p,
                        "a true repeat of pay-{i} gets the identical reply"
                    );
                } else {
                    first.insert(*i, p.clone());
                }
            }
            Ok(p) => {
                // A changed repeat may only succeed if it ran first; then the original is
                // the one refused. Either way one of the pair is refused.
                first.entry(*i).or_insert_with(|| p.clone());
            }
            Err(status) => {
                assert_eq!(status.code(), Code::AlreadyExists, "pay-{i}: {status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused, 15,
        "every changed repeat (or its original) is refused"
    );
    assert_eq!(first.len(), 200);

    let listed = app
        .client
        .clone()
        .list_payments(finance(pb::ListPaymentsRequest {
            customer_id: customer.clone(),
            page_size: 500,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total_size, 200, "exactly 200 payments");
    let expected: Decimal = first.values().map(|p| dec(&p.amount)).sum();
    assert_eq!(
        dec(&listed.total_amount),
        expected,
        "the exact sum of the recorded amounts"
    );
    let listed_sum: Decimal = listed.payments.iter().map(|p| dec(&p.amount)).sum();
    assert_eq!(listed_sum, expected);

    // Money is conserved: what the receivable received plus the credit held is what came in.
    let receivables = app
        .client
        .clone()
        .list_receivables(finance(pb::ListReceivablesRequest {
            customer_id: customer.clone(),
            ..Default::default()
        }))
        .await
        .expect("receivables")
        .into_inner();
    let paid: Decimal = receivables
        .receivables
        .iter()
        .map(|r| dec(&r.paid_amount))
        .sum();
    let unapplied: Decimal = first.values().map(|p| dec(&p.unapplied_amount)).sum();
    assert_eq!(paid + unapplied, expected);
    assert_eq!(dec(&receivables.receivables[0].amount), dec("9999.00"));
}

#[tokio::test]
async fn concurrent_activations_never_overdraw_the_credit_line() {
    let app = spawn_app().await;
    let customer = app.customer(2).await;
    app.credit_line(&customer, "10000.00").await;
    let mut drafts = Vec::new();
    for i in 0..100 {
        drafts.push(
            app.draft(&customer, &format!("HT-CR-{i:03}"), "1", "150.00", None)
                .await,
        );
    }

    // A watcher reads the exposure throughout: it must never see it above the line.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let mut client = app.client.clone();
        let customer = customer.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut max = Decimal::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let s = client
                    .get_credit_status(finance(pb::GetCreditStatusRequest {
                        customer_id: customer.clone(),
                    }))
                    .await
                    .expect("status")
                    .into_inner();
                max = max.max(dec(&s.exposure));
            }
            max
        })
    };
    let mut tasks = Vec::new();
    for d in drafts {
        let mut client = app.client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .activate_contract(manager(pb::ActivateContractRequest {
                    id: d.id,
                    etag: d.etag,
                    r#override: None,
                }))
                .await
        }));
    }
    let mut activated = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => activated += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                let (reason, figures) = error_info(&status);
                assert_eq!(reason, "CREDIT_LIMIT_EXCEEDED");
                assert_eq!(
                    figures.get("credit_line").map(String::as_str),
                    Some("10000.00")
                );
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let max_seen = watcher.await.expect("watcher");
    assert_eq!(activated, 66);
    assert_eq!(refused, 34);
    assert!(max_seen <= dec("10000.00"), "exposure seen at {max_seen}");
    let s = app.status(&customer).await;
    assert_eq!(s.exposure, "9900.00");
    assert_eq!(s.available, "100.00");
}

/// Payments arriving together are recorded together (one transaction per batch); a payment a
/// rule refuses must be answered alone and leave nothing, while the others of its batch are
/// recorded, each once, against the receivables the ones before it left.
#[tokio::test]
async fn a_refused_payment_leaves_the_rest_of_its_batch_recorded() {
    let app = spawn_app().await;
    let day = app.today();
    let mut receivable_of = Vec::new();
    let mut customers = Vec::new();
    for n in 1..=2 {
        let customer = app.customer(n).await;
        app.credit_line(&customer, "100000.00").await;
        let c = app
            .active(
                &customer,
                &format!("HT-BATCH-{n}"),
                "10",
                "100.00",
                Some(pb::PaymentTerms {
                    net_days: 30,
                    ..Default::default()
                }),
            )
            .await;
        let d = app
            .deliver(&c.id, "10", date("2026-06-02"))
            .await
            .expect("delivered");
        receivable_of.push(d.receivable_id);
        customers.push(customer);
    }
    // Per customer: 15 payments of 70.00 (1,050.00 against a 1,000.00 receivable), and 10
    // directed at the other customer's receivable, which must be refused.
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let mut client = app.client.clone();
        let own = (i % 2) as usize;
        let customer = customers[own].clone();
        let foreign = i % 5 == 4;
        let mut request = payment_request(&customer, "70.00", day, &format!("batch-{i}"));
        if foreign {
            request.payment.as_mut().expect("payment").receivable_ids =
                vec![receivable_of[1 - own].clone()];
        }
        tasks.push(tokio::spawn(async move {
            let reply = client.record_payment(finance(request)).await;
            (own, foreign, reply.map(|r| r.into_inner()))
        }));
    }
    let mut recorded = [Vec::new(), Vec::new()];
    for task in tasks {
        let (own, foreign, reply) = task.await.expect("task");
        match (foreign, reply) {
            (false, Ok(p)) => recorded[own].push(p),
            (true, Err(status)) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
                assert_eq!(violated_fields(&status), ["payment.receivable_ids[0]"]);
            }
            (foreign, other) => panic!("foreign={foreign}: {other:?}"),
        }
    }
    for (own, customer) in customers.iter().enumerate() {
        assert_eq!(recorded[own].len(), 20, "every payment of a good request");
        let listed = app
            .client
            .clone()
            .list_payments(finance(pb::ListPaymentsRequest {
                customer_id: customer.clone(),
                page_size: 100,
                ..Default::default()
            }))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.total_size, 20, "nothing of a refused payment");
        assert_eq!(dec(&listed.total_amount), dec("1400.00"));
        // Money is conserved across the batch: 1,000.00 reached the receivable, in order,
        // and 400.00 is held as credit; no payment saw a stale balance.
        let applied: Decimal = recorded[own]
            .iter()
            .flat_map(|p| p.allocations.iter())
            .map(|a| dec(&a.amount))
            .sum();
        let unapplied: Decimal = recorded[own].iter().map(|p| dec(&p.unapplied_amount)).sum();
        assert_eq!(applied, dec("1000.00"));
        assert_eq!(unapplied, dec("400.00"));
        let status = app.status(customer).await;
        assert_eq!(dec(&status.open_receivables), dec("0.00"), "{status:?}");
    }
}
