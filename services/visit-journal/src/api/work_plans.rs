//! Weekly and monthly work plans of a salesperson (销售人员月度 / 每周工作计划安排) with targets;
//! the `visits` target's achievement is counted from the recorded visits.

use dossier_kit::auth::{Caller, Role};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::time::{format_date, parse_date};
use dossier_kit::{Problem, Violations};
use dossier_proto::visit as pb;

use super::{Auth, VisitApi, display_name, etag, etag_of, invalid, query_key, time_of, ts};
use crate::domain::amounts::{MONEY_PLACES, QUANTITY_PLACES, format_decimal, parse_decimal};
use crate::domain::period::{Period, parse_month, parse_week};
use crate::domain::policy::{Operation, acting_for, authorize, read_scope};
use crate::store::{NewRecord, Where, check_etag, new_id};

const TABLE: &str = "work_plans";
/// The target counted from the visit records.
const VISITS_METRIC: &str = "visits";
/// Targets measured in money.
const MONEY_METRICS: [&str; 2] = ["sales_amount", "collections"];

fn period_of(field: &str, kind: pb::WorkPlanKind, period: &str) -> Result<Period, Problem> {
    match kind {
        pb::WorkPlanKind::Weekly => parse_week(field, period),
        pb::WorkPlanKind::Monthly => parse_month(field, period),
        pb::WorkPlanKind::Unspecified => {
            return Err(Problem::invalid("plan.kind", "must be WEEKLY or MONTHLY"));
        }
    }
    .map_err(|v| Problem::InvalidArgument(vec![v]))
}

fn kind_of(field: &str, kind: i32) -> Result<pb::WorkPlanKind, Problem> {
    match pb::WorkPlanKind::try_from(kind) {
        Ok(kind) if kind != pb::WorkPlanKind::Unspecified => Ok(kind),
        _ => Err(Problem::invalid(field, "must be WEEKLY or MONTHLY")),
    }
}

/// Checks a plan's targets, schedule and budget; normalises the amounts.
fn check_plan(plan: &mut pb::WorkPlan, period: &Period) -> Result<(), Problem> {
    let mut violations = Violations::new();
    for (i, target) in plan.targets.iter_mut().enumerate() {
        let at = |name: &str| format!("plan.targets[{i}].{name}");
        if target.metric.trim().is_empty() {
            violations.add(at("metric"), "is required");
        }
        let places = if MONEY_METRICS.contains(&target.metric.as_str()) {
            MONEY_PLACES
        } else {
            QUANTITY_PLACES
        };
        for (name, value) in [
            ("target_value", &mut target.target_value),
            ("actual_value", &mut target.actual_value),
        ] {
            if let Some(v) = violations
                .check(parse_decimal(&at(name), value, places))
                .flatten()
            {
                *value = if places == MONEY_PLACES {
                    format_decimal(v, places)
                } else {
                    v.normalize().to_string()
                };
            }
        }
    }
    for (i, item) in plan.items.iter().enumerate() {
        let at = |name: &str| format!("plan.items[{i}].{name}");
        if let Some(Some(day)) = violations.check(parse_date(&at("item_date"), &item.item_date))
            && (day < period.start || day > period.end)
        {
            violations.add(at("item_date"), "is outside the plan's period");
        }
        let start = violations
            .check(time_of(&at("start_time"), item.start_time.as_ref()))
            .flatten();
        let end = violations
            .check(time_of(&at("end_time"), item.end_time.as_ref()))
            .flatten();
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            violations.add(at("end_time"), "is not after start_time");
        }
        if item.activity.trim().is_empty() {
            violations.add(at("activity"), "is required");
        }
    }
    for (i, line) in plan.budget.iter_mut().enumerate() {
        let field = format!("plan.budget[{i}].amount");
        if let Some(v) = violations
            .check(parse_decimal(&field, &line.amount, MONEY_PLACES))
            .flatten()
        {
            line.amount = format_decimal(v, MONEY_PLACES);
        }
    }
    invalid(violations)
}

impl VisitApi {
    /// Fills the achieved value of the `visits` targets from the visit records of the period.
    async fn with_achievement(&self, mut plan: pb::WorkPlan) -> Result<pb::WorkPlan, Problem> {
        if !plan.targets.iter().any(|t| t.metric == VISITS_METRIC) {
            return Ok(plan);
        }
        let kind = kind_of("kind", plan.kind)?;
        let period = period_of("period", kind, &plan.period)?;
        let done = self
            .store
            .count_visits(
                &plan.salesperson_id,
                &format_date(Some(period.start)),
                &format_date(Some(period.end)),
            )
            .await?;
        for target in plan
            .targets
            .iter_mut()
            .filter(|t| t.metric == VISITS_METRIC)
        {
            target.actual_value = done.to_string();
        }
        Ok(plan)
    }

    async fn find_work_plan(
        &self,
        salesperson: &str,
        kind: pb::WorkPlanKind,
        period: &str,
    ) -> Result<Option<(pb::WorkPlan, i64)>, Problem> {
        let mut filter = Where::default();
        filter
            .eq_text("salesperson_id", salesperson)
            .raw("kind = ?", vec![(kind as i32).into()])
            .eq_text("period", period);
        let (plans, _) = self
            .store
            .list::<pb::WorkPlan>(TABLE, &filter, "id", 0, 1)
            .await?;
        match plans.into_iter().next() {
            Some(plan) => Ok(Some(self.store.load(TABLE, "work_plan", &plan.id).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn upsert_work_plan_(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::UpsertWorkPlanRequest,
    ) -> Result<pb::WorkPlan, Problem> {
        authorize(caller, Operation::WritePlan)?;
        let mut plan = request
            .plan
            .ok_or_else(|| Problem::invalid("plan", "is required"))?;
        let salesperson = acting_for(caller, &plan.salesperson_id)?;
        let kind = kind_of("plan.kind", plan.kind)?;
        plan.period = plan.period.trim().to_owned();
        let period = period_of("plan.period", kind, &plan.period)?;
        check_plan(&mut plan, &period)?;
        let now = self.now();
        let expected = etag_of(&request.etag, &plan.etag).to_owned();
        plan.salesperson_id = salesperson.clone();
        if plan.salesperson_name.is_empty() {
            plan.salesperson_name = if salesperson == caller.sub {
                display_name(caller)
            } else {
                salesperson.clone()
            };
        }
        plan.update_time = ts(now);
        match self
            .find_work_plan(&salesperson, kind, &plan.period)
            .await?
        {
            Some((stored, version)) => {
                if expected.is_empty() {
                    return Err(Problem::AlreadyExists {
                        resource: "work_plan",
                        existing_id: stored.id,
                        reason: "WORK_PLAN_EXISTS",
                        message: format!(
                            "{salesperson} already has a plan for {}; send its etag to replace it",
                            plan.period
                        ),
                    });
                }
                check_etag(&expected, version)?;
                plan.id = stored.id;
                plan.create_time = stored.create_time;
                plan.etag = etag(version + 1);
                self.store
                    .replace_record(
                        TABLE,
                        &plan.id.clone(),
                        version,
                        &plan,
                        vec![],
                        "work_plan.updated",
                        None,
                        &caller.sub,
                        now,
                    )
                    .await?;
            }
            None => {
                if !expected.is_empty() {
                    return Err(Problem::not_found(
                        "work_plan",
                        format!("{salesperson}/{}", plan.period),
                    ));
                }
                plan.id = new_id();
                plan.create_time = ts(now);
                plan.etag = etag(1);
                let team = if salesperson == caller.sub || caller.role == Role::SalesManager {
                    caller.team.clone()
                } else {
                    String::new()
                };
                self.store
                    .insert_record(NewRecord {
                        table: TABLE,
                        columns: &[
                            "id",
                            "salesperson_id",
                            "team",
                            "kind",
                            "period",
                            "period_start",
                            "version",
                        ],
                        values: vec![
                            plan.id.clone().into(),
                            salesperson.clone().into(),
                            team.into(),
                            plan.kind.into(),
                            plan.period.clone().into(),
                            format_date(Some(period.start)).into(),
                            1i64.into(),
                        ],
                        message: &plan,
                        id: &plan.id,
                        customer_id: None,
                        key: None,
                        event_type: "work_plan.created",
                        actor: &caller.sub,
                        now,
                    })
                    .await?;
            }
        }
        self.with_achievement(plan).await
    }

    pub(super) async fn work_plan(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::GetWorkPlanRequest,
    ) -> Result<pb::WorkPlan, Problem> {
        authorize(caller, Operation::Read)?;
        let mut salesperson = read_scope(caller, &request.salesperson_id)?;
        if salesperson.is_empty() {
            salesperson = caller.sub.clone();
        }
        let kind = kind_of("kind", request.kind)?;
        period_of("period", kind, request.period.trim())?;
        let (plan, _) = self
            .find_work_plan(&salesperson, kind, request.period.trim())
            .await?
            .ok_or_else(|| {
                Problem::not_found("work_plan", format!("{salesperson}/{}", request.period))
            })?;
        self.with_achievement(plan).await
    }

    pub(super) async fn work_plans(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::ListWorkPlansRequest,
    ) -> Result<pb::ListWorkPlansResponse, Problem> {
        authorize(caller, Operation::Read)?;
        let salesperson = read_scope(caller, &request.salesperson_id)?;
        let mut violations = Violations::new();
        let from = violations
            .check(parse_date("from_date", &request.from_date))
            .flatten();
        let to = violations
            .check(parse_date("to_date", &request.to_date))
            .flatten();
        if request.kind != 0 && kind_of("kind", request.kind).is_err() {
            violations.add("kind", "is not a work plan kind");
        }
        invalid(violations)?;
        let page = Page::parse(request.page_size, &request.page_token, &query_key!(request))?;
        let mut filter = Where::default();
        filter
            .eq_text("salesperson_id", &salesperson)
            .eq_text("team", &request.team);
        if request.kind != 0 {
            filter.raw("kind = ?", vec![request.kind.into()]);
        }
        if let Some(from) = from {
            filter.raw("period_start >= ?", vec![format_date(Some(from)).into()]);
        }
        if let Some(to) = to {
            filter.raw("period_start <= ?", vec![format_date(Some(to)).into()]);
        }
        let (plans, total) = self
            .store
            .list::<pb::WorkPlan>(
                TABLE,
                &filter,
                "period_start DESC, id DESC",
                page.offset,
                page.size,
            )
            .await?;
        let mut filled = Vec::with_capacity(plans.len());
        for plan in plans {
            filled.push(self.with_achievement(plan).await?);
        }
        Ok(pb::ListWorkPlansResponse {
            plans: filled,
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }
}
