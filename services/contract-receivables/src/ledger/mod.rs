//! The use cases: each one a single transaction for one customer (see [`crate::store`] for why
//! that serialises what must not interleave), taking domain values in and giving domain values
//! back. The gRPC layer only parses, authorises and converts; tests drive these directly.

mod contracts;
mod credit;
mod movements;
mod payments;
mod repayment;
mod statements;

pub use contracts::{ContractEdit, TerminateOrComplete};
pub use movements::DeliveryInput;
pub use payments::PaymentInput;
pub use repayment::PlanInput;
pub use statements::{AgingReport, CreditStatus, CustomerAgingRow, Performance};

use chrono::{DateTime, NaiveDate, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use rust_decimal::Decimal;

use crate::domain::contract::Contract;
use crate::domain::credit::{CreditLine, Exposure, line_in_force};
use crate::domain::receivable::Receivable;
use crate::store::{Doc, Filter, Store, Tx};

/// The ledger: the store, the clock and the payment writer.
#[derive(Debug, Clone)]
pub struct Ledger {
    store: Store,
    clock: SharedClock,
    payments: payments::PaymentDesk,
}

/// An idempotency key and the fingerprint of the request content it guards.
#[derive(Debug, Clone)]
pub struct Key<'a> {
    /// The client's `request_id`.
    pub request_id: &'a str,
    /// Fingerprint of the request content.
    pub fingerprint: &'a str,
}

impl Ledger {
    /// The ledger over `store`; starts its payment writer (see [`payments`]), so call it
    /// inside the Tokio runtime.
    pub fn new(store: Store, clock: SharedClock) -> Self {
        let payments = payments::PaymentDesk::start(store.clone(), clock.clone());
        Self {
            store,
            clock,
            payments,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today (UTC).
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    async fn begin(&self, customer_id: &str) -> Result<Tx, Problem> {
        self.store.begin(customer_id, self.now()).await
    }

    /// After a failed write guarded by `key`: if a concurrent twin with the same key committed
    /// meanwhile, its result (or `ALREADY_EXISTS` for other content) is the answer; otherwise
    /// the original failure stands.
    async fn settle_race<T: Doc>(
        &self,
        scope: &str,
        key: &Key<'_>,
        failure: Problem,
    ) -> Result<T, Problem> {
        // A unique violation on the request key surfaces as an internal database error.
        if matches!(failure, Problem::Internal(_))
            && let Some(done) = self
                .store
                .replay(scope, key.request_id, key.fingerprint)
                .await?
        {
            return Ok(done);
        }
        Err(failure)
    }
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Refuses a stale etag (empty: not checked).
pub fn check_etag(etag: &str, current: i64) -> Result<(), Problem> {
    if !etag.is_empty() && etag != current.to_string() {
        return Err(Problem::stale(etag, &current.to_string()));
    }
    Ok(())
}

/// Whether `caller` approves as a manager.
pub fn is_manager(caller: &Caller) -> bool {
    use dossier_kit::auth::Role;
    matches!(caller.role, Role::SalesManager | Role::Executive)
}

/// The customer's exposure as the transaction sees it.
async fn exposure(tx: &Tx, customer_id: &str) -> Result<Exposure, Problem> {
    let receivables: Vec<Receivable> = tx
        .all(&Filter::customer(customer_id).states(&["open"]))
        .await?;
    let contracts: Vec<Contract> = tx
        .all(&Filter::customer(customer_id).states(&["active"]))
        .await?;
    Ok(Exposure {
        open_receivables: receivables.iter().map(Receivable::open_amount).sum(),
        undelivered: contracts.iter().map(Contract::exposure).sum(),
    })
}

/// The approved line in force today, and its amount (zero without one).
async fn credit_limit(
    tx: &Tx,
    customer_id: &str,
    today: NaiveDate,
) -> Result<(Option<CreditLine>, Decimal), Problem> {
    let lines: Vec<CreditLine> = tx
        .all(&Filter::customer(customer_id).states(&["approved"]))
        .await?;
    let line = line_in_force(&lines, today).cloned();
    let limit = line
        .as_ref()
        .and_then(|l| l.approved_amount)
        .unwrap_or(Decimal::ZERO);
    Ok((line, limit))
}
