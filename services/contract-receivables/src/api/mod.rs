//! The gRPC face of contract-and-receivables: requests are authenticated (by the kit's
//! interceptor), authorised per operation, parsed into domain values, handed to the ledger, and
//! answered. Every failure is a [`Problem`], turned into a status in one place.

mod parse;

use dossier_kit::query_key;
use dossier_kit::status::reply;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use dossier_kit::auth::Caller;
use dossier_kit::customers::{CustomerDirectory, authorization_of};
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::server::ShutdownSignal;
use dossier_kit::time::{format_date, from_timestamp, to_timestamp};
use dossier_kit::{Problem, Violations};
use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::contract::contract_service_server::ContractService;
use dossier_proto::contract::{self as pb};
use futures::{Stream, StreamExt};
use prost::Message;
use rust_decimal::Decimal;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Response, Status};

use crate::domain::claim::{ClaimState, Finding, ReturnClaim};
use crate::domain::contract::{AmendmentRequest, Contract, ContractStatus};
use crate::domain::credit::{CreditLine, CreditOverride};
use crate::domain::money::{format_money, parse_money, parse_positive_money, parse_quantity};
use crate::domain::movement::{Delivery, Payment};
use crate::domain::performance::Period;
use crate::domain::policy::{Operation, authorize};
use crate::domain::receivable::Receivable;
use crate::domain::repayment::{Deferral, RepaymentPlan};
use crate::ledger::{
    ContractEdit, DeliveryInput, Key, Ledger, PaymentInput, PlanInput, TerminateOrComplete,
};
use crate::store::{ContractVersion, Doc, Filter};
use crate::wire;
use parse::{optional_date, required, required_date};

/// The ContractService implementation.
#[derive(Clone)]
pub struct ContractApi {
    ledger: Ledger,
    directory: CustomerDirectory,
    /// Customers this process has seen on file here already: payments of a known customer
    /// skip the lookup (a cache of `Store::knows_customer`, which only ever turns true).
    known: Arc<Mutex<HashSet<String>>>,
    shutdown: ShutdownSignal,
}

type Reply<T> = Result<Response<T>, Status>;
type EventStream = Pin<Box<dyn Stream<Item = Result<ChangeEvent, Status>> + Send>>;
type Auth = Option<MetadataValue<Ascii>>;

fn key<'a>(request_id: &'a str, fp: &'a str) -> Key<'a> {
    Key {
        request_id,
        fingerprint: fp,
    }
}

fn finish<T>(v: Violations, value: T) -> Result<T, Problem> {
    v.finish(|| value)
}

fn decision(field: &str, value: i32) -> Result<bool, Problem> {
    match pb::Decision::try_from(value) {
        Ok(pb::Decision::Approve) => Ok(true),
        Ok(pb::Decision::Reject) => Ok(false),
        _ => Err(Problem::invalid(
            field,
            "must be DECISION_APPROVE or DECISION_REJECT",
        )),
    }
}

/// One page of `items` (newest first already) and the total.
fn page_of<T>(items: Vec<T>, page: &Page) -> (Vec<T>, u64) {
    let total = items.len() as u64;
    let rows = items
        .into_iter()
        .skip(page.offset as usize)
        .take(page.size as usize)
        .collect();
    (rows, total)
}

fn state_code<E: TryFrom<i32>>(
    field: &str,
    value: i32,
    code: impl Fn(E) -> Option<&'static str>,
) -> Result<Vec<String>, Problem> {
    if value == 0 {
        return Ok(Vec::new());
    }
    let parsed = E::try_from(value).map_err(|_| Problem::invalid(field, "is not a known state"))?;
    Ok(code(parsed).map(|c| vec![c.to_owned()]).unwrap_or_default())
}

impl ContractApi {
    /// The service over `ledger`, asking `directory` about customers.
    pub fn new(ledger: Ledger, directory: CustomerDirectory, shutdown: ShutdownSignal) -> Self {
        Self {
            ledger,
            directory,
            known: Arc::default(),
            shutdown,
        }
    }

    fn open<T>(request: Request<T>, operation: Operation) -> Result<(Caller, Auth, T), Status> {
        let caller = dossier_kit::server::caller(&request)?;
        authorize(&caller, operation)?;
        let auth = authorization_of(&request);
        Ok((caller, auth, request.into_inner()))
    }

    /// Confirms with customer-profile that the customer exists and is active (a customer this
    /// service already deals with was confirmed when first used, unless `always`).
    async fn confirm_customer(
        &self,
        id: &str,
        field: &str,
        auth: &Auth,
        always: bool,
    ) -> Result<(), Problem> {
        if id.trim().is_empty() {
            return Err(Problem::invalid(field, "is required"));
        }
        if !always {
            let cached = self.known.lock().map(|k| k.contains(id)).unwrap_or(false);
            if cached || self.ledger.store().knows_customer(id).await? {
                if !cached && let Ok(mut known) = self.known.lock() {
                    known.insert(id.to_owned());
                }
                return Ok(());
            }
        }
        self.directory
            .require_active(id, field, auth.as_ref())
            .await?;
        Ok(())
    }

    async fn list<T: Doc>(
        &self,
        filter: Filter,
        page: &Page,
        keep: Option<&(dyn Fn(&T) -> bool + Sync)>,
    ) -> Result<(Vec<T>, u64), Problem> {
        match keep {
            None => {
                self.ledger
                    .store()
                    .page(&filter, page.offset, page.size)
                    .await
            }
            Some(keep) => {
                let mut all: Vec<T> = self.ledger.store().all(&filter).await?;
                all.retain(|t| keep(t));
                all.reverse();
                Ok(page_of(all, page))
            }
        }
    }

    fn plan_proto(&self, p: &RepaymentPlan) -> pb::RepaymentPlan {
        wire::plan(p, self.ledger.today())
    }
}

#[tonic::async_trait]
impl ContractService for ContractApi {
    async fn create_contract(
        &self,
        request: Request<pb::CreateContractRequest>,
    ) -> Reply<pb::Contract> {
        let (caller, auth, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let message = r
                    .contract
                    .ok_or_else(|| Problem::invalid("contract", "is required"))?;
                let draft = parse::contract(&message, "contract", self.ledger.today())?;
                self.confirm_customer(&draft.customer_id, "contract.customer_id", &auth, true)
                    .await?;
                let fp = fingerprint(&message.encode_to_vec());
                let c = self
                    .ledger
                    .create_contract(&caller, draft, key(&r.request_id, &fp))
                    .await?;
                Ok(wire::contract(&c))
            }
            .await,
        )
    }

    async fn get_contract(&self, request: Request<pb::GetContractRequest>) -> Reply<pb::Contract> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let current: Contract = self.ledger.store().get(&r.id).await?;
                if r.version == 0 || r.version == current.version {
                    return Ok(wire::contract(&current));
                }
                let old: ContractVersion = self
                    .ledger
                    .store()
                    .get(&format!("{}@{}", r.id, r.version))
                    .await
                    .map_err(|_| {
                        Problem::invalid(
                            "version",
                            format!("contract has no version {}", r.version),
                        )
                    })?;
                Ok(wire::contract(&old.contract))
            }
            .await,
        )
    }

    async fn list_contracts(
        &self,
        request: Request<pb::ListContractsRequest>,
    ) -> Reply<pb::ListContractsResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let mut v = Violations::new();
                let from = optional_date(&mut v, "signed_from_date", &r.signed_from_date);
                let to = optional_date(&mut v, "signed_to_date", &r.signed_to_date);
                let expiring =
                    optional_date(&mut v, "expiring_before_date", &r.expiring_before_date);
                finish(v, ())?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    salesperson_id: r.salesperson_id.clone(),
                    number: r.contract_no.clone(),
                    day_from: format_date(from),
                    day_to: format_date(to),
                    states: state_code::<pb::ContractStatus>("status", r.status, |s| match s {
                        pb::ContractStatus::Draft => Some(ContractStatus::Draft.code()),
                        pb::ContractStatus::Active => Some(ContractStatus::Active.code()),
                        pb::ContractStatus::Completed => Some(ContractStatus::Completed.code()),
                        pb::ContractStatus::Terminated => Some(ContractStatus::Terminated.code()),
                        pb::ContractStatus::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let keep = move |c: &Contract| expiring.is_none_or(|d| c.valid_to < d);
                let (rows, total) = self
                    .list::<Contract>(filter, &page, expiring.is_some().then_some(&keep as _))
                    .await?;
                Ok(pb::ListContractsResponse {
                    contracts: rows.iter().map(wire::contract).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn update_contract(
        &self,
        request: Request<pb::UpdateContractRequest>,
    ) -> Reply<pb::Contract> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                let incoming = r
                    .contract
                    .ok_or_else(|| Problem::invalid("contract", "is required"))?;
                required_id("contract.id", &incoming.id)?;
                let paths: Vec<String> = r.update_mask.map(|m| m.paths).unwrap_or_default();
                if paths.is_empty() {
                    return Err(Problem::invalid("update_mask", "name the fields to change"));
                }
                let current: Contract = self.ledger.store().get(&incoming.id).await?;
                let mut merged = wire::contract(&current);
                for path in &paths {
                    match path.as_str() {
                        "contract_no" => merged.contract_no = incoming.contract_no.clone(),
                        "signed_date" => merged.signed_date = incoming.signed_date.clone(),
                        "signer" => merged.signer = incoming.signer.clone(),
                        "lines" => merged.lines = incoming.lines.clone(),
                        "payment_terms" => merged.payment_terms = incoming.payment_terms.clone(),
                        "valid_from" => merged.valid_from = incoming.valid_from.clone(),
                        "valid_to" => merged.valid_to = incoming.valid_to.clone(),
                        "salesperson_id" => merged.salesperson_id = incoming.salesperson_id.clone(),
                        "notes" => merged.notes = incoming.notes.clone(),
                        other => {
                            return Err(Problem::invalid(
                                "update_mask",
                                format!("{other:?} cannot be edited"),
                            ));
                        }
                    }
                }
                let draft = parse::contract(&merged, "contract", self.ledger.today())?;
                let etag = if r.etag.is_empty() {
                    incoming.etag.clone()
                } else {
                    r.etag.clone()
                };
                let c = self
                    .ledger
                    .update_contract(&caller, &incoming.id, ContractEdit { draft, paths }, &etag)
                    .await?;
                Ok(wire::contract(&c))
            }
            .await,
        )
    }

    async fn amend_contract(
        &self,
        request: Request<pb::AmendContractRequest>,
    ) -> Reply<pb::Contract> {
        let (caller, _, r) = Self::open(request, Operation::Approve)?;
        reply(
            async {
                required_id("id", &r.id)?;
                if !r.request_id.is_empty() {
                    validate_request_id("request_id", &r.request_id)?;
                }
                let a = r
                    .amendment
                    .clone()
                    .ok_or_else(|| Problem::invalid("amendment", "is required"))?;
                let mut v = Violations::new();
                let lines = (!a.lines.is_empty())
                    .then(|| parse::lines(&mut v, "amendment.lines", &a.lines));
                let terms = a
                    .payment_terms
                    .as_ref()
                    .map(|t| parse::terms(&mut v, "amendment.payment_terms", Some(t)));
                let valid_to = optional_date(&mut v, "amendment.valid_to", &a.valid_to);
                let effective_date =
                    optional_date(&mut v, "amendment.effective_date", &a.effective_date);
                finish(v, ())?;
                let request = AmendmentRequest {
                    reason: a.reason.clone(),
                    description: a.description.clone(),
                    approver_name: if a.approver_name.is_empty() {
                        caller.name.clone()
                    } else {
                        a.approver_name.clone()
                    },
                    effective_date,
                    lines,
                    terms,
                    valid_to,
                };
                let fp = fingerprint(&r.encode_to_vec());
                let c = self
                    .ledger
                    .amend_contract(
                        &caller,
                        &r.id,
                        request,
                        &r.etag,
                        parse::override_use(r.r#override.as_ref()),
                        key(&r.request_id, &fp),
                    )
                    .await?;
                Ok(wire::contract(&c))
            }
            .await,
        )
    }

    async fn list_contract_versions(
        &self,
        request: Request<pb::ListContractVersionsRequest>,
    ) -> Reply<pb::ListContractVersionsResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let current: Contract = self.ledger.store().get(&r.id).await?;
                let mut versions: Vec<ContractVersion> = self
                    .ledger
                    .store()
                    .all(&Filter {
                        contract_id: current.id.clone(),
                        ..Filter::default()
                    })
                    .await?;
                // The latest snapshot of each version (a draft edited twice keeps version 1).
                versions.sort_by_key(|v| v.contract.version);
                let (rows, total) = page_of(versions, &page);
                Ok(pb::ListContractVersionsResponse {
                    versions: rows
                        .iter()
                        .map(|v| pb::ContractVersion {
                            version: v.contract.version,
                            contract: Some(wire::contract(&v.contract)),
                            amendment: wire::contract(&v.contract)
                                .amendments
                                .into_iter()
                                .find(|a| a.version == v.contract.version),
                        })
                        .collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn activate_contract(
        &self,
        request: Request<pb::ActivateContractRequest>,
    ) -> Reply<pb::Contract> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let c = self
                    .ledger
                    .activate_contract(
                        &caller,
                        &r.id,
                        &r.etag,
                        parse::override_use(r.r#override.as_ref()),
                    )
                    .await?;
                Ok(wire::contract(&c))
            }
            .await,
        )
    }

    async fn complete_contract(
        &self,
        request: Request<pb::CompleteContractRequest>,
    ) -> Reply<pb::Contract> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let c = self
                    .ledger
                    .close_contract(
                        &caller,
                        &r.id,
                        &r.etag,
                        TerminateOrComplete::Complete,
                        &r.note,
                    )
                    .await?;
                Ok(wire::contract(&c))
            }
            .await,
        )
    }

    async fn terminate_contract(
        &self,
        request: Request<pb::TerminateContractRequest>,
    ) -> Reply<pb::Contract> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let c = self
                    .ledger
                    .close_contract(
                        &caller,
                        &r.id,
                        &r.etag,
                        TerminateOrComplete::Terminate,
                        &r.reason,
                    )
                    .await?;
                Ok(wire::contract(&c))
            }
            .await,
        )
    }

    async fn record_delivery(
        &self,
        request: Request<pb::RecordDeliveryRequest>,
    ) -> Reply<pb::Delivery> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let d = r
                    .delivery
                    .clone()
                    .ok_or_else(|| Problem::invalid("delivery", "is required"))?;
                let mut v = Violations::new();
                required(&mut v, "delivery.contract_id", &d.contract_id);
                let date = required_date(&mut v, "delivery.delivery_date", &d.delivery_date);
                let quantity = v.check(parse_quantity("delivery.quantity", &d.quantity));
                if date.is_some_and(|day| day > self.ledger.today()) {
                    v.add("delivery.delivery_date", "must not be in the future");
                }
                let (Some(date), Some(quantity)) = (date, quantity) else {
                    return Err(finish(v, ())
                        .err()
                        .unwrap_or_else(|| Problem::invalid("delivery", "is incomplete")));
                };
                finish(v, ())?;
                let fp = fingerprint(&r.encode_to_vec());
                let input = DeliveryInput {
                    contract_id: d.contract_id.clone(),
                    line_no: d.line_no,
                    delivery_date: date,
                    quantity,
                    notes: d.notes.clone(),
                };
                let delivery = self
                    .ledger
                    .record_delivery(
                        &caller,
                        input,
                        parse::override_use(r.r#override.as_ref()),
                        key(&r.request_id, &fp),
                    )
                    .await?;
                Ok(wire::delivery(&delivery))
            }
            .await,
        )
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Reply<pb::ListDeliveriesResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let mut v = Violations::new();
                let from = optional_date(&mut v, "from_date", &r.from_date);
                let to = optional_date(&mut v, "to_date", &r.to_date);
                finish(v, ())?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    contract_id: r.contract_id.clone(),
                    day_from: format_date(from),
                    day_to: format_date(to),
                    ..Filter::default()
                };
                let all: Vec<Delivery> = self.ledger.store().all(&filter).await?;
                let total_amount: Decimal = all.iter().map(|d| d.amount).sum();
                let mut all = all;
                all.reverse();
                let (rows, total) = page_of(all, &page);
                Ok(pb::ListDeliveriesResponse {
                    deliveries: rows.iter().map(wire::delivery).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                    total_amount: format_money(total_amount),
                })
            }
            .await,
        )
    }

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Reply<pb::Payment> {
        let (caller, auth, r) = Self::open(request, Operation::Collect)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let p = r
                    .payment
                    .clone()
                    .ok_or_else(|| Problem::invalid("payment", "is required"))?;
                let mut v = Violations::new();
                required(&mut v, "payment.customer_id", &p.customer_id);
                let amount = v.check(parse_positive_money("payment.amount", &p.amount));
                let date = required_date(&mut v, "payment.received_date", &p.received_date);
                if date.is_some_and(|day| day > self.ledger.today()) {
                    v.add("payment.received_date", "must not be in the future");
                }
                if pb::PaymentMethod::try_from(p.method).is_err() {
                    v.add("payment.method", "is not a known method");
                }
                let (Some(amount), Some(date)) = (amount, date) else {
                    return Err(finish(v, ())
                        .err()
                        .unwrap_or_else(|| Problem::invalid("payment", "is incomplete")));
                };
                finish(v, ())?;
                self.confirm_customer(&p.customer_id, "payment.customer_id", &auth, false)
                    .await?;
                let fp = fingerprint(&p.encode_to_vec());
                let input = PaymentInput {
                    customer_id: p.customer_id.clone(),
                    contract_id: p.contract_id.clone(),
                    amount,
                    received_date: date,
                    method: p.method,
                    reference: p.reference.clone(),
                    receivable_ids: p.receivable_ids.clone(),
                    repayment_plan_id: p.repayment_plan_id.clone(),
                    notes: p.notes.clone(),
                    payer_bank_name: p.payer_bank_name.clone(),
                    payer_bank_account: p.payer_bank_account.clone(),
                };
                let payment = self
                    .ledger
                    .record_payment(&caller, input, key(&r.request_id, &fp))
                    .await?;
                Ok(wire::payment(&payment))
            }
            .await,
        )
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Reply<pb::ListPaymentsResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let mut v = Violations::new();
                let from = optional_date(&mut v, "from_date", &r.from_date);
                let to = optional_date(&mut v, "to_date", &r.to_date);
                finish(v, ())?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    contract_id: r.contract_id.clone(),
                    day_from: format_date(from),
                    day_to: format_date(to),
                    states: if r.method == 0 {
                        Vec::new()
                    } else {
                        vec![r.method.to_string()]
                    },
                    ..Filter::default()
                };
                let mut all: Vec<Payment> = self.ledger.store().all(&filter).await?;
                let total_amount: Decimal = all.iter().map(|p| p.amount).sum();
                all.reverse();
                let (rows, total) = page_of(all, &page);
                Ok(pb::ListPaymentsResponse {
                    payments: rows.iter().map(wire::payment).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                    total_amount: format_money(total_amount),
                })
            }
            .await,
        )
    }

    async fn list_receivables(
        &self,
        request: Request<pb::ListReceivablesRequest>,
    ) -> Reply<pb::ListReceivablesResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let mut v = Violations::new();
                let due_before = optional_date(&mut v, "due_before_date", &r.due_before_date);
                finish(v, ())?;
                let today = self.ledger.today();
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    contract_id: r.contract_id.clone(),
                    states: state_code::<pb::ReceivableState>("state", r.state, |s| match s {
                        pb::ReceivableState::Open => Some("open"),
                        pb::ReceivableState::Settled => Some("settled"),
                        pb::ReceivableState::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let mut all: Vec<Receivable> = self.ledger.store().all(&filter).await?;
                all.retain(|x| {
                    (!r.overdue || x.days_overdue(today) > 0)
                        && due_before.is_none_or(|d| x.due_date < d)
                });
                let open: Decimal = all.iter().map(Receivable::open_amount).sum();
                all.sort_by_key(Receivable::age_key);
                let (rows, total) = page_of(all, &page);
                Ok(pb::ListReceivablesResponse {
                    receivables: rows.iter().map(|x| wire::receivable(x, today)).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                    total_open_amount: format_money(open),
                })
            }
            .await,
        )
    }

    async fn set_credit_line(
        &self,
        request: Request<pb::SetCreditLineRequest>,
    ) -> Reply<pb::CreditLine> {
        let (caller, auth, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let mut v = Violations::new();
                required(&mut v, "customer_id", &r.customer_id);
                let amount = v.check(parse_money("amount", &r.amount));
                let from = optional_date(&mut v, "valid_from", &r.valid_from)
                    .unwrap_or(self.ledger.today());
                let to = required_date(&mut v, "valid_to", &r.valid_to);
                if to.is_some_and(|to| to < from) {
                    v.add(
                        "valid_to",
                        "must not be before valid_from (dates out of order)",
                    );
                }
                let collateral = parse::collateral(&mut v, &r.collateral);
                let (Some(amount), Some(to)) = (amount, to) else {
                    return Err(finish(v, ())
                        .err()
                        .unwrap_or_else(|| Problem::invalid("amount", "is required")));
                };
                finish(v, ())?;
                self.confirm_customer(&r.customer_id, "customer_id", &auth, true)
                    .await?;
                let fp = fingerprint(&r.encode_to_vec());
                let line = self
                    .ledger
                    .request_credit_line(
                        &caller,
                        &r.customer_id,
                        amount,
                        from,
                        to,
                        collateral,
                        &r.reason,
                        key(&r.request_id, &fp),
                    )
                    .await?;
                Ok(wire::credit_line(&line))
            }
            .await,
        )
    }

    async fn approve_credit_line(
        &self,
        request: Request<pb::ApproveCreditLineRequest>,
    ) -> Reply<pb::CreditLine> {
        let (caller, _, r) = Self::open(request, Operation::Approve)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let amount = if r.approved_amount.trim().is_empty() {
                    None
                } else {
                    Some(
                        parse_money("approved_amount", &r.approved_amount)
                            .map_err(|e| Problem::InvalidArgument(vec![e]))?,
                    )
                };
                let line = self
                    .ledger
                    .decide_credit_line(&caller, &r.id, Some(amount), &r.comment, &r.etag)
                    .await?;
                Ok(wire::credit_line(&line))
            }
            .await,
        )
    }

    async fn reject_credit_line(
        &self,
        request: Request<pb::RejectCreditLineRequest>,
    ) -> Reply<pb::CreditLine> {
        let (caller, _, r) = Self::open(request, Operation::Approve)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let line = self
                    .ledger
                    .decide_credit_line(&caller, &r.id, None, &r.comment, &r.etag)
                    .await?;
                Ok(wire::credit_line(&line))
            }
            .await,
        )
    }

    async fn get_credit_line(
        &self,
        request: Request<pb::GetCreditLineRequest>,
    ) -> Reply<pb::CreditLine> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let line: CreditLine = self.ledger.store().get(&r.id).await?;
                Ok(wire::credit_line(&line))
            }
            .await,
        )
    }

    async fn list_credit_lines(
        &self,
        request: Request<pb::ListCreditLinesRequest>,
    ) -> Reply<pb::ListCreditLinesResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    states: state_code::<pb::CreditLineState>("state", r.state, |s| match s {
                        pb::CreditLineState::Requested => Some("requested"),
                        pb::CreditLineState::Approved => Some("approved"),
                        pb::CreditLineState::Rejected => Some("rejected"),
                        pb::CreditLineState::Superseded => Some("superseded"),
                        pb::CreditLineState::Expired => Some("expired"),
                        pb::CreditLineState::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let (rows, total) = self.list::<CreditLine>(filter, &page, None).await?;
                Ok(pb::ListCreditLinesResponse {
                    credit_lines: rows.iter().map(wire::credit_line).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn get_credit_status(
        &self,
        request: Request<pb::GetCreditStatusRequest>,
    ) -> Reply<pb::GetCreditStatusResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("customer_id", &r.customer_id)?;
                let s = self.ledger.credit_status(&r.customer_id).await?;
                Ok(pb::GetCreditStatusResponse {
                    credit_line: format_money(s.limit),
                    exposure: format_money(s.exposure.total()),
                    available: format_money((s.limit - s.exposure.total()).max(Decimal::ZERO)),
                    overdue_amount: format_money(s.overdue),
                    customer_id: s.customer_id,
                    open_receivables: format_money(s.exposure.open_receivables),
                    undelivered_value: format_money(s.exposure.undelivered),
                    credit_line_id: s.line.as_ref().map(|l| l.id.clone()).unwrap_or_default(),
                    valid_to: format_date(s.line.as_ref().map(|l| l.valid_to)),
                    max_days_overdue: i32::try_from(s.max_days_overdue).unwrap_or(i32::MAX),
                    as_of_time: Some(to_timestamp(s.as_of)),
                })
            }
            .await,
        )
    }

    async fn request_credit_override(
        &self,
        request: Request<pb::RequestCreditOverrideRequest>,
    ) -> Reply<pb::CreditOverride> {
        let (caller, auth, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let mut v = Violations::new();
                required(&mut v, "customer_id", &r.customer_id);
                required(&mut v, "reason", &r.reason);
                let amount = parse::positive(&mut v, "amount", &r.amount);
                finish(v, ())?;
                self.confirm_customer(&r.customer_id, "customer_id", &auth, false)
                    .await?;
                let fp = fingerprint(&r.encode_to_vec());
                let o = self
                    .ledger
                    .request_override(
                        &caller,
                        &r.customer_id,
                        &r.contract_id,
                        amount,
                        &r.reason,
                        key(&r.request_id, &fp),
                    )
                    .await?;
                Ok(wire::credit_override(&o))
            }
            .await,
        )
    }

    async fn decide_credit_override(
        &self,
        request: Request<pb::DecideCreditOverrideRequest>,
    ) -> Reply<pb::CreditOverride> {
        let (caller, _, r) = Self::open(request, Operation::Approve)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let approve = decision("decision", r.decision)?;
                let expires = match &r.expire_time {
                    Some(ts) => Some(
                        from_timestamp("expire_time", ts)
                            .map_err(|e| Problem::InvalidArgument(vec![e]))?,
                    ),
                    None => None,
                };
                let o = self
                    .ledger
                    .decide_override(&caller, &r.id, approve, &r.comment, expires, &r.etag)
                    .await?;
                Ok(wire::credit_override(&o))
            }
            .await,
        )
    }

    async fn list_credit_overrides(
        &self,
        request: Request<pb::ListCreditOverridesRequest>,
    ) -> Reply<pb::ListCreditOverridesResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    states: state_code::<pb::CreditOverrideState>("state", r.state, |s| match s {
                        pb::CreditOverrideState::Requested => Some("requested"),
                        pb::CreditOverrideState::Approved => Some("approved"),
                        pb::CreditOverrideState::Rejected => Some("rejected"),
                        pb::CreditOverrideState::Used => Some("used"),
                        pb::CreditOverrideState::Expired => Some("expired"),
                        pb::CreditOverrideState::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let (rows, total) = self.list::<CreditOverride>(filter, &page, None).await?;
                Ok(pb::ListCreditOverridesResponse {
                    credit_overrides: rows.iter().map(wire::credit_override).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn get_aging(
        &self,
        request: Request<pb::GetAgingRequest>,
    ) -> Reply<pb::GetAgingResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let mut v = Violations::new();
                let as_of = optional_date(&mut v, "as_of_date", &r.as_of_date)
                    .unwrap_or(self.ledger.today());
                finish(v, ())?;
                let report = self
                    .ledger
                    .aging(&r.customer_id, &r.salesperson_id, as_of)
                    .await?;
                let (rows, total) = page_of(report.customers, &page);
                Ok(pb::GetAgingResponse {
                    as_of_date: format_date(Some(report.as_of)),
                    buckets: wire::buckets(&report.total),
                    not_due_amount: format_money(report.total.not_due),
                    overdue_amount: format_money(report.total.overdue),
                    customers: rows
                        .iter()
                        .map(|row| pb::CustomerAging {
                            customer_id: row.customer_id.clone(),
                            not_due_amount: format_money(row.aging.not_due),
                            buckets: wire::buckets(&row.aging),
                            overdue_amount: format_money(row.aging.overdue),
                            oldest_due_date: format_date(row.aging.oldest_due),
                        })
                        .collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn create_repayment_plan(
        &self,
        request: Request<pb::CreateRepaymentPlanRequest>,
    ) -> Reply<pb::RepaymentPlan> {
        let (caller, auth, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let p = r
                    .plan
                    .clone()
                    .ok_or_else(|| Problem::invalid("plan", "is required"))?;
                let mut v = Violations::new();
                required(&mut v, "plan.customer_id", &p.customer_id);
                let signed = required_date(&mut v, "plan.signed_date", &p.signed_date);
                let mut instalments = Vec::new();
                for (i, inst) in p.instalments.iter().enumerate() {
                    let due = required_date(
                        &mut v,
                        &format!("plan.instalments[{i}].due_date"),
                        &inst.due_date,
                    );
                    let amount = parse::positive(
                        &mut v,
                        &format!("plan.instalments[{i}].amount"),
                        &inst.amount,
                    );
                    if let Some(due) = due {
                        instalments.push((due, amount));
                    }
                }
                let Some(signed) = signed else {
                    return Err(finish(v, ())
                        .err()
                        .unwrap_or_else(|| Problem::invalid("plan.signed_date", "is required")));
                };
                finish(v, ())?;
                self.confirm_customer(&p.customer_id, "plan.customer_id", &auth, false)
                    .await?;
                let fp = fingerprint(&p.encode_to_vec());
                let input = PlanInput {
                    customer_id: p.customer_id.clone(),
                    agreement_no: p.agreement_no.clone(),
                    signed_date: signed,
                    receivable_ids: p.receivable_ids.clone(),
                    instalments,
                    notes: p.notes.clone(),
                };
                let plan = self
                    .ledger
                    .create_plan(&caller, input, key(&r.request_id, &fp))
                    .await?;
                Ok(self.plan_proto(&plan))
            }
            .await,
        )
    }

    async fn get_repayment_plan(
        &self,
        request: Request<pb::GetRepaymentPlanRequest>,
    ) -> Reply<pb::RepaymentPlan> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let plan: RepaymentPlan = self.ledger.store().get(&r.id).await?;
                self.ledger.sweep_overdue(&plan.customer_id).await?;
                let plan: RepaymentPlan = self.ledger.store().get(&r.id).await?;
                Ok(self.plan_proto(&plan))
            }
            .await,
        )
    }

    async fn list_repayment_plans(
        &self,
        request: Request<pb::ListRepaymentPlansRequest>,
    ) -> Reply<pb::ListRepaymentPlansResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                self.ledger.sweep_overdue(&r.customer_id).await?;
                let today = self.ledger.today();
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    states: state_code::<pb::RepaymentPlanState>("state", r.state, |s| match s {
                        pb::RepaymentPlanState::Active => Some("active"),
                        pb::RepaymentPlanState::Completed => Some("completed"),
                        pb::RepaymentPlanState::Cancelled => Some("cancelled"),
                        pb::RepaymentPlanState::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let overdue_only = r.overdue;
                let keep =
                    move |p: &RepaymentPlan| !overdue_only || p.overdue(today) > Decimal::ZERO;
                let (rows, total) = self
                    .list::<RepaymentPlan>(filter, &page, overdue_only.then_some(&keep as _))
                    .await?;
                Ok(pb::ListRepaymentPlansResponse {
                    plans: rows.iter().map(|p| self.plan_proto(p)).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn request_deferral(
        &self,
        request: Request<pb::RequestDeferralRequest>,
    ) -> Reply<pb::Deferral> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let d = r
                    .deferral
                    .clone()
                    .ok_or_else(|| Problem::invalid("deferral", "is required"))?;
                let mut v = Violations::new();
                required(&mut v, "deferral.plan_id", &d.plan_id);
                required(&mut v, "deferral.reason", &d.reason);
                let to =
                    required_date(&mut v, "deferral.requested_due_date", &d.requested_due_date);
                if d.instalment_number <= 0 {
                    v.add("deferral.instalment_number", "must be 1 or more");
                }
                let Some(to) = to else {
                    return Err(finish(v, ())
                        .err()
                        .unwrap_or_else(|| Problem::invalid("deferral", "is incomplete")));
                };
                finish(v, ())?;
                let fp = fingerprint(&d.encode_to_vec());
                let deferral = self
                    .ledger
                    .request_deferral(
                        &caller,
                        &d.plan_id,
                        d.instalment_number,
                        to,
                        &d.reason,
                        key(&r.request_id, &fp),
                    )
                    .await?;
                Ok(wire::deferral(&deferral))
            }
            .await,
        )
    }

    async fn decide_deferral(
        &self,
        request: Request<pb::DecideDeferralRequest>,
    ) -> Reply<pb::Deferral> {
        let (caller, _, r) = Self::open(request, Operation::Approve)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let approve = decision("decision", r.decision)?;
                let d = self
                    .ledger
                    .decide_deferral(&caller, &r.id, approve, &r.comment, &r.etag)
                    .await?;
                Ok(wire::deferral(&d))
            }
            .await,
        )
    }

    async fn list_deferrals(
        &self,
        request: Request<pb::ListDeferralsRequest>,
    ) -> Reply<pb::ListDeferralsResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    parent_id: r.plan_id.clone(),
                    states: state_code::<pb::DeferralState>("state", r.state, |s| match s {
                        pb::DeferralState::Requested => Some("requested"),
                        pb::DeferralState::Approved => Some("approved"),
                        pb::DeferralState::Rejected => Some("rejected"),
                        pb::DeferralState::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let (rows, total) = self.list::<Deferral>(filter, &page, None).await?;
                Ok(pb::ListDeferralsResponse {
                    deferrals: rows.iter().map(wire::deferral).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn file_return_claim(
        &self,
        request: Request<pb::FileReturnClaimRequest>,
    ) -> Reply<pb::ReturnClaim> {
        let (caller, _, r) = Self::open(request, Operation::Sell)?;
        reply(
            async {
                validate_request_id("request_id", &r.request_id)?;
                let c = r
                    .claim
                    .clone()
                    .ok_or_else(|| Problem::invalid("claim", "is required"))?;
                let mut v = Violations::new();
                required(&mut v, "claim.delivery_id", &c.delivery_id);
                required(&mut v, "claim.reason", &c.reason);
                let amount = parse::positive(&mut v, "claim.amount", &c.amount);
                let quantity = if c.quantity.trim().is_empty() {
                    None
                } else {
                    v.check(parse_quantity("claim.quantity", &c.quantity))
                };
                if pb::ReturnClaimKind::try_from(c.kind).is_err() || c.kind == 0 {
                    v.add("claim.kind", "must be RETURN, COMPENSATION or DISCOUNT");
                }
                finish(v, ())?;
                let fp = fingerprint(&c.encode_to_vec());
                let claim = ReturnClaim {
                    id: String::new(),
                    customer_id: c.customer_id.clone(),
                    contract_id: String::new(),
                    delivery_id: c.delivery_id.clone(),
                    kind: c.kind,
                    product: c.product.clone(),
                    quantity,
                    unit: c.unit.clone(),
                    amount,
                    reason: c.reason.clone(),
                    finding: None,
                    state: ClaimState::Filed,
                    approved_amount: Decimal::ZERO,
                    decided_by: String::new(),
                    decided_at: None,
                    decision_comment: String::new(),
                    receivable_id: String::new(),
                    revision: 0,
                    created_at: self.ledger.now(),
                    created_by: caller.sub.clone(),
                };
                let claim = self
                    .ledger
                    .file_claim(&caller, claim, key(&r.request_id, &fp))
                    .await?;
                Ok(wire::claim(&claim))
            }
            .await,
        )
    }

    async fn decide_return_claim(
        &self,
        request: Request<pb::DecideReturnClaimRequest>,
    ) -> Reply<pb::ReturnClaim> {
        let (caller, _, r) = Self::open(request, Operation::Approve)?;
        reply(
            async {
                required_id("id", &r.id)?;
                if !r.request_id.is_empty() {
                    validate_request_id("request_id", &r.request_id)?;
                }
                let approve = decision("decision", r.decision)?;
                let mut v = Violations::new();
                let amount = if r.approved_amount.trim().is_empty() {
                    None
                } else {
                    v.check(parse_money("approved_amount", &r.approved_amount))
                };
                let finding = match &r.responsibility {
                    None => {
                        v.add(
                            "responsibility",
                            "is required: the cause and who is responsible",
                        );
                        None
                    }
                    Some(f) => {
                        if f.party == 0 || pb::ResponsibleParty::try_from(f.party).is_err() {
                            v.add("responsibility.party", "is required");
                        }
                        required(&mut v, "responsibility.cause", &f.cause);
                        Some(Finding {
                            party: f.party,
                            cause: f.cause.clone(),
                            finding: f.finding.clone(),
                            assessed_by: if f.assessed_by.is_empty() {
                                caller.sub.clone()
                            } else {
                                f.assessed_by.clone()
                            },
                            assessed_at: self.ledger.now(),
                        })
                    }
                };
                let Some(finding) = finding else {
                    return Err(finish(v, ())
                        .err()
                        .unwrap_or_else(|| Problem::invalid("responsibility", "is required")));
                };
                finish(v, ())?;
                let fp = fingerprint(&r.encode_to_vec());
                let claim = self
                    .ledger
                    .decide_claim(
                        &caller,
                        &r.id,
                        approve,
                        amount,
                        finding,
                        &r.comment,
                        &r.etag,
                        key(&r.request_id, &fp),
                    )
                    .await?;
                Ok(wire::claim(&claim))
            }
            .await,
        )
    }

    async fn get_return_claim(
        &self,
        request: Request<pb::GetReturnClaimRequest>,
    ) -> Reply<pb::ReturnClaim> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("id", &r.id)?;
                let claim: ReturnClaim = self.ledger.store().get(&r.id).await?;
                Ok(wire::claim(&claim))
            }
            .await,
        )
    }

    async fn list_return_claims(
        &self,
        request: Request<pb::ListReturnClaimsRequest>,
    ) -> Reply<pb::ListReturnClaimsResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let filter = Filter {
                    customer_id: r.customer_id.clone(),
                    contract_id: r.contract_id.clone(),
                    states: state_code::<pb::ReturnClaimState>("state", r.state, |s| match s {
                        pb::ReturnClaimState::Filed => Some("filed"),
                        pb::ReturnClaimState::Approved => Some("approved"),
                        pb::ReturnClaimState::Rejected => Some("rejected"),
                        pb::ReturnClaimState::Unspecified => None,
                    })?,
                    ..Filter::default()
                };
                let (rows, total) = self.list::<ReturnClaim>(filter, &page, None).await?;
                Ok(pb::ListReturnClaimsResponse {
                    claims: rows.iter().map(wire::claim).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn get_performance(
        &self,
        request: Request<pb::GetPerformanceRequest>,
    ) -> Reply<pb::GetPerformanceResponse> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        reply(
            async {
                required_id("customer_id", &r.customer_id)?;
                let period = Period::parse(&r.period)?;
                let p = self.ledger.performance(&r.customer_id, period).await?;
                let last_year = period.year_before();
                Ok(pb::GetPerformanceResponse {
                    customer_id: p.customer_id.clone(),
                    period: r.period.clone(),
                    start_date: format_date(Some(period.start)),
                    end_date: format_date(Some(period.end)),
                    sales_amount: format_money(p.sales),
                    delivered_quantity: crate::domain::money::format_quantity(p.delivered_quantity),
                    delivery_count: total_size(p.rows.len() as u64),
                    collected_amount: format_money(p.collected),
                    cumulative_sales: format_money(p.cumulative_sales),
                    cumulative_collections: format_money(p.cumulative_collections),
                    cumulative_since: format_date(Some(p.cumulative_since)),
                    credit_evaluation: Some(wire::evaluation(&p.evaluation, &r.period)),
                    last_year_credit_evaluation: Some(wire::evaluation(
                        &p.last_year,
                        &format!("{}..{}", last_year.start, last_year.end),
                    )),
                    lines: p
                        .rows
                        .iter()
                        .enumerate()
                        .map(|(i, row)| pb::PerformanceLine {
                            sale_no: i as i32 + 1,
                            contract_id: row.delivery.contract_id.clone(),
                            contract_no: row.contract_no.clone(),
                            amendments: row.amendments.clone(),
                            quantity: crate::domain::money::format_quantity(row.delivery.quantity),
                            unit: row.delivery.unit.clone(),
                            delivery_date: format_date(Some(row.delivery.delivery_date)),
                            goods_value: format_money(row.delivery.amount),
                            collected_amount: format_money(row.collected),
                            collection_date: format_date(row.collection_date),
                            credit_note: row.credit_note.clone(),
                            delivery_id: row.delivery.id.clone(),
                        })
                        .collect(),
                    signed_amount: format_money(p.signed),
                    open_receivables: format_money(p.open_at_end),
                    aging: wire::buckets(&p.aging_at_end),
                })
            }
            .await,
        )
    }

    type WatchChangesStream = EventStream;

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        let (_, _, r) = Self::open(request, Operation::Read)?;
        let stream = self.ledger.store().outbox().watch(
            r.after_sequence,
            r.event_types,
            self.shutdown.clone(),
        );
        let stream: EventStream = Box::pin(stream.map(|item| item.map_err(Status::from)));
        Ok(Response::new(stream))
    }
}

fn required_id(field: &str, value: &str) -> Result<(), Problem> {
    if value.trim().is_empty() {
        Err(Problem::invalid(field, "is required"))
    } else {
        Ok(())
    }
}
