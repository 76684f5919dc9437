//! The caller's relation to a customer — owner, same team, borrower, or other — which the masking
//! policy is keyed on.
//!
//! Owner and team come from customer-profile (the card's 责任业务员 and team), asked with the
//! caller's own credentials and remembered for a few seconds (`relation_cache_secs`); the
//! gateway forgets a customer at once when it forwards a write naming it, so a reassignment made
//! through this gateway takes effect on the next call. Borrows come from the gateway's own
//! database, remembered per caller for the same few seconds and forgotten at once when a borrow
//! changes here; the due time is compared with the clock on every use, so a grant stops lifting
//! the view exactly at its due time.
//!
//! A customer that cannot be looked up (unknown id, customer-profile down) is `Other`: deny by
//! default, and a caller cannot tell a record it may not see from one that does not exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use dossier_kit::customers::CustomerDirectory;
use dossier_masking::{Grants, Relation};
use tonic::metadata::{Ascii, MetadataValue};

use crate::store::Store;

/// An active borrow as the resolver needs it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Borrow id.
    pub id: String,
    /// The borrowed customer.
    pub customer_id: String,
    /// Due time: the view is lifted strictly before it.
    pub until: DateTime<Utc>,
}

/// Owner and team of a customer; `None` when it could not be looked up.
type Ownership = Option<(String, String)>;

struct Cached<T> {
    value: T,
    fetched: Instant,
}

/// A caller's relation to one customer, and the grant behind it when it is a borrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The relation.
    pub relation: Relation,
    /// The borrow lifting the view, when `relation` is `Borrower`.
    pub grant_id: Option<String>,
}

/// Decides relations, with short-lived memory of owners and grants.
#[derive(Clone)]
pub struct RelationResolver {
    directory: CustomerDirectory,
    store: Store,
    clock: SharedClock,
    ttl: Duration,
    owners: Arc<Mutex<HashMap<String, Cached<Ownership>>>>,
    grants: Arc<Mutex<HashMap<String, Cached<Vec<Grant>>>>>,
}

/// Entries remembered before the memory is emptied (bounds memory under a scan of many ids).
const MAX_REMEMBERED: usize = 50_000;

impl RelationResolver {
    /// A resolver asking `directory` for owners and `store` for borrows.
    pub fn new(
        directory: CustomerDirectory,
        store: Store,
        clock: SharedClock,
        ttl: Duration,
    ) -> Self {
        Self {
            directory,
            store,
            clock,
            ttl,
            owners: Arc::default(),
            grants: Arc::default(),
        }
    }

    /// Whether the caller's view of a record depends on owning it or sharing its team: if not,
    /// no owner lookup is needed (an executive sees the same of every customer).
    pub fn depends_on_ownership(caller: &Caller) -> bool {
        let other = Grants::new(caller, Relation::Other);
        Grants::new(caller, Relation::Owner) != other
            || Grants::new(caller, Relation::Team) != other
    }

    /// Whether a borrow could change what the caller sees.
    pub fn depends_on_borrows(caller: &Caller) -> bool {
        Grants::new(caller, Relation::Borrower) != Grants::new(caller, Relation::Other)
    }

    /// The caller's relation to each of `customer_ids`.
    pub async fn resolve(
        &self,
        caller: &Caller,
        customer_ids: &[String],
        authorization: Option<&MetadataValue<Ascii>>,
    ) -> HashMap<String, Resolved> {
        let mut out = HashMap::new();
        if customer_ids.is_empty() {
            return out;
        }
        let grants = if Self::depends_on_borrows(caller) {
            self.grants_of(&caller.sub).await
        } else {
            Vec::new()
        };
        let now = self.clock.now();
        let ownership = Self::depends_on_ownership(caller);
        for id in customer_ids {
            if out.contains_key(id) {
                continue;
            }
            let owned = if ownership {
                self.ownership(id, authorization).await
            } else {
                None
            };
            let grant = grants
                .iter()
                .find(|g| &g.customer_id == id && now < g.until)
                .map(|g| g.id.clone());
            out.insert(id.clone(), decide(caller, owned.as_ref(), grant));
        }
        out
    }

    async fn ownership(&self, id: &str, authorization: Option<&MetadataValue<Ascii>>) -> Ownership {
        if let Some(hit) = self.remembered(&self.owners, id) {
            return hit;
        }
        let found = match self
            .directory
            .lookup(id, "customer_id", authorization)
            .await
        {
            Ok(facts) => Some((facts.owner_id, facts.team)),
            Err(_) => None,
        };
        // A failed lookup is remembered too, but only briefly, so an outage heals by itself.
        remember(&self.owners, id, found.clone());
        found
    }

    async fn grants_of(&self, borrower: &str) -> Vec<Grant> {
        if let Some(hit) = self.remembered(&self.grants, borrower) {
            return hit;
        }
        match self.store.active_grants(borrower).await {
            Ok(grants) => {
                remember(&self.grants, borrower, grants.clone());
                grants
            }
            // No grant can be confirmed: no lift (deny by default).
            Err(_) => Vec::new(),
        }
    }

    fn remembered<T: Clone>(
        &self,
        map: &Mutex<HashMap<String, Cached<T>>>,
        key: &str,
    ) -> Option<T> {
        let map = map.lock().ok()?;
        map.get(key)
            .filter(|c| c.fetched.elapsed() < self.ttl)
            .map(|c| c.value.clone())
    }

    /// Forgets what is known of these customers (a write naming them went through).
    pub fn forget_customers(&self, ids: &[String]) {
        if let Ok(mut map) = self.owners.lock() {
            for id in ids {
                map.remove(id);
            }
        }
    }

    /// Forgets a borrower's grants (a borrow of theirs changed).
    pub fn forget_grants(&self, borrower: &str) {
        if let Ok(mut map) = self.grants.lock() {
            map.remove(borrower);
        }
    }
}

fn remember<T>(map: &Mutex<HashMap<String, Cached<T>>>, key: &str, value: T) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= MAX_REMEMBERED {
            map.clear();
        }
        map.insert(
            key.to_owned(),
            Cached {
                value,
                fetched: Instant::now(),
            },
        );
    }
}

/// Owner first; then an active borrow (it lifts a teammate too); then the team; else other.
fn decide(caller: &Caller, owned: Option<&(String, String)>, grant: Option<String>) -> Resolved {
    if let Some((owner, _)) = owned
        && !owner.is_empty()
        && *owner == caller.sub
    {
        return Resolved {
            relation: Relation::Owner,
            grant_id: None,
        };
    }
    if grant.is_some() {
        return Resolved {
            relation: Relation::Borrower,
            grant_id: grant,
        };
    }
    match owned {
        Some((_, team)) if !team.is_empty() && *team == caller.team => Resolved {
            relation: Relation::Team,
            grant_id: None,
        },
        _ => Resolved {
            relation: Relation::Other,
            grant_id: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_kit::auth::Role;

    fn caller(role: Role) -> Caller {
        Caller {
            sub: "rep-1".into(),
            name: "rep".into(),
            role,
            team: "east".into(),
            scopes: Default::default(),
        }
    }

    #[test]
    fn owner_then_borrow_then_team() {
        let rep = caller(Role::SalesRep);
        let mine = ("rep-1".to_owned(), "east".to_owned());
        let teammate = ("rep-2".to_owned(), "east".to_owned());
        let stranger = ("rep-3".to_owned(), "north".to_owned());
        assert_eq!(
            decide(&rep, Some(&mine), Some("b".into())).relation,
            Relation::Owner
        );
        assert_eq!(
            decide(&rep, Some(&teammate), Some("b".into())),
            Resolved {
                relation: Relation::Borrower,
                grant_id: Some("b".into())
            }
        );
        assert_eq!(decide(&rep, Some(&teammate), None).relation, Relation::Team);
        assert_eq!(
            decide(&rep, Some(&stranger), None).relation,
            Relation::Other
        );
        assert_eq!(
            decide(&rep, None, None).relation,
            Relation::Other,
            "unknown customer"
        );
    }

    #[test]
    fn only_roles_whose_view_varies_look_owners_up() {
        assert!(RelationResolver::depends_on_ownership(&caller(
            Role::SalesRep
        )));
        assert!(RelationResolver::depends_on_ownership(&caller(
            Role::SalesManager
        )));
        assert!(!RelationResolver::depends_on_ownership(&caller(
            Role::Executive
        )));
        assert!(!RelationResolver::depends_on_ownership(&caller(
            Role::Archivist
        )));
        assert!(RelationResolver::depends_on_borrows(&caller(
            Role::SalesRep
        )));
        assert!(!RelationResolver::depends_on_borrows(&caller(
            Role::Executive
        )));
    }
}
