//! Visit plans (附表二) and plan-vs-done.

use dossier_kit::auth::{Caller, Role};
use dossier_kit::time::parse_date;
use dossier_kit::{Problem, Violations};
use dossier_proto::visit as pb;

use super::{Auth, VisitApi, display_name, etag, etag_of, invalid, required, ts};
use crate::domain::period::parse_month;
use crate::domain::policy::{Operation, acting_for, authorize, read_scope};
use crate::domain::progress::{Counts, Dimension, grouping};
use crate::domain::visit::{PlannedState, check_number, planned_state};
use crate::store::{PlanOwner, PlanRow, ProgressFilter, StoredPlan};

/// Years a plan may be kept for.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

fn check_year(field: &str, year: i32, violations: &mut Violations) {
    if !YEARS.contains(&year) {
        violations.add(
            field,
            format!("must be a year between 2000 and 2100, not {year}"),
        );
    }
}

/// The team a record of `salesperson` belongs to: the caller's when he writes for himself or
/// manages the team, else the customer's team as customer-profile knows it.
pub(super) fn team_of(caller: &Caller, salesperson: &str, customer_team: &str) -> String {
    if salesperson == caller.sub || caller.role == Role::SalesManager {
        caller.team.clone()
    } else {
        customer_team.to_owned()
    }
}

/// Parses the rows of a plan, naming each fault by its path.
fn parse_rows(plan: &pb::VisitPlan) -> Result<Vec<PlanRow>, Problem> {
    let mut violations = Violations::new();
    let mut rows = Vec::with_capacity(plan.rows.len());
    let mut customers = std::collections::HashSet::new();
    for (i, row) in plan.rows.iter().enumerate() {
        let field = |name: &str| format!("plan.rows[{i}].{name}");
        violations.check(required(&field("customer_id"), &row.customer_id));
        if !row.customer_id.is_empty() && !customers.insert(row.customer_id.clone()) {
            violations.add(field("customer_id"), "appears in more than one row");
        }
        if row.visits.len() > 12 {
            violations.add(field("visits"), "holds at most twelve visits");
        }
        let mut numbers = std::collections::HashSet::new();
        let mut cells = Vec::with_capacity(row.visits.len());
        for (j, visit) in row.visits.iter().enumerate() {
            let at = |name: &str| format!("plan.rows[{i}].visits[{j}].{name}");
            violations.check(check_number(&at("number"), visit.number, false));
            if !numbers.insert(visit.number) {
                violations.add(at("number"), "appears twice in the row");
            }
            let planned = violations.check(parse_date(&at("planned_date"), &visit.planned_date));
            match planned {
                Some(Some(date)) if date.format("%Y").to_string() != plan.year.to_string() => {
                    violations.add(at("planned_date"), format!("is not in {}", plan.year));
                }
                Some(None) => violations.add(at("planned_date"), "is required"),
                _ => {}
            }
            let actual = violations.check(parse_date(&at("actual_date"), &visit.actual_date));
            cells.push((
                visit.number,
                planned.flatten().map(|d| d.format("%Y-%m-%d").to_string()),
                actual.flatten().map(|d| d.format("%Y-%m-%d").to_string()),
                None,
            ));
        }
        rows.push(PlanRow {
            customer_id: row.customer_id.clone(),
            customer_name: String::new(),
            row_no: if row.row_no > 0 {
                row.row_no
            } else {
                i as i32 + 1
            },
            visits: cells,
        });
    }
    violations.finish(|| rows)
}

impl VisitApi {
    pub(super) async fn upsert_plan(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::UpsertVisitPlanRequest,
    ) -> Result<pb::VisitPlan, Problem> {
        authorize(caller, Operation::WritePlan)?;
        let plan = request
            .plan
            .ok_or_else(|| Problem::invalid("plan", "is required"))?;
        let salesperson = acting_for(caller, &plan.salesperson_id)?;
        let mut violations = Violations::new();
        check_year("plan.year", plan.year, &mut violations);
        invalid(violations)?;
        let mut rows = parse_rows(&plan)?;
        let named: Vec<(String, String)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.customer_id.clone(), format!("plan.rows[{i}].customer_id")))
            .collect();
        let facts = self.customers(auth, &named).await?;
        for row in &mut rows {
            if let Some(f) = facts.get(&row.customer_id) {
                row.customer_name = f.name.clone();
            }
        }
        let name = if !plan.salesperson_name.is_empty() {
            plan.salesperson_name.clone()
        } else if salesperson == caller.sub {
            display_name(caller)
        } else {
            salesperson.clone()
        };
        let first_team = facts
            .values()
            .next()
            .map(|f| f.team.clone())
            .unwrap_or_default();
        let team = team_of(caller, &salesperson, &first_team);
        let owner = PlanOwner {
            salesperson_id: &salesperson,
            salesperson_name: &name,
            team: &team,
            year: plan.year,
            actor: &caller.sub,
            now: self.now(),
        };
        let today = self.today();
        let submitted = plan.clone();
        let named_rows = rows.clone();
        self.store
            .upsert_plan(&owner, etag_of(&request.etag, &plan.etag), &rows, |id| {
                // The event carries the plan as written; actual dates are the visits' events.
                let mut event = submitted;
                event.id = id.to_owned();
                event.salesperson_id = salesperson.clone();
                event.salesperson_name = name.clone();
                for (row, stored) in event.rows.iter_mut().zip(&named_rows) {
                    row.customer_name = stored.customer_name.clone();
                    row.row_no = stored.row_no;
                }
                event
            })
            .await?;
        let stored = self.store.get_plan(&salesperson, plan.year).await?;
        Ok(plan_to_proto(&stored, today))
    }

    pub(super) async fn get_plan(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::GetVisitPlanRequest,
    ) -> Result<pb::VisitPlan, Problem> {
        authorize(caller, Operation::Read)?;
        let mut salesperson = read_scope(caller, &request.salesperson_id)?;
        if salesperson.is_empty() {
            salesperson = caller.sub.clone();
        }
        let mut violations = Violations::new();
        check_year("year", request.year, &mut violations);
        invalid(violations)?;
        let stored = self.store.get_plan(&salesperson, request.year).await?;
        Ok(plan_to_proto(&stored, self.today()))
    }

    pub(super) async fn plan_progress(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::GetPlanProgressRequest,
    ) -> Result<pb::GetPlanProgressResponse, Problem> {
        authorize(caller, Operation::Read)?;
        let salesperson_id = read_scope(caller, &request.salesperson_id)?;
        let mut violations = Violations::new();
        check_year("year", request.year, &mut violations);
        if !request.month.is_empty()
            && let Some(month) = violations.check(parse_month("month", &request.month))
            && month.start.format("%Y").to_string() != request.year.to_string()
        {
            violations.add("month", format!("is not in {}", request.year));
        }
        let mut dimensions = Vec::new();
        for (i, d) in request.group_by.iter().enumerate() {
            match pb::ProgressDimension::try_from(*d) {
                Ok(pb::ProgressDimension::Salesperson) => dimensions.push(Dimension::Salesperson),
                Ok(pb::ProgressDimension::Customer) => dimensions.push(Dimension::Customer),
                Ok(pb::ProgressDimension::Month) => dimensions.push(Dimension::Month),
                _ => violations.add(format!("group_by[{i}]"), "is not a dimension"),
            }
        }
        invalid(violations)?;
        let filter = ProgressFilter {
            year: request.year,
            month: request.month.clone(),
            salesperson_id,
            customer_id: request.customer_id.clone(),
            team: request.team.clone(),
            dimensions: grouping(&dimensions),
            today: self.today().format("%Y-%m-%d").to_string(),
        };
        let rows = self.store.progress(&filter).await?;
        let mut total = Counts::default();
        for row in &rows {
            total.add(&row.counts);
        }
        Ok(pb::GetPlanProgressResponse {
            rows: rows
                .iter()
                .map(|r| {
                    progress_row(
                        &r.counts,
                        r.salesperson_id.clone(),
                        r.salesperson_name.clone(),
                        r.customer_id.clone(),
                        r.customer_name.clone(),
                        r.month.clone(),
                    )
                })
                .collect(),
            total: Some(progress_row(
                &total,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            )),
        })
    }
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn progress_row(
    counts: &Counts,
    salesperson_id: String,
    salesperson_name: String,
    customer_id: String,
    customer_name: String,
    month: String,
) -> pb::PlanProgressRow {
    pb::PlanProgressRow {
        salesperson_id,
        salesperson_name,
        customer_id,
        customer_name,
        month,
        planned_count: count(counts.planned),
        done_count: count(counts.done),
        done_on_time_count: count(counts.on_time),
        missed_count: count(counts.missed),
        unplanned_count: count(counts.unplanned),
        completion_percent: counts.completion_percent().unwrap_or_default(),
    }
}

fn plan_to_proto(plan: &StoredPlan, today: chrono::NaiveDate) -> pb::VisitPlan {
    let date = |d: &Option<String>| d.as_deref().and_then(|d| parse_date("", d).ok().flatten());
    pb::VisitPlan {
        id: plan.id.clone(),
        salesperson_id: plan.salesperson_id.clone(),
        salesperson_name: plan.salesperson_name.clone(),
        year: plan.year,
        rows: plan
            .rows
            .iter()
            .map(|row| pb::VisitPlanRow {
                row_no: row.row_no,
                customer_id: row.customer_id.clone(),
                customer_name: row.customer_name.clone(),
                visits: row
                    .visits
                    .iter()
                    .map(|(number, planned, actual, visit_id)| pb::PlannedVisit {
                        number: *number,
                        planned_date: planned.clone().unwrap_or_default(),
                        actual_date: actual.clone().unwrap_or_default(),
                        visit_id: visit_id.clone().unwrap_or_default(),
                        state: match planned_state(date(planned), date(actual), today) {
                            PlannedState::Planned => pb::PlannedVisitState::Planned,
                            PlannedState::Done => pb::PlannedVisitState::Done,
                            PlannedState::Missed => pb::PlannedVisitState::Missed,
                        } as i32,
                    })
                    .collect(),
            })
            .collect(),
        etag: etag(plan.version),
        create_time: ts(plan.created_at),
        update_time: ts(plan.updated_at),
        updated_by: plan.updated_by.clone(),
    }
}
