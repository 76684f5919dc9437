//! Database by URL: SQLite (embedded, WAL, foreign keys, busy timeout) or PostgreSQL, with the
//! service's migrations run at start.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};
use sea_orm_migration::MigratorTrait;

/// Opens a connection pool for `url` (`sqlite://path?mode=rwc` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(15));
    if url.starts_with("sqlite:") {
        ensure_sqlite_parent_dir(url);
        // WAL lets readers run beside the one writer; the busy timeout makes a second writer
        // wait instead of failing; foreign keys are off by default in SQLite.
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
            });
    } else {
        options.max_connections(16).min_connections(1);
    }
    sea_orm::Database::connect(options).await
}

fn ensure_sqlite_parent_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Connects and brings the schema up to date.
pub async fn connect_and_migrate<M: MigratorTrait>(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    M::up(&db, None).await?;
    Ok(db)
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail with
/// `SQLITE_BUSY` when another writer got in between, and no busy timeout helps then.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// A statement from SQL written with `?` placeholders, numbered `$1, $2, …` for PostgreSQL, so
/// one SQL text serves both backends. The SQL must contain no `?` other than placeholders.
pub fn statement(
    backend: DbBackend,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 16);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_and_kept_for_sqlite() {
        let pg = statement(
            DbBackend::Postgres,
            "a = ? AND b IN (?, ?)",
            [1.into(), 2.into(), 3.into()],
        );
        assert_eq!(pg.sql, "a = $1 AND b IN ($2, $3)");
        let lite = statement(
            DbBackend::Sqlite,
            "a = ? AND b IN (?, ?)",
            [1.into(), 2.into(), 3.into()],
        );
        assert_eq!(lite.sql, "a = ? AND b IN (?, ?)");
    }
}
