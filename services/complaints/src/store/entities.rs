//! The service's tables as sea-orm entities. Each record is stored whole as JSON text; the
//! columns beside it are the ones lists filter and sort on, derived from the record when it is
//! written and never read back.

/// `complaints`: one row per complaint, its current version.
pub mod complaint {
    use sea_orm::entity::prelude::*;

    /// A complaint row.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "complaints")]
    pub struct Model {
        /// Id (UUIDv7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The customer.
        pub customer_id: String,
        /// State code.
        pub state: String,
        /// Subject.
        pub subject: String,
        /// Handler's `sub`; empty until handling starts.
        pub handler_id: String,
        /// When the customer complained.
        pub complaint_time: DateTimeUtc,
        /// The current reply deadline.
        pub reply_due_at: DateTimeUtc,
        /// Whether the deadline runs (no reply yet in this round).
        pub awaits_reply: bool,
        /// Escalated and not closed.
        pub escalated: bool,
        /// Reaction code at the last close.
        pub reaction: Option<String>,
        /// Version, from 1.
        pub version: i64,
        /// The whole record as JSON text.
        pub body: String,
        /// Filed at.
        pub created_at: DateTimeUtc,
        /// Changed at.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `feedback`: one row per feedback record.
pub mod feedback {
    use sea_orm::entity::prelude::*;

    /// A feedback row.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "feedback")]
    pub struct Model {
        /// Id (UUIDv7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The customer.
        pub customer_id: String,
        /// The complaint; empty for general feedback.
        pub complaint_id: String,
        /// When the feedback was given.
        pub feedback_time: DateTimeUtc,
        /// Whether a follow-up is recorded.
        pub has_follow_up: bool,
        /// Version, from 1.
        pub version: i64,
        /// The whole record as JSON text.
        pub body: String,
        /// Recorded at.
        pub created_at: DateTimeUtc,
        /// Changed at.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated through the ORM.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
