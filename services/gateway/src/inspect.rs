//! Reading a request before it is forwarded, through the contract's descriptors: which customers
//! it names, whether its page size is within bounds, which fields it sets (a caller may set only
//! what it may see, and some fields only some roles may set), and rewriting a salesperson's list
//! to their own customers.

use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_masking::{Access, Grants, Relation};
use dossier_proto::sensitivity::{Sensitivity, annotation};
use prost_reflect::{DynamicMessage, FieldDescriptor, ReflectMessage, Value};

use crate::domain::rules::may_set_protected;

/// Every customer id the message names (fields annotated `customer_ref`, at any depth), in order,
/// without repeats.
pub fn customer_refs(message: &DynamicMessage) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(message, &mut out);
    out
}

fn collect_refs(message: &DynamicMessage, out: &mut Vec<String>) {
    for (field, value) in message.fields() {
        if annotation(&field).customer_ref {
            let mut push = |v: &Value| {
                if let Some(id) = v.as_str()
                    && !id.is_empty()
                    && !out.iter().any(|o| o == id)
                {
                    out.push(id.to_owned());
                }
            };
            match value {
                Value::List(items) => items.iter().for_each(&mut push),
                other => push(other),
            }
        }
        match value {
            Value::Message(inner) => collect_refs(inner, out),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        collect_refs(inner, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The authors the message names (a message with a non-empty `author_ref` field, at any depth),
/// each with the team its `author_team` field gives (empty when none), in order, without repeats.
pub fn authors(message: &DynamicMessage) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect_authors(message, &mut out);
    out
}

fn collect_authors(message: &DynamicMessage, out: &mut Vec<(String, String)>) {
    let mut author = String::new();
    let mut team = String::new();
    for (field, value) in message.fields() {
        let note = annotation(&field);
        if let Some(text) = value.as_str() {
            if note.author_ref && author.is_empty() {
                author = text.to_owned();
            }
            if note.author_team && team.is_empty() {
                team = text.to_owned();
            }
        }
        match value {
            Value::Message(inner) => collect_authors(inner, out),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        collect_authors(inner, out);
                    }
                }
            }
            _ => {}
        }
    }
    if !author.is_empty() && !out.iter().any(|(a, t)| *a == author && *t == team) {
        out.push((author, team));
    }
}

/// The team an aggregate request is limited to (a field annotated `team_scope`, at any depth — an
/// export carries its query inside), if it names one.
pub fn team_scope(message: &DynamicMessage) -> Option<String> {
    for (field, value) in message.fields() {
        if annotation(&field).team_scope
            && let Some(team) = value.as_str()
            && !team.is_empty()
        {
            return Some(team.to_owned());
        }
        if let Value::Message(inner) = value
            && let Some(team) = team_scope(inner)
        {
            return Some(team);
        }
    }
    None
}

/// The top-level `page_size`, if the request has one.
pub fn page_size(message: &DynamicMessage) -> Option<i64> {
    let field = message.descriptor().get_field_by_name("page_size")?;
    match message.get_field(&field).as_ref() {
        Value::I32(n) => Some(i64::from(*n)),
        Value::I64(n) => Some(*n),
        _ => None,
    }
}

/// The top-level `request_id`, for the audit log.
pub fn request_id(message: &DynamicMessage) -> String {
    message
        .descriptor()
        .get_field_by_name("request_id")
        .and_then(|f| message.get_field(&f).as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The string at a dotted `path` (`filter.owner_id`), empty when unset.
pub fn string_at(message: &DynamicMessage, path: &str) -> String {
    let mut current = message.clone();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(field) = current.descriptor().get_field_by_name(part) else {
            return String::new();
        };
        let value = current.get_field(&field).into_owned();
        if parts.peek().is_none() {
            return value.as_str().map(str::to_owned).unwrap_or_default();
        }
        match value {
            Value::Message(inner) => current = inner,
            _ => return String::new(),
        }
    }
    String::new()
}

/// The bool at a dotted `path` (`document.original`), false when unset.
pub fn bool_at(message: &DynamicMessage, path: &str) -> bool {
    let (parent, leaf) = match path.rsplit_once('.') {
        Some((parent, leaf)) => (Some(parent), leaf),
        None => (None, path),
    };
    let mut current = message.clone();
    if let Some(parent) = parent {
        for part in parent.split('.') {
            let Some(field) = current.descriptor().get_field_by_name(part) else {
                return false;
            };
            match current.get_field(&field).into_owned() {
                Value::Message(inner) => current = inner,
                _ => return false,
            }
        }
    }
    current
        .descriptor()
        .get_field_by_name(leaf)
        .and_then(|f| current.get_field(&f).as_bool())
        .unwrap_or(false)
}

/// Sets the string at a dotted `path`, creating the messages on the way.
pub fn set_string_at(message: &mut DynamicMessage, path: &str, value: &str) -> Result<(), Problem> {
    let Some((head, rest)) = path.split_once('.') else {
        let field = message
            .descriptor()
            .get_field_by_name(path)
            .ok_or_else(|| Problem::internal(format!("no field {path}")))?;
        message.set_field(&field, Value::String(value.to_owned()));
        return Ok(());
    };
    let field = message
        .descriptor()
        .get_field_by_name(head)
        .ok_or_else(|| Problem::internal(format!("no field {head}")))?;
    let mut inner = match message.get_field(&field).into_owned() {
        Value::Message(inner) => inner,
        _ => return Err(Problem::internal(format!("{head} is not a message"))),
    };
    set_string_at(&mut inner, rest, value)?;
    message.set_field(&field, Value::Message(inner));
    Ok(())
}

/// Checks that `caller` may set every field the write request sets, standing in each of
/// `relations` to the customers it names: the field's class must be revealed to it, and a
/// protected field (owner, team, credit) must be the caller's to set. A request carrying an
/// `update_mask` is checked only on the fields the mask names (the rest of the resource is the
/// caller's own read, masked, sent back). Returns the first offending field's path.
pub fn check_write(
    message: &DynamicMessage,
    caller: &Caller,
    relations: &[Relation],
) -> Result<(), Problem> {
    let grants: Vec<Grants> = relations.iter().map(|r| Grants::new(caller, *r)).collect();
    let mask = update_mask(message);
    check_fields(message, caller, &grants, "", mask.as_deref(), true)
}

fn update_mask(message: &DynamicMessage) -> Option<Vec<String>> {
    let field = message.descriptor().get_field_by_name("update_mask")?;
    if !message.has_field(&field) {
        return None;
    }
    let Value::Message(mask) = message.get_field(&field).into_owned() else {
        return None;
    };
    let paths = mask.descriptor().get_field_by_name("paths")?;
    let list = mask.get_field(&paths).into_owned();
    let Value::List(items) = list else {
        return None;
    };
    Some(
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    )
}

fn check_fields(
    message: &DynamicMessage,
    caller: &Caller,
    grants: &[Grants],
    prefix: &str,
    mask: Option<&[String]>,
    top: bool,
) -> Result<(), Problem> {
    for (field, value) in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        if top && field.name() == "update_mask" {
            continue;
        }
        // Under an update mask, a top-level resource message is checked only on masked fields.
        let inner_mask = match (top, mask, &value) {
            (true, Some(paths), Value::Message(_)) => Some(paths),
            _ => None,
        };
        check_value(&field, value, caller, grants, &path)?;
        let children = |inner: &DynamicMessage| -> Result<(), Problem> {
            if is_well_known(inner) {
                return Ok(());
            }
            match inner_mask {
                Some(paths) => check_masked(inner, caller, grants, &path, paths),
                None => check_fields(inner, caller, grants, &path, None, false),
            }
        };
        match value {
            Value::Message(inner) => children(inner)?,
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        children(inner)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks only the fields of `message` named by the mask paths' first segment.
fn check_masked(
    message: &DynamicMessage,
    caller: &Caller,
    grants: &[Grants],
    prefix: &str,
    paths: &[String],
) -> Result<(), Problem> {
    for (field, value) in message.fields() {
        let named = paths
            .iter()
            .any(|p| p.split('.').next() == Some(field.name()));
        if !named {
            continue;
        }
        let path = format!("{prefix}.{}", field.name());
        check_value(&field, value, caller, grants, &path)?;
        if let Value::Message(inner) = value
            && !is_well_known(inner)
        {
            check_fields(inner, caller, grants, &path, None, false)?;
        }
    }
    Ok(())
}

fn check_value(
    field: &FieldDescriptor,
    value: &Value,
    caller: &Caller,
    grants: &[Grants],
    path: &str,
) -> Result<(), Problem> {
    let note = annotation(field);
    // Metadata (ids, versions, paging) is everyone's to send.
    if note.sensitivity != Sensitivity::Metadata
        && grants
            .iter()
            .any(|g| g.get(note.sensitivity) != Access::Reveal)
    {
        return Err(Problem::denied(format!(
            "{path}: not allowed to set a field you may not see"
        )));
    }
    if let Some(text) = value.as_str()
        && may_set_protected(caller, field.full_name(), text) == Some(false)
    {
        return Err(Problem::denied(format!(
            "{path}: your role may not set this field"
        )));
    }
    if let Value::List(items) = value {
        for item in items {
            if let Some(text) = item.as_str()
                && may_set_protected(caller, field.full_name(), text) == Some(false)
            {
                return Err(Problem::denied(format!(
                    "{path}: your role may not set this field"
                )));
            }
        }
    }
    Ok(())
}

fn is_well_known(message: &DynamicMessage) -> bool {
    message.descriptor().package_name() == "google.protobuf"
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_kit::auth::Role;
    use dossier_proto::customer::{self as pb};
    use prost::Message;

    fn dynamic<M: Message + prost::Name>(message: &M) -> DynamicMessage {
        let descriptor = dossier_proto::descriptor_pool()
            .get_message_by_name(&M::full_name())
            .expect("in the contract");
        DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).expect("decodes")
    }

    fn rep() -> Caller {
        Caller {
            sub: "rep-1".into(),
            name: "rep".into(),
            role: Role::SalesRep,
            team: "east".into(),
            scopes: Default::default(),
        }
    }

    #[test]
    fn finds_customer_refs_at_any_depth() {
        let request = pb::GetCustomerRequest { id: "c-1".into() };
        assert_eq!(customer_refs(&dynamic(&request)), vec!["c-1".to_owned()]);
    }

    #[test]
    fn a_salesperson_may_not_set_personal_fields_or_another_owner() {
        let mut customer = pb::Customer {
            name: "甲公司".into(),
            owner_id: "rep-1".into(),
            team: "east".into(),
            ..Default::default()
        };
        let create = pb::CreateCustomerRequest {
            customer: Some(customer.clone()),
            request_id: "r1".into(),
        };
        assert!(check_write(&dynamic(&create), &rep(), &[Relation::Owner]).is_ok());
        customer.owner_id = "rep-2".into();
        let create = pb::CreateCustomerRequest {
            customer: Some(customer.clone()),
            request_id: "r1".into(),
        };
        let refused = check_write(&dynamic(&create), &rep(), &[Relation::Owner]);
        assert!(
            matches!(refused, Err(Problem::PermissionDenied { message }) if message.starts_with("customer.owner_id"))
        );
        customer.owner_id = "rep-1".into();
        customer.notes = "internal".into();
        let create = pb::CreateCustomerRequest {
            customer: Some(customer),
            request_id: "r1".into(),
        };
        assert!(check_write(&dynamic(&create), &rep(), &[Relation::Owner]).is_err());
    }

    #[test]
    fn an_update_mask_limits_the_check_to_the_named_fields() {
        let update = pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: "c-1".into(),
                name: "甲公司".into(),
                // Came back from the caller's masked read: not named in the mask.
                notes: "****".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into()],
            }),
            ..Default::default()
        };
        assert!(check_write(&dynamic(&update), &rep(), &[Relation::Owner]).is_ok());
    }

    #[test]
    fn finds_the_author_of_a_journal_with_its_team() {
        use dossier_proto::visit as v;
        let create = v::CreateJournalRequest {
            journal: Some(v::Journal {
                salesperson_id: "rep-1".into(),
                team: "east".into(),
                visits: vec![v::JournalVisitEntry {
                    customer_id: "c-1".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: "r1".into(),
        };
        assert_eq!(
            authors(&dynamic(&create)),
            vec![("rep-1".to_owned(), "east".to_owned())]
        );
        // The author defaults to the caller: nothing named.
        let anonymous = v::CreateJournalRequest {
            journal: Some(v::Journal::default()),
            request_id: "r1".into(),
        };
        assert!(authors(&dynamic(&anonymous)).is_empty());
    }

    #[test]
    fn reads_and_writes_dotted_paths() {
        let mut request = dynamic(&pb::ExportCustomersRequest::default());
        assert_eq!(string_at(&request, "filter.owner_id"), "");
        set_string_at(&mut request, "filter.owner_id", "rep-1").expect("sets");
        assert_eq!(string_at(&request, "filter.owner_id"), "rep-1");
    }
}
