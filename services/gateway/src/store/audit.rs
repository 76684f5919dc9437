//! The audit chain in the database. An append inserts the next sequences after the head it
//! started from, and the sequence is the key: two gateways sharing a database that start from
//! the same head cannot both succeed, so they still write one chain (the loser retries from the
//! stored head). The head row follows the events by trigger.

use dossier_kit::Problem;
use sea_orm::{ConnectionTrait, QueryResult};

use super::{Store, statement};
use crate::domain::audit_chain::{
    AuditEntry, ChainReport, ChainVerifier, GENESIS, StoredEvent, event_hash, join_numbers,
    split_list, split_numbers,
};

/// Events read per query while verifying.
const VERIFY_CHUNK: u64 = 2_000;

/// Which audit events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this caller.
    pub caller_id: Option<String>,
    /// Only events touching this customer.
    pub customer_id: Option<String>,
    /// Only events at or after (RFC 3339, as stored).
    pub from: Option<String>,
    /// Only events before.
    pub to: Option<String>,
    /// Only this method path.
    pub method: Option<String>,
    /// Only calls served under this grant.
    pub grant_id: Option<String>,
    /// Only this outcome (`AuditOutcome` number).
    pub outcome: Option<i32>,
    /// Only this role (`Role` number).
    pub role: Option<i32>,
    /// Only events after this sequence.
    pub after_sequence: Option<i64>,
}

const COLUMNS: &str = "sequence, event_time, caller_id, role, team, method, customer_ids, \
     revealed_classes, masked_fields, grant_id, outcome, status_code, trace_id, peer, \
     request_id, duration_ms, prev_hash, hash";

fn from_row(row: &QueryResult) -> Result<StoredEvent, Problem> {
    let get_s = |name: &str| -> Result<String, Problem> {
        row.try_get::<String>("", name).map_err(Problem::from)
    };
    let get_i = |name: &str| -> Result<i32, Problem> {
        row.try_get::<i32>("", name).map_err(Problem::from)
    };
    Ok(StoredEvent {
        sequence: row.try_get("", "sequence").map_err(Problem::from)?,
        prev_hash: get_s("prev_hash")?,
        hash: get_s("hash")?,
        entry: AuditEntry {
            event_time: get_s("event_time")?,
            caller_id: get_s("caller_id")?,
            role: get_i("role")?,
            team: get_s("team")?,
            method: get_s("method")?,
            customer_ids: split_list(&get_s("customer_ids")?),
            revealed_classes: split_numbers(&get_s("revealed_classes")?),
            masked_fields: split_list(&get_s("masked_fields")?),
            grant_id: get_s("grant_id")?,
            outcome: get_i("outcome")?,
            status_code: get_i("status_code")?,
            trace_id: get_s("trace_id")?,
            peer: get_s("peer")?,
            request_id: get_s("request_id")?,
            duration_ms: row.try_get("", "duration_ms").map_err(Problem::from)?,
        },
    })
}

/// The newest event of the chain: its sequence and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence of the newest event (0 for an empty chain).
    pub sequence: i64,
    /// Its hash ([`GENESIS`] for an empty chain).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis() -> Self {
        Self {
            sequence: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// Events per `INSERT` at most: 18 values each, within SQLite's limit of 32,766.
const MAX_ROWS: usize = 1_000;

impl Store {
    /// The chain's head as stored.
    pub async fn audit_head(&self) -> Result<ChainHead, Problem> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db.get_database_backend(),
                "SELECT sequence, hash FROM audit_head WHERE id = 1",
                [],
            ))
            .await?;
        Ok(match row {
            Some(row) => ChainHead {
                sequence: row.try_get("", "sequence").map_err(Problem::from)?,
                hash: row.try_get("", "hash").map_err(Problem::from)?,
            },
            None => ChainHead::genesis(),
        })
    }

    /// Appends `entries` to the chain, in order, atomically; returns their sequences and the new
    /// head. `known` is the head as the caller last left it (the one writer of this process keeps
    /// it, which saves reading it per batch); `None` reads it. The head row follows the inserted
    /// events by trigger (see the migration), so on SQLite an append is a single `INSERT`. Two
    /// appenders from the same head (another gateway process, or a stale `known`) both claim the
    /// next sequence: the key lets one win and fails the other, which retries with `None` —
    /// the chain never forks.
    pub async fn append_audit(
        &self,
        entries: &[AuditEntry],
        known: Option<ChainHead>,
    ) -> Result<(Vec<i64>, ChainHead), Problem> {
        let backend = self.db.get_database_backend();
        let head = match known {
            Some(head) => head,
            None => self.audit_head().await?,
        };
        let (mut sequence, mut prev_hash) = (head.sequence, head.hash.clone());
        // Multi-row INSERTs (one per batch on SQLite, one per few dozen events on PostgreSQL —
        // see `statement_chunks`): a statement round trip per event would hold the write lock
        // (and every caller waiting on this batch) several times longer.
        let mut sequences = Vec::with_capacity(entries.len());
        let mut rows: Vec<(usize, Vec<sea_orm::Value>)> = Vec::with_capacity(entries.len());
        for entry in entries {
            sequence += 1;
            let hash = event_hash(sequence, &prev_hash, entry);
            let size = entry.caller_id.len()
                + entry.team.len()
                + entry.method.len()
                + entry
                    .customer_ids
                    .iter()
                    .map(|c| c.len() + 1)
                    .sum::<usize>()
                + entry
                    .masked_fields
                    .iter()
                    .map(|m| m.len() + 1)
                    .sum::<usize>()
                + entry.grant_id.len()
                + entry.trace_id.len()
                + entry.peer.len()
                + entry.request_id.len()
                + 256;
            rows.push((
                size,
                vec![
                    sequence.into(),
                    entry.event_time.clone().into(),
                    entry.caller_id.clone().into(),
                    entry.role.into(),
                    entry.team.clone().into(),
                    entry.method.clone().into(),
                    entry.customer_ids.join(",").into(),
                    join_numbers(&entry.revealed_classes).into(),
                    entry.masked_fields.join(",").into(),
                    entry.grant_id.clone().into(),
                    entry.outcome.into(),
                    entry.status_code.into(),
                    entry.trace_id.clone().into(),
                    entry.peer.clone().into(),
                    entry.request_id.clone().into(),
                    entry.duration_ms.into(),
                    prev_hash.clone().into(),
                    hash.clone().into(),
                ],
            ));
            sequences.push(sequence);
            prev_hash = hash;
        }
        // Cut into statements by size, then each statement takes its rows' values (no copies).
        let lengths: Vec<usize> =
            dossier_kit::db::statement_chunks(backend, &rows, MAX_ROWS, |(size, _)| *size)
                .iter()
                .map(|chunk| chunk.len())
                .collect();
        let mut rows = rows.into_iter();
        let mut inserts = lengths.into_iter().map(|n| {
            let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            let placeholders = vec![row; n].join(", ");
            let values: Vec<sea_orm::Value> = rows
                .by_ref()
                .take(n)
                .flat_map(|(_, values)| values)
                .collect();
            statement(
                backend,
                &format!("INSERT INTO audit_events ({COLUMNS}) VALUES {placeholders}"),
                values,
            )
        });
        match (inserts.next(), inserts.len()) {
            (None, _) => {}
            // One statement is atomic by itself: no transaction around it.
            (Some(only), 0) => {
                self.db.execute_raw(only).await?;
            }
            (Some(first), _) => {
                let txn = dossier_kit::db::begin_write(&self.db).await?;
                txn.execute_raw(first).await?;
                for insert in inserts {
                    txn.execute_raw(insert).await?;
                }
                txn.commit().await?;
            }
        }
        Ok((
            sequences,
            ChainHead {
                sequence,
                hash: prev_hash,
            },
        ))
    }

    /// A page of audit events, newest first, and the total matching.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredEvent>, u64), Problem> {
        let backend = self.db.get_database_backend();
        let mut clauses = Vec::new();
        let mut values: Vec<sea_orm::Value> = Vec::new();
        if let Some(caller) = &filter.caller_id {
            clauses.push("caller_id = ?");
            values.push(caller.clone().into());
        }
        if let Some(customer) = &filter.customer_id {
            // Ids are UUIDs: a substring match of the joined list cannot hit another id.
            clauses.push("customer_ids LIKE ?");
            values.push(format!("%{customer}%").into());
        }
        if let Some(from) = &filter.from {
            clauses.push("event_time >= ?");
            values.push(from.clone().into());
        }
        if let Some(to) = &filter.to {
            clauses.push("event_time < ?");
            values.push(to.clone().into());
        }
        if let Some(method) = &filter.method {
            clauses.push("method = ?");
            values.push(method.clone().into());
        }
        if let Some(grant) = &filter.grant_id {
            clauses.push("grant_id LIKE ?");
            values.push(format!("%{grant}%").into());
        }
        if let Some(outcome) = filter.outcome {
            clauses.push("outcome = ?");
            values.push(outcome.into());
        }
        if let Some(role) = filter.role {
            clauses.push("role = ?");
            values.push(role.into());
        }
        if let Some(after) = filter.after_sequence {
            clauses.push("sequence > ?");
            values.push(after.into());
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = match self
            .db
            .query_one_raw(statement(
                backend,
                &format!("SELECT COUNT(*) AS n FROM audit_events{filter_sql}"),
                values.clone(),
            ))
            .await?
        {
            Some(row) => row.try_get("", "n").map_err(Problem::from)?,
            None => 0,
        };
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT {COLUMNS} FROM audit_events{filter_sql} ORDER BY sequence LIMIT {limit} OFFSET {offset}"
                ),
                values,
            ))
            .await?;
        let events = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((events, total.max(0) as u64))
    }

    /// Walks the chain from `from` through `to` (0: from the start, to the recorded head) and
    /// reports the first event edited or missing. A walk that starts mid-log checks its first
    /// event's link against the stored hash of the event before it.
    pub async fn verify_audit(&self, from: i64, to: i64) -> Result<ChainReport, Problem> {
        let backend = self.db.get_database_backend();
        let from = from.max(1);
        let prev = if from == 1 {
            Some(GENESIS.to_owned())
        } else {
            self.db
                .query_one_raw(statement(
                    backend,
                    "SELECT hash FROM audit_events WHERE sequence = ?",
                    [(from - 1).into()],
                ))
                .await?
                .map(|row| row.try_get::<String>("", "hash"))
                .transpose()
                .map_err(Problem::from)?
        };
        let head: Option<(i64, String)> = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT sequence, hash FROM audit_head WHERE id = 1",
                [],
            ))
            .await?
            .map(|row| -> Result<(i64, String), Problem> {
                Ok((
                    row.try_get("", "sequence").map_err(Problem::from)?,
                    row.try_get("", "hash").map_err(Problem::from)?,
                ))
            })
            .transpose()?;
        // A walk to the head also checks the recorded head hash; one that stops short of it
        // has only its own events to go by. Nothing past the head is asked for.
        let through = head.map(|(head_sequence, head_hash)| {
            if to > 0 && to < head_sequence {
                (to, None)
            } else {
                (head_sequence, Some(head_hash))
            }
        });
        let last = through.as_ref().map_or(0, |(last, _)| *last);
        let mut verifier = ChainVerifier::starting_at(from, prev);
        let mut after = from - 1;
        'chunks: while after < last {
            let rows = self
                .db
                .query_all_raw(statement(
                    backend,
                    &format!(
                        "SELECT {COLUMNS} FROM audit_events WHERE sequence > ? AND sequence <= ? ORDER BY sequence LIMIT {VERIFY_CHUNK}"
                    ),
                    [after.into(), last.into()],
                ))
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let event = from_row(row)?;
                after = event.sequence;
                if !verifier.check(&event) {
                    break 'chunks;
                }
            }
        }
        Ok(verifier.finish(through))
    }
}
