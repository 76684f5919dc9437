//! Key-account follow-up sheets and work plans.

use dossier_proto::visit as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_follow_up_sheet_interleaves_interviews_and_quotes_by_date() {
    let app = spawn_app().await;
    let customer = app.customer("东莞塑胶厂", "R03", 1).await;
    let mut client = app.client.clone();
    let interview = |date: &str, learned: &str| pb::AddFollowUpRequest {
        interview: Some(pb::FollowUpInterview {
            customer_id: customer.clone(),
            interview_date: date.into(),
            person_met: "注塑部彭广春主管".into(),
            learned: learned.into(),
            countermeasure: "送样试用".into(),
            channel: "visit".into(),
            ..Default::default()
        }),
        request_id: format!("iv-{date}"),
    };
    let first = client
        .add_follow_up(rep(interview("2026-06-01", "用油量大")))
        .await
        .expect("1")
        .into_inner();
    let again = client
        .add_follow_up(rep(interview("2026-06-01", "用油量大")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.id, again.id, "a retry adds once");
    client
        .add_follow_up(rep(interview("2026-06-10", "试用满意")))
        .await
        .expect("2");
    let quote = client
        .add_quote(rep(pb::AddQuoteRequest {
            quote: Some(pb::Quote {
                customer_id: customer.clone(),
                product: "水性切削油".into(),
                packing: "200L/桶".into(),
                unit: "桶".into(),
                unit_price: "2350.5".into(),
                quote_date: "2026-06-05".into(),
                notes: "附 SGS 报告".into(),
                ..Default::default()
            }),
            request_id: "q-1".into(),
        }))
        .await
        .expect("quote")
        .into_inner();
    assert_eq!((quote.number, quote.unit_price.as_str()), (1, "2350.50"));

    let err = client
        .add_quote(rep(pb::AddQuoteRequest {
            quote: Some(pb::Quote {
                customer_id: customer.clone(),
                product: "水性切削油".into(),
                unit_price: "-5".into(),
                quote_date: "2026-06-05".into(),
                ..Default::default()
            }),
            request_id: "q-2".into(),
        }))
        .await
        .expect_err("negative price");
    assert_eq!(violated_fields(&err), ["quote.unit_price"]);

    let sheet = client
        .get_follow_up_sheet(rep(pb::GetFollowUpSheetRequest {
            customer_id: customer.clone(),
        }))
        .await
        .expect("sheet")
        .into_inner();
    assert_eq!((sheet.interview_count, sheet.quote_count), (2, 1));
    assert_eq!(sheet.last_entry_date, "2026-06-10");
    let columns: Vec<String> = sheet
        .entries
        .iter()
        .map(|e| match &e.entry {
            Some(pb::follow_up_entry::Entry::Interview(i)) => format!("interview {}", i.number),
            Some(pb::follow_up_entry::Entry::Quote(q)) => format!("quote {}", q.number),
            None => "empty".into(),
        })
        .collect();
    assert_eq!(columns, ["interview 1", "quote 1", "interview 2"]);
}

#[tokio::test]
async fn a_monthly_plan_counts_its_visits_target_from_the_records() {
    let app = spawn_app().await;
    let customer = app.customer("东莞塑胶厂", "R03", 1).await;
    let mut client = app.client.clone();
    let plan = pb::WorkPlan {
        kind: pb::WorkPlanKind::Monthly as i32,
        period: "2026-06".into(),
        focus: vec!["新品进店".into()],
        targets: vec![
            pb::WorkTarget {
                metric: "visits".into(),
                target_value: "40".into(),
                unit: "次".into(),
                ..Default::default()
            },
            pb::WorkTarget {
                metric: "sales_amount".into(),
                target_value: "150000".into(),
                unit: "CNY".into(),
                ..Default::default()
            },
        ],
        budget: vec![pb::BudgetItem {
            category: "陈列费用".into(),
            amount: "3000".into(),
        }],
        ..Default::default()
    };
    let created = client
        .upsert_work_plan(rep(pb::UpsertWorkPlanRequest {
            plan: Some(plan.clone()),
            etag: String::new(),
        }))
        .await
        .expect("created")
        .into_inner();
    assert_eq!(created.targets[1].target_value, "150000.00");
    assert_eq!(created.targets[0].actual_value, "0");
    app.visit(visit_to(&customer, 0)).await.expect("visit 1");
    app.visit(visit_to(&customer, 0)).await.expect("visit 2");
    let read = client
        .get_work_plan(rep(pb::GetWorkPlanRequest {
            salesperson_id: String::new(),
            kind: pb::WorkPlanKind::Monthly as i32,
            period: "2026-06".into(),
        }))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.targets[0].actual_value, "2");

    let err = client
        .upsert_work_plan(rep(pb::UpsertWorkPlanRequest {
            plan: Some(plan.clone()),
            etag: String::new(),
        }))
        .await
        .expect_err("exists");
    assert_eq!(err.code(), Code::AlreadyExists);
    let weekly = pb::WorkPlan {
        kind: pb::WorkPlanKind::Weekly as i32,
        period: "2026-06".into(),
        ..plan
    };
    let err = client
        .upsert_work_plan(rep(pb::UpsertWorkPlanRequest {
            plan: Some(weekly),
            etag: String::new(),
        }))
        .await
        .expect_err("a month is not a week");
    assert_eq!(violated_fields(&err), ["plan.period"]);
    let listed = client
        .list_work_plans(rep(pb::ListWorkPlansRequest::default()))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.total_size, 1);
}
