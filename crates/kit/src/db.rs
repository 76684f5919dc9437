//! Database by URL: SQLite (embedded, WAL, foreign keys, busy timeout) or PostgreSQL, with the
//! service's migrations run at start.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};
use sea_orm_migration::MigratorTrait;

/// Prepared statements kept per connection. Multi-row statements of every batch size are distinct
/// statements; SQLite prepares a statement of hundreds of placeholders at a cost of many
/// executions, so a cache that holds every size a batching writer uses pays for itself.
const STATEMENT_CACHE: usize = 1_024;

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
        // An in-process database has no connection to lose: no ping per checkout (sqlx's
        // default), which on SQLite is a hop to the connection's thread and back per statement.
        options
            .max_connections(4)
            .min_connections(1)
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .statement_cache_capacity(STATEMENT_CACHE)
                    // Checkpoints run beside the writers, not inside them (see `checkpoint_in_background`).
                    .pragma("wal_autocheckpoint", "0")
            });
    } else {
        // A connection is pinged before use only after it sat idle long enough for the server,
        // a proxy or a firewall to have dropped it; a hot connection is not pinged per checkout
        // (sqlx's default, a round trip per statement run outside a transaction).
        options
            .max_connections(16)
            .min_connections(1)
            .test_before_acquire_if_idle_for(Duration::from_secs(30));
    }
    let db = sea_orm::Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        checkpoint_in_background(db.clone());
    }
    Ok(db)
}

/// How often a SQLite database's write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies the write-ahead log back into the database every [`CHECKPOINT_EVERY`], on a connection
/// of its own. SQLite's automatic checkpoint runs inside the commit that crosses 1,000 pages: that
/// commit, and every caller waiting on it, also waits for the checkpoint's copy and its two
/// `fsync`s (measured on the gateway's audit log under load: p99 22 ms, against 10 ms with the
/// checkpoint moved out of the commit). A passive checkpoint never blocks a writer nor a reader;
/// what it cannot copy yet (frames a reader still needs) waits for the next one. The task ends
/// when the pool is closed.
fn checkpoint_in_background(db: DatabaseConnection) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        every.tick().await;
        loop {
            every.tick().await;
            match db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                Ok(_) => {}
                Err(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed)) => return,
                // The next tick tries again; the log only grows meanwhile.
                Err(error) => tracing::warn!(%error, "background checkpoint failed"),
            }
        }
    });
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

/// The most bytes of values one PostgreSQL statement should carry. sqlx does not set
/// `TCP_NODELAY` on its socket, and Linux starts a socket's send buffer at 16 KiB: a bigger
/// message leaves in two writes, and Nagle's algorithm holds the second until the server's
/// delayed ACK, 40 ms later — a multi-row statement that saves round trips would then cost far
/// more than it saves (measured: a 31-payment batch took 48 ms against 7 ms for 29).
pub const STATEMENT_BUDGET_BYTES: usize = 8 * 1024;

/// Cuts `rows` into runs for multi-row statements: each at most `max_rows` rows (the database's
/// limit on bound values) and, on PostgreSQL, at most [`STATEMENT_BUDGET_BYTES`] of values as
/// `size` estimates a row (a single row bigger than that still gets its own run). SQLite runs
/// in-process, where fewer statements is all that counts.
pub fn statement_chunks<T>(
    backend: DbBackend,
    rows: &[T],
    max_rows: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let budget = if backend == DbBackend::Postgres {
        STATEMENT_BUDGET_BYTES
    } else {
        usize::MAX
    };
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, row) in rows.iter().enumerate() {
        let row_bytes = size(row);
        if i > start && (i - start >= max_rows || bytes.saturating_add(row_bytes) > budget) {
            chunks.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(row_bytes);
    }
    if start < rows.len() {
        chunks.push(&rows[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_statements_stay_under_the_byte_budget_and_sqlite_only_under_the_row_limit() {
        let rows = vec![3000usize; 10];
        let pg = statement_chunks(DbBackend::Postgres, &rows, 100, |r| *r);
        assert_eq!(
            pg.iter().map(|c| c.len()).collect::<Vec<_>>(),
            [2, 2, 2, 2, 2]
        );
        let lite = statement_chunks(DbBackend::Sqlite, &rows, 4, |r| *r);
        assert_eq!(lite.iter().map(|c| c.len()).collect::<Vec<_>>(), [4, 4, 2]);
        let huge = statement_chunks(DbBackend::Postgres, &[100_000usize, 1], 100, |r| *r);
        assert_eq!(huge.iter().map(|c| c.len()).collect::<Vec<_>>(), [1, 1]);
        assert!(statement_chunks(DbBackend::Postgres, &[] as &[usize], 10, |r| *r).is_empty());
    }

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
