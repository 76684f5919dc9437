//! Storage of complaints and feedback: sea-orm entities and migrations, the queries, and the
//! outbox event of every change written in the same transaction as the change.

pub mod entities;
pub mod migration;

mod complaints;
mod feedback;

pub use complaints::{ComplaintFilter, Ordering};
pub use feedback::FeedbackFilter;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::db::begin_write;
use dossier_kit::idempotency::{self, Prior};
use dossier_kit::outbox::{NewEvent, Outbox};
use dossier_kit::problem::is_unique_violation;
use sea_orm::{DatabaseConnection, DatabaseTransaction, EntityTrait};

use entities::{complaint, feedback as feedback_table};

/// The service's storage.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    outbox: Outbox,
}

/// A new row to insert under a request id.
pub(crate) enum NewRow {
    Complaint(complaint::ActiveModel),
    Feedback(feedback_table::ActiveModel),
}

/// What an idempotent insert did.
pub(crate) enum Inserted {
    /// The row is in, with its event.
    New,
    /// The same request was done before (perhaps concurrently); this is what it produced.
    Replay(String),
}

impl Store {
    /// Storage over a migrated database.
    pub fn new(db: DatabaseConnection) -> Self {
        let outbox = Outbox::new(db.clone());
        Self { db, outbox }
    }

    /// The change feed.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The connection pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The resource an earlier request with this key produced, if any; the same key with other
    /// content is `ALREADY_EXISTS`.
    pub async fn prior(
        &self,
        scope: &str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<String>, Problem> {
        Ok(
            match idempotency::check(&self.db, scope, request_id, fingerprint).await? {
                Prior::New => None,
                Prior::Replay(id) => Some(id),
            },
        )
    }

    /// Inserts `row` with its idempotency key and its event in one transaction. A unique
    /// violation means a concurrent request with the same key won: its result is returned.
    pub(crate) async fn insert_idempotent(
        &self,
        key: (&str, &str, &str),
        id: &str,
        row: NewRow,
        event: NewEvent,
        at: DateTime<Utc>,
    ) -> Result<Inserted, Problem> {
        let (scope, request_id, fingerprint) = key;
        let txn = begin_write(&self.db).await?;
        let written: Result<(), sea_orm::DbErr> = async {
            match row {
                NewRow::Complaint(row) => {
                    complaint::Entity::insert(row)
                        .exec_without_returning(&txn)
                        .await?;
                }
                NewRow::Feedback(row) => {
                    feedback_table::Entity::insert(row)
                        .exec_without_returning(&txn)
                        .await?;
                }
            }
            idempotency::record(&txn, scope, request_id, fingerprint, id, at).await?;
            self.outbox.append(&txn, at, event).await?;
            Ok(())
        }
        .await;
        match written {
            Ok(()) => {
                txn.commit().await?;
                self.outbox.notify_committed();
                Ok(Inserted::New)
            }
            Err(err) => {
                let _ = txn.rollback().await;
                if is_unique_violation(&err)
                    && let Some(existing) = self.prior(scope, request_id, fingerprint).await?
                {
                    return Ok(Inserted::Replay(existing));
                }
                Err(err.into())
            }
        }
    }
}

/// Commits on success (and wakes the feed), rolls back on failure.
pub(crate) async fn finish<T>(
    outbox: &Outbox,
    txn: DatabaseTransaction,
    result: Result<T, Problem>,
) -> Result<T, Problem> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            outbox.notify_committed();
            Ok(value)
        }
        Err(problem) => {
            let _ = txn.rollback().await;
            Err(problem)
        }
    }
}

/// Parses a record stored as JSON text.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    id: &str,
    body: &str,
) -> Result<T, Problem> {
    serde_json::from_str(body)
        .map_err(|e| Problem::internal(format!("stored record {id} unreadable: {e}")))
}
