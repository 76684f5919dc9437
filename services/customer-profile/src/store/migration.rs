//! The schema of customer-profile, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

/// All migrations, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(dossier_kit::outbox::Migration),
            Box::new(dossier_kit::idempotency::Migration),
            Box::new(CreateArchive),
        ]
    }
}

/// The archive tables.
struct CreateArchive;

impl MigrationName for CreateArchive {
    fn name(&self) -> &str {
        "m2026_11_23_000001_create_archive"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateArchive {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("customers")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(
                    ColumnDef::new("archive_no")
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new("kind").string().not_null())
                .col(ColumnDef::new("name").string().not_null())
                .col(ColumnDef::new("name_key").string().not_null())
                // Unique: one customer, one archive. NULLs (no code yet) do not collide.
                .col(ColumnDef::new("credit_code").string().null().unique_key())
                .col(ColumnDef::new("customer_type").string().null())
                .col(ColumnDef::new("channel").string().null())
                .col(ColumnDef::new("grade").string().null())
                .col(ColumnDef::new("trade_standing").string().null())
                .col(ColumnDef::new("lifecycle").string().null())
                .col(ColumnDef::new("region").string().not_null())
                .col(ColumnDef::new("route_code").string().not_null())
                .col(ColumnDef::new("route_order").integer().not_null())
                .col(ColumnDef::new("owner_id").string().not_null())
                .col(ColumnDef::new("team").string().not_null())
                .col(ColumnDef::new("custodian_id").string().not_null())
                .col(ColumnDef::new("state").string().not_null())
                .col(ColumnDef::new("merged_into_id").string().null())
                .col(
                    ColumnDef::new("review_due_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new("last_reviewed_at")
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new("version").big_integer().not_null())
                .col(ColumnDef::new("card").text().not_null())
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("created_by").string().not_null())
                .col(
                    ColumnDef::new("updated_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("updated_by").string().not_null())
                .to_owned(),
        )
        .await?;
        for (name, columns) in [
            ("customers_name_key", &["name_key"][..]),
            ("customers_owner", &["owner_id", "archive_no"][..]),
            ("customers_review_due", &["state", "review_due_at"][..]),
            ("customers_route", &["route_code", "route_order"][..]),
            ("customers_region", &["region"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("customers");
            for column in columns {
                index.col(*column);
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table("customer_versions")
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("version").big_integer().not_null())
                .col(ColumnDef::new("kind").string().not_null())
                .col(ColumnDef::new("actor_id").string().not_null())
                .col(
                    ColumnDef::new("changed_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("changed_fields").json_binary().not_null())
                .col(ColumnDef::new("card").text().not_null())
                .col(ColumnDef::new("note").string().not_null())
                .primary_key(Index::create().col("customer_id").col("version"))
                .foreign_key(
                    ForeignKey::create()
                        .from("customer_versions", "customer_id")
                        .to("customers", "id"),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("documents")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("category").integer().not_null())
                .col(ColumnDef::new("sequence").integer().not_null())
                .col(ColumnDef::new("catalogue_no").string().not_null())
                .col(ColumnDef::new("title").string().not_null())
                .col(ColumnDef::new("kind").string().not_null())
                .col(ColumnDef::new("document_date").date().null())
                .col(ColumnDef::new("original").boolean().not_null())
                .col(ColumnDef::new("file_name").string().not_null())
                .col(ColumnDef::new("content_type").string().not_null())
                .col(ColumnDef::new("size_bytes").big_integer().not_null())
                .col(ColumnDef::new("sha256").string().not_null())
                .col(ColumnDef::new("volume_year").integer().null())
                .col(ColumnDef::new("merged_from_archive_no").string().null())
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("created_by").string().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from("documents", "customer_id")
                        .to("customers", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("documents_catalogue")
                .table("documents")
                .col("customer_id")
                .col("category")
                .col("sequence")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("document_contents")
                .col(
                    ColumnDef::new("document_id")
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("content").blob().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from("document_contents", "document_id")
                        .to("documents", "id"),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("volumes")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("year").integer().not_null())
                .col(ColumnDef::new("volume_no").string().not_null())
                .col(
                    ColumnDef::new("closed_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("closed_by").string().not_null())
                .col(ColumnDef::new("content").json_binary().not_null())
                .col(ColumnDef::new("digest").string().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from("volumes", "customer_id")
                        .to("customers", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("volumes_year")
                .table("volumes")
                .col("customer_id")
                .col("year")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("counters")
                .col(ColumnDef::new("name").string().not_null().primary_key())
                .col(ColumnDef::new("value").big_integer().not_null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // The archive is never dropped: nothing is hard-deleted, not even by a migration.
        Err(DbErr::Migration(
            "the archive schema is not reversible".into(),
        ))
    }
}
