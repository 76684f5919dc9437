//! Asking customer-profile about a customer. Contracts, visits and complaints are recorded against
//! customers that customer-profile owns; before they store anything they ask it whether the
//! customer exists and is active, and learn its owner, team and route on the way.
//!
//! The caller's own `authorization` header is forwarded, so customer-profile applies the same
//! identity; when customer-profile is down the answer is `UNAVAILABLE` naming it (never a guess:
//! nothing is written against a customer nobody could confirm).

use std::time::Duration;

use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{CustomerState, GetCustomerRequest};
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::Problem;

/// The service asked, as named in errors.
pub const CUSTOMER_PROFILE: &str = "customer-profile";

/// What another service needs to know about a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFacts {
    /// Customer id.
    pub id: String,
    /// Company or person name.
    pub name: String,
    /// Responsible salesperson (`sub`).
    pub owner_id: String,
    /// Sales team of the owner.
    pub team: String,
    /// Route code 路序.
    pub route_code: String,
    /// Position within the route.
    pub route_order: i32,
    /// Grade (the `Grade` enum number of `dossier.customer.v1`).
    pub grade: i32,
    /// Region, e.g. `华东/上海`.
    pub region: String,
    /// Whether the customer is active (not archived, not merged).
    pub active: bool,
}

/// A client of customer-profile for existence checks (connects lazily, so a service starts even
/// when customer-profile is not up yet).
#[derive(Clone)]
pub struct CustomerDirectory {
    client: CustomerServiceClient<Channel>,
}

impl CustomerDirectory {
    /// A directory reaching customer-profile at `endpoint` (e.g. `http://127.0.0.1:50061`).
    pub fn new(endpoint: &str) -> Result<Self, String> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| format!("customer-profile endpoint {endpoint:?}: {e}"))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self {
            client: CustomerServiceClient::new(channel),
        })
    }

    /// Looks a customer up on behalf of the caller whose `authorization` header is given.
    /// An unknown id is `INVALID_ARGUMENT` on `field` (the request names a customer that is not
    /// there); customer-profile being down is `UNAVAILABLE`.
    pub async fn lookup(
        &self,
        customer_id: &str,
        field: &str,
        authorization: Option<&MetadataValue<Ascii>>,
    ) -> Result<CustomerFacts, Problem> {
        if customer_id.trim().is_empty() {
            return Err(Problem::invalid(field, "is required"));
        }
        let mut request = tonic::Request::new(GetCustomerRequest {
            id: customer_id.to_owned(),
        });
        if let Some(value) = authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        crate::telemetry::inject_context(request.metadata_mut());
        let mut client = self.client.clone();
        match client.get_customer(request).await {
            Ok(reply) => {
                let customer = reply.into_inner();
                Ok(CustomerFacts {
                    active: customer.state == CustomerState::Active as i32,
                    id: customer.id,
                    name: customer.name,
                    owner_id: customer.owner_id,
                    team: customer.team,
                    route_code: customer.route_code,
                    route_order: customer.route_order,
                    grade: customer.grade,
                    region: customer.region,
                })
            }
            Err(status) => Err(match status.code() {
                Code::NotFound | Code::InvalidArgument => {
                    Problem::invalid(field, format!("no customer {customer_id}"))
                }
                Code::PermissionDenied => {
                    Problem::denied(format!("not allowed to act for customer {customer_id}"))
                }
                Code::Unauthenticated => Problem::Unauthenticated {
                    message: "credentials refused by customer-profile".into(),
                },
                code => {
                    tracing::warn!(%code, message = status.message(), "customer-profile lookup failed");
                    Problem::Unavailable {
                        what: CUSTOMER_PROFILE.into(),
                    }
                }
            }),
        }
    }

    /// Like [`lookup`](Self::lookup), and refuses archived or merged customers with
    /// `FAILED_PRECONDITION` (`CUSTOMER_NOT_ACTIVE`).
    pub async fn require_active(
        &self,
        customer_id: &str,
        field: &str,
        authorization: Option<&MetadataValue<Ascii>>,
    ) -> Result<CustomerFacts, Problem> {
        let facts = self.lookup(customer_id, field, authorization).await?;
        if !facts.active {
            return Err(Problem::precondition(
                "CUSTOMER_NOT_ACTIVE",
                format!("customer {customer_id} is archived or merged"),
            ));
        }
        Ok(facts)
    }
}

/// The caller's `authorization` header, to forward to another service.
pub fn authorization_of<T>(request: &tonic::Request<T>) -> Option<MetadataValue<Ascii>> {
    request.metadata().get("authorization").cloned()
}
