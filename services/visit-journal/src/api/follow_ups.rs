//! Key-account follow-up sheets (重点客户业务跟进表): interviews with countermeasures and quotes.

use dossier_kit::auth::Caller;
use dossier_kit::idempotency::{fingerprint, validate_request_id};
use dossier_kit::time::format_date;
use dossier_kit::{Problem, Violations};
use dossier_proto::visit as pb;
use prost::Message;

use super::{Auth, VisitApi, date_required, invalid, required, ts};
use crate::domain::amounts::{MONEY_PLACES, format_decimal, parse_decimal};
use crate::domain::policy::{Operation, acting_for, authorize};
use crate::store::{RequestKey, SheetEntry, new_id};

impl VisitApi {
    /// Runs an idempotent add: the replay of an earlier request, or `add`, or — when a retry of
    /// the same request won a race — that retry's result.
    async fn add_once<T>(
        &self,
        key: &RequestKey<'_>,
        pick: impl Fn(SheetEntry) -> Option<T>,
        add: impl std::future::Future<Output = Result<T, Problem>>,
    ) -> Result<T, Problem> {
        let replay = |id: String| async move {
            pick(self.store.get_follow_up(&id).await?).ok_or_else(|| Problem::AlreadyExists {
                resource: "request",
                existing_id: id,
                reason: "REQUEST_ID_REUSED",
                message: "request_id was already used for another kind of entry".into(),
            })
        };
        if let Some(id) = self.store.replayed(key).await? {
            return replay(id).await;
        }
        match add.await {
            Err(Problem::Aborted { message }) => match self.store.replayed(key).await? {
                Some(id) => replay(id).await,
                None => Err(Problem::Aborted { message }),
            },
            other => other,
        }
    }

    pub(super) async fn add_interview(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::AddFollowUpRequest,
    ) -> Result<pb::FollowUpInterview, Problem> {
        authorize(caller, Operation::WriteFollowUp)?;
        validate_request_id("request_id", &request.request_id)?;
        let message = request
            .interview
            .ok_or_else(|| Problem::invalid("interview", "is required"))?;
        let salesperson = acting_for(caller, &message.salesperson_id)?;
        let mut violations = Violations::new();
        violations.check(required("interview.customer_id", &message.customer_id));
        let date = violations.check(date_required(
            "interview.interview_date",
            &message.interview_date,
        ));
        if message.learned.trim().is_empty() && message.countermeasure.trim().is_empty() {
            violations.add("interview.learned", "is required (or countermeasure)");
        }
        invalid(violations)?;
        let print = fingerprint(&message.encode_to_vec());
        let key = RequestKey {
            scope: "AddFollowUp",
            request_id: &request.request_id,
            fingerprint: &print,
        };
        let pick = |entry| match entry {
            SheetEntry::Interview(i) => Some(i),
            SheetEntry::Quote(_) => None,
        };
        self.add_once(&key, pick, async {
            self.customer(auth, &message.customer_id, "interview.customer_id")
                .await?;
            let now = self.now();
            let id = new_id();
            let entry_date = format_date(date);
            self.store
                .add_follow_up(
                    &message.customer_id,
                    "interview",
                    &id,
                    &entry_date,
                    key,
                    &caller.sub,
                    now,
                    |number| pb::FollowUpInterview {
                        id: id.clone(),
                        number,
                        interview_date: entry_date.clone(),
                        salesperson_id: salesperson.clone(),
                        create_time: ts(now),
                        ..message.clone()
                    },
                )
                .await
        })
        .await
    }

    pub(super) async fn quote(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::AddQuoteRequest,
    ) -> Result<pb::Quote, Problem> {
        authorize(caller, Operation::WriteFollowUp)?;
        validate_request_id("request_id", &request.request_id)?;
        let message = request
            .quote
            .ok_or_else(|| Problem::invalid("quote", "is required"))?;
        let salesperson = acting_for(caller, &message.salesperson_id)?;
        let mut violations = Violations::new();
        violations.check(required("quote.customer_id", &message.customer_id));
        violations.check(required("quote.product", &message.product));
        let date = violations.check(date_required("quote.quote_date", &message.quote_date));
        let price = violations
            .check(parse_decimal(
                "quote.unit_price",
                &message.unit_price,
                MONEY_PLACES,
            ))
            .flatten();
        if price.is_none() && message.unit_price.trim().is_empty() {
            violations.add("quote.unit_price", "is required");
        }
        invalid(violations)?;
        let print = fingerprint(&message.encode_to_vec());
        let key = RequestKey {
            scope: "AddQuote",
            request_id: &request.request_id,
            fingerprint: &print,
        };
        let pick = |entry| match entry {
            SheetEntry::Quote(q) => Some(q),
            SheetEntry::Interview(_) => None,
        };
        self.add_once(&key, pick, async {
            self.customer(auth, &message.customer_id, "quote.customer_id")
                .await?;
            let now = self.now();
            let id = new_id();
            let entry_date = format_date(date);
            self.store
                .add_follow_up(
                    &message.customer_id,
                    "quote",
                    &id,
                    &entry_date,
                    key,
                    &caller.sub,
                    now,
                    |number| pb::Quote {
                        id: id.clone(),
                        number,
                        quote_date: entry_date.clone(),
                        unit_price: price
                            .map(|p| format_decimal(p, MONEY_PLACES))
                            .unwrap_or_default(),
                        salesperson_id: salesperson.clone(),
                        create_time: ts(now),
                        ..message.clone()
                    },
                )
                .await
        })
        .await
    }

    pub(super) async fn sheet(
        &self,
        caller: &Caller,
        auth: &Auth,
        request: pb::GetFollowUpSheetRequest,
    ) -> Result<pb::FollowUpSheet, Problem> {
        authorize(caller, Operation::Read)?;
        required("customer_id", &request.customer_id)
            .map_err(|v| Problem::InvalidArgument(vec![v]))?;
        let customer = self
            .directory
            .lookup(&request.customer_id, "customer_id", auth.as_ref())
            .await?;
        let entries = self.store.follow_up_sheet(&request.customer_id).await?;
        let mut sheet = pb::FollowUpSheet {
            customer_id: customer.id,
            customer_name: customer.name,
            ..pb::FollowUpSheet::default()
        };
        for entry in entries {
            let (entry, date) = match entry {
                SheetEntry::Interview(i) => {
                    sheet.interview_count += 1;
                    let date = i.interview_date.clone();
                    (pb::follow_up_entry::Entry::Interview(i), date)
                }
                SheetEntry::Quote(q) => {
                    sheet.quote_count += 1;
                    let date = q.quote_date.clone();
                    (pb::follow_up_entry::Entry::Quote(q), date)
                }
            };
            if date > sheet.last_entry_date {
                sheet.last_entry_date = date;
            }
            sheet.entries.push(pb::FollowUpEntry { entry: Some(entry) });
        }
        Ok(sheet)
    }
}
