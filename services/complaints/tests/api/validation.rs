//! Bad input: INVALID_ARGUMENT naming each field, and nothing half-written. Idempotent filing.

use chrono::Duration;
use dossier_kit::time::to_timestamp;
use dossier_proto::complaint::{self as pb};
use dossier_proto::customer::Grade;
use tonic::Code;

use crate::changes::read_events;
use crate::helpers::*;

async fn file(
    app: &TestApp,
    complaint: pb::Complaint,
    request_id: &str,
) -> Result<pb::Complaint, tonic::Status> {
    app.client
        .clone()
        .file_complaint(desk(pb::FileComplaintRequest {
            complaint: Some(complaint),
            request_id: request_id.into(),
        }))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_bad_card_names_every_faulty_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let mut card = app.card(&customer, "");
    card.complainant = " ".into();
    card.complainant_phone = "call me".into();
    card.complaint_time = Some(to_timestamp(app.now() + Duration::hours(1)));
    let status = file(&app, card, "r-1").await.expect_err("invalid");
    assert_eq!(
        violated_fields(&status),
        [
            "complaint.complaint_time",
            "complaint.complainant",
            "complaint.subject",
            "complaint.complainant_phone",
        ]
    );
    let status = file(&app, app.card(&customer, "x"), "")
        .await
        .expect_err("no request id");
    assert_eq!(violated_fields(&status), ["request_id"]);
    let status = file(&app, app.card("no-such-customer", "x"), "r-2")
        .await
        .expect_err("unknown customer");
    assert_eq!(violated_fields(&status), ["complaint.customer_id"]);

    let listed = app
        .list(pb::ListComplaintsRequest {
            include_closed: true,
            ..Default::default()
        })
        .await;
    assert_eq!(listed.total_size, 0);
    assert!(
        read_events(&app, 0, 1).await.is_empty(),
        "no event for a refused filing"
    );
}

#[tokio::test]
async fn bad_step_and_list_input_name_their_fields() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let c = app.file(&customer, "交货").await;
    let status = app
        .client
        .clone()
        .analyze_complaint(desk(pb::AnalyzeComplaintRequest {
            id: c.id.clone(),
            analysis: "  ".into(),
            etag: c.etag.clone(),
        }))
        .await
        .expect_err("blank analysis");
    assert_eq!(violated_fields(&status), ["analysis"]);
    let status = app
        .client
        .clone()
        .close_complaint(desk(pb::CloseComplaintRequest {
            id: c.id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("no reaction");
    assert_eq!(violated_fields(&status), ["customer_reaction"]);
    let status = app
        .client
        .clone()
        .list_complaints(desk(pb::ListComplaintsRequest {
            state: 42,
            order_by: "customer".into(),
            ..Default::default()
        }))
        .await
        .expect_err("bad list");
    assert_eq!(violated_fields(&status), ["state"]);
    let missing = app
        .client
        .clone()
        .get_complaint(desk(pb::GetComplaintRequest { id: "nope".into() }))
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(app.get(&c.id).await.etag, c.etag);
}

#[tokio::test]
async fn a_retry_files_once_and_a_reused_request_id_with_other_content_is_refused() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let card = app.card(&customer, "交货");
    let first = file(&app, card.clone(), "req-1").await.expect("filed");
    let again = file(&app, card.clone(), "req-1").await.expect("replayed");
    assert_eq!(first.id, again.id);
    let mut other = card;
    other.subject = "别的".into();
    let status = file(&app, other, "req-1").await.expect_err("reused");
    assert_eq!(status.code(), Code::AlreadyExists);
    let listed = app.list(pb::ListComplaintsRequest::default()).await;
    assert_eq!(listed.total_size, 1);
}

#[tokio::test]
async fn corrections_touch_only_the_masked_fields_and_refuse_step_fields() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let c = app.file(&customer, "交货").await;
    let update =
        |complaint: pb::Complaint, paths: &[&str], etag: &str| pb::UpdateComplaintRequest {
            complaint: Some(complaint),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            etag: etag.into(),
        };
    let changed = app
        .client
        .clone()
        .update_complaint(desk(update(
            pb::Complaint {
                id: c.id.clone(),
                subject: "交货延迟(更正)".into(),
                content: "ignored: not in the mask".into(),
                ..Default::default()
            },
            &["subject"],
            &c.etag,
        )))
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(changed.subject, "交货延迟(更正)");
    assert_eq!(changed.content, c.content);
    assert_eq!(changed.etag, "\"v2\"");
    let status = app
        .client
        .clone()
        .update_complaint(desk(update(
            pb::Complaint {
                id: c.id.clone(),
                analysis: "sneaky".into(),
                ..Default::default()
            },
            &["analysis"],
            "",
        )))
        .await
        .expect_err("step field");
    assert_eq!(violated_fields(&status), ["update_mask"]);
    let status = app
        .client
        .clone()
        .update_complaint(desk(update(
            pb::Complaint {
                id: c.id.clone(),
                ..Default::default()
            },
            &["subject"],
            "",
        )))
        .await
        .expect_err("blank subject");
    assert_eq!(violated_fields(&status), ["complaint.subject"]);
    assert_eq!(app.get(&c.id).await.etag, "\"v2\"");
}
