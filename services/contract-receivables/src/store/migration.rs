//! The schema of contract-and-receivables, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

/// All migrations, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(dossier_kit::outbox::Migration),
            Box::new(dossier_kit::idempotency::Migration),
            Box::new(CreateLedger),
        ]
    }
}

/// The records table and the per-customer credit accounts.
struct CreateLedger;

impl MigrationName for CreateLedger {
    fn name(&self) -> &str {
        "m2026_11_23_000001_create_ledger"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateLedger {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("records")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(ColumnDef::new("kind").string().not_null())
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("contract_id").string().not_null())
                .col(ColumnDef::new("parent_id").string().not_null())
                .col(ColumnDef::new("state").string().not_null())
                .col(ColumnDef::new("day").string().not_null())
                .col(ColumnDef::new("salesperson_id").string().not_null())
                // A human number unique within its kind (合同号); NULLs do not collide.
                .col(ColumnDef::new("number").string().null())
                .col(ColumnDef::new("body").text().not_null())
                .col(
                    ColumnDef::new("created_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new("updated_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        for (name, columns, unique) in [
            ("records_number", &["kind", "number"][..], true),
            (
                "records_customer",
                &["kind", "customer_id", "state", "day"][..],
                false,
            ),
            (
                "records_contract",
                &["kind", "contract_id", "day"][..],
                false,
            ),
            ("records_parent", &["kind", "parent_id"][..], false),
            (
                "records_salesperson",
                &["kind", "salesperson_id", "state"][..],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("records");
            if unique {
                index.unique();
            }
            for column in columns {
                index.col(*column);
            }
            m.create_index(index.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table("credit_accounts")
                .col(
                    ColumnDef::new("customer_id")
                        .string()
                        .not_null()
                        .primary_key(),
                )
                // Unapplied money held for the customer (overpayments), a decimal string.
                .col(ColumnDef::new("credit").string().not_null())
                .col(
                    ColumnDef::new("updated_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("credit_accounts").to_owned())
            .await?;
        m.drop_table(Table::drop().table("records").to_owned())
            .await
    }
}
