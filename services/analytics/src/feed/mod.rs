//! The consumers of the change feeds: one task per source service. Each asks the source for
//! `WatchChanges(after_sequence = the position stored with the read model)`, takes the events
//! that are ready in batches, and applies each batch together with the new position in one
//! transaction (see [`crate::store::apply`]). When the stream fails or ends (the source restarts,
//! the network drops) it reconnects with backoff and resumes from the stored position, so nothing
//! is lost and nothing is counted twice. What each consumer last saw is kept on a [`LagBoard`]
//! for `GetFeedLag`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dossier_kit::clock::SharedClock;
use dossier_kit::server::ShutdownSignal;
use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::complaint::complaint_service_client::ComplaintServiceClient;
use dossier_proto::contract::contract_service_client::ContractServiceClient;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::visit::visit_service_client::VisitServiceClient;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;
use tonic::Streaming;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::store::Store;
use crate::store::apply::Source;

/// Most events applied in one transaction.
pub const BATCH: usize = 5000;
/// How long a batch waits for more events after its first one.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// First and longest wait before reconnecting.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// HTTP/2 flow-control window of a feed: room for thousands of events in flight.
const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
/// Largest feed message accepted.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// What a consumer knows about its feed beyond the stored position.
#[derive(Debug, Clone, Default)]
pub struct FeedState {
    /// Highest sequence received.
    pub latest_seen: u64,
    /// Commit time (Unix seconds) of the oldest event received and not yet applied.
    pub oldest_pending: Option<i64>,
    /// Whether the stream is open.
    pub connected: bool,
    /// The last error, while not connected.
    pub last_error: String,
}

/// The consumers' states, shared with the API.
#[derive(Debug, Clone, Default)]
pub struct LagBoard(Arc<Mutex<BTreeMap<Source, FeedState>>>);

impl LagBoard {
    /// The state of `source`.
    pub fn get(&self, source: Source) -> FeedState {
        self.0
            .lock()
            .map(|m| m.get(&source).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    fn update(&self, source: Source, change: impl FnOnce(&mut FeedState)) {
        if let Ok(mut map) = self.0.lock() {
            change(map.entry(source).or_default());
        }
    }
}

/// Where a consumer reads and with which credentials.
#[derive(Clone)]
pub struct FeedSource {
    /// The source.
    pub source: Source,
    /// Its gRPC endpoint, e.g. `http://127.0.0.1:50061`.
    pub endpoint: String,
    /// The service token presented to it (kept out of logs).
    pub token: SecretString,
}

/// Starts one consumer; it runs until `shutdown` fires (or the task is aborted).
pub fn spawn(
    store: Store,
    feed: FeedSource,
    board: LagBoard,
    clock: SharedClock,
    mut shutdown: ShutdownSignal,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            _ = follow(&store, &feed, &board, &clock) => {}
            _ = shutdown.wait() => {}
        }
    })
}

async fn follow(store: &Store, feed: &FeedSource, board: &LagBoard, clock: &SharedClock) {
    let mut backoff = BACKOFF.0;
    loop {
        let outcome = follow_once(store, feed, board, clock, &mut backoff).await;
        let error = match outcome {
            Ok(()) => "the feed ended".to_owned(),
            Err(error) => error,
        };
        tracing::info!(source = feed.source.name(), %error, "change feed interrupted; reconnecting");
        board.update(feed.source, |s| {
            s.connected = false;
            s.oldest_pending = None;
            s.last_error = error;
        });
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Aborts a task when dropped, so the stream reader ends with the consumer that owns it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connection: resume from the stored position, apply until the stream fails or ends.
///
/// A reader task pulls events off the stream into a buffer while the previous batch is being
/// written, so receiving and applying overlap (the stream would otherwise stall at its flow
/// control window during every write).
async fn follow_once(
    store: &Store,
    feed: &FeedSource,
    board: &LagBoard,
    clock: &SharedClock,
    backoff: &mut Duration,
) -> Result<(), String> {
    let from = store
        .position(feed.source)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = open(feed, from).await?;
    board.update(feed.source, |s| {
        s.connected = true;
        s.last_error.clear();
        s.latest_seen = s.latest_seen.max(from);
    });
    *backoff = BACKOFF.0;
    let (sender, mut events) = tokio::sync::mpsc::channel::<Result<ChangeEvent, String>>(BATCH * 2);
    let _reader = AbortOnDrop(tokio::spawn(async move {
        loop {
            let item = match stream.message().await {
                Ok(Some(event)) => Ok(event),
                Ok(None) => return,
                Err(status) => Err(status.message().to_owned()),
            };
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                return;
            }
        }
    }));
    loop {
        let Some(first) = events.recv().await else {
            return Ok(()); // the feed ended
        };
        let mut batch = vec![first?];
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut outcome = None;
        while batch.len() < BATCH {
            let next = match events.try_recv() {
                Ok(item) => Some(item),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, events.recv()).await {
                        Ok(item) => item,
                        Err(_) => break, // the window closed: apply what is here
                    }
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
            };
            match next {
                Some(Ok(event)) => batch.push(event),
                Some(Err(error)) => {
                    outcome = Some(Err(error));
                    break;
                }
                None => {
                    outcome = Some(Ok(()));
                    break;
                }
            }
        }
        // What arrived intact is applied before a failure or the end is reported.
        apply(store, feed.source, board, clock, &batch).await?;
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
}

async fn apply(
    store: &Store,
    source: Source,
    board: &LagBoard,
    clock: &SharedClock,
    batch: &[ChangeEvent],
) -> Result<(), String> {
    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
        return Ok(());
    };
    board.update(source, |s| {
        s.latest_seen = s.latest_seen.max(last.sequence);
        s.oldest_pending = first.occurred_at.as_ref().map(|t| t.seconds);
    });
    dossier_kit::metrics::set_feed_lag(source.name(), batch.len() as i64);
    store
        .apply(source, batch, clock.now())
        .await
        .map_err(|e| format!("applying events: {e}"))?;
    let mut unapplied = 0;
    board.update(source, |s| {
        s.oldest_pending = None;
        unapplied = s.latest_seen.saturating_sub(last.sequence);
    });
    // The Prometheus view of `GetFeedLag`: events received and not yet applied.
    dossier_kit::metrics::set_feed_lag(source.name(), unapplied as i64);
    Ok(())
}

async fn open(feed: &FeedSource, after_sequence: u64) -> Result<Streaming<ChangeEvent>, String> {
    let channel: Channel = Endpoint::from_shared(feed.endpoint.clone())
        .map_err(|e| format!("endpoint {:?}: {e}", feed.endpoint))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(STREAM_WINDOW))
        .initial_connection_window_size(Some(STREAM_WINDOW))
        .connect()
        .await
        .map_err(|e| format!("cannot reach {}: {e}", feed.endpoint))?;
    let mut request = tonic::Request::new(WatchChangesRequest {
        after_sequence,
        event_types: Vec::new(),
    });
    let mut value: MetadataValue<_> = format!("Bearer {}", feed.token.expose_secret())
        .parse()
        .map_err(|_| "the feed token is not a valid header value".to_owned())?;
    value.set_sensitive(true);
    request.metadata_mut().insert("authorization", value);
    let answer = match feed.source {
        Source::Customers => {
            CustomerServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .watch_changes(request)
                .await
        }
        Source::Visits => {
            VisitServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .watch_changes(request)
                .await
        }
        Source::Contracts => {
            ContractServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .watch_changes(request)
                .await
        }
        Source::Complaints => {
            ComplaintServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .watch_changes(request)
                .await
        }
    };
    answer
        .map(|r| r.into_inner())
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

/// Unix seconds as a time.
pub fn at(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|s| DateTime::from_timestamp(s, 0))
}
