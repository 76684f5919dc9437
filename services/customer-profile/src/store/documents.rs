//! The archive catalogue and the yearly volumes.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_kit::db::begin_write;
use dossier_kit::idempotency::{self, Prior};
use dossier_kit::outbox::NewEvent;
use dossier_kit::problem::is_unique_violation;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use super::customers::finish;
use super::entities::{customer, document, document_content, version, volume};
use super::{Change, Store, load};
use crate::domain::card::CustomerRecord;
use crate::domain::catalogue::{DocumentCategory, catalogue_number};
use crate::domain::classification::ChangeKind;
use crate::domain::volume::{check_closable, digest, ensure_year_open, volume_number};

/// A document to file.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Archive.
    pub customer_id: String,
    /// Category.
    pub category: DocumentCategory,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: String,
    /// Date of the document.
    pub document_date: Option<NaiveDate>,
    /// 原始资料.
    pub original: bool,
    /// File name.
    pub file_name: String,
    /// Content type (already checked against the content).
    pub content_type: String,
}

/// A catalogued document.
pub type DocumentRecord = document::Model;

/// A closed year.
#[derive(Debug, Clone)]
pub struct VolumeRecord {
    /// Row.
    pub row: volume::Model,
    /// The card at the close.
    pub card: crate::domain::card::CustomerCard,
    /// Catalogue entries (document rows as they were at the close).
    pub entries: Vec<document::Model>,
    /// Versions made in the year.
    pub versions: Vec<i64>,
}

/// The frozen content of a volume, serialised canonically for its digest.
#[derive(serde::Serialize, serde::Deserialize)]
struct VolumeContent {
    card: crate::domain::card::CustomerCard,
    entries: Vec<EntryContent>,
    versions: Vec<i64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EntryContent {
    document_id: String,
    catalogue_no: String,
    category: i32,
    sequence: i32,
    title: String,
    kind: String,
    document_date: Option<NaiveDate>,
    original: bool,
    sha256: String,
    created_at: DateTime<Utc>,
}

impl Store {
    /// Files a document. Idempotent by `request_id`.
    pub async fn add_document(
        &self,
        caller: &Caller,
        new: NewDocument,
        content: &[u8],
        request_id: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<DocumentRecord, Problem> {
        const SCOPE: &str = "AddDocument";
        if let Prior::Replay(id) =
            idempotency::check(&self.db, SCOPE, request_id, fingerprint).await?
        {
            return self.get_document(&id).await;
        }
        // A concurrent filer may take the same sequence number; the unique index refuses the
        // second and it tries again with the next number.
        for _attempt in 0..5 {
            let txn = begin_write(&self.db).await?;
            let attempt = self
                .try_add_document(&txn, caller, &new, content, request_id, fingerprint, now)
                .await;
            match attempt {
                Ok(row) => {
                    match txn.commit().await {
                        Ok(()) => {}
                        Err(err) if is_unique_violation(&err) => continue,
                        Err(err) => return Err(err.into()),
                    }
                    self.outbox.notify_committed();
                    return Ok(row);
                }
                Err(Attempt::Retry) => {
                    let _ = txn.rollback().await;
                }
                Err(Attempt::Failed(problem)) => {
                    let _ = txn.rollback().await;
                    if let Prior::Replay(id) =
                        idempotency::check(&self.db, SCOPE, request_id, fingerprint).await?
                    {
                        return self.get_document(&id).await;
                    }
                    return Err(problem);
                }
            }
        }
        Err(Problem::Unavailable {
            what: "catalogue numbering (too much contention)".into(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_add_document(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        caller: &Caller,
        new: &NewDocument,
        content: &[u8],
        request_id: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<DocumentRecord, Attempt> {
        let owner = load(txn, &new.customer_id).await?;
        owner.ensure_active()?;
        if let Some(date) = new.document_date {
            ensure_year_open(date, &closed_years(txn, &owner.id).await?)?;
        }
        let sequence = next_sequence(txn, &owner.id, new.category).await?;
        let row = document::Model {
            id: uuid::Uuid::now_v7().to_string(),
            customer_id: owner.id.clone(),
            category: new.category.number(),
            sequence,
            catalogue_no: catalogue_number(new.category, sequence),
            title: new.title.clone(),
            kind: new.kind.clone(),
            document_date: new.document_date,
            original: new.original,
            file_name: new.file_name.clone(),
            content_type: new.content_type.clone(),
            size_bytes: content.len() as i64,
            sha256: hex::encode(Sha256::digest(content)),
            volume_year: None,
            merged_from_archive_no: None,
            created_at: now,
            created_by: caller.sub.clone(),
        };
        let inserted = document::Entity::insert(document::ActiveModel::from(row.clone()))
            .exec_without_returning(txn)
            .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Err(Attempt::Retry),
            Err(err) => return Err(Attempt::Failed(err.into())),
        }
        document_content::Entity::insert(document_content::ActiveModel {
            document_id: Set(row.id.clone()),
            content: Set(content.to_vec()),
        })
        .exec_without_returning(txn)
        .await?;
        idempotency::record(txn, "AddDocument", request_id, fingerprint, &row.id, now).await?;
        let payload = crate::wire::document_to_proto(&row);
        self.outbox
            .append(
                txn,
                now,
                NewEvent::new(
                    "document.added",
                    &row.id,
                    Some(owner.id.clone()),
                    &caller.sub,
                    &payload,
                ),
            )
            .await?;
        Ok(row)
    }

    /// One document's catalogue entry.
    pub async fn get_document(&self, id: &str) -> Result<DocumentRecord, Problem> {
        document::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Problem::not_found("document", id))
    }

    /// A document's content.
    pub async fn document_content(&self, id: &str) -> Result<Vec<u8>, Problem> {
        Ok(document_content::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Problem::not_found("document", id))?
            .content)
    }

    /// A page of an archive's catalogue, in catalogue order.
    pub async fn list_documents(
        &self,
        customer_id: &str,
        category: Option<DocumentCategory>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<DocumentRecord>, u64), Problem> {
        load(&self.db, customer_id).await?;
        let mut query =
            document::Entity::find().filter(document::Column::CustomerId.eq(customer_id));
        if let Some(category) = category {
            query = query.filter(document::Column::Category.eq(category.number()));
        }
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(document::Column::Category)
            .order_by_asc(document::Column::Sequence)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows, total))
    }

    /// Freezes `year` of an archive into a volume: the card as it stands, the documents of the
    /// year and the versions made in it. Documents of the year can no longer be added or changed.
    pub async fn close_year(
        &self,
        caller: &Caller,
        id: &str,
        year: i32,
        now: DateTime<Utc>,
    ) -> Result<VolumeRecord, Problem> {
        check_closable(year, now.date_naive())?;
        let record = self.get(id).await?;
        if let Some(existing) = volume::Entity::find()
            .filter(volume::Column::CustomerId.eq(id))
            .filter(volume::Column::Year.eq(year))
            .one(&self.db)
            .await?
        {
            return Err(Problem::AlreadyExists {
                resource: "volume",
                existing_id: existing.id,
                reason: "YEAR_ALREADY_CLOSED",
                message: format!(
                    "{year} of {} is already closed as {}",
                    record.archive_no, existing.volume_no
                ),
            });
        }
        let change = Change {
            caller,
            now,
            kind: ChangeKind::YearClosed,
            verb: "year_closed",
            etag: "",
        };
        let volume_no = volume_number(&record.archive_no, year);
        let note = format!("closed {year} into volume {volume_no}");

        let txn = begin_write(&self.db).await?;
        let result = async {
            // The version that records the close comes first; the volume freezes the card as it
            // stands after it, in the same transaction.
            let record = self.change_in(&txn, id, change, |_| Ok(note)).await?;
            let entries = documents_of_year(&txn, id, year).await?;
            let versions: Vec<i64> = version::Entity::find()
                .filter(version::Column::CustomerId.eq(id))
                .order_by_asc(version::Column::Version)
                .all(&txn)
                .await?
                .into_iter()
                .filter(|v| v.changed_at.year() == year)
                .map(|v| v.version)
                .collect();
            let content = VolumeContent {
                card: record.card.clone(),
                entries: entries.iter().map(entry_of).collect(),
                versions: versions.clone(),
            };
            let canonical = serde_json::to_vec(&content).map_err(Problem::internal)?;
            let row = volume::Model {
                id: uuid::Uuid::now_v7().to_string(),
                customer_id: id.to_owned(),
                year,
                volume_no: volume_no.clone(),
                closed_at: now,
                closed_by: caller.sub.clone(),
                content: serde_json::to_value(&content).map_err(Problem::internal)?,
                digest: digest(&canonical),
            };
            volume::Entity::insert(volume::ActiveModel::from(row.clone()))
                .exec_without_returning(&txn)
                .await
                .map_err(|err| {
                    if is_unique_violation(&err) {
                        Problem::precondition(
                            "YEAR_ALREADY_CLOSED",
                            format!("{year} was closed concurrently"),
                        )
                    } else {
                        err.into()
                    }
                })?;
            document::Entity::update_many()
                .col_expr(
                    document::Column::VolumeYear,
                    sea_orm::sea_query::Expr::value(year),
                )
                .filter(document::Column::Id.is_in(entries.iter().map(|e| e.id.clone())))
                .exec(&txn)
                .await?;
            let volume = VolumeRecord {
                row,
                card: content.card,
                entries,
                versions,
            };
            let payload = crate::wire::volume_to_proto(&volume);
            self.outbox
                .append(
                    &txn,
                    now,
                    NewEvent::new(
                        "volume.closed",
                        &volume.row.id,
                        Some(id.to_owned()),
                        &caller.sub,
                        &payload,
                    ),
                )
                .await?;
            Ok(volume)
        }
        .await;
        finish(&self.outbox, txn, result).await
    }

    /// The volumes of an archive, oldest first.
    pub async fn list_volumes(&self, customer_id: &str) -> Result<Vec<VolumeRecord>, Problem> {
        load(&self.db, customer_id).await?;
        let rows = volume::Entity::find()
            .filter(volume::Column::CustomerId.eq(customer_id))
            .order_by_asc(volume::Column::Year)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|row| {
                let content: VolumeContent =
                    serde_json::from_value(row.content.clone()).map_err(Problem::internal)?;
                let entries = content
                    .entries
                    .into_iter()
                    .map(|e| document::Model {
                        id: e.document_id,
                        customer_id: customer_id.to_owned(),
                        category: e.category,
                        sequence: e.sequence,
                        catalogue_no: e.catalogue_no,
                        title: e.title,
                        kind: e.kind,
                        document_date: e.document_date,
                        original: e.original,
                        file_name: String::new(),
                        content_type: String::new(),
                        size_bytes: 0,
                        sha256: e.sha256,
                        volume_year: Some(row.year),
                        merged_from_archive_no: None,
                        created_at: e.created_at,
                        created_by: String::new(),
                    })
                    .collect();
                Ok(VolumeRecord {
                    card: content.card,
                    versions: content.versions,
                    entries,
                    row,
                })
            })
            .collect()
    }
}

enum Attempt {
    Retry,
    Failed(Problem),
}

impl From<Problem> for Attempt {
    fn from(problem: Problem) -> Self {
        Attempt::Failed(problem)
    }
}

impl From<sea_orm::DbErr> for Attempt {
    fn from(err: sea_orm::DbErr) -> Self {
        Attempt::Failed(err.into())
    }
}

fn entry_of(d: &document::Model) -> EntryContent {
    EntryContent {
        document_id: d.id.clone(),
        catalogue_no: d.catalogue_no.clone(),
        category: d.category,
        sequence: d.sequence,
        title: d.title.clone(),
        kind: d.kind.clone(),
        document_date: d.document_date,
        original: d.original,
        sha256: d.sha256.clone(),
        created_at: d.created_at,
    }
}

/// The year a document belongs to: its own date, or the day it was filed.
fn year_of(d: &document::Model) -> i32 {
    d.document_date
        .map(|date| date.year())
        .unwrap_or_else(|| d.created_at.year())
}

async fn documents_of_year(
    conn: &impl ConnectionTrait,
    customer_id: &str,
    year: i32,
) -> Result<Vec<document::Model>, Problem> {
    Ok(document::Entity::find()
        .filter(document::Column::CustomerId.eq(customer_id))
        .order_by_asc(document::Column::Category)
        .order_by_asc(document::Column::Sequence)
        .all(conn)
        .await?
        .into_iter()
        .filter(|d| year_of(d) == year)
        .collect())
}

async fn closed_years(conn: &impl ConnectionTrait, customer_id: &str) -> Result<Vec<i32>, Problem> {
    Ok(volume::Entity::find()
        .filter(volume::Column::CustomerId.eq(customer_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|v| v.year)
        .collect())
}

async fn next_sequence(
    conn: &impl ConnectionTrait,
    customer_id: &str,
    category: DocumentCategory,
) -> Result<i32, Problem> {
    let last = document::Entity::find()
        .filter(document::Column::CustomerId.eq(customer_id))
        .filter(document::Column::Category.eq(category.number()))
        .order_by_desc(document::Column::Sequence)
        .one(conn)
        .await?;
    Ok(last.map(|d| d.sequence + 1).unwrap_or(1))
}

/// Moves an archive's documents into the survivor's catalogue after the survivor's own, keeping
/// the archive number they were filed under.
pub(super) async fn move_documents(
    conn: &impl ConnectionTrait,
    from: &CustomerRecord,
    to_id: &str,
) -> Result<(), Problem> {
    let documents = document::Entity::find()
        .filter(document::Column::CustomerId.eq(from.id.as_str()))
        .order_by_asc(document::Column::Category)
        .order_by_asc(document::Column::Sequence)
        .all(conn)
        .await?;
    for doc in documents {
        let category = DocumentCategory::from_number(doc.category)
            .ok()
            .flatten()
            .ok_or_else(|| Problem::internal("stored document category unknown"))?;
        let sequence = next_sequence(conn, to_id, category).await?;
        let mut moved: document::ActiveModel = doc.into();
        moved.customer_id = Set(to_id.to_owned());
        moved.sequence = Set(sequence);
        moved.catalogue_no = Set(catalogue_number(category, sequence));
        moved.merged_from_archive_no = Set(Some(from.archive_no.clone()));
        document::Entity::update(moved).exec(conn).await?;
    }
    // Keep the customer row count check honest: the survivor must exist.
    customer::Entity::find_by_id(to_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| Problem::not_found("customer", to_id))?;
    Ok(())
}
