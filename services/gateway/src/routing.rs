//! Which service owns which method: every RPC of the contract, read from the descriptors once,
//! with its message types, whether it streams, whether it reads or writes, and the upstream that
//! serves its package. A service added to the contract is routed without gateway code; only its
//! package's upstream name is listed here.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{DescriptorPool, MethodDescriptor};

/// Proto package → the service (its name in `dossier serve`) that owns it.
pub const PACKAGE_OWNERS: &[(&str, &str)] = &[
    ("dossier.customer.v1", "customer-profile"),
    ("dossier.visit.v1", "visit-journal"),
    ("dossier.contract.v1", "contract-receivables"),
    ("dossier.complaint.v1", "complaints"),
    ("dossier.analytics.v1", "analytics"),
];

/// Default address of each service (the ports `dossier up` uses).
pub const DEFAULT_UPSTREAMS: &[(&str, &str)] = &[
    ("customer-profile", "http://127.0.0.1:50061"),
    ("visit-journal", "http://127.0.0.1:50062"),
    ("contract-receivables", "http://127.0.0.1:50063"),
    ("complaints", "http://127.0.0.1:50064"),
    ("analytics", "http://127.0.0.1:50065"),
];

/// Method-name verbs that only read. Everything else is a write, checked as one (a caller may
/// set only fields it may see). Listing the readers, not the writers, keeps the default strict.
const READ_VERBS: &[&str] = &[
    "Get", "List", "Watch", "Find", "Export", "Compare", "Verify", "Classify", "Search",
];

/// Whether a method reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads only.
    Read,
    /// Changes something.
    Write,
}

/// One routable method.
#[derive(Debug, Clone)]
pub struct Method {
    /// `/dossier.customer.v1.CustomerService/GetCustomer`.
    pub path: String,
    /// The upstream service owning it.
    pub upstream: &'static str,
    /// Its descriptor (input and output types).
    pub descriptor: MethodDescriptor,
    /// Full name of the output type, what the masker is asked to mask.
    pub output: String,
    /// Server-streaming (`WatchChanges`, urgent reports).
    pub streaming: bool,
    /// Read or write.
    pub kind: Kind,
    /// For a streamed output: the number of its field annotated `masked_fields`, where each
    /// message carries what was masked in it.
    pub masked_fields: Option<u32>,
}

/// Every routable method by path.
#[derive(Debug, Clone)]
pub struct MethodTable {
    by_path: Arc<HashMap<String, Arc<Method>>>,
}

impl MethodTable {
    /// Reads the contract's services of the routed packages.
    pub fn new(pool: &DescriptorPool) -> Self {
        let mut by_path = HashMap::new();
        for service in pool.services() {
            let Some(upstream) = PACKAGE_OWNERS
                .iter()
                .find(|(package, _)| *package == service.package_name())
                .map(|(_, owner)| *owner)
            else {
                continue;
            };
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                let kind = if READ_VERBS
                    .iter()
                    .any(|verb| method.name().starts_with(verb))
                {
                    Kind::Read
                } else {
                    Kind::Write
                };
                by_path.insert(
                    path.clone(),
                    Arc::new(Method {
                        path,
                        upstream,
                        output: method.output().full_name().to_owned(),
                        streaming: method.is_server_streaming(),
                        masked_fields: method
                            .output()
                            .fields()
                            .find(|f| dossier_proto::sensitivity::annotation(f).masked_fields)
                            .map(|f| f.number()),
                        // Client streaming is not part of the contract; such a method would be
                        // refused by the proxy as unknown rather than forwarded half-understood.
                        kind,
                        descriptor: method,
                    }),
                );
            }
        }
        Self {
            by_path: Arc::new(by_path),
        }
    }

    /// The method at `path`, if it is routed (and neither client- nor bidi-streaming).
    pub fn get(&self, path: &str) -> Option<Arc<Method>> {
        self.by_path
            .get(path)
            .filter(|m| !m.descriptor.is_client_streaming())
            .cloned()
    }

    /// Every routed method, for tests and docs.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Method>> {
        self.by_path.values()
    }

    /// The full names of the routed gRPC services (for health).
    pub fn service_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_path
            .values()
            .map(|m| m.descriptor.parent_service().full_name().to_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_customer_method_is_routed_to_customer_profile() {
        let table = MethodTable::new(dossier_proto::descriptor_pool());
        let get = table
            .get("/dossier.customer.v1.CustomerService/GetCustomer")
            .expect("routed");
        assert_eq!(get.upstream, "customer-profile");
        assert_eq!(get.kind, Kind::Read);
        assert_eq!(get.output, "dossier.customer.v1.Customer");
        let update = table
            .get("/dossier.customer.v1.CustomerService/UpdateCustomer")
            .expect("routed");
        assert_eq!(update.kind, Kind::Write);
        let watch = table
            .get("/dossier.customer.v1.CustomerService/WatchChanges")
            .expect("routed");
        assert!(watch.streaming);
        assert!(
            table
                .get("/dossier.gateway.v1.AccessService/WhoAmI")
                .is_none(),
            "the gateway's own service is not forwarded"
        );
    }
}
