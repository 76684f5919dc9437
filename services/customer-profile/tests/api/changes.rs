//! The change feed: replay, live follow, resume without gap or duplicate, concurrent writers.

use std::collections::BTreeSet;
use std::time::Duration;

use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::customer::{self as pb};
use prost::Message;

use crate::helpers::*;

/// Reads `count` events after `after` (waiting for live ones up to a few seconds).
pub async fn read_events(app: &TestApp, after: u64, count: usize) -> Vec<ChangeEvent> {
    let mut stream = app
        .client
        .clone()
        .watch_changes(archivist(WatchChangesRequest {
            after_sequence: after,
            event_types: vec![],
        }))
        .await
        .expect("watch")
        .into_inner();
    let mut events = Vec::new();
    while events.len() < count {
        match tokio::time::timeout(Duration::from_millis(800), stream.message()).await {
            Ok(Ok(Some(event))) => events.push(event),
            _ => break,
        }
    }
    events
}

#[tokio::test]
async fn the_feed_replays_then_follows_live() {
    let app = spawn_app().await;
    let first = create(&app, "甲公司", 1).await;
    create(&app, "乙公司", 2).await;
    let mut stream = app
        .client
        .clone()
        .watch_changes(archivist(WatchChangesRequest::default()))
        .await
        .expect("watch")
        .into_inner();
    let replayed = [
        stream.message().await.expect("ok").expect("one"),
        stream.message().await.expect("ok").expect("two"),
    ];
    assert_eq!(replayed[0].aggregate_id, first.id);
    let payload = pb::Customer::decode(
        replayed[0]
            .payload
            .as_ref()
            .expect("payload")
            .value
            .as_slice(),
    )
    .expect("a Customer");
    assert_eq!(payload.name, "甲公司");
    assert_eq!(
        replayed[0].payload.as_ref().expect("payload").type_url,
        "type.googleapis.com/dossier.customer.v1.Customer"
    );

    let third = create(&app, "丙公司", 3).await;
    let live = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("in time")
        .expect("ok")
        .expect("event");
    assert_eq!(live.aggregate_id, third.id);
    assert_eq!(live.sequence, replayed[1].sequence + 1);
}

#[tokio::test]
async fn a_consumer_resuming_from_its_last_sequence_sees_no_gap_and_no_duplicate_under_concurrent_writers()
 {
    let app = spawn_app().await;
    const WRITERS: u32 = 4;
    const EACH: u32 = 15;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = app.client.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let n = w * 1000 + i;
                client
                    .clone()
                    .create_customer(archivist(pb::CreateCustomerRequest {
                        customer: Some(company(&format!("并发{n}有限公司"), n + 1)),
                        request_id: format!("w{n}"),
                    }))
                    .await
                    .expect("created");
            }
        }));
    }
    // A consumer that stops after a few events and resumes from the last one it applied, again
    // and again, while the writers run.
    let total = (WRITERS * EACH) as usize;
    let mut applied: Vec<u64> = Vec::new();
    let mut last = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while applied.len() < total && tokio::time::Instant::now() < deadline {
        for event in read_events(&app, last, 7).await {
            applied.push(event.sequence);
            last = event.sequence;
        }
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let unique: BTreeSet<u64> = applied.iter().copied().collect();
    assert_eq!(unique.len(), applied.len(), "no event twice");
    assert_eq!(applied.len(), total, "every event once");
    assert!(applied.windows(2).all(|w| w[0] < w[1]), "in sequence order");
    let everything = read_events(&app, 0, total + 1).await;
    assert_eq!(
        everything.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        applied
    );
}

#[tokio::test]
async fn the_feed_filters_by_event_type() {
    let app = spawn_app().await;
    let created = create(&app, "甲公司", 1).await;
    app.client
        .clone()
        .mark_reviewed(archivist(pb::MarkReviewedRequest {
            id: created.id,
            note: String::new(),
        }))
        .await
        .expect("reviewed");
    let mut stream = app
        .client
        .clone()
        .watch_changes(archivist(WatchChangesRequest {
            after_sequence: 0,
            event_types: vec!["customer.reviewed".into()],
        }))
        .await
        .expect("watch")
        .into_inner();
    let event = stream.message().await.expect("ok").expect("one");
    assert_eq!(event.event_type, "customer.reviewed");
    assert_eq!(event.sequence, 2);
}
