//! The generic masking walk: one pass over a `DynamicMessage`, driven by the sensitivity
//! annotations of the contract and the policy tables.

use std::collections::{BTreeSet, HashMap};

use dossier_kit::auth::Caller;
use dossier_proto::sensitivity::{self, MaskStyle, Sensitivity};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, ReflectMessage, Value};

use crate::partial;
use crate::policy::{Access, Grants, Relation, author_relation};

/// The response header that lists the masked field paths ([`MaskReport::header_value`]).
pub const MASKED_FIELDS_HEADER: &str = "dossier-masked-fields";

/// The path recorded when a whole top-level message had to be cleared (a bare
/// `google.protobuf.Any` whose packed type is unknown, or a message type outside the contract).
pub const WHOLE_MESSAGE_PATH: &str = "*";

/// What masking did to one message.
///
/// Path convention: proto field names (snake_case, as in the `.proto`) joined by `.`, from the
/// masked message's top. A repeated field on the way is written `name[]`, a map field `name{}`;
/// the masked field itself is written bare, whatever its cardinality. A `google.protobuf.Any` is
/// transparent: the fields of the packed message follow the `Any` field's name directly. Unknown
/// fields (numbers the contract does not declare) are written `#<number>`. Examples:
/// `notes`, `finance`, `contacts[].phone`, `customers[].contacts[].hobbies`,
/// `payload.contacts[].birth_date`, `#99`. Each path appears once, in the order first masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskReport {
    /// The paths of the fields that had a value and were cleared or shortened to a partial form.
    pub masked_paths: Vec<String>,
    /// The classes of the fields shown in full (for the audit log's "fields revealed").
    pub classes_revealed: BTreeSet<Sensitivity>,
    /// The classes of the fields shown in a partial form.
    pub classes_partial: BTreeSet<Sensitivity>,
}

impl MaskReport {
    /// Whether anything was masked.
    pub fn is_masked(&self) -> bool {
        !self.masked_paths.is_empty()
    }

    /// The value of the [`MASKED_FIELDS_HEADER`] header: the paths joined by `,`. Paths hold only
    /// ASCII field-name characters and `[]{}.#*()`, so the value is a valid header value.
    pub fn header_value(&self) -> String {
        self.masked_paths.join(",")
    }

    /// Adds another report (for example, of the next message of a stream) to this one, keeping
    /// each path once.
    pub fn merge(&mut self, other: MaskReport) {
        for path in other.masked_paths {
            if !self.masked_paths.contains(&path) {
                self.masked_paths.push(path);
            }
        }
        self.classes_revealed.extend(other.classes_revealed);
        self.classes_partial.extend(other.classes_partial);
    }
}

/// Why a message could not be masked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message type is not part of the contract.
    #[error("message type {0:?} is not in the Dossier contract")]
    UnknownMessage(String),
    /// The bytes are not a valid encoding of the message type.
    #[error("cannot decode {name}: {source}")]
    Decode {
        /// The message type.
        name: String,
        /// The decoder's complaint.
        #[source]
        source: prost::DecodeError,
    },
}

/// The masking engine. Build it once (it reads every field annotation of the contract up front,
/// a few milliseconds) and share it: masking takes `&self` and the engine is `Send + Sync`.
pub struct Masker {
    pool: DescriptorPool,
    pub(crate) plans: Vec<MessagePlan>,
    pub(crate) by_name: HashMap<Box<str>, usize>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("message_types", &self.plans.len())
            .finish()
    }
}

/// How the walk treats a message type.
pub(crate) enum Form {
    /// A contract message: every field is decided by its own annotation.
    Walk,
    /// A well-known type (`google.protobuf.Timestamp`, `FieldMask`, ...): its fields carry no
    /// annotations; the class of the field that holds it decides for the whole value.
    Atomic,
    /// `google.protobuf.Any`: unpacked, masked as the packed type, packed again.
    Any {
        type_url: FieldDescriptor,
        value: FieldDescriptor,
    },
}

/// What the walk needs to know about one message type, read once from the descriptors.
pub(crate) struct MessagePlan {
    pub(crate) descriptor: prost_reflect::MessageDescriptor,
    pub(crate) form: Form,
    /// Fields in number order.
    pub(crate) fields: Vec<FieldPlan>,
    /// Singular string fields annotated `customer_ref`.
    pub(crate) customer_refs: Vec<FieldDescriptor>,
    /// Their numbers, for the byte-level walk.
    pub(crate) customer_ref_numbers: Vec<u32>,
    /// The singular string field annotated `author_ref`, if any (the first one).
    pub(crate) author_ref: Option<FieldDescriptor>,
    /// The singular string field annotated `author_team`, if any (the first one).
    pub(crate) author_team: Option<FieldDescriptor>,
    /// Whether the type declares extensions (only descriptor.proto's option messages do).
    pub(crate) has_extensions: bool,
    /// Position in `fields` by field number, for the byte-level walk; empty when the numbers
    /// are too sparse for a table (then `fields` is searched).
    positions: Vec<u16>,
}

/// `MessagePlan::positions` entry of a number that names no field.
const NO_FIELD: u16 = u16::MAX;
/// Largest field number looked up through a table rather than a search.
const MAX_TABLE_NUMBER: u32 = 1024;

impl MessagePlan {
    /// The plan of the field numbered `number`, with its position in `fields`.
    #[inline]
    pub(crate) fn field(&self, number: u32) -> Option<(usize, &FieldPlan)> {
        let position = match self.positions.get(number as usize) {
            Some(&NO_FIELD) => return None,
            Some(&position) => usize::from(position),
            None if self.positions.is_empty() => self
                .fields
                .binary_search_by_key(&number, |field| field.number)
                .ok()?,
            None => return None,
        };
        self.fields.get(position).map(|field| (position, field))
    }
}

pub(crate) struct FieldPlan {
    pub(crate) field: FieldDescriptor,
    pub(crate) number: u32,
    pub(crate) name: Box<str>,
    pub(crate) sensitivity: Sensitivity,
    pub(crate) mask: MaskStyle,
    pub(crate) cardinality: Cardinality,
    /// The kind of the values (of the map's values for a map).
    pub(crate) value: ValueKind,
    /// How the field's values are laid out on the wire.
    pub(crate) wire: Wire,
    /// Whether the field is set even when it holds its default value (messages, `optional`).
    pub(crate) presence: bool,
    /// Position of the field's oneof among the message's oneofs.
    pub(crate) oneof: Option<usize>,
}

/// The wire layout of a field's values, for the byte-level walk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Varint: integers, bools, enums.
    Varint,
    /// 8 bytes; `true` for a double (default test by value: -0.0 is a default too).
    Fixed64 { double: bool },
    /// 4 bytes; `true` for a float.
    Fixed32 { float: bool },
    /// Length-delimited: strings, bytes, messages (and maps).
    Len,
    /// A proto2 group: the byte-level walk leaves these to the reflective one.
    Group,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cardinality {
    Single,
    List,
    Map,
}

impl Cardinality {
    /// How the field's name is written when the path continues into its values.
    pub(crate) fn step(self) -> &'static str {
        match self {
            Cardinality::Single => ".",
            Cardinality::List => "[].",
            Cardinality::Map => "{}.",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    String,
    Message(usize),
    Other,
}

/// Whether a walked message survives. Only an `Any` whose content cannot be masked is wiped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Keep,
    Wipe,
}

impl Masker {
    /// Builds the engine over the Dossier contract (`dossier_proto::descriptor_pool()`).
    pub fn new() -> Masker {
        let pool = dossier_proto::descriptor_pool().clone();
        let by_name: HashMap<Box<str>, usize> = pool
            .all_messages()
            .enumerate()
            .map(|(index, message)| (Box::from(message.full_name()), index))
            .collect();
        let plans = pool
            .all_messages()
            .map(|message| plan(&message, &by_name))
            .collect();
        Masker {
            pool,
            plans,
            by_name,
        }
    }

    /// The descriptor pool messages are decoded with.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// Masks `msg` in place for `caller`. `relation_of` gives the caller's relation to a customer
    /// by id; it is asked once per distinct customer id met in the message (each item of a list
    /// response, each packed change-feed payload, ...). The top of the message stands in
    /// `Relation::Other` unless its own `customer_ref` (or, without one, its `author_ref`) says
    /// otherwise.
    pub fn mask_message(
        &self,
        msg: &mut DynamicMessage,
        caller: &Caller,
        relation_of: &dyn Fn(&str) -> Relation,
    ) -> MaskReport {
        self.mask_message_as(msg, caller, relation_of, Relation::Other)
    }

    /// [`mask_message`](Self::mask_message) with the relation of the top of the message given:
    /// for a response about one customer whose messages do not all name it (the gateway knows
    /// the customer from the request's `customer_ref`). A `customer_ref` inside the message
    /// still decides for its own subtree.
    pub fn mask_message_as(
        &self,
        msg: &mut DynamicMessage,
        caller: &Caller,
        relation_of: &dyn Fn(&str) -> Relation,
        top: Relation,
    ) -> MaskReport {
        let mut walk = Walk::new(caller, relation_of);
        let descriptor = msg.descriptor();
        match self.by_name.get(descriptor.full_name()).copied() {
            Some(index) if descriptor.parent_pool() == &self.pool => {
                self.mask_top(msg, index, top, &mut walk);
            }
            Some(index) => {
                // Same type name, another pool (a caller decoded with its own descriptors):
                // re-decode with ours so that every field is read through the contract's
                // annotations, then hand the masked content back.
                let mut ours = match DynamicMessage::decode(
                    self.plans[index].descriptor.clone(),
                    msg.encode_to_vec().as_slice(),
                ) {
                    Ok(ours) => ours,
                    Err(_) => {
                        wipe_whole(msg, &mut walk);
                        return walk.into_report();
                    }
                };
                self.mask_top(&mut ours, index, top, &mut walk);
                msg.clear();
                if msg.merge(ours.encode_to_vec().as_slice()).is_err() {
                    msg.clear();
                }
            }
            None => wipe_whole(msg, &mut walk),
        }
        walk.into_report()
    }

    /// A generated message masked for `caller` (see [`mask_bytes_as`](Self::mask_bytes_as)) — for
    /// a service that masks what it builds itself (an export, the gateway's own replies).
    pub fn mask_generated<M: prost::Message + prost::Name + Default>(
        &self,
        message: &M,
        caller: &Caller,
        relation_of: &dyn Fn(&str) -> Relation,
        top: Relation,
    ) -> Result<(M, MaskReport), Error> {
        let name = M::full_name();
        let (bytes, report) =
            self.mask_bytes_as(&name, &message.encode_to_vec(), caller, relation_of, top)?;
        let masked =
            M::decode(bytes.as_slice()).map_err(|source| Error::Decode { name, source })?;
        Ok((masked, report))
    }

    /// Masks the encoded message `bytes` of the contract type `full_name` (e.g.
    /// `dossier.customer.v1.Customer`) and returns the masked encoding — what the gateway does
    /// with every response, stream item, change event and export it forwards.
    ///
    /// Works on the encoding directly (no `DynamicMessage` is built; see the crate docs) and
    /// decides exactly as [`mask_message`](Self::mask_message) would after a decode: the same
    /// fields masked, the same report, the same refusal of input a decoder refuses
    /// ([`Error::Decode`]). Revealed fields keep their bytes and their order.
    pub fn mask_bytes(
        &self,
        full_name: &str,
        bytes: &[u8],
        caller: &Caller,
        relation_of: &dyn Fn(&str) -> Relation,
    ) -> Result<(Vec<u8>, MaskReport), Error> {
        self.mask_bytes_as(full_name, bytes, caller, relation_of, Relation::Other)
    }

    /// [`mask_bytes`](Self::mask_bytes) with the relation of the top of the message given (see
    /// [`mask_message_as`](Self::mask_message_as)).
    pub fn mask_bytes_as(
        &self,
        full_name: &str,
        bytes: &[u8],
        caller: &Caller,
        relation_of: &dyn Fn(&str) -> Relation,
        top: Relation,
    ) -> Result<(Vec<u8>, MaskReport), Error> {
        let index = self
            .by_name
            .get(full_name)
            .copied()
            .ok_or_else(|| Error::UnknownMessage(full_name.to_owned()))?;
        // The byte-level walk first: it never builds a DynamicMessage, which is most of the cost.
        let mut walk = Walk::new(caller, relation_of);
        let mut out = Vec::with_capacity(bytes.len());
        match self.wire_message(index, bytes, top, &mut walk, &mut out) {
            Ok(Outcome::Keep) => return Ok((out, walk.into_report())),
            Ok(Outcome::Wipe) => {
                walk.record(WHOLE_MESSAGE_PATH);
                return Ok((Vec::new(), walk.into_report()));
            }
            // Something the byte-level walk does not handle (malformed input, a message split
            // in two, a map of messages...): the reflective walk decides, from scratch.
            Err(crate::wire::Anomaly) => walk.restart(),
        }
        let mut msg = DynamicMessage::decode(self.plans[index].descriptor.clone(), bytes).map_err(
            |source| Error::Decode {
                name: full_name.to_owned(),
                source,
            },
        )?;
        self.mask_top(&mut msg, index, top, &mut walk);
        Ok((msg.encode_to_vec(), walk.into_report()))
    }

    fn mask_top(&self, msg: &mut DynamicMessage, index: usize, top: Relation, walk: &mut Walk<'_>) {
        if self.walk(msg, index, top, walk) == Outcome::Wipe {
            msg.clear();
            walk.record(WHOLE_MESSAGE_PATH);
        }
    }

    /// Masks one message of type `self.plans[index]` whose parent stands in `inherited`.
    pub(crate) fn walk(
        &self,
        msg: &mut DynamicMessage,
        index: usize,
        inherited: Relation,
        walk: &mut Walk<'_>,
    ) -> Outcome {
        let plan = &self.plans[index];
        if let Form::Any { type_url, value } = &plan.form {
            return self.walk_any(msg, type_url, value, inherited, walk);
        }
        let relation = self.relation(msg, plan, inherited, walk);
        let grants = walk.grants(relation);

        for field in &plan.fields {
            if !msg.has_field(&field.field) {
                continue;
            }
            let access = grants.get(field.sensitivity);
            match (access, field.value) {
                (Access::Reveal, ValueKind::Message(child)) => {
                    walk.reveal(field.sensitivity);
                    // A well-known type is one value of the holding field's class.
                    if !matches!(self.plans[child].form, Form::Atomic) {
                        self.reveal_messages(msg, field, child, relation, walk);
                    }
                }
                (Access::Reveal, _) => walk.reveal(field.sensitivity),
                (Access::Partial, ValueKind::String)
                    if field.mask != MaskStyle::Unspecified
                        && field.cardinality != Cardinality::Map =>
                {
                    // Map keys have no partial form, so a map is never shown in part.
                    walk.partial(field.sensitivity);
                    if shorten(msg.get_field_mut(&field.field), field.mask) {
                        walk.record(&field.name);
                    }
                }
                // Clear, or Partial without a partial form (no style, not a string, a message).
                _ => {
                    msg.clear_field(&field.field);
                    walk.record(&field.name);
                }
            }
        }
        // Fields the contract does not declare have no annotation: deny by default. (After the
        // declared fields, so paths come in the order the byte-level walk meets them.)
        drop_undeclared(msg, plan, walk);
        Outcome::Keep
    }

    /// Walks the message values of a revealed message-typed field.
    fn reveal_messages(
        &self,
        msg: &mut DynamicMessage,
        field: &FieldPlan,
        child: usize,
        relation: Relation,
        walk: &mut Walk<'_>,
    ) {
        let mark = walk.path.len();
        walk.path.push_str(&field.name);
        walk.path.push_str(field.cardinality.step());
        let mut wiped_single = false;
        let mut wiped_any = false;
        match msg.get_field_mut(&field.field) {
            Value::Message(message) => {
                wiped_single = self.walk(message, child, relation, walk) == Outcome::Wipe;
            }
            Value::List(items) => {
                for item in items {
                    if let Value::Message(message) = item
                        && self.walk(message, child, relation, walk) == Outcome::Wipe
                    {
                        // Keep the list's positions; the item is left empty.
                        message.clear();
                        wiped_any = true;
                    }
                }
            }
            Value::Map(entries) => {
                for value in entries.values_mut() {
                    if let Value::Message(message) = value
                        && self.walk(message, child, relation, walk) == Outcome::Wipe
                    {
                        message.clear();
                        wiped_any = true;
                    }
                }
            }
            _ => {}
        }
        walk.path.truncate(mark);
        if wiped_single {
            msg.clear_field(&field.field);
        }
        if wiped_single || wiped_any {
            walk.record(&field.name);
        }
    }

    /// Unpacks an `Any`, masks the packed message as its own type and packs it again. A type the
    /// contract does not know, or content that does not decode, cannot be masked: wiped.
    fn walk_any(
        &self,
        msg: &mut DynamicMessage,
        type_url: &FieldDescriptor,
        value: &FieldDescriptor,
        inherited: Relation,
        walk: &mut Walk<'_>,
    ) -> Outcome {
        if msg.unknown_fields().next().is_some() {
            return Outcome::Wipe;
        }
        let packed = {
            let url = msg.get_field(type_url);
            let url = url.as_str().unwrap_or_default();
            if url.is_empty() && !msg.has_field(value) {
                // An empty Any holds nothing to mask.
                return Outcome::Keep;
            }
            let name = url.rsplit('/').next().unwrap_or_default();
            let Some(index) = self.by_name.get(name).copied() else {
                return Outcome::Wipe;
            };
            let content = msg.get_field(value);
            let Some(bytes) = content.as_bytes() else {
                return Outcome::Wipe;
            };
            match DynamicMessage::decode(self.plans[index].descriptor.clone(), bytes.as_ref()) {
                Ok(packed) => (packed, index),
                Err(_) => return Outcome::Wipe,
            }
        };
        let (mut packed, index) = packed;
        if !walk.enter_any() {
            return Outcome::Wipe;
        }
        let outcome = self.walk(&mut packed, index, inherited, walk);
        walk.leave_any();
        if outcome == Outcome::Wipe {
            return Outcome::Wipe;
        }
        let repacked = Value::Bytes(packed.encode_to_vec().into());
        if msg.try_set_field(value, repacked).is_err() {
            // Only if `value` were not a bytes field, i.e. not the real Any.
            return Outcome::Wipe;
        }
        Outcome::Keep
    }

    /// The relation the message stands in: decided by its own `customer_ref` when set; else by
    /// its `author_ref` when set (see [`Walk::author_relation`]); inherited from its parent
    /// otherwise. Two refs naming customers of different relations (no contract message has two,
    /// but nothing forbids it) leave the message at `Other`.
    fn relation(
        &self,
        msg: &DynamicMessage,
        plan: &MessagePlan,
        inherited: Relation,
        walk: &mut Walk<'_>,
    ) -> Relation {
        let mut decided: Option<Relation> = None;
        for field in &plan.customer_refs {
            let value = msg.get_field(field);
            let Some(id) = value.as_str().filter(|id| !id.is_empty()) else {
                continue;
            };
            let relation = walk.relation_of(id);
            decided = match decided {
                None => Some(relation),
                Some(previous) if previous == relation => Some(previous),
                Some(_) => Some(Relation::Other),
            };
        }
        if let Some(relation) = decided {
            return relation;
        }
        let text = |field: &Option<FieldDescriptor>| -> String {
            field
                .as_ref()
                .and_then(|field| msg.get_field(field).as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let author = text(&plan.author_ref);
        if author.is_empty() {
            return inherited;
        }
        walk.author_relation(&author, &text(&plan.author_team))
    }
}

impl Default for Masker {
    fn default() -> Self {
        Masker::new()
    }
}

/// Reads the plan of one message type.
fn plan(
    message: &prost_reflect::MessageDescriptor,
    by_name: &HashMap<Box<str>, usize>,
) -> MessagePlan {
    let full_name = message.full_name();
    let form = if full_name == "google.protobuf.Any" {
        match (
            message.get_field_by_name("type_url"),
            message.get_field_by_name("value"),
        ) {
            (Some(type_url), Some(value)) => Form::Any { type_url, value },
            // Not the real Any: walk it like any unannotated message (everything cleared).
            _ => Form::Walk,
        }
    } else if full_name.starts_with("google.protobuf.") {
        Form::Atomic
    } else {
        Form::Walk
    };
    let oneofs: Vec<String> = message
        .oneofs()
        .map(|oneof| oneof.name().to_owned())
        .collect();
    let mut fields = Vec::with_capacity(message.fields().len());
    let mut customer_refs = Vec::new();
    let mut author_ref = None;
    let mut author_team = None;
    for field in message.fields() {
        let annotation = sensitivity::annotation(&field);
        let cardinality = if field.is_map() {
            Cardinality::Map
        } else if field.is_list() {
            Cardinality::List
        } else {
            Cardinality::Single
        };
        let value_kind = match field.kind() {
            Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
            kind => kind,
        };
        let value = match value_kind {
            Kind::String => ValueKind::String,
            Kind::Message(child) => match by_name.get(child.full_name()) {
                Some(index) => ValueKind::Message(*index),
                // Cannot happen in a consistent pool; treated as opaque (cleared unless revealed).
                None => ValueKind::Other,
            },
            _ => ValueKind::Other,
        };
        if annotation.customer_ref
            && cardinality == Cardinality::Single
            && value == ValueKind::String
        {
            customer_refs.push(field.clone());
        }
        if cardinality == Cardinality::Single && value == ValueKind::String {
            if annotation.author_ref && author_ref.is_none() {
                author_ref = Some(field.clone());
            }
            if annotation.author_team && author_team.is_none() {
                author_team = Some(field.clone());
            }
        }
        let wire = if field.is_group() {
            Wire::Group
        } else {
            match field.kind() {
                Kind::Double => Wire::Fixed64 { double: true },
                Kind::Fixed64 | Kind::Sfixed64 => Wire::Fixed64 { double: false },
                Kind::Float => Wire::Fixed32 { float: true },
                Kind::Fixed32 | Kind::Sfixed32 => Wire::Fixed32 { float: false },
                Kind::String | Kind::Bytes | Kind::Message(_) => Wire::Len,
                _ => Wire::Varint,
            }
        };
        let oneof = field
            .containing_oneof()
            .and_then(|oneof| oneofs.iter().position(|name| name == oneof.name()));
        fields.push(FieldPlan {
            number: field.number(),
            name: Box::from(field.name()),
            sensitivity: annotation.sensitivity,
            mask: annotation.mask,
            cardinality,
            value,
            wire,
            presence: field.supports_presence(),
            oneof,
            field,
        });
    }
    fields.sort_by_key(|field| field.number);
    let max_number = fields.last().map_or(0, |field| field.number);
    let positions = if max_number <= MAX_TABLE_NUMBER && fields.len() < usize::from(NO_FIELD) {
        let mut positions = vec![NO_FIELD; max_number as usize + 1];
        for (position, field) in fields.iter().enumerate() {
            // Both bounds were checked just above.
            positions[field.number as usize] = u16::try_from(position).unwrap_or(NO_FIELD);
        }
        positions
    } else {
        Vec::new()
    };
    MessagePlan {
        descriptor: message.clone(),
        form,
        fields,
        customer_ref_numbers: customer_refs.iter().map(FieldDescriptor::number).collect(),
        customer_refs,
        author_ref,
        author_team,
        has_extensions: message.extensions().len() > 0,
        positions,
    }
}

/// Removes the unknown fields (and extensions) of a message: they carry no annotation.
fn drop_undeclared(msg: &mut DynamicMessage, plan: &MessagePlan, walk: &mut Walk<'_>) {
    if msg.unknown_fields().next().is_some() {
        let numbers: Vec<u32> = msg
            .take_unknown_fields()
            .map(|field| field.number())
            .collect();
        for number in numbers {
            walk.record(&format!("#{number}"));
        }
    }
    if plan.has_extensions {
        let names: Vec<String> = msg
            .take_extensions()
            .map(|(extension, _)| format!("({})", extension.full_name()))
            .collect();
        for name in names {
            walk.record(&name);
        }
    }
}

/// Clears a whole top-level message that cannot be masked field by field.
fn wipe_whole(msg: &mut DynamicMessage, walk: &mut Walk<'_>) {
    let had_content = msg.fields().next().is_some() || msg.unknown_fields().next().is_some();
    msg.clear();
    if had_content {
        walk.record(WHOLE_MESSAGE_PATH);
    }
}

/// Replaces a string value (or each string of a list) by its partial form; whether anything
/// changed. Empty strings stay empty: there is nothing to hide.
fn shorten(value: &mut Value, style: MaskStyle) -> bool {
    fn one(text: &mut String, style: MaskStyle) -> bool {
        if text.is_empty() {
            return false;
        }
        match partial::apply(style, text) {
            Some(short) if short != *text => {
                *text = short;
                true
            }
            Some(_) => false,
            None => {
                text.clear();
                true
            }
        }
    }
    match value {
        Value::String(text) => one(text, style),
        Value::List(items) => {
            let mut changed = false;
            for item in items {
                if let Value::String(text) = item {
                    changed |= one(text, style);
                }
            }
            changed
        }
        _ => false,
    }
}

/// A point of the walk to roll back to.
#[derive(Clone, Copy, Default)]
pub(crate) struct Checkpoint {
    path: usize,
    paths: usize,
    revealed: u8,
    partial: u8,
    any_depth: u32,
    depth: u32,
    frame: Option<usize>,
}

impl Checkpoint {
    /// The message nesting depth at the checkpoint.
    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }
}

/// The state of one masking call.
pub(crate) struct Walk<'a> {
    caller: &'a Caller,
    relation_of: &'a dyn Fn(&str) -> Relation,
    /// The caller's grants, per relation, resolved on first use.
    grants: [Option<Grants>; 4],
    /// Relations already asked for in this call, by customer id.
    relations: HashMap<String, Relation>,
    /// The path of the message being walked, ending in `.` unless at the top.
    pub(crate) path: String,
    paths: Vec<String>,
    revealed: u8,
    partial: u8,
    /// How many `Any` payloads enclose the message being walked.
    any_depth: u32,
    /// How many messages enclose the one being walked (byte-level walk only).
    pub(crate) depth: u32,
    /// Fields already recorded, per message type and path (byte-level walk only).
    frames: Vec<Frame>,
    /// The frame of the message being walked.
    frame: Option<usize>,
    /// Whether `paths` may already hold a path that a frame has not seen: recording must then
    /// look through `paths` instead of trusting the frame alone.
    must_scan: bool,
}

/// The fields recorded in messages of one type at one path. The items of a list share a frame,
/// so recording the same field for the tenth contact is one bit test, not a search of `paths`.
struct Frame {
    plan: usize,
    prefix: String,
    recorded: u128,
}

/// How deep `Any` payloads may nest (an `Any` packing a message holding an `Any`...). Each
/// payload is decoded on its own, so the decoder's recursion limit does not bound the nesting;
/// this does. Deeper payloads are wiped.
pub(crate) const MAX_ANY_DEPTH: u32 = 8;

impl<'a> Walk<'a> {
    pub(crate) fn new(caller: &'a Caller, relation_of: &'a dyn Fn(&str) -> Relation) -> Self {
        Walk {
            caller,
            relation_of,
            grants: [None; 4],
            relations: HashMap::new(),
            path: String::new(),
            paths: Vec::new(),
            revealed: 0,
            partial: 0,
            any_depth: 0,
            depth: 0,
            frames: Vec::new(),
            frame: None,
            must_scan: false,
        }
    }

    /// Enters a message of type `plan` at the current path; returns the frame to go back to.
    pub(crate) fn enter_frame(&mut self, plan: usize) -> Option<usize> {
        let previous = self.frame;
        let found = self
            .frames
            .iter()
            .position(|frame| frame.plan == plan && frame.prefix == self.path);
        let id = match found {
            Some(id) => id,
            None => {
                if self.frames.iter().any(|frame| frame.prefix == self.path) {
                    // Two types at one path (lists of `Any`): their fields' paths may coincide.
                    self.must_scan = true;
                }
                self.frames.push(Frame {
                    plan,
                    prefix: self.path.clone(),
                    recorded: 0,
                });
                self.frames.len() - 1
            }
        };
        self.frame = Some(id);
        previous
    }

    /// Goes back to the frame `enter_frame` returned.
    pub(crate) fn leave_frame(&mut self, previous: Option<usize>) {
        self.frame = previous;
    }

    /// Records the field at `position` of the current frame's message, named `name`, once.
    pub(crate) fn record_field(&mut self, position: usize, name: &str) {
        if position < 128
            && let Some(frame) = self.frame.and_then(|id| self.frames.get_mut(id))
        {
            let bit = 1u128 << position;
            if frame.recorded & bit != 0 {
                return;
            }
            frame.recorded |= bit;
            if !self.must_scan {
                let mut path = String::with_capacity(self.path.len() + name.len());
                path.push_str(&self.path);
                path.push_str(name);
                self.paths.push(path);
                return;
            }
        }
        self.record(name);
    }

    /// Enters an `Any` payload; `false` when nested too deep.
    pub(crate) fn enter_any(&mut self) -> bool {
        if self.any_depth >= MAX_ANY_DEPTH {
            return false;
        }
        self.any_depth += 1;
        true
    }

    /// Leaves an `Any` payload.
    pub(crate) fn leave_any(&mut self) {
        self.any_depth = self.any_depth.saturating_sub(1);
    }

    pub(crate) fn grants(&mut self, relation: Relation) -> Grants {
        let slot = &mut self.grants[relation as usize];
        *slot.get_or_insert_with(|| Grants::new(self.caller, relation))
    }

    /// The caller's relation to a record written by `author` of `team` (a message with no
    /// customer reference set but an `author_ref`): the policy's rule, [`author_relation`].
    pub(crate) fn author_relation(&self, author: &str, team: &str) -> Relation {
        author_relation(self.caller, author, team)
    }

    pub(crate) fn relation_of(&mut self, id: &str) -> Relation {
        if let Some(relation) = self.relations.get(id) {
            return *relation;
        }
        let relation = (self.relation_of)(id);
        self.relations.insert(id.to_owned(), relation);
        relation
    }

    pub(crate) fn reveal(&mut self, sensitivity: Sensitivity) {
        self.revealed |= 1 << (sensitivity as u8 & 7);
    }

    pub(crate) fn partial(&mut self, sensitivity: Sensitivity) {
        self.partial |= 1 << (sensitivity as u8 & 7);
    }

    /// Records `self.path + name` once.
    pub(crate) fn record(&mut self, name: &str) {
        let prefix = self.path.as_str();
        let len = prefix.len() + name.len();
        let known = self
            .paths
            .iter()
            .any(|path| path.len() == len && path.starts_with(prefix) && path.ends_with(name));
        if !known {
            let mut path = String::with_capacity(len);
            path.push_str(prefix);
            path.push_str(name);
            self.paths.push(path);
        }
    }

    /// The state to return to if a part of the walk is redone by the reflective walk.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            path: self.path.len(),
            paths: self.paths.len(),
            revealed: self.revealed,
            partial: self.partial,
            any_depth: self.any_depth,
            depth: self.depth,
            frame: self.frame,
        }
    }

    /// Forgets what was recorded since `checkpoint`.
    pub(crate) fn rollback(&mut self, checkpoint: Checkpoint) {
        self.path.truncate(checkpoint.path);
        self.paths.truncate(checkpoint.paths);
        self.revealed = checkpoint.revealed;
        self.partial = checkpoint.partial;
        self.any_depth = checkpoint.any_depth;
        self.depth = checkpoint.depth;
        self.frame = checkpoint.frame;
        // The frames may remember fields whose paths were just forgotten: from now on recording
        // checks `paths` itself.
        for frame in &mut self.frames {
            frame.recorded = 0;
        }
        self.must_scan = true;
    }

    /// Forgets everything but the relations already asked for.
    fn restart(&mut self) {
        self.rollback(Checkpoint::default());
    }

    pub(crate) fn into_report(self) -> MaskReport {
        let classes = |bits: u8| -> BTreeSet<Sensitivity> {
            (0..8)
                .filter(|bit| bits & (1 << bit) != 0)
                .filter_map(|bit| Sensitivity::try_from(bit).ok())
                .collect()
        };
        MaskReport {
            masked_paths: self.paths,
            classes_revealed: classes(self.revealed),
            classes_partial: classes(self.partial),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Masker>();
    }

    #[test]
    fn partial_forms_apply_to_each_string_of_a_list() {
        let mut list = Value::List(vec![
            Value::String("13812345678".into()),
            Value::String(String::new()),
            Value::String("0571-88123456".into()),
        ]);
        assert!(shorten(&mut list, MaskStyle::Phone));
        assert_eq!(
            list,
            Value::List(vec![
                Value::String("138****5678".into()),
                Value::String(String::new()),
                Value::String("057****3456".into()),
            ])
        );
        // Already partial: nothing changes, nothing is reported.
        assert!(!shorten(&mut list, MaskStyle::Phone));
    }

    #[test]
    fn well_known_types_are_atomic_and_any_is_unpacked() {
        let masker = Masker::new();
        let form = |name: &str| {
            let index = masker.by_name.get(name).copied().unwrap_or(usize::MAX);
            masker.plans.get(index).map(|plan| match plan.form {
                Form::Walk => "walk",
                Form::Atomic => "atomic",
                Form::Any { .. } => "any",
            })
        };
        assert_eq!(form("google.protobuf.Timestamp"), Some("atomic"));
        assert_eq!(form("google.protobuf.FieldMask"), Some("atomic"));
        assert_eq!(form("google.protobuf.Any"), Some("any"));
        assert_eq!(form("dossier.customer.v1.Customer"), Some("walk"));
    }

    #[test]
    fn a_customer_card_plan_knows_its_customer_ref() {
        let masker = Masker::new();
        let index = masker.by_name.get("dossier.customer.v1.Customer").copied();
        let plan = index.and_then(|index| masker.plans.get(index));
        let refs: Vec<u32> = plan
            .map(|p| p.customer_ref_numbers.clone())
            .unwrap_or_default();
        assert_eq!(refs, vec![1]);
        let phone = plan
            .and_then(|p| p.field(8))
            .map(|(_, f)| (f.sensitivity, f.mask));
        assert_eq!(phone, Some((Sensitivity::Contact, MaskStyle::Phone)));
        assert!(plan.and_then(|p| p.field(999)).is_none());
    }
}
