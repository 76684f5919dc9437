//! Bulk opening of archives from spreadsheet rows, in batches: good rows are kept even when
//! others are refused, and every archive gets its version and event like any other.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_kit::db::begin_write;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::customers::{filled_fields, finish, new_record, next_archive_numbers};
use super::entities::customer;
use super::{Store, emit_customer, insert_version, model_from_record};
use crate::domain::card::{CustomerCard, archive_number};
use crate::domain::classification::ChangeKind;

/// Rows written per transaction.
const BATCH: usize = 500;

/// A row refused by the store (its format was fine, but it clashes with the archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRefusal {
    /// Spreadsheet row number.
    pub row: i32,
    /// Field at fault.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl Store {
    /// Opens an archive for each valid row. Rows whose credit code is already on file, or
    /// repeats one earlier in the sheet, are refused. Returns how many were created.
    pub async fn import(
        &self,
        caller: &Caller,
        rows: Vec<(i32, CustomerCard)>,
        now: DateTime<Utc>,
        review_interval_days: i64,
        dry_run: bool,
    ) -> Result<(usize, Vec<RowRefusal>), Problem> {
        let mut refusals = Vec::new();
        let codes: Vec<String> = rows
            .iter()
            .filter_map(|(_, card)| card.credit_code.as_ref().map(|c| c.as_str().to_owned()))
            .collect();
        let mut on_file: HashMap<String, String> = HashMap::new();
        for chunk in codes.chunks(BATCH) {
            for m in customer::Entity::find()
                .filter(customer::Column::CreditCode.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?
            {
                if let Some(code) = m.credit_code {
                    on_file.insert(code, m.archive_no);
                }
            }
        }
        let mut seen_in_sheet: HashMap<String, i32> = HashMap::new();
        let mut accepted = Vec::with_capacity(rows.len());
        for (row, mut card) in rows {
            if let Some(code) = card.credit_code.as_ref().map(|c| c.as_str().to_owned()) {
                if let Some(archive_no) = on_file.get(&code) {
                    refusals.push(RowRefusal {
                        row,
                        field: "credit_code".into(),
                        reason: format!("is already on file for customer {archive_no}"),
                    });
                    continue;
                }
                if let Some(first) = seen_in_sheet.insert(code, row) {
                    refusals.push(RowRefusal {
                        row,
                        field: "credit_code".into(),
                        reason: format!("repeats the credit code of row {first}"),
                    });
                    continue;
                }
            }
            if card.owner_id.is_empty() {
                card.owner_id = caller.sub.clone();
            }
            if card.team.is_empty() {
                card.team = caller.team.clone();
            }
            accepted.push(card);
        }
        if dry_run {
            return Ok((0, refusals));
        }
        let mut created = 0;
        for batch in accepted.chunks(BATCH) {
            let txn = begin_write(&self.db).await?;
            let result = async {
                let first = next_archive_numbers(&txn, now.year(), batch.len() as i64).await?;
                let records: Vec<_> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, card)| {
                        new_record(
                            card.clone(),
                            archive_number(now.year(), first + i as i64),
                            caller,
                            now,
                            review_interval_days,
                        )
                    })
                    .collect();
                let models = records
                    .iter()
                    .map(model_from_record)
                    .collect::<Result<Vec<_>, _>>()?;
                customer::Entity::insert_many(models)
                    .exec_without_returning(&txn)
                    .await?;
                for record in &records {
                    insert_version(
                        &txn,
                        record,
                        ChangeKind::Created,
                        &caller.sub,
                        &filled_fields(&record.card),
                        "imported",
                    )
                    .await?;
                    emit_customer(&self.outbox, &txn, "created", record, &caller.sub).await?;
                }
                Ok(records.len())
            }
            .await;
            // A batch is all or nothing: earlier batches stay, nothing is half-written.
            created += finish(&self.outbox, txn, result).await?;
        }
        Ok((created, refusals))
    }
}
