//! Database by URL: SQLite (embedded, WAL, foreign keys, busy timeout) or PostgreSQL, with the
//! service's migrations run at start.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
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
