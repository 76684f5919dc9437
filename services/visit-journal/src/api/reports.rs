//! Reports (推销员客户信息报告制度): daily, urgent and periodic. An urgent report reaches the
//! managers at once — live on `WatchUrgentReports`, and as unacknowledged in `ListReports` for
//! whoever was not watching.

use std::collections::HashSet;

use dossier_kit::auth::{Caller, Role};
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::time::{format_date, parse_date};
use dossier_kit::{Problem, Violations};
use dossier_proto::visit as pb;
use prost::Message;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{Auth, ReportStream, VisitApi, display_name, etag, invalid, query_key, time_of, ts};
use crate::domain::period::{parse_month, parse_week};
use crate::domain::policy::{Operation, authorize};
use crate::store::{NewRecord, RequestKey, Where, check_etag, new_id};

const TABLE: &str = "reports";
const SCOPE: &str = "FileReport";

/// The team whose reports a manager handles: his own; an executive any (empty: all).
fn managed_team(caller: &Caller, requested: &str) -> Result<String, Problem> {
    if caller.role == Role::SalesManager {
        if !requested.is_empty() && requested != caller.team {
            return Err(Problem::denied(format!(
                "a manager of team {} handles only its reports",
                caller.team
            )));
        }
        return Ok(caller.team.clone());
    }
    Ok(requested.to_owned())
}

impl VisitApi {
    pub(super) async fn file(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::FileReportRequest,
    ) -> Result<pb::Report, Problem> {
        authorize(caller, Operation::FileReport)?;
        validate_request_id("request_id", &request.request_id)?;
        let message = request
            .report
            .ok_or_else(|| Problem::invalid("report", "is required"))?;
        if !message.salesperson_id.is_empty() && message.salesperson_id != caller.sub {
            return Err(Problem::denied("a report is filed by its salesperson only"));
        }
        let mut violations = Violations::new();
        let kind = pb::ReportKind::try_from(message.kind).unwrap_or(pb::ReportKind::Unspecified);
        if kind == pb::ReportKind::Unspecified {
            violations.add("report.kind", "must be DAILY, URGENT or PERIODIC");
        }
        if message.content.trim().is_empty() {
            violations.add("report.content", "is required");
        }
        let date = violations
            .check(parse_date("report.report_date", &message.report_date))
            .flatten()
            .unwrap_or_else(|| self.today());
        if kind == pb::ReportKind::Periodic {
            let period = message.period.trim();
            if period.is_empty() {
                violations.add("report.period", "is required for a periodic report");
            } else if period.contains("-W") {
                violations.check(parse_week("report.period", period));
            } else {
                violations.check(parse_month("report.period", period));
            }
        }
        invalid(violations)?;
        let print = fingerprint(&message.encode_to_vec());
        let key = RequestKey {
            scope: SCOPE,
            request_id: &request.request_id,
            fingerprint: &print,
        };
        if let Some(id) = self.store.replayed(&key).await? {
            return Ok(self.store.load::<pb::Report>(TABLE, "report", &id).await?.0);
        }
        let customer_name = if message.customer_id.is_empty() {
            String::new()
        } else {
            self.customer(auth, &message.customer_id, "report.customer_id")
                .await?
                .name
        };
        let now = self.now();
        let report = pb::Report {
            id: new_id(),
            kind: kind as i32,
            customer_id: message.customer_id,
            customer_name,
            salesperson_id: caller.sub.clone(),
            salesperson_name: display_name(caller),
            title: message.title,
            content: message.content,
            report_date: format_date(Some(date)),
            period: message.period.trim().to_owned(),
            team: caller.team.clone(),
            etag: etag(1),
            create_time: ts(now),
            ..pb::Report::default()
        };
        let inserted = self
            .store
            .insert_record(NewRecord {
                table: TABLE,
                columns: &[
                    "id",
                    "kind",
                    "customer_id",
                    "salesperson_id",
                    "team",
                    "report_date",
                    "acknowledged",
                    "version",
                    "created_at",
                ],
                values: vec![
                    report.id.clone().into(),
                    report.kind.into(),
                    report.customer_id.clone().into(),
                    report.salesperson_id.clone().into(),
                    report.team.clone().into(),
                    report.report_date.clone().into(),
                    false.into(),
                    1i64.into(),
                    now.into(),
                ],
                message: &report,
                id: &report.id,
                customer_id: (!report.customer_id.is_empty()).then(|| report.customer_id.clone()),
                key: Some(key),
                event_type: "report.filed",
                actor: &caller.sub,
                now,
            })
            .await;
        match inserted {
            Ok(()) => {
                if kind == pb::ReportKind::Urgent {
                    // Nobody watching is fine: the report stays unacknowledged in the list.
                    let _ = self.urgent.send(report.clone());
                }
                Ok(report)
            }
            Err(Problem::Aborted { message }) => match self.store.replayed(&key).await? {
                Some(id) => Ok(self.store.load::<pb::Report>(TABLE, "report", &id).await?.0),
                None => Err(Problem::Aborted { message }),
            },
            Err(other) => Err(other),
        }
    }

    pub(super) async fn reports(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::ListReportsRequest,
    ) -> Result<pb::ListReportsResponse, Problem> {
        authorize(caller, Operation::Read)?;
        let mut violations = Violations::new();
        let from = violations
            .check(parse_date("from_date", &request.from_date))
            .flatten();
        let to = violations
            .check(parse_date("to_date", &request.to_date))
            .flatten();
        if request.kind != 0 && pb::ReportKind::try_from(request.kind).is_err() {
            violations.add("kind", "is not a report kind");
        }
        invalid(violations)?;
        let page = Page::parse(request.page_size, &request.page_token, &query_key!(request))?;
        let mut filter = Where::default();
        match caller.role {
            Role::SalesRep => {
                filter.eq_text("salesperson_id", &caller.sub);
            }
            Role::SalesManager => {
                filter.eq_text("team", &caller.team);
            }
            _ => {}
        }
        filter
            .eq_text("salesperson_id", &request.salesperson_id)
            .eq_text("customer_id", &request.customer_id)
            .eq_text("team", &request.team);
        if request.kind != 0 {
            filter.raw("kind = ?", vec![request.kind.into()]);
        }
        if request.unacknowledged {
            filter.raw("acknowledged = ?", vec![false.into()]);
        }
        if let Some(from) = from {
            filter.raw("report_date >= ?", vec![format_date(Some(from)).into()]);
        }
        if let Some(to) = to {
            filter.raw("report_date <= ?", vec![format_date(Some(to)).into()]);
        }
        let (reports, total) = self
            .store
            .list::<pb::Report>(
                TABLE,
                &filter,
                "created_at DESC, id DESC",
                page.offset,
                page.size,
            )
            .await?;
        Ok(pb::ListReportsResponse {
            reports,
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    pub(super) async fn acknowledge(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::AcknowledgeReportRequest,
    ) -> Result<pb::Report, Problem> {
        authorize(caller, Operation::ManageReports)?;
        let (mut report, version) = self
            .store
            .load::<pb::Report>(TABLE, "report", &request.id)
            .await?;
        managed_team(caller, &report.team)?;
        if report.acknowledged {
            return Err(Problem::precondition(
                "REPORT_ALREADY_ACKNOWLEDGED",
                format!(
                    "report {} was acknowledged by {}",
                    report.id, report.acknowledged_by
                ),
            ));
        }
        check_etag(&request.etag, version)?;
        let now = self.now();
        report.acknowledged = true;
        report.acknowledged_by = caller.sub.clone();
        report.acknowledge_time = ts(now);
        report.manager_comment = request.comment;
        report.etag = etag(version + 1);
        self.store
            .replace_record(
                TABLE,
                &report.id.clone(),
                version,
                &report,
                vec![("acknowledged", true.into())],
                "report.acknowledged",
                (!report.customer_id.is_empty()).then(|| report.customer_id.clone()),
                &caller.sub,
                now,
            )
            .await?;
        Ok(report)
    }

    pub(super) async fn watch_urgent(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::WatchUrgentReportsRequest,
    ) -> Result<ReportStream, Problem> {
        authorize(caller, Operation::ManageReports)?;
        let team = managed_team(caller, &request.team)?;
        let since = time_of("since_time", request.since_time.as_ref())
            .map_err(|v| Problem::InvalidArgument(vec![v]))?;
        // Subscribe before reading the backlog, so nothing filed in between is lost; a report
        // both in the backlog and live is sent once.
        let mut live = tokio_stream::wrappers::BroadcastStream::new(self.urgent.subscribe());
        let mut filter = Where::default();
        filter
            .raw("kind = ?", vec![(pb::ReportKind::Urgent as i32).into()])
            .eq_text("team", &team);
        match since {
            Some(since) => {
                filter.raw(
                    "(acknowledged = ? OR created_at >= ?)",
                    vec![false.into(), since.into()],
                );
            }
            None => {
                filter.raw("acknowledged = ?", vec![false.into()]);
            }
        }
        let (backlog, _) = self
            .store
            .list::<pb::Report>(TABLE, &filter, "created_at ASC, id ASC", 0, 10_000)
            .await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut sent: HashSet<String> = HashSet::new();
            for report in backlog {
                sent.insert(report.id.clone());
                if sender.send(Ok(report)).await.is_err() {
                    return;
                }
            }
            loop {
                use futures::StreamExt;
                tokio::select! {
                    item = live.next() => match item {
                        Some(Ok(report)) => {
                            if (!team.is_empty() && report.team != team) || !sent.insert(report.id.clone()) {
                                continue;
                            }
                            if sender.send(Ok(report)).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(BroadcastStreamRecvError::Lagged(missed))) => {
                            let status = tonic::Status::data_loss(format!(
                                "{missed} urgent reports were missed; reconnect to replay the unacknowledged ones"
                            ));
                            let _ = sender.send(Err(status)).await;
                            return;
                        }
                        None => return,
                    },
                    _ = sender.closed() => return,
                    _ = shutdown.wait() => return,
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }
}
