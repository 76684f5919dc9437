//! The daily work journal and its sign-off chain.

use dossier_kit::auth::Role;
use dossier_proto::visit as pb;
use dossier_testkit::{token, with_token};
use tonic::Code;

use crate::helpers::*;

fn head<T>(m: T) -> tonic::Request<T> {
    as_user(Role::SalesManager, "head-east", m)
}
fn vice_president<T>(m: T) -> tonic::Request<T> {
    as_user(Role::Executive, "vp-1", m)
}
fn accountant<T>(m: T) -> tonic::Request<T> {
    as_user(Role::Finance, "acc-1", m)
}
fn cashier<T>(m: T) -> tonic::Request<T> {
    as_user(Role::Finance, "cash-1", m)
}

fn journal_of(customer: &str) -> pb::Journal {
    pb::Journal {
        journal_date: "2026-06-15".into(),
        visits: vec![
            pb::JournalVisitEntry {
                customer_id: customer.into(),
                person_visited: "彭广春".into(),
                from_time: Some(at(8, 0)),
                to_time: Some(at(8, 45)),
                talk_content: "试用反馈".into(),
                result: "下月下单".into(),
                ..pb::JournalVisitEntry::default()
            },
            pb::JournalVisitEntry {
                customer_name: "路边五金店".into(),
                from_time: Some(at(8, 45)),
                to_time: Some(at(8, 55)),
                ..pb::JournalVisitEntry::default()
            },
        ],
        market_analysis: "竞品降价 5%".into(),
        collections: vec![pb::JournalCollectionEntry {
            customer_id: customer.into(),
            collection_time: Some(at(8, 40)),
            contract_no: "HT-2026-0615".into(),
            product: "水性切削油".into(),
            quantity_kg: "200".into(),
            contract_amount: "12000".into(),
            amount_paid: "6000.5".into(),
            ..pb::JournalCollectionEntry::default()
        }],
        ..pb::Journal::default()
    }
}

async fn create(app: &TestApp, journal: pb::Journal) -> Result<pb::Journal, tonic::Status> {
    app.client
        .clone()
        .create_journal(rep(pb::CreateJournalRequest {
            journal: Some(journal),
            request_id: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .map(|r| r.into_inner())
}

fn review_of(
    journal: &pb::Journal,
    decision: pb::ReviewDecision,
    comment: &str,
) -> pb::ReviewJournalRequest {
    pb::ReviewJournalRequest {
        id: journal.id.clone(),
        decision: decision as i32,
        comment: comment.into(),
        etag: journal.etag.clone(),
        supervisor_evaluation: String::new(),
    }
}

#[tokio::test]
async fn a_journal_walks_the_whole_chain_and_wrong_actors_are_denied_at_every_step() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let mut client = app.client.clone();
    let journal = create(&app, journal_of(&customer)).await.expect("created");
    assert_eq!(journal.state, pb::JournalState::Draft as i32);
    assert_eq!(journal.collections[0].amount_paid, "6000.50");
    assert_eq!(journal.visits[0].customer_name, "杭州精工机械有限公司");

    let submit = pb::SubmitJournalRequest {
        id: journal.id.clone(),
        etag: journal.etag.clone(),
        comment: String::new(),
    };
    let err = client
        .submit_journal(as_user(Role::SalesRep, "rep-2", submit.clone()))
        .await
        .expect_err("not the author");
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut journal = client
        .submit_journal(rep(submit))
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(
        journal.awaiting_role,
        pb::SignOffRole::DepartmentHead as i32
    );

    let west_head = |m| with_token(m, &token(Role::SalesManager, "head-west", "west"));
    // (the wrong actors at a step, the right one, the state after)
    type Req = pb::ReviewJournalRequest;
    type As = fn(Req) -> tonic::Request<Req>;
    let steps: Vec<(Vec<As>, As, pb::JournalState)> = vec![
        (
            vec![vice_president, accountant, rep],
            head,
            pb::JournalState::HeadApproved,
        ),
        (
            vec![head, accountant],
            vice_president,
            pb::JournalState::VicePresidentApproved,
        ),
        (
            vec![head, vice_president],
            accountant,
            pb::JournalState::AccountantConfirmed,
        ),
        (
            vec![accountant, vice_president],
            cashier,
            pb::JournalState::Approved,
        ),
    ];
    for (wrong, right, after) in steps {
        for who in wrong {
            let err = client
                .review_journal(who(review_of(&journal, pb::ReviewDecision::Approve, "")))
                .await
                .expect_err("wrong actor");
            assert_eq!(err.code(), Code::PermissionDenied, "{after:?}: {err:?}");
        }
        if after == pb::JournalState::HeadApproved {
            let err = client
                .review_journal(west_head(review_of(
                    &journal,
                    pb::ReviewDecision::Approve,
                    "",
                )))
                .await
                .expect_err("another team's head");
            assert_eq!(err.code(), Code::PermissionDenied);
        }
        journal = client
            .review_journal(right(review_of(
                &journal,
                pb::ReviewDecision::Approve,
                "同意",
            )))
            .await
            .expect("signed")
            .into_inner();
        assert_eq!(journal.state, after as i32);
    }
    let roles: Vec<i32> = journal.sign_offs.iter().map(|s| s.role).collect();
    assert_eq!(
        roles,
        [
            pb::SignOffRole::Author as i32,
            pb::SignOffRole::DepartmentHead as i32,
            pb::SignOffRole::VicePresident as i32,
            pb::SignOffRole::Accountant as i32,
            pb::SignOffRole::Cashier as i32,
        ]
    );
    assert!(
        journal
            .sign_offs
            .iter()
            .all(|s| s.sign_time.is_some() && !s.actor_id.is_empty())
    );
    assert_eq!(journal.sign_offs[1].comment, "同意");

    // Approved is final: no edit, no new submission, no review.
    let err = client
        .update_journal(rep(pb::UpdateJournalRequest {
            journal: Some(pb::Journal {
                id: journal.id.clone(),
                market_analysis: "改".into(),
                ..pb::Journal::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["market_analysis".into()],
            }),
            etag: journal.etag.clone(),
        }))
        .await
        .expect_err("approved");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = client
        .submit_journal(rep(pb::SubmitJournalRequest {
            id: journal.id.clone(),
            etag: journal.etag.clone(),
            comment: String::new(),
        }))
        .await
        .expect_err("approved");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = client
        .review_journal(head(review_of(
            &journal,
            pb::ReviewDecision::Return,
            "再看看",
        )))
        .await
        .expect_err("approved");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_returned_journal_is_edited_and_resubmitted() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let mut client = app.client.clone();
    let mut no_collections = journal_of(&customer);
    no_collections.collections.clear();
    let journal = create(&app, no_collections).await.expect("created");
    let journal = client
        .submit_journal(rep(pb::SubmitJournalRequest {
            id: journal.id.clone(),
            etag: journal.etag.clone(),
            comment: String::new(),
        }))
        .await
        .expect("submitted")
        .into_inner();

    let err = client
        .update_journal(rep(pb::UpdateJournalRequest {
            journal: Some(pb::Journal {
                id: journal.id.clone(),
                market_analysis: "x".into(),
                ..pb::Journal::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["market_analysis".into()],
            }),
            etag: String::new(),
        }))
        .await
        .expect_err("under review");
    assert_eq!(err.code(), Code::FailedPrecondition);

    let err = client
        .review_journal(head(review_of(&journal, pb::ReviewDecision::Return, "")))
        .await
        .expect_err("no comment");
    assert_eq!(violated_fields(&err), ["comment"]);
    let journal = client
        .review_journal(head(review_of(
            &journal,
            pb::ReviewDecision::Return,
            "补充产品分析",
        )))
        .await
        .expect("returned")
        .into_inner();
    assert_eq!(journal.state, pb::JournalState::Returned as i32);

    let journal = client
        .update_journal(rep(pb::UpdateJournalRequest {
            journal: Some(pb::Journal {
                id: journal.id.clone(),
                product_analysis: "新品毛利高".into(),
                ..pb::Journal::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["product_analysis".into()],
            }),
            etag: journal.etag.clone(),
        }))
        .await
        .expect("edited")
        .into_inner();
    assert_eq!(journal.product_analysis, "新品毛利高");
    assert_eq!(journal.market_analysis, "竞品降价 5%");
    let journal = client
        .submit_journal(rep(pb::SubmitJournalRequest {
            id: journal.id.clone(),
            etag: journal.etag.clone(),
            comment: "已补充".into(),
        }))
        .await
        .expect("resubmitted")
        .into_inner();
    let journal = client
        .review_journal(head(pb::ReviewJournalRequest {
            supervisor_evaluation: "认真".into(),
            ..review_of(&journal, pb::ReviewDecision::Approve, "")
        }))
        .await
        .expect("head")
        .into_inner();
    assert_eq!(journal.supervisor_evaluation, "认真");
    // No collections: the vice-president's approval is final.
    let journal = client
        .review_journal(vice_president(review_of(
            &journal,
            pb::ReviewDecision::Approve,
            "",
        )))
        .await
        .expect("vp")
        .into_inner();
    assert_eq!(journal.state, pb::JournalState::Approved as i32);

    let inbox = client
        .list_journals(head(pb::ListJournalsRequest {
            awaiting_my_review: true,
            ..Default::default()
        }))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(inbox.total_size, 0);
}

#[tokio::test]
async fn the_reviewers_inbox_lists_what_awaits_them() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;
    let mut client = app.client.clone();
    let journal = create(&app, journal_of(&customer)).await.expect("created");
    client
        .submit_journal(rep(pb::SubmitJournalRequest {
            id: journal.id.clone(),
            etag: String::new(),
            comment: String::new(),
        }))
        .await
        .expect("submitted");
    let inbox = |request| {
        let mut client = app.client.clone();
        async move {
            client
                .list_journals(request)
                .await
                .expect("listed")
                .into_inner()
                .total_size
        }
    };
    let mine = pb::ListJournalsRequest {
        awaiting_my_review: true,
        ..Default::default()
    };
    assert_eq!(inbox(head(mine.clone())).await, 1);
    assert_eq!(inbox(vice_president(mine.clone())).await, 0);
    assert_eq!(inbox(accountant(mine)).await, 0);
}

#[tokio::test]
async fn bad_journals_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let customer = app.customer("杭州精工机械有限公司", "R01", 1).await;

    let mut overlapping = journal_of(&customer);
    overlapping.visits[1].from_time = Some(at(8, 30));
    let err = create(&app, overlapping).await.expect_err("overlap");
    assert_eq!(violated_fields(&err), ["journal.visits[1].from_time"]);

    let mut backwards = journal_of(&customer);
    backwards.visits[0].to_time = Some(at(7, 0));
    let err = create(&app, backwards).await.expect_err("end before start");
    assert_eq!(violated_fields(&err), ["journal.visits[0].to_time"]);

    let mut negative = journal_of(&customer);
    negative.collections[0].amount_paid = "-1".into();
    let err = create(&app, negative).await.expect_err("negative");
    assert_eq!(
        violated_fields(&err),
        ["journal.collections[0].amount_paid"]
    );

    let mut unknown = journal_of(&customer);
    unknown.collections[0].customer_id = "nobody".into();
    let err = create(&app, unknown).await.expect_err("unknown customer");
    assert_eq!(
        violated_fields(&err),
        ["journal.collections[0].customer_id"]
    );

    create(&app, journal_of(&customer))
        .await
        .expect("first of the day");
    let err = create(&app, journal_of(&customer))
        .await
        .expect_err("second of the day");
    assert_eq!(err.code(), Code::AlreadyExists);
}
