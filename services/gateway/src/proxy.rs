//! The front door: every call on a service's method path comes here. In order:
//!
//! 1. **Authenticate** the bearer token (`UNAUTHENTICATED` otherwise) and apply the caller's rate
//!    limit (`RESOURCE_EXHAUSTED`).
//! 2. **Inspect the request** through the contract: page size, the customers it names and the
//!    caller's relation to each, the salesperson's own-customers rule for lists and searches, and
//!    for a write, that every field set is one the caller may see and may set. All of this is
//!    decided before the service is asked, so a refused call cannot tell a record that exists
//!    from one that does not.
//! 3. **Forward** the raw bytes to the service owning the package, with the caller's token,
//!    deadline and trace context (`UNAVAILABLE` naming the service when it is down).
//! 4. **Mask** the response — every message of a stream too — with the masking engine, for the
//!    caller's relation to each customer the response is about; list the masked paths in the
//!    `dossier-masked-fields` header.
//! 5. **Audit** the call, allowed or denied, and wait for the audit commit: no audit, no data.
//!    A stream is audited when it opens and again when it ends, with what it revealed.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use dossier_kit::Problem;
use dossier_kit::auth::{Caller, JwtVerifier};
use dossier_kit::clock::SharedClock;
use dossier_masking::{
    MASKED_FIELDS_HEADER, MaskReport, Masker, Relation, author_relation, team_scope_relation,
};
use dossier_proto::sensitivity::Sensitivity;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use prost_reflect::DynamicMessage;
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::{Request, Response, Status};

use crate::audit::AuditLog;
use crate::domain::audit_chain::{AuditEntry, Outcome};
use crate::domain::rate_limit::RateLimiter;
use crate::domain::rules::{self, ARCHIVE_WIDE_SEARCHES, ORIGINALS, OWN_CUSTOMERS_ONLY};
use crate::inspect;
use crate::relations::{RelationResolver, Resolved};
use crate::routing::{Kind, Method, MethodTable};
use crate::upstream::{RawCodec, Upstreams};

/// Limits the proxy enforces on requests.
#[derive(Debug, Clone, Copy)]
pub struct ProxyLimits {
    /// Largest message in either direction.
    pub max_message_bytes: usize,
    /// Largest `page_size` a list may ask for.
    pub max_page_size: i64,
}

/// Everything the proxy needs, shared by all calls.
pub struct Gate {
    /// Routed methods.
    pub methods: MethodTable,
    /// Service channels.
    pub upstreams: Upstreams,
    /// The masking engine.
    pub masker: Arc<Masker>,
    /// Token verification.
    pub verifier: Arc<JwtVerifier>,
    /// Caller ↔ customer relations.
    pub relations: RelationResolver,
    /// The audit log.
    pub audit: AuditLog,
    /// Per-caller rate limits.
    pub limiter: Mutex<RateLimiter>,
    /// Time, for borrows and audit timestamps.
    pub clock: SharedClock,
    /// Request limits.
    pub limits: ProxyLimits,
}

/// The proxy as a tower service, mounted as the gateway's fallback route.
#[derive(Clone)]
pub struct Proxy {
    gate: Arc<Gate>,
}

impl Proxy {
    /// A proxy over `gate`.
    pub fn new(gate: Arc<Gate>) -> Self {
        Self { gate }
    }
}

type HttpRequest = http::Request<axum::body::Body>;
type HttpResponse = http::Response<tonic::body::Body>;

impl tower::Service<HttpRequest> for Proxy {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<HttpResponse, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let gate = self.gate.clone();
        Box::pin(async move { Ok(gate.handle(request).await) })
    }
}

/// What is known of one call, for its audit event.
struct CallRecord {
    started: Instant,
    caller: Option<Caller>,
    method: String,
    peer: String,
    trace_id: String,
    request_id: String,
    customer_ids: BTreeSet<String>,
    revealed: BTreeSet<Sensitivity>,
    masked: Vec<String>,
    grants: BTreeSet<String>,
}

impl CallRecord {
    fn new(request: &HttpRequest) -> Self {
        let peer = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let trace_id = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split('-').nth(1))
            .map(str::to_owned)
            // The call's own trace when traces are exported, so the audit event leads to it.
            .or_else(dossier_kit::telemetry::current_trace_id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        Self {
            started: Instant::now(),
            caller: None,
            method: request.uri().path().to_owned(),
            peer,
            trace_id,
            request_id: String::new(),
            customer_ids: BTreeSet::new(),
            revealed: BTreeSet::new(),
            masked: Vec::new(),
            grants: BTreeSet::new(),
        }
    }

    /// The same call's identity, with nothing observed yet.
    fn blank(&self) -> Self {
        Self {
            started: self.started,
            caller: self.caller.clone(),
            method: self.method.clone(),
            peer: self.peer.clone(),
            trace_id: self.trace_id.clone(),
            request_id: String::new(),
            customer_ids: BTreeSet::new(),
            revealed: BTreeSet::new(),
            masked: Vec::new(),
            grants: BTreeSet::new(),
        }
    }

    fn absorb(&mut self, report: MaskReport) {
        self.revealed.extend(report.classes_revealed);
        self.add_masked(report.masked_paths);
    }

    /// Adds masked paths, each once, in the order first met.
    fn add_masked(&mut self, paths: Vec<String>) {
        for path in paths {
            if !self.masked.contains(&path) {
                self.masked.push(path);
            }
        }
    }

    /// Adds what one stream message revealed to the stream's running summary.
    fn merge(&mut self, other: CallRecord) {
        self.customer_ids.extend(other.customer_ids);
        self.revealed.extend(other.revealed);
        self.add_masked(other.masked);
        self.grants.extend(other.grants);
    }

    fn absorb_relations(&mut self, known: &HashMap<String, Resolved>) {
        for (id, resolved) in known {
            if self.customer_ids.contains(id)
                && let Some(grant) = &resolved.grant_id
            {
                self.grants.insert(grant.clone());
            }
        }
    }

    fn entry(&self, code: tonic::Code, at: chrono::DateTime<chrono::Utc>) -> AuditEntry {
        let (caller_id, role, team) = match &self.caller {
            Some(c) => (
                c.sub.clone(),
                crate::api::role_number(c.role),
                c.team.clone(),
            ),
            None => (String::new(), 0, String::new()),
        };
        AuditEntry {
            event_time: crate::api::audit_time(at),
            caller_id,
            role,
            team,
            method: self.method.clone(),
            customer_ids: self.customer_ids.iter().cloned().collect(),
            revealed_classes: self.revealed.iter().map(|s| *s as i32).collect(),
            masked_fields: self.masked.clone(),
            grant_id: self.grants.iter().cloned().collect::<Vec<_>>().join(","),
            outcome: Outcome::of_code(code as i32).number(),
            status_code: code as i32,
            trace_id: self.trace_id.clone(),
            peer: self.peer.clone(),
            request_id: self.request_id.clone(),
            duration_ms: self.started.elapsed().as_millis() as i64,
        }
    }
}

/// A request inspected and ready to forward.
struct Prepared {
    bytes: Bytes,
    /// The caller's relation to each customer named so far (request, then response).
    known: HashMap<String, Resolved>,
    /// The relation of the response's top (the one customer the request names), if any.
    top: Relation,
    request_customers: Vec<String>,
}

impl Gate {
    async fn handle(self: Arc<Self>, request: HttpRequest) -> HttpResponse {
        let mut record = CallRecord::new(&request);
        let Some(method) = self.methods.get(request.uri().path()) else {
            return Status::unimplemented(format!("unknown method {}", record.method)).into_http();
        };
        // Authentication and rate limit come before the body is read.
        let header = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let caller = match self.verifier.verify_header(header) {
            Ok(caller) => caller,
            Err(problem) => return self.refuse(record, problem).await,
        };
        record.caller = Some(caller.clone());
        let allowed = self
            .limiter
            .lock()
            .map(|mut l| l.try_acquire(&caller.sub, Instant::now()))
            .unwrap_or(false);
        if !allowed {
            let problem = Problem::ResourceExhausted {
                message: "rate limit exceeded; slow down and retry".into(),
            };
            return self.refuse(record, problem).await;
        }

        let mut grpc = tonic::server::Grpc::new(RawCodec).apply_max_message_size_config(
            Some(self.limits.max_message_bytes),
            Some(self.limits.max_message_bytes),
        );
        let record = Arc::new(Mutex::new(record));
        if method.streaming {
            let gate = self.clone();
            let service = tower::service_fn(move |call: Request<Bytes>| {
                let (gate, method, caller, record) =
                    (gate.clone(), method.clone(), caller.clone(), record.clone());
                async move { gate.streaming(method, caller, call, record).await }
            });
            grpc.server_streaming(service, request).await
        } else {
            let gate = self.clone();
            let service = tower::service_fn(move |call: Request<Bytes>| {
                let (gate, method, caller, record) =
                    (gate.clone(), method.clone(), caller.clone(), record.clone());
                async move { gate.unary(method, caller, call, record).await }
            });
            grpc.unary(service, request).await
        }
    }

    /// Audits a call refused before its body was read, and answers it.
    async fn refuse(&self, record: CallRecord, problem: Problem) -> HttpResponse {
        let status = Status::from(problem);
        let entry = record.entry(status.code(), self.clock.now());
        // The refusal stands whatever the audit says; a failed audit is logged by the writer.
        let _ = self.audit.append(entry).await;
        status.into_http()
    }

    async fn unary(
        &self,
        method: Arc<Method>,
        caller: Caller,
        call: Request<Bytes>,
        record: Arc<Mutex<CallRecord>>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, _, message) = call.into_parts();
        let authorization = metadata.get("authorization").cloned();
        let mut local = take(&record);
        let result = self
            .unary_inner(
                &method,
                &caller,
                &metadata,
                message,
                authorization.as_ref(),
                &mut local,
            )
            .await;
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        self.audit
            .append(local.entry(code, self.clock.now()))
            .await
            .map_err(Status::from)?;
        let (bytes, report) = result?;
        Ok(masked_reply(bytes, &report))
    }

    async fn unary_inner(
        &self,
        method: &Method,
        caller: &Caller,
        metadata: &MetadataMap,
        message: Bytes,
        authorization: Option<&MetadataValue<Ascii>>,
        record: &mut CallRecord,
    ) -> Result<(Bytes, MaskReport), Status> {
        let mut prepared = self
            .prepare(method, caller, message, authorization, record)
            .await
            .map_err(Status::from)?;
        let (_, reply) = self
            .upstreams
            .unary(
                method.upstream,
                &method.path,
                metadata,
                prepared.bytes.clone(),
            )
            .await?;
        if method.kind == Kind::Write {
            self.relations.forget_customers(&prepared.request_customers);
        }
        let (masked, report) = self
            .mask(method, caller, &reply, &mut prepared, authorization, record)
            .await?;
        self.check_originals(method, &reply, &prepared)?;
        record.absorb_relations(&prepared.known);
        Ok((Bytes::from(masked), report))
    }

    async fn streaming(
        self: Arc<Self>,
        method: Arc<Method>,
        caller: Caller,
        call: Request<Bytes>,
        record: Arc<Mutex<CallRecord>>,
    ) -> Result<Response<BoxStream<'static, Result<Bytes, Status>>>, Status> {
        let (metadata, _, message) = call.into_parts();
        let authorization = metadata.get("authorization").cloned();
        let mut local = take(&record);
        let opened = async {
            let prepared = self
                .prepare(
                    &method,
                    &caller,
                    message,
                    authorization.as_ref(),
                    &mut local,
                )
                .await
                .map_err(Status::from)?;
            let stream = self
                .upstreams
                .server_streaming(
                    method.upstream,
                    &method.path,
                    &metadata,
                    prepared.bytes.clone(),
                )
                .await?;
            Ok::<_, Status>((prepared, stream))
        }
        .await;
        let code = match &opened {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        // A stream is audited when it opens: who watches what, from when.
        self.audit
            .append(local.entry(code, self.clock.now()))
            .await
            .map_err(Status::from)?;
        let (prepared, upstream) = opened?;
        let blank = Arc::new(local.blank());
        // And again when it ends: what it revealed over its life (customers, classes, masked
        // fields, grants), and how it ended.
        let closing = Arc::new(StreamAudit {
            gate: self.clone(),
            summary: Mutex::new(local.blank()),
            code: Mutex::new(None),
        });
        let closing_end = closing.clone();
        let state = Arc::new(tokio::sync::Mutex::new(prepared));
        let gate = self.clone();
        let stream = upstream
            .then(move |item| {
                let (gate, method, caller, state, authorization, blank, closing) = (
                    gate.clone(),
                    method.clone(),
                    caller.clone(),
                    state.clone(),
                    authorization.clone(),
                    blank.clone(),
                    closing.clone(),
                );
                async move {
                    let outcome = async {
                        let bytes =
                            item.map_err(|s| crate::upstream::upstream_status(method.upstream, s))?;
                        let mut prepared = state.lock().await;
                        let mut scratch = blank.blank();
                        let (masked, _) = gate
                            .mask(
                                &method,
                                &caller,
                                &bytes,
                                &mut prepared,
                                authorization.as_ref(),
                                &mut scratch,
                            )
                            .await?;
                        scratch.absorb_relations(&prepared.known);
                        let masked = with_masked_fields(masked, method.masked_fields, &scratch);
                        closing.observe(scratch);
                        Ok::<_, Status>(Bytes::from(masked))
                    }
                    .await;
                    if let Err(status) = &outcome {
                        closing.end(status.code());
                    }
                    outcome
                }
            })
            .chain(futures::stream::poll_fn({
                let closing = closing_end.clone();
                move |_| {
                    closing.end(tonic::Code::Ok);
                    Poll::Ready(None)
                }
            }))
            .boxed();
        Ok(Response::new(stream))
    }

    /// Decodes and checks the request (see the module docs), returning what to forward.
    async fn prepare(
        &self,
        method: &Method,
        caller: &Caller,
        message: Bytes,
        authorization: Option<&MetadataValue<Ascii>>,
        record: &mut CallRecord,
    ) -> Result<Prepared, Problem> {
        let mut request = DynamicMessage::decode(method.descriptor.input(), message.as_ref())
            .map_err(|_| Problem::invalid("request", "is not a valid message of this method"))?;
        record.request_id = inspect::request_id(&request);
        if let Some(size) = inspect::page_size(&request)
            && size > self.limits.max_page_size
        {
            return Err(Problem::invalid(
                "page_size",
                format!("at most {}", self.limits.max_page_size),
            ));
        }
        let mut rewritten = false;
        if rules::limited_to_own(caller) {
            if ARCHIVE_WIDE_SEARCHES.contains(&method.path.as_str()) {
                return Err(Problem::denied(
                    "a salesperson may not search the whole archive; list your own customers",
                ));
            }
            if let Some((_, path)) = OWN_CUSTOMERS_ONLY.iter().find(|(m, _)| *m == method.path) {
                let owner = inspect::string_at(&request, path);
                if owner.is_empty() {
                    inspect::set_string_at(&mut request, path, &caller.sub)?;
                    rewritten = true;
                } else if owner != caller.sub {
                    return Err(Problem::denied(
                        "a salesperson may list only their own customers",
                    ));
                }
            }
        }
        let customers = inspect::customer_refs(&request);
        record.customer_ids.extend(customers.iter().cloned());
        let known = self
            .relations
            .resolve(caller, &customers, authorization)
            .await;
        let relations: Vec<Relation> = customers
            .iter()
            .map(|id| known.get(id).map(|r| r.relation).unwrap_or(Relation::Other))
            .collect();
        if method.kind == Kind::Write {
            // The caller's relation to each record the request names as written by someone
            // (a journal, a plan, a report): as its author stands to the caller.
            let authors = inspect::authors(&request);
            let authored: Vec<Relation> = authors
                .iter()
                .map(|(author, team)| author_relation(caller, author, team))
                .collect();
            if rules::limited_to_own(caller) && relations.iter().any(|r| *r != Relation::Owner) {
                return Err(Problem::denied(
                    "a salesperson may change only their own customers' records",
                ));
            }
            if rules::limited_to_own(caller) && authored.iter().any(|r| *r != Relation::Owner) {
                return Err(Problem::denied(
                    "a salesperson writes records only as their own author",
                ));
            }
            // Customers decide when the request names any; else the authors it names, where the
            // relation can be known (the caller's own record, or an author with a team: a plan a
            // manager writes for one of his salespeople carries no team, and stays as before);
            // else it creates a customer (or writes the caller's own record): the caller owns it.
            let decisive: Vec<Relation> = authors
                .iter()
                .zip(&authored)
                .filter(|((_, team), relation)| **relation == Relation::Owner || !team.is_empty())
                .map(|(_, relation)| *relation)
                .collect();
            let as_relations = if !relations.is_empty() {
                relations.clone()
            } else if !decisive.is_empty() {
                decisive
            } else {
                vec![Relation::Owner]
            };
            inspect::check_write(&request, caller, &as_relations)?;
        }
        let top = match relations.as_slice() {
            [only] => *only,
            // An aggregate over one team's customers stands to the caller as that team's
            // customers do.
            [] => inspect::team_scope(&request)
                .map(|team| team_scope_relation(caller, &team))
                .unwrap_or(Relation::Other),
            _ => Relation::Other,
        };
        let bytes = if rewritten {
            Bytes::from(prost::Message::encode_to_vec(&request))
        } else {
            message
        };
        Ok(Prepared {
            bytes,
            known,
            top,
            request_customers: customers,
        })
    }

    /// Masks one response message for the caller, looking up the relations of customers first
    /// met in it (then masking again with them known).
    async fn mask(
        &self,
        method: &Method,
        caller: &Caller,
        bytes: &[u8],
        prepared: &mut Prepared,
        authorization: Option<&MetadataValue<Ascii>>,
        record: &mut CallRecord,
    ) -> Result<(Vec<u8>, MaskReport), Status> {
        let varies = RelationResolver::depends_on_ownership(caller)
            || RelationResolver::depends_on_borrows(caller);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (masked, report, seen, missing) = {
                let seen = std::cell::RefCell::new(Vec::<String>::new());
                let missing = std::cell::RefCell::new(Vec::<String>::new());
                let result = {
                    let relation_of = |id: &str| -> Relation {
                        seen.borrow_mut().push(id.to_owned());
                        match prepared.known.get(id) {
                            Some(resolved) => resolved.relation,
                            None => {
                                if varies {
                                    missing.borrow_mut().push(id.to_owned());
                                }
                                Relation::Other
                            }
                        }
                    };
                    self.masker.mask_bytes_as(
                        &method.output,
                        bytes,
                        caller,
                        &relation_of,
                        prepared.top,
                    )
                };
                let (masked, report) = result.map_err(|error| {
                    tracing::error!(%error, method = %method.path, "response could not be masked");
                    Status::internal("internal error")
                })?;
                (masked, report, seen.into_inner(), missing.into_inner())
            };
            if missing.is_empty() || attempt > 1 {
                record.customer_ids.extend(seen);
                record.absorb(report.clone());
                return Ok((masked, report));
            }
            let found = self
                .relations
                .resolve(caller, &missing, authorization)
                .await;
            prepared.known.extend(found);
            // Ids that could not be looked up stay `Other` (the resolver says so) — no third pass.
        }
    }

    /// An original document is never lent: under a borrow it is refused, whatever else is shown.
    fn check_originals(
        &self,
        method: &Method,
        reply: &[u8],
        prepared: &Prepared,
    ) -> Result<(), Status> {
        let Some((_, flag)) = ORIGINALS.iter().find(|(m, _)| *m == method.path) else {
            return Ok(());
        };
        if prepared.top != Relation::Borrower {
            return Ok(());
        }
        let response = DynamicMessage::decode(method.descriptor.output(), reply)
            .map_err(|_| Status::internal("internal error"))?;
        if inspect::bool_at(&response, flag) {
            return Err(Status::from(Problem::denied(
                "an original document is not lent: ask its custodian",
            )));
        }
        Ok(())
    }
}

/// Moves the record out of its shared cell (each call owns its record; the cell only carries it
/// into the service closure).
/// The closing audit event of a stream, written when the last handle to it goes: the stream
/// ended, failed, or its client went away (`CANCELLED`).
struct StreamAudit {
    gate: Arc<Gate>,
    summary: Mutex<CallRecord>,
    code: Mutex<Option<tonic::Code>>,
}

impl StreamAudit {
    fn observe(&self, message: CallRecord) {
        if let Ok(mut summary) = self.summary.lock() {
            summary.merge(message);
        }
    }

    /// Records how the stream ended; the first ending counts.
    fn end(&self, code: tonic::Code) {
        if let Ok(mut ended) = self.code.lock() {
            ended.get_or_insert(code);
        }
    }
}

impl Drop for StreamAudit {
    fn drop(&mut self) {
        let code = self
            .code
            .lock()
            .ok()
            .and_then(|c| *c)
            .unwrap_or(tonic::Code::Cancelled);
        let now = self.gate.clock.now();
        let entry = self
            .summary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(code, now);
        let audit = self.gate.audit.clone();
        // Drop cannot wait; the writer logs a failed append itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = audit.append(entry).await;
            });
        }
    }
}

/// A unary reply with the `dossier-masked-fields` header naming what masking hid (absent when
/// nothing was) — for the proxied replies and the gateway's own alike.
pub fn masked_reply<T>(message: T, report: &MaskReport) -> Response<T> {
    let mut response = Response::new(message);
    if report.is_masked()
        && let Ok(value) = MetadataValue::try_from(report.header_value())
    {
        response.metadata_mut().insert(MASKED_FIELDS_HEADER, value);
    }
    response
}

/// A streamed message with the paths masked in it written into its `masked_fields` field (the
/// stream's counterpart of the header). Appending is enough: protobuf merges repeated fields
/// met anywhere in a message.
fn with_masked_fields(mut message: Vec<u8>, field: Option<u32>, record: &CallRecord) -> Vec<u8> {
    if let Some(number) = field
        && !record.masked.is_empty()
    {
        prost::encoding::string::encode_repeated(number, &record.masked, &mut message);
    }
    message
}

fn take(record: &Mutex<CallRecord>) -> CallRecord {
    let mut guard = match record.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    let blank = guard.blank();
    std::mem::replace(&mut *guard, blank)
}
