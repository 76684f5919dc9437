//! Payments (回款), recorded in groups.
//!
//! Payments are the hot path: finance systems post them in bulk and at month end all at once.
//! A payment's rules are cheap; its cost is the database round trips of a write transaction
//! (lock, key, reads, writes, event, commit), and on SQLite only one such transaction runs at a
//! time. So payments are not recorded one transaction each: every call queues its payment for one
//! writer task, which takes what has queued meanwhile (up to [`MAX_BATCH`]) and records it all in
//! one transaction — the customers locked by one statement, their open receivables and the keys
//! read by one each, the records, keys, credits and events written by one each. Under load the
//! statements per payment fall far below one; alone, a payment is a batch of one.
//!
//! Each payment in a batch is decided in arrival order against what the payments before it in
//! the same batch left (the books are kept in memory for the transaction), so the result is the
//! one serial recording would give. A payment refused by a rule (a receivable that is not the
//! customer's, say) is answered with its error and leaves nothing; the others go on. A failure
//! of the transaction itself (the database, or a twin from another process that the key's
//! uniqueness caught) is retried one payment per transaction, so each call gets its own answer.
//!
//! Two calls with the same `request_id` never share a batch: the later one waits for the next,
//! where it finds the first one's key and replays it (or is refused for other content).
//!
//! A call whose client goes away after its payment was queued still has it recorded: money that
//! arrived is booked, and the client's retry with the same `request_id` gets the recorded result.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use dossier_kit::idempotency::{Prior, prior};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, oneshot};

use super::movements::credit_plans;
use super::{Key, Ledger, new_id};
use crate::domain::contract::Contract;
use crate::domain::movement::Payment;
use crate::domain::receivable::{Allocation, Receivable, apply_payment};
use crate::domain::repayment::RepaymentPlan;
use crate::store::{Filter, Store, Tx};
use crate::wire;

/// The idempotency scope of payments.
const PAYMENT: &str = "RecordPayment";
/// Payments recorded in one transaction at most.
const MAX_BATCH: usize = 128;
/// Payments waiting for the writer before callers wait to queue (back-pressure).
const QUEUE: usize = 4_096;

/// A payment to record.
#[derive(Debug, Clone)]
pub struct PaymentInput {
    /// Customer.
    pub customer_id: String,
    /// Directed to this contract's receivables, if set.
    pub contract_id: String,
    /// Amount.
    pub amount: Decimal,
    /// Received.
    pub received_date: NaiveDate,
    /// Method's proto number.
    pub method: i32,
    /// Bank reference.
    pub reference: String,
    /// Directed to these receivables, in this order, if set.
    pub receivable_ids: Vec<String>,
    /// Directed to this plan's receivables, if set.
    pub repayment_plan_id: String,
    /// Notes.
    pub notes: String,
    /// Payer's bank.
    pub payer_bank_name: String,
    /// Payer's account.
    pub payer_bank_account: String,
}

/// One queued call.
struct Job {
    actor: String,
    input: PaymentInput,
    request_id: String,
    fingerprint: String,
    reply: oneshot::Sender<Result<Payment, Problem>>,
}

/// The queue of the payment writer.
#[derive(Debug, Clone)]
pub(super) struct PaymentDesk {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl PaymentDesk {
    /// Starts the writer over `store`. It ends when the last handle is dropped.
    pub(super) fn start(store: Store, clock: SharedClock) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(writer(store, clock, receiver));
        Self { queue }
    }
}

impl Ledger {
    /// Records a payment: applied oldest-first (or where directed), early-payment discounts
    /// granted inside their window, the rest held as customer credit. Idempotent by key: a
    /// repeat gets the first result, other content under the same key `ALREADY_EXISTS`.
    pub async fn record_payment(
        &self,
        caller: &Caller,
        input: PaymentInput,
        key: Key<'_>,
    ) -> Result<Payment, Problem> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            actor: caller.sub.clone(),
            input,
            request_id: key.request_id.to_owned(),
            fingerprint: key.fingerprint.to_owned(),
            reply,
        };
        self.payments
            .queue
            .send(job)
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> Problem {
    Problem::Unavailable {
        what: "payment writer".into(),
    }
}

async fn writer(store: Store, clock: SharedClock, mut receiver: mpsc::Receiver<Job>) {
    let mut waiting: Vec<Job> = Vec::new();
    loop {
        if waiting.is_empty() {
            if receiver.recv_many(&mut waiting, MAX_BATCH).await == 0 {
                return; // every handle is gone
            }
        } else {
            while waiting.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => waiting.push(job),
                    Err(_) => break,
                }
            }
        }
        let (batch, later) = without_twins(std::mem::take(&mut waiting));
        waiting = later;
        record(&store, &clock, batch).await;
    }
}

/// Splits off the calls whose `request_id` an earlier call in the batch carries already.
fn without_twins(jobs: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
    let mut seen = HashSet::new();
    jobs.into_iter()
        .partition(|job| seen.insert(job.request_id.clone()))
}

/// Records `batch` in one transaction and answers each call; after a failure of the
/// transaction, records its payments one per transaction.
async fn record(store: &Store, clock: &SharedClock, batch: Vec<Job>) {
    let inputs: Vec<&Job> = batch.iter().collect();
    match record_in_one(store, clock, &inputs).await {
        Ok(results) => {
            for (job, result) in batch.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(failure) if batch.len() > 1 => {
            tracing::debug!(%failure, size = batch.len(), "payment batch failed; recording one by one");
            for job in batch {
                let result = match record_in_one(store, clock, &[&job]).await {
                    Ok(mut results) => results
                        .pop()
                        .unwrap_or_else(|| Err(Problem::internal("a payment without a result"))),
                    Err(error) => settle_race(store, &job, error).await,
                };
                let _ = job.reply.send(result);
            }
        }
        Err(failure) => {
            // A batch of one: its failure is its answer, unless a twin won meanwhile.
            if let Some(job) = batch.into_iter().next() {
                let result = settle_race(store, &job, failure).await;
                let _ = job.reply.send(result);
            }
        }
    }
}

/// After a payment's own transaction failed: if a twin with its key committed meanwhile (in
/// another process), that twin's result is the answer; otherwise the failure stands.
async fn settle_race(store: &Store, job: &Job, failure: Problem) -> Result<Payment, Problem> {
    // A unique violation on the request key surfaces as an internal database error.
    if matches!(failure, Problem::Internal(_))
        && let Some(done) = store
            .replay(PAYMENT, &job.request_id, &job.fingerprint)
            .await?
    {
        return Ok(done);
    }
    Err(failure)
}

/// What the batch's transaction knows of its customers' books, read once and kept current as
/// each payment is decided.
struct Books {
    /// Open receivables of the batch's customers and every receivable a payment names.
    receivables: HashMap<String, Receivable>,
    /// Plans read so far (named by payments, or credited through their receivables).
    plans: HashMap<String, RepaymentPlan>,
    /// Customer of each contract a payment names.
    contracts: HashMap<String, String>,
}

impl Books {
    async fn read(tx: &Tx, jobs: &[&Job]) -> Result<Self, Problem> {
        let mut customers: Vec<String> = jobs.iter().map(|j| j.input.customer_id.clone()).collect();
        customers.sort();
        customers.dedup();
        let open: Vec<Receivable> = tx
            .all(
                &Filter {
                    any_customer: customers,
                    ..Filter::default()
                }
                .states(&["open"]),
            )
            .await?;
        let mut receivables: HashMap<String, Receivable> =
            open.into_iter().map(|r| (r.id.clone(), r)).collect();
        let directed = distinct(jobs.iter().flat_map(|j| j.input.receivable_ids.clone()));
        let missing: Vec<String> = directed
            .into_iter()
            .filter(|id| !receivables.contains_key(id))
            .collect();
        if !missing.is_empty() {
            receivables.extend(tx.get_many::<Receivable>(&missing).await?);
        }
        let plan_ids = distinct(jobs.iter().map(|j| j.input.repayment_plan_id.clone()));
        let plans = if plan_ids.is_empty() {
            HashMap::new()
        } else {
            tx.get_many::<RepaymentPlan>(&plan_ids).await?
        };
        let contract_ids = distinct(jobs.iter().map(|j| j.input.contract_id.clone()));
        let contracts = if contract_ids.is_empty() {
            HashMap::new()
        } else {
            tx.get_many::<Contract>(&contract_ids)
                .await?
                .into_iter()
                .map(|(id, c)| (id, c.customer_id))
                .collect()
        };
        Ok(Self {
            receivables,
            plans,
            contracts,
        })
    }

    /// The receivables `input` pays, in the order it pays them: the directed ones as given, or
    /// the open ones of its plan, its contract or its customer, oldest first.
    fn targets(&self, input: &PaymentInput) -> Result<Vec<Receivable>, Problem> {
        let customer = input.customer_id.as_str();
        if !input.receivable_ids.is_empty() {
            return input
                .receivable_ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    self.receivables
                        .get(id)
                        .filter(|r| r.customer_id == customer)
                        .cloned()
                        .ok_or_else(|| {
                            Problem::invalid(
                                format!("payment.receivable_ids[{i}]"),
                                format!("no receivable {id} of this customer"),
                            )
                        })
                })
                .collect();
        }
        if !input.repayment_plan_id.is_empty()
            && self
                .plans
                .get(&input.repayment_plan_id)
                .is_none_or(|p| p.customer_id != customer)
        {
            return Err(Problem::invalid(
                "payment.repayment_plan_id",
                "no such plan of this customer",
            ));
        }
        if input.repayment_plan_id.is_empty()
            && !input.contract_id.is_empty()
            && self.contracts.get(&input.contract_id).map(String::as_str) != Some(customer)
        {
            return Err(Problem::invalid(
                "payment.contract_id",
                "no such contract of this customer",
            ));
        }
        let mut open: Vec<Receivable> = self
            .receivables
            .values()
            .filter(|r| r.customer_id == customer && r.is_open())
            .filter(|r| {
                if !input.repayment_plan_id.is_empty() {
                    r.repayment_plan_id == input.repayment_plan_id
                } else if !input.contract_id.is_empty() {
                    r.contract_id == input.contract_id
                } else {
                    true
                }
            })
            .cloned()
            .collect();
        open.sort_by_key(Receivable::age_key);
        Ok(open)
    }
}

/// The non-empty ids among `ids`, each once, sorted.
fn distinct(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.filter(|id| !id.is_empty()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Records `jobs` in one transaction: each job's result, in order, or the transaction's failure.
async fn record_in_one(
    store: &Store,
    clock: &SharedClock,
    jobs: &[&Job],
) -> Result<Vec<Result<Payment, Problem>>, Problem> {
    let customers: Vec<String> = jobs.iter().map(|j| j.input.customer_id.clone()).collect();
    let mut tx = store.begin_for(&customers, clock.now()).await?;
    let request_ids: Vec<&str> = jobs.iter().map(|j| j.request_id.as_str()).collect();
    let stored = tx.stored_keys(PAYMENT, &request_ids).await?;
    let mut books = Books::read(&tx, jobs).await?;
    // Decided in arrival order; a repeat is answered once its first result is read back.
    let mut decided: Vec<Option<Result<Payment, Problem>>> = Vec::with_capacity(jobs.len());
    let mut replays: Vec<(usize, String)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let earlier = match stored.get(&job.request_id) {
            Some(key) => prior(&key.fingerprint, key.resource_id.clone(), &job.fingerprint),
            None => Ok(Prior::New),
        };
        decided.push(match earlier {
            Ok(Prior::New) => Some(pay(&mut tx, &mut books, job).await?),
            Ok(Prior::Replay(id)) => {
                replays.push((i, id));
                None
            }
            Err(refused) => Some(Err(refused)),
        });
    }
    if !replays.is_empty() {
        let ids: Vec<String> = replays.iter().map(|(_, id)| id.clone()).collect();
        let mut firsts = tx.get_many::<Payment>(&ids).await?;
        for (i, id) in replays {
            decided[i] = Some(firsts.remove(&id).ok_or_else(|| {
                Problem::internal(format!("payment {id} of a stored key is missing"))
            }));
        }
    }
    let results = decided
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(Problem::internal("a payment was not decided"))))
        .collect();
    tx.commit().await?;
    Ok(results)
}

/// Decides one payment against the books and writes it into the transaction. The outer error
/// fails the whole transaction; the inner one refuses this payment alone (it then has written
/// nothing: every check comes before the first write).
async fn pay(
    tx: &mut Tx,
    books: &mut Books,
    job: &Job,
) -> Result<Result<Payment, Problem>, Problem> {
    let input = &job.input;
    let mut targets = match books.targets(input) {
        Ok(targets) => targets,
        Err(refused) => return Ok(Err(refused)),
    };
    let now = tx.now;
    let (allocations, left) = apply_payment(&mut targets, input.amount, input.received_date, now);
    for r in targets
        .iter()
        .filter(|r| allocations.iter().any(|a| a.receivable_id == r.id))
    {
        tx.put(r)?;
        books.receivables.insert(r.id.clone(), r.clone());
    }
    let plan_credits: Vec<(String, Decimal)> = allocations
        .iter()
        .map(|a: &Allocation| (a.receivable_id.clone(), a.amount + a.discount_amount))
        .collect();
    credit_plans(
        tx,
        &mut books.plans,
        &targets,
        &plan_credits,
        input.received_date,
        &job.actor,
    )
    .await?;
    if !left.is_zero() {
        let credit = tx.credit_of(&input.customer_id) + left;
        tx.set_credit_of(&input.customer_id, credit);
    }
    let payment = Payment {
        id: new_id(),
        customer_id: input.customer_id.clone(),
        contract_id: input.contract_id.clone(),
        amount: input.amount,
        received_date: input.received_date,
        method: input.method,
        reference: input.reference.clone(),
        receivable_ids: input.receivable_ids.clone(),
        repayment_plan_id: input.repayment_plan_id.clone(),
        allocations,
        unapplied_amount: left,
        notes: input.notes.clone(),
        payer_bank_name: input.payer_bank_name.clone(),
        payer_bank_account: input.payer_bank_account.clone(),
        created_at: now,
        created_by: job.actor.clone(),
    };
    tx.put(&payment)?;
    tx.remember(PAYMENT, &job.request_id, &job.fingerprint, &payment.id);
    tx.emit_for(
        &payment.customer_id,
        "payment.recorded",
        &payment.id,
        &job.actor,
        &wire::payment(&payment),
    );
    Ok(Ok(payment))
}
