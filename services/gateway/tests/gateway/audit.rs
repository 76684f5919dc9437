//! The audit chain: every call is recorded; editing or deleting one row is found and named.

use dossier_proto::customer::GetCustomerRequest;
use dossier_proto::gateway::{self as pb};
use sea_orm::ConnectionTrait;
use tonic::Code;

use crate::helpers::*;

async fn verify(stack: &Stack) -> pb::VerifyAuditChainResponse {
    stack
        .access
        .clone()
        .verify_audit_chain(AUDITOR.req(pb::VerifyAuditChainRequest::default()))
        .await
        .expect("auditor verifies")
        .into_inner()
}

async fn tamper(stack: &Stack, sql: &str) {
    let db = dossier_kit::db::connect(&stack.gateway_db)
        .await
        .expect("db");
    db.execute_unprepared(sql).await.expect("tampered");
}

#[tokio::test]
async fn an_edited_or_deleted_audit_row_is_named() {
    let stack = spawn_stack().await;
    let customer = create(&stack, company("审计测试公司", 3, "rep-a", "east")).await;
    for _ in 0..4 {
        stack
            .customers
            .clone()
            .get_customer(OWNER.req(GetCustomerRequest {
                id: customer.id.clone(),
            }))
            .await
            .expect("read");
    }
    let denied = stack
        .access
        .clone()
        .verify_audit_chain(OWNER.req(pb::VerifyAuditChainRequest::default()))
        .await
        .expect_err("only the auditor");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let intact = verify(&stack).await;
    assert!(intact.ok, "{intact:?}");
    assert!(intact.events_checked >= 6);

    tamper(
        &stack,
        "UPDATE audit_events SET caller_id = 'someone-else' WHERE sequence = 3",
    )
    .await;
    let edited = verify(&stack).await;
    assert!(!edited.ok);
    assert_eq!(edited.first_bad_sequence, 3, "{edited:?}");
    assert_eq!(edited.problem, "hash_mismatch");
    assert_eq!(edited.last_sequence, 2, "the last intact event");

    // A range before the edit is intact; one across it names it; a reversed one is refused.
    let range = |from_sequence, to_sequence| {
        let access = stack.access.clone();
        async move {
            access
                .clone()
                .verify_audit_chain(AUDITOR.req(pb::VerifyAuditChainRequest {
                    from_sequence,
                    to_sequence,
                }))
                .await
        }
    };
    let before = range(1, 2).await.expect("range").into_inner();
    assert!(before.ok, "{before:?}");
    assert_eq!((before.events_checked, before.last_sequence), (2, 2));
    let after = range(4, 5).await.expect("range").into_inner();
    assert!(after.ok, "{after:?}");
    assert_eq!(after.events_checked, 2);
    let across = range(2, 4).await.expect("range").into_inner();
    assert_eq!((across.ok, across.first_bad_sequence), (false, 3));
    let reversed = range(5, 2).await.expect_err("reversed range");
    assert_eq!(reversed.code(), Code::InvalidArgument);
    assert!(reversed.message().contains("to_sequence"), "{reversed:?}");
}

#[tokio::test]
async fn a_deleted_row_in_the_middle_or_at_the_end_is_named() {
    let stack = spawn_stack().await;
    let customer = create(&stack, company("审计测试公司", 4, "rep-a", "east")).await;
    for _ in 0..3 {
        stack
            .customers
            .clone()
            .get_customer(OWNER.req(GetCustomerRequest {
                id: customer.id.clone(),
            }))
            .await
            .expect("read");
    }
    tamper(&stack, "DELETE FROM audit_events WHERE sequence = 2").await;
    let deleted = verify(&stack).await;
    assert_eq!(deleted.first_bad_sequence, 2, "{deleted:?}");
    assert_eq!(deleted.problem, "missing");

    let stack = spawn_stack().await;
    create(&stack, company("审计测试公司", 5, "rep-a", "east")).await;
    // The newest event: delete what the head says is last.
    tamper(
        &stack,
        "DELETE FROM audit_events WHERE sequence = (SELECT sequence FROM audit_head WHERE id = 1)",
    )
    .await;
    let last = verify(&stack).await;
    assert!(!last.ok);
    assert_eq!(last.problem, "missing");
    assert_eq!(
        last.first_bad_sequence,
        last.last_sequence + 1,
        "the deleted newest event follows the last intact one: {last:?}"
    );
}

#[tokio::test]
async fn a_stream_is_audited_when_it_opens_and_when_it_ends_with_what_it_revealed() {
    use dossier_proto::common::WatchChangesRequest;
    use futures::StreamExt;

    let stack = spawn_stack().await;
    let first = create(&stack, company("审计流甲公司", 6, "rep-a", "east")).await;
    let second = create(&stack, company("审计流乙公司", 7, "rep-b", "west")).await;
    let method = "/dossier.customer.v1.CustomerService/WatchChanges";
    let mut stream = stack
        .customers
        .clone()
        .watch_changes(OWNER.req(WatchChangesRequest::default()))
        .await
        .expect("opens")
        .into_inner();
    for _ in 0..2 {
        stream
            .next()
            .await
            .expect("an event")
            .expect("not an error");
    }
    // The client goes away mid-stream.
    drop(stream);

    let events = async || {
        stack
            .access
            .clone()
            .list_audit_events(AUDITOR.req(pb::ListAuditEventsRequest {
                caller_id: OWNER.sub.into(),
                method: method.into(),
                ..Default::default()
            }))
            .await
            .expect("auditor reads")
            .into_inner()
            .events
    };
    let mut found = events().await;
    for _ in 0..50 {
        if found.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        found = events().await;
    }
    assert_eq!(
        found.len(),
        2,
        "one event at open, one at the end: {found:?}"
    );
    found.sort_by_key(|e| e.sequence);
    let (opened, closed) = (&found[0], &found[1]);
    assert_eq!(opened.status_code, Code::Ok as i32, "{found:#?}");
    assert_eq!(closed.status_code, Code::Cancelled as i32, "{closed:?}");
    let mut seen = closed.customer_ids.clone();
    seen.sort();
    let mut expected = vec![first.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(seen, expected, "the customers the stream revealed");
    assert!(
        !closed.masked_fields.is_empty(),
        "the other rep's customer was masked: {closed:?}"
    );
    // The chain still verifies with the closing event in it.
    assert!(verify(&stack).await.ok);
}

/// Two gateway processes may share one database: each one's writer keeps its own idea of the
/// chain's head, so each append of one can start from a head the other has moved. The sequence
/// key must refuse the stale append (which then retries from the stored head): every call is
/// recorded once and the chain verifies end to end.
#[tokio::test]
async fn two_gateways_sharing_a_database_write_one_unbroken_chain() {
    use dossier_gateway::audit::AuditLog;
    use dossier_gateway::domain::audit_chain::AuditEntry;
    use dossier_gateway::store::Store;

    let stack = spawn_stack().await;
    let open = || async {
        Store::new(
            dossier_kit::db::connect(&stack.gateway_db)
                .await
                .expect("db"),
        )
    };
    let (first, second) = (AuditLog::start(open().await), AuditLog::start(open().await));
    let before = open().await.audit_head().await.expect("head").sequence;
    let mut calls = Vec::new();
    for n in 0..120 {
        let log = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        calls.push(tokio::spawn(async move {
            log.append(AuditEntry {
                caller_id: format!("caller-{n}"),
                method: "/dossier.customer.v1.CustomerService/GetCustomer".into(),
                ..AuditEntry::default()
            })
            .await
        }));
    }
    let mut sequences = Vec::new();
    for call in calls {
        sequences.push(call.await.expect("task").expect("audited"));
    }
    sequences.sort_unstable();
    sequences.dedup();
    assert_eq!(sequences.len(), 120, "each call its own sequence");
    let head = open().await.audit_head().await.expect("head");
    assert_eq!(head.sequence, before + 120);
    let report = verify(&stack).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events_checked as i64, head.sequence);
}
