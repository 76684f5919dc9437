//! The change feed: every filing and step is an event, in order, with the complaint as payload.

use std::time::Duration;

use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::complaint::{self as pb};
use dossier_proto::customer::Grade;
use prost::Message;

use crate::helpers::*;

/// Reads up to `count` events after `after` (waiting for live ones briefly).
pub async fn read_events(app: &TestApp, after: u64, count: usize) -> Vec<ChangeEvent> {
    let mut stream = app
        .client
        .clone()
        .watch_changes(desk(WatchChangesRequest {
            after_sequence: after,
            event_types: vec![],
        }))
        .await
        .expect("watch")
        .into_inner();
    let mut events = Vec::new();
    while events.len() < count {
        match tokio::time::timeout(Duration::from_millis(600), stream.message()).await {
            Ok(Ok(Some(event))) => events.push(event),
            _ => break,
        }
    }
    events
}

#[tokio::test]
async fn every_filing_and_step_is_on_the_feed_in_order() {
    let app = spawn_app().await;
    let customer = app.customer("杭州甲公司", Grade::B).await;
    let c = app.file(&customer, "交货").await;
    let c = app.analyse(&c).await.expect("ok");
    let c = app.handle(&c, "h").await.expect("ok");
    let events = read_events(&app, 0, 10).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "complaint.filed",
            "complaint.analysed",
            "complaint.handling_started"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.aggregate_id == c.id && e.customer_id == customer)
    );
    let last = pb::Complaint::decode(
        events[2]
            .payload
            .as_ref()
            .expect("payload")
            .value
            .as_slice(),
    )
    .expect("a Complaint");
    assert_eq!(last.handler_id, "h");
    assert_eq!(
        events[2].payload.as_ref().expect("payload").type_url,
        "type.googleapis.com/dossier.complaint.v1.Complaint"
    );
    // Resuming after the second event gives only the third.
    let rest = read_events(&app, events[1].sequence, 10).await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].sequence, events[2].sequence);
}
