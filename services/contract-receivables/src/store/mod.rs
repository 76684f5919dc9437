//! Storage: every aggregate (contract, delivery, receivable, payment, credit line, override,
//! repayment plan, deferral, return claim) is one row of `records`, its body the domain value as
//! JSON, with the columns lists filter on (customer, contract, parent, state, day, salesperson,
//! a unique human number) copied out of it by [`Doc::index`]. The aggregates are small and are
//! always read whole, and every sum is taken in Rust over `Decimal` values, so nothing is lost
//! to SQL arithmetic on strings or floats.
//!
//! **Serialisation per customer.** Every write runs in a [`Tx`] opened for one customer: its
//! first statement upserts that customer's `credit_accounts` row, which on PostgreSQL takes the
//! row lock until commit (an `ON CONFLICT DO UPDATE` locks the row like `SELECT … FOR UPDATE`,
//! and also works for a customer seen for the first time), and on SQLite runs inside
//! `BEGIN IMMEDIATE`, which already admits one writer at a time. Everything the transaction then
//! reads (open receivables, active contracts, the credit line) is read after the lock under READ
//! COMMITTED, so it sees every earlier writer's committed result: the exposure check and the
//! write it guards are atomic per customer, and concurrent activations or deliveries can never
//! overdraw a line. We chose the lock over SERIALIZABLE-and-retry because the hot paths
//! (payments, activations of one customer) conflict by nature: retries would burn work on the
//! very calls that matter, while the lock queues them once. Different customers never wait for
//! each other.

pub mod migration;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::idempotency::{self, Prior};
use dossier_kit::outbox::{NewEvent, Outbox};
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, Value,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::claim::ReturnClaim;
use crate::domain::contract::Contract;
use crate::domain::credit::{CreditLine, CreditOverride};
use crate::domain::movement::{Delivery, Payment};
use crate::domain::receivable::Receivable;
use crate::domain::repayment::{Deferral, RepaymentPlan};

/// The filter columns of a record.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Customer.
    pub customer_id: String,
    /// Contract, if any.
    pub contract_id: String,
    /// Parent record (a deferral's plan), if any.
    pub parent_id: String,
    /// State code.
    pub state: String,
    /// The record's date, `YYYY-MM-DD`, for ranges and ordering.
    pub day: String,
    /// Salesperson, if any.
    pub salesperson_id: String,
    /// Unique human number, if any.
    pub number: Option<String>,
}

/// An aggregate stored as one record.
pub trait Doc: Serialize + DeserializeOwned + Send + Sync {
    /// Its kind, e.g. `contract`; also the resource name in errors.
    const KIND: &'static str;
    /// Its id.
    fn id(&self) -> &str;
    /// Its filter columns.
    fn index(&self) -> Index;
}

fn day(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl Doc for Contract {
    const KIND: &'static str = "contract";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            contract_id: self.id.clone(),
            state: self.status.code().into(),
            day: day(self.signed_date),
            salesperson_id: self.salesperson_id.clone(),
            number: Some(self.contract_no.clone()),
            ..Index::default()
        }
    }
}

impl Doc for Delivery {
    const KIND: &'static str = "delivery";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            contract_id: self.contract_id.clone(),
            day: day(self.delivery_date),
            ..Index::default()
        }
    }
}

impl Doc for Receivable {
    const KIND: &'static str = "receivable";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            contract_id: self.contract_id.clone(),
            parent_id: self.repayment_plan_id.clone(),
            state: if self.is_open() { "open" } else { "settled" }.into(),
            day: day(self.due_date),
            salesperson_id: self.salesperson_id.clone(),
            number: None,
        }
    }
}

impl Doc for Payment {
    const KIND: &'static str = "payment";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            contract_id: self.contract_id.clone(),
            state: self.method.to_string(),
            day: day(self.received_date),
            ..Index::default()
        }
    }
}

impl Doc for CreditLine {
    const KIND: &'static str = "credit_line";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            state: self.state.code().into(),
            day: day(self.valid_from),
            ..Index::default()
        }
    }
}

impl Doc for CreditOverride {
    const KIND: &'static str = "credit_override";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            contract_id: self.contract_id.clone(),
            state: self.state.code().into(),
            day: day(self.created_at.date_naive()),
            ..Index::default()
        }
    }
}

impl Doc for RepaymentPlan {
    const KIND: &'static str = "repayment_plan";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            state: self.state.code().into(),
            day: day(self.signed_date),
            ..Index::default()
        }
    }
}

impl Doc for Deferral {
    const KIND: &'static str = "deferral";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            parent_id: self.plan_id.clone(),
            state: self.state.code().into(),
            day: day(self.created_at.date_naive()),
            ..Index::default()
        }
    }
}

impl Doc for ReturnClaim {
    const KIND: &'static str = "return_claim";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.customer_id.clone(),
            contract_id: self.contract_id.clone(),
            parent_id: self.delivery_id.clone(),
            state: self.state.code().into(),
            day: day(self.created_at.date_naive()),
            ..Index::default()
        }
    }
}

/// A snapshot of one contract version (合同存异与变更情况 keeps every version readable).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ContractVersion {
    /// `<contract id>@<version>`.
    pub id: String,
    /// The contract as it was in that version.
    pub contract: Contract,
}

impl Doc for ContractVersion {
    const KIND: &'static str = "contract_version";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index {
            customer_id: self.contract.customer_id.clone(),
            contract_id: self.contract.id.clone(),
            state: self.contract.status.code().into(),
            day: format!("{:010}", self.contract.version),
            ..Index::default()
        }
    }
}

/// Which records of a kind to read. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Customer.
    pub customer_id: String,
    /// Contract.
    pub contract_id: String,
    /// Parent.
    pub parent_id: String,
    /// Any of these states.
    pub states: Vec<String>,
    /// Salesperson.
    pub salesperson_id: String,
    /// Day from (inclusive).
    pub day_from: String,
    /// Day to (inclusive).
    pub day_to: String,
    /// Unique number.
    pub number: String,
}

impl Filter {
    /// Records of one customer.
    pub fn customer(customer_id: &str) -> Self {
        Filter {
            customer_id: customer_id.to_owned(),
            ..Filter::default()
        }
    }
    /// The same filter narrowed to `states`.
    pub fn states(mut self, states: &[&str]) -> Self {
        self.states = states.iter().map(|s| s.to_string()).collect();
        self
    }
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres {
        format!("${n}")
    } else {
        "?".into()
    }
}

fn where_clause(backend: DbBackend, kind: &str, f: &Filter) -> (String, Vec<Value>) {
    let mut sql = format!("kind = {}", placeholder(backend, 1));
    let mut values: Vec<Value> = vec![kind.into()];
    let mut add = |sql: &mut String, column: &str, op: &str, value: &str| {
        values.push(value.into());
        sql.push_str(&format!(
            " AND {column} {op} {}",
            placeholder(backend, values.len())
        ));
    };
    for (column, value) in [
        ("customer_id", &f.customer_id),
        ("contract_id", &f.contract_id),
        ("parent_id", &f.parent_id),
        ("salesperson_id", &f.salesperson_id),
        ("number", &f.number),
    ] {
        if !value.is_empty() {
            add(&mut sql, column, "=", value);
        }
    }
    if !f.day_from.is_empty() {
        add(&mut sql, "day", ">=", &f.day_from);
    }
    if !f.day_to.is_empty() {
        add(&mut sql, "day", "<=", &f.day_to);
    }
    if !f.states.is_empty() {
        let mut list = Vec::new();
        for state in &f.states {
            values.push(state.as_str().into());
            list.push(placeholder(backend, values.len()));
        }
        sql.push_str(&format!(" AND state IN ({})", list.join(", ")));
    }
    (sql, values)
}

fn parse_body<T: Doc>(body: &str) -> Result<T, Problem> {
    serde_json::from_str(body)
        .map_err(|e| Problem::internal(format!("stored {} unreadable: {e}", T::KIND)))
}

async fn get<T: Doc>(conn: &impl ConnectionTrait, id: &str) -> Result<Option<T>, Problem> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT body FROM records WHERE id = {} AND kind = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [id.into(), T::KIND.into()],
        ))
        .await?;
    match row {
        Some(row) => {
            let body: String = row.try_get("", "body")?;
            Ok(Some(parse_body(&body)?))
        }
        None => Ok(None),
    }
}

async fn find<T: Doc>(
    conn: &impl ConnectionTrait,
    filter: &Filter,
    newest_first: bool,
    offset: u64,
    limit: Option<u64>,
) -> Result<Vec<T>, Problem> {
    let backend = conn.get_database_backend();
    let (clause, values) = where_clause(backend, T::KIND, filter);
    let order = if newest_first { "DESC" } else { "ASC" };
    let mut sql =
        format!("SELECT body FROM records WHERE {clause} ORDER BY day {order}, id {order}");
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
    }
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.iter()
        .map(|row| {
            let body: String = row.try_get("", "body")?;
            parse_body(&body)
        })
        .collect()
}

async fn count<T: Doc>(conn: &impl ConnectionTrait, filter: &Filter) -> Result<u64, Problem> {
    let backend = conn.get_database_backend();
    let (clause, values) = where_clause(backend, T::KIND, filter);
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT COUNT(*) AS n FROM records WHERE {clause}"),
            values,
        ))
        .await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

/// The storage of the service.
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

    /// Reads one record; `NOT_FOUND` when missing.
    pub async fn get<T: Doc>(&self, id: &str) -> Result<T, Problem> {
        get(&self.db, id)
            .await?
            .ok_or_else(|| Problem::not_found(T::KIND, id))
    }

    /// A page of records, newest first, and how many match.
    pub async fn page<T: Doc>(
        &self,
        filter: &Filter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<T>, u64), Problem> {
        let rows = find(&self.db, filter, true, offset, Some(limit)).await?;
        let total = count::<T>(&self.db, filter).await?;
        Ok((rows, total))
    }

    /// Every matching record, oldest first.
    pub async fn all<T: Doc>(&self, filter: &Filter) -> Result<Vec<T>, Problem> {
        find(&self.db, filter, false, 0, None).await
    }

    /// Whether this service has dealt with the customer before (it was confirmed by
    /// customer-profile when first used).
    pub async fn knows_customer(&self, customer_id: &str) -> Result<bool, Problem> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT customer_id FROM credit_accounts WHERE customer_id = {}",
                    placeholder(backend, 1)
                ),
                [customer_id.into()],
            ))
            .await?;
        Ok(row.is_some())
    }

    /// The customer's credit held (overpayments), zero when none.
    pub async fn customer_credit(&self, customer_id: &str) -> Result<Decimal, Problem> {
        read_credit(&self.db, customer_id).await
    }

    /// What an earlier request with this key produced, if it is a true repeat; `ALREADY_EXISTS`
    /// when the key was used for other content.
    pub async fn replay<T: Doc>(
        &self,
        scope: &str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<T>, Problem> {
        match idempotency::check(&self.db, scope, request_id, fingerprint).await? {
            Prior::New => Ok(None),
            Prior::Replay(id) => Ok(Some(self.get(&id).await?)),
        }
    }

    /// Opens a write transaction for `customer_id`, holding the customer's lock until it ends
    /// (see the module docs).
    pub async fn begin(&self, customer_id: &str, now: DateTime<Utc>) -> Result<Tx, Problem> {
        let txn = dossier_kit::db::begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        let sql = format!(
            "INSERT INTO credit_accounts (customer_id, credit, updated_at) VALUES ({}, '0.00', {}) \
             ON CONFLICT (customer_id) DO UPDATE SET updated_at = excluded.updated_at RETURNING credit",
            placeholder(backend, 1),
            placeholder(backend, 2)
        );
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [customer_id.into(), now.into()],
            ))
            .await?
            .ok_or_else(|| Problem::internal("credit account upsert returned nothing"))?;
        let credit: String = row.try_get("", "credit")?;
        let credit: Decimal = credit
            .parse()
            .map_err(|e| Problem::internal(format!("stored credit unreadable: {e}")))?;
        Ok(Tx {
            txn,
            outbox: self.outbox.clone(),
            customer_id: customer_id.to_owned(),
            credit,
            credit_changed: false,
            events: Vec::new(),
            now,
        })
    }
}

async fn read_credit(conn: &impl ConnectionTrait, customer_id: &str) -> Result<Decimal, Problem> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT credit FROM credit_accounts WHERE customer_id = {}",
                placeholder(backend, 1)
            ),
            [customer_id.into()],
        ))
        .await?;
    match row {
        Some(row) => {
            let credit: String = row.try_get("", "credit")?;
            credit
                .parse()
                .map_err(|e| Problem::internal(format!("stored credit unreadable: {e}")))
        }
        None => Ok(Decimal::ZERO),
    }
}

/// One customer's write transaction: reads see every committed earlier write of the customer,
/// writes and events commit together or not at all.
pub struct Tx {
    txn: DatabaseTransaction,
    outbox: Outbox,
    customer_id: String,
    /// The customer's credit held (overpayments), as of the lock.
    pub credit: Decimal,
    credit_changed: bool,
    events: Vec<NewEvent>,
    /// The time of the change.
    pub now: DateTime<Utc>,
}

impl Tx {
    /// Reads one record; `NOT_FOUND` when missing.
    pub async fn get<T: Doc>(&self, id: &str) -> Result<T, Problem> {
        get(&self.txn, id)
            .await?
            .ok_or_else(|| Problem::not_found(T::KIND, id))
    }

    /// Reads one record of this customer; another customer's is `NOT_FOUND` too, so one
    /// customer's call cannot touch another's records.
    pub async fn get_own<T: Doc>(&self, id: &str) -> Result<T, Problem> {
        let doc: T = self.get(id).await?;
        if doc.index().customer_id != self.customer_id {
            return Err(Problem::not_found(T::KIND, id));
        }
        Ok(doc)
    }

    /// Every matching record, oldest first.
    pub async fn all<T: Doc>(&self, filter: &Filter) -> Result<Vec<T>, Problem> {
        find(&self.txn, filter, false, 0, None).await
    }

    /// Whether a record of kind `T` carries `number`; its id if so.
    pub async fn number_taken<T: Doc>(&self, number: &str) -> Result<Option<String>, Problem> {
        let filter = Filter {
            number: number.to_owned(),
            ..Filter::default()
        };
        Ok(find::<T>(&self.txn, &filter, false, 0, Some(1))
            .await?
            .first()
            .map(|d| d.id().to_owned()))
    }

    /// Writes a record, new or changed.
    pub async fn put<T: Doc>(&self, doc: &T) -> Result<(), Problem> {
        let backend = self.txn.get_database_backend();
        let ix = doc.index();
        let body = serde_json::to_string(doc).map_err(Problem::internal)?;
        let p: Vec<String> = (1..=12).map(|n| placeholder(backend, n)).collect();
        let sql = format!(
            "INSERT INTO records (id, kind, customer_id, contract_id, parent_id, state, day, salesperson_id, number, body, created_at, updated_at) \
             VALUES ({}) ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, contract_id = excluded.contract_id, \
             parent_id = excluded.parent_id, state = excluded.state, day = excluded.day, salesperson_id = excluded.salesperson_id, \
             number = excluded.number, body = excluded.body, updated_at = excluded.updated_at",
            p.join(", ")
        );
        self.txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    doc.id().into(),
                    T::KIND.into(),
                    ix.customer_id.into(),
                    ix.contract_id.into(),
                    ix.parent_id.into(),
                    ix.state.into(),
                    ix.day.into(),
                    ix.salesperson_id.into(),
                    ix.number.into(),
                    body.into(),
                    self.now.into(),
                    self.now.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// Changes the customer's credit held.
    pub fn set_credit(&mut self, credit: Decimal) {
        self.credit = credit;
        self.credit_changed = true;
    }

    /// The request of this key done before (inside the lock, so a concurrent twin that
    /// committed first is seen).
    pub async fn replay<T: Doc>(
        &self,
        scope: &str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<T>, Problem> {
        match idempotency::check(&self.txn, scope, request_id, fingerprint).await? {
            Prior::New => Ok(None),
            Prior::Replay(id) => Ok(Some(self.get(&id).await?)),
        }
    }

    /// Records a request key for the resource `id`.
    pub async fn remember(
        &self,
        scope: &str,
        request_id: &str,
        fingerprint: &str,
        id: &str,
    ) -> Result<(), Problem> {
        idempotency::record(&self.txn, scope, request_id, fingerprint, id, self.now).await?;
        Ok(())
    }

    /// Queues an event for the change feed, written at commit.
    pub fn emit<M: prost::Name>(
        &mut self,
        event_type: &str,
        aggregate_id: &str,
        actor: &str,
        message: &M,
    ) {
        self.events.push(NewEvent::new(
            event_type,
            aggregate_id,
            Some(self.customer_id.clone()),
            actor,
            message,
        ));
    }

    /// Writes the credit and the events, and commits.
    pub async fn commit(self) -> Result<(), Problem> {
        let backend = self.txn.get_database_backend();
        if self.credit_changed {
            self.txn
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "UPDATE credit_accounts SET credit = {} WHERE customer_id = {}",
                        placeholder(backend, 1),
                        placeholder(backend, 2)
                    ),
                    [
                        crate::domain::money::format_money(self.credit).into(),
                        self.customer_id.clone().into(),
                    ],
                ))
                .await?;
        }
        let had_events = !self.events.is_empty();
        for event in self.events {
            self.outbox.append(&self.txn, self.now, event).await?;
        }
        self.txn.commit().await?;
        if had_events {
            self.outbox.notify_committed();
        }
        Ok(())
    }
}
