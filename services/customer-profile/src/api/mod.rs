//! The gRPC face of customer-profile: requests are authenticated (by the kit's interceptor),
//! authorised per operation, parsed into domain values, handed to the store, and answered. Every
//! failure is a [`Problem`], turned into a status in one place.

mod sheet;

use dossier_kit::problem::required;
use dossier_kit::query_key;
use dossier_kit::status::reply;
use std::pin::Pin;
use std::sync::Arc;

use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::server::ShutdownSignal;
use dossier_kit::time::{from_timestamp, parse_date};
use dossier_kit::{Problem, Violations};
use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::customer::customer_service_server::CustomerService;
use dossier_proto::customer::{self as pb};
use futures::{Stream, StreamExt};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::Settings;
use crate::domain::card::{self, CustomerCard, MANAGED_FIELDS, editable_fields};
use crate::domain::catalogue::{DocumentCategory, check_content};
use crate::domain::classification::*;
use crate::domain::completeness;
use crate::domain::policy::{Operation, authorize, next_review_due};
use crate::store::{Change, CustomerFilter, NewDocument, Ordering, Store};
use crate::wire::{self, card_from_proto, customer_to_proto, enum_field};

/// The CustomerService implementation.
#[derive(Clone)]
pub struct CustomerApi {
    store: Store,
    clock: SharedClock,
    settings: Arc<Settings>,
    shutdown: ShutdownSignal,
    /// Masks exported rows for the caller (the gateway cannot look inside a workbook).
    masker: Arc<dossier_masking::Masker>,
}

type Reply<T> = Result<Response<T>, Status>;

/// Parses a card, prefixing violations with `prefix`, and checks the whole-card rules.
fn parse_valid_card(
    prefix: &str,
    message: &pb::Customer,
    today: chrono::NaiveDate,
) -> Result<CustomerCard, Problem> {
    let card = card_from_proto(message).map_err(|v| under(prefix, v))?;
    let violations = card::validate(&card, today);
    if violations.is_empty() {
        Ok(card)
    } else {
        Err(under(prefix, violations))
    }
}

fn under(prefix: &str, violations: Violations) -> Problem {
    let mut all = Violations::new();
    all.extend_under(prefix, violations);
    Problem::InvalidArgument(all.list().to_vec())
}

impl CustomerApi {
    /// The service over `store`.
    pub fn new(
        store: Store,
        clock: SharedClock,
        settings: Arc<Settings>,
        shutdown: ShutdownSignal,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            shutdown,
            masker: Arc::new(dossier_masking::Masker::new()),
        }
    }

    fn today(&self) -> chrono::NaiveDate {
        self.clock.now().date_naive()
    }

    fn change<'a>(
        &self,
        caller: &'a Caller,
        kind: ChangeKind,
        verb: &'static str,
        etag: &'a str,
    ) -> Change<'a> {
        Change {
            caller,
            now: self.clock.now(),
            kind,
            verb,
            etag,
        }
    }

    async fn create(
        &self,
        caller: Caller,
        request: pb::CreateCustomerRequest,
    ) -> Result<pb::Customer, Problem> {
        authorize(&caller, Operation::Write)?;
        validate_request_id("request_id", &request.request_id)?;
        let message = request
            .customer
            .ok_or_else(|| Problem::invalid("customer", "is required"))?;
        let card = parse_valid_card("customer", &message, self.today())?;
        let record = self
            .store
            .create(
                &caller,
                card,
                &request.request_id,
                &fingerprint(&message.encode_to_vec()),
                self.clock.now(),
                self.settings.review_interval_days,
            )
            .await?;
        Ok(customer_to_proto(&record))
    }

    async fn update(
        &self,
        caller: Caller,
        request: pb::UpdateCustomerRequest,
    ) -> Result<pb::Customer, Problem> {
        authorize(&caller, Operation::Write)?;
        let message = request
            .customer
            .ok_or_else(|| Problem::invalid("customer", "is required"))?;
        required("customer.id", &message.id)?;
        let paths = update_paths(&message, request.update_mask.as_ref())?;
        // Only the fields being changed must parse; the others are ignored, as AIP-134 asks.
        let incoming = match card_from_proto(&message) {
            Ok(card) => card,
            Err(violations) => {
                let mut relevant = violations;
                relevant.retain(|v| {
                    paths.iter().any(|p| {
                        v.field == *p
                            || v.field.starts_with(&format!("{p}."))
                            || v.field.starts_with(&format!("{p}["))
                    })
                });
                if !relevant.is_empty() {
                    return Err(under("customer", relevant));
                }
                CustomerCard::default()
            }
        };
        let etag = if request.etag.is_empty() {
            message.etag.clone()
        } else {
            request.etag.clone()
        };
        let today = self.today();
        let record = self
            .store
            .change(
                &message.id,
                self.change(&caller, ChangeKind::Updated, "updated", &etag),
                |record| {
                    record.ensure_active()?;
                    card::apply_fields(&mut record.card, &incoming, &paths);
                    let violations = card::validate(&record.card, today);
                    if violations.is_empty() {
                        Ok(String::new())
                    } else {
                        Err(under("customer", violations))
                    }
                },
            )
            .await?;
        Ok(customer_to_proto(&record))
    }

    async fn list(
        &self,
        request: pb::ListCustomersRequest,
    ) -> Result<pb::ListCustomersResponse, Problem> {
        let (filter, ordering, descending) = self.filter_of(&request)?;
        let page = Page::parse(request.page_size, &request.page_token, &query_key!(request))?;
        let (records, total) = self
            .store
            .list(&filter, ordering, descending, page.offset, page.size)
            .await?;
        Ok(pb::ListCustomersResponse {
            customers: records.iter().map(customer_to_proto).collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    fn filter_of(
        &self,
        r: &pb::ListCustomersRequest,
    ) -> Result<(CustomerFilter, Ordering, bool), Problem> {
        let mut v = Violations::new();
        let filter = CustomerFilter {
            query: r.query.clone(),
            kind: enum_field(&mut v, "kind", r.kind, CustomerKind::from_number),
            grade: enum_field(&mut v, "grade", r.grade, Grade::from_number),
            region: r.region.clone(),
            route_code: r.route_code.clone(),
            owner_id: r.owner_id.clone(),
            lifecycle: enum_field(&mut v, "lifecycle", r.lifecycle, Lifecycle::from_number),
            review_due_before: r.review_overdue.then(|| self.clock.now()),
            customer_type: enum_field(
                &mut v,
                "customer_type",
                r.customer_type,
                CustomerType::from_number,
            ),
            channel: enum_field(&mut v, "channel", r.channel, Channel::from_number),
            team: r.team.clone(),
            trade_standing: enum_field(
                &mut v,
                "trade_standing",
                r.trade_standing,
                TradeStanding::from_number,
            ),
            custodian_id: String::new(),
            include_archived: r.include_archived,
        };
        let ordering = v.check(Ordering::parse(&r.order_by));
        v.finish(|| ())?;
        let (ordering, descending) = ordering.unwrap_or_default();
        Ok((filter, ordering, descending))
    }

    async fn history(
        &self,
        request: pb::GetCustomerHistoryRequest,
    ) -> Result<pb::GetCustomerHistoryResponse, Problem> {
        required("id", &request.id)?;
        let page = Page::parse(
            request.page_size,
            &request.page_token,
            request.id.as_bytes(),
        )?;
        let (versions, total) = self
            .store
            .history(&request.id, page.offset, page.size)
            .await?;
        Ok(pb::GetCustomerHistoryResponse {
            versions: versions.iter().map(wire::version_to_proto).collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    async fn reviews_due(
        &self,
        request: pb::ListReviewsDueRequest,
    ) -> Result<pb::ListReviewsDueResponse, Problem> {
        let due_before = match &request.due_before {
            Some(ts) => {
                from_timestamp("due_before", ts).map_err(|v| Problem::InvalidArgument(vec![v]))?
            }
            None => self.clock.now(),
        };
        let filter = CustomerFilter {
            owner_id: request.owner_id.clone(),
            custodian_id: request.custodian_id.clone(),
            review_due_before: Some(due_before),
            ..CustomerFilter::default()
        };
        let page = Page::parse(request.page_size, &request.page_token, &query_key!(request))?;
        let (records, total) = self
            .store
            .list(
                &filter,
                Ordering::ReviewDueAt,
                false,
                page.offset,
                page.size,
            )
            .await?;
        Ok(pb::ListReviewsDueResponse {
            customers: records.iter().map(customer_to_proto).collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    async fn add_document(
        &self,
        caller: Caller,
        request: pb::AddDocumentRequest,
    ) -> Result<pb::Document, Problem> {
        authorize(&caller, Operation::Write)?;
        validate_request_id("request_id", &request.request_id)?;
        let document = request
            .document
            .clone()
            .ok_or_else(|| Problem::invalid("document", "is required"))?;
        let mut v = Violations::new();
        if document.customer_id.trim().is_empty() {
            v.add("document.customer_id", "is required");
        }
        let category = match DocumentCategory::from_number(document.category) {
            Ok(Some(category)) => Some(category),
            Ok(None) => {
                v.add(
                    "document.category",
                    "is required: one of the five catalogue categories",
                );
                None
            }
            Err(reason) => {
                v.add("document.category", reason);
                None
            }
        };
        if document.title.trim().is_empty() {
            v.add("document.title", "is required");
        } else if document.title.chars().count() > card::MAX_NAME_CHARS {
            v.add(
                "document.title",
                format!("must be at most {} characters", card::MAX_NAME_CHARS),
            );
        }
        let document_date = v
            .check(parse_date(
                "document.document_date",
                &document.document_date,
            ))
            .flatten();
        if document_date.is_some_and(|d| d > self.today()) {
            v.add("document.document_date", "must not be in the future");
        }
        if let Err((field, reason)) = check_content(
            &document.content_type,
            &request.content,
            self.settings.max_document_bytes,
        ) {
            v.add(field, reason);
        }
        v.finish(|| ())?;
        let category = category.ok_or_else(|| Problem::internal("category checked above"))?;
        let new = NewDocument {
            customer_id: document.customer_id.trim().to_owned(),
            category,
            title: document.title.trim().to_owned(),
            kind: document.kind.trim().to_owned(),
            document_date,
            original: document.original,
            file_name: document.file_name.trim().to_owned(),
            content_type: document.content_type.trim().to_ascii_lowercase(),
        };
        let mut key = request.clone();
        key.request_id.clear();
        let row = self
            .store
            .add_document(
                &caller,
                new,
                &request.content,
                &request.request_id,
                &fingerprint(&key.encode_to_vec()),
                self.clock.now(),
            )
            .await?;
        Ok(wire::document_to_proto(&row))
    }
}

/// The fields an update changes: the mask's paths, or (AIP-134) every field set in the message.
fn update_paths(
    message: &pb::Customer,
    mask: Option<&prost_types::FieldMask>,
) -> Result<Vec<String>, Problem> {
    let editable = editable_fields();
    let paths: Vec<String> = match mask {
        Some(mask) if !mask.paths.is_empty() => {
            mask.paths.iter().map(|p| p.trim().to_owned()).collect()
        }
        _ => {
            // Without a mask: the fields the message sets. Managed fields (id, etag) are skipped.
            let set = wire::fields_set(message);
            set.into_iter().filter(|f| editable.contains(f)).collect()
        }
    };
    let mut v = Violations::new();
    for path in &paths {
        if editable.contains(path) {
            continue;
        }
        if let Some((_, why)) = MANAGED_FIELDS.iter().find(|(name, _)| name == path) {
            v.add("update_mask", format!("{path} {why}"));
        } else if path.contains('.') {
            v.add(
                "update_mask",
                format!(
                    "{path}: name top-level fields only (e.g. `finance`), which are replaced whole"
                ),
            );
        } else {
            v.add("update_mask", format!("{path} is not a field of Customer"));
        }
    }
    if paths.is_empty() {
        v.add("update_mask", "names no field to change");
    }
    v.finish(|| paths)
}

fn duplicate_reason(by_credit_code: bool) -> i32 {
    if by_credit_code {
        pb::DuplicateReason::CreditCode as i32
    } else {
        pb::DuplicateReason::Name as i32
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ChangeEvent, Status>> + Send>>;

#[tonic::async_trait]
impl CustomerService for CustomerApi {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(self.create(caller, request.into_inner()).await)
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Reply<pb::Customer> {
        let id = request.into_inner().id;
        reply(
            async {
                required("id", &id)?;
                Ok(customer_to_proto(&self.store.get(&id).await?))
            }
            .await,
        )
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(self.update(caller, request.into_inner()).await)
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Reply<pb::ListCustomersResponse> {
        reply(self.list(request.into_inner()).await)
    }

    async fn archive_customer(
        &self,
        request: Request<pb::ArchiveCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Archive)?;
                required("id", &r.id)?;
                let change = self.change(&caller, ChangeKind::Archived, "archived", &r.etag);
                let record = self
                    .store
                    .change(&r.id, change, |record| {
                        record.ensure_active()?;
                        record.state = CustomerState::Archived;
                        Ok(r.reason.trim().to_owned())
                    })
                    .await?;
                Ok(customer_to_proto(&record))
            }
            .await,
        )
    }

    async fn find_duplicates(
        &self,
        request: Request<pb::FindDuplicatesRequest>,
    ) -> Reply<pb::FindDuplicatesResponse> {
        let r = request.into_inner();
        reply(
            async {
                let message = r
                    .customer
                    .ok_or_else(|| Problem::invalid("customer", "is required"))?;
                let card = card_from_proto(&message).map_err(|v| under("customer", v))?;
                if card.name.is_empty() && card.credit_code.is_none() {
                    return Err(Problem::invalid(
                        "customer",
                        "give a name or a credit_code to compare",
                    ));
                }
                let found = self.store.find_duplicates(&card, &message.id).await?;
                Ok(pb::FindDuplicatesResponse {
                    candidates: found
                        .into_iter()
                        .map(|d| pb::DuplicateCandidate {
                            customer_id: d.id,
                            archive_no: d.archive_no,
                            name: d.name,
                            reason: duplicate_reason(d.by_credit_code),
                            state: d.state.number(),
                        })
                        .collect(),
                })
            }
            .await,
        )
    }

    async fn merge_customers(
        &self,
        request: Request<pb::MergeCustomersRequest>,
    ) -> Reply<pb::Customer> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Merge)?;
                required("survivor_id", &r.survivor_id)?;
                required("merged_id", &r.merged_id)?;
                let record = self
                    .store
                    .merge(
                        &caller,
                        &r.survivor_id,
                        &r.merged_id,
                        &r.survivor_etag,
                        self.clock.now(),
                    )
                    .await?;
                Ok(customer_to_proto(&record))
            }
            .await,
        )
    }

    async fn get_customer_history(
        &self,
        request: Request<pb::GetCustomerHistoryRequest>,
    ) -> Reply<pb::GetCustomerHistoryResponse> {
        reply(self.history(request.into_inner()).await)
    }

    async fn get_completeness(
        &self,
        request: Request<pb::GetCompletenessRequest>,
    ) -> Reply<pb::GetCompletenessResponse> {
        let id = request.into_inner().id;
        reply(
            async {
                required("id", &id)?;
                let record = self.store.get(&id).await?;
                let result = completeness::assess(&record.card);
                Ok(pb::GetCompletenessResponse {
                    score: result.score,
                    missing_fields: result.missing.iter().map(|f| (*f).to_owned()).collect(),
                    required_count: result.required,
                })
            }
            .await,
        )
    }

    async fn mark_reviewed(
        &self,
        request: Request<pb::MarkReviewedRequest>,
    ) -> Reply<pb::Customer> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Review)?;
                required("id", &r.id)?;
                let now = self.clock.now();
                let interval = self.settings.review_interval_days;
                let change = self.change(&caller, ChangeKind::Reviewed, "reviewed", "");
                let record = self
                    .store
                    .change(&r.id, change, |record| {
                        record.ensure_active()?;
                        record.last_reviewed_at = Some(now);
                        record.review_due_at = next_review_due(now, interval);
                        Ok(r.note.trim().to_owned())
                    })
                    .await?;
                Ok(customer_to_proto(&record))
            }
            .await,
        )
    }

    async fn list_reviews_due(
        &self,
        request: Request<pb::ListReviewsDueRequest>,
    ) -> Reply<pb::ListReviewsDueResponse> {
        reply(self.reviews_due(request.into_inner()).await)
    }

    async fn reassign_customer(
        &self,
        request: Request<pb::ReassignCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Reassign)?;
                required("id", &r.id)?;
                required("owner_id", &r.owner_id)?;
                let change = self.change(&caller, ChangeKind::Reassigned, "reassigned", &r.etag);
                let record = self
                    .store
                    .change(&r.id, change, |record| {
                        record.ensure_active()?;
                        let before = record.card.owner_id.clone();
                        record.card.owner_id = r.owner_id.trim().to_owned();
                        if !r.team.trim().is_empty() {
                            record.card.team = r.team.trim().to_owned();
                        }
                        if !r.custodian_id.trim().is_empty() {
                            record.card.custodian_id = r.custodian_id.trim().to_owned();
                        }
                        Ok(format!("from {before} to {}", record.card.owner_id))
                    })
                    .await?;
                Ok(customer_to_proto(&record))
            }
            .await,
        )
    }

    async fn close_year(&self, request: Request<pb::CloseYearRequest>) -> Reply<pb::ArchiveVolume> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::CloseYear)?;
                required("id", &r.id)?;
                let volume = self
                    .store
                    .close_year(&caller, &r.id, r.year, self.clock.now())
                    .await?;
                Ok(wire::volume_to_proto(&volume))
            }
            .await,
        )
    }

    async fn list_volumes(
        &self,
        request: Request<pb::ListVolumesRequest>,
    ) -> Reply<pb::ListVolumesResponse> {
        let r = request.into_inner();
        reply(
            async {
                required("customer_id", &r.customer_id)?;
                let volumes = self.store.list_volumes(&r.customer_id).await?;
                Ok(pb::ListVolumesResponse {
                    volumes: volumes.iter().map(wire::volume_to_proto).collect(),
                })
            }
            .await,
        )
    }

    async fn add_document(&self, request: Request<pb::AddDocumentRequest>) -> Reply<pb::Document> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(self.add_document(caller, request.into_inner()).await)
    }

    async fn list_documents(
        &self,
        request: Request<pb::ListDocumentsRequest>,
    ) -> Reply<pb::ListDocumentsResponse> {
        let r = request.into_inner();
        reply(
            async {
                required("customer_id", &r.customer_id)?;
                let category = DocumentCategory::from_number(r.category)
                    .map_err(|reason| Problem::invalid("category", reason))?;
                let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                let (rows, total) = self
                    .store
                    .list_documents(&r.customer_id, category, page.offset, page.size)
                    .await?;
                Ok(pb::ListDocumentsResponse {
                    documents: rows.iter().map(wire::document_to_proto).collect(),
                    next_page_token: page.next_token(total),
                    total_size: total_size(total),
                })
            }
            .await,
        )
    }

    async fn get_document(
        &self,
        request: Request<pb::GetDocumentRequest>,
    ) -> Reply<pb::GetDocumentResponse> {
        let r = request.into_inner();
        reply(
            async {
                required("id", &r.id)?;
                let row = self.store.get_document(&r.id).await?;
                let content = if r.include_content {
                    self.store.document_content(&r.id).await?
                } else {
                    Vec::new()
                };
                Ok(pb::GetDocumentResponse {
                    document: Some(wire::document_to_proto(&row)),
                    content,
                })
            }
            .await,
        )
    }

    async fn import_customers(
        &self,
        request: Request<pb::ImportCustomersRequest>,
    ) -> Reply<pb::ImportCustomersResponse> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Import)?;
                let rows = sheet::read_rows(&r.content, r.format, &r.file_name)?;
                let today = self.today();
                let mut errors = Vec::new();
                let mut cards = Vec::with_capacity(rows.len());
                let rows_read = rows.len();
                for row in rows {
                    match row
                        .customer
                        .and_then(|message| parse_valid_card("", &message, today))
                    {
                        Ok(card) => cards.push((row.number, card)),
                        Err(Problem::InvalidArgument(violations)) => {
                            // One error per row: the first fault; the row is fixed and sent again.
                            if let Some(first) = violations.into_iter().next() {
                                errors.push(pb::RowError {
                                    row: row.number,
                                    field: first.field,
                                    reason: first.reason,
                                });
                            }
                        }
                        Err(other) => return Err(other),
                    }
                }
                let (created, refusals) = self
                    .store
                    .import(
                        &caller,
                        cards,
                        self.clock.now(),
                        self.settings.review_interval_days,
                        r.dry_run,
                    )
                    .await?;
                errors.extend(refusals.into_iter().map(|e| pb::RowError {
                    row: e.row,
                    field: e.field,
                    reason: e.reason,
                }));
                errors.sort_by_key(|e| e.row);
                Ok(pb::ImportCustomersResponse {
                    rows_read: total_size(rows_read as u64),
                    created: total_size(created as u64),
                    errors,
                })
            }
            .await,
        )
    }

    async fn export_customers(
        &self,
        request: Request<pb::ExportCustomersRequest>,
    ) -> Reply<pb::ExportCustomersResponse> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Export)?;
                let xlsx = matches!(
                    pb::SheetFormat::try_from(r.format),
                    Ok(pb::SheetFormat::Xlsx | pb::SheetFormat::Unspecified)
                );
                if !xlsx {
                    return Err(Problem::invalid(
                        "format",
                        "only SHEET_FORMAT_XLSX is exported",
                    ));
                }
                let filter = r.filter.unwrap_or_default();
                let (filter, ordering, descending) = self.filter_of(&filter)?;
                let (records, total) = self
                    .store
                    .list(&filter, ordering, descending, 0, sheet::MAX_EXPORT_ROWS)
                    .await?;
                if total > sheet::MAX_EXPORT_ROWS {
                    return Err(Problem::ResourceExhausted {
                        message: format!(
                            "{total} customers match; narrow the filter to at most {}",
                            sheet::MAX_EXPORT_ROWS
                        ),
                    });
                }
                let content = sheet::write_xlsx(&records, &self.masker, &caller)?;
                Ok(pb::ExportCustomersResponse {
                    content,
                    file_name: format!(
                        "customers-{}.xlsx",
                        self.clock.now().format("%Y%m%d-%H%M%S")
                    ),
                    content_type:
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
                    rows: total_size(records.len() as u64),
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
        let r = request.into_inner();
        let stream =
            self.store
                .outbox()
                .watch(r.after_sequence, r.event_types, self.shutdown.clone());
        let stream: EventStream = Box::pin(stream.map(|item| item.map_err(Status::from)));
        Ok(Response::new(stream))
    }
}
