//! Contracts: draft, edit while draft, activate against the credit line, amend, complete,
//! terminate. Every version is kept as a snapshot.

use dossier_kit::Problem;
use dossier_kit::auth::Caller;

use super::{Key, Ledger, check_etag, credit_limit, exposure, new_id};
use crate::domain::contract::{
    self, AmendmentRequest, Contract, ContractDraft, ContractStatus, number_lines,
};
use crate::domain::credit::{OverrideUse, check_limit};
use crate::store::{ContractVersion, Tx};
use crate::wire;

const CREATE: &str = "CreateContract";
const AMEND: &str = "AmendContract";

/// The parts of a draft an edit replaces (the fields named in the update mask).
#[derive(Debug, Clone)]
pub struct ContractEdit {
    /// The proposed contract, all fields.
    pub draft: ContractDraft,
    /// Which of its fields to take.
    pub paths: Vec<String>,
}

/// Whether a contract is being completed or terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminateOrComplete {
    /// ACTIVE → COMPLETED.
    Complete,
    /// DRAFT or ACTIVE → TERMINATED.
    Terminate,
}

fn save_version(tx: &Tx, c: &Contract) -> Result<(), Problem> {
    tx.put(&ContractVersion {
        id: format!("{}@{}", c.id, c.version),
        contract: c.clone(),
    })
}

impl Ledger {
    /// Drafts a contract (idempotent by key; a taken contract number is `ALREADY_EXISTS`).
    pub async fn create_contract(
        &self,
        caller: &Caller,
        mut draft: ContractDraft,
        key: Key<'_>,
    ) -> Result<Contract, Problem> {
        if let Some(done) = self
            .store
            .replay(CREATE, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        match self.try_create(caller, &mut draft, &key).await {
            Ok(c) => Ok(c),
            Err(e) => self.settle_race(CREATE, &key, e).await,
        }
    }

    async fn try_create(
        &self,
        caller: &Caller,
        draft: &mut ContractDraft,
        key: &Key<'_>,
    ) -> Result<Contract, Problem> {
        let mut tx = self.begin(&draft.customer_id).await?;
        if let Some(done) = tx.replay(CREATE, key.request_id, key.fingerprint).await? {
            return Ok(done);
        }
        if let Some(existing) = tx.number_taken::<Contract>(&draft.contract_no).await? {
            return Err(Problem::AlreadyExists {
                resource: "contract",
                existing_id: existing,
                reason: "CONTRACT_NO_TAKEN",
                message: format!("contract_no {} is already on file", draft.contract_no),
            });
        }
        number_lines(&mut draft.lines);
        let now = tx.now;
        let c = Contract {
            id: new_id(),
            contract_no: draft.contract_no.clone(),
            customer_id: draft.customer_id.clone(),
            signed_date: draft.signed_date,
            signer: draft.signer.clone(),
            lines: draft.lines.clone(),
            terms: draft.terms,
            status: ContractStatus::Draft,
            valid_from: draft.valid_from,
            valid_to: draft.valid_to,
            version: 1,
            amendments: Vec::new(),
            salesperson_id: if draft.salesperson_id.is_empty() {
                caller.sub.clone()
            } else {
                draft.salesperson_id.clone()
            },
            notes: draft.notes.clone(),
            termination_reason: String::new(),
            activated_at: None,
            closed_at: None,
            override_id: String::new(),
            revision: 1,
            created_at: now,
            created_by: caller.sub.clone(),
            updated_at: now,
            updated_by: caller.sub.clone(),
        };
        tx.put(&c)?;
        save_version(&tx, &c)?;
        tx.remember(CREATE, key.request_id, key.fingerprint, &c.id);
        tx.emit("contract.created", &c.id, &caller.sub, &wire::contract(&c));
        tx.commit().await?;
        Ok(c)
    }

    /// Edits a draft: the fields named in the edit's paths.
    pub async fn update_contract(
        &self,
        caller: &Caller,
        id: &str,
        edit: ContractEdit,
        etag: &str,
    ) -> Result<Contract, Problem> {
        let current: Contract = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut c: Contract = tx.get(id).await?;
        check_etag(etag, c.revision)?;
        c.require_status(
            &[ContractStatus::Draft],
            "an edit (use AmendContract once active)",
        )?;
        let d = edit.draft;
        for path in &edit.paths {
            match path.as_str() {
                "contract_no" => c.contract_no = d.contract_no.clone(),
                "signed_date" => c.signed_date = d.signed_date,
                "signer" => c.signer = d.signer.clone(),
                "lines" => {
                    c.lines = d.lines.clone();
                    number_lines(&mut c.lines);
                }
                "payment_terms" => c.terms = d.terms,
                "valid_from" => c.valid_from = d.valid_from,
                "valid_to" => c.valid_to = d.valid_to,
                "salesperson_id" => c.salesperson_id = d.salesperson_id.clone(),
                "notes" => c.notes = d.notes.clone(),
                other => {
                    return Err(Problem::invalid(
                        "update_mask",
                        format!("{other:?} cannot be edited"),
                    ));
                }
            }
        }
        let whole = ContractDraft {
            contract_no: c.contract_no.clone(),
            customer_id: c.customer_id.clone(),
            signed_date: c.signed_date,
            signer: c.signer.clone(),
            lines: c.lines.clone(),
            terms: c.terms,
            valid_from: c.valid_from,
            valid_to: c.valid_to,
            salesperson_id: c.salesperson_id.clone(),
            notes: c.notes.clone(),
        };
        contract::validate_draft(&whole, "contract").finish(|| ())?;
        if let Some(other) = tx.number_taken::<Contract>(&c.contract_no).await?
            && other != c.id
        {
            return Err(Problem::AlreadyExists {
                resource: "contract",
                existing_id: other,
                reason: "CONTRACT_NO_TAKEN",
                message: format!("contract_no {} is already on file", c.contract_no),
            });
        }
        c.revision += 1;
        c.updated_at = tx.now;
        c.updated_by = caller.sub.clone();
        tx.put(&c)?;
        save_version(&tx, &c)?;
        tx.emit("contract.updated", &c.id, &caller.sub, &wire::contract(&c));
        tx.commit().await?;
        Ok(c)
    }

    /// DRAFT → ACTIVE, refused with `CREDIT_LIMIT_EXCEEDED` when its value would take the
    /// customer's exposure over the line, unless an override covers the excess.
    pub async fn activate_contract(
        &self,
        caller: &Caller,
        id: &str,
        etag: &str,
        override_use: OverrideUse,
    ) -> Result<Contract, Problem> {
        let current: Contract = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut c: Contract = tx.get(id).await?;
        check_etag(etag, c.revision)?;
        c.require_status(&[ContractStatus::Draft], "activation")?;
        let before = exposure(&tx, &c.customer_id).await?;
        let (_, limit) = credit_limit(&tx, &c.customer_id, self.today()).await?;
        let after = before.total() + c.undelivered_value();
        let excess = check_limit(
            limit,
            before,
            after,
            &format!("activating contract {}", c.contract_no),
            override_use != OverrideUse::None,
        )?;
        if !excess.is_zero() {
            c.override_id = self
                .use_override(
                    &mut tx,
                    caller,
                    &c.customer_id,
                    &override_use,
                    excess,
                    &c.id,
                )
                .await?;
        }
        c.status = ContractStatus::Active;
        c.activated_at = Some(tx.now);
        c.revision += 1;
        c.updated_at = tx.now;
        c.updated_by = caller.sub.clone();
        tx.put(&c)?;
        tx.emit("contract.signed", &c.id, &caller.sub, &wire::contract(&c));
        tx.commit().await?;
        Ok(c)
    }

    /// Records an amendment as a new version, approved by the calling manager. An amendment
    /// that raises the exposure above the line needs an override like an activation.
    pub async fn amend_contract(
        &self,
        caller: &Caller,
        id: &str,
        request: AmendmentRequest,
        etag: &str,
        override_use: OverrideUse,
        key: Key<'_>,
    ) -> Result<Contract, Problem> {
        if !key.request_id.is_empty()
            && let Some(done) = self
                .store
                .replay(AMEND, key.request_id, key.fingerprint)
                .await?
        {
            return Ok(done);
        }
        let current: Contract = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let c: Contract = tx.get(id).await?;
        check_etag(etag, c.revision)?;
        let mut next = contract::amend(&c, &request, &caller.sub, tx.now)?;
        let growth = next.undelivered_value() - c.undelivered_value();
        if growth > rust_decimal::Decimal::ZERO {
            let before = exposure(&tx, &c.customer_id).await?;
            let (_, limit) = credit_limit(&tx, &c.customer_id, self.today()).await?;
            let excess = check_limit(
                limit,
                before,
                before.total() + growth,
                &format!("amending contract {}", c.contract_no),
                override_use != OverrideUse::None,
            )?;
            if !excess.is_zero() {
                next.override_id = self
                    .use_override(
                        &mut tx,
                        caller,
                        &c.customer_id,
                        &override_use,
                        excess,
                        &c.id,
                    )
                    .await?;
            }
        }
        tx.put(&next)?;
        save_version(&tx, &next)?;
        if !key.request_id.is_empty() {
            tx.remember(AMEND, key.request_id, key.fingerprint, &next.id);
        }
        tx.emit(
            "contract.amended",
            &next.id,
            &caller.sub,
            &wire::contract(&next),
        );
        tx.commit().await?;
        Ok(next)
    }

    /// Completes or terminates a contract; its undelivered value leaves the exposure.
    pub async fn close_contract(
        &self,
        caller: &Caller,
        id: &str,
        etag: &str,
        how: TerminateOrComplete,
        reason: &str,
    ) -> Result<Contract, Problem> {
        let current: Contract = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut c: Contract = tx.get(id).await?;
        check_etag(etag, c.revision)?;
        let verb = match how {
            TerminateOrComplete::Complete => {
                c.require_status(&[ContractStatus::Active], "completion")?;
                c.status = ContractStatus::Completed;
                if !reason.is_empty() {
                    c.notes = if c.notes.is_empty() {
                        reason.to_owned()
                    } else {
                        format!("{}\n{reason}", c.notes)
                    };
                }
                "contract.completed"
            }
            TerminateOrComplete::Terminate => {
                c.require_status(
                    &[ContractStatus::Draft, ContractStatus::Active],
                    "termination",
                )?;
                if reason.trim().is_empty() {
                    return Err(Problem::invalid(
                        "reason",
                        "is required to terminate a contract",
                    ));
                }
                c.status = ContractStatus::Terminated;
                c.termination_reason = reason.to_owned();
                "contract.terminated"
            }
        };
        c.closed_at = Some(tx.now);
        c.revision += 1;
        c.updated_at = tx.now;
        c.updated_by = caller.sub.clone();
        tx.put(&c)?;
        tx.emit(verb, &c.id, &caller.sub, &wire::contract(&c));
        tx.commit().await?;
        Ok(c)
    }
}
