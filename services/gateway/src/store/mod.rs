//! The gateway's own database: borrows (with their outbox events) and the audit chain.

pub mod audit;
pub mod borrows;
pub mod migration;

use dossier_kit::outbox::Outbox;
use sea_orm::DatabaseConnection;

/// The gateway's tables.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl Store {
    /// A store over a migrated database.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            outbox: Outbox::new(db.clone()),
            db,
        }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

pub(crate) use dossier_kit::db::statement;
