//! The schema of complaints, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

/// All migrations, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(dossier_kit::outbox::Migration),
            Box::new(dossier_kit::idempotency::Migration),
            Box::new(CreateComplaints),
        ]
    }
}

/// The complaint and feedback tables.
struct CreateComplaints;

impl MigrationName for CreateComplaints {
    fn name(&self) -> &str {
        "m2026_11_23_000001_create_complaints"
    }
}

fn timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateComplaints {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("complaints")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("state").string().not_null())
                .col(ColumnDef::new("subject").string().not_null())
                .col(ColumnDef::new("handler_id").string().not_null())
                .col(timestamp("complaint_time"))
                .col(timestamp("reply_due_at"))
                .col(ColumnDef::new("awaits_reply").boolean().not_null())
                .col(ColumnDef::new("escalated").boolean().not_null())
                .col(ColumnDef::new("reaction").string().null())
                .col(ColumnDef::new("version").big_integer().not_null())
                .col(ColumnDef::new("body").text().not_null())
                .col(timestamp("created_at"))
                .col(timestamp("updated_at"))
                .to_owned(),
        )
        .await?;
        for (name, columns) in [
            (
                "complaints_customer",
                &["customer_id", "complaint_time"][..],
            ),
            ("complaints_due", &["awaits_reply", "reply_due_at"][..]),
            ("complaints_handler", &["handler_id", "complaint_time"][..]),
            ("complaints_time", &["complaint_time"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("complaints");
            for column in columns {
                index.col(*column);
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table("feedback")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("complaint_id").string().not_null())
                .col(timestamp("feedback_time"))
                .col(ColumnDef::new("has_follow_up").boolean().not_null())
                .col(ColumnDef::new("version").big_integer().not_null())
                .col(ColumnDef::new("body").text().not_null())
                .col(timestamp("created_at"))
                .col(timestamp("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("feedback_customer")
                .table("feedback")
                .col("customer_id")
                .col("feedback_time")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Nothing is hard-deleted, not even by a migration.
        Err(DbErr::Migration(
            "the complaints schema is not reversible".into(),
        ))
    }
}
