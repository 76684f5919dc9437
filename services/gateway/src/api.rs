//! `dossier.gateway.v1.AccessService`, served by the gateway itself: who am I, borrowing (借阅),
//! and the audit log. Its calls are audited like every other call through the gateway.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::{Caller, Role};
use dossier_kit::clock::SharedClock;
use dossier_kit::customers::{CustomerDirectory, authorization_of};
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::outbox::NewEvent;
use dossier_kit::paging::{Page, total_size};
use dossier_kit::time::{from_timestamp, to_timestamp};
use dossier_masking::{MaskReport, Masker, Relation, author_relation};
use dossier_proto::gateway::access_service_server::AccessService;
use dossier_proto::gateway::{self as pb};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::audit::AuditLog;
use crate::domain::audit_chain::{AuditEntry, Outcome, StoredEvent};
use crate::domain::borrow::{self, BorrowPolicy, BorrowState};
use crate::relations::RelationResolver;
use crate::store::Store;
use crate::store::audit::AuditFilter;
use crate::store::borrows::{BorrowFilter, BorrowRecord};

/// The AccessService implementation.
#[derive(Clone)]
pub struct AccessApi {
    store: Store,
    audit: AuditLog,
    directory: CustomerDirectory,
    relations: RelationResolver,
    clock: SharedClock,
    policy: BorrowPolicy,
    masker: Arc<Masker>,
}

/// The `Role` proto number of a role.
pub fn role_number(role: Role) -> i32 {
    match role {
        Role::SalesRep => pb::Role::SalesRep as i32,
        Role::CustomerService => pb::Role::CustomerService as i32,
        Role::SalesManager => pb::Role::SalesManager as i32,
        Role::Executive => pb::Role::Executive as i32,
        Role::Finance => pb::Role::Finance as i32,
        Role::Archivist => pb::Role::Archivist as i32,
        Role::Auditor => pb::Role::Auditor as i32,
        Role::Integration => pb::Role::Integration as i32,
    }
}

/// The audit log's time format: RFC 3339, UTC, microseconds — fixed width, so text order is time
/// order and the hash input round-trips exactly.
pub fn audit_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

const SERVICE: &str = "/dossier.gateway.v1.AccessService/";

impl AccessApi {
    /// The service over the gateway's store.
    pub fn new(
        store: Store,
        audit: AuditLog,
        directory: CustomerDirectory,
        relations: RelationResolver,
        clock: SharedClock,
        policy: BorrowPolicy,
        masker: Arc<Masker>,
    ) -> Self {
        Self {
            store,
            audit,
            directory,
            relations,
            clock,
            policy,
            masker,
        }
    }

    /// Masks the reply for the caller, audits the call and answers it. The audit comes first: no
    /// audit, no answer.
    async fn answer<T: Message + prost::Name + Default + Borrows>(
        &self,
        caller: Option<&Caller>,
        method: &str,
        customers: Vec<String>,
        result: Result<T, Problem>,
    ) -> Result<Response<T>, Status> {
        let result = match (result, caller) {
            (Ok(message), Some(caller)) => self.shown(caller, &message),
            (Ok(_), None) => Err(Problem::Unauthenticated {
                message: "no valid credentials".into(),
            }),
            (Err(problem), _) => Err(problem),
        }
        .map_err(Status::from);
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        let report = result.as_ref().map(|(_, r)| r.clone()).unwrap_or_default();
        let entry = AuditEntry {
            event_time: audit_time(self.clock.now()),
            caller_id: caller.map(|c| c.sub.clone()).unwrap_or_default(),
            role: caller.map(|c| role_number(c.role)).unwrap_or(0),
            team: caller.map(|c| c.team.clone()).unwrap_or_default(),
            method: format!("{SERVICE}{method}"),
            customer_ids: customers.into_iter().filter(|c| !c.is_empty()).collect(),
            revealed_classes: report.classes_revealed.iter().map(|s| *s as i32).collect(),
            masked_fields: report.masked_paths.clone(),
            outcome: Outcome::of_code(code as i32).number(),
            status_code: code as i32,
            ..AuditEntry::default()
        };
        self.audit.append(entry).await.map_err(Status::from)?;
        let (message, report) = result?;
        Ok(crate::proxy::masked_reply(message, &report))
    }

    /// The reply as `caller` may see it, masked like any reply through the gateway. A borrow
    /// stands to the caller as its author and the customer's team do (`author_relation`): the
    /// borrower reads their own request in full, the team's managers theirs, anyone else sees
    /// what they would of a stranger's record (an auditor: not the purpose).
    fn shown<T: Message + prost::Name + Default + Borrows>(
        &self,
        caller: &Caller,
        message: &T,
    ) -> Result<(T, MaskReport), Problem> {
        let mut relations: HashMap<&str, Relation> = HashMap::new();
        for borrow in message.borrows() {
            let relation = author_relation(caller, &borrow.borrower_id, &borrow.customer_team);
            relations
                .entry(borrow.customer_id.as_str())
                // Two borrows of one customer that stand differently: the narrower view for both.
                .and_modify(|known| {
                    if *known != relation {
                        *known = Relation::Other;
                    }
                })
                .or_insert(relation);
        }
        let relation_of = |id: &str| relations.get(id).copied().unwrap_or(Relation::Other);
        // A reply about one borrow stands as that borrow (the top of a reply is masked as the
        // one record it is about, as the proxy does).
        let top = match relations.values().collect::<Vec<_>>().as_slice() {
            [only] => **only,
            _ => Relation::Other,
        };
        self.masker
            .mask_generated(message, caller, &relation_of, top)
            .map_err(Problem::internal)
    }

    /// The caller the (soft) interceptor authenticated; an unauthenticated call is audited as
    /// denied before it is refused.
    async fn authenticated<T>(&self, request: &Request<T>, method: &str) -> Result<Caller, Status> {
        match caller_of(request) {
            Ok(caller) => Ok(caller),
            Err(problem) => {
                let refused: Result<(), Problem> = Err(problem);
                self.answer(None, method, vec![], refused).await?;
                Err(Status::unauthenticated("no valid credentials"))
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn borrow_to_proto(&self, record: &BorrowRecord) -> pb::Borrow {
        let now = self.now();
        pb::Borrow {
            id: record.id.clone(),
            borrower_id: record.borrower_id.clone(),
            borrower_name: record.borrower_name.clone(),
            customer_id: record.customer_id.clone(),
            purpose: record.purpose.clone(),
            from_time: record.from_time.map(to_timestamp),
            until: Some(to_timestamp(record.until)),
            state: record.state.number(),
            approver_id: record.approver_id.clone(),
            approver_name: record.approver_name.clone(),
            decide_time: record.decide_time.map(to_timestamp),
            decision_comment: record.decision_comment.clone(),
            return_time: record.return_time.map(to_timestamp),
            overdue: borrow::is_overdue(record.state, record.until, now),
            request_time: Some(to_timestamp(record.request_time)),
            notes: record.notes.clone(),
            customer_team: record.customer_team.clone(),
            etag: record.version.to_string(),
            returned_late: record.returned_late,
        }
    }

    async fn load(&self, id: &str) -> Result<BorrowRecord, Problem> {
        if id.trim().is_empty() {
            return Err(Problem::invalid("id", "is required"));
        }
        self.store
            .borrow(id)
            .await?
            .ok_or_else(|| Problem::not_found("borrow", id))
    }

    /// May `caller` read this borrow? The borrower, the team's manager, and the roles overseeing
    /// the archive.
    fn may_read(caller: &Caller, record: &BorrowRecord) -> bool {
        caller.sub == record.borrower_id
            || (caller.role == Role::SalesManager && caller.team == record.customer_team)
            || caller.is_any(&[Role::Executive, Role::Archivist, Role::Auditor])
    }

    async fn request_borrow(
        &self,
        caller: &Caller,
        request: &pb::RequestBorrowRequest,
        authorization: Option<&tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    ) -> Result<pb::Borrow, Problem> {
        borrow::may_request(caller)?;
        let mut violations = dossier_kit::Violations::new();
        if request.customer_id.trim().is_empty() {
            violations.add("customer_id", "is required");
        }
        if request.purpose.trim().is_empty() {
            violations.add("purpose", "is required: say why the archive is needed");
        }
        if !request.request_id.is_empty()
            && let Err(Problem::InvalidArgument(list)) =
                validate_request_id("request_id", &request.request_id)
        {
            for v in list {
                violations.add(v.field, v.reason);
            }
        }
        violations.finish(|| ())?;
        let now = self.now();
        let until = match request.until.as_ref() {
            Some(t) => Some(from_timestamp("until", t).map_err(single)?),
            None => None,
        };
        let until = self.policy.due_time(now, until, "until")?;
        let print = fingerprint(&request.encode_to_vec());
        if !request.request_id.is_empty()
            && let Some(prior) = self.store.prior_borrow(&request.request_id, &print).await?
        {
            return Ok(self.borrow_to_proto(&prior));
        }
        let customer = self
            .directory
            .lookup(&request.customer_id, "customer_id", authorization)
            .await?;
        let record = BorrowRecord {
            id: uuid::Uuid::now_v7().to_string(),
            borrower_id: caller.sub.clone(),
            borrower_name: caller.name.clone(),
            customer_id: customer.id.clone(),
            customer_team: customer.team,
            purpose: request.purpose.trim().to_owned(),
            notes: request.notes.clone(),
            request_time: now,
            from_time: None,
            until,
            state: BorrowState::Requested,
            approver_id: String::new(),
            approver_name: String::new(),
            decide_time: None,
            decision_comment: String::new(),
            return_time: None,
            returned_late: false,
            version: 1,
        };
        let message = self.borrow_to_proto(&record);
        let event = NewEvent::new(
            "borrow.requested",
            &record.id,
            Some(record.customer_id.clone()),
            &caller.sub,
            &message,
        );
        let idempotency = (!request.request_id.is_empty())
            .then_some((request.request_id.as_str(), print.as_str()));
        self.store
            .insert_borrow(&record, event, idempotency)
            .await?;
        Ok(message)
    }

    fn check_etag(record: &BorrowRecord, etag: &str) -> Result<(), Problem> {
        if !etag.is_empty() && etag != record.version.to_string() {
            return Err(Problem::stale(etag, &record.version.to_string()));
        }
        Ok(())
    }

    async fn save(
        &self,
        caller: &Caller,
        mut record: BorrowRecord,
        event_type: &str,
    ) -> Result<pb::Borrow, Problem> {
        let expected = record.version;
        record.version += 1;
        let message = self.borrow_to_proto(&record);
        let event = NewEvent::new(
            event_type,
            &record.id,
            Some(record.customer_id.clone()),
            &caller.sub,
            &message,
        );
        self.store
            .update_borrow(&record, expected, self.now(), event)
            .await?;
        self.relations.forget_grants(&record.borrower_id);
        Ok(message)
    }

    async fn approve(
        &self,
        caller: &Caller,
        request: &pb::ApproveBorrowRequest,
    ) -> Result<pb::Borrow, Problem> {
        let mut record = self.load(&request.id).await?;
        borrow::may_decide(caller, &record.borrower_id, &record.customer_team)?;
        borrow::check_decidable(record.state)?;
        Self::check_etag(&record, &request.etag)?;
        let now = self.now();
        if let Some(until) = request.until.as_ref() {
            let until = from_timestamp("until", until).map_err(single)?;
            record.until = self.policy.due_time(now, Some(until), "until")?;
        }
        if record.until <= now {
            return Err(Problem::precondition(
                "BORROW_PAST_DUE",
                "the requested due time has passed; set a new `until`",
            ));
        }
        record.state = BorrowState::Active;
        record.from_time = Some(now);
        record.approver_id = caller.sub.clone();
        record.approver_name = caller.name.clone();
        record.decide_time = Some(now);
        record.decision_comment = request.comment.clone();
        self.save(caller, record, "borrow.approved").await
    }

    async fn reject(
        &self,
        caller: &Caller,
        request: &pb::RejectBorrowRequest,
    ) -> Result<pb::Borrow, Problem> {
        if request.reason.trim().is_empty() {
            return Err(Problem::invalid("reason", "is required"));
        }
        let mut record = self.load(&request.id).await?;
        borrow::may_decide(caller, &record.borrower_id, &record.customer_team)?;
        borrow::check_decidable(record.state)?;
        Self::check_etag(&record, &request.etag)?;
        let now = self.now();
        record.state = BorrowState::Rejected;
        record.approver_id = caller.sub.clone();
        record.approver_name = caller.name.clone();
        record.decide_time = Some(now);
        record.decision_comment = request.reason.clone();
        self.save(caller, record, "borrow.rejected").await
    }

    async fn give_back(
        &self,
        caller: &Caller,
        request: &pb::ReturnBorrowRequest,
    ) -> Result<pb::Borrow, Problem> {
        let mut record = self.load(&request.id).await?;
        borrow::may_return(caller, &record.borrower_id, &record.customer_team)?;
        borrow::check_returnable(record.state)?;
        Self::check_etag(&record, &request.etag)?;
        let now = self.now();
        record.state = BorrowState::Returned;
        record.return_time = Some(now);
        record.returned_late = now > record.until;
        if !request.note.is_empty() {
            record.notes = if record.notes.is_empty() {
                request.note.clone()
            } else {
                format!("{}\n{}", record.notes, request.note)
            };
        }
        self.save(caller, record, "borrow.returned").await
    }

    async fn list_borrows(
        &self,
        caller: &Caller,
        request: &pb::ListBorrowsRequest,
    ) -> Result<pb::ListBorrowsResponse, Problem> {
        let page = Page::parse(
            request.page_size,
            &request.page_token,
            &dossier_kit::query_key!(request),
        )?;
        let mut filter = BorrowFilter {
            state: match request.state {
                0 => None,
                n => Some(
                    BorrowState::from_number(n)
                        .ok_or_else(|| Problem::invalid("state", "is not a borrow state"))?,
                ),
            },
            overdue_at: request.overdue.then(|| self.now()),
            borrower_id: (!request.borrower_id.is_empty()).then(|| request.borrower_id.clone()),
            customer_id: (!request.customer_id.is_empty()).then(|| request.customer_id.clone()),
            team: None,
        };
        // What each role may list: its own borrows, its team's, or all.
        match caller.role {
            Role::Executive | Role::Archivist | Role::Auditor => {}
            Role::SalesManager => filter.team = Some(caller.team.clone()),
            _ => {
                if filter
                    .borrower_id
                    .as_deref()
                    .is_some_and(|b| b != caller.sub)
                {
                    return Err(Problem::denied("you may list only your own borrows"));
                }
                filter.borrower_id = Some(caller.sub.clone());
            }
        }
        let (records, total) = self
            .store
            .list_borrows(&filter, page.offset, page.size)
            .await?;
        Ok(pb::ListBorrowsResponse {
            borrows: records.iter().map(|r| self.borrow_to_proto(r)).collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    async fn list_audit(
        &self,
        caller: &Caller,
        request: &pb::ListAuditEventsRequest,
    ) -> Result<pb::ListAuditEventsResponse, Problem> {
        caller.require_any(&[Role::Auditor], "read the audit log")?;
        let page = Page::parse(
            request.page_size,
            &request.page_token,
            &dossier_kit::query_key!(request),
        )?;
        let time = |field: &str, t: &Option<prost_types::Timestamp>| match t {
            Some(t) => from_timestamp(field, t)
                .map(|t| Some(audit_time(t)))
                .map_err(single),
            None => Ok(None),
        };
        let filter = AuditFilter {
            caller_id: (!request.caller_id.is_empty()).then(|| request.caller_id.clone()),
            customer_id: (!request.customer_id.is_empty()).then(|| request.customer_id.clone()),
            from: time("start_time", &request.start_time)?,
            to: time("end_time", &request.end_time)?,
            method: (!request.method.is_empty()).then(|| request.method.clone()),
            grant_id: (!request.grant_id.is_empty()).then(|| request.grant_id.clone()),
            outcome: (request.outcome != 0).then_some(request.outcome),
            role: (request.role != 0).then_some(request.role),
            after_sequence: (request.after_sequence > 0).then_some(request.after_sequence as i64),
        };
        let (events, total) = self
            .store
            .list_audit(&filter, page.offset, page.size)
            .await?;
        Ok(pb::ListAuditEventsResponse {
            events: events.iter().map(event_to_proto).collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }
}

fn event_to_proto(event: &StoredEvent) -> pb::AuditEvent {
    let entry = &event.entry;
    pb::AuditEvent {
        sequence: event.sequence as u64,
        event_time: DateTime::parse_from_rfc3339(&entry.event_time)
            .ok()
            .map(|t| to_timestamp(t.with_timezone(&Utc))),
        caller_id: entry.caller_id.clone(),
        role: entry.role,
        method: entry.method.clone(),
        customer_ids: entry.customer_ids.clone(),
        revealed_classes: entry.revealed_classes.clone(),
        masked_fields: entry.masked_fields.clone(),
        grant_id: entry.grant_id.clone(),
        outcome: Outcome::from_number(entry.outcome).number(),
        status_code: entry.status_code,
        hash: event.hash.clone(),
        prev_hash: event.prev_hash.clone(),
        team: entry.team.clone(),
        trace_id: entry.trace_id.clone(),
        peer: entry.peer.clone(),
        request_id: entry.request_id.clone(),
        duration_ms: entry.duration_ms,
    }
}

/// The customer a borrow answer is about, for its audit event.
fn borrowed_customer(result: &Result<pb::Borrow, Problem>) -> Vec<String> {
    result
        .as_ref()
        .map(|b| vec![b.customer_id.clone()])
        .unwrap_or_default()
}

fn single(violation: dossier_kit::FieldViolation) -> Problem {
    Problem::InvalidArgument(vec![violation])
}

fn caller_of<T>(request: &Request<T>) -> Result<Caller, Problem> {
    dossier_kit::server::caller(request)
}

/// The `exp` of the caller's (already verified) token, for `WhoAmI`.
fn token_expiry<T>(request: &Request<T>) -> Option<prost_types::Timestamp> {
    let header = request.metadata().get("authorization")?.to_str().ok()?;
    let token = header.strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64_url_decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    Some(prost_types::Timestamp {
        seconds: exp,
        nanos: 0,
    })
}

/// Decodes unpadded base64url (a JWT segment).
fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            b'=' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

type Reply<T> = Result<Response<T>, Status>;

/// The borrows a reply carries, which decide how it is masked (see `AccessApi::shown`).
trait Borrows {
    fn borrows(&self) -> Vec<&pb::Borrow> {
        Vec::new()
    }
}

impl Borrows for pb::Borrow {
    fn borrows(&self) -> Vec<&pb::Borrow> {
        vec![self]
    }
}

impl Borrows for pb::ListBorrowsResponse {
    fn borrows(&self) -> Vec<&pb::Borrow> {
        self.borrows.iter().collect()
    }
}

impl Borrows for pb::WhoAmIResponse {}
impl Borrows for pb::ListAuditEventsResponse {}
impl Borrows for pb::VerifyAuditChainResponse {}
impl Borrows for () {}

#[tonic::async_trait]
impl AccessService for AccessApi {
    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> Reply<pb::WhoAmIResponse> {
        let caller = self.authenticated(&request, "WhoAmI").await?;
        let result = async {
            let grants = self.store.active_grants(&caller.sub).await?;
            let now = self.now();
            Ok(pb::WhoAmIResponse {
                sub: caller.sub.clone(),
                name: caller.name.clone(),
                role: role_number(caller.role),
                team: caller.team.clone(),
                scopes: caller.scopes.iter().cloned().collect(),
                issuer: String::new(),
                expire_time: token_expiry(&request),
                role_name: caller.role.as_str().to_owned(),
                active_borrow_ids: grants
                    .into_iter()
                    .filter(|g| now < g.until)
                    .map(|g| g.id)
                    .collect(),
            })
        }
        .await;
        self.answer(Some(&caller), "WhoAmI", vec![], result).await
    }

    async fn request_borrow(
        &self,
        request: Request<pb::RequestBorrowRequest>,
    ) -> Reply<pb::Borrow> {
        let caller = self.authenticated(&request, "RequestBorrow").await?;
        let authorization = authorization_of(&request);
        let message = request.into_inner();
        let result = self
            .request_borrow(&caller, &message, authorization.as_ref())
            .await;
        self.answer(
            Some(&caller),
            "RequestBorrow",
            vec![message.customer_id],
            result,
        )
        .await
    }

    async fn approve_borrow(
        &self,
        request: Request<pb::ApproveBorrowRequest>,
    ) -> Reply<pb::Borrow> {
        let caller = self.authenticated(&request, "ApproveBorrow").await?;
        let result = self.approve(&caller, request.get_ref()).await;
        let customers = borrowed_customer(&result);
        self.answer(Some(&caller), "ApproveBorrow", customers, result)
            .await
    }

    async fn reject_borrow(&self, request: Request<pb::RejectBorrowRequest>) -> Reply<pb::Borrow> {
        let caller = self.authenticated(&request, "RejectBorrow").await?;
        let result = self.reject(&caller, request.get_ref()).await;
        let customers = borrowed_customer(&result);
        self.answer(Some(&caller), "RejectBorrow", customers, result)
            .await
    }

    async fn return_borrow(&self, request: Request<pb::ReturnBorrowRequest>) -> Reply<pb::Borrow> {
        let caller = self.authenticated(&request, "ReturnBorrow").await?;
        let result = self.give_back(&caller, request.get_ref()).await;
        let customers = borrowed_customer(&result);
        self.answer(Some(&caller), "ReturnBorrow", customers, result)
            .await
    }

    async fn get_borrow(&self, request: Request<pb::GetBorrowRequest>) -> Reply<pb::Borrow> {
        let caller = self.authenticated(&request, "GetBorrow").await?;
        let result = async {
            let record = self.load(&request.get_ref().id).await?;
            if !Self::may_read(&caller, &record) {
                return Err(Problem::denied("not your borrow, nor your team's"));
            }
            Ok(self.borrow_to_proto(&record))
        }
        .await;
        let customers = borrowed_customer(&result);
        self.answer(Some(&caller), "GetBorrow", customers, result)
            .await
    }

    async fn list_borrows(
        &self,
        request: Request<pb::ListBorrowsRequest>,
    ) -> Reply<pb::ListBorrowsResponse> {
        let caller = self.authenticated(&request, "ListBorrows").await?;
        let result = self.list_borrows(&caller, request.get_ref()).await;
        self.answer(Some(&caller), "ListBorrows", vec![], result)
            .await
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let caller = self.authenticated(&request, "ListAuditEvents").await?;
        let result = self.list_audit(&caller, request.get_ref()).await;
        self.answer(Some(&caller), "ListAuditEvents", vec![], result)
            .await
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Reply<pb::VerifyAuditChainResponse> {
        let caller = self.authenticated(&request, "VerifyAuditChain").await?;
        let result = async {
            caller.require_any(&[Role::Auditor], "verify the audit log")?;
            let r = request.get_ref();
            if r.to_sequence != 0 && r.to_sequence < r.from_sequence {
                return Err(Problem::invalid(
                    "to_sequence",
                    format!(
                        "must not be below from_sequence ({}), or 0 for the end of the log",
                        r.from_sequence
                    ),
                ));
            }
            let bound = |field: &str, value: u64| {
                i64::try_from(value)
                    .map_err(|_| Problem::invalid(field, "is beyond the largest sequence"))
            };
            let report = self
                .store
                .verify_audit(
                    bound("from_sequence", r.from_sequence)?,
                    bound("to_sequence", r.to_sequence)?,
                )
                .await?;
            let (last_sequence, head_hash) = report.last_checked.clone().unwrap_or_default();
            Ok(pb::VerifyAuditChainResponse {
                ok: report.ok,
                events_checked: report.events_checked,
                first_bad_sequence: report.first_bad_sequence.max(0) as u64,
                problem: report
                    .problem
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                head_hash,
                last_sequence: last_sequence.max(0) as u64,
            })
        }
        .await;
        self.answer(Some(&caller), "VerifyAuditChain", vec![], result)
            .await
    }
}
