//! Visit plans and plan-vs-done, against a hand-computed fixture.

use dossier_kit::auth::Role;
use dossier_proto::visit as pb;
use tonic::Code;

use crate::helpers::*;

fn row(customer: &str, visits: &[(i32, &str)]) -> pb::VisitPlanRow {
    pb::VisitPlanRow {
        customer_id: customer.into(),
        visits: visits
            .iter()
            .map(|(number, planned)| pb::PlannedVisit {
                number: *number,
                planned_date: (*planned).into(),
                ..pb::PlannedVisit::default()
            })
            .collect(),
        ..pb::VisitPlanRow::default()
    }
}

async fn upsert(
    app: &TestApp,
    rows: Vec<pb::VisitPlanRow>,
    etag: &str,
) -> Result<pb::VisitPlan, tonic::Status> {
    app.client
        .clone()
        .upsert_visit_plan(rep(pb::UpsertVisitPlanRequest {
            plan: Some(pb::VisitPlan {
                year: 2026,
                rows,
                ..pb::VisitPlan::default()
            }),
            etag: etag.into(),
        }))
        .await
        .map(|r| r.into_inner())
}

fn on(customer: &str, sequence: i32, date: &str) -> pb::Visit {
    pb::Visit {
        visit_date: date.into(),
        ..visit_to(customer, sequence)
    }
}

async fn progress(
    app: &TestApp,
    request: pb::GetPlanProgressRequest,
) -> pb::GetPlanProgressResponse {
    app.client
        .clone()
        .get_plan_progress(manager(request))
        .await
        .expect("progress")
        .into_inner()
}

/// (planned, done, on time, missed, unplanned, percent)
fn figures(row: &pb::PlanProgressRow) -> (i32, i32, i32, i32, i32, &str) {
    (
        row.planned_count,
        row.done_count,
        row.done_on_time_count,
        row.missed_count,
        row.unplanned_count,
        row.completion_percent.as_str(),
    )
}

#[tokio::test]
async fn plan_vs_done_matches_a_hand_computed_month() {
    let app = spawn_app().await;
    let a = app.customer("甲公司", "R01", 1).await;
    let b = app.customer("乙公司", "R01", 2).await;
    let c = app.customer("丙公司", "R01", 3).await;
    upsert(
        &app,
        vec![
            row(
                &a,
                &[(1, "2026-05-10"), (2, "2026-06-05"), (3, "2026-06-20")],
            ),
            row(&b, &[(1, "2026-06-10"), (2, "2026-06-25")]),
            row(&c, &[(1, "2026-06-01")]),
        ],
        "",
    )
    .await
    .expect("plan");
    app.visit(on(&a, 2, "2026-06-03")).await.expect("a2 early");
    app.visit(on(&b, 1, "2026-06-12")).await.expect("b1 late");
    app.visit(on(&c, 0, "2026-06-14"))
        .await
        .expect("c unplanned");
    app.visit(on(&a, 5, "2026-06-15"))
        .await
        .expect("a5 not in plan");

    // Today is 2026-06-15. June for rep-1: planned a2 a3 b1 b2 c1 = 5; done a2 b1 = 2; on time
    // a2 = 1; missed c1 (06-01) = 1 (a1 is May's); unplanned c0 and a5 = 2; 2 / 5 = 40 %.
    let june = pb::GetPlanProgressRequest {
        year: 2026,
        month: "2026-06".into(),
        salesperson_id: "rep-1".into(),
        ..pb::GetPlanProgressRequest::default()
    };
    let by_customer = progress(
        &app,
        pb::GetPlanProgressRequest {
            group_by: vec![pb::ProgressDimension::Customer as i32],
            ..june.clone()
        },
    )
    .await;
    let total = by_customer.total.as_ref().expect("total");
    assert_eq!(figures(total), (5, 2, 1, 1, 2, "40.00"));
    let of = |id: &str| {
        by_customer
            .rows
            .iter()
            .find(|r| r.customer_id == id)
            .map(figures)
            .expect("row of customer")
    };
    assert_eq!(of(&a), (2, 1, 1, 0, 1, "50.00"));
    assert_eq!(of(&b), (2, 1, 0, 0, 0, "50.00"));
    assert_eq!(of(&c), (1, 0, 0, 1, 1, "0.00"));
    assert_eq!(by_customer.rows.len(), 3);

    let by_salesperson = progress(
        &app,
        pb::GetPlanProgressRequest {
            month: String::new(),
            group_by: vec![pb::ProgressDimension::Salesperson as i32],
            ..june.clone()
        },
    )
    .await;
    assert_eq!(by_salesperson.rows.len(), 1);
    assert_eq!(by_salesperson.rows[0].salesperson_id, "rep-1");
    // The whole year adds May's missed a1.
    assert_eq!(figures(&by_salesperson.rows[0]), (6, 2, 1, 2, 2, "33.33"));

    let by_month = progress(
        &app,
        pb::GetPlanProgressRequest {
            month: String::new(),
            group_by: vec![pb::ProgressDimension::Month as i32],
            ..june
        },
    )
    .await;
    let months: Vec<&str> = by_month.rows.iter().map(|r| r.month.as_str()).collect();
    assert_eq!(months, ["2026-05", "2026-06"]);

    let plan = app
        .client
        .clone()
        .get_visit_plan(rep(pb::GetVisitPlanRequest {
            salesperson_id: String::new(),
            year: 2026,
        }))
        .await
        .expect("plan")
        .into_inner();
    let a_row = plan
        .rows
        .iter()
        .find(|r| r.customer_id == a)
        .expect("a's row");
    let states: Vec<(i32, &str, i32)> = a_row
        .visits
        .iter()
        .map(|v| (v.number, v.actual_date.as_str(), v.state))
        .collect();
    assert_eq!(
        states,
        [
            (1, "", pb::PlannedVisitState::Missed as i32),
            (2, "2026-06-03", pb::PlannedVisitState::Done as i32),
            (3, "", pb::PlannedVisitState::Planned as i32),
        ]
    );
    assert_eq!(a_row.customer_name, "甲公司");
}

#[tokio::test]
async fn a_next_visit_date_plans_the_next_number_and_a_plan_written_later_takes_earlier_visits() {
    let app = spawn_app().await;
    let d = app.customer("丁公司", "R02", 1).await;
    let visit = pb::Visit {
        next_visit_date: "2026-07-01".into(),
        ..visit_to(&d, 1)
    };
    app.visit(visit).await.expect("recorded");
    let plan = app
        .client
        .clone()
        .get_visit_plan(rep(pb::GetVisitPlanRequest {
            salesperson_id: "rep-1".into(),
            year: 2026,
        }))
        .await
        .expect("plan made by the visit")
        .into_inner();
    assert_eq!(plan.rows.len(), 1);
    let planned: Vec<(i32, &str)> = plan.rows[0]
        .visits
        .iter()
        .map(|v| (v.number, v.planned_date.as_str()))
        .collect();
    assert_eq!(planned, [(2, "2026-07-01")]);

    // Writing visit 1 into the plan afterwards links the visit already recorded.
    let plan = upsert(
        &app,
        vec![row(&d, &[(1, "2026-06-14"), (2, "2026-07-01")])],
        &plan.etag,
    )
    .await
    .expect("replaced");
    let first = &plan.rows[0].visits[0];
    assert_eq!(first.actual_date, "2026-06-15");
    assert!(!first.visit_id.is_empty());

    // Once its date has passed without a visit, the next one is missed.
    app.clock.advance(chrono::Duration::days(20));
    let plan = app
        .client
        .clone()
        .get_visit_plan(rep(pb::GetVisitPlanRequest {
            salesperson_id: String::new(),
            year: 2026,
        }))
        .await
        .expect("plan")
        .into_inner();
    assert_eq!(
        plan.rows[0].visits[1].state,
        pb::PlannedVisitState::Missed as i32
    );
}

#[tokio::test]
async fn plans_refuse_bad_rows_duplicates_and_stale_etags() {
    let app = spawn_app().await;
    let a = app.customer("甲公司", "R01", 1).await;
    let err = upsert(&app, vec![row(&a, &[(13, "2026-06-01")])], "")
        .await
        .expect_err("13");
    assert_eq!(violated_fields(&err), ["plan.rows[0].visits[0].number"]);
    let err = upsert(&app, vec![row(&a, &[(1, "2025-06-01")])], "")
        .await
        .expect_err("other year");
    assert_eq!(
        violated_fields(&err),
        ["plan.rows[0].visits[0].planned_date"]
    );
    let err = upsert(&app, vec![row("nobody", &[(1, "2026-06-01")])], "")
        .await
        .expect_err("unknown");
    assert_eq!(violated_fields(&err), ["plan.rows[0].customer_id"]);

    let plan = upsert(&app, vec![row(&a, &[(1, "2026-06-01")])], "")
        .await
        .expect("created");
    let err = upsert(&app, vec![row(&a, &[(1, "2026-06-02")])], "")
        .await
        .expect_err("exists");
    assert_eq!(err.code(), Code::AlreadyExists);
    let replaced = upsert(&app, vec![row(&a, &[(1, "2026-06-02")])], &plan.etag)
        .await
        .expect("replaced");
    let err = upsert(&app, vec![row(&a, &[(1, "2026-06-03")])], &plan.etag)
        .await
        .expect_err("stale");
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(replaced.rows[0].visits[0].planned_date, "2026-06-02");

    let err = app
        .client
        .clone()
        .get_plan_progress(as_user(
            Role::SalesRep,
            "rep-2",
            pb::GetPlanProgressRequest {
                year: 2026,
                salesperson_id: "rep-1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("another's figures");
    assert_eq!(err.code(), Code::PermissionDenied);
}
