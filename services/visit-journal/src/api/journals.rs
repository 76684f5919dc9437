//! Daily work journals (附表九) and their sign-off chain.

use dossier_kit::auth::{Caller, Role};
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::paging::{Page, total_size};
use dossier_kit::time::{format_date, parse_date};
use dossier_kit::{Problem, Violations};
use dossier_proto::visit as pb;
use prost::Message;

use super::{
    Auth, VisitApi, date_required, display_name, etag, etag_of, invalid, query_key, time_of, ts,
};
use crate::domain::amounts::{MONEY_PLACES, QUANTITY_PLACES, format_decimal, parse_decimal};
use crate::domain::journal::{
    self, Chain, Decision, JournalState, SignOffRole, Span, check_spans, ensure_editable,
};
use crate::domain::policy::{Operation, authorize};
use crate::store::{NewRecord, RequestKey, Where, check_etag, new_id};

const TABLE: &str = "journals";
const SCOPE: &str = "CreateJournal";

/// The parts of a journal its author writes.
const EDITABLE: [&str; 5] = [
    "visits",
    "market_analysis",
    "product_analysis",
    "collections",
    "internal_affairs",
];

fn state_to_proto(state: JournalState) -> pb::JournalState {
    match state {
        JournalState::Draft => pb::JournalState::Draft,
        JournalState::Submitted => pb::JournalState::Submitted,
        JournalState::HeadApproved => pb::JournalState::HeadApproved,
        JournalState::VicePresidentApproved => pb::JournalState::VicePresidentApproved,
        JournalState::AccountantConfirmed => pb::JournalState::AccountantConfirmed,
        JournalState::Approved => pb::JournalState::Approved,
        JournalState::Returned => pb::JournalState::Returned,
    }
}

fn state_from_proto(state: i32) -> Result<JournalState, Problem> {
    Ok(match pb::JournalState::try_from(state) {
        Ok(pb::JournalState::Draft) => JournalState::Draft,
        Ok(pb::JournalState::Submitted) => JournalState::Submitted,
        Ok(pb::JournalState::HeadApproved) => JournalState::HeadApproved,
        Ok(pb::JournalState::VicePresidentApproved) => JournalState::VicePresidentApproved,
        Ok(pb::JournalState::AccountantConfirmed) => JournalState::AccountantConfirmed,
        Ok(pb::JournalState::Approved) => JournalState::Approved,
        Ok(pb::JournalState::Returned) => JournalState::Returned,
        _ => {
            return Err(Problem::internal(format!(
                "stored journal state {state} unknown"
            )));
        }
    })
}

fn role_to_proto(role: Option<SignOffRole>) -> pb::SignOffRole {
    match role {
        None => pb::SignOffRole::Unspecified,
        Some(SignOffRole::Author) => pb::SignOffRole::Author,
        Some(SignOffRole::DepartmentHead) => pb::SignOffRole::DepartmentHead,
        Some(SignOffRole::VicePresident) => pb::SignOffRole::VicePresident,
        Some(SignOffRole::Accountant) => pb::SignOffRole::Accountant,
        Some(SignOffRole::Cashier) => pb::SignOffRole::Cashier,
    }
}

/// The sign-off roles whose inbox a caller's role fills.
fn inbox_roles(caller: &Caller) -> Vec<pb::SignOffRole> {
    match caller.role {
        Role::SalesManager => vec![pb::SignOffRole::DepartmentHead],
        Role::Executive => vec![pb::SignOffRole::VicePresident],
        Role::Finance => vec![pb::SignOffRole::Accountant, pb::SignOffRole::Cashier],
        _ => vec![],
    }
}

/// Who may read a journal: its author, a manager of its team, and the chain's other roles.
fn may_read(caller: &Caller, journal: &pb::Journal) -> Result<(), Problem> {
    let allowed = caller.sub == journal.salesperson_id
        || (caller.role == Role::SalesManager && caller.team == journal.team)
        || caller.is_any(&[
            Role::Executive,
            Role::Finance,
            Role::Archivist,
            Role::Auditor,
        ]);
    if allowed {
        Ok(())
    } else {
        Err(Problem::denied(format!(
            "{} may not read the journal of {}",
            caller.sub, journal.salesperson_id
        )))
    }
}

impl VisitApi {
    /// Checks the author's parts of a journal and normalises amounts; looks the customers up.
    async fn check_content(&self, auth: &Auth, journal: &mut pb::Journal) -> Result<(), Problem> {
        let mut violations = Violations::new();
        let mut spans = Vec::with_capacity(journal.visits.len());
        let mut named = Vec::new();
        for (i, visit) in journal.visits.iter().enumerate() {
            let at = |name: &str| format!("journal.visits[{i}].{name}");
            let from = violations.check(time_of(&at("from_time"), visit.from_time.as_ref()));
            let to = violations.check(time_of(&at("to_time"), visit.to_time.as_ref()));
            match (from.flatten(), to.flatten()) {
                (Some(from), Some(to)) => spans.push(Some(Span { from, to })),
                (None, _) if from.is_some() => {
                    violations.add(at("from_time"), "is required");
                    spans.push(None);
                }
                (_, None) if to.is_some() => {
                    violations.add(at("to_time"), "is required");
                    spans.push(None);
                }
                _ => spans.push(None),
            }
            if visit.customer_id.is_empty() && visit.customer_name.trim().is_empty() {
                violations.add(at("customer_id"), "is required (or customer_name)");
            }
            named.push((visit.customer_id.clone(), at("customer_id")));
        }
        check_spans(&spans, &mut violations);
        for (i, entry) in journal.collections.iter_mut().enumerate() {
            let at = |name: &str| format!("journal.collections[{i}].{name}");
            if entry.customer_id.is_empty() && entry.customer_name.trim().is_empty() {
                violations.add(at("customer_id"), "is required (or customer_name)");
            }
            named.push((entry.customer_id.clone(), at("customer_id")));
            violations.check(time_of(
                &at("collection_time"),
                entry.collection_time.as_ref(),
            ));
            if let Some(q) = violations
                .check(parse_decimal(
                    &at("quantity_kg"),
                    &entry.quantity_kg,
                    QUANTITY_PLACES,
                ))
                .flatten()
            {
                entry.quantity_kg = format_decimal(q, QUANTITY_PLACES);
            }
            for (name, value) in [
                ("contract_amount", &mut entry.contract_amount),
                ("amount_paid", &mut entry.amount_paid),
            ] {
                if let Some(amount) = violations
                    .check(parse_decimal(&at(name), value, MONEY_PLACES))
                    .flatten()
                {
                    *value = format_decimal(amount, MONEY_PLACES);
                }
            }
            if entry.amount_paid.is_empty() {
                violations.add(at("amount_paid"), "is required");
            }
        }
        invalid(violations)?;
        let facts = self.customers(auth, &named).await?;
        for visit in &mut journal.visits {
            if let Some(f) = facts.get(&visit.customer_id) {
                visit.customer_name = f.name.clone();
            }
        }
        for entry in &mut journal.collections {
            if let Some(f) = facts.get(&entry.customer_id) {
                entry.customer_name = f.name.clone();
            }
        }
        Ok(())
    }

    async fn store_journal(
        &self,
        journal: &mut pb::Journal,
        version: i64,
        event: &str,
        actor: &str,
    ) -> Result<(), Problem> {
        let now = self.now();
        let state = state_from_proto(journal.state)?;
        journal.awaiting_role = role_to_proto(state.awaiting()) as i32;
        journal.etag = etag(version + 1);
        journal.update_time = ts(now);
        self.store
            .replace_record(
                TABLE,
                &journal.id.clone(),
                version,
                journal,
                vec![
                    ("state", state.code().into()),
                    ("awaiting_role", journal.awaiting_role.into()),
                    ("updated_at", now.into()),
                ],
                event,
                None,
                actor,
                now,
            )
            .await
    }

    pub(super) async fn create_journal_(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::CreateJournalRequest,
    ) -> Result<pb::Journal, Problem> {
        authorize(caller, Operation::WriteJournal)?;
        validate_request_id("request_id", &request.request_id)?;
        let message = request
            .journal
            .ok_or_else(|| Problem::invalid("journal", "is required"))?;
        if !message.salesperson_id.is_empty() && message.salesperson_id != caller.sub {
            return Err(Problem::denied(
                "a journal is written by its author (制表人) only",
            ));
        }
        let mut violations = Violations::new();
        let date = violations.check(date_required("journal.journal_date", &message.journal_date));
        if let Some(date) = date
            && date > self.today()
        {
            violations.add("journal.journal_date", "is in the future");
        }
        invalid(violations)?;
        let print = fingerprint(&message.encode_to_vec());
        let key = RequestKey {
            scope: SCOPE,
            request_id: &request.request_id,
            fingerprint: &print,
        };
        if let Some(id) = self.store.replayed(&key).await? {
            return Ok(self
                .store
                .load::<pb::Journal>(TABLE, "journal", &id)
                .await?
                .0);
        }
        let mut journal = pb::Journal {
            visits: message.visits,
            market_analysis: message.market_analysis,
            product_analysis: message.product_analysis,
            collections: message.collections,
            internal_affairs: message.internal_affairs,
            ..pb::Journal::default()
        };
        self.check_content(auth, &mut journal).await?;
        let now = self.now();
        journal.id = new_id();
        journal.salesperson_id = caller.sub.clone();
        journal.salesperson_name = display_name(caller);
        journal.team = caller.team.clone();
        journal.journal_date = format_date(date);
        journal.state = pb::JournalState::Draft as i32;
        journal.etag = etag(1);
        journal.create_time = ts(now);
        journal.update_time = ts(now);
        let inserted = self
            .store
            .insert_record(NewRecord {
                table: TABLE,
                columns: &[
                    "id",
                    "salesperson_id",
                    "team",
                    "journal_date",
                    "state",
                    "awaiting_role",
                    "version",
                    "updated_at",
                ],
                values: vec![
                    journal.id.clone().into(),
                    journal.salesperson_id.clone().into(),
                    journal.team.clone().into(),
                    journal.journal_date.clone().into(),
                    JournalState::Draft.code().into(),
                    0i32.into(),
                    1i64.into(),
                    now.into(),
                ],
                message: &journal,
                id: &journal.id,
                customer_id: None,
                key: Some(key),
                event_type: "journal.created",
                actor: &caller.sub,
                now,
            })
            .await;
        match inserted {
            Ok(()) => Ok(journal),
            Err(Problem::Aborted { message }) => {
                if let Some(id) = self.store.replayed(&key).await? {
                    return Ok(self
                        .store
                        .load::<pb::Journal>(TABLE, "journal", &id)
                        .await?
                        .0);
                }
                let mut filter = Where::default();
                filter
                    .eq_text("salesperson_id", &caller.sub)
                    .eq_text("journal_date", &journal.journal_date);
                let (existing, _) = self
                    .store
                    .list::<pb::Journal>(TABLE, &filter, "id", 0, 1)
                    .await?;
                match existing.into_iter().next() {
                    Some(existing) => Err(Problem::AlreadyExists {
                        resource: "journal",
                        existing_id: existing.id,
                        reason: "JOURNAL_EXISTS",
                        message: format!(
                            "{} already has a journal for {}",
                            caller.sub, journal.journal_date
                        ),
                    }),
                    None => Err(Problem::Aborted { message }),
                }
            }
            Err(other) => Err(other),
        }
    }

    pub(super) async fn journal(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::GetJournalRequest,
    ) -> Result<pb::Journal, Problem> {
        authorize(caller, Operation::Read)?;
        let (journal, _) = self
            .store
            .load::<pb::Journal>(TABLE, "journal", &request.id)
            .await?;
        may_read(caller, &journal)?;
        Ok(journal)
    }

    pub(super) async fn edit_journal(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::UpdateJournalRequest,
    ) -> Result<pb::Journal, Problem> {
        authorize(caller, Operation::WriteJournal)?;
        let incoming = request
            .journal
            .ok_or_else(|| Problem::invalid("journal", "is required"))?;
        let (mut journal, version) = self
            .store
            .load::<pb::Journal>(TABLE, "journal", &incoming.id)
            .await?;
        if journal.salesperson_id != caller.sub {
            return Err(Problem::denied("only the author (制表人) edits a journal"));
        }
        ensure_editable(state_from_proto(journal.state)?)?;
        check_etag(etag_of(&request.etag, &incoming.etag), version)?;
        let paths: Vec<String> = match &request.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
            _ => EDITABLE.iter().map(|p| (*p).to_owned()).collect(),
        };
        let mut violations = Violations::new();
        for path in &paths {
            if !EDITABLE.contains(&path.as_str()) {
                violations.add(format!("journal.{path}"), "is not written by the author");
            }
        }
        invalid(violations)?;
        for path in &paths {
            match path.as_str() {
                "visits" => journal.visits = incoming.visits.clone(),
                "market_analysis" => journal.market_analysis = incoming.market_analysis.clone(),
                "product_analysis" => journal.product_analysis = incoming.product_analysis.clone(),
                "collections" => journal.collections = incoming.collections.clone(),
                _ => journal.internal_affairs = incoming.internal_affairs.clone(),
            }
        }
        self.check_content(auth, &mut journal).await?;
        self.store_journal(&mut journal, version, "journal.updated", &caller.sub)
            .await?;
        Ok(journal)
    }

    pub(super) async fn journals(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::ListJournalsRequest,
    ) -> Result<pb::ListJournalsResponse, Problem> {
        authorize(caller, Operation::Read)?;
        let mut violations = Violations::new();
        let from = violations
            .check(parse_date("from_date", &request.from_date))
            .flatten();
        let to = violations
            .check(parse_date("to_date", &request.to_date))
            .flatten();
        let state = if request.state == 0 {
            None
        } else {
            match state_from_proto(request.state) {
                Ok(state) => Some(state),
                Err(_) => {
                    violations.add("state", "is not a journal state");
                    None
                }
            }
        };
        invalid(violations)?;
        let page = Page::parse(request.page_size, &request.page_token, &query_key!(request))?;
        let mut filter = Where::default();
        // A salesperson's list is his own journals; a manager's his team's.
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
            .eq_text("team", &request.team);
        if let Some(state) = state {
            filter.eq_text("state", state.code());
        }
        if let Some(from) = from {
            filter.raw("journal_date >= ?", vec![format_date(Some(from)).into()]);
        }
        if let Some(to) = to {
            filter.raw("journal_date <= ?", vec![format_date(Some(to)).into()]);
        }
        if request.awaiting_my_review {
            let roles = inbox_roles(caller);
            if roles.is_empty() {
                filter.raw("1 = 0", vec![]);
            } else {
                let marks = vec!["?"; roles.len()].join(", ");
                filter.raw(
                    &format!("awaiting_role IN ({marks})"),
                    roles.iter().map(|r| (*r as i32).into()).collect(),
                );
                filter.raw("salesperson_id <> ?", vec![caller.sub.clone().into()]);
            }
        }
        let (journals, total) = self
            .store
            .list::<pb::Journal>(
                TABLE,
                &filter,
                "journal_date DESC, id DESC",
                page.offset,
                page.size,
            )
            .await?;
        Ok(pb::ListJournalsResponse {
            journals,
            next_page_token: page.next_token(total),
            total_size: total_size(total),
        })
    }

    pub(super) async fn submit(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::SubmitJournalRequest,
    ) -> Result<pb::Journal, Problem> {
        authorize(caller, Operation::WriteJournal)?;
        let (mut journal, version) = self
            .store
            .load::<pb::Journal>(TABLE, "journal", &request.id)
            .await?;
        let chain = Chain {
            state: state_from_proto(journal.state)?,
            author_id: &journal.salesperson_id,
            team: &journal.team,
            has_collections: !journal.collections.is_empty(),
            accountant_id: None,
        };
        let next = journal::submit(&chain, caller)?;
        check_etag(&request.etag, version)?;
        let now = self.now();
        journal.state = state_to_proto(next) as i32;
        journal.submit_time = ts(now);
        journal.sign_offs.push(pb::SignOffStep {
            role: pb::SignOffRole::Author as i32,
            actor_id: caller.sub.clone(),
            actor_name: display_name(caller),
            sign_time: ts(now),
            decision: pb::SignOffDecision::Submit as i32,
            comment: request.comment,
        });
        self.store_journal(&mut journal, version, "journal.submitted", &caller.sub)
            .await?;
        Ok(journal)
    }

    pub(super) async fn review(
        &self,
        caller: &Caller,
        _auth: &Auth,
        request: pb::ReviewJournalRequest,
    ) -> Result<pb::Journal, Problem> {
        let decision = match pb::ReviewDecision::try_from(request.decision) {
            Ok(pb::ReviewDecision::Approve) => Decision::Approve,
            Ok(pb::ReviewDecision::Return) => Decision::Return,
            _ => return Err(Problem::invalid("decision", "must be APPROVE or RETURN")),
        };
        let (mut journal, version) = self
            .store
            .load::<pb::Journal>(TABLE, "journal", &request.id)
            .await?;
        // The accountant of the current round: the cashier must be someone else.
        let accountant = journal
            .sign_offs
            .iter()
            .rev()
            .take_while(|s| s.decision != pb::SignOffDecision::Submit as i32)
            .find(|s| s.role == pb::SignOffRole::Accountant as i32)
            .map(|s| s.actor_id.clone());
        let chain = Chain {
            state: state_from_proto(journal.state)?,
            author_id: &journal.salesperson_id,
            team: &journal.team,
            has_collections: !journal.collections.is_empty(),
            accountant_id: accountant.as_deref(),
        };
        let (next, role) = journal::review(&chain, caller, decision, &request.comment)?;
        check_etag(&request.etag, version)?;
        let now = self.now();
        if role == SignOffRole::DepartmentHead && !request.supervisor_evaluation.is_empty() {
            journal.supervisor_evaluation = request.supervisor_evaluation.clone();
        }
        journal.state = state_to_proto(next) as i32;
        journal.sign_offs.push(pb::SignOffStep {
            role: role_to_proto(Some(role)) as i32,
            actor_id: caller.sub.clone(),
            actor_name: display_name(caller),
            sign_time: ts(now),
            decision: match decision {
                Decision::Approve => pb::SignOffDecision::Approve,
                Decision::Return => pb::SignOffDecision::Return,
            } as i32,
            comment: request.comment,
        });
        let event = match next {
            JournalState::Approved => "journal.approved",
            JournalState::Returned => "journal.returned",
            _ => "journal.signed",
        };
        self.store_journal(&mut journal, version, event, &caller.sub)
            .await?;
        Ok(journal)
    }
}
