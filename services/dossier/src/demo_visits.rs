//! Demo data of visit-journal: for every demo salesperson, a visit plan of the current year over
//! his customers, a month of recorded visits (some on plan, some late, some unplanned), a daily
//! work journal for each working day with visits, and part of those journals walked along the
//! sign-off chain by the team's manager. Everything goes through the public API with fixed
//! request ids, so a second load adds nothing.

use std::time::Duration;

use anyhow::Context;
use chrono::{Datelike, Duration as Days, NaiveDate, TimeZone, Utc, Weekday};
use dossier_kit::auth::{Role, TokenRequest};
use dossier_kit::config::Config;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{Customer, ListCustomersRequest};
use dossier_proto::visit as pb;
use dossier_proto::visit::visit_service_client::VisitServiceClient;
use tonic::Code;
use tonic::transport::Channel;

/// Customers in each salesperson's plan.
const PLAN_CUSTOMERS: usize = 8;
/// Days of recorded visits, ending yesterday.
const DAYS: i64 = 30;

/// A client carrying one user's token.
struct As {
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl As {
    fn new(config: &Config, sub: &str, name: &str, role: Role, team: &str) -> anyhow::Result<Self> {
        let common = config.common().map_err(anyhow::Error::msg)?;
        let token = common
            .auth
            .mint_dev_token(
                &common.data_dir,
                &TokenRequest {
                    sub: sub.into(),
                    name: name.into(),
                    role,
                    team: team.into(),
                    scopes: vec![],
                    ttl: Duration::from_secs(1800),
                },
            )
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            bearer: format!("Bearer {token}").parse().context("token header")?,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.bearer.clone());
        request
    }
}

async fn connect(endpoint: &str, what: &str) -> anyhow::Result<Channel> {
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .context("endpoint")?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach {what} at {endpoint}"))
}

/// Counts written and already-present records.
#[derive(Default)]
struct Tally {
    written: usize,
    present: usize,
}

impl Tally {
    fn note<T>(
        &mut self,
        result: Result<T, tonic::Status>,
        what: &str,
    ) -> anyhow::Result<Option<T>> {
        match result {
            Ok(value) => {
                self.written += 1;
                Ok(Some(value))
            }
            Err(status) if matches!(status.code(), Code::AlreadyExists) => {
                self.present += 1;
                Ok(None)
            }
            Err(status) => anyhow::bail!("{what}: {}: {}", status.code(), status.message()),
        }
    }
}

fn timestamp(day: NaiveDate, hour: u32, minute: u32) -> Option<prost_types::Timestamp> {
    let at = Utc
        .with_ymd_and_hms(day.year(), day.month(), day.day(), hour, minute, 0)
        .single()?;
    Some(dossier_kit::time::to_timestamp(at))
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Loads the demo plans, visits and journals; returns a one-line summary.
pub async fn load(
    config: &Config,
    visit_endpoint: &str,
    profile_endpoint: &str,
) -> anyhow::Result<String> {
    let archivist = As::new(config, "arch-chenjing", "陈静", Role::Archivist, "")?;
    let mut customers =
        CustomerServiceClient::new(connect(profile_endpoint, "customer-profile").await?);
    let mut visits = VisitServiceClient::new(connect(visit_endpoint, "visit-journal").await?);
    let mut all: Vec<Customer> = Vec::new();
    let mut token = String::new();
    loop {
        let page = customers
            .list_customers(archivist.request(ListCustomersRequest {
                page_size: 500,
                page_token: token.clone(),
                order_by: "route".into(),
                ..ListCustomersRequest::default()
            }))
            .await
            .context("listing the demo customers")?
            .into_inner();
        all.extend(page.customers);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    anyhow::ensure!(
        !all.is_empty(),
        "no customers: load the customer demo first"
    );

    let today = Utc::now().date_naive();
    let first_day = today - Days::days(DAYS);
    let mut tally = Tally::default();
    let staff = crate::demo_data::demo_sales_reps();
    let reps: Vec<_> = staff
        .iter()
        .filter(|(sub, _, _)| sub.starts_with("rep-"))
        .collect();
    for (index, (sub, name, team)) in reps.iter().enumerate() {
        let me = As::new(config, sub, name, Role::SalesRep, team)?;
        // His own customers first, topped up from the whole list so every plan is full.
        let mut mine: Vec<&Customer> = all.iter().filter(|c| c.owner_id == *sub).collect();
        for c in all.iter().skip(index * PLAN_CUSTOMERS) {
            if mine.len() >= PLAN_CUSTOMERS {
                break;
            }
            if !mine.iter().any(|m| m.id == c.id) {
                mine.push(c);
            }
        }
        mine.truncate(PLAN_CUSTOMERS);

        // Plan: each customer about every three weeks through the year from the month's start.
        let rows = mine
            .iter()
            .enumerate()
            .map(|(i, c)| pb::VisitPlanRow {
                customer_id: c.id.clone(),
                visits: (0..12)
                    .filter_map(|n| {
                        let planned = first_day + Days::days(i as i64 * 3 + n * 21);
                        (planned.year() == today.year()).then(|| pb::PlannedVisit {
                            number: n as i32 + 1,
                            planned_date: date(planned),
                            ..pb::PlannedVisit::default()
                        })
                    })
                    .collect(),
                ..pb::VisitPlanRow::default()
            })
            .filter(|row| !row.visits.is_empty())
            .collect();
        let _ = tally.note(
            visits
                .upsert_visit_plan(me.request(pb::UpsertVisitPlanRequest {
                    plan: Some(pb::VisitPlan {
                        year: today.year(),
                        rows,
                        ..pb::VisitPlan::default()
                    }),
                    etag: String::new(),
                }))
                .await
                .map(|r| r.into_inner()),
            "visit plan",
        )?;

        // A month of visits: on weekdays, two or three customers a day, in route order.
        let mut day = first_day;
        while day < today {
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                day += Days::days(1);
                continue;
            }
            let offset = (day - first_day).num_days() as usize;
            let mut entries = Vec::new();
            for slot in 0..(2 + offset % 2) {
                let customer = mine[(offset + slot) % mine.len()];
                let i = mine.iter().position(|c| c.id == customer.id).unwrap_or(0) as i64;
                // The planned visit due around this day, if any (within a week).
                let due = (0..12)
                    .map(|n| (n + 1, first_day + Days::days(i * 3 + n * 21)))
                    .find(|(_, planned)| (day - *planned).num_days().abs() <= 7)
                    .map(|(n, _)| n as i32)
                    .unwrap_or(0);
                let start = 9 + slot as u32 * 2;
                let visit = pb::Visit {
                    customer_id: customer.id.clone(),
                    sequence: due,
                    objective: "了解用油情况，推介新品".into(),
                    interviewee: "采购部经理".into(),
                    topics: "价格、交期与付款方式".into(),
                    outcome: if slot == 0 {
                        "同意试用".into()
                    } else {
                        "继续跟进".into()
                    },
                    open_objections: if offset.is_multiple_of(5) {
                        "对价格有异议".into()
                    } else {
                        String::new()
                    },
                    visit_date: date(day),
                    check_in_time: timestamp(day, start, 0),
                    start_time: timestamp(day, start, 5),
                    end_time: timestamp(day, start, 55),
                    ..pb::Visit::default()
                };
                let recorded = tally.note(
                    visits
                        .record_visit(me.request(pb::RecordVisitRequest {
                            visit: Some(visit),
                            request_id: format!("demo-visit-{sub}-{}-{slot}", date(day)),
                        }))
                        .await
                        .map(|r| r.into_inner()),
                    "visit",
                )?;
                entries.push(pb::JournalVisitEntry {
                    customer_id: customer.id.clone(),
                    person_visited: "采购部经理".into(),
                    from_time: timestamp(day, start, 5),
                    to_time: timestamp(day, start, 55),
                    talk_content: "价格、交期与付款方式".into(),
                    result: "继续跟进".into(),
                    visit_id: recorded.map(|v| v.id).unwrap_or_default(),
                    ..pb::JournalVisitEntry::default()
                });
            }
            let journal = tally.note(
                visits
                    .create_journal(me.request(pb::CreateJournalRequest {
                        journal: Some(pb::Journal {
                            journal_date: date(day),
                            visits: entries,
                            market_analysis: "同类产品价格平稳，竞品促销力度加大".into(),
                            product_analysis: "水性切削油试用反馈良好".into(),
                            ..pb::Journal::default()
                        }),
                        request_id: format!("demo-journal-{sub}-{}", date(day)),
                    }))
                    .await
                    .map(|r| r.into_inner()),
                "journal",
            )?;
            // Older journals are submitted and signed by the team's head; recent ones stay open.
            // A replayed request answers with the journal as it stands: sign only fresh drafts.
            if let Some(journal) = journal
                && offset < 20
                && journal.state == pb::JournalState::Draft as i32
            {
                let submitted = visits
                    .submit_journal(me.request(pb::SubmitJournalRequest {
                        id: journal.id.clone(),
                        etag: journal.etag.clone(),
                        comment: String::new(),
                    }))
                    .await
                    .context("submitting a demo journal")?
                    .into_inner();
                if let Some((head, head_name, _)) = staff
                    .iter()
                    .find(|(s, _, t)| s.starts_with("mgr-") && t == team)
                {
                    let head = As::new(config, head, head_name, Role::SalesManager, team)?;
                    visits
                        .review_journal(head.request(pb::ReviewJournalRequest {
                            id: submitted.id.clone(),
                            decision: pb::ReviewDecision::Approve as i32,
                            comment: "同意".into(),
                            etag: submitted.etag.clone(),
                            supervisor_evaluation: "拜访节奏合理".into(),
                        }))
                        .await
                        .context("signing a demo journal")?;
                }
            }
            day += Days::days(1);
        }
    }
    Ok(format!(
        "visit plans, {DAYS} days of visits and journals for {} salespeople ({} written, {} already there) at {visit_endpoint}",
        reps.len(),
        tally.written,
        tally.present
    ))
}
