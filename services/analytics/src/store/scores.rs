//! Sales-force scores. Every entry is kept: a later entry of a factor marks the earlier one
//! superseded (with the time), so the sheet shows the current scores and the history stays.
//! Each customer-month has a scorecard row whose version is the etag.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::idempotency::{self, Prior};
use sea_orm::{ConnectionTrait, Value};

use super::{Store, execute, int, statement, text};
use crate::domain::factors::Entry;
use crate::domain::sheet::Scores;

/// Scope of the request ids of `ScoreSalesForce`.
const SCOPE: &str = "ScoreSalesForce";

/// The scorecard of a customer-month: its current scores and who last scored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Card {
    /// factor → (score, note).
    pub scores: BTreeMap<i32, (i32, String)>,
    /// Who last scored.
    pub evaluator: String,
    /// Version (the etag); 0 before the first entry.
    pub version: i64,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
}

impl Card {
    /// The scores without notes.
    pub fn scores(&self) -> Scores {
        self.scores.iter().map(|(f, (s, _))| (*f, *s)).collect()
    }

    /// The etag of this version.
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }
}

/// One scoring request.
#[derive(Debug, Clone)]
pub struct NewScores<'a> {
    /// The customer.
    pub customer_id: &'a str,
    /// The month, `YYYY-MM`.
    pub month: &'a str,
    /// Validated entries.
    pub entries: &'a [Entry],
    /// Who scored.
    pub evaluator: &'a str,
    /// The etag the caller read, if given.
    pub etag: &'a str,
    /// Idempotency key and request fingerprint, if given.
    pub request: Option<(&'a str, String)>,
    /// Now.
    pub now: DateTime<Utc>,
}

impl Store {
    /// The scorecards of `customer_ids` for the months `from ..= to` (`YYYY-MM`), keyed by
    /// (customer, month); customer-months never scored are missing.
    pub async fn cards(
        &self,
        customer_ids: &[String],
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<(String, String), Card>, Problem> {
        let mut out: BTreeMap<(String, String), Card> = BTreeMap::new();
        if customer_ids.is_empty() {
            return Ok(out);
        }
        let list = vec!["?"; customer_ids.len()].join(", ");
        let mut values: Vec<Value> = customer_ids.iter().map(|c| c.clone().into()).collect();
        values.push(from.into());
        values.push(to.into());
        let rows = self
            .rows(
                &format!(
                    "SELECT customer_id, month, version, evaluator, updated_at FROM sf_cards \
                     WHERE customer_id IN ({list}) AND month >= ? AND month <= ?"
                ),
                values.clone(),
            )
            .await?;
        for row in rows {
            out.insert(
                (text(&row, "customer_id")?, text(&row, "month")?),
                Card {
                    scores: BTreeMap::new(),
                    evaluator: text(&row, "evaluator")?,
                    version: int(&row, "version")?,
                    updated_at: int(&row, "updated_at")?,
                },
            );
        }
        let rows = self
            .rows(
                &format!(
                    "SELECT customer_id, month, factor, score, note FROM sf_scores \
                     WHERE customer_id IN ({list}) AND month >= ? AND month <= ? AND superseded_at IS NULL"
                ),
                values,
            )
            .await?;
        for row in rows {
            let key = (text(&row, "customer_id")?, text(&row, "month")?);
            let factor = int(&row, "factor")? as i32;
            let score = int(&row, "score")? as i32;
            out.entry(key)
                .or_default()
                .scores
                .insert(factor, (score, text(&row, "note")?));
        }
        Ok(out)
    }

    /// One scorecard (empty, version 0, when never scored).
    pub async fn card(&self, customer_id: &str, month: &str) -> Result<Card, Problem> {
        Ok(self
            .cards(&[customer_id.to_owned()], month, month)
            .await?
            .remove(&(customer_id.to_owned(), month.to_owned()))
            .unwrap_or_default())
    }

    /// Enters scores: the factors given replace their current scores (kept as history), the
    /// scorecard's version moves on. A retried request id returns the card without writing.
    pub async fn score(&self, new: NewScores<'_>) -> Result<Card, Problem> {
        let resource = format!("{}/{}", new.customer_id, new.month);
        let txn = dossier_kit::db::begin_write(self.db()).await?;
        if let Some((key, fingerprint)) = &new.request {
            match idempotency::check(&txn, SCOPE, key, fingerprint).await? {
                Prior::New => {}
                Prior::Replay(_) => {
                    txn.rollback().await?;
                    return self.card(new.customer_id, new.month).await;
                }
            }
        }
        let backend = self.backend();
        let current = txn
            .query_one_raw(statement(
                backend,
                "SELECT version FROM sf_cards WHERE customer_id = ? AND month = ?",
                vec![new.customer_id.into(), new.month.into()],
            ))
            .await?;
        let version = match &current {
            Some(row) => int(row, "version")?,
            None => 0,
        };
        let current_etag = format!("v{version}");
        if !new.etag.is_empty() && new.etag != current_etag {
            return Err(Problem::stale(new.etag, &current_etag));
        }
        let at = new.now.timestamp();
        for entry in new.entries {
            execute(
                &txn,
                "UPDATE sf_scores SET superseded_at = ? WHERE customer_id = ? AND month = ? \
                 AND factor = ? AND superseded_at IS NULL",
                vec![
                    at.into(),
                    new.customer_id.into(),
                    new.month.into(),
                    i64::from(entry.factor).into(),
                ],
            )
            .await?;
            execute(
                &txn,
                "INSERT INTO sf_scores (id, customer_id, month, factor, score, note, evaluator, entered_at, superseded_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                vec![
                    uuid::Uuid::now_v7().to_string().into(),
                    new.customer_id.into(),
                    new.month.into(),
                    i64::from(entry.factor).into(),
                    i64::from(entry.score).into(),
                    entry.note.clone().into(),
                    new.evaluator.into(),
                    at.into(),
                ],
            )
            .await?;
        }
        execute(
            &txn,
            "INSERT INTO sf_cards (customer_id, month, version, evaluator, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (customer_id, month) DO UPDATE SET version = excluded.version, \
             evaluator = excluded.evaluator, updated_at = excluded.updated_at",
            vec![
                new.customer_id.into(),
                new.month.into(),
                (version + 1).into(),
                new.evaluator.into(),
                at.into(),
            ],
        )
        .await?;
        if let Some((key, fingerprint)) = &new.request {
            idempotency::record(&txn, SCOPE, key, fingerprint, &resource, new.now).await?;
        }
        txn.commit().await?;
        self.card(new.customer_id, new.month).await
    }

    /// Every entry of a factor for a customer-month, oldest first: (score, evaluator, superseded).
    pub async fn history(
        &self,
        customer_id: &str,
        month: &str,
        factor: i32,
    ) -> Result<Vec<(i32, String, bool)>, Problem> {
        let rows = self
            .rows(
                "SELECT score, evaluator, superseded_at FROM sf_scores \
                 WHERE customer_id = ? AND month = ? AND factor = ? ORDER BY entered_at, id",
                vec![customer_id.into(), month.into(), i64::from(factor).into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let superseded: Option<i64> = row.try_get("", "superseded_at")?;
                Ok((
                    int(row, "score")? as i32,
                    text(row, "evaluator")?,
                    superseded.is_some(),
                ))
            })
            .collect()
    }
}
