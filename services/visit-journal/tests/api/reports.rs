//! Reports: an urgent one reaches the managers at once.

use std::time::Duration;

use dossier_kit::auth::Role;
use dossier_proto::visit as pb;
use futures::StreamExt;
use tonic::Code;

use crate::helpers::*;

fn report(kind: pb::ReportKind, customer: &str, title: &str) -> pb::Report {
    pb::Report {
        kind: kind as i32,
        customer_id: customer.into(),
        title: title.into(),
        content: "客户资金链紧张，可能拖欠货款".into(),
        ..pb::Report::default()
    }
}

async fn file(app: &TestApp, report: pb::Report) -> Result<pb::Report, tonic::Status> {
    app.client
        .clone()
        .file_report(rep(pb::FileReportRequest {
            report: Some(report),
            request_id: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_urgent_report_reaches_a_watching_manager_at_once_and_stays_unread_until_acknowledged() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let backlog = file(
        &app,
        report(pb::ReportKind::Urgent, &customer, "早先的紧急报告"),
    )
    .await
    .expect("filed");
    file(&app, report(pb::ReportKind::Daily, &customer, "日报"))
        .await
        .expect("daily");

    let mut stream = app
        .client
        .clone()
        .watch_urgent_reports(manager(pb::WatchUrgentReportsRequest::default()))
        .await
        .expect("watch")
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("backlog in time")
        .expect("an item")
        .expect("a report");
    assert_eq!(first.id, backlog.id);

    let live = file(
        &app,
        report(pb::ReportKind::Urgent, &customer, "紧急：客户停产"),
    )
    .await
    .expect("filed");
    let pushed = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("pushed in time")
        .expect("an item")
        .expect("a report");
    assert_eq!(pushed.id, live.id);
    assert_eq!(pushed.customer_name, "杭州精工机械有限公司");

    let unread = |app: &TestApp| {
        let mut client = app.client.clone();
        async move {
            client
                .list_reports(manager(pb::ListReportsRequest {
                    kind: pb::ReportKind::Urgent as i32,
                    unacknowledged: true,
                    ..Default::default()
                }))
                .await
                .expect("listed")
                .into_inner()
                .total_size
        }
    };
    assert_eq!(unread(&app).await, 2);
    let err = app
        .client
        .clone()
        .acknowledge_report(rep(pb::AcknowledgeReportRequest {
            id: live.id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("a salesperson does not acknowledge");
    assert_eq!(err.code(), Code::PermissionDenied);
    let acknowledged = app
        .client
        .clone()
        .acknowledge_report(manager(pb::AcknowledgeReportRequest {
            id: live.id.clone(),
            comment: "立即停止发货".into(),
            etag: live.etag.clone(),
        }))
        .await
        .expect("acknowledged")
        .into_inner();
    assert!(acknowledged.acknowledged);
    assert_eq!(acknowledged.acknowledged_by, "head-east");
    assert_eq!(unread(&app).await, 1);
}

#[tokio::test]
async fn bad_reports_are_refused_and_other_teams_are_not_watched() {
    let app = spawn_app().await;
    let err = file(&app, report(pb::ReportKind::Unspecified, "", "x"))
        .await
        .expect_err("kind");
    assert_eq!(violated_fields(&err), ["report.kind"]);
    let err = file(&app, report(pb::ReportKind::Periodic, "", "月报"))
        .await
        .expect_err("period");
    assert_eq!(violated_fields(&err), ["report.period"]);
    let monthly = pb::Report {
        period: "2026-06".into(),
        ..report(pb::ReportKind::Periodic, "", "月报")
    };
    file(&app, monthly).await.expect("periodic with a period");
    let err = file(&app, report(pb::ReportKind::Daily, "nobody", "x"))
        .await
        .expect_err("customer");
    assert_eq!(violated_fields(&err), ["report.customer_id"]);

    let err = app
        .client
        .clone()
        .watch_urgent_reports(manager(pb::WatchUrgentReportsRequest {
            team: "west".into(),
            since_time: None,
        }))
        .await
        .expect_err("another team");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .client
        .clone()
        .watch_urgent_reports(as_user(
            Role::SalesRep,
            "rep-1",
            pb::WatchUrgentReportsRequest::default(),
        ))
        .await
        .expect_err("a salesperson");
    assert_eq!(err.code(), Code::PermissionDenied);
}
