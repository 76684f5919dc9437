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
//!
//! **Few statements.** A [`Tx`] holds its writes back and sends them in one statement per table
//! before its next read or at commit, and a transaction may lock several customers at once (one
//! statement for all), which lets the payment writer record a whole batch of payments with about
//! as many statements as one (see `ledger::payments`).

pub mod migration;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::idempotency::{self, NewKey, Prior, Stored};
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
    /// Any of these customers (a batch of writes over several).
    pub any_customer: Vec<String>,
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
    if !f.any_customer.is_empty() {
        let mut list = Vec::new();
        for customer in &f.any_customer {
            values.push(customer.as_str().into());
            list.push(placeholder(backend, values.len()));
        }
        sql.push_str(&format!(" AND customer_id IN ({})", list.join(", ")));
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
        self.begin_for(&[customer_id.to_owned()], now).await
    }

    /// Opens a write transaction for several customers at once (a batch of payments), holding
    /// each one's lock until it ends. The first is the transaction's own customer, the one
    /// [`Tx::credit`], [`Tx::get_own`] and [`Tx::emit`] mean.
    ///
    /// The rows are locked by one statement in customer-id order, so two batches over
    /// overlapping customers queue instead of deadlocking.
    pub async fn begin_for(&self, customers: &[String], now: DateTime<Utc>) -> Result<Tx, Problem> {
        let own = customers
            .first()
            .cloned()
            .ok_or_else(|| Problem::internal("a transaction for no customer"))?;
        let mut sorted: Vec<&String> = customers.iter().collect();
        sorted.sort();
        sorted.dedup();
        let txn = dossier_kit::db::begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        let mut credits = BTreeMap::new();
        for chunk in
            dossier_kit::db::statement_chunks(backend, &sorted, LOCK_CHUNK, |c| c.len() + 40)
        {
            let rows = vec!["(?, '0.00', ?)"; chunk.len()].join(", ");
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
            for customer in chunk {
                values.extend([customer.as_str().into(), now.into()]);
            }
            let locked = txn
                .query_all_raw(dossier_kit::db::statement(
                    backend,
                    &format!(
                        "INSERT INTO credit_accounts (customer_id, credit, updated_at) VALUES {rows} \
                         ON CONFLICT (customer_id) DO UPDATE SET updated_at = excluded.updated_at \
                         RETURNING customer_id, credit"
                    ),
                    values,
                ))
                .await?;
            for row in locked {
                let customer: String = row.try_get("", "customer_id")?;
                let credit: String = row.try_get("", "credit")?;
                let amount: Decimal = credit
                    .parse()
                    .map_err(|e| Problem::internal(format!("stored credit unreadable: {e}")))?;
                credits.insert(
                    customer,
                    Held {
                        amount,
                        changed: false,
                    },
                );
            }
        }
        if credits.len() != sorted.len() {
            return Err(Problem::internal(
                "a customer's credit account was not locked",
            ));
        }
        Ok(Tx {
            txn,
            outbox: self.outbox.clone(),
            customer_id: own,
            credits,
            pending: Mutex::new(Pending::default()),
            events: Vec::new(),
            now,
        })
    }
}

/// Customers locked per statement (two values each).
const LOCK_CHUNK: usize = 500;
/// Records written per statement (twelve values each: far below either database's limit).
const WRITE_CHUNK: usize = 200;
/// Ids read per statement.
const READ_CHUNK: usize = 500;

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

/// A customer's credit held, as of the lock, and whether this transaction changed it.
#[derive(Debug, Clone, Copy)]
struct Held {
    amount: Decimal,
    changed: bool,
}

/// A record written by the transaction and not yet sent to the database.
struct PendingDoc {
    id: String,
    kind: &'static str,
    index: Index,
    body: String,
}

/// Writes held back so that consecutive ones go out as one statement per table.
#[derive(Default)]
struct Pending {
    docs: Vec<PendingDoc>,
    keys: Vec<(&'static str, NewKey)>,
}

/// A write transaction for one customer (or a batch over several): reads see every committed
/// earlier write of its customers, writes and events commit together or not at all.
///
/// Writes are held back and sent in as few statements as possible — before the next read (so
/// the transaction always reads its own writes) or at commit — because on both databases the
/// cost of a write transaction is its number of statements far more than its number of rows.
pub struct Tx {
    txn: DatabaseTransaction,
    outbox: Outbox,
    customer_id: String,
    credits: BTreeMap<String, Held>,
    pending: Mutex<Pending>,
    events: Vec<NewEvent>,
    /// The time of the change.
    pub now: DateTime<Utc>,
}

impl Tx {
    /// Reads one record; `NOT_FOUND` when missing.
    pub async fn get<T: Doc>(&self, id: &str) -> Result<T, Problem> {
        self.flush().await?;
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

    /// The records of kind `T` among `ids` that exist, by id (one statement per
    /// [`READ_CHUNK`] ids).
    pub async fn get_many<T: Doc>(&self, ids: &[String]) -> Result<HashMap<String, T>, Problem> {
        self.flush().await?;
        let backend = self.txn.get_database_backend();
        let mut found = HashMap::new();
        for chunk in dossier_kit::db::statement_chunks(backend, ids, READ_CHUNK, |id| id.len() + 8)
        {
            let list = vec!["?"; chunk.len()].join(", ");
            let mut values: Vec<Value> = vec![T::KIND.into()];
            values.extend(chunk.iter().map(|id| Value::from(id.as_str())));
            let rows = self
                .txn
                .query_all_raw(dossier_kit::db::statement(
                    backend,
                    &format!("SELECT body FROM records WHERE kind = ? AND id IN ({list})"),
                    values,
                ))
                .await?;
            for row in rows {
                let body: String = row.try_get("", "body")?;
                let doc: T = parse_body(&body)?;
                found.insert(doc.id().to_owned(), doc);
            }
        }
        Ok(found)
    }

    /// Every matching record, oldest first.
    pub async fn all<T: Doc>(&self, filter: &Filter) -> Result<Vec<T>, Problem> {
        self.flush().await?;
        find(&self.txn, filter, false, 0, None).await
    }

    /// Whether a record of kind `T` carries `number`; its id if so.
    pub async fn number_taken<T: Doc>(&self, number: &str) -> Result<Option<String>, Problem> {
        let filter = Filter {
            number: number.to_owned(),
            ..Filter::default()
        };
        self.flush().await?;
        Ok(find::<T>(&self.txn, &filter, false, 0, Some(1))
            .await?
            .first()
            .map(|d| d.id().to_owned()))
    }

    /// Writes a record, new or changed (sent before the next read, or at commit).
    pub fn put<T: Doc>(&self, doc: &T) -> Result<(), Problem> {
        let body = serde_json::to_string(doc).map_err(Problem::internal)?;
        let write = PendingDoc {
            id: doc.id().to_owned(),
            kind: T::KIND,
            index: doc.index(),
            body,
        };
        let mut pending = self.pending();
        // One row per record in a statement: PostgreSQL refuses an upsert that touches a row
        // twice, and the last version is the one that counts.
        match pending.docs.iter_mut().find(|d| d.id == write.id) {
            Some(earlier) => *earlier = write,
            None => pending.docs.push(write),
        }
        Ok(())
    }

    /// The customer's credit held (overpayments).
    pub fn credit(&self) -> Decimal {
        self.credit_of(&self.customer_id)
    }

    /// Changes the customer's credit held.
    pub fn set_credit(&mut self, credit: Decimal) {
        let customer = self.customer_id.clone();
        self.set_credit_of(&customer, credit);
    }

    /// The credit held by `customer`, one of the transaction's customers (zero otherwise).
    pub fn credit_of(&self, customer: &str) -> Decimal {
        self.credits
            .get(customer)
            .map_or(Decimal::ZERO, |held| held.amount)
    }

    /// Changes the credit held by `customer`, one of the transaction's customers.
    pub fn set_credit_of(&mut self, customer: &str, credit: Decimal) {
        if let Some(held) = self.credits.get_mut(customer) {
            held.amount = credit;
            held.changed = true;
        }
    }

    /// The request of this key done before (inside the lock, so a concurrent twin that
    /// committed first is seen).
    pub async fn replay<T: Doc>(
        &self,
        scope: &str,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<T>, Problem> {
        self.flush().await?;
        match idempotency::check(&self.txn, scope, request_id, fingerprint).await? {
            Prior::New => Ok(None),
            Prior::Replay(id) => Ok(Some(self.get(&id).await?)),
        }
    }

    /// The keys among `request_ids` already stored in `scope` (one statement for a batch).
    pub async fn stored_keys(
        &self,
        scope: &str,
        request_ids: &[&str],
    ) -> Result<HashMap<String, Stored>, Problem> {
        self.flush().await?;
        Ok(idempotency::lookup_all(&self.txn, scope, request_ids).await?)
    }

    /// Records a request key for the resource `id` (sent with the next writes).
    pub fn remember(&self, scope: &'static str, request_id: &str, fingerprint: &str, id: &str) {
        self.pending().keys.push((
            scope,
            NewKey {
                request_id: request_id.to_owned(),
                fingerprint: fingerprint.to_owned(),
                resource_id: id.to_owned(),
            },
        ));
    }

    /// Queues an event about the transaction's own customer for the change feed, written at
    /// commit.
    pub fn emit<M: prost::Name>(
        &mut self,
        event_type: &str,
        aggregate_id: &str,
        actor: &str,
        message: &M,
    ) {
        let customer = self.customer_id.clone();
        self.emit_for(&customer, event_type, aggregate_id, actor, message);
    }

    /// Queues an event about `customer` for the change feed, written at commit.
    pub fn emit_for<M: prost::Name>(
        &mut self,
        customer: &str,
        event_type: &str,
        aggregate_id: &str,
        actor: &str,
        message: &M,
    ) {
        self.events.push(NewEvent::new(
            event_type,
            aggregate_id,
            Some(customer.to_owned()),
            actor,
            message,
        ));
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Only this transaction's task touches it; a poisoned lock still holds valid data.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the held-back writes: one statement per [`WRITE_CHUNK`] records, one per scope of
    /// keys.
    async fn flush(&self) -> Result<(), Problem> {
        let Pending { docs, keys } = std::mem::take(&mut *self.pending());
        let backend = self.txn.get_database_backend();
        let size = |d: &PendingDoc| d.body.len() + d.id.len() + 160;
        for chunk in dossier_kit::db::statement_chunks(backend, &docs, WRITE_CHUNK, size) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 12);
            for doc in chunk {
                let ix = &doc.index;
                values.extend([
                    doc.id.as_str().into(),
                    doc.kind.into(),
                    ix.customer_id.as_str().into(),
                    ix.contract_id.as_str().into(),
                    ix.parent_id.as_str().into(),
                    ix.state.as_str().into(),
                    ix.day.as_str().into(),
                    ix.salesperson_id.as_str().into(),
                    ix.number.clone().into(),
                    doc.body.as_str().into(),
                    self.now.into(),
                    self.now.into(),
                ]);
            }
            self.txn
                .execute_raw(dossier_kit::db::statement(
                    backend,
                    &format!(
                        "INSERT INTO records (id, kind, customer_id, contract_id, parent_id, state, day, salesperson_id, number, body, created_at, updated_at) \
                         VALUES {rows} ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, contract_id = excluded.contract_id, \
                         parent_id = excluded.parent_id, state = excluded.state, day = excluded.day, salesperson_id = excluded.salesperson_id, \
                         number = excluded.number, body = excluded.body, updated_at = excluded.updated_at"
                    ),
                    values,
                ))
                .await?;
        }
        let mut scopes: Vec<&'static str> = keys.iter().map(|(scope, _)| *scope).collect();
        scopes.dedup();
        for scope in scopes {
            let of_scope: Vec<NewKey> = keys
                .iter()
                .filter(|(s, _)| *s == scope)
                .map(|(_, key)| key.clone())
                .collect();
            idempotency::record_all(&self.txn, scope, &of_scope, self.now).await?;
        }
        Ok(())
    }

    /// Writes what is held back, the changed credits and the events, and commits.
    pub async fn commit(self) -> Result<(), Problem> {
        self.flush().await?;
        let backend = self.txn.get_database_backend();
        let changed: Vec<(&String, &Held)> = self
            .credits
            .iter()
            .filter(|(_, held)| held.changed)
            .collect();
        for chunk in
            dossier_kit::db::statement_chunks(backend, &changed, LOCK_CHUNK, |(c, _)| c.len() + 60)
        {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
            for (customer, held) in chunk {
                values.extend([
                    customer.as_str().into(),
                    crate::domain::money::format_money(held.amount).into(),
                    self.now.into(),
                ]);
            }
            self.txn
                .execute_raw(dossier_kit::db::statement(
                    backend,
                    &format!(
                        "INSERT INTO credit_accounts (customer_id, credit, updated_at) VALUES {rows} \
                         ON CONFLICT (customer_id) DO UPDATE SET credit = excluded.credit, updated_at = excluded.updated_at"
                    ),
                    values,
                ))
                .await?;
        }
        let had_events = !self.events.is_empty();
        self.outbox
            .append_all(&self.txn, self.now, self.events)
            .await?;
        self.txn.commit().await?;
        if had_events {
            self.outbox.notify_committed();
        }
        Ok(())
    }
}
