//! The outbox's ordering guarantee on a real database: an event becomes visible to readers only
//! after every event with a lower sequence, even when the transactions commit in another order.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use chrono::Utc;
use dossier_kit::db::{begin_write, connect};
use dossier_kit::outbox::{Migration, NewEvent, Outbox};
use dossier_testkit::TestDb;
use sea_orm::TransactionTrait;
use sea_orm_migration::{MigrationTrait, SchemaManager};

fn event(n: u32) -> NewEvent {
    NewEvent {
        event_type: "test.happened".into(),
        aggregate_id: format!("a-{n}"),
        customer_id: None,
        actor_id: "tester".into(),
        payload: prost_types::Any {
            type_url: "type.googleapis.com/test".into(),
            value: vec![n as u8],
        },
    }
}

async fn outbox() -> (TestDb, Outbox, sea_orm::DatabaseConnection) {
    let db = TestDb::new().await;
    let conn = connect(&db.url).await.expect("connects");
    Migration
        .up(&SchemaManager::new(&conn))
        .await
        .expect("migrates");
    let outbox = Outbox::new(conn.clone());
    (db, outbox, conn)
}

#[tokio::test]
async fn a_later_transaction_cannot_publish_before_an_earlier_one_commits() {
    let (_db, outbox, conn) = outbox().await;
    // Transaction A draws the first sequence and stays open.
    let first = begin_write(&conn).await.expect("begin A");
    let a = outbox
        .append(&first, Utc::now(), event(1))
        .await
        .expect("append A");

    // Transaction B appends and commits meanwhile (on SQLite it waits for the write lock, on
    // PostgreSQL for the append lock).
    let other = conn.clone();
    let writer = outbox.clone();
    let b = tokio::spawn(async move {
        let second = begin_write(&other).await.expect("begin B");
        let b = writer
            .append(&second, Utc::now(), event(2))
            .await
            .expect("append B");
        second.commit().await.expect("commit B");
        b
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Nothing is visible while A is open: B has not got past the append.
    assert!(
        outbox
            .read_after(0, 10, &[])
            .await
            .expect("read")
            .is_empty()
    );
    assert!(!b.is_finished(), "B waits for A");

    first.commit().await.expect("commit A");
    let b = b.await.expect("B finishes");
    assert!(b > a, "sequences follow commit order");
    let seen: Vec<u64> = outbox
        .read_after(0, 10, &[])
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seen, vec![a, b]);
    // A consumer that had applied A resumes after it and gets exactly B.
    let resumed: Vec<u64> = outbox
        .read_after(a, 10, &[])
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(resumed, vec![b]);
}

#[tokio::test]
async fn a_rolled_back_append_leaves_no_event() {
    let (_db, outbox, conn) = outbox().await;
    let txn = conn.begin().await.expect("begin");
    outbox
        .append(&txn, Utc::now(), event(1))
        .await
        .expect("append");
    txn.rollback().await.expect("rollback");
    assert!(
        outbox
            .read_after(0, 10, &[])
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(outbox.head().await.expect("head"), 0);
}
