//! The gRPC face of visit-journal: requests are authenticated (by the kit's interceptor),
//! authorised per operation, parsed and checked against the domain rules, handed to the store,
//! and answered. Every failure is a [`Problem`], turned into a status in one place.

mod follow_ups;
mod journals;
mod plans;
mod reports;
mod visits;
mod work_plans;

pub(crate) use dossier_kit::query_key;
use dossier_kit::status::reply;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use dossier_kit::customers::{CustomerDirectory, CustomerFacts, authorization_of};
use dossier_kit::problem::FieldViolation;
use dossier_kit::server::ShutdownSignal;
use dossier_kit::time::{from_timestamp, parse_date};
use dossier_kit::{Problem, Violations};
use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::visit::visit_service_server::VisitService;
use dossier_proto::visit::{self as pb};
use futures::{Stream, StreamExt};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Response, Status};

use crate::Settings;
use crate::store::Store;

/// The VisitService implementation.
#[derive(Clone)]
pub struct VisitApi {
    store: Store,
    directory: CustomerDirectory,
    clock: SharedClock,
    settings: Arc<Settings>,
    shutdown: ShutdownSignal,
    /// Urgent reports as they are filed, for `WatchUrgentReports`.
    urgent: tokio::sync::broadcast::Sender<pb::Report>,
}

type Reply<T> = Result<Response<T>, Status>;
type Auth = Option<MetadataValue<Ascii>>;

fn required(field: &str, value: &str) -> Result<(), FieldViolation> {
    if value.trim().is_empty() {
        Err(FieldViolation::new(field, "is required"))
    } else {
        Ok(())
    }
}

/// An optional timestamp as a time.
fn time_of(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, FieldViolation> {
    ts.map(|ts| from_timestamp(field, ts)).transpose()
}

/// A required date.
fn date_required(field: &str, value: &str) -> Result<NaiveDate, FieldViolation> {
    parse_date(field, value)?.ok_or_else(|| FieldViolation::new(field, "is required"))
}

fn etag(version: i64) -> String {
    version.to_string()
}

/// The etag a write is based on: the request's, else the one inside the message.
fn etag_of<'a>(request: &'a str, message: &'a str) -> &'a str {
    if request.is_empty() { message } else { request }
}

fn ts(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(dossier_kit::time::to_timestamp(at))
}

impl VisitApi {
    /// The service over `store`, asking `directory` about customers.
    pub fn new(
        store: Store,
        directory: CustomerDirectory,
        clock: SharedClock,
        settings: Arc<Settings>,
        shutdown: ShutdownSignal,
    ) -> Self {
        let (urgent, _) = tokio::sync::broadcast::channel(256);
        Self {
            store,
            directory,
            clock,
            settings,
            shutdown,
            urgent,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    fn tolerance(&self) -> Duration {
        Duration::seconds(self.settings.check_in_tolerance_seconds.max(0))
    }

    /// An active customer named by a write.
    async fn customer(&self, auth: &Auth, id: &str, field: &str) -> Result<CustomerFacts, Problem> {
        self.directory
            .require_active(id, field, auth.as_ref())
            .await
    }

    /// The customers named by a write, each looked up once, all at once; the first unknown one
    /// is reported on its field.
    async fn customers(
        &self,
        auth: &Auth,
        named: &[(String, String)],
    ) -> Result<std::collections::HashMap<String, CustomerFacts>, Problem> {
        let mut seen = std::collections::HashSet::new();
        let lookups = named
            .iter()
            .filter(|(id, _)| !id.is_empty() && seen.insert(id.clone()))
            .map(|(id, field)| self.directory.lookup(id, field, auth.as_ref()));
        let found = futures::future::try_join_all(lookups).await?;
        Ok(found.into_iter().map(|f| (f.id.clone(), f)).collect())
    }
}

/// Violations found while parsing, as a problem.
fn invalid(violations: Violations) -> Result<(), Problem> {
    violations.finish(|| ())
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ChangeEvent, Status>> + Send>>;
type ReportStream = Pin<Box<dyn Stream<Item = Result<pb::Report, Status>> + Send>>;

/// Runs a handler with the caller and the forwarded credentials.
macro_rules! handle {
    ($self:ident, $request:ident, $method:ident) => {{
        let caller = dossier_kit::server::caller(&$request)?;
        let auth = authorization_of(&$request);
        reply($self.$method(&caller, &auth, $request.into_inner()).await)
    }};
}

#[tonic::async_trait]
impl VisitService for VisitApi {
    async fn upsert_visit_plan(
        &self,
        r: Request<pb::UpsertVisitPlanRequest>,
    ) -> Reply<pb::VisitPlan> {
        handle!(self, r, upsert_plan)
    }
    async fn get_visit_plan(&self, r: Request<pb::GetVisitPlanRequest>) -> Reply<pb::VisitPlan> {
        handle!(self, r, get_plan)
    }
    async fn get_plan_progress(
        &self,
        r: Request<pb::GetPlanProgressRequest>,
    ) -> Reply<pb::GetPlanProgressResponse> {
        handle!(self, r, plan_progress)
    }
    async fn record_visit(&self, r: Request<pb::RecordVisitRequest>) -> Reply<pb::Visit> {
        handle!(self, r, record)
    }
    async fn get_visit(&self, r: Request<pb::GetVisitRequest>) -> Reply<pb::Visit> {
        handle!(self, r, visit)
    }
    async fn update_visit(&self, r: Request<pb::UpdateVisitRequest>) -> Reply<pb::Visit> {
        handle!(self, r, correct_visit)
    }
    async fn list_visits(
        &self,
        r: Request<pb::ListVisitsRequest>,
    ) -> Reply<pb::ListVisitsResponse> {
        handle!(self, r, visits)
    }
    async fn create_journal(&self, r: Request<pb::CreateJournalRequest>) -> Reply<pb::Journal> {
        handle!(self, r, create_journal_)
    }
    async fn get_journal(&self, r: Request<pb::GetJournalRequest>) -> Reply<pb::Journal> {
        handle!(self, r, journal)
    }
    async fn update_journal(&self, r: Request<pb::UpdateJournalRequest>) -> Reply<pb::Journal> {
        handle!(self, r, edit_journal)
    }
    async fn list_journals(
        &self,
        r: Request<pb::ListJournalsRequest>,
    ) -> Reply<pb::ListJournalsResponse> {
        handle!(self, r, journals)
    }
    async fn submit_journal(&self, r: Request<pb::SubmitJournalRequest>) -> Reply<pb::Journal> {
        handle!(self, r, submit)
    }
    async fn review_journal(&self, r: Request<pb::ReviewJournalRequest>) -> Reply<pb::Journal> {
        handle!(self, r, review)
    }
    async fn file_report(&self, r: Request<pb::FileReportRequest>) -> Reply<pb::Report> {
        handle!(self, r, file)
    }
    async fn list_reports(
        &self,
        r: Request<pb::ListReportsRequest>,
    ) -> Reply<pb::ListReportsResponse> {
        handle!(self, r, reports)
    }
    async fn acknowledge_report(
        &self,
        r: Request<pb::AcknowledgeReportRequest>,
    ) -> Reply<pb::Report> {
        handle!(self, r, acknowledge)
    }

    type WatchUrgentReportsStream = ReportStream;

    async fn watch_urgent_reports(
        &self,
        r: Request<pb::WatchUrgentReportsRequest>,
    ) -> Reply<Self::WatchUrgentReportsStream> {
        handle!(self, r, watch_urgent)
    }
    async fn add_follow_up(
        &self,
        r: Request<pb::AddFollowUpRequest>,
    ) -> Reply<pb::FollowUpInterview> {
        handle!(self, r, add_interview)
    }
    async fn add_quote(&self, r: Request<pb::AddQuoteRequest>) -> Reply<pb::Quote> {
        handle!(self, r, quote)
    }
    async fn get_follow_up_sheet(
        &self,
        r: Request<pb::GetFollowUpSheetRequest>,
    ) -> Reply<pb::FollowUpSheet> {
        handle!(self, r, sheet)
    }
    async fn upsert_work_plan(&self, r: Request<pb::UpsertWorkPlanRequest>) -> Reply<pb::WorkPlan> {
        handle!(self, r, upsert_work_plan_)
    }
    async fn get_work_plan(&self, r: Request<pb::GetWorkPlanRequest>) -> Reply<pb::WorkPlan> {
        handle!(self, r, work_plan)
    }
    async fn list_work_plans(
        &self,
        r: Request<pb::ListWorkPlansRequest>,
    ) -> Reply<pb::ListWorkPlansResponse> {
        handle!(self, r, work_plans)
    }

    type WatchChangesStream = EventStream;

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        let caller = dossier_kit::server::caller(&request)?;
        crate::domain::policy::authorize(&caller, crate::domain::policy::Operation::Read)
            .map_err(Status::from)?;
        let r = request.into_inner();
        let stream =
            self.store
                .outbox()
                .watch(r.after_sequence, r.event_types, self.shutdown.clone());
        let stream: EventStream = Box::pin(stream.map(|item| item.map_err(Status::from)));
        Ok(Response::new(stream))
    }
}

/// The caller's display name, or his id when the token has none.
fn display_name(caller: &Caller) -> String {
    if caller.name.is_empty() {
        caller.sub.clone()
    } else {
        caller.name.clone()
    }
}
