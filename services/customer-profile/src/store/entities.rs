//! The service's tables as sea-orm entities. The card itself is stored whole as JSON; the columns
//! beside it are the ones lists filter and sort on.

/// `customers`: one row per archive, the current version.
pub mod customer {
    use sea_orm::entity::prelude::*;

    /// A customer archive row.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "customers")]
    pub struct Model {
        /// Id (UUIDv7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Archive number.
        pub archive_no: String,
        /// Kind code.
        pub kind: String,
        /// Name as entered.
        pub name: String,
        /// Normalised name, for duplicates and search.
        pub name_key: String,
        /// Credit code; unique when present.
        pub credit_code: Option<String>,
        /// Customer type code.
        pub customer_type: Option<String>,
        /// Channel code.
        pub channel: Option<String>,
        /// Grade code.
        pub grade: Option<String>,
        /// Trade standing code.
        pub trade_standing: Option<String>,
        /// Lifecycle code.
        pub lifecycle: Option<String>,
        /// Region.
        pub region: String,
        /// Route code.
        pub route_code: String,
        /// Order within the route.
        pub route_order: i32,
        /// Responsible salesperson.
        pub owner_id: String,
        /// Team.
        pub team: String,
        /// Custodian.
        pub custodian_id: String,
        /// State code.
        pub state: String,
        /// Survivor of a merge.
        pub merged_into_id: Option<String>,
        /// Next review.
        pub review_due_at: DateTimeUtc,
        /// Last review.
        pub last_reviewed_at: Option<DateTimeUtc>,
        /// Version, from 1.
        pub version: i64,
        /// The whole card, as JSON text. Text rather than a JSON column: it is only ever read
        /// whole, and parsing text straight into the card skips an intermediate JSON tree on
        /// the hottest path (GetCustomer).
        pub card: String,
        /// Opened at.
        pub created_at: DateTimeUtc,
        /// Opened by.
        pub created_by: String,
        /// Changed at.
        pub updated_at: DateTimeUtc,
        /// Changed by.
        pub updated_by: String,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `customer_versions`: every version of every card, never changed once written.
pub mod version {
    use sea_orm::entity::prelude::*;

    /// One version.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_versions")]
    pub struct Model {
        /// The customer.
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        /// Version number.
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        /// Change kind code.
        pub kind: String,
        /// Who.
        pub actor_id: String,
        /// When.
        pub changed_at: DateTimeUtc,
        /// Names of the changed fields (JSON array).
        pub changed_fields: Json,
        /// The whole card after the change, as JSON text.
        pub card: String,
        /// A note (review note, merge partner).
        pub note: String,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `documents`: the archive catalogue, without the content.
pub mod document {
    use sea_orm::entity::prelude::*;

    /// One catalogued document.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Archive holding it.
        pub customer_id: String,
        /// Category number 1–5.
        pub category: i32,
        /// Sequence within the category of that archive.
        pub sequence: i32,
        /// `<category>-<sequence>`.
        pub catalogue_no: String,
        /// Title.
        pub title: String,
        /// Kind.
        pub kind: String,
        /// Document date.
        pub document_date: Option<Date>,
        /// 原始资料.
        pub original: bool,
        /// File name.
        pub file_name: String,
        /// Content type.
        pub content_type: String,
        /// Size in bytes.
        pub size_bytes: i64,
        /// SHA-256, hex.
        pub sha256: String,
        /// Closed volume year, if any.
        pub volume_year: Option<i32>,
        /// Archive number before a merge brought it here.
        pub merged_from_archive_no: Option<String>,
        /// Filed at.
        pub created_at: DateTimeUtc,
        /// Filed by.
        pub created_by: String,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `document_contents`: the files, apart so lists never load them.
pub mod document_content {
    use sea_orm::entity::prelude::*;

    /// A document's bytes.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "document_contents")]
    pub struct Model {
        /// The document.
        #[sea_orm(primary_key, auto_increment = false)]
        pub document_id: String,
        /// The bytes.
        pub content: Vec<u8>,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `volumes`: closed years, immutable.
pub mod volume {
    use sea_orm::entity::prelude::*;

    /// One closed year of one archive.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "volumes")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The archive.
        pub customer_id: String,
        /// The year.
        pub year: i32,
        /// Volume number.
        pub volume_no: String,
        /// Closed at.
        pub closed_at: DateTimeUtc,
        /// Closed by.
        pub closed_by: String,
        /// The frozen content: card, entries and versions (JSON).
        pub content: Json,
        /// SHA-256 of the canonical content.
        pub digest: String,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
