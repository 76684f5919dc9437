//! Persistence of analytics: the schema ([`migration`]), applying change-feed events to the read
//! model ([`apply`]), the sales-force scores ([`scores`]) and the aggregates of the reports
//! ([`reports`]), all in SQL that runs on SQLite and PostgreSQL.

pub mod apply;
pub mod dashboard;
pub mod migration;
pub mod reports;
pub mod scores;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Value};

use dossier_kit::Problem;

/// The analytics database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Serialises this process's feed writers on SQLite, whose single writer would otherwise
    /// make the others wait in its busy handler, which sleeps in steps of up to 100 ms.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// The store over a migrated database.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            writer: std::sync::Arc::default(),
        }
    }

    /// Holds the SQLite writer turn (nothing on PostgreSQL, which takes writers in parallel).
    pub async fn writer_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.backend() == DbBackend::Sqlite {
            Some(self.writer.lock().await)
        } else {
            None
        }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Rows of a query written with `?` placeholders.
    pub async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, Problem> {
        Ok(self
            .db
            .query_all_raw(statement(self.backend(), sql, values))
            .await?)
    }

    /// The backend in use.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

pub use dossier_kit::db::statement;

/// Executes one statement written with `?` placeholders.
pub async fn execute(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<(), sea_orm::DbErr> {
    conn.execute_raw(statement(conn.get_database_backend(), sql, values))
        .await?;
    Ok(())
}

/// An `i64` column (SUM and COUNT are cast to BIGINT in the SQL so both backends agree).
pub fn int(row: &QueryResult, column: &str) -> Result<i64, Problem> {
    Ok(row.try_get::<Option<i64>>("", column)?.unwrap_or(0))
}

/// A text column, empty when NULL.
pub fn text(row: &QueryResult, column: &str) -> Result<String, Problem> {
    Ok(row
        .try_get::<Option<String>>("", column)?
        .unwrap_or_default())
}
