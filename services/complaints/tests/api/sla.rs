//! Reply-time targets: overdue exactly at the target, targets by grade fixed at filing, the
//! soon-due list, business hours, and the escalation list.

use chrono::Duration;
use dossier_kit::auth::Role;
use dossier_proto::complaint::{self as pb};
use dossier_proto::customer::{self as cpb, Grade};
use tonic::Code;

use crate::helpers::*;

fn overdue_only() -> pb::ListComplaintsRequest {
    pb::ListComplaintsRequest {
        overdue: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_complaint_becomes_overdue_exactly_at_its_target() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let c = app.file(&customer, "交货延迟").await;
    let due = app.now() + Duration::hours(48);
    assert_eq!(
        c.reply_due_time.as_ref().map(|t| t.seconds),
        Some(due.timestamp())
    );
    assert!(!c.overdue);

    app.clock.set(due - Duration::seconds(1));
    assert!(!app.get(&c.id).await.overdue);
    assert_eq!(app.list(overdue_only()).await.total_size, 0);

    app.clock.set(due);
    assert!(app.get(&c.id).await.overdue);
    let overdue = app.list(overdue_only()).await;
    assert_eq!(overdue.total_size, 1);
    assert_eq!(overdue.complaints[0].id, c.id);

    // A reply ends it: replied complaints are not overdue, even when the reply was late.
    let c = app.analyse(&app.get(&c.id).await).await.expect("ok");
    let c = app.handle(&c, "h").await.expect("ok");
    let c = app.reply(&c).await.expect("ok");
    assert!(!c.overdue);
    assert_eq!(app.list(overdue_only()).await.total_size, 0);
}

#[tokio::test]
async fn targets_follow_the_grade_at_filing_and_do_not_move_when_the_grade_changes() {
    let app = spawn_with(serde_json::json!({"reply_hours_by_grade": {"A": 24}})).await;
    let key_account = app.customer("重点客户", Grade::A).await;
    let ordinary = app.customer("一般客户", Grade::C).await;
    let a = app.file(&key_account, "质量").await;
    let c = app.file(&ordinary, "质量").await;
    let in_hours = |m: &pb::Complaint| {
        (m.reply_due_time.as_ref().expect("due").seconds - app.now().timestamp()) / 3600
    };
    assert_eq!((in_hours(&a), in_hours(&c)), (24, 48));

    // The key account is downgraded: its open complaint keeps the promise made, new ones get 48 h.
    let mut customers = app.customers.clone();
    let customer = customers
        .get_customer(as_role(
            Role::Archivist,
            cpb::GetCustomerRequest {
                id: key_account.clone(),
            },
        ))
        .await
        .expect("read")
        .into_inner();
    customers
        .update_customer(as_role(
            Role::Archivist,
            cpb::UpdateCustomerRequest {
                customer: Some(cpb::Customer {
                    id: key_account.clone(),
                    grade: Grade::C as i32,
                    ..cpb::Customer::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["grade".into()],
                }),
                etag: customer.etag,
            },
        ))
        .await
        .expect("downgraded");
    assert_eq!(in_hours(&app.get(&a.id).await), 24);
    assert_eq!(in_hours(&app.file(&key_account, "又一次").await), 48);
}

#[tokio::test]
async fn the_soon_due_list_holds_what_falls_due_within_the_window_and_not_yet_overdue() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let first = app.file(&customer, "一").await;
    app.clock.advance(Duration::hours(10));
    let second = app.file(&customer, "二").await;
    // first is due at +48 h, second at +58 h; now is +40 h.
    app.clock.advance(Duration::hours(30));
    let soon = |hours: i32| pb::ListComplaintsRequest {
        due_within_hours: hours,
        ..Default::default()
    };
    let within_8 = app.list(soon(8)).await;
    assert_eq!(
        within_8
            .complaints
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        [first.id.as_str()]
    );
    assert_eq!(app.list(soon(18)).await.total_size, 2);
    app.clock.advance(Duration::hours(8));
    // first is overdue now, so no longer "soon due".
    let within_8 = app.list(soon(8)).await;
    assert_eq!(within_8.total_size, 0);
    assert_eq!(app.list(soon(10)).await.complaints[0].id, second.id);
    let bad = app
        .client
        .clone()
        .list_complaints(desk(soon(-1)))
        .await
        .expect_err("negative");
    assert_eq!(violated_fields(&bad), ["due_within_hours"]);
}

#[tokio::test]
async fn with_business_hours_the_clock_stops_at_night_and_at_weekends() {
    // 09:00–18:00 UTC on working days. The test clock starts Monday 09:00 UTC.
    let app = spawn_with(serde_json::json!({
        "reply_hours": 16,
        "business_hours": {"start_hour": 9, "end_hour": 18, "utc_offset_minutes": 0},
    }))
    .await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let c = app.file(&customer, "交货").await;
    // 9 h on Monday, 7 h on Tuesday → Tuesday 16:00.
    let due = app.now() + Duration::hours(24 + 7);
    assert_eq!(
        c.reply_due_time.as_ref().map(|t| t.seconds),
        Some(due.timestamp())
    );
}

#[tokio::test]
async fn an_escalated_complaint_is_on_the_managers_list_until_closed() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let c = app.file(&customer, "交货").await;
    app.file(&customer, "另一件").await;
    let escalated = app
        .client
        .clone()
        .escalate_complaint(desk(pb::EscalateComplaintRequest {
            id: c.id.clone(),
            escalate_to_id: "manager-1".into(),
            reason: "逾期未回复".into(),
            etag: c.etag.clone(),
        }))
        .await
        .expect("escalated")
        .into_inner();
    assert_eq!(escalated.state, pb::ComplaintState::Received as i32);
    assert_eq!(escalated.escalations.len(), 1);
    assert_eq!(escalated.escalations[0].escalated_to_id, "manager-1");
    assert_eq!(escalated.escalations[0].escalated_by, "customer_service-1");

    let list = app
        .client
        .clone()
        .list_complaints(as_role(
            Role::SalesManager,
            pb::ListComplaintsRequest {
                escalated: true,
                ..Default::default()
            },
        ))
        .await
        .expect("manager lists")
        .into_inner();
    assert_eq!(list.total_size, 1);
    assert_eq!(list.complaints[0].id, c.id);

    let mut c = app.analyse(&escalated).await.expect("ok");
    c = app.handle(&c, "h").await.expect("ok");
    c = app.reply(&c).await.expect("ok");
    c = app
        .close(&c, pb::CustomerReaction::PartlySatisfied)
        .await
        .expect("ok");
    let list = app
        .list(pb::ListComplaintsRequest {
            escalated: true,
            include_closed: true,
            ..Default::default()
        })
        .await;
    assert_eq!(list.total_size, 0);
    let refused = app
        .client
        .clone()
        .escalate_complaint(desk(pb::EscalateComplaintRequest {
            id: c.id.clone(),
            escalate_to_id: "manager-1".into(),
            reason: "again".into(),
            etag: String::new(),
        }))
        .await
        .expect_err("closed");
    assert_eq!(refused.code(), Code::FailedPrecondition);
}
