//! The life cycle over gRPC: every step recorded with who and when, illegal moves refused with
//! FAILED_PRECONDITION, stale etags ABORTED, and a seeded random run of actions.

use chrono::Duration;
use dossier_kit::auth::Role;
use dossier_kit::time::from_timestamp;
use dossier_proto::complaint::{self as pb, ComplaintState, CustomerReaction};
use dossier_proto::customer::Grade;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_complaint_goes_from_receipt_to_close_and_each_step_records_who_and_when() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let filed = app.file(&customer, "交货延迟").await;
    assert_eq!(filed.state, ComplaintState::Received as i32);
    assert_eq!(filed.receiver_id, "customer_service-1");
    assert_eq!(filed.receiver, "customer_service-1");
    assert_eq!(filed.etag, "\"v1\"");

    app.clock.advance(Duration::hours(1));
    let analysed = app.analyse(&filed).await.expect("analysed");
    app.clock.advance(Duration::hours(1));
    let handling = app.handle(&analysed, "zhang").await.expect("handling");
    assert_eq!(
        (handling.handler_id.as_str(), handling.handler.as_str()),
        ("zhang", "zhang名")
    );
    app.clock.advance(Duration::hours(1));
    let replied = app.reply(&handling).await.expect("replied");
    assert_eq!(
        replied.reply_time.as_ref().map(|t| t.seconds),
        Some(app.now().timestamp())
    );
    assert_eq!(replied.replier_id, "customer_service-1");
    app.clock.advance(Duration::hours(1));
    let closed = app
        .close(&replied, CustomerReaction::Satisfied)
        .await
        .expect("closed");
    assert_eq!(closed.state, ComplaintState::Closed as i32);
    assert_eq!(closed.customer_reaction, CustomerReaction::Satisfied as i32);
    assert_eq!(
        closed.close_time.as_ref().map(|t| t.seconds),
        Some(app.now().timestamp())
    );

    let read = app.get(&filed.id).await;
    let steps: Vec<(i32, i32)> = read
        .history
        .iter()
        .map(|t| (t.from_state, t.to_state))
        .collect();
    use ComplaintState::*;
    assert_eq!(
        steps,
        [
            (Unspecified as i32, Received as i32),
            (Received as i32, Analysed as i32),
            (Analysed as i32, Handling as i32),
            (Handling as i32, Replied as i32),
            (Replied as i32, Closed as i32),
        ]
    );
    for (hours, transition) in read.history.iter().enumerate() {
        assert_eq!(transition.actor_id, "customer_service-1");
        let at =
            from_timestamp("t", transition.transition_time.as_ref().expect("time")).expect("ok");
        assert_eq!(at, start_time() + Duration::hours(hours as i64));
    }
    // A satisfied customer's complaint is not reopened.
    let refused = app.reopen(&read).await.expect_err("satisfied");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CUSTOMER_SATISFIED");
}

#[tokio::test]
async fn an_unsatisfied_customer_reopens_the_complaint_with_a_new_deadline() {
    let app = spawn_app().await;
    let customer = app.customer("杭州乙公司", Grade::C).await;
    let mut c = app.file(&customer, "质量问题").await;
    c = app.analyse(&c).await.expect("ok");
    c = app.handle(&c, "li").await.expect("ok");
    c = app.reply(&c).await.expect("ok");
    c = app
        .close(&c, CustomerReaction::Unsatisfied)
        .await
        .expect("ok");
    app.clock.advance(Duration::days(5));
    let reopened = app.reopen(&c).await.expect("reopened");
    assert_eq!(reopened.state, ComplaintState::Handling as i32);
    assert_eq!(reopened.reopen_count, 1);
    assert_eq!(
        reopened.customer_reaction,
        CustomerReaction::Unspecified as i32
    );
    assert_eq!(
        reopened.reply_due_time.as_ref().map(|t| t.seconds),
        Some((app.now() + Duration::hours(48)).timestamp())
    );
    let last = reopened.history.last().expect("history");
    assert_eq!(last.note, "客户仍不满意");
    assert_eq!(last.from_state, ComplaintState::Closed as i32);
}

#[tokio::test]
async fn a_step_from_the_wrong_state_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let customer = app.customer("杭州丙公司", Grade::B).await;
    let c = app.file(&customer, "服务态度").await;
    for status in [
        app.reply(&c).await.expect_err("not handling"),
        app.handle(&c, "x").await.expect_err("not analysed"),
        app.close(&c, CustomerReaction::Satisfied)
            .await
            .expect_err("not replied"),
        app.reopen(&c).await.expect_err("not closed"),
    ] {
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert_eq!(reason(&status), "INVALID_STATE_TRANSITION");
    }
    let read = app.get(&c.id).await;
    assert_eq!(read.etag, c.etag);
    assert_eq!(read.history.len(), 1);
}

#[tokio::test]
async fn a_stale_etag_is_aborted_and_the_wrong_role_denied() {
    let app = spawn_app().await;
    let customer = app.customer("杭州丁公司", Grade::B).await;
    let c = app.file(&customer, "发票错误").await;
    app.analyse(&c).await.expect("analysed");
    let stale = app.handle(&c, "x").await.expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);

    let denied = app
        .client
        .clone()
        .get_complaint(as_role(
            Role::Finance,
            pb::GetComplaintRequest { id: c.id.clone() },
        ))
        .await
        .expect_err("finance does not read complaints");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = app
        .client
        .clone()
        .analyze_complaint(as_role(
            Role::Auditor,
            pb::AnalyzeComplaintRequest {
                id: c.id.clone(),
                analysis: "x".into(),
                etag: String::new(),
            },
        ))
        .await
        .expect_err("auditors only read");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

/// A short API-level run of the random-sequence property (the long run is the domain's): the
/// service's answer to every action agrees with a model of the state machine, and the history
/// holds exactly the accepted moves.
#[tokio::test]
async fn random_actions_over_the_api_agree_with_the_state_machine() {
    let app = spawn_app().await;
    let customer = app.customer("杭州戊公司", Grade::B).await;
    let mut seed: u64 = 0x5EED;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..3 {
        let mut c = app.file(&customer, "随机").await;
        let mut accepted = 1;
        for _ in 0..12 {
            app.clock.advance(Duration::minutes(10));
            let state = ComplaintState::try_from(c.state).expect("state");
            let action = next(5);
            let reaction = if next(2) == 0 {
                CustomerReaction::Satisfied
            } else {
                CustomerReaction::Unsatisfied
            };
            let expected_ok = match (action, state) {
                (0, ComplaintState::Received) => true,
                (1, ComplaintState::Analysed) => true,
                (2, ComplaintState::Handling) => true,
                (3, ComplaintState::Replied) => true,
                (4, ComplaintState::Closed) => {
                    c.customer_reaction != CustomerReaction::Satisfied as i32
                }
                _ => false,
            };
            let outcome = match action {
                0 => app.analyse(&c).await,
                1 => app.handle(&c, "h").await,
                2 => app.reply(&c).await,
                3 => app.close(&c, reaction).await,
                _ => app.reopen(&c).await,
            };
            match outcome {
                Ok(after) => {
                    assert!(expected_ok, "action {action} from {state:?} was accepted");
                    accepted += 1;
                    assert_eq!(after.history.len(), accepted);
                    c = after;
                }
                Err(status) => {
                    assert!(!expected_ok, "action {action} from {state:?}: {status:?}");
                    assert_eq!(status.code(), Code::FailedPrecondition);
                    let read = app.get(&c.id).await;
                    assert_eq!(read.etag, c.etag, "a refusal changed the complaint");
                }
            }
        }
        assert_eq!(app.get(&c.id).await.history.len(), accepted);
    }
}
