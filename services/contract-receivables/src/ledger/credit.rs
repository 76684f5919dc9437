//! Credit lines and overrides.

use chrono::{DateTime, NaiveDate, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use rust_decimal::Decimal;

use super::{Key, Ledger, check_etag, is_manager, new_id};
use crate::domain::credit::{
    Collateral, CreditLine, CreditOverride, LineState, OverrideState, OverrideUse, check_override,
};
use crate::store::{Filter, Tx};
use crate::wire;

const SET_LINE: &str = "SetCreditLine";
const REQUEST_OVERRIDE: &str = "RequestCreditOverride";

impl Ledger {
    /// Covers `excess` with the override the call carries: an approved one (used up here) or
    /// the calling manager's own approval. Returns the override's id (empty for the latter).
    pub(super) async fn use_override(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        customer_id: &str,
        how: &OverrideUse,
        excess: Decimal,
        used_by: &str,
    ) -> Result<String, Problem> {
        match how {
            OverrideUse::None => Err(Problem::internal("override use without an override")),
            OverrideUse::ByCaller(reason) => {
                if !is_manager(caller) {
                    return Err(Problem::denied(
                        "only a sales_manager or executive may approve an excess in the call",
                    ));
                }
                if reason.trim().is_empty() {
                    return Err(Problem::invalid(
                        "override.reason",
                        "is required with manager_approval",
                    ));
                }
                Ok(String::new())
            }
            OverrideUse::Approved(id) => {
                let mut o: CreditOverride = tx.get_own(id).await.map_err(|_| {
                    Problem::invalid(
                        "override.override_id",
                        format!("no override {id} for this customer"),
                    )
                })?;
                check_override(&o, customer_id, excess, tx.now)?;
                o.state = OverrideState::Used;
                o.used_by_id = used_by.to_owned();
                o.revision += 1;
                tx.put(&o)?;
                tx.emit(
                    "credit_override.used",
                    &o.id,
                    &caller.sub,
                    &wire::credit_override(&o),
                );
                Ok(o.id)
            }
        }
    }

    /// Requests a credit line (信用额度审批表).
    #[allow(clippy::too_many_arguments)]
    pub async fn request_credit_line(
        &self,
        caller: &Caller,
        customer_id: &str,
        amount: Decimal,
        valid_from: NaiveDate,
        valid_to: NaiveDate,
        collateral: Vec<Collateral>,
        reason: &str,
        key: Key<'_>,
    ) -> Result<CreditLine, Problem> {
        if let Some(done) = self
            .store
            .replay(SET_LINE, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        let attempt = async {
            let mut tx = self.begin(customer_id).await?;
            if let Some(done) = tx.replay(SET_LINE, key.request_id, key.fingerprint).await? {
                return Ok(done);
            }
            let line = CreditLine {
                id: new_id(),
                customer_id: customer_id.to_owned(),
                requested_amount: amount,
                approved_amount: None,
                valid_from,
                valid_to,
                collateral,
                state: LineState::Requested,
                reason: reason.to_owned(),
                requested_by: caller.sub.clone(),
                approver_id: String::new(),
                decided_at: None,
                decision_comment: String::new(),
                revision: 1,
                created_at: tx.now,
                updated_at: tx.now,
            };
            tx.put(&line)?;
            tx.remember(SET_LINE, key.request_id, key.fingerprint, &line.id);
            tx.emit(
                "credit_line.requested",
                &line.id,
                &caller.sub,
                &wire::credit_line(&line),
            );
            tx.commit().await?;
            Ok(line)
        }
        .await;
        match attempt {
            Ok(line) => Ok(line),
            Err(e) => self.settle_race(SET_LINE, &key, e).await,
        }
    }

    /// Approves (possibly for less) or rejects a requested line; an approval supersedes the
    /// customer's earlier approved lines.
    pub async fn decide_credit_line(
        &self,
        caller: &Caller,
        id: &str,
        approve: Option<Option<Decimal>>,
        comment: &str,
        etag: &str,
    ) -> Result<CreditLine, Problem> {
        let current: CreditLine = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut line: CreditLine = tx.get(id).await?;
        check_etag(etag, line.revision)?;
        line.require_requested()?;
        let now = tx.now;
        let verb = match approve {
            Some(amount) => {
                let amount = amount.unwrap_or(line.requested_amount);
                let earlier: Vec<CreditLine> = tx
                    .all(&Filter::customer(&line.customer_id).states(&["approved"]))
                    .await?;
                for mut old in earlier {
                    old.state = LineState::Superseded;
                    old.revision += 1;
                    old.updated_at = now;
                    tx.put(&old)?;
                }
                line.approved_amount = Some(amount);
                line.state = LineState::Approved;
                "credit_line.approved"
            }
            None => {
                line.state = LineState::Rejected;
                "credit_line.rejected"
            }
        };
        line.approver_id = caller.sub.clone();
        line.decided_at = Some(now);
        line.decision_comment = comment.to_owned();
        line.revision += 1;
        line.updated_at = now;
        tx.put(&line)?;
        tx.emit(verb, &line.id, &caller.sub, &wire::credit_line(&line));
        tx.commit().await?;
        Ok(line)
    }

    /// Asks for permission to exceed the line once (超额审批).
    pub async fn request_override(
        &self,
        caller: &Caller,
        customer_id: &str,
        contract_id: &str,
        amount: Decimal,
        reason: &str,
        key: Key<'_>,
    ) -> Result<CreditOverride, Problem> {
        if let Some(done) = self
            .store
            .replay(REQUEST_OVERRIDE, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        let attempt = async {
            let mut tx = self.begin(customer_id).await?;
            if let Some(done) = tx
                .replay(REQUEST_OVERRIDE, key.request_id, key.fingerprint)
                .await?
            {
                return Ok(done);
            }
            if !contract_id.is_empty() {
                tx.get_own::<crate::domain::contract::Contract>(contract_id)
                    .await
                    .map_err(|_| {
                        Problem::invalid(
                            "contract_id",
                            format!("no contract {contract_id} of this customer"),
                        )
                    })?;
            }
            let o = CreditOverride {
                id: new_id(),
                customer_id: customer_id.to_owned(),
                contract_id: contract_id.to_owned(),
                amount,
                reason: reason.to_owned(),
                state: OverrideState::Requested,
                requested_by: caller.sub.clone(),
                approver_id: String::new(),
                decided_at: None,
                decision_comment: String::new(),
                expires_at: None,
                used_by_id: String::new(),
                revision: 1,
                created_at: tx.now,
            };
            tx.put(&o)?;
            tx.remember(REQUEST_OVERRIDE, key.request_id, key.fingerprint, &o.id);
            tx.emit(
                "credit_override.requested",
                &o.id,
                &caller.sub,
                &wire::credit_override(&o),
            );
            tx.commit().await?;
            Ok(o)
        }
        .await;
        match attempt {
            Ok(o) => Ok(o),
            Err(e) => self.settle_race(REQUEST_OVERRIDE, &key, e).await,
        }
    }

    /// A manager approves or rejects an override.
    pub async fn decide_override(
        &self,
        caller: &Caller,
        id: &str,
        approve: bool,
        comment: &str,
        expires_at: Option<DateTime<Utc>>,
        etag: &str,
    ) -> Result<CreditOverride, Problem> {
        let current: CreditOverride = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut o: CreditOverride = tx.get(id).await?;
        check_etag(etag, o.revision)?;
        if o.state != OverrideState::Requested {
            return Err(Problem::precondition(
                "WRONG_STATE",
                format!("override {id} is {}, not requested", o.state.code()),
            ));
        }
        if expires_at.is_some_and(|at| at <= tx.now) {
            return Err(Problem::invalid("expire_time", "must be in the future"));
        }
        o.state = if approve {
            OverrideState::Approved
        } else {
            OverrideState::Rejected
        };
        o.approver_id = caller.sub.clone();
        o.decided_at = Some(tx.now);
        o.decision_comment = comment.to_owned();
        o.expires_at = expires_at;
        o.revision += 1;
        tx.put(&o)?;
        tx.emit(
            "credit_override.decided",
            &o.id,
            &caller.sub,
            &wire::credit_override(&o),
        );
        tx.commit().await?;
        Ok(o)
    }
}
