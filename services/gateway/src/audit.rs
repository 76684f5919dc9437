//! Writing the audit log: every call waits until its event is committed (a call whose audit
//! write fails returns no data), and events arriving together are committed together — one
//! writer task, one transaction per batch — so auditing costs one commit per batch, not per call.

use dossier_kit::Problem;
use tokio::sync::{mpsc, oneshot};

use crate::domain::audit_chain::AuditEntry;
use crate::store::Store;

/// Events committed in one transaction at most.
const MAX_BATCH: usize = 256;
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
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (entries, acks): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        match store.append_audit(&entries).await {
            Ok(sequences) => {
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
