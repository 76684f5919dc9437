//! The versions of a card (动态管理: every change kept, who, when, old → new).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::version;
use super::{Store, load};
use crate::domain::card::{CustomerCard, project};
use crate::domain::classification::ChangeKind;

/// One version, with the changed fields before and after.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    /// Version number.
    pub version: i64,
    /// Kind of change.
    pub kind: ChangeKind,
    /// Who.
    pub actor_id: String,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Changed field names.
    pub changed_fields: Vec<String>,
    /// The changed card fields before.
    pub old_values: CustomerCard,
    /// The changed card fields after.
    pub new_values: CustomerCard,
    /// Note.
    pub note: String,
}

impl Store {
    /// A page of a card's versions, newest first, and how many there are.
    pub async fn history(
        &self,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<VersionRecord>, u64), Problem> {
        load(&self.db, id).await?;
        let of_customer = version::Entity::find().filter(version::Column::CustomerId.eq(id));
        let total = of_customer.clone().count(&self.db).await?;
        let page = of_customer
            .clone()
            .order_by_desc(version::Column::Version)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        let Some(oldest) = page.last().map(|v| v.version) else {
            return Ok((Vec::new(), total));
        };
        // The version before the page's oldest gives that one's old values.
        let previous = of_customer
            .filter(version::Column::Version.eq(oldest - 1))
            .one(&self.db)
            .await?;
        let mut cards: HashMap<i64, CustomerCard> = HashMap::new();
        for row in page.iter().chain(previous.iter()) {
            cards.insert(
                row.version,
                serde_json::from_str(&row.card).map_err(Problem::internal)?,
            );
        }
        let empty = CustomerCard::default();
        let versions = page
            .into_iter()
            .map(|row| {
                let changed: Vec<String> =
                    serde_json::from_value(row.changed_fields).map_err(Problem::internal)?;
                let new = cards.get(&row.version).unwrap_or(&empty);
                let old = cards.get(&(row.version - 1)).unwrap_or(&empty);
                Ok(VersionRecord {
                    version: row.version,
                    kind: ChangeKind::from_code(&row.kind)
                        .ok_or_else(|| Problem::internal("unknown change kind"))?,
                    actor_id: row.actor_id,
                    changed_at: row.changed_at,
                    old_values: project(old, &changed),
                    new_values: project(new, &changed),
                    changed_fields: changed,
                    note: row.note,
                })
            })
            .collect::<Result<Vec<_>, Problem>>()?;
        Ok((versions, total))
    }
}
