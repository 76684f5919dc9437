//! The gateway's schema, the same on SQLite and PostgreSQL: borrows and the audit chain.

use sea_orm_migration::prelude::*;

/// All migrations, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(dossier_kit::outbox::Migration),
            Box::new(dossier_kit::idempotency::Migration),
            Box::new(CreateGateway),
            Box::new(AuditHeadFollows),
        ]
    }
}

struct CreateGateway;

impl MigrationName for CreateGateway {
    fn name(&self) -> &str {
        "m2026_11_23_000001_create_gateway"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateGateway {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("borrows")
                .col(ColumnDef::new("id").string().not_null().primary_key())
                .col(ColumnDef::new("borrower_id").string().not_null())
                .col(ColumnDef::new("borrower_name").string().not_null())
                .col(ColumnDef::new("customer_id").string().not_null())
                .col(ColumnDef::new("customer_team").string().not_null())
                .col(ColumnDef::new("purpose").text().not_null())
                .col(ColumnDef::new("notes").text().not_null())
                .col(
                    ColumnDef::new("request_time")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new("from_time")
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new("until")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new("state").integer().not_null())
                .col(ColumnDef::new("approver_id").string().not_null())
                .col(ColumnDef::new("approver_name").string().not_null())
                .col(
                    ColumnDef::new("decide_time")
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new("decision_comment").text().not_null())
                .col(
                    ColumnDef::new("return_time")
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new("returned_late").boolean().not_null())
                .col(ColumnDef::new("version").big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("borrows_by_borrower")
                .table("borrows")
                .col("borrower_id")
                .col("state")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("audit_events")
                .col(
                    ColumnDef::new("sequence")
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("event_time").string().not_null())
                .col(ColumnDef::new("caller_id").string().not_null())
                .col(ColumnDef::new("role").integer().not_null())
                .col(ColumnDef::new("team").string().not_null())
                .col(ColumnDef::new("method").string().not_null())
                .col(ColumnDef::new("customer_ids").text().not_null())
                .col(ColumnDef::new("revealed_classes").string().not_null())
                .col(ColumnDef::new("masked_fields").text().not_null())
                .col(ColumnDef::new("grant_id").string().not_null())
                .col(ColumnDef::new("outcome").integer().not_null())
                .col(ColumnDef::new("status_code").integer().not_null())
                .col(ColumnDef::new("trace_id").string().not_null())
                .col(ColumnDef::new("peer").string().not_null())
                .col(ColumnDef::new("request_id").string().not_null())
                .col(ColumnDef::new("duration_ms").big_integer().not_null())
                .col(ColumnDef::new("prev_hash").string().not_null())
                .col(ColumnDef::new("hash").string().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("audit_by_caller")
                .table("audit_events")
                .col("caller_id")
                .col("sequence")
                .to_owned(),
        )
        .await?;
        // The chain's head, written with every append: finds a deleted newest event.
        m.create_table(
            Table::create()
                .table("audit_head")
                .col(ColumnDef::new("id").integer().not_null().primary_key())
                .col(ColumnDef::new("sequence").big_integer().not_null())
                .col(ColumnDef::new("hash").string().not_null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// The chain's head follows every inserted event by trigger, so an append is one `INSERT` — on
/// SQLite one statement with no transaction around it — instead of a transaction that also reads
/// and writes the head. The head row exists from here on (sequence 0 and the genesis hash for an
/// empty chain).
struct AuditHeadFollows;

impl MigrationName for AuditHeadFollows {
    fn name(&self) -> &str {
        "m2026_11_24_000001_audit_head_follows"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for AuditHeadFollows {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO audit_head (id, sequence, hash) SELECT 1, 0, '{}' \
             WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1)",
            crate::domain::audit_chain::GENESIS
        ))
        .await?;
        match m.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN UPDATE audit_head SET sequence = NEW.sequence, hash = NEW.hash WHERE id = 1; \
                     RETURN NULL; END $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events \
                     FOR EACH ROW EXECUTE FUNCTION audit_head_follows()",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events FOR EACH ROW \
                     BEGIN UPDATE audit_head SET sequence = NEW.sequence, hash = NEW.hash WHERE id = 1; END",
                )
                .await?;
            }
        }
        Ok(())
    }
}
