//! The analytics schema: the read model of the other services' records, the feed positions
//! (stored in the transaction that applies the events), and the sales-force scores with their
//! history. Dates are `YYYY-MM-DD` text (they order as text), instants are Unix seconds, money is
//! whole cents (see [`crate::domain::money`]); the same SQL runs on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

/// Migrations of analytics.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(dossier_kit::idempotency::Migration),
            Box::new(ReadModel),
        ]
    }
}

struct ReadModel;

impl MigrationName for ReadModel {
    fn name(&self) -> &str {
        "m2026_11_23_000001_analytics_read_model"
    }
}

const TABLES: &[&str] = &[
    "CREATE TABLE feed_position (
        source TEXT PRIMARY KEY,
        sequence BIGINT NOT NULL,
        event_time BIGINT,
        applied_at BIGINT
    )",
    "CREATE TABLE rm_customers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        grade BIGINT NOT NULL,
        region TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        team TEXT NOT NULL,
        trade_standing BIGINT NOT NULL,
        state BIGINT NOT NULL
    )",
    "CREATE INDEX rm_customers_team ON rm_customers (team)",
    "CREATE TABLE rm_contracts (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        target_year BIGINT NOT NULL,
        total_cents BIGINT NOT NULL,
        status BIGINT NOT NULL
    )",
    "CREATE INDEX rm_contracts_customer ON rm_contracts (customer_id, target_year)",
    "CREATE TABLE rm_deliveries (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        contract_id TEXT NOT NULL,
        delivery_date TEXT NOT NULL,
        product TEXT NOT NULL,
        amount_cents BIGINT NOT NULL,
        receivable_id TEXT NOT NULL,
        due_date TEXT NOT NULL
    )",
    "CREATE INDEX rm_deliveries_date ON rm_deliveries (delivery_date)",
    "CREATE INDEX rm_deliveries_customer ON rm_deliveries (customer_id, delivery_date)",
    "CREATE TABLE rm_payments (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        received_date TEXT NOT NULL,
        amount_cents BIGINT NOT NULL
    )",
    "CREATE INDEX rm_payments_date ON rm_payments (received_date)",
    "CREATE TABLE rm_allocations (
        payment_id TEXT NOT NULL,
        receivable_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        received_date TEXT NOT NULL,
        amount_cents BIGINT NOT NULL,
        PRIMARY KEY (payment_id, receivable_id)
    )",
    "CREATE INDEX rm_allocations_receivable ON rm_allocations (receivable_id, received_date)",
    "CREATE INDEX rm_allocations_customer ON rm_allocations (customer_id)",
    "CREATE TABLE rm_visits (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        salesperson_id TEXT NOT NULL,
        visit_date TEXT NOT NULL
    )",
    "CREATE TABLE rm_planned_visits (
        plan_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        number BIGINT NOT NULL,
        salesperson_id TEXT NOT NULL,
        planned_date TEXT NOT NULL,
        actual_date TEXT NOT NULL,
        PRIMARY KEY (plan_id, customer_id, number)
    )",
    "CREATE INDEX rm_planned_visits_date ON rm_planned_visits (planned_date)",
    "CREATE TABLE rm_complaints (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        complaint_at BIGINT NOT NULL,
        reply_at BIGINT,
        reply_due_at BIGINT,
        closed BIGINT NOT NULL,
        state BIGINT NOT NULL
    )",
    "CREATE INDEX rm_complaints_customer ON rm_complaints (customer_id, complaint_at)",
    "CREATE TABLE rm_open_items (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        open BIGINT NOT NULL,
        PRIMARY KEY (kind, id)
    )",
    "CREATE TABLE sf_scores (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        month TEXT NOT NULL,
        factor BIGINT NOT NULL,
        score BIGINT NOT NULL,
        note TEXT NOT NULL,
        evaluator TEXT NOT NULL,
        entered_at BIGINT NOT NULL,
        superseded_at BIGINT
    )",
    "CREATE INDEX sf_scores_card ON sf_scores (customer_id, month, factor)",
    "CREATE TABLE sf_cards (
        customer_id TEXT NOT NULL,
        month TEXT NOT NULL,
        version BIGINT NOT NULL,
        evaluator TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (customer_id, month)
    )",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for ReadModel {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == sea_orm::DbBackend::Postgres;
        for sql in TABLES {
            // Text compares byte-wise, as in SQLite: dates and ids order the same on both
            // backends, and PostgreSQL skips the locale's comparison on every row it scans.
            let sql = if postgres {
                sql.replace(" TEXT", " TEXT COLLATE \"C\"")
            } else {
                (*sql).to_owned()
            };
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in [
            "sf_cards",
            "sf_scores",
            "rm_open_items",
            "rm_complaints",
            "rm_planned_visits",
            "rm_visits",
            "rm_allocations",
            "rm_payments",
            "rm_deliveries",
            "rm_contracts",
            "rm_customers",
            "feed_position",
        ] {
            db.execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        Ok(())
    }
}
