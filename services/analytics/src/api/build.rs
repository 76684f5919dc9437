//! The answers of the reads (also what the exports lay out): requests checked, figures fetched
//! from the store, rules of the domain applied.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dossier_kit::auth::Caller;
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::problem::required;
use dossier_kit::time::to_timestamp;
use dossier_kit::{Problem, Violations, query_key};
use dossier_proto::analytics::{self as pb};
use prost::Message;

use super::AnalyticsApi;
use crate::domain::abc::Thresholds;
use crate::domain::factors::{self, Entry, FACTORS, Factor, Group};
use crate::domain::money::{format_cents, format_percent, from_cents, percent, share};
use crate::domain::period::{Period, parse_month};
use crate::domain::proposals::{self, ComplaintFigures, Proposal};
use crate::domain::sheet::{self, Scores};
use crate::feed::at;
use crate::store::apply::Source;
use crate::store::reports::{Breakdown, ComplaintRow, SliceRow};
use crate::store::scores::{Card, NewScores};

/// Largest number of movers each way on the dashboard.
const MAX_MOVERS: i32 = 50;

fn group_of(group: Group) -> pb::FactorGroup {
    match group {
        Group::Company => pb::FactorGroup::Company,
        Group::Salesforce => pb::FactorGroup::Salesforce,
        Group::Customers => pb::FactorGroup::Customers,
        Group::Promotion => pb::FactorGroup::Promotion,
        Group::PublicRelations => pb::FactorGroup::PublicRelations,
        Group::AfterSales => pb::FactorGroup::AfterSales,
        Group::RelationToUs => pb::FactorGroup::RelationToUs,
    }
}

fn factor_message(f: &Factor) -> pb::SalesForceFactor {
    pb::SalesForceFactor {
        number: f.number,
        group: group_of(f.group) as i32,
        name_zh: f.name_zh.into(),
        name_en: f.name_en.into(),
        proposed_from_data: f.proposed_from_data,
    }
}

fn group_scores(scores: &Scores) -> Vec<pb::GroupScore> {
    sheet::group_subtotals(scores)
        .into_iter()
        .map(|(group, score, max_score)| pb::GroupScore {
            group: group_of(group) as i32,
            score,
            max_score,
        })
        .collect()
}

fn factor_scores(card: &Card) -> Vec<pb::FactorScore> {
    card.scores
        .iter()
        .map(|(factor, (score, note))| pb::FactorScore {
            factor: *factor,
            score: *score,
            note: note.clone(),
        })
        .collect()
}

fn proposal_message(month: &str, p: Proposal) -> pb::ProposedScore {
    pb::ProposedScore {
        factor: p.factor,
        month: month.to_owned(),
        score: p.score,
        rule: p.rule,
        inputs: p
            .inputs
            .into_iter()
            .map(|(name, value)| pb::RuleInput { name, value })
            .collect(),
    }
}

fn time_of(seconds: i64) -> Option<prost_types::Timestamp> {
    at(Some(seconds)).map(to_timestamp)
}

fn period_of(field: &str, text: &str) -> Result<Period, Problem> {
    required(field, text)?;
    Period::parse(text).map_err(|reason| Problem::invalid(field, reason))
}

fn month_of(field: &str, text: &str) -> Result<Period, Problem> {
    required(field, text)?;
    parse_month(text).map_err(|reason| Problem::invalid(field, reason))
}

/// The factors of one page of the catalogue.
pub(super) fn factors_page(page: Page) -> pb::ListSalesForceFactorsResponse {
    let factors = FACTORS
        .iter()
        .skip(page.offset as usize)
        .take(page.size as usize)
        .map(factor_message)
        .collect();
    pb::ListSalesForceFactorsResponse {
        factors,
        next_page_token: page.next_token(FACTORS.len() as u64),
        total_size: FACTORS.len() as i32,
    }
}

/// How the figures of one month's complaints stand as of `as_of` (Unix seconds).
fn complaint_figures(rows: &[ComplaintRow], as_of: i64) -> ComplaintFigures {
    let mut f = ComplaintFigures::default();
    for c in rows {
        f.received += 1;
        let late = match (c.reply_at, c.reply_due_at) {
            (Some(reply), Some(due)) => reply > due,
            (None, Some(due)) => due < as_of,
            _ => false,
        };
        if late {
            f.late += 1;
        } else if c.reply_at.is_some() {
            f.replied_on_time += 1;
        }
        if !c.closed {
            f.open += 1;
        }
    }
    f
}

impl AnalyticsApi {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today in local time.
    fn today(&self) -> NaiveDate {
        (self.now() + chrono::Duration::minutes(i64::from(self.utc_offset_minutes))).date_naive()
    }

    /// A scorecard as the API shows it.
    fn scorecard(customer_id: &str, month: &str, card: &Card) -> pb::MonthlyScorecard {
        let scores = card.scores();
        pb::MonthlyScorecard {
            customer_id: customer_id.to_owned(),
            month: month.to_owned(),
            scores: factor_scores(card),
            total: sheet::total(&scores),
            group_scores: group_scores(&scores),
            complete: sheet::complete(&scores),
            evaluator: card.evaluator.clone(),
            etag: card.etag(),
            update_time: if card.version == 0 {
                None
            } else {
                time_of(card.updated_at)
            },
        }
    }

    /// Enters scores (see `ScoreSalesForce`).
    pub(super) async fn score(
        &self,
        caller: &Caller,
        r: pb::ScoreSalesForceRequest,
    ) -> Result<pb::MonthlyScorecard, Problem> {
        let mut v = Violations::new();
        if r.customer_id.trim().is_empty() {
            v.add("customer_id", "is required");
        }
        let month = if r.month.trim().is_empty() {
            v.add("month", "is required");
            None
        } else {
            match parse_month(&r.month) {
                Ok(m) if m.from > self.today() => {
                    v.add("month", format!("{} is in the future", r.month));
                    None
                }
                Ok(m) => Some(m),
                Err(reason) => {
                    v.add("month", reason);
                    None
                }
            }
        };
        let entries: Vec<Entry> = r
            .scores
            .iter()
            .map(|s| Entry {
                factor: s.factor,
                score: s.score,
                note: s.note.trim().to_owned(),
            })
            .collect();
        for x in factors::validate_entries(&entries).list() {
            v.add(x.field.clone(), x.reason.clone());
        }
        let evaluator = if r.evaluator.trim().is_empty() {
            caller.sub.clone()
        } else {
            r.evaluator.trim().to_owned()
        };
        if evaluator.chars().count() > 100 {
            v.add("evaluator", "is longer than 100 characters");
        }
        if !r.request_id.is_empty()
            && let Err(Problem::InvalidArgument(list)) =
                validate_request_id("request_id", &r.request_id)
        {
            for x in list {
                v.add(x.field, x.reason);
            }
        }
        let month = v.finish(|| month)?;
        let Some(month) = month else {
            return Err(Problem::invalid("month", "is required"));
        };
        let Some(customer) = self
            .store
            .customers(std::slice::from_ref(&r.customer_id))
            .await?
            .remove(&r.customer_id)
        else {
            return Err(Problem::invalid(
                "customer_id",
                format!(
                    "no customer {} is known to analytics (a new card reaches it through the change feed within seconds)",
                    r.customer_id
                ),
            ));
        };
        crate::domain::policy::authorize_scoring(caller, &customer.owner_id, &customer.team)?;
        let month_name = month.name();
        let request = if r.request_id.is_empty() {
            None
        } else {
            let mut keyed = r.clone();
            keyed.request_id.clear();
            keyed.evaluator = evaluator.clone();
            Some((r.request_id.as_str(), fingerprint(&keyed.encode_to_vec())))
        };
        let card = self
            .store
            .score(NewScores {
                customer_id: &r.customer_id,
                month: &month_name,
                entries: &entries,
                evaluator: &evaluator,
                etag: &r.etag,
                request,
                now: self.now(),
            })
            .await?;
        Ok(Self::scorecard(&r.customer_id, &month_name, &card))
    }

    /// A customer's sheet for a year, with the proposals of every month up to today.
    pub(super) async fn sheet(
        &self,
        r: &pb::GetSalesForceSheetRequest,
    ) -> Result<pb::GetSalesForceSheetResponse, Problem> {
        let mut v = Violations::new();
        if r.customer_id.trim().is_empty() {
            v.add("customer_id", "is required");
        }
        if !(1900..=9999).contains(&r.year) {
            v.add("year", format!("{} is not a calendar year", r.year));
        }
        v.finish(|| ())?;
        let months: Vec<Period> = (1..=12).filter_map(|m| Period::month(r.year, m)).collect();
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Err(Problem::invalid("year", "is not a calendar year"));
        };
        let ids = [r.customer_id.clone()];
        let cards = self.store.cards(&ids, &first.name(), &last.name()).await?;
        let name = self
            .store
            .customers(&ids)
            .await?
            .remove(&r.customer_id)
            .map(|c| c.name)
            .unwrap_or_default();
        let proposals = self.proposals(&r.customer_id, &months).await?;
        let card_of = |m: &Period| cards.get(&(r.customer_id.clone(), m.name()));
        let rows = FACTORS
            .iter()
            .map(|f| pb::FactorRow {
                factor: Some(factor_message(f)),
                cells: months
                    .iter()
                    .map(|m| pb::SheetCell {
                        month: m.name(),
                        score: card_of(m)
                            .and_then(|c| c.scores.get(&f.number))
                            .map(|(s, _)| *s)
                            .unwrap_or(0),
                        proposed_score: proposals
                            .iter()
                            .find(|p| p.month == m.name() && p.factor == f.number)
                            .map(|p| p.score)
                            .unwrap_or(0),
                    })
                    .collect(),
            })
            .collect();
        let month_scores: Vec<Scores> = months
            .iter()
            .map(|m| card_of(m).map(Card::scores).unwrap_or_default())
            .collect();
        let group_rows = Group::ALL
            .iter()
            .enumerate()
            .map(|(i, g)| pb::GroupRow {
                group: group_of(*g) as i32,
                max_score: g.max_score(),
                subtotals: month_scores
                    .iter()
                    .map(|s| sheet::group_subtotals(s)[i].1)
                    .collect(),
            })
            .collect();
        let month_totals = months
            .iter()
            .zip(&month_scores)
            .map(|(m, s)| pb::MonthTotal {
                month: m.name(),
                total: sheet::total(s),
                scored_count: s.len() as i32,
                complete: sheet::complete(s),
                evaluator: card_of(m).map(|c| c.evaluator.clone()).unwrap_or_default(),
            })
            .collect();
        Ok(pb::GetSalesForceSheetResponse {
            customer_id: r.customer_id.clone(),
            customer_name: name,
            year: r.year,
            rows,
            group_rows,
            month_totals,
            proposals,
        })
    }

    /// The proposals of a customer for `months` (those not after today), by month then factor.
    async fn proposals(
        &self,
        customer_id: &str,
        months: &[Period],
    ) -> Result<Vec<pb::ProposedScore>, Problem> {
        let today = self.today();
        let months: Vec<&Period> = months.iter().filter(|m| m.from <= today).collect();
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Ok(Vec::new());
        };
        let history_from = first
            .from
            .checked_sub_months(chrono::Months::new(14))
            .unwrap_or(first.from);
        let sales = self
            .store
            .monthly_sales(customer_id, history_from, last.to)
            .await?;
        let targets = self.store.targets(customer_id).await?;
        let window = (
            first.instants(self.utc_offset_minutes).0,
            last.instants(self.utc_offset_minutes).1,
        );
        let complaints = self
            .store
            .complaints_of(customer_id, window.0, window.1)
            .await?;
        let (receivables, settlements) = self.store.receivables_of(customer_id).await?;
        let now = self.now().timestamp();
        let sum_months = |from: Period, count: u32| -> i64 {
            let mut total = 0;
            let mut m = from;
            for _ in 0..count {
                total += sales.get(&m.name()).copied().unwrap_or(0);
                m = m.previous();
            }
            total
        };
        let mut out = Vec::new();
        for m in months {
            let name = m.name();
            let as_of_day = m.to.min(today);
            // 11: the three months to m against the twelve before them.
            let recent = sum_months(*m, 3);
            let base_start = m.previous().previous().previous();
            let base = sum_months(base_start, 12);
            if let Some(p) = proposals::average_usage(recent, base) {
                out.push(proposal_message(&name, p));
            }
            // 19: the complaints received in m, as they stand at its end (or now).
            let (start, end) = m.instants(self.utc_offset_minutes);
            let received: Vec<ComplaintRow> = complaints
                .iter()
                .filter(|c| c.complaint_at >= start && c.complaint_at < end)
                .copied()
                .collect();
            out.push(proposal_message(
                &name,
                proposals::complaint_handling(complaint_figures(&received, end.min(now))),
            ));
            // 21: last year's deliveries against last year's target.
            let year = m.from.year();
            let last_year: i64 = sales
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{}-", year - 1)))
                .map(|(_, v)| *v)
                .sum();
            if let Some(p) = proposals::plan_completion(
                21,
                targets.get(&(year - 1)).copied().unwrap_or(0),
                last_year,
            ) {
                out.push(proposal_message(&name, p));
            }
            // 22: this year's deliveries to m against the target for the months so far.
            let months_so_far = i64::from(m.from.month());
            let this_year: i64 = sales
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{year}-")) && k.as_str() <= name.as_str())
                .map(|(_, v)| *v)
                .sum();
            let target = targets.get(&year).copied().unwrap_or(0) * months_so_far / 12;
            if let Some(p) = proposals::plan_completion(22, target, this_year) {
                out.push(proposal_message(&name, p));
            }
            // 25: payment behaviour as of the month's end (or today).
            if let Some(p) = proposals::creditworthiness(proposals::credit_figures(
                &receivables,
                &settlements,
                as_of_day,
            )) {
                out.push(proposal_message(&name, p));
            }
        }
        out.sort_by(|a, b| (a.month.as_str(), a.factor).cmp(&(b.month.as_str(), b.factor)));
        Ok(out)
    }

    /// Customers side by side for a month.
    pub(super) async fn compare(
        &self,
        r: &pb::CompareSalesForceRequest,
    ) -> Result<pb::CompareSalesForceResponse, Problem> {
        let mut v = Violations::new();
        if !(2..=20).contains(&r.customer_ids.len()) {
            v.add(
                "customer_ids",
                format!("names {} customers; compare 2 to 20", r.customer_ids.len()),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, id) in r.customer_ids.iter().enumerate() {
            if id.trim().is_empty() {
                v.add(format!("customer_ids[{i}]"), "is empty");
            } else if !seen.insert(id) {
                v.add(format!("customer_ids[{i}]"), format!("{id} is named twice"));
            }
        }
        let month = match month_of("month", &r.month) {
            Ok(m) => Some(m),
            Err(Problem::InvalidArgument(list)) => {
                for x in list {
                    v.add(x.field, x.reason);
                }
                None
            }
            Err(other) => return Err(other),
        };
        let month = v.finish(|| month)?;
        let Some(month) = month else {
            return Err(Problem::invalid("month", "is required"));
        };
        let name = month.name();
        let cards = self.store.cards(&r.customer_ids, &name, &name).await?;
        let names = self.store.customers(&r.customer_ids).await?;
        let columns: Vec<(String, Card)> = r
            .customer_ids
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    cards
                        .get(&(id.clone(), name.clone()))
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect();
        let totals: Vec<i32> = columns
            .iter()
            .map(|(_, c)| sheet::total(&c.scores()))
            .collect();
        let ranks = sheet::shared_ranks(&totals);
        let customers = columns
            .iter()
            .zip(totals.iter().zip(ranks))
            .map(|((id, card), (total, rank))| {
                let scores = card.scores();
                pb::ComparedCustomer {
                    customer_id: id.clone(),
                    customer_name: names.get(id).map(|c| c.name.clone()).unwrap_or_default(),
                    scores: factor_scores(card),
                    group_scores: group_scores(&scores),
                    total: *total,
                    rank,
                    complete: sheet::complete(&scores),
                }
            })
            .collect();
        Ok(pb::CompareSalesForceResponse {
            month: name,
            factors: FACTORS.iter().map(factor_message).collect(),
            customers,
        })
    }

    /// A composition for a period.
    pub(super) async fn composition(
        &self,
        r: &pb::GetCompositionRequest,
    ) -> Result<pb::GetCompositionResponse, Problem> {
        let dimension = pb::CompositionDimension::try_from(r.dimension)
            .ok()
            .filter(|d| *d != pb::CompositionDimension::Unspecified)
            .ok_or_else(|| {
                Problem::invalid("dimension", "must be SALES, PRODUCT, REGION or CREDIT")
            })?;
        let period = period_of("period", &r.period)?;
        if r.top_n < 0 {
            return Err(Problem::invalid("top_n", "must not be negative"));
        }
        let (rows, measure) = match dimension {
            pb::CompositionDimension::Credit => (
                self.store.credit_composition(period, r.team.trim()).await?,
                "open_receivables",
            ),
            other => {
                let breakdown = match other {
                    pb::CompositionDimension::Product => Breakdown::Product,
                    pb::CompositionDimension::Region => Breakdown::Region,
                    _ => Breakdown::Grade,
                };
                (
                    self.store
                        .sales_composition(breakdown, period, r.team.trim())
                        .await?,
                    "sales",
                )
            }
        };
        let mut rows: Vec<SliceRow> = rows
            .into_iter()
            .filter(|s| s.amount != 0 || s.previous != 0)
            .collect();
        rows.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.key.cmp(&b.key)));
        if r.top_n > 0 && rows.len() > r.top_n as usize {
            let rest = rows.split_off(r.top_n as usize);
            rows.push(SliceRow {
                key: "other".into(),
                amount: rest.iter().map(|s| s.amount).sum(),
                previous: rest.iter().map(|s| s.previous).sum(),
                customers: rest.iter().map(|s| s.customers).sum(),
            });
        }
        let total: i64 = rows.iter().map(|s| s.amount).sum();
        let slices = rows
            .into_iter()
            .map(|s| pb::CompositionSlice {
                label: label(dimension, &s.key),
                amount: format_cents(s.amount),
                share_percent: share(s.amount, total),
                customer_count: s.customers as i32,
                previous_amount: format_cents(s.previous),
                key: s.key,
            })
            .collect();
        Ok(pb::GetCompositionResponse {
            dimension: dimension as i32,
            period: period.name(),
            total_amount: format_cents(total),
            slices,
            measure: measure.into(),
        })
    }

    /// The ABC classification (all rows when `everything`, else one page).
    pub(super) async fn classify(
        &self,
        r: &pb::ClassifyCustomersRequest,
        everything: bool,
    ) -> Result<pb::ClassifyCustomersResponse, Problem> {
        let period = period_of("period", &r.period)?;
        let thresholds = Thresholds::parse(&r.a_share_percent, &r.b_share_percent, self.thresholds)
            .map_err(|(field, reason)| Problem::invalid(field, reason))?;
        let (limit, offset, page) = if everything {
            (u64::MAX / 4, 0, None)
        } else {
            let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
            (page.size, page.offset, Some(page))
        };
        let c = self
            .store
            .classify(period, thresholds, r.key_accounts_only, limit, offset)
            .await?;
        let matching = if r.key_accounts_only {
            c.key_accounts
        } else {
            c.customers
        };
        let customers = c
            .rows
            .iter()
            .map(|row| {
                let class = match row.class {
                    1 => pb::AbcClass::A,
                    2 => pb::AbcClass::B,
                    _ => pb::AbcClass::C,
                };
                let value = class == pb::AbcClass::A;
                pb::CustomerClass {
                    customer_id: row.customer_id.clone(),
                    customer_name: row.name.clone(),
                    rank: row.rank as i32,
                    sales_amount: format_cents(row.sales),
                    share_percent: share(row.sales, c.total),
                    cumulative_share_percent: share(row.cumulative, c.total),
                    abc_class: class as i32,
                    key_account: value || (row.potential && row.strategic),
                    criteria: Some(pb::KeyAccountCriteria {
                        customer_value: value,
                        market_potential: row.potential,
                        strategic_importance: row.strategic,
                    }),
                }
            })
            .collect();
        Ok(pb::ClassifyCustomersResponse {
            period: period.name(),
            total_sales: format_cents(c.total),
            customers,
            a_count: c.counts[0] as i32,
            b_count: c.counts[1] as i32,
            c_count: c.counts[2] as i32,
            key_account_count: c.key_accounts as i32,
            next_page_token: page
                .map(|p| p.next_token(matching.max(0) as u64))
                .unwrap_or_default(),
            total_size: total_size(matching.max(0) as u64),
        })
    }

    /// Key-customer sales for a month (all rows when `everything`).
    pub(super) async fn key_sales(
        &self,
        r: &pb::GetKeyCustomerSalesRequest,
        everything: bool,
    ) -> Result<pb::GetKeyCustomerSalesResponse, Problem> {
        let month = month_of("month", &r.month)?;
        let (limit, offset, page) = if everything {
            (u64::MAX / 4, 0, None)
        } else {
            let page = Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
            (page.size, page.offset, Some(page))
        };
        let (rows, total, count) = self
            .store
            .key_customer_sales(
                month,
                r.region.trim(),
                r.salesperson_id.trim(),
                limit,
                offset,
            )
            .await?;
        let message = |row: &crate::store::reports::KeySalesRow| {
            let [m0, m1, m2, m3, m4] = row.amounts;
            pb::KeyCustomerSalesRow {
                customer_id: row.customer_id.clone(),
                customer_name: row.name.clone(),
                region: row.region.clone(),
                salesperson_id: row.salesperson_id.clone(),
                month_amount: format_cents(m0),
                last_month_amount: format_cents(m1),
                last_year_month_amount: format_cents(m2),
                year_to_date_amount: format_cents(m3),
                last_year_to_date_amount: format_cents(m4),
                growth_percent: format_percent(percent(from_cents(m0 - m2), from_cents(m2))),
                year_target_amount: if row.target > 0 {
                    format_cents(row.target)
                } else {
                    String::new()
                },
                completion_percent: share(m3, row.target),
                collected_amount: format_cents(row.collected),
            }
        };
        Ok(pb::GetKeyCustomerSalesResponse {
            month: month.name(),
            rows: rows.iter().map(message).collect(),
            total: Some(message(&total)),
            next_page_token: page
                .map(|p| p.next_token(count.max(0) as u64))
                .unwrap_or_default(),
            total_size: total_size(count.max(0) as u64),
        })
    }

    /// Salesperson performance for a period.
    pub(super) async fn performance(
        &self,
        r: &pb::GetSalespersonPerformanceRequest,
    ) -> Result<pb::GetSalespersonPerformanceResponse, Problem> {
        let period = period_of("period", &r.period)?;
        let figures = self
            .store
            .salesperson_figures(
                period,
                r.team.trim(),
                r.salesperson_id.trim(),
                period.instants(self.utc_offset_minutes),
            )
            .await?;
        let mut rows: Vec<pb::SalespersonPerformanceRow> = figures
            .iter()
            .map(|(id, f)| pb::SalespersonPerformanceRow {
                salesperson_id: id.clone(),
                salesperson_name: id.clone(),
                team: f.team.clone(),
                sales_amount: format_cents(f.sales),
                collected_amount: format_cents(f.collected),
                overdue_amount: format_cents(f.overdue),
                // Work plans (the salespeople's targets) are not on visit-journal's feed yet.
                target_amount: String::new(),
                completion_percent: String::new(),
                visits_planned: f.visits_planned as i32,
                visits_done: f.visits_done as i32,
                complaints_received: f.complaints as i32,
                new_customers: f.new_customers as i32,
                journal_rate_percent: String::new(),
            })
            .collect();
        rows.sort_by(|a, b| {
            let amount = |x: &pb::SalespersonPerformanceRow| {
                x.sales_amount
                    .parse::<rust_decimal::Decimal>()
                    .unwrap_or_default()
            };
            amount(b)
                .cmp(&amount(a))
                .then_with(|| a.salesperson_id.cmp(&b.salesperson_id))
        });
        let sum = |f: fn(&crate::store::dashboard::SalespersonFigures) -> i64| -> i64 {
            figures.values().map(f).sum()
        };
        let total = pb::SalespersonPerformanceRow {
            sales_amount: format_cents(sum(|f| f.sales)),
            collected_amount: format_cents(sum(|f| f.collected)),
            overdue_amount: format_cents(sum(|f| f.overdue)),
            visits_planned: sum(|f| f.visits_planned) as i32,
            visits_done: sum(|f| f.visits_done) as i32,
            complaints_received: sum(|f| f.complaints) as i32,
            new_customers: sum(|f| f.new_customers) as i32,
            ..Default::default()
        };
        Ok(pb::GetSalespersonPerformanceResponse {
            period: period.name(),
            rows,
            total: Some(total),
        })
    }

    /// The dashboard.
    pub(super) async fn dashboard(
        &self,
        r: &pb::GetDashboardRequest,
    ) -> Result<pb::GetDashboardResponse, Problem> {
        let today = self.today();
        let period = if r.period.trim().is_empty() {
            Period::month(today.year(), today.month())
                .ok_or_else(|| Problem::internal("no current month"))?
        } else {
            period_of("period", &r.period)?
        };
        let movers = match r.top_movers {
            0 => 5,
            n if (1..=MAX_MOVERS).contains(&n) => n,
            n => {
                return Err(Problem::invalid(
                    "top_movers",
                    format!("{n} is not between 0 and {MAX_MOVERS}"),
                ));
            }
        } as u64;
        let now = self.now();
        let f = self
            .store
            .dashboard(period, r.team.trim(), today, now.timestamp())
            .await?;
        let mover = |m: crate::store::dashboard::MoverRow| pb::Mover {
            customer_id: m.customer_id,
            customer_name: m.name,
            current_amount: format_cents(m.current),
            previous_amount: format_cents(m.previous),
            change_amount: format_cents(m.current - m.previous),
            change_percent: format_percent(percent(
                from_cents(m.current - m.previous),
                from_cents(m.previous),
            )),
        };
        let gainers = self
            .store
            .movers(period, r.team.trim(), true, movers)
            .await?;
        let decliners = self
            .store
            .movers(period, r.team.trim(), false, movers)
            .await?;
        Ok(pb::GetDashboardResponse {
            period: period.name(),
            sales_amount: format_cents(f.sales),
            previous_sales_amount: format_cents(f.previous_sales),
            collected_amount: format_cents(f.collected),
            open_receivables: format_cents(f.open),
            overdue_amount: format_cents(f.overdue),
            visits_planned: f.visits_planned as i32,
            visits_done: f.visits_done as i32,
            visit_completion_percent: format_percent(percent(
                rust_decimal::Decimal::from(f.visits_done),
                rust_decimal::Decimal::from(f.visits_planned),
            )),
            open_complaints: f.open_complaints as i32,
            overdue_complaints: f.overdue_complaints as i32,
            top_gainers: gainers.into_iter().map(mover).collect(),
            top_decliners: decliners.into_iter().map(mover).collect(),
            unacknowledged_urgent_reports: f.urgent_reports as i32,
            pending_approvals: f.pending_approvals as i32,
            data_as_of_time: self.data_as_of(now).await?.map(to_timestamp),
        })
    }

    /// The time up to which every source is applied: now for a source caught up with what it
    /// has seen, else the commit time of its last applied event; the earliest over the sources.
    async fn data_as_of(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Problem> {
        let positions = self.store.positions().await?;
        let mut earliest = now;
        for source in Source::ALL {
            let state = self.board.get(source);
            let (applied, event_time, _) = positions
                .get(source.name())
                .copied()
                .unwrap_or((0, None, None));
            if !state.connected || state.latest_seen > applied {
                match at(event_time) {
                    Some(t) => earliest = earliest.min(t),
                    None => return Ok(None),
                }
            }
        }
        Ok(Some(earliest))
    }

    /// The lag of every source.
    pub(super) async fn feed_lag(&self) -> Result<pb::GetFeedLagResponse, Problem> {
        let positions = self.store.positions().await?;
        let now = self.now();
        let sources = Source::ALL
            .iter()
            .map(|&source| {
                let state = self.board.get(source);
                let (applied, event_time, applied_at) = positions
                    .get(source.name())
                    .copied()
                    .unwrap_or((0, None, None));
                let latest = state.latest_seen.max(applied);
                pb::FeedLag {
                    source: source.name().into(),
                    applied_sequence: applied,
                    latest_sequence: latest,
                    lag_events: latest - applied,
                    last_applied_event_time: at(event_time).map(to_timestamp),
                    last_apply_time: at(applied_at).map(to_timestamp),
                    lag_seconds: match state.oldest_pending {
                        Some(t) if latest > applied => (now.timestamp() - t).max(0),
                        _ => 0,
                    },
                    connected: state.connected,
                    last_error: state.last_error,
                }
            })
            .collect();
        Ok(pb::GetFeedLagResponse {
            sources,
            check_time: Some(to_timestamp(now)),
        })
    }
}

/// The display label of a slice key.
fn label(dimension: pb::CompositionDimension, key: &str) -> String {
    if key == "other" {
        return "其他 other".into();
    }
    match dimension {
        pb::CompositionDimension::Sales => match key {
            "1" => "A 重要".into(),
            "2" => "B 特殊".into(),
            "3" => "C 一般".into(),
            "4" => "D 偶尔".into(),
            _ => "未分级 ungraded".into(),
        },
        pb::CompositionDimension::Credit => match key {
            "A" => "A 无逾期".into(),
            "B" => "B 逾期 ≤ 30 天".into(),
            "C" => "C 逾期 ≤ 90 天".into(),
            _ => "D 逾期 > 90 天".into(),
        },
        _ if key.is_empty() => "未知 unknown".into(),
        _ => key.to_owned(),
    }
}
