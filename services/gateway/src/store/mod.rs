//! The gateway's own database: borrows (with their outbox events) and the audit chain.

pub mod audit;
pub mod borrows;
pub mod migration;

use dossier_kit::outbox::Outbox;
use sea_orm::{DatabaseConnection, DbBackend, Statement, Value};

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

/// A statement written with `?` placeholders, numbered `$1, $2, …` for PostgreSQL.
pub(crate) fn statement(
    backend: DbBackend,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}
