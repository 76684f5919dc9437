//! Entering scores: validation, the evaluator, later entries superseding earlier ones with the
//! history kept, etags and request ids.

use dossier_analytics::store::apply::Source;
use dossier_kit::auth::Role;
use dossier_proto::analytics::{self as pb};

use crate::helpers::*;

fn request(customer: &str, month: &str, scores: &[(i32, i32)]) -> pb::ScoreSalesForceRequest {
    pb::ScoreSalesForceRequest {
        customer_id: customer.into(),
        month: month.into(),
        scores: scores
            .iter()
            .map(|(f, s)| pb::FactorScore {
                factor: *f,
                score: *s,
                note: String::new(),
            })
            .collect(),
        ..Default::default()
    }
}

async fn ready() -> Stack {
    let stack = spawn_stack(true).await;
    stack
        .write(
            Source::Customers,
            vec![customer_event(
                "c1",
                "甲公司",
                1,
                "华东/上海",
                "rep-1",
                "east",
                true,
            )],
        )
        .await;
    let store = store_at(&stack.analytics_db.url).await;
    stack.caught_up(&store).await;
    stack
}

#[tokio::test]
async fn bad_scores_are_refused_naming_each_field() {
    let stack = ready().await;
    let mut client = stack.client();
    let err = client
        .score_sales_force(manager(request(
            "c1",
            "2026-05",
            &[(0, 3), (26, 2), (3, 5), (3, 4)],
        )))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    for field in [
        "scores[0].factor",
        "scores[1].factor",
        "scores[2].score",
        "scores[3].factor",
    ] {
        assert!(
            err.message().contains(field),
            "{field} in {}",
            err.message()
        );
    }
    // Today is 2026-06-15: July is in the future, June is not.
    let err = client
        .score_sales_force(manager(request("c1", "2026-07", &[(1, 3)])))
        .await
        .expect_err("future");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("month") && err.message().contains("future"),
        "{}",
        err.message()
    );
    client
        .score_sales_force(manager(request("c1", "2026-06", &[(1, 3)])))
        .await
        .expect("this month");
    let err = client
        .score_sales_force(manager(request("c1", "2026/05", &[(1, 3)])))
        .await
        .expect_err("bad month");
    assert!(err.message().contains("month"), "{}", err.message());
    let err = client
        .score_sales_force(manager(request("nobody", "2026-05", &[(1, 3)])))
        .await
        .expect_err("unknown customer");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("customer_id"), "{}", err.message());
    let err = client
        .score_sales_force(as_user(
            Role::Finance,
            "fin-1",
            "",
            request("c1", "2026-05", &[(1, 3)]),
        ))
        .await
        .expect_err("finance does not score");
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn later_entries_supersede_and_history_is_kept() {
    let stack = ready().await;
    let mut client = stack.client();
    let first = client
        .score_sales_force(as_user(
            Role::SalesRep,
            "rep-1",
            "east",
            request("c1", "2026-05", &[(1, 2), (2, 3)]),
        ))
        .await
        .expect("first")
        .into_inner();
    assert_eq!(
        (first.evaluator.as_str(), first.total, first.etag.as_str()),
        ("rep-1", 5, "v1")
    );
    let second = client
        .score_sales_force(manager(pb::ScoreSalesForceRequest {
            evaluator: "陈经理".into(),
            etag: first.etag.clone(),
            ..request("c1", "2026-05", &[(1, 4)])
        }))
        .await
        .expect("second")
        .into_inner();
    // Factor 1 replaced, factor 2 kept.
    assert_eq!(
        (
            second.evaluator.as_str(),
            second.total,
            second.etag.as_str()
        ),
        ("陈经理", 7, "v2")
    );
    let scores: Vec<(i32, i32)> = second.scores.iter().map(|s| (s.factor, s.score)).collect();
    assert_eq!(scores, vec![(1, 4), (2, 3)]);
    let store = store_at(&stack.analytics_db.url).await;
    let history = store.history("c1", "2026-05", 1).await.expect("history");
    assert_eq!(
        history,
        vec![
            (2, "rep-1".to_owned(), true),
            (4, "陈经理".to_owned(), false)
        ]
    );
    // A stale etag is refused.
    let err = client
        .score_sales_force(manager(pb::ScoreSalesForceRequest {
            etag: first.etag.clone(),
            ..request("c1", "2026-05", &[(3, 1)])
        }))
        .await
        .expect_err("stale");
    assert_eq!(err.code(), tonic::Code::Aborted);
    // A retried request id returns the first result and writes nothing twice.
    let keyed = pb::ScoreSalesForceRequest {
        request_id: "score-0001".into(),
        ..request("c1", "2026-05", &[(3, 1)])
    };
    let once = client
        .score_sales_force(manager(keyed.clone()))
        .await
        .expect("once")
        .into_inner();
    let twice = client
        .score_sales_force(manager(keyed.clone()))
        .await
        .expect("twice")
        .into_inner();
    assert_eq!(once.etag, twice.etag);
    assert_eq!(
        store
            .history("c1", "2026-05", 3)
            .await
            .expect("history")
            .len(),
        1
    );
    let err = client
        .score_sales_force(manager(pb::ScoreSalesForceRequest {
            request_id: "score-0001".into(),
            ..request("c1", "2026-05", &[(3, 2)])
        }))
        .await
        .expect_err("reused id");
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
}

#[tokio::test]
async fn twins_of_one_request_sent_at_once_score_once_and_answer_alike() {
    let stack = ready().await;
    let keyed = pb::ScoreSalesForceRequest {
        request_id: "score-twins".into(),
        ..request("c1", "2026-04", &[(5, 3), (6, 2)])
    };
    let twins: Vec<_> = (0..8)
        .map(|_| {
            let mut client = stack.client();
            let keyed = keyed.clone();
            tokio::spawn(async move { client.score_sales_force(manager(keyed)).await })
        })
        .collect();
    let mut etags = Vec::new();
    for twin in twins {
        let card = twin
            .await
            .expect("joined")
            .expect("every twin answers, none fails")
            .into_inner();
        etags.push(card.etag);
    }
    assert!(etags.iter().all(|e| e == "v1"), "{etags:?}");
    let store = store_at(&stack.analytics_db.url).await;
    assert_eq!(
        store
            .history("c1", "2026-04", 5)
            .await
            .expect("history")
            .len(),
        1,
        "scored once"
    );
}

#[tokio::test]
async fn only_the_customers_salesperson_a_manager_of_its_team_or_an_executive_may_score_it() {
    let stack = ready().await;
    let mut client = stack.client();
    let attempt =
        |role, sub: &str, team: &str| as_user(role, sub, team, request("c1", "2026-03", &[(7, 3)]));
    for (role, sub, team) in [
        (Role::SalesRep, "rep-2", "east"),
        (Role::SalesManager, "mgr-9", "north"),
    ] {
        let refused = client
            .score_sales_force(attempt(role, sub, team))
            .await
            .expect_err("not theirs to score");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{sub}");
    }
    for (role, sub, team) in [
        (Role::SalesRep, "rep-1", "east"),
        (Role::SalesManager, "mgr-1", "east"),
        (Role::Executive, "gm-1", ""),
    ] {
        client
            .score_sales_force(attempt(role, sub, team))
            .await
            .unwrap_or_else(|e| panic!("{sub} may score: {e:?}"));
    }
}
