//! The gRPC face of complaints: requests are authenticated (by the kit's interceptor),
//! authorised per operation, parsed into domain values, handed to the domain and the store, and
//! answered. Every failure is a [`Problem`], turned into a status in one place.

use dossier_kit::problem::required;
use dossier_kit::query_key;
use dossier_kit::status::reply;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};
use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use dossier_kit::customers::{CustomerDirectory, authorization_of};
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::server::ShutdownSignal;
use dossier_kit::{Problem, Violations};
use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::complaint::complaint_service_server::ComplaintService;
use dossier_proto::complaint::{self as pb};
use futures::{Stream, StreamExt};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::domain::complaint::{self, Actor, ComplaintRecord};
use crate::domain::feedback::{self, FeedbackRecord};
use crate::domain::lifecycle::{self, Step};
use crate::domain::policy::{Operation, authorize};
use crate::domain::sla::ReplyTargets;
use crate::domain::stats;
use crate::store::{ComplaintFilter, FeedbackFilter, Ordering, Store};
use crate::wire;

/// What the service is made of.
pub struct Parts {
    /// Storage.
    pub store: Store,
    /// The clock (a manual one in tests).
    pub clock: SharedClock,
    /// Reply-time targets in force.
    pub targets: ReplyTargets,
    /// customer-profile, for customer checks and grades.
    pub directory: CustomerDirectory,
    /// Local time's offset, for statistics by month.
    pub utc_offset: Duration,
    /// Ends change-feed streams at shutdown.
    pub shutdown: ShutdownSignal,
}

/// The ComplaintService implementation.
#[derive(Clone)]
pub struct ComplaintApi {
    store: Store,
    clock: SharedClock,
    targets: std::sync::Arc<ReplyTargets>,
    directory: CustomerDirectory,
    utc_offset: Duration,
    shutdown: ShutdownSignal,
}

type Reply<T> = Result<Response<T>, Status>;
type EventStream = Pin<Box<dyn Stream<Item = Result<ChangeEvent, Status>> + Send>>;

/// Violations of a nested message, their paths put under `prefix`.
fn under(prefix: &str, violations: Violations) -> Result<(), Problem> {
    let mut all = Violations::new();
    all.extend_under(prefix, violations);
    all.finish(|| ())
}

/// The caller as the actor of a step: the token's name, or its `sub` when it carries none.
fn actor_of(caller: &Caller) -> Actor {
    Actor {
        id: caller.sub.clone(),
        name: if caller.name.trim().is_empty() {
            caller.sub.clone()
        } else {
            caller.name.clone()
        },
    }
}

/// The paths an update changes: the mask's, each one of `editable`; an empty mask means every
/// editable field the message sets (`is_set` tells which).
fn update_paths(
    mask: Option<&prost_types::FieldMask>,
    editable: &[&str],
    is_set: impl Fn(&str) -> bool,
) -> Result<Vec<String>, Problem> {
    let paths: Vec<String> = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        let set: Vec<String> = editable
            .iter()
            .filter(|f| is_set(f))
            .map(|f| (*f).to_owned())
            .collect();
        if set.is_empty() {
            return Err(Problem::invalid("update_mask", "names no field to change"));
        }
        return Ok(set);
    }
    let mut v = Violations::new();
    for path in &paths {
        if !editable.contains(&path.as_str()) {
            v.add(
                "update_mask",
                format!(
                    "{path:?} cannot be changed here; one of {}",
                    editable.join(", ")
                ),
            );
        }
    }
    v.finish(|| paths)
}

impl ComplaintApi {
    /// The service over its parts.
    pub fn new(parts: Parts) -> Self {
        Self {
            store: parts.store,
            clock: parts.clock,
            targets: std::sync::Arc::new(parts.targets),
            directory: parts.directory,
            utc_offset: parts.utc_offset,
            shutdown: parts.shutdown,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn file(
        &self,
        caller: Caller,
        request: Request<pb::FileComplaintRequest>,
    ) -> Result<pb::Complaint, Problem> {
        authorize(&caller, Operation::Write)?;
        let authorization = authorization_of(&request);
        let r = request.into_inner();
        validate_request_id("request_id", &r.request_id)?;
        let message = r
            .complaint
            .ok_or_else(|| Problem::invalid("complaint", "is required"))?;
        let now = self.now();
        let (mut card, mut violations) = wire::card_from_proto(&message);
        violations.extend_under("", complaint::validate_card(&card, now));
        under("complaint", violations)?;
        let fingerprint = fingerprint(&message.encode_to_vec());
        if let Some(id) = self
            .store
            .prior("FileComplaint", &r.request_id, &fingerprint)
            .await?
        {
            return Ok(wire::complaint_to_proto(&self.store.get(&id).await?, now));
        }
        // The grade decides the target; it is fixed on the complaint now, so a later change of
        // grade does not move this deadline.
        let facts = self
            .directory
            .require_active(
                &card.customer_id,
                "complaint.customer_id",
                authorization.as_ref(),
            )
            .await?;
        let actor = actor_of(&caller);
        if card.receiver_id.is_empty() {
            card.receiver_id = actor.id.clone();
        }
        if card.receiver.is_empty() {
            card.receiver = actor.name.clone();
        }
        let hours = self.targets.hours_for_grade(facts.grade);
        let complained = card.complaint_time.unwrap_or(now);
        let record = ComplaintRecord::file(
            uuid::Uuid::now_v7().to_string(),
            card,
            &actor,
            now,
            hours,
            self.targets.due(complained, hours),
        );
        let record = self.store.file(record, &r.request_id, &fingerprint).await?;
        Ok(wire::complaint_to_proto(&record, now))
    }

    async fn update(
        &self,
        caller: Caller,
        r: pb::UpdateComplaintRequest,
    ) -> Result<pb::Complaint, Problem> {
        authorize(&caller, Operation::Write)?;
        let message = r
            .complaint
            .ok_or_else(|| Problem::invalid("complaint", "is required"))?;
        required("complaint.id", &message.id)?;
        let paths = update_paths(
            r.update_mask.as_ref(),
            &complaint::EDITABLE_FIELDS,
            |field| match field {
                "complaint_time" => message.complaint_time.is_some(),
                "complainant" => !message.complainant.is_empty(),
                "complainant_phone" => !message.complainant_phone.is_empty(),
                "subject" => !message.subject.is_empty(),
                "content" => !message.content.is_empty(),
                "notes" => !message.notes.is_empty(),
                "contract_id" => !message.contract_id.is_empty(),
                _ => false,
            },
        )?;
        let (incoming, mut violations) = wire::card_from_proto(&message);
        violations.retain(|v| paths.contains(&v.field));
        under("complaint", violations)?;
        let etag = if r.etag.is_empty() {
            message.etag.clone()
        } else {
            r.etag.clone()
        };
        let now = self.now();
        let targets = self.targets.clone();
        let record = self
            .store
            .change(&message.id, &etag, "updated", &caller.sub, now, |record| {
                let time_before = record.card.complaint_time;
                complaint::apply_fields(&mut record.card, &incoming, &paths);
                under("complaint", complaint::validate_card(&record.card, now))?;
                // A corrected complaint time moves the first deadline, which runs from it; after
                // a reopen the deadline runs from the reopen and stays.
                if record.card.complaint_time != time_before
                    && record.reopen_count == 0
                    && let Some(at) = record.card.complaint_time
                {
                    record.reply_due = targets.due(at, record.reply_target_hours);
                }
                Ok(())
            })
            .await?;
        Ok(wire::complaint_to_proto(&record, now))
    }

    /// Applies a step of the life cycle.
    async fn step(
        &self,
        caller: &Caller,
        id: &str,
        etag: &str,
        verb: &str,
        step: Step,
    ) -> Result<pb::Complaint, Problem> {
        authorize(caller, Operation::Write)?;
        required("id", id)?;
        let now = self.now();
        let actor = actor_of(caller);
        let targets = self.targets.clone();
        let record = self
            .store
            .change(id, etag, verb, &caller.sub, now, |record| {
                lifecycle::apply(record, step, &actor, now, &targets)
            })
            .await?;
        Ok(wire::complaint_to_proto(&record, now))
    }

    fn complaint_filter(&self, r: &pb::ListComplaintsRequest) -> Result<ComplaintFilter, Problem> {
        let mut v = Violations::new();
        let now = self.now();
        let state = wire::state_from_proto("state", r.state, &mut v);
        let reaction = wire::reaction_from_proto("customer_reaction", r.customer_reaction, &mut v);
        let from_time = wire::optional_time("from_time", r.from_time.as_ref(), &mut v);
        let to_time = wire::optional_time("to_time", r.to_time.as_ref(), &mut v);
        if r.due_within_hours < 0 {
            v.add("due_within_hours", "must not be negative");
        }
        let due_within =
            (r.due_within_hours > 0).then(|| (now, Duration::hours(i64::from(r.due_within_hours))));
        v.finish(|| ComplaintFilter {
            customer_id: r.customer_id.clone(),
            state,
            handler_id: r.handler_id.clone(),
            subject: r.subject.clone(),
            from_time,
            to_time,
            overdue_at: r.overdue.then_some(now),
            due_within,
            escalated: r.escalated,
            // A closed complaint has its reaction: asking for one implies closed ones.
            include_closed: r.include_closed || reaction.is_some(),
            reaction,
        })
    }

    async fn list(
        &self,
        r: pb::ListComplaintsRequest,
    ) -> Result<pb::ListComplaintsResponse, Problem> {
        let filter = self.complaint_filter(&r)?;
        let (ordering, descending) = Ordering::parse(&r.order_by)?;
        let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
        let (records, total) = self
            .store
            .list(&filter, ordering, descending, page.offset, page.size)
            .await?;
        let now = self.now();
        Ok(pb::ListComplaintsResponse {
            complaints: records
                .iter()
                .map(|c| wire::complaint_to_proto(c, now))
                .collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    async fn stats(
        &self,
        r: pb::GetComplaintStatsRequest,
    ) -> Result<pb::GetComplaintStatsResponse, Problem> {
        let mut v = Violations::new();
        let grouping = wire::grouping_from_proto(r.group_by, &mut v);
        let from_time = wire::optional_time("from_time", r.from_time.as_ref(), &mut v);
        let to_time = wire::optional_time("to_time", r.to_time.as_ref(), &mut v);
        if let (Some(from), Some(to)) = (from_time, to_time)
            && from >= to
        {
            v.add("to_time", "must be after from_time");
        }
        let filter = v.finish(|| ComplaintFilter {
            customer_id: r.customer_id.clone(),
            handler_id: r.handler_id.clone(),
            from_time,
            to_time,
            ..ComplaintFilter::default()
        })?;
        let records = self.store.all_matching(&filter).await?;
        let (rows, total) = stats::compute(&records, grouping, self.now(), self.utc_offset);
        Ok(pb::GetComplaintStatsResponse {
            rows: rows.iter().map(wire::stats_row_to_proto).collect(),
            total: Some(wire::stats_row_to_proto(&total)),
        })
    }

    async fn record_feedback(
        &self,
        caller: Caller,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Result<pb::Feedback, Problem> {
        authorize(&caller, Operation::Write)?;
        let authorization = authorization_of(&request);
        let r = request.into_inner();
        validate_request_id("request_id", &r.request_id)?;
        let message = r
            .feedback
            .ok_or_else(|| Problem::invalid("feedback", "is required"))?;
        let now = self.now();
        let (entry, mut violations) = wire::entry_from_proto(&message);
        violations.extend_under("", feedback::validate(&entry, now));
        under("feedback", violations)?;
        let fingerprint = fingerprint(&message.encode_to_vec());
        if let Some(id) = self
            .store
            .prior("RecordFeedback", &r.request_id, &fingerprint)
            .await?
        {
            return Ok(wire::feedback_to_proto(
                &self.store.get_feedback(&id).await?,
            ));
        }
        self.check_complaint_of(&entry.customer_id, &entry.complaint_id)
            .await?;
        self.directory
            .require_active(
                &entry.customer_id,
                "feedback.customer_id",
                authorization.as_ref(),
            )
            .await?;
        let record = FeedbackRecord {
            id: uuid::Uuid::now_v7().to_string(),
            entry,
            recorded_by: caller.sub.clone(),
            version: 1,
            created_at: now,
            updated_at: now,
            updated_by: caller.sub.clone(),
        };
        let record = self
            .store
            .record_feedback(record, &r.request_id, &fingerprint)
            .await?;
        Ok(wire::feedback_to_proto(&record))
    }

    /// Refuses a feedback's complaint that does not exist or is another customer's.
    async fn check_complaint_of(
        &self,
        customer_id: &str,
        complaint_id: &str,
    ) -> Result<(), Problem> {
        if complaint_id.is_empty() {
            return Ok(());
        }
        match self.store.get(complaint_id).await {
            Ok(c) if c.card.customer_id == customer_id => Ok(()),
            Ok(_) => Err(Problem::invalid(
                "feedback.complaint_id",
                format!("complaint {complaint_id} is another customer's"),
            )),
            Err(Problem::NotFound { .. }) => Err(Problem::invalid(
                "feedback.complaint_id",
                format!("no complaint {complaint_id}"),
            )),
            Err(other) => Err(other),
        }
    }

    async fn update_feedback(
        &self,
        caller: Caller,
        r: pb::UpdateFeedbackRequest,
    ) -> Result<pb::Feedback, Problem> {
        authorize(&caller, Operation::Write)?;
        let message = r
            .feedback
            .ok_or_else(|| Problem::invalid("feedback", "is required"))?;
        required("feedback.id", &message.id)?;
        let paths = update_paths(
            r.update_mask.as_ref(),
            &feedback::EDITABLE_FIELDS,
            |field| match field {
                "feedback_time" => message.feedback_time.is_some(),
                "content" => !message.content.is_empty(),
                "follow_up" => !message.follow_up.is_empty(),
                "person" => !message.person.is_empty(),
                _ => false,
            },
        )?;
        let (incoming, mut violations) = wire::entry_from_proto(&message);
        violations.retain(|v| paths.contains(&v.field));
        under("feedback", violations)?;
        let etag = if r.etag.is_empty() {
            message.etag.clone()
        } else {
            r.etag.clone()
        };
        let now = self.now();
        let record = self
            .store
            .change_feedback(&message.id, &etag, &caller.sub, now, |record| {
                feedback::apply_fields(&mut record.entry, &incoming, &paths);
                under("feedback", feedback::validate(&record.entry, now))
            })
            .await?;
        Ok(wire::feedback_to_proto(&record))
    }

    async fn list_feedback(
        &self,
        r: pb::ListFeedbackRequest,
    ) -> Result<pb::ListFeedbackResponse, Problem> {
        let mut v = Violations::new();
        let from_time = wire::optional_time("from_time", r.from_time.as_ref(), &mut v);
        let to_time = wire::optional_time("to_time", r.to_time.as_ref(), &mut v);
        let filter = v.finish(|| FeedbackFilter {
            customer_id: r.customer_id.clone(),
            complaint_id: r.complaint_id.clone(),
            from_time,
            to_time,
            without_follow_up: r.without_follow_up,
        })?;
        let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
        let (records, total) = self
            .store
            .list_feedback(&filter, page.offset, page.size)
            .await?;
        Ok(pb::ListFeedbackResponse {
            feedback: records.iter().map(wire::feedback_to_proto).collect(),
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }
}

#[tonic::async_trait]
impl ComplaintService for ComplaintApi {
    async fn file_complaint(
        &self,
        request: Request<pb::FileComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(self.file(caller, request).await)
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Read)?;
                required("id", &r.id)?;
                let record = self.store.get(&r.id).await?;
                Ok(wire::complaint_to_proto(&record, self.now()))
            }
            .await,
        )
    }

    async fn update_complaint(
        &self,
        request: Request<pb::UpdateComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(self.update(caller, request.into_inner()).await)
    }

    async fn list_complaints(
        &self,
        request: Request<pb::ListComplaintsRequest>,
    ) -> Reply<pb::ListComplaintsResponse> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Read)?;
                self.list(r).await
            }
            .await,
        )
    }

    async fn analyze_complaint(
        &self,
        request: Request<pb::AnalyzeComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        let step = Step::Analyse {
            analysis: r.analysis.trim().to_owned(),
        };
        reply(self.step(&caller, &r.id, &r.etag, "analysed", step).await)
    }

    async fn start_handling(
        &self,
        request: Request<pb::StartHandlingRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        let me = actor_of(&caller);
        let handler_id = r.handler_id.trim();
        let handler_name = r.handler.trim();
        let handler = Actor {
            id: if handler_id.is_empty() {
                me.id.clone()
            } else {
                handler_id.to_owned()
            },
            name: match (handler_name.is_empty(), handler_id.is_empty()) {
                (false, _) => handler_name.to_owned(),
                (true, true) => me.name.clone(),
                (true, false) => handler_id.to_owned(),
            },
        };
        let step = Step::StartHandling {
            handling_method: r.handling_method.trim().to_owned(),
            handler,
        };
        reply(
            self.step(&caller, &r.id, &r.etag, "handling_started", step)
                .await,
        )
    }

    async fn reply_complaint(
        &self,
        request: Request<pb::ReplyComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                let mut v = Violations::new();
                let at = wire::optional_time("reply_time", r.reply_time.as_ref(), &mut v)
                    .unwrap_or_else(|| self.now());
                v.finish(|| ())?;
                let me = actor_of(&caller);
                let step = Step::Reply {
                    result: r.result.trim().to_owned(),
                    reply: r.reply.trim().to_owned(),
                    replier: Actor {
                        id: me.id,
                        name: if r.replier.trim().is_empty() {
                            me.name
                        } else {
                            r.replier.trim().to_owned()
                        },
                    },
                    at,
                };
                self.step(&caller, &r.id, &r.etag, "replied", step).await
            }
            .await,
        )
    }

    async fn close_complaint(
        &self,
        request: Request<pb::CloseComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                let mut v = Violations::new();
                let reaction =
                    wire::reaction_from_proto("customer_reaction", r.customer_reaction, &mut v);
                if reaction.is_none() && v.is_empty() {
                    v.add("customer_reaction", "is required");
                }
                let reaction = v
                    .finish(|| reaction)?
                    .ok_or_else(|| Problem::invalid("customer_reaction", "is required"))?;
                let step = Step::Close {
                    reaction,
                    note: r.note.trim().to_owned(),
                };
                self.step(&caller, &r.id, &r.etag, "closed", step).await
            }
            .await,
        )
    }

    async fn reopen_complaint(
        &self,
        request: Request<pb::ReopenComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        let step = Step::Reopen {
            reason: r.reason.trim().to_owned(),
        };
        reply(self.step(&caller, &r.id, &r.etag, "reopened", step).await)
    }

    async fn escalate_complaint(
        &self,
        request: Request<pb::EscalateComplaintRequest>,
    ) -> Reply<pb::Complaint> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Escalate)?;
                required("id", &r.id)?;
                let now = self.now();
                let actor = actor_of(&caller);
                let record = self
                    .store
                    .change(&r.id, &r.etag, "escalated", &caller.sub, now, |record| {
                        lifecycle::escalate(record, &r.escalate_to_id, &r.reason, &actor, now)
                    })
                    .await?;
                Ok(wire::complaint_to_proto(&record, now))
            }
            .await,
        )
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Reply<pb::Feedback> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(ComplaintApi::record_feedback(self, caller, request).await)
    }

    async fn update_feedback(
        &self,
        request: Request<pb::UpdateFeedbackRequest>,
    ) -> Reply<pb::Feedback> {
        let caller = dossier_kit::server::caller(&request)?;
        reply(ComplaintApi::update_feedback(self, caller, request.into_inner()).await)
    }

    async fn list_feedback(
        &self,
        request: Request<pb::ListFeedbackRequest>,
    ) -> Reply<pb::ListFeedbackResponse> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Read)?;
                ComplaintApi::list_feedback(self, r).await
            }
            .await,
        )
    }

    async fn get_complaint_stats(
        &self,
        request: Request<pb::GetComplaintStatsRequest>,
    ) -> Reply<pb::GetComplaintStatsResponse> {
        let caller = dossier_kit::server::caller(&request)?;
        let r = request.into_inner();
        reply(
            async {
                authorize(&caller, Operation::Read)?;
                self.stats(r).await
            }
            .await,
        )
    }

    type WatchChangesStream = EventStream;

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        let caller = dossier_kit::server::caller(&request)?;
        authorize(&caller, Operation::Read).map_err(Status::from)?;
        let r = request.into_inner();
        let stream =
            self.store
                .outbox()
                .watch(r.after_sequence, r.event_types, self.shutdown.clone());
        let stream: EventStream = Box::pin(stream.map(|item| item.map_err(Status::from)));
        Ok(Response::new(stream))
    }
}
