//! Customer feedback records beside complaints.

use chrono::Duration;
use dossier_kit::time::to_timestamp;
use dossier_proto::complaint::{self as pb};
use dossier_proto::customer::Grade;

use crate::helpers::*;

fn entry(app: &TestApp, customer_id: &str, complaint_id: &str, content: &str) -> pb::Feedback {
    pb::Feedback {
        customer_id: customer_id.into(),
        complaint_id: complaint_id.into(),
        feedback_time: Some(to_timestamp(app.now())),
        content: content.into(),
        person: "王建国".into(),
        ..Default::default()
    }
}

async fn record(app: &TestApp, feedback: pb::Feedback) -> Result<pb::Feedback, tonic::Status> {
    app.client
        .clone()
        .record_feedback(desk(pb::RecordFeedbackRequest {
            feedback: Some(feedback),
            request_id: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn feedback_is_recorded_followed_up_and_listed_newest_first() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let complaint = app.file(&customer, "交货").await;
    let first = record(
        &app,
        entry(&app, &customer, &complaint.id, "补发的货已收到"),
    )
    .await
    .expect("recorded");
    assert_eq!(first.recorded_by, "customer_service-1");
    app.clock.advance(Duration::hours(2));
    record(&app, entry(&app, &customer, "", "希望增加送货频次"))
        .await
        .expect("general feedback");

    let followed = app
        .client
        .clone()
        .update_feedback(desk(pb::UpdateFeedbackRequest {
            feedback: Some(pb::Feedback {
                id: first.id.clone(),
                follow_up: "已电话回访".into(),
                ..Default::default()
            }),
            update_mask: None,
            etag: first.etag.clone(),
        }))
        .await
        .expect("followed up")
        .into_inner();
    assert_eq!(followed.follow_up, "已电话回访");
    assert_eq!(followed.content, "补发的货已收到");

    let list = |r: pb::ListFeedbackRequest| {
        let mut client = app.client.clone();
        async move {
            client
                .list_feedback(desk(r))
                .await
                .expect("listed")
                .into_inner()
        }
    };
    let all = list(pb::ListFeedbackRequest {
        customer_id: customer.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(all.total_size, 2);
    assert_eq!(all.feedback[0].content, "希望增加送货频次");
    let open = list(pb::ListFeedbackRequest {
        without_follow_up: true,
        ..Default::default()
    })
    .await;
    assert_eq!(open.total_size, 1);
    let about = list(pb::ListFeedbackRequest {
        complaint_id: complaint.id.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(about.feedback[0].id, first.id);
}

#[tokio::test]
async fn feedback_about_another_customers_complaint_or_without_content_is_refused() {
    let app = spawn_app().await;
    let one = app.customer("杭州甲公司", Grade::B).await;
    let other = app.customer("杭州乙公司", Grade::B).await;
    let complaint = app.file(&one, "交货").await;
    let status = record(&app, entry(&app, &other, &complaint.id, "x"))
        .await
        .expect_err("another customer's complaint");
    assert_eq!(violated_fields(&status), ["feedback.complaint_id"]);
    let status = record(&app, entry(&app, &one, "", " "))
        .await
        .expect_err("no content");
    assert_eq!(violated_fields(&status), ["feedback.content"]);
    let listed = app
        .client
        .clone()
        .list_feedback(desk(pb::ListFeedbackRequest::default()))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.total_size, 0);
}
