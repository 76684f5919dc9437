//! Recording visits from phones.

use dossier_kit::auth::Role;
use dossier_proto::visit as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_phone_retrying_record_visit_five_times_leaves_one_visit_and_one_event() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let request = pb::RecordVisitRequest {
        visit: Some(visit_to(&customer, 1)),
        request_id: "phone-7f3a-0001".into(),
    };
    let mut ids = Vec::new();
    for _ in 0..5 {
        let visit = app
            .client
            .clone()
            .record_visit(rep(request.clone()))
            .await
            .expect("recorded")
            .into_inner();
        ids.push(visit.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answers with the first visit");

    let listed = app
        .client
        .clone()
        .list_visits(rep(pb::ListVisitsRequest::default()))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.total_size, 1);
    let recorded: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "visit.recorded")
        .collect();
    assert_eq!(recorded.len(), 1);
}

#[tokio::test]
async fn concurrent_retries_of_one_request_record_once() {
    let app = spawn_app().await;
    let customer = app.customer("宁波海天塑机", "R01", 2).await;
    let request = pb::RecordVisitRequest {
        visit: Some(visit_to(&customer, 0)),
        request_id: "phone-race-1".into(),
    };
    let calls = (0..5).map(|_| {
        let mut client = app.client.clone();
        let request = request.clone();
        async move { client.record_visit(rep(request)).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut ids: Vec<String> = results
        .into_iter()
        .map(|r| r.expect("each retry answers").into_inner().id)
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn the_same_request_id_with_other_content_is_refused() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let mut client = app.client.clone();
    client
        .record_visit(rep(pb::RecordVisitRequest {
            visit: Some(visit_to(&customer, 1)),
            request_id: "reused".into(),
        }))
        .await
        .expect("first");
    let err = client
        .record_visit(rep(pb::RecordVisitRequest {
            visit: Some(visit_to(&customer, 2)),
            request_id: "reused".into(),
        }))
        .await
        .expect_err("other content");
    assert_eq!(err.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn bad_visits_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;

    let mut backwards = visit_to(&customer, 1);
    backwards.start_time = Some(at(8, 50));
    backwards.end_time = Some(at(8, 10));
    let err = app.visit(backwards).await.expect_err("end before start");
    assert_eq!(violated_fields(&err), ["visit.end_time"]);

    let err = app.visit(visit_to(&customer, 13)).await.expect_err("13");
    assert_eq!(violated_fields(&err), ["visit.sequence"]);

    let mut future = visit_to(&customer, 1);
    future.check_in_time = Some(at(10, 0)); // an hour past the server's 09:00
    let err = app.visit(future).await.expect_err("future");
    assert_eq!(violated_fields(&err), ["visit.check_in_time"]);

    let err = app
        .visit(visit_to("no-such-customer", 1))
        .await
        .expect_err("unknown customer");
    assert_eq!(violated_fields(&err), ["visit.customer_id"]);

    let mut off_globe = visit_to(&customer, 1);
    if let Some(location) = off_globe.check_in_location.as_mut() {
        location.latitude = "95".into();
    }
    let err = app.visit(off_globe).await.expect_err("latitude");
    assert_eq!(violated_fields(&err), ["visit.check_in_location.latitude"]);

    let err = app
        .client
        .clone()
        .record_visit(rep(pb::RecordVisitRequest {
            visit: Some(visit_to(&customer, 1)),
            request_id: String::new(),
        }))
        .await
        .expect_err("no request id");
    assert_eq!(violated_fields(&err), ["request_id"]);
}

#[tokio::test]
async fn a_check_in_slightly_ahead_of_the_server_clock_is_accepted() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let mut skewed = visit_to(&customer, 1);
    skewed.check_in_time = Some(at(9, 2));
    skewed.end_time = None;
    skewed.start_time = None;
    let visit = app.visit(skewed).await.expect("within tolerance");
    assert_eq!(visit.visit_date, "2026-06-15");
    assert_eq!(visit.customer_name, "杭州精工机械有限公司");
    assert_eq!(visit.salesperson_id, "rep-1");
}

#[tokio::test]
async fn a_day_of_visits_lists_in_route_order() {
    let app = spawn_app().await;
    let third = app.customer("三号客户", "R02", 1).await;
    let second = app.customer("二号客户", "R01", 7).await;
    let first = app.customer("一号客户", "R01", 3).await;
    for customer in [&third, &second, &first] {
        app.visit(visit_to(customer, 0)).await.expect("recorded");
    }
    let listed = app
        .client
        .clone()
        .list_visits(rep(pb::ListVisitsRequest {
            from_date: "2026-06-15".into(),
            to_date: "2026-06-15".into(),
            order_by: "route".into(),
            ..pb::ListVisitsRequest::default()
        }))
        .await
        .expect("listed")
        .into_inner();
    let order: Vec<&str> = listed
        .visits
        .iter()
        .map(|v| v.customer_id.as_str())
        .collect();
    assert_eq!(order, [first.as_str(), second.as_str(), third.as_str()]);
}

#[tokio::test]
async fn a_correction_changes_the_text_and_refuses_the_plan_fields() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let visit = app.visit(visit_to(&customer, 1)).await.expect("recorded");
    let mut client = app.client.clone();
    let corrected = client
        .update_visit(rep(pb::UpdateVisitRequest {
            visit: Some(pb::Visit {
                id: visit.id.clone(),
                outcome: "签订试用协议".into(),
                ..pb::Visit::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["outcome".into()],
            }),
            etag: visit.etag.clone(),
        }))
        .await
        .expect("corrected")
        .into_inner();
    assert_eq!(corrected.outcome, "签订试用协议");
    assert_eq!(corrected.objective, visit.objective);
    assert_ne!(corrected.etag, visit.etag);

    let err = client
        .update_visit(rep(pb::UpdateVisitRequest {
            visit: Some(pb::Visit {
                id: visit.id.clone(),
                sequence: 2,
                ..pb::Visit::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["sequence".into()],
            }),
            etag: corrected.etag.clone(),
        }))
        .await
        .expect_err("sequence fixed");
    assert_eq!(violated_fields(&err), ["visit.sequence"]);

    let err = client
        .update_visit(as_user(
            Role::SalesRep,
            "rep-2",
            pb::UpdateVisitRequest {
                visit: Some(pb::Visit {
                    id: visit.id.clone(),
                    outcome: "x".into(),
                    ..pb::Visit::default()
                }),
                update_mask: None,
                etag: String::new(),
            },
        ))
        .await
        .expect_err("another salesperson");
    assert_eq!(err.code(), Code::PermissionDenied);

    let err = client
        .update_visit(rep(pb::UpdateVisitRequest {
            visit: Some(pb::Visit {
                id: visit.id.clone(),
                outcome: "stale".into(),
                ..pb::Visit::default()
            }),
            update_mask: None,
            etag: visit.etag.clone(),
        }))
        .await
        .expect_err("stale etag");
    assert_eq!(err.code(), Code::Aborted);
}

#[tokio::test]
async fn finance_may_not_record_visits_and_salespeople_see_only_their_own() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let err = app
        .client
        .clone()
        .record_visit(as_user(
            Role::Finance,
            "acc-1",
            pb::RecordVisitRequest {
                visit: Some(visit_to(&customer, 1)),
                request_id: "f-1".into(),
            },
        ))
        .await
        .expect_err("finance");
    assert_eq!(err.code(), Code::PermissionDenied);
    let visit = app.visit(visit_to(&customer, 1)).await.expect("recorded");
    let err = app
        .client
        .clone()
        .get_visit(as_user(
            Role::SalesRep,
            "rep-2",
            pb::GetVisitRequest { id: visit.id },
        ))
        .await
        .expect_err("not his");
    assert_eq!(err.code(), Code::PermissionDenied);
}
