//! Statistics over the API against a hand-computed fixture.

use chrono::Duration;
use dossier_kit::time::to_timestamp;
use dossier_proto::complaint::{self as pb, CustomerReaction, StatsGrouping};
use dossier_proto::customer::Grade;

use crate::helpers::*;

/// The fixture (48 h targets; hours after the start):
///
/// | complaint | customer | subject | handler | filed | replied      | closed            | reopened |
/// |-----------|----------|---------|---------|-------|--------------|-------------------|----------|
/// | A         | X        | 交货    | h1      | 0     | 10           | 24 satisfied      | —        |
/// | B         | Y        | 质量    | h2      | 0     | 60 (late), 90| 72 unsatisfied, 96 partly | 80 |
/// | C         | Y        | 交货    | —       | 30    | —            | — (overdue at 78) | —        |
///
/// Statistics are asked at hour 96.
async fn fixture(app: &TestApp) -> (String, String) {
    let x = app.customer("X 公司", Grade::B).await;
    let y = app.customer("Y 公司", Grade::B).await;
    let a = app.file(&x, "交货").await;
    let b = app.file(&y, "质量").await;
    let at = |hours: i64| app.clock.set(start_time() + Duration::hours(hours));
    at(10);
    let a = app.analyse(&a).await.expect("ok");
    let a = app.handle(&a, "h1").await.expect("ok");
    let a = app.reply(&a).await.expect("ok");
    at(24);
    app.close(&a, CustomerReaction::Satisfied)
        .await
        .expect("ok");
    at(30);
    app.file(&y, "交货").await;
    at(60);
    let b = app.analyse(&b).await.expect("ok");
    let b = app.handle(&b, "h2").await.expect("ok");
    let b = app.reply(&b).await.expect("ok");
    at(72);
    let b = app
        .close(&b, CustomerReaction::Unsatisfied)
        .await
        .expect("ok");
    at(80);
    let b = app.reopen(&b).await.expect("ok");
    at(90);
    let b = app.reply(&b).await.expect("ok");
    at(96);
    app.close(&b, CustomerReaction::PartlySatisfied)
        .await
        .expect("ok");
    (x, y)
}

async fn stats(
    app: &TestApp,
    request: pb::GetComplaintStatsRequest,
) -> pb::GetComplaintStatsResponse {
    app.client
        .clone()
        .get_complaint_stats(desk(request))
        .await
        .expect("stats")
        .into_inner()
}

fn figures(row: &pb::ComplaintStatsRow) -> (i32, i32, i32, i32, i32, &str, &str, &str, &str) {
    (
        row.received_count,
        row.open_count,
        row.closed_count,
        row.overdue_count,
        row.reopened_count,
        row.average_hours_to_reply.as_str(),
        row.average_hours_to_close.as_str(),
        row.reopen_rate_percent.as_str(),
        row.satisfaction_percent.as_str(),
    )
}

#[tokio::test]
async fn statistics_match_the_hand_computed_fixture() {
    let app = spawn_app().await;
    let (x, y) = fixture(&app).await;

    let all = stats(&app, pb::GetComplaintStatsRequest::default()).await;
    assert!(all.rows.is_empty());
    let total = all.total.expect("total");
    assert_eq!(
        figures(&total),
        (3, 1, 2, 2, 1, "35.00", "60.00", "50.00", "50.00")
    );
    assert_eq!(
        (
            total.satisfied_count,
            total.partly_satisfied_count,
            total.unsatisfied_count
        ),
        (1, 1, 0)
    );

    let by_customer = stats(
        &app,
        pb::GetComplaintStatsRequest {
            group_by: StatsGrouping::Customer as i32,
            ..Default::default()
        },
    )
    .await;
    let keys: Vec<&str> = by_customer
        .rows
        .iter()
        .map(|r| r.customer_id.as_str())
        .collect();
    assert_eq!(keys, [y.as_str(), x.as_str()]);
    assert_eq!(
        figures(&by_customer.rows[0]),
        (2, 1, 1, 2, 1, "60.00", "96.00", "100.00", "0.00")
    );
    assert_eq!(
        figures(&by_customer.rows[1]),
        (1, 0, 1, 0, 0, "10.00", "24.00", "0.00", "100.00")
    );

    let by_handler = stats(
        &app,
        pb::GetComplaintStatsRequest {
            group_by: StatsGrouping::Handler as i32,
            ..Default::default()
        },
    )
    .await;
    let handlers: Vec<(&str, &str)> = by_handler
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.label.as_str()))
        .collect();
    assert_eq!(
        handlers,
        [("", "未指定处理人"), ("h1", "h1名"), ("h2", "h2名")]
    );
    assert_eq!(by_handler.rows[0].average_hours_to_reply, "");

    let by_subject = stats(
        &app,
        pb::GetComplaintStatsRequest {
            group_by: StatsGrouping::Subject as i32,
            ..Default::default()
        },
    )
    .await;
    let subjects: Vec<(&str, i32)> = by_subject
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.received_count))
        .collect();
    assert_eq!(subjects, [("交货", 2), ("质量", 1)]);

    let by_month = stats(
        &app,
        pb::GetComplaintStatsRequest {
            group_by: StatsGrouping::Month as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_month.rows.len(), 1);
    assert_eq!(
        (
            by_month.rows[0].key.as_str(),
            by_month.rows[0].received_count
        ),
        ("2026-06", 3)
    );

    let of_x = stats(
        &app,
        pb::GetComplaintStatsRequest {
            customer_id: x.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(of_x.total.expect("total").received_count, 1);
    let later = stats(
        &app,
        pb::GetComplaintStatsRequest {
            from_time: Some(to_timestamp(start_time() + Duration::hours(1))),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(later.total.expect("total").received_count, 1);

    let bad = app
        .client
        .clone()
        .get_complaint_stats(desk(pb::GetComplaintStatsRequest {
            from_time: Some(to_timestamp(start_time())),
            to_time: Some(to_timestamp(start_time())),
            ..Default::default()
        }))
        .await
        .expect_err("empty range");
    assert_eq!(violated_fields(&bad), ["to_time"]);
}
