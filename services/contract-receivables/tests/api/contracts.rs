//! Contracts: numbers, amendments and versions, deliveries bounded by the contract, overrides,
//! and customer-profile being down.

use dossier_proto::contract::{self as pb};
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_delivery_beyond_the_remaining_quantity_is_refused() {
    let app = spawn_app().await;
    let customer = app.customer(20).await;
    app.credit_line(&customer, "50000.00").await;
    let c = app.active(&customer, "HT-QTY", "10", "33.33", None).await;
    app.deliver(&c.id, "7.5", date("2026-06-02"))
        .await
        .expect("delivered");
    let status = app
        .deliver(&c.id, "2.501", date("2026-06-03"))
        .await
        .expect_err("beyond");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let (reason, figures) = error_info(&status);
    assert_eq!(reason, "QUANTITY_EXCEEDS_CONTRACT");
    assert_eq!(figures.get("remaining").map(String::as_str), Some("2.5"));
    // The last delivery takes exactly the rest of the line's value: no fen is lost.
    let last = app
        .deliver(&c.id, "2.5", date("2026-06-03"))
        .await
        .expect("the rest");
    let first_value = dec("249.98"); // 7.5 × 33.33 = 249.975 → 249.98
    assert_eq!(dec(&last.amount) + first_value, dec("333.30"));
}

#[tokio::test]
async fn contract_numbers_are_unique_and_requests_idempotent() {
    let app = spawn_app().await;
    let customer = app.customer(21).await;
    let mut client = app.client.clone();
    let message = contract(&customer, "HT-UNIQUE", "1", "10.00", None);
    let first = client
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(message.clone()),
            request_id: "create-1".into(),
        }))
        .await
        .expect("created")
        .into_inner();
    let again = client
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(message.clone()),
            request_id: "create-1".into(),
        }))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(first, again);
    let status = client
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(message),
            request_id: "create-2".into(),
        }))
        .await
        .expect_err("number taken");
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn amendments_are_new_versions_and_old_versions_stay_readable() {
    let app = spawn_app().await;
    let customer = app.customer(22).await;
    app.credit_line(&customer, "2000.00").await;
    let mut client = app.client.clone();
    let c = app
        .active(&customer, "HT-AMEND", "10", "100.00", None)
        .await;
    app.deliver(&c.id, "4", date("2026-06-05"))
        .await
        .expect("delivered");
    let c = client
        .get_contract(finance(pb::GetContractRequest {
            id: c.id.clone(),
            version: 0,
        }))
        .await
        .expect("get")
        .into_inner();

    let amendment = |quantity: &str| pb::ContractAmendment {
        reason: "客户追加订货".into(),
        description: "数量调整".into(),
        lines: vec![pb::ContractLine {
            product: "液压油 46#".into(),
            unit: "桶".into(),
            quantity: quantity.into(),
            unit_price: "100.00".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    // A salesperson may not amend.
    let status = client
        .amend_contract(as_role(
            dossier_kit::auth::Role::SalesRep,
            pb::AmendContractRequest {
                id: c.id.clone(),
                amendment: Some(amendment("15")),
                etag: c.etag.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not a manager");
    assert_eq!(status.code(), Code::PermissionDenied);
    // Raising the contract to 25 would take exposure to 2500 > 2000.
    let status = client
        .amend_contract(manager(pb::AmendContractRequest {
            id: c.id.clone(),
            amendment: Some(amendment("25")),
            etag: c.etag.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("over the line");
    assert_eq!(error_info(&status).0, "CREDIT_LIMIT_EXCEEDED");
    // A stale etag is refused.
    let status = client
        .amend_contract(manager(pb::AmendContractRequest {
            id: c.id.clone(),
            amendment: Some(amendment("15")),
            etag: "1".into(),
            ..Default::default()
        }))
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::Aborted);
    let amended = client
        .amend_contract(manager(pb::AmendContractRequest {
            id: c.id.clone(),
            amendment: Some(amendment("15")),
            etag: c.etag.clone(),
            ..Default::default()
        }))
        .await
        .expect("amended")
        .into_inner();
    assert_eq!(amended.version, 2);
    assert_eq!(amended.total_amount, "1500.00");
    assert_eq!(amended.lines[0].delivered_quantity, "4");
    assert_eq!(amended.amendments[0].approver_id, "sales_manager-1");

    let v1 = client
        .get_contract(finance(pb::GetContractRequest {
            id: c.id.clone(),
            version: 1,
        }))
        .await
        .expect("version 1")
        .into_inner();
    assert_eq!(v1.total_amount, "1000.00");
    let versions = client
        .list_contract_versions(finance(pb::ListContractVersionsRequest {
            id: c.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("versions")
        .into_inner();
    assert_eq!(
        versions
            .versions
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(app.status(&customer).await.exposure, "1500.00");
}

#[tokio::test]
async fn an_approved_override_lets_one_activation_exceed_the_line() {
    let app = spawn_app().await;
    let customer = app.customer(23).await;
    app.credit_line(&customer, "1000.00").await;
    let mut client = app.client.clone();
    let c = app.draft(&customer, "HT-OVR", "12", "100.00", None).await;
    let o = client
        .request_credit_override(as_role(
            dossier_kit::auth::Role::SalesRep,
            pb::RequestCreditOverrideRequest {
                customer_id: customer.clone(),
                contract_id: c.id.clone(),
                amount: "200.00".into(),
                reason: "旺季备货".into(),
                request_id: "ovr-1".into(),
            },
        ))
        .await
        .expect("requested")
        .into_inner();
    let with_override = |id: &str| {
        Some(pb::OverrideApproval {
            override_id: id.into(),
            ..Default::default()
        })
    };
    let status = client
        .activate_contract(manager(pb::ActivateContractRequest {
            id: c.id.clone(),
            etag: c.etag.clone(),
            r#override: with_override(&o.id),
        }))
        .await
        .expect_err("not approved yet");
    assert_eq!(error_info(&status).0, "OVERRIDE_NOT_USABLE");
    client
        .decide_credit_override(manager(pb::DecideCreditOverrideRequest {
            id: o.id.clone(),
            decision: pb::Decision::Approve as i32,
            ..Default::default()
        }))
        .await
        .expect("approved");
    let active = client
        .activate_contract(manager(pb::ActivateContractRequest {
            id: c.id.clone(),
            etag: c.etag.clone(),
            r#override: with_override(&o.id),
        }))
        .await
        .expect("activated with the override")
        .into_inner();
    assert_eq!(active.override_id, o.id);
    let used = client
        .list_credit_overrides(finance(pb::ListCreditOverridesRequest {
            customer_id: customer.clone(),
            state: pb::CreditOverrideState::Used as i32,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(used.total_size, 1);
    // Over the line now: a further delivery stops unless a manager approves in the call.
    let status = app
        .deliver(&c.id, "1", date("2026-06-10"))
        .await
        .expect_err("over the line");
    assert_eq!(error_info(&status).0, "CREDIT_LIMIT_EXCEEDED");
    client
        .record_delivery(manager(pb::RecordDeliveryRequest {
            delivery: Some(pb::Delivery {
                contract_id: c.id.clone(),
                line_no: 1,
                delivery_date: "2026-06-10".into(),
                quantity: "1".into(),
                ..Default::default()
            }),
            request_id: "deliver-over".into(),
            r#override: Some(pb::OverrideApproval {
                manager_approval: true,
                reason: "老客户, 经理特批".into(),
                ..Default::default()
            }),
        }))
        .await
        .expect("delivered with the manager's approval");
}

#[tokio::test]
async fn customer_profile_down_is_a_clear_unavailable() {
    let app = spawn_without_customer_profile().await;
    let status = app
        .client
        .clone()
        .create_contract(manager(pb::CreateContractRequest {
            contract: Some(contract("some-customer", "HT-DOWN", "1", "10.00", None)),
            request_id: "down-1".into(),
        }))
        .await
        .expect_err("customer-profile is down");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("customer-profile"),
        "{}",
        status.message()
    );
}
