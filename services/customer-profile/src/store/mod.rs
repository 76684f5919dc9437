//! Storage of the archive: sea-orm entities and migrations, the queries, and the outbox event of
//! every change written in the same transaction as the change.

pub mod entities;
pub mod migration;

mod customers;
mod documents;
mod history;
mod import;

pub use import::RowRefusal;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_kit::outbox::{NewEvent, Outbox};
use dossier_kit::problem::is_unique_violation;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use crate::domain::card::{CustomerCard, CustomerRecord};
use crate::domain::classification::*;
use crate::domain::name::normalise_name;
use entities::{customer, version};

pub use customers::{CustomerFilter, Duplicate, Ordering};
pub use documents::{DocumentRecord, NewDocument, VolumeRecord};
pub use history::VersionRecord;

/// The archive's storage.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl Store {
    /// Storage over a migrated database.
    pub fn new(db: DatabaseConnection) -> Self {
        let outbox = Outbox::new(db.clone());
        Self { db, outbox }
    }

    /// The change feed.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The connection pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Reads one archive.
    pub async fn get(&self, id: &str) -> Result<CustomerRecord, Problem> {
        load(&self.db, id).await
    }
}

/// The columns a record is read from: its metadata and the card. The other columns of
/// `customers` are derived from the card for filtering and are never read back.
const RECORD_COLUMNS: [customer::Column; 12] = [
    customer::Column::Id,
    customer::Column::ArchiveNo,
    customer::Column::State,
    customer::Column::MergedIntoId,
    customer::Column::ReviewDueAt,
    customer::Column::LastReviewedAt,
    customer::Column::Version,
    customer::Column::CreatedAt,
    customer::Column::CreatedBy,
    customer::Column::UpdatedAt,
    customer::Column::UpdatedBy,
    customer::Column::Card,
];

/// `SELECT <record columns> FROM customers WHERE id = `, built once.
fn select_record_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        use sea_orm::IdenStatic;
        let columns: Vec<&str> = RECORD_COLUMNS.iter().map(|c| c.as_str()).collect();
        format!("SELECT {} FROM customers WHERE id = ", columns.join(", "))
    })
}

/// A record as stored, before its card is parsed.
#[derive(Debug, sea_orm::FromQueryResult)]
pub(crate) struct RecordRow {
    id: String,
    archive_no: String,
    state: String,
    merged_into_id: Option<String>,
    review_due_at: chrono::DateTime<chrono::Utc>,
    last_reviewed_at: Option<chrono::DateTime<chrono::Utc>>,
    version: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: String,
    updated_at: chrono::DateTime<chrono::Utc>,
    updated_by: String,
    card: String,
}

/// Reads one archive through `conn` (a transaction or the pool). GetCustomer's hot path: one
/// prepared primary-key select of the record's own columns, the card parsed once from its text.
async fn load(conn: &impl ConnectionTrait, id: &str) -> Result<CustomerRecord, Problem> {
    let backend = conn.get_database_backend();
    let placeholder = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let statement = sea_orm::Statement::from_sql_and_values(
        backend,
        format!("{}{placeholder}", select_record_sql()),
        [id.into()],
    );
    let row = <RecordRow as sea_orm::FromQueryResult>::find_by_statement(statement)
        .one(conn)
        .await?
        .ok_or_else(|| Problem::not_found("customer", id))?;
    record_from_row(row)
}

fn record_from_row(m: RecordRow) -> Result<CustomerRecord, Problem> {
    let card: CustomerCard = serde_json::from_str(&m.card)
        .map_err(|e| Problem::internal(format!("stored card {} unreadable: {e}", m.id)))?;
    let state = CustomerState::from_code(&m.state)
        .ok_or_else(|| Problem::internal(format!("stored state {:?} unknown", m.state)))?;
    Ok(CustomerRecord {
        id: m.id,
        archive_no: m.archive_no,
        state,
        merged_into_id: m.merged_into_id,
        review_due_at: m.review_due_at,
        last_reviewed_at: m.last_reviewed_at,
        version: m.version,
        created_at: m.created_at,
        created_by: m.created_by,
        updated_at: m.updated_at,
        updated_by: m.updated_by,
        card,
    })
}

/// The row of a record. The searchable columns are derived from the card here and nowhere else.
fn model_from_record(r: &CustomerRecord) -> Result<customer::ActiveModel, Problem> {
    let card = &r.card;
    Ok(customer::ActiveModel {
        id: Set(r.id.clone()),
        archive_no: Set(r.archive_no.clone()),
        kind: Set(card
            .kind
            .map(CustomerKind::code)
            .unwrap_or("company")
            .to_owned()),
        name: Set(card.name.clone()),
        name_key: Set(normalise_name(&card.name)),
        // A merged archive gives its code up: the survivor may take it over.
        credit_code: Set(if r.state == CustomerState::Merged {
            None
        } else {
            card.credit_code.as_ref().map(|c| c.as_str().to_owned())
        }),
        customer_type: Set(card.customer_type.map(|v| v.code().to_owned())),
        channel: Set(card.channel.map(|v| v.code().to_owned())),
        grade: Set(card.grade.map(|v| v.code().to_owned())),
        trade_standing: Set(card.trade_standing.map(|v| v.code().to_owned())),
        lifecycle: Set(card.lifecycle.map(|v| v.code().to_owned())),
        region: Set(card.region.clone()),
        route_code: Set(card.route_code.clone()),
        route_order: Set(card.route_order),
        owner_id: Set(card.owner_id.clone()),
        team: Set(card.team.clone()),
        custodian_id: Set(card.custodian_id.clone()),
        state: Set(r.state.code().to_owned()),
        merged_into_id: Set(r.merged_into_id.clone()),
        review_due_at: Set(r.review_due_at),
        last_reviewed_at: Set(r.last_reviewed_at),
        version: Set(r.version),
        card: Set(serde_json::to_string(card).map_err(Problem::internal)?),
        created_at: Set(r.created_at),
        created_by: Set(r.created_by.clone()),
        updated_at: Set(r.updated_at),
        updated_by: Set(r.updated_by.clone()),
    })
}

/// Appends a version row.
async fn insert_version(
    conn: &impl ConnectionTrait,
    record: &CustomerRecord,
    kind: ChangeKind,
    actor: &str,
    changed: &[String],
    note: &str,
) -> Result<(), Problem> {
    version::Entity::insert(version::ActiveModel {
        customer_id: Set(record.id.clone()),
        version: Set(record.version),
        kind: Set(kind.code().to_owned()),
        actor_id: Set(actor.to_owned()),
        changed_at: Set(record.updated_at),
        changed_fields: Set(serde_json::to_value(changed).map_err(Problem::internal)?),
        card: Set(serde_json::to_string(&record.card).map_err(Problem::internal)?),
        note: Set(note.to_owned()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Appends the `customer.<verb>` event of a record.
async fn emit_customer(
    outbox: &Outbox,
    conn: &impl ConnectionTrait,
    verb: &str,
    record: &CustomerRecord,
    actor: &str,
) -> Result<(), Problem> {
    let payload = crate::wire::customer_to_proto(record);
    outbox
        .append(
            conn,
            record.updated_at,
            NewEvent::new(
                format!("customer.{verb}"),
                &record.id,
                Some(record.id.clone()),
                actor,
                &payload,
            ),
        )
        .await?;
    Ok(())
}

/// Names what an insert or update clashed with: a credit code held by another archive.
async fn explain_conflict(
    db: &DatabaseConnection,
    card: &CustomerCard,
    err: sea_orm::DbErr,
) -> Problem {
    if !is_unique_violation(&err) {
        return err.into();
    }
    if let Some(code) = &card.credit_code
        && let Ok(Some(existing)) = customer::Entity::find()
            .filter(customer::Column::CreditCode.eq(code.as_str()))
            .one(db)
            .await
    {
        return credit_code_taken(&existing.id, &existing.archive_no);
    }
    Problem::Aborted {
        message: "a concurrent change won; read the record again and retry".into(),
    }
}

fn credit_code_taken(existing_id: &str, archive_no: &str) -> Problem {
    Problem::AlreadyExists {
        resource: "customer",
        existing_id: existing_id.to_owned(),
        reason: "CREDIT_CODE_TAKEN",
        message: format!("credit_code is already on file for customer {archive_no}"),
    }
}

/// What a change does besides the card (state, review, ownership) and how it is recorded.
pub struct Change<'a> {
    /// Who.
    pub caller: &'a Caller,
    /// When.
    pub now: DateTime<Utc>,
    /// The version's kind.
    pub kind: ChangeKind,
    /// The event verb, `customer.<verb>`.
    pub verb: &'static str,
    /// The etag the caller based the change on (empty: not checked).
    pub etag: &'a str,
}
