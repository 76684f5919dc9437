//! Field masking for the Dossier gateway (DOMAIN.md §6): every response, list item, streamed
//! message, change-feed payload and export passes through one generic engine before it leaves
//! the gateway.
//!
//! # Design
//!
//! - **Policy as data.** [`policy::ROLE_TABLE`] says, for each role × relation to the record,
//!   which sensitivity classes are revealed, shown in part or cleared; [`policy::SCOPE_TABLE`]
//!   does the same for integration accounts by scope. Nothing else in the crate decides
//!   visibility, so the table is what an auditor reads and what a policy change edits.
//! - **A generic walk.** [`Masker`] knows no message type: it reads the `sensitivity`, `mask`
//!   and `customer_ref` options of every field of the contract once (through
//!   `dossier_proto::sensitivity::annotation`), caches a plan per message type, and walks any
//!   `prost_reflect::DynamicMessage` with it — nested messages, lists, maps, and
//!   `google.protobuf.Any` (unpacked, masked as the packed type, packed again). A new annotated
//!   field is masked without new code.
//! - **Deny by default.** A field without an annotation (`SENSITIVITY_UNSPECIFIED`) is cleared for
//!   everyone; so are fields the contract does not declare (unknown field numbers), an `Any`
//!   whose packed type the contract does not know or whose content does not decode, a role ×
//!   relation missing from the table, and a partial access to a field without a partial form.
//!   Clearing removes the value from the message: nothing of it is left in the encoded output.
//! - **Relation per record.** The caller's [`Relation`] (owner, team, borrower, other) is decided
//!   per message: a message with a non-empty `customer_ref` field stands in the relation the
//!   gateway's `relation_of(customer_id)` returns, and so do its descendants; a message without
//!   one inherits its parent's unless it names its author (`author_ref`, with `author_team`):
//!   then it stands as its author does to the caller ([`policy::author_relation`]: the caller's
//!   own record → owner, a teammate's → team); the top defaults to `Other`. So each item of a list response is
//!   masked for its own customer, and a change event for the customer it concerns.
//! - **Message-typed fields.** A sub-message is walked only when the field that holds it is
//!   revealed; otherwise it is cleared whole (a sub-message has no partial form). Well-known types
//!   (`Timestamp`, `FieldMask`, ...) carry no annotations of their own and are one value of the
//!   holding field's class.
//! - **Two walks, one set of decisions.** [`Masker::mask_message`] walks a decoded
//!   `DynamicMessage` (the reference). [`Masker::mask_bytes`], what the gateway calls on the bytes
//!   it forwards, makes the same decisions on the encoding itself — revealed fields copied as
//!   they are, cleared ones skipped, partial strings rewritten, nested lengths fixed — because
//!   decoding into a `DynamicMessage` and encoding again costs several times the masking. Input
//!   it does not handle exactly like the reference (malformed, fields split in pieces, maps) is
//!   handed to the reference walk; tests compare the two on real and on corrupted messages.
//!
//! Masking reports what it did ([`MaskReport`]): the masked field paths, for the
//! `dossier-masked-fields` response header ([`MASKED_FIELDS_HEADER`]) so a client can tell
//! *masked* from *empty*, and the classes revealed, for the audit log.
#![forbid(unsafe_code)]

pub mod engine;
pub mod partial;
pub mod policy;
mod wire;

pub use engine::{Error, MASKED_FIELDS_HEADER, MaskReport, Masker, WHOLE_MESSAGE_PATH};
pub use policy::{
    Access, Grants, Relation, access, author_relation, field_access, team_scope_relation,
};
