//! The schema of visit-journal, the same on SQLite and PostgreSQL.
//!
//! Each record is kept whole as its encoded protobuf message (`body`), beside the columns the
//! queries filter, sort and count by. Plan rows are the exception: every planned visit is a row
//! of its own (`planned_visits`), because plan-vs-done adds them up in SQL.

use sea_orm_migration::prelude::*;

/// All migrations, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(dossier_kit::outbox::Migration),
            Box::new(dossier_kit::idempotency::Migration),
            Box::new(CreateVisitJournal),
        ]
    }
}

struct CreateVisitJournal;

impl MigrationName for CreateVisitJournal {
    fn name(&self) -> &str {
        "m2026_11_23_000001_create_visit_journal"
    }
}

fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn int(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().to_owned()
}

fn big(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn time(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn flag(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().to_owned()
}

fn body() -> ColumnDef {
    ColumnDef::new("body").blob().not_null().to_owned()
}

fn id() -> ColumnDef {
    ColumnDef::new("id")
        .string()
        .not_null()
        .primary_key()
        .to_owned()
}

async fn index(
    m: &SchemaManager<'_>,
    table: &str,
    name: &str,
    columns: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table.to_owned());
    for column in columns {
        index.col(*column);
    }
    if unique {
        index.unique();
    }
    m.create_index(index.to_owned()).await
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateVisitJournal {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("visit_plans")
                .col(id())
                .col(text("salesperson_id"))
                .col(text("salesperson_name"))
                .col(text("team"))
                .col(int("year"))
                .col(big("version"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .col(text("updated_by"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "visit_plans",
            "visit_plans_owner_year",
            &["salesperson_id", "year"],
            true,
        )
        .await?;

        // Dates are ISO `YYYY-MM-DD` text: they compare in calendar order on both databases.
        m.create_table(
            Table::create()
                .table("planned_visits")
                .col(text("plan_id"))
                .col(text("salesperson_id"))
                .col(text("team"))
                .col(int("year"))
                .col(text("customer_id"))
                .col(text("customer_name"))
                .col(int("row_no"))
                .col(int("number"))
                .col(text_null("planned_date"))
                .col(text_null("planned_month"))
                .col(text_null("actual_date"))
                .col(text_null("visit_id"))
                .primary_key(
                    Index::create()
                        .col("salesperson_id")
                        .col("year")
                        .col("customer_id")
                        .col("number"),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "planned_visits",
            "planned_visits_year_month",
            &["year", "planned_month"],
            false,
        )
        .await?;
        index(
            m,
            "planned_visits",
            "planned_visits_visit",
            &["visit_id"],
            false,
        )
        .await?;
        index(
            m,
            "planned_visits",
            "planned_visits_plan",
            &["plan_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table("visits")
                .col(id())
                .col(text("salesperson_id"))
                .col(text("team"))
                .col(text("customer_id"))
                .col(text("visit_date"))
                .col(int("visit_year"))
                .col(int("sequence"))
                .col(flag("open_objections"))
                // Whether the visit fills a planned visit: the unplanned count reads it.
                .col(flag("plan_matched"))
                .col(text("route_code"))
                .col(int("route_order"))
                .col(big("version"))
                .col(time("created_at"))
                .col(body())
                .to_owned(),
        )
        .await?;
        index(
            m,
            "visits",
            "visits_owner_date",
            &["salesperson_id", "visit_date"],
            false,
        )
        .await?;
        index(
            m,
            "visits",
            "visits_customer_date",
            &["customer_id", "visit_date"],
            false,
        )
        .await?;
        index(
            m,
            "visits",
            "visits_year",
            &["visit_year", "salesperson_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table("journals")
                .col(id())
                .col(text("salesperson_id"))
                .col(text("team"))
                .col(text("journal_date"))
                .col(text("state"))
                .col(int("awaiting_role"))
                .col(big("version"))
                .col(time("updated_at"))
                .col(body())
                .to_owned(),
        )
        .await?;
        index(
            m,
            "journals",
            "journals_owner_date",
            &["salesperson_id", "journal_date"],
            true,
        )
        .await?;
        index(
            m,
            "journals",
            "journals_awaiting",
            &["awaiting_role", "team"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table("reports")
                .col(id())
                .col(int("kind"))
                .col(text("customer_id"))
                .col(text("salesperson_id"))
                .col(text("team"))
                .col(text("report_date"))
                .col(flag("acknowledged"))
                .col(big("version"))
                .col(time("created_at"))
                .col(body())
                .to_owned(),
        )
        .await?;
        index(
            m,
            "reports",
            "reports_kind_ack",
            &["kind", "acknowledged"],
            false,
        )
        .await?;
        index(
            m,
            "reports",
            "reports_owner_date",
            &["salesperson_id", "report_date"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table("follow_ups")
                .col(id())
                .col(text("customer_id"))
                .col(text("entry_kind"))
                .col(int("number"))
                .col(text("entry_date"))
                .col(time("created_at"))
                .col(body())
                .to_owned(),
        )
        .await?;
        index(
            m,
            "follow_ups",
            "follow_ups_number",
            &["customer_id", "entry_kind", "number"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table("work_plans")
                .col(id())
                .col(text("salesperson_id"))
                .col(text("team"))
                .col(int("kind"))
                .col(text("period"))
                .col(text("period_start"))
                .col(big("version"))
                .col(body())
                .to_owned(),
        )
        .await?;
        index(
            m,
            "work_plans",
            "work_plans_period",
            &["salesperson_id", "kind", "period"],
            true,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Nothing is hard-deleted, not even by a migration.
        Err(DbErr::Migration(
            "the visit-journal schema is not reversible".into(),
        ))
    }
}
