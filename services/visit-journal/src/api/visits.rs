//! Visit records (附表三): recorded once per request id from phones, corrected, listed.

use dossier_kit::auth::Caller;
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::time::{format_date, parse_date};
use dossier_kit::{Problem, Violations};
use dossier_proto::visit as pb;
use prost::Message;

use super::{Auth, VisitApi, display_name, etag, invalid, query_key, required, time_of, ts};
use crate::domain::policy::{Operation, acting_for, authorize, read_scope};
use crate::domain::visit::{
    VisitTimes, check_number, check_times, parse_coordinate, plan_year, visit_day,
};
use crate::store::{NewVisit, RequestKey, VisitOrder, Where, new_id};

const SCOPE: &str = "RecordVisit";

/// The fields of a visit that may be corrected; the others (customer, number, day, times of the
/// check-in, next planned visit) fed the plan and are fixed by recording a new visit.
const CORRECTABLE: [&str; 11] = [
    "objective",
    "interviewee",
    "interviewee_title",
    "topics",
    "outcome",
    "open_objections",
    "resolution_plan",
    "notes",
    "start_time",
    "end_time",
    "check_in_location",
];

fn check_location(location: Option<&pb::GeoLocation>, violations: &mut Violations) {
    let Some(location) = location else { return };
    violations.check(parse_coordinate(
        "visit.check_in_location.latitude",
        &location.latitude,
        90,
    ));
    violations.check(parse_coordinate(
        "visit.check_in_location.longitude",
        &location.longitude,
        180,
    ));
    if location.accuracy_meters < 0 {
        violations.add(
            "visit.check_in_location.accuracy_meters",
            "must not be negative",
        );
    }
}

impl VisitApi {
    /// Checks the times of a visit; returns them parsed.
    fn visit_times(&self, visit: &pb::Visit, violations: &mut Violations) -> VisitTimes {
        let times = VisitTimes {
            check_in: violations
                .check(time_of("visit.check_in_time", visit.check_in_time.as_ref()))
                .flatten(),
            start: violations
                .check(time_of("visit.start_time", visit.start_time.as_ref()))
                .flatten(),
            end: violations
                .check(time_of("visit.end_time", visit.end_time.as_ref()))
                .flatten(),
        };
        check_times("visit.", &times, self.now(), self.tolerance(), violations);
        times
    }

    pub(super) async fn record(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::RecordVisitRequest,
    ) -> Result<pb::Visit, Problem> {
        authorize(caller, Operation::RecordVisit)?;
        validate_request_id("request_id", &request.request_id)?;
        let message = request
            .visit
            .ok_or_else(|| Problem::invalid("visit", "is required"))?;
        let salesperson = acting_for(caller, &message.salesperson_id)?;
        let mut violations = Violations::new();
        violations.check(required("visit.customer_id", &message.customer_id));
        violations.check(check_number("visit.sequence", message.sequence, true));
        let times = self.visit_times(&message, &mut violations);
        let explicit = violations
            .check(parse_date("visit.visit_date", &message.visit_date))
            .flatten();
        let day = visit_day(explicit, &times);
        match day {
            None => violations.add(
                "visit.visit_date",
                "is required when neither check_in_time nor end_time is given",
            ),
            Some(day) if day > (self.now() + self.tolerance()).date_naive() => {
                violations.add("visit.visit_date", "is in the future")
            }
            _ => {}
        }
        let next = violations
            .check(parse_date(
                "visit.next_visit_date",
                &message.next_visit_date,
            ))
            .flatten();
        if let (Some(next), Some(day)) = (next, day)
            && next <= day
        {
            violations.add("visit.next_visit_date", "is not after the visit");
        }
        check_location(message.check_in_location.as_ref(), &mut violations);
        invalid(violations)?;
        let Some(day) = day else {
            return Err(Problem::invalid("visit.visit_date", "is required"));
        };

        let print = fingerprint(&message.encode_to_vec());
        let key = RequestKey {
            scope: SCOPE,
            request_id: &request.request_id,
            fingerprint: &print,
        };
        if let Some(id) = self.store.replayed(&key).await? {
            return Ok(self.store.get_visit(&id).await?.0);
        }
        let customer = self
            .customer(auth, &message.customer_id, "visit.customer_id")
            .await?;
        let now = self.now();
        let mut visit = message;
        visit.id = new_id();
        visit.salesperson_id = salesperson.clone();
        visit.customer_name = customer.name.clone();
        visit.visit_date = format_date(Some(day));
        visit.next_visit_date = format_date(next);
        visit.etag = etag(1);
        visit.create_time = ts(now);
        visit.update_time = ts(now);
        visit.created_by = caller.sub.clone();
        let name = if salesperson == caller.sub {
            display_name(caller)
        } else {
            salesperson.clone()
        };
        let team = super::plans::team_of(caller, &salesperson, &customer.team);
        let recorded = self
            .store
            .record_visit(NewVisit {
                visit,
                salesperson_name: &name,
                team: &team,
                route: (customer.route_code.clone(), customer.route_order),
                year: plan_year(day),
                next_year: next.map(plan_year),
                key,
                now,
                actor: &caller.sub,
            })
            .await;
        match recorded {
            Err(Problem::Aborted { message }) => match self.store.replayed(&key).await? {
                // A retry of this very request committed first: answer with its visit.
                Some(id) => Ok(self.store.get_visit(&id).await?.0),
                None => Err(Problem::Aborted { message }),
            },
            other => other,
        }
    }

    pub(super) async fn visit(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::GetVisitRequest,
    ) -> Result<pb::Visit, Problem> {
        authorize(caller, Operation::Read)?;
        required("id", &request.id).map_err(|v| Problem::InvalidArgument(vec![v]))?;
        let (visit, _) = self.store.get_visit(&request.id).await?;
        read_scope(caller, &visit.salesperson_id)?;
        Ok(visit)
    }

    pub(super) async fn correct_visit(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::UpdateVisitRequest,
    ) -> Result<pb::Visit, Problem> {
        authorize(caller, Operation::RecordVisit)?;
        let incoming = request
            .visit
            .ok_or_else(|| Problem::invalid("visit", "is required"))?;
        required("visit.id", &incoming.id).map_err(|v| Problem::InvalidArgument(vec![v]))?;
        let paths: Vec<String> = match &request.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
            _ => set_fields(&incoming),
        };
        let mut violations = Violations::new();
        for path in &paths {
            if !CORRECTABLE.contains(&path.as_str()) {
                violations.add(
                    format!("visit.{path}"),
                    "cannot be corrected; record a new visit instead",
                );
            }
        }
        invalid(violations)?;
        let (mut visit, version) = self.store.get_visit(&incoming.id).await?;
        acting_for(caller, &visit.salesperson_id)?;
        crate::store::check_etag(super::etag_of(&request.etag, &incoming.etag), version)?;
        for path in &paths {
            match path.as_str() {
                "objective" => visit.objective = incoming.objective.clone(),
                "interviewee" => visit.interviewee = incoming.interviewee.clone(),
                "interviewee_title" => visit.interviewee_title = incoming.interviewee_title.clone(),
                "topics" => visit.topics = incoming.topics.clone(),
                "outcome" => visit.outcome = incoming.outcome.clone(),
                "open_objections" => visit.open_objections = incoming.open_objections.clone(),
                "resolution_plan" => visit.resolution_plan = incoming.resolution_plan.clone(),
                "notes" => visit.notes = incoming.notes.clone(),
                "start_time" => visit.start_time = incoming.start_time,
                "end_time" => visit.end_time = incoming.end_time,
                _ => visit.check_in_location = incoming.check_in_location.clone(),
            }
        }
        let mut violations = Violations::new();
        self.visit_times(&visit, &mut violations);
        check_location(visit.check_in_location.as_ref(), &mut violations);
        invalid(violations)?;
        let now = self.now();
        visit.etag = etag(version + 1);
        visit.update_time = ts(now);
        self.store
            .update_visit(&visit, version, &caller.sub, now)
            .await?;
        Ok(visit)
    }

    pub(super) async fn visits(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::ListVisitsRequest,
    ) -> Result<pb::ListVisitsResponse, Problem> {
        authorize(caller, Operation::Read)?;
        let salesperson = read_scope(caller, &request.salesperson_id)?;
        let mut violations = Violations::new();
        let from = violations
            .check(parse_date("from_date", &request.from_date))
            .flatten();
        let to = violations
            .check(parse_date("to_date", &request.to_date))
            .flatten();
        let order = match request.order_by.trim() {
            "" | "visit_date" | "visit_date desc" => VisitOrder::DateDescending,
            "visit_date asc" => VisitOrder::DateAscending,
            "route" => VisitOrder::Route,
            other => {
                violations.add(
                    "order_by",
                    format!("{other:?} is not `visit_date`, `visit_date asc` or `route`"),
                );
                VisitOrder::DateDescending
            }
        };
        invalid(violations)?;
        let page = Page::parse(request.page_size, &request.page_token, &query_key!(request))?;
        let mut filter = Where::default();
        filter
            .eq_text("salesperson_id", &salesperson)
            .eq_text("customer_id", &request.customer_id);
        if let Some(from) = from {
            filter.raw("visit_date >= ?", vec![format_date(Some(from)).into()]);
        }
        if let Some(to) = to {
            filter.raw("visit_date <= ?", vec![format_date(Some(to)).into()]);
        }
        if request.open_objections_only {
            filter.raw("open_objections = ?", vec![true.into()]);
        }
        let (visits, total) = self
            .store
            .list_visits(&filter, order, page.offset, page.size)
            .await?;
        Ok(pb::ListVisitsResponse {
            visits,
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }
}

/// The correctable fields set in a message, for an update without a mask.
fn set_fields(visit: &pb::Visit) -> Vec<String> {
    let texts = [
        ("objective", &visit.objective),
        ("interviewee", &visit.interviewee),
        ("interviewee_title", &visit.interviewee_title),
        ("topics", &visit.topics),
        ("outcome", &visit.outcome),
        ("open_objections", &visit.open_objections),
        ("resolution_plan", &visit.resolution_plan),
        ("notes", &visit.notes),
    ];
    let mut paths: Vec<String> = texts
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| (*k).to_owned())
        .collect();
    for (name, set) in [
        ("start_time", visit.start_time.is_some()),
        ("end_time", visit.end_time.is_some()),
        ("check_in_location", visit.check_in_location.is_some()),
    ] {
        if set {
            paths.push(name.to_owned());
        }
    }
    paths
}
