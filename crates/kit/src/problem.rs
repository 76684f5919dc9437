//! The one error type of every Dossier service. Business code (including `domain` modules, which
//! know nothing of tonic) returns a [`Problem`]; [`crate::status`] turns it into a `tonic::Status`
//! with `ErrorInfo` and `BadRequest` details. The set of kinds is deliberately small: each maps to
//! exactly one gRPC code.

use std::fmt;

/// The error domain reported in `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = "dossier";

/// One invalid field: its path in the request and why it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Field path, e.g. `customer.credit_code` or `customer.contacts[2].phone`.
    pub field: String,
    /// Why the value is refused, for a human.
    pub reason: String,
}

impl FieldViolation {
    /// A violation of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same violation with `prefix.` put before the field path.
    pub fn under(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.field = format!("{prefix}.{}", self.field);
        }
        self
    }
}

/// Collects field violations so a request reports all its faults at once.
#[derive(Debug, Default, Clone)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldViolation::new(field, reason));
    }
    /// Records the error of a parse, if any, and returns the parsed value.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }
    /// Takes over violations found elsewhere, under a path prefix.
    pub fn extend_under(&mut self, prefix: &str, other: Violations) {
        self.0.extend(other.0.into_iter().map(|v| v.under(prefix)));
    }
    /// Keeps only the violations `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&FieldViolation) -> bool) {
        self.0.retain(keep);
    }
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The violations recorded.
    pub fn list(&self) -> &[FieldViolation] {
        &self.0
    }
    /// `Ok(value)` when nothing was recorded, else the violations as a problem.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Problem> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(Problem::InvalidArgument(self.0))
        }
    }
}

/// Refuses a blank required text field with `INVALID_ARGUMENT` naming it.
pub fn required(field: &str, value: &str) -> Result<(), Problem> {
    if value.trim().is_empty() {
        Err(Problem::invalid(field, "is required"))
    } else {
        Ok(())
    }
}

/// Everything that can go wrong in a request, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The request is malformed; each violation names a field.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist (or the caller may not know that it does).
    #[error("{resource} {id} not found")]
    NotFound {
        /// Kind of resource, e.g. `customer`.
        resource: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The resource exists already; `existing_id` names it.
    #[error("{resource} already exists: {message}")]
    AlreadyExists {
        /// Kind of resource.
        resource: &'static str,
        /// Id of the existing resource.
        existing_id: String,
        /// Machine-readable reason, e.g. `CREDIT_CODE_TAKEN`.
        reason: &'static str,
        /// What clashed, for a human.
        message: String,
    },
    /// A business rule refuses the request in the current state.
    #[error("{message}")]
    FailedPrecondition {
        /// Machine-readable reason, e.g. `CREDIT_LIMIT_EXCEEDED`.
        reason: &'static str,
        /// What rule, with the figures, for a human.
        message: String,
        /// Extra figures for programs (`ErrorInfo.metadata`).
        metadata: Vec<(String, String)>,
    },
    /// The resource changed since the caller read it (etag mismatch).
    #[error("{message}")]
    Aborted {
        /// Which version was expected and which is current.
        message: String,
    },
    /// The caller is known but not allowed.
    #[error("{message}")]
    PermissionDenied {
        /// What is not allowed.
        message: String,
    },
    /// No valid credentials.
    #[error("{message}")]
    Unauthenticated {
        /// What was wrong with the credentials.
        message: String,
    },
    /// Too many requests or too large a request.
    #[error("{message}")]
    ResourceExhausted {
        /// Which limit.
        message: String,
    },
    /// A dependency (database, another service) cannot be reached; retrying may help.
    #[error("{what} is unavailable")]
    Unavailable {
        /// What is unavailable, e.g. `database` or `customer-profile`.
        what: String,
    },
    /// A defect or an unexpected failure. The cause is logged; the caller is told only that
    /// something went wrong, never the detail.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Problem {
    /// A single invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem::InvalidArgument(vec![FieldViolation::new(field, reason)])
    }
    /// A broken business rule.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Problem::FailedPrecondition {
            reason,
            message: message.into(),
            metadata: Vec::new(),
        }
    }
    /// Not allowed.
    pub fn denied(message: impl Into<String>) -> Self {
        Problem::PermissionDenied {
            message: message.into(),
        }
    }
    /// Not found.
    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Problem::NotFound {
            resource,
            id: id.into(),
        }
    }
    /// A stale etag.
    pub fn stale(expected: &str, current: &str) -> Self {
        Problem::Aborted {
            message: format!(
                "etag {expected:?} is stale: the record is now at {current:?}; read it again"
            ),
        }
    }
    /// An unexpected failure; `cause` is logged, not shown.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Problem::Internal(cause.to_string())
    }
}

impl From<sea_orm::DbErr> for Problem {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                tracing::warn!(error = %err, "database unavailable");
                Problem::Unavailable {
                    what: "database".into(),
                }
            }
            other => Problem::Internal(format!("database: {other}")),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> From<sea_orm::TransactionError<E>> for Problem
where
    Problem: From<E>,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

/// Whether a database error is a unique-constraint violation (a concurrent insert won).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
