//! The byte-level walk behind [`Masker::mask_bytes`]: the same decisions as the reflective walk
//! (`engine.rs`), made directly on the protobuf encoding.
//!
//! Why: the gateway holds responses as bytes. Decoding them into a `DynamicMessage` and encoding
//! them again costs several times the masking itself (a map insertion and an allocation per
//! field); reading the tags, copying revealed fields verbatim, skipping cleared ones and
//! rewriting partial strings does not. Nested messages are written with their new length.
//!
//! The reflective walk stays the reference, and this walk checks what a decoder checks (wire
//! types, lengths, varints, UTF-8 of every string — dropped ones included — and the nesting
//! limit), so both accept and refuse the same input. Whatever this walk does not handle exactly
//! like the reflective one — malformed input, a singular field or a oneof sent in several pieces
//! (which a decoder merges), map fields, proto2 groups, deep nesting — is an [`Anomaly`]: the
//! enclosing top-level message (or packed `Any` payload) is then masked by the reflective walk
//! instead, from scratch. Tests check that the two walks agree, on real messages and on
//! thousands of corrupted ones.

use prost::Message as _;
use prost_reflect::DynamicMessage;

use crate::engine::{
    Cardinality, FieldPlan, Form, Masker, MessagePlan, Outcome, ValueKind, Walk, Wire,
};

/// How deeply messages may nest within one encoding: prost's decoder refuses deeper input
/// (its recursion limit), so deeper input goes to the reflective walk, which refuses it.
const MAX_DEPTH: u32 = 100;
use crate::partial;
use crate::policy::{Access, Relation};
use dossier_proto::sensitivity::MaskStyle;

/// The byte-level walk cannot decide this input exactly like the reflective walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anomaly;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One field occurrence on the wire.
struct Occurrence<'a> {
    number: u32,
    wire_type: u8,
    /// The whole occurrence: tag and value.
    whole: &'a [u8],
    /// The tag alone.
    tag: &'a [u8],
    /// The value; for a length-delimited value, without its length.
    value: &'a [u8],
}

/// Reads the field occurrences of one message's encoding.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Reader { input, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, Anomaly> {
        let mut value: u64 = 0;
        for shift in 0..10 {
            let byte = *self.input.get(self.pos).ok_or(Anomaly)?;
            self.pos += 1;
            // The tenth byte may only carry the 64th bit, as prost's decoder requires.
            if shift == 9 && byte > 1 {
                return Err(Anomaly);
            }
            value |= u64::from(byte & 0x7F) << (7 * shift);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Anomaly)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Anomaly> {
        let end = self.pos.checked_add(len).ok_or(Anomaly)?;
        let bytes = self.input.get(self.pos..end).ok_or(Anomaly)?;
        self.pos = end;
        Ok(bytes)
    }

    fn next(&mut self) -> Result<Option<Occurrence<'a>>, Anomaly> {
        if self.pos >= self.input.len() {
            return Ok(None);
        }
        let start = self.pos;
        let key = u32::try_from(self.varint()?).map_err(|_| Anomaly)?;
        let number = key >> 3;
        let wire_type = (key & 7) as u8;
        if number == 0 {
            return Err(Anomaly);
        }
        let tag_end = self.pos;
        let value = match wire_type {
            VARINT => {
                let value_start = self.pos;
                self.varint()?;
                &self.input[value_start..self.pos]
            }
            FIXED64 => self.take(8)?,
            LEN => {
                let len = usize::try_from(self.varint()?).map_err(|_| Anomaly)?;
                self.take(len)?
            }
            FIXED32 => self.take(4)?,
            // Groups (3, 4) and the undefined wire types (6, 7).
            _ => return Err(Anomaly),
        };
        Ok(Some(Occurrence {
            number,
            wire_type,
            whole: &self.input[start..self.pos],
            tag: &self.input[start..tag_end],
            value,
        }))
    }
}

fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// Encodes a varint into `buf`; returns its length.
fn encode_varint(mut value: u64, buf: &mut [u8; 10]) -> usize {
    let mut i = 0;
    while value >= 0x80 {
        buf[i] = (value as u8 & 0x7F) | 0x80;
        value >>= 7;
        i += 1;
    }
    buf[i] = value as u8;
    i + 1
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes a length-delimited field.
fn put_len(out: &mut Vec<u8>, tag: &[u8], value: &[u8]) {
    out.extend_from_slice(tag);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Whether an occurrence of `field` counts as a set value, as `DynamicMessage::has_field` would
/// say: an element of a list always does (an empty packed run does not), a field with presence
/// always does, any other field when it is not its default.
fn has_value(field: &FieldPlan, occurrence: &Occurrence<'_>) -> bool {
    if field.cardinality != Cardinality::Single {
        return !(occurrence.wire_type == LEN
            && occurrence.value.is_empty()
            && field.wire != Wire::Len);
    }
    if field.presence {
        return true;
    }
    let bytes = occurrence.value;
    match field.wire {
        Wire::Fixed64 { double: true } => {
            let raw: [u8; 8] = bytes.try_into().unwrap_or([0; 8]);
            f64::from_le_bytes(raw) != 0.0
        }
        Wire::Fixed32 { float: true } => {
            let raw: [u8; 4] = bytes.try_into().unwrap_or([0; 4]);
            f32::from_le_bytes(raw) != 0.0
        }
        // A varint is zero when every byte is (an over-long zero is still zero).
        _ => bytes.iter().any(|byte| byte & 0x7F != 0),
    }
}

/// Checks a packed run of scalars: whole values only.
fn check_packed(field: &FieldPlan, run: &[u8]) -> Result<(), Anomaly> {
    match field.wire {
        Wire::Varint => {
            let mut reader = Reader::new(run);
            while !reader.at_end() {
                reader.varint()?;
            }
            Ok(())
        }
        Wire::Fixed64 { .. } if run.len().is_multiple_of(8) => Ok(()),
        Wire::Fixed32 { .. } if run.len().is_multiple_of(4) => Ok(()),
        _ => Err(Anomaly),
    }
}

/// Whether the wire type is one a decoder accepts for the field.
fn wire_type_fits(field: &FieldPlan, wire_type: u8) -> bool {
    let expected = match field.wire {
        Wire::Varint => VARINT,
        Wire::Fixed64 { .. } => FIXED64,
        Wire::Fixed32 { .. } => FIXED32,
        Wire::Len => LEN,
        Wire::Group => return false,
    };
    // Repeated scalars may come packed (one length-delimited run) or one by one.
    wire_type == expected || (field.cardinality == Cardinality::List && wire_type == LEN)
}

impl Masker {
    /// Masks the encoding `input` of a message of type `self.plans[index]` into `out`.
    pub(crate) fn wire_message(
        &self,
        index: usize,
        input: &[u8],
        inherited: Relation,
        walk: &mut Walk<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, Anomaly> {
        if walk.depth >= MAX_DEPTH {
            return Err(Anomaly);
        }
        walk.depth += 1;
        // An `Any` is transparent in paths: its packed message takes the frame at this path.
        let frame = match self.plans[index].form {
            Form::Any { .. } => None,
            _ => Some(walk.enter_frame(index)),
        };
        let outcome = self.wire_fields(index, input, inherited, walk, out);
        if let Some(previous) = frame {
            walk.leave_frame(previous);
        }
        walk.depth -= 1;
        outcome
    }

    fn wire_fields(
        &self,
        index: usize,
        input: &[u8],
        inherited: Relation,
        walk: &mut Walk<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, Anomaly> {
        let plan = &self.plans[index];
        if let Form::Any { .. } = plan.form {
            return self.wire_any(input, inherited, walk, out);
        }
        let relation = if plan.customer_ref_numbers.is_empty() && plan.author_ref.is_none() {
            inherited
        } else {
            wire_relation(plan, input, inherited, walk)?
        };
        let grants = walk.grants(relation);
        // Singular fields met (by position in the plan) and the member met of each oneof: a
        // second piece would be merged or override the first in a decoder, which this walk
        // does not reproduce.
        let mut singular_seen: u128 = 0;
        let mut oneof_members: Vec<(usize, u32)> = Vec::new();

        let mut reader = Reader::new(input);
        while let Some(occurrence) = reader.next()? {
            let Some((position, field)) = plan.field(occurrence.number) else {
                // Not in the contract: no annotation, deny by default.
                walk.record(&format!("#{}", occurrence.number));
                continue;
            };
            if !wire_type_fits(field, occurrence.wire_type) || field.cardinality == Cardinality::Map
            {
                return Err(Anomaly);
            }
            if field.cardinality == Cardinality::Single {
                if position >= 128 {
                    return Err(Anomaly);
                }
                let bit = 1u128 << position;
                if singular_seen & bit != 0 {
                    return Err(Anomaly);
                }
                singular_seen |= bit;
            }
            if let Some(oneof) = field.oneof {
                if oneof_members.iter().any(|(o, _)| *o == oneof) {
                    // A second member (a repeated one was refused above as a singular field).
                    return Err(Anomaly);
                }
                oneof_members.push((oneof, field.number));
            }
            let set = has_value(field, &occurrence);
            match (grants.get(field.sensitivity), field.value) {
                (Access::Reveal, ValueKind::Message(child)) => {
                    walk.reveal(field.sensitivity);
                    if matches!(self.plans[child].form, Form::Atomic) {
                        // A well-known type is one value of the holding field's class.
                        self.check(child, occurrence.value, walk)?;
                        out.extend_from_slice(occurrence.whole);
                        continue;
                    }
                    self.wire_field_message(
                        position,
                        field,
                        child,
                        &occurrence,
                        relation,
                        walk,
                        out,
                    )?;
                }
                (Access::Reveal, _) => {
                    self.check_value(field, &occurrence, walk)?;
                    // A value sent at its default means the same as no value: dropped, as a
                    // decode-encode round trip would (singular fields come once, see above).
                    if set {
                        walk.reveal(field.sensitivity);
                        out.extend_from_slice(occurrence.whole);
                    }
                }
                (Access::Partial, ValueKind::String)
                    if field.mask != MaskStyle::Unspecified && occurrence.wire_type == LEN =>
                {
                    let text = std::str::from_utf8(occurrence.value).map_err(|_| Anomaly)?;
                    if set {
                        walk.partial(field.sensitivity);
                    }
                    match partial::apply(field.mask, text) {
                        // Empty, or already in its partial form: nothing to hide.
                        _ if text.is_empty() => {
                            if set {
                                out.extend_from_slice(occurrence.whole);
                            }
                        }
                        Some(short) if short == text => out.extend_from_slice(occurrence.whole),
                        Some(short) => {
                            put_len(out, occurrence.tag, short.as_bytes());
                            walk.record_field(position, &field.name);
                        }
                        // Unreachable with a mask style set; cleared if it ever happens.
                        None => walk.record_field(position, &field.name),
                    }
                }
                // Clear, or Partial without a partial form: the occurrence is not copied, but
                // checked as a decoder would check it.
                _ => {
                    self.check_value(field, &occurrence, walk)?;
                    if set {
                        walk.record_field(position, &field.name);
                    }
                }
            }
        }
        Ok(Outcome::Keep)
    }

    /// Checks one occurrence as a decoder would, without masking it.
    fn check_value(
        &self,
        field: &FieldPlan,
        occurrence: &Occurrence<'_>,
        walk: &mut Walk<'_>,
    ) -> Result<(), Anomaly> {
        if occurrence.wire_type != LEN {
            return Ok(());
        }
        match field.value {
            ValueKind::String => std::str::from_utf8(occurrence.value)
                .map(|_| ())
                .map_err(|_| Anomaly),
            ValueKind::Message(child) => self.check(child, occurrence.value, walk),
            ValueKind::Other if field.wire != Wire::Len => check_packed(field, occurrence.value),
            ValueKind::Other => Ok(()),
        }
    }

    /// Checks the encoding of a message of type `self.plans[index]` as a decoder would.
    fn check(&self, index: usize, input: &[u8], walk: &mut Walk<'_>) -> Result<(), Anomaly> {
        if walk.depth >= MAX_DEPTH {
            return Err(Anomaly);
        }
        walk.depth += 1;
        let plan = &self.plans[index];
        let mut reader = Reader::new(input);
        let result = loop {
            match reader.next() {
                Ok(Some(occurrence)) => {
                    let Some((_, field)) = plan.field(occurrence.number) else {
                        continue;
                    };
                    if !wire_type_fits(field, occurrence.wire_type)
                        || field.cardinality == Cardinality::Map
                    {
                        break Err(Anomaly);
                    }
                    if let Err(anomaly) = self.check_value(field, &occurrence, walk) {
                        break Err(anomaly);
                    }
                }
                Ok(None) => break Ok(()),
                Err(anomaly) => break Err(anomaly),
            }
        };
        walk.depth -= 1;
        result
    }

    /// Writes one revealed sub-message occurrence, masked, with its new length.
    #[allow(clippy::too_many_arguments)] // the walk's state, spelled out
    fn wire_field_message(
        &self,
        position: usize,
        field: &FieldPlan,
        child: usize,
        occurrence: &Occurrence<'_>,
        relation: Relation,
        walk: &mut Walk<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Anomaly> {
        let mark = out.len();
        out.extend_from_slice(occurrence.tag);
        // Reserve as many length bytes as the original length took; lengths mostly shrink.
        let reserved = varint_len(occurrence.value.len() as u64);
        let len_at = out.len();
        out.resize(len_at + reserved, 0);

        let path_mark = walk.path.len();
        walk.path.push_str(&field.name);
        walk.path.push_str(field.cardinality.step());
        let outcome = self.wire_message(child, occurrence.value, relation, walk, out)?;
        walk.path.truncate(path_mark);

        if outcome == Outcome::Wipe {
            out.truncate(mark);
            if field.cardinality == Cardinality::List {
                // Keep the list's positions; the item is left empty.
                put_len(out, occurrence.tag, &[]);
            }
            walk.record_field(position, &field.name);
            return Ok(());
        }
        let body = out.len() - len_at - reserved;
        let mut len = [0u8; 10];
        let written = encode_varint(body as u64, &mut len);
        if written == reserved {
            out[len_at..len_at + reserved].copy_from_slice(&len[..written]);
        } else {
            out.splice(len_at..len_at + reserved, len[..written].iter().copied());
        }
        Ok(())
    }

    /// Unpacks an `Any`, masks the packed message as its own type and packs it again, as the
    /// reflective walk does. An anomaly inside the payload is handed to the reflective walk for
    /// the payload alone; a payload that does not decode, or of a type the contract does not
    /// know, wipes the `Any`.
    fn wire_any(
        &self,
        input: &[u8],
        inherited: Relation,
        walk: &mut Walk<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, Anomaly> {
        let mut type_url: &[u8] = &[];
        let mut value: &[u8] = &[];
        let mut undeclared = false;
        let mut reader = Reader::new(input);
        while let Some(occurrence) = reader.next()? {
            match (occurrence.number, occurrence.wire_type) {
                // Every occurrence is checked, as a decoder does, not only the last that counts.
                (1, LEN) if std::str::from_utf8(occurrence.value).is_err() => return Err(Anomaly),
                (1, LEN) => type_url = occurrence.value,
                (2, LEN) => value = occurrence.value,
                (1 | 2, _) => return Err(Anomaly),
                _ => undeclared = true,
            }
        }
        let url = std::str::from_utf8(type_url).map_err(|_| Anomaly)?;
        if undeclared {
            // Undeclared fields in an Any: it cannot be vouched for.
            return Ok(Outcome::Wipe);
        }
        if url.is_empty() && value.is_empty() {
            return Ok(Outcome::Keep);
        }
        let name = url.rsplit('/').next().unwrap_or_default();
        let Some(index) = self.by_name.get(name).copied() else {
            return Ok(Outcome::Wipe);
        };
        if !walk.enter_any() {
            return Ok(Outcome::Wipe);
        }

        // The payload is decoded on its own: its nesting starts again from the top, as for the
        // decoder the reflective walk uses.
        let checkpoint = walk.checkpoint();
        walk.depth = 0;
        let mut packed = Vec::with_capacity(value.len());
        let outcome = match self.wire_message(index, value, inherited, walk, &mut packed) {
            Ok(outcome) => outcome,
            Err(Anomaly) => {
                walk.rollback(checkpoint);
                walk.depth = 0;
                let descriptor = self.plans[index].descriptor.clone();
                match DynamicMessage::decode(descriptor, value) {
                    Ok(mut message) => {
                        let outcome = self.walk(&mut message, index, inherited, walk);
                        packed = message.encode_to_vec();
                        outcome
                    }
                    Err(_) => Outcome::Wipe,
                }
            }
        };
        walk.depth = checkpoint.depth();
        walk.leave_any();
        if outcome == Outcome::Wipe {
            return Ok(Outcome::Wipe);
        }
        // Written as a decoder-encoder round trip would: type_url, then value, defaults omitted.
        if !type_url.is_empty() {
            put_len(out, &[0x0A], type_url);
        }
        if !packed.is_empty() {
            put_len(out, &[0x12], &packed);
        }
        Ok(Outcome::Keep)
    }
}

/// The relation a message stands in, from its `customer_ref` fields, else from its `author_ref`
/// and `author_team` (the last occurrence of each wins, as for a decoder), by the rule of the
/// reflective walk.
fn wire_relation(
    plan: &MessagePlan,
    input: &[u8],
    inherited: Relation,
    walk: &mut Walk<'_>,
) -> Result<Relation, Anomaly> {
    let mut ids: Vec<(u32, &[u8])> = Vec::with_capacity(plan.customer_ref_numbers.len());
    let author_number = plan.author_ref.as_ref().map(|field| field.number());
    let team_number = plan.author_team.as_ref().map(|field| field.number());
    let mut author: &[u8] = &[];
    let mut team: &[u8] = &[];
    let mut reader = Reader::new(input);
    while let Some(occurrence) = reader.next()? {
        let number = Some(occurrence.number);
        if number == author_number || number == team_number {
            if occurrence.wire_type != LEN {
                return Err(Anomaly);
            }
            if number == author_number {
                author = occurrence.value;
            }
            if number == team_number {
                team = occurrence.value;
            }
        }
        if plan.customer_ref_numbers.contains(&occurrence.number) {
            if occurrence.wire_type != LEN {
                return Err(Anomaly);
            }
            match ids
                .iter_mut()
                .find(|(number, _)| *number == occurrence.number)
            {
                Some(slot) => slot.1 = occurrence.value,
                None => ids.push((occurrence.number, occurrence.value)),
            }
        }
    }
    let mut decided: Option<Relation> = None;
    for (_, id) in ids {
        let id = std::str::from_utf8(id).map_err(|_| Anomaly)?;
        if id.is_empty() {
            continue;
        }
        let relation = walk.relation_of(id);
        decided = match decided {
            None => Some(relation),
            Some(previous) if previous == relation => Some(previous),
            Some(_) => Some(Relation::Other),
        };
    }
    if let Some(relation) = decided {
        return Ok(relation);
    }
    let author = std::str::from_utf8(author).map_err(|_| Anomaly)?;
    let team = std::str::from_utf8(team).map_err(|_| Anomaly)?;
    if author.is_empty() {
        return Ok(inherited);
    }
    Ok(walk.author_relation(author, team))
}
