//! Payment terms, payments, claims, repayment plans and the statements.

use chrono::Duration;
use dossier_proto::contract::{self as pb};
use tonic::Code;

use crate::helpers::*;

fn two_ten_net_thirty() -> Option<pb::PaymentTerms> {
    Some(pb::PaymentTerms {
        net_days: 30,
        discount_percent: "2".into(),
        discount_days: 10,
    })
}

#[tokio::test]
async fn two_ten_net_thirty_discounts_on_day_ten_but_not_on_day_eleven() {
    let app = spawn_app().await;
    let customer = app.customer(10).await;
    app.credit_line(&customer, "100000.00").await;
    let c = app
        .active(&customer, "HT-2-10", "20", "50.00", two_ten_net_thirty())
        .await;
    let delivered_on = date("2026-06-01");
    let first = app
        .deliver(&c.id, "10", delivered_on)
        .await
        .expect("first delivery");
    assert_eq!(first.amount, "500.00");
    assert_eq!(first.due_date, "2026-07-01");
    assert_eq!(first.discount_due_date, "2026-06-11");

    // Day 10: 490.00 settles the 500.00 invoice with 10.00 (2 %) off.
    let paid = app
        .pay(
            &customer,
            "490.00",
            delivered_on + Duration::days(10),
            "day-10",
        )
        .await
        .expect("paid");
    assert_eq!(paid.allocations.len(), 1);
    assert_eq!(paid.allocations[0].discount_amount, "10.00");
    assert_eq!(paid.unapplied_amount, "0.00");

    // The second invoice, paid on day 11: no discount, 10.00 stays open.
    let second = app
        .deliver(&c.id, "10", delivered_on)
        .await
        .expect("second delivery");
    app.clock.advance(Duration::days(30));
    let paid = app
        .pay(
            &customer,
            "490.00",
            delivered_on + Duration::days(11),
            "day-11",
        )
        .await
        .expect("paid");
    assert_eq!(paid.allocations[0].receivable_id, second.receivable_id);
    assert_eq!(paid.allocations[0].discount_amount, "0.00");
    let open = app
        .client
        .clone()
        .list_receivables(finance(pb::ListReceivablesRequest {
            customer_id: customer.clone(),
            state: pb::ReceivableState::Open as i32,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(open.total_open_amount, "10.00");
}

#[tokio::test]
async fn overpayments_are_held_as_credit_and_pay_the_next_delivery() {
    let app = spawn_app().await;
    let customer = app.customer(11).await;
    app.credit_line(&customer, "100000.00").await;
    let c = app.active(&customer, "HT-OVER", "10", "100.00", None).await;
    app.deliver(&c.id, "2", date("2026-06-02"))
        .await
        .expect("delivered");
    let paid = app
        .pay(&customer, "250.00", date("2026-06-03"), "over-1")
        .await
        .expect("paid");
    assert_eq!(paid.unapplied_amount, "50.00");
    let d = app
        .deliver(&c.id, "1", date("2026-06-04"))
        .await
        .expect("delivered");
    let receivables = app
        .client
        .clone()
        .list_receivables(finance(pb::ListReceivablesRequest {
            contract_id: c.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    let r = receivables
        .receivables
        .iter()
        .find(|r| r.id == d.receivable_id)
        .expect("new receivable");
    assert_eq!(r.paid_amount, "50.00");
    assert_eq!(r.open_amount, "50.00");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    let customer = app.customer(12).await;
    let mut client = app.client.clone();

    for (amount, why) in [
        ("-5.00", "negative"),
        ("1.005", "over-precise"),
        ("abc", "not a number"),
    ] {
        let status = app
            .pay(
                &customer,
                amount,
                app.today(),
                &format!("bad-{}", why.replace(' ', "-")),
            )
            .await
            .expect_err(why);
        assert_eq!(violated_fields(&status), vec!["payment.amount"], "{why}");
    }
    let status = app
        .pay("no-such-customer", "5.00", app.today(), "bad-customer")
        .await
        .expect_err("unknown customer");
    assert_eq!(violated_fields(&status), vec!["payment.customer_id"]);

    let mut out_of_order = contract(&customer, "HT-BAD", "1", "10.00", None);
    out_of_order.valid_to = "2026-05-01".into();
    let status = client
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(out_of_order),
            request_id: "bad-dates".into(),
        }))
        .await
        .expect_err("dates out of order");
    assert!(violated_fields(&status).contains(&"contract.valid_to".to_owned()));

    let mut over_precise = contract(&customer, "HT-BAD2", "1.0001", "10.001", None);
    over_precise.customer_id = customer.clone();
    let status = client
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(over_precise),
            request_id: "bad-precision".into(),
        }))
        .await
        .expect_err("over-precise");
    let fields = violated_fields(&status);
    assert!(
        fields.contains(&"contract.lines[0].quantity".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"contract.lines[0].unit_price".to_owned()),
        "{fields:?}"
    );

    let status = client
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(contract("no-such-customer", "HT-BAD3", "1", "10.00", None)),
            request_id: "bad-customer-contract".into(),
        }))
        .await
        .expect_err("unknown customer");
    assert_eq!(violated_fields(&status), vec!["contract.customer_id"]);

    // Wrong state transitions.
    let draft = app.draft(&customer, "HT-STATE", "1", "10.00", None).await;
    let status = client
        .complete_contract(manager(pb::CompleteContractRequest {
            id: draft.id.clone(),
            etag: draft.etag.clone(),
            note: String::new(),
        }))
        .await
        .expect_err("a draft cannot complete");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&status).0, "WRONG_STATE");
    let status = app
        .deliver(&draft.id, "1", app.today())
        .await
        .expect_err("no delivery on a draft");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Without a credit line there is no credit: activation needs an override.
    let status = client
        .activate_contract(manager(pb::ActivateContractRequest {
            id: draft.id.clone(),
            etag: draft.etag.clone(),
            r#override: None,
        }))
        .await
        .expect_err("no credit line");
    assert_eq!(error_info(&status).0, "CREDIT_LIMIT_EXCEEDED");

    // Nothing was stored by the refusals.
    let payments = client
        .list_payments(finance(pb::ListPaymentsRequest {
            customer_id: customer.clone(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(payments.total_size, 0);
    let contracts = client
        .list_contracts(finance(pb::ListContractsRequest {
            customer_id: customer.clone(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(contracts.total_size, 1, "only the valid draft");
    assert_eq!(app.status(&customer).await.exposure, "0.00");
}

#[tokio::test]
async fn claims_plans_and_deferrals_move_the_debt() {
    let app = spawn_app().await;
    let customer = app.customer(13).await;
    app.credit_line(&customer, "100000.00").await;
    let mut client = app.client.clone();
    let c = app.active(&customer, "HT-DEBT", "100", "30.00", None).await;
    let d = app
        .deliver(&c.id, "100", date("2026-06-01"))
        .await
        .expect("delivered");

    // A claim for damaged goods, approved for less, reduces the receivable.
    let claim = client
        .file_return_claim(manager(pb::FileReturnClaimRequest {
            claim: Some(pb::ReturnClaim {
                delivery_id: d.id.clone(),
                kind: pb::ReturnClaimKind::Compensation as i32,
                amount: "300.00".into(),
                quantity: "10".into(),
                reason: "运输破损".into(),
                ..Default::default()
            }),
            request_id: "claim-1".into(),
        }))
        .await
        .expect("filed")
        .into_inner();
    let decided = client
        .decide_return_claim(manager(pb::DecideReturnClaimRequest {
            id: claim.id.clone(),
            decision: pb::Decision::Approve as i32,
            approved_amount: "200.00".into(),
            responsibility: Some(pb::ResponsibilityFinding {
                party: pb::ResponsibleParty::Carrier as i32,
                cause: "装卸不当".into(),
                ..Default::default()
            }),
            etag: claim.etag.clone(),
            ..Default::default()
        }))
        .await
        .expect("decided")
        .into_inner();
    assert_eq!(decided.state, pb::ReturnClaimState::Approved as i32);
    assert_eq!(app.status(&customer).await.open_receivables, "2800.00");

    // Aging on 2026-06-15: due 2026-07-01, not yet due → 0–30 bucket, nothing overdue.
    let aging = client
        .get_aging(finance(pb::GetAgingRequest {
            customer_id: customer.clone(),
            ..Default::default()
        }))
        .await
        .expect("aging")
        .into_inner();
    assert_eq!(aging.buckets[0].amount, "2800.00");
    assert_eq!(aging.not_due_amount, "2800.00");
    assert_eq!(aging.overdue_amount, "0.00");

    // A repayment agreement over the debt, two instalments.
    let plan = client
        .create_repayment_plan(manager(pb::CreateRepaymentPlanRequest {
            plan: Some(pb::RepaymentPlan {
                customer_id: customer.clone(),
                agreement_no: "XY-001".into(),
                signed_date: "2026-06-15".into(),
                instalments: vec![
                    pb::Instalment {
                        due_date: "2026-06-30".into(),
                        amount: "1400.00".into(),
                        ..Default::default()
                    },
                    pb::Instalment {
                        due_date: "2026-07-31".into(),
                        amount: "1400.00".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            request_id: "plan-1".into(),
        }))
        .await
        .expect("plan")
        .into_inner();
    assert_eq!(plan.debt_amount, "2800.00");

    // Instalments that do not add up are refused.
    let status = client
        .create_repayment_plan(manager(pb::CreateRepaymentPlanRequest {
            plan: Some(pb::RepaymentPlan {
                customer_id: customer.clone(),
                signed_date: "2026-06-15".into(),
                receivable_ids: vec![d.receivable_id.clone()],
                instalments: vec![pb::Instalment {
                    due_date: "2026-06-30".into(),
                    amount: "1.00".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: "plan-2".into(),
        }))
        .await
        .expect_err("in a plan already");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // A deferral of the first instalment, approved by the manager.
    let deferral = client
        .request_deferral(as_role(
            dossier_kit::auth::Role::SalesRep,
            pb::RequestDeferralRequest {
                deferral: Some(pb::Deferral {
                    plan_id: plan.id.clone(),
                    instalment_number: 1,
                    requested_due_date: "2026-07-15".into(),
                    reason: "资金周转".into(),
                    ..Default::default()
                }),
                request_id: "defer-1".into(),
            },
        ))
        .await
        .expect("requested")
        .into_inner();
    let status = client
        .decide_deferral(as_role(
            dossier_kit::auth::Role::SalesRep,
            pb::DecideDeferralRequest {
                id: deferral.id.clone(),
                decision: pb::Decision::Approve as i32,
                ..Default::default()
            },
        ))
        .await
        .expect_err("a salesperson cannot approve");
    assert_eq!(status.code(), Code::PermissionDenied);
    client
        .decide_deferral(manager(pb::DecideDeferralRequest {
            id: deferral.id.clone(),
            decision: pb::Decision::Approve as i32,
            etag: deferral.etag.clone(),
            ..Default::default()
        }))
        .await
        .expect("approved");

    // Pay the first instalment; on 2026-08-05 the second is overdue.
    app.pay(&customer, "1400.00", app.today(), "inst-1")
        .await
        .expect("paid");
    app.clock.advance(Duration::days(51));
    let plan = client
        .get_repayment_plan(finance(pb::GetRepaymentPlanRequest {
            id: plan.id.clone(),
        }))
        .await
        .expect("plan")
        .into_inner();
    assert_eq!(plan.instalments[0].state, pb::InstalmentState::Paid as i32);
    assert_eq!(plan.instalments[0].due_date, "2026-07-15");
    assert_eq!(plan.instalments[0].original_due_date, "2026-06-30");
    assert_eq!(
        plan.instalments[1].state,
        pb::InstalmentState::Overdue as i32
    );
    assert_eq!(plan.overdue_amount, "1400.00");

    // The feed carries every change, the overdue instalment included.
    use futures::StreamExt;
    let mut stream = client
        .watch_changes(finance(
            dossier_proto::common::WatchChangesRequest::default(),
        ))
        .await
        .expect("watch")
        .into_inner();
    let mut types = Vec::new();
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(std::time::Duration::from_millis(500), stream.next()).await
    {
        types.push(event.event_type);
    }
    for expected in [
        "credit_line.approved",
        "contract.created",
        "contract.signed",
        "delivery.recorded",
        "return_claim.decided",
        "repayment_plan.created",
        "deferral.decided",
        "payment.recorded",
        "instalment.overdue",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} missing from {types:?}"
        );
    }

    // The performance sheet of June: the delivery and the first collection.
    let sheet = client
        .get_performance(finance(pb::GetPerformanceRequest {
            customer_id: customer.clone(),
            period: "2026-06".into(),
        }))
        .await
        .expect("performance")
        .into_inner();
    assert_eq!(sheet.sales_amount, "3000.00");
    assert_eq!(sheet.collected_amount, "1400.00");
    assert_eq!(sheet.cumulative_sales, "3000.00");
    assert_eq!(sheet.cumulative_collections, "1400.00");
    assert_eq!(sheet.lines.len(), 1);
    assert_eq!(sheet.lines[0].goods_value, "3000.00");
    assert_eq!(sheet.lines[0].collected_amount, "1400.00");
    assert!(sheet.credit_evaluation.is_some());
    let july = client
        .get_performance(finance(pb::GetPerformanceRequest {
            customer_id: customer.clone(),
            period: "2026-Q3".into(),
        }))
        .await
        .expect("performance")
        .into_inner();
    // Due 2026-07-01, open on 2026-08-05: 35 days late → C, by the stated rule.
    let evaluation = july.credit_evaluation.expect("evaluated");
    assert_eq!(
        evaluation.rating,
        pb::CreditRating::C as i32,
        "{}",
        evaluation.rule
    );
    assert_eq!(july.cumulative_sales, "3000.00");
}
