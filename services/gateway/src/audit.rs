//! Writing the audit log: every call waits until its event is committed (a call whose audit
//! write fails returns no data), and events arriving together are committed together — one
//! writer task, one transaction per batch — so auditing costs one commit per batch, not per call.

use dossier_kit::Problem;
use tokio::sync::{mpsc, oneshot};

use crate::domain::audit_chain::AuditEntry;
use crate::store::Store;
use crate::store::audit::ChainHead;

/// Events committed in one transaction at most.
const MAX_BATCH: usize = 256;
/// Appends tried per batch: a gateway sharing its database with others may find the head moved
/// by one of them, and retries from the stored head.
const ATTEMPTS: usize = 8;
/// Times the writer yields to let more calls join a batch before committing it.
const GATHER_YIELDS: usize = 16;
/// Calls waiting for the writer before new ones are refused (back-pressure, not memory growth).
const QUEUE: usize = 8_192;

type Ack = oneshot::Sender<Result<i64, String>>;

/// The handle calls use to append to the audit chain.
#[derive(Clone)]
pub struct AuditLog {
    sender: mpsc::Sender<(AuditEntry, Ack)>,
}

impl AuditLog {
    /// Starts the writer over `store`.
    pub fn start(store: Store) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(writer(store, receiver));
        Self { sender }
    }

    /// Appends one event and waits for its commit; returns its sequence.
    pub async fn append(&self, entry: AuditEntry) -> Result<i64, Problem> {
        let (ack, done) = oneshot::channel();
        self.sender
            .send((entry, ack))
            .await
            .map_err(|_| audit_unavailable())?;
        match done.await {
            Ok(Ok(sequence)) => Ok(sequence),
            Ok(Err(error)) => {
                tracing::error!(%error, "audit write failed");
                Err(audit_unavailable())
            }
            Err(_) => Err(audit_unavailable()),
        }
    }
}

fn audit_unavailable() -> Problem {
    Problem::Unavailable {
        what: "audit log".into(),
    }
}

async fn writer(store: Store, mut receiver: mpsc::Receiver<(AuditEntry, Ack)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The chain's head as this writer left it; `None` after a failure, to read it afresh.
    let mut head: Option<ChainHead> = None;
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        gather(&mut receiver, &mut batch).await;
        let (entries, acks): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let mut outcome = store.append_audit(&entries, head.take()).await;
        for _ in 1..ATTEMPTS {
            if outcome.is_ok() {
                break;
            }
            // Perhaps another process moved the head: again from the stored one.
            outcome = store.append_audit(&entries, None).await;
        }
        match outcome {
            Ok((sequences, new_head)) => {
                head = Some(new_head);
                for (ack, sequence) in acks.into_iter().zip(sequences) {
                    let _ = ack.send(Ok(sequence));
                }
            }
            Err(problem) => {
                let message = problem.to_string();
                for ack in acks {
                    let _ = ack.send(Err(message.clone()));
                }
            }
        }
    }
}

/// Lets the calls that are about to append join the batch: a commit costs the same for one event
/// as for dozens, and under load the callers of the next few microseconds are already running
/// on the other worker threads (a few yields, no sleep: an idle gateway adds no latency).
async fn gather(
    receiver: &mut mpsc::Receiver<(AuditEntry, Ack)>,
    batch: &mut Vec<(AuditEntry, Ack)>,
) {
    for _ in 0..GATHER_YIELDS {
        if batch.len() >= MAX_BATCH {
            return;
        }
        tokio::task::yield_now().await;
        let before = batch.len();
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if batch.len() == before && before == 1 {
            // Nobody else is calling: commit the lone event at once.
            return;
        }
    }
}
