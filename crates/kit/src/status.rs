//! [`Problem`] → `tonic::Status`, with `google.rpc.ErrorInfo` and `google.rpc.BadRequest` details.
//! The single place where errors become statuses, so every service answers alike.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::problem::{ERROR_DOMAIN, Problem};

impl From<Problem> for Status {
    fn from(problem: Problem) -> Self {
        match problem {
            Problem::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.reason.clone());
                }
                details.set_error_info(
                    "INVALID_ARGUMENT",
                    ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                );
                let message = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            Problem::NotFound { resource, id } => with_info(
                Code::NotFound,
                format!("{resource} {id:?} not found"),
                "NOT_FOUND",
                vec![("resource".into(), resource.into()), ("id".into(), id)],
            ),
            Problem::AlreadyExists {
                resource,
                existing_id,
                reason,
                message,
            } => with_info(
                Code::AlreadyExists,
                format!("{message} (existing {resource}: {existing_id})"),
                reason,
                vec![
                    ("resource".into(), resource.into()),
                    ("existing_id".into(), existing_id),
                ],
            ),
            Problem::FailedPrecondition {
                reason,
                message,
                metadata,
            } => with_info(Code::FailedPrecondition, message, reason, metadata),
            Problem::Aborted { message } => {
                with_info(Code::Aborted, message, "ETAG_MISMATCH", vec![])
            }
            Problem::PermissionDenied { message } => {
                with_info(Code::PermissionDenied, message, "PERMISSION_DENIED", vec![])
            }
            Problem::Unauthenticated { message } => {
                with_info(Code::Unauthenticated, message, "UNAUTHENTICATED", vec![])
            }
            Problem::ResourceExhausted { message } => with_info(
                Code::ResourceExhausted,
                message,
                "RESOURCE_EXHAUSTED",
                vec![],
            ),
            Problem::Unavailable { what } => with_info(
                Code::Unavailable,
                format!("{what} is unavailable; retry later"),
                "UNAVAILABLE",
                vec![("dependency".into(), what)],
            ),
            Problem::Internal(cause) => {
                // The cause stays in the log: it may name tables, paths or values.
                tracing::error!(%cause, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

fn with_info(code: Code, message: String, reason: &str, metadata: Vec<(String, String)>) -> Status {
    let details = ErrorDetails::with_error_info(
        reason,
        ERROR_DOMAIN,
        metadata
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    );
    Status::with_error_details(code, message, details)
}

/// A handler's result as a gRPC reply: the value in a response, or the problem as its status.
pub fn reply<T>(result: Result<T, Problem>) -> Result<tonic::Response<T>, Status> {
    result.map(tonic::Response::new).map_err(Status::from)
}
