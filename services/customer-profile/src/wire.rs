//! Conversions between the wire messages (`dossier.customer.v1`) and the domain. Parsing a
//! message is where format rules bite: every malformed field becomes a violation naming it, and
//! all of a request's violations are reported together.

use std::str::FromStr;

use dossier_kit::time::{format_date, parse_date, to_timestamp};
use dossier_kit::{FieldViolation, Violations};
use dossier_proto::customer as pb;
use rust_decimal::Decimal;

use crate::domain::card::{
    Competitor, Contact, CustomerCard, CustomerRecord, Finance, PersonDetails, SupplySource,
};
use crate::domain::classification::*;
use crate::domain::contact_info::{Email, Phone, Postcode};
use crate::domain::credit_code::CreditCode;

/// Parses a card from its message. Field paths in violations are relative to the message.
pub fn card_from_proto(c: &pb::Customer) -> Result<CustomerCard, Violations> {
    let mut v = Violations::new();
    let card = CustomerCard {
        kind: enum_field(&mut v, "kind", c.kind, CustomerKind::from_number),
        name: c.name.trim().to_owned(),
        credit_code: text_field(&mut v, "credit_code", &c.credit_code, CreditCode::parse),
        address: c.address.trim().to_owned(),
        postcode: text_field(&mut v, "postcode", &c.postcode, Postcode::parse),
        phone: text_field(&mut v, "phone", &c.phone, Phone::parse),
        fax: text_field(&mut v, "fax", &c.fax, Phone::parse),
        email: text_field(&mut v, "email", &c.email, Email::parse),
        bank_name: c.bank_name.trim().to_owned(),
        bank_account: c.bank_account.trim().to_owned(),
        industry: c.industry.trim().to_owned(),
        business_scope: c.business_scope.trim().to_owned(),
        ownership: enum_field(&mut v, "ownership", c.ownership, Ownership::from_number),
        customer_type: enum_field(
            &mut v,
            "customer_type",
            c.customer_type,
            CustomerType::from_number,
        ),
        channel: enum_field(&mut v, "channel", c.channel, Channel::from_number),
        grade: enum_field(&mut v, "grade", c.grade, Grade::from_number),
        trade_standing: enum_field(
            &mut v,
            "trade_standing",
            c.trade_standing,
            TradeStanding::from_number,
        ),
        lifecycle: enum_field(&mut v, "lifecycle", c.lifecycle, Lifecycle::from_number),
        region: c.region.trim().to_owned(),
        location_type: enum_field(
            &mut v,
            "location_type",
            c.location_type,
            LocationType::from_number,
        ),
        route_code: c.route_code.trim().to_owned(),
        route_order: c.route_order,
        owner_id: c.owner_id.trim().to_owned(),
        team: c.team.trim().to_owned(),
        custodian_id: c.custodian_id.trim().to_owned(),
        contacts: c
            .contacts
            .iter()
            .enumerate()
            .map(|(i, contact)| contact_from_proto(&mut v, &format!("contacts[{i}]"), contact))
            .collect(),
        competitors: c
            .competitors
            .iter()
            .enumerate()
            .map(|(i, comp)| Competitor {
                name: comp.name.trim().to_owned(),
                products: comp.products.trim().to_owned(),
                share_percent: decimal_field(
                    &mut v,
                    &format!("competitors[{i}].share_percent"),
                    &comp.share_percent,
                ),
                price: comp.price.trim().to_owned(),
                policy: comp.policy.trim().to_owned(),
            })
            .collect(),
        finance: c
            .finance
            .as_ref()
            .map(|f| Finance {
                debt_ratio: decimal_field(&mut v, "finance.debt_ratio", &f.debt_ratio),
                return_on_assets: decimal_field(
                    &mut v,
                    "finance.return_on_assets",
                    &f.return_on_assets,
                ),
                total_assets: decimal_field(&mut v, "finance.total_assets", &f.total_assets),
                condition: f.condition.trim().to_owned(),
            })
            .unwrap_or_default(),
        notes: c.notes.trim().to_owned(),
        founded_date: v
            .check(parse_date("founded_date", &c.founded_date))
            .flatten(),
        first_trade_date: v
            .check(parse_date("first_trade_date", &c.first_trade_date))
            .flatten(),
        staff_count: (c.staff_count != 0).then_some(c.staff_count),
        yearly_sales: decimal_field(&mut v, "yearly_sales", &c.yearly_sales),
        tags: c.tags.iter().map(|t| t.trim().to_owned()).collect(),
        supply_sources: c
            .supply_sources
            .iter()
            .map(|s| SupplySource {
                name: s.name.trim().to_owned(),
                address: s.address.trim().to_owned(),
                manager: s.manager.trim().to_owned(),
            })
            .collect(),
        sales_situation: c.sales_situation.trim().to_owned(),
        usage: c.usage.trim().to_owned(),
        purchase_volume: c.purchase_volume.trim().to_owned(),
        technical_requirements: c.technical_requirements.trim().to_owned(),
        our_products: c.our_products.trim().to_owned(),
        cooperation: c.cooperation.trim().to_owned(),
        price_float: c.price_float.trim().to_owned(),
        person: c.person.as_ref().map(|p| PersonDetails {
            sex: enum_field(&mut v, "person.sex", p.sex, Sex::from_number),
            birth_date: v
                .check(parse_date("person.birth_date", &p.birth_date))
                .flatten(),
            employer: p.employer.trim().to_owned(),
            title: p.title.trim().to_owned(),
            education: p.education.trim().to_owned(),
            native_place: p.native_place.trim().to_owned(),
            character: p.character.trim().to_owned(),
            hobbies: p.hobbies.trim().to_owned(),
            home_address: p.home_address.trim().to_owned(),
            home_phone: text_field(&mut v, "person.home_phone", &p.home_phone, Phone::parse),
        }),
    };
    if v.is_empty() { Ok(card) } else { Err(v) }
}

fn contact_from_proto(v: &mut Violations, at: &str, c: &pb::Contact) -> Contact {
    Contact {
        name: c.name.trim().to_owned(),
        sex: enum_field(v, &format!("{at}.sex"), c.sex, Sex::from_number),
        title: c.title.trim().to_owned(),
        department: c.department.trim().to_owned(),
        role: enum_field(v, &format!("{at}.role"), c.role, ContactRole::from_number),
        phone: text_field(v, &format!("{at}.phone"), &c.phone, Phone::parse),
        email: text_field(v, &format!("{at}.email"), &c.email, Email::parse),
        birth_date: v
            .check(parse_date(&format!("{at}.birth_date"), &c.birth_date))
            .flatten(),
        education: c.education.trim().to_owned(),
        native_place: c.native_place.trim().to_owned(),
        character: c.character.trim().to_owned(),
        hobbies: c.hobbies.trim().to_owned(),
        home_address: c.home_address.trim().to_owned(),
        home_phone: text_field(v, &format!("{at}.home_phone"), &c.home_phone, Phone::parse),
        relation_to_decision_makers: c.relation_to_decision_makers.trim().to_owned(),
    }
}

/// Parses an optional formatted text field: empty means absent.
fn text_field<T>(
    v: &mut Violations,
    field: &str,
    raw: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    if raw.trim().is_empty() {
        return None;
    }
    v.check(parse(raw).map_err(|reason| FieldViolation::new(field, reason)))
}

/// Parses an optional enum number: 0 means unset, an unknown number is a violation of `field`.
pub fn enum_field<T>(
    v: &mut Violations,
    field: &str,
    number: i32,
    parse: fn(i32) -> Result<Option<T>, String>,
) -> Option<T> {
    v.check(parse(number).map_err(|reason| FieldViolation::new(field, reason)))
        .flatten()
}

/// Parses an optional decimal string (`"12500.00"`); exponents and floats' spellings are refused.
pub fn parse_decimal(field: &str, raw: &str) -> Result<Option<Decimal>, FieldViolation> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.contains(['e', 'E']) {
        return Err(FieldViolation::new(
            field,
            "must be a plain decimal such as 12500.00",
        ));
    }
    Decimal::from_str_exact(raw)
        .or_else(|_| Decimal::from_str(raw))
        .map(Some)
        .map_err(|_| {
            FieldViolation::new(
                field,
                format!("{raw:?} is not a decimal number such as 12500.00"),
            )
        })
}

fn decimal_field(v: &mut Violations, field: &str, raw: &str) -> Option<Decimal> {
    v.check(parse_decimal(field, raw)).flatten()
}

fn decimal_text(value: Option<Decimal>) -> String {
    value.map(|d| d.to_string()).unwrap_or_default()
}

fn text_of<T: std::fmt::Display>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The card fields of a message (record metadata left empty).
pub fn card_to_proto(card: &CustomerCard) -> pb::Customer {
    pb::Customer {
        kind: number_of(card.kind, CustomerKind::number),
        name: card.name.clone(),
        credit_code: text_of(&card.credit_code),
        address: card.address.clone(),
        postcode: text_of(&card.postcode),
        phone: text_of(&card.phone),
        fax: text_of(&card.fax),
        email: text_of(&card.email),
        bank_name: card.bank_name.clone(),
        bank_account: card.bank_account.clone(),
        industry: card.industry.clone(),
        business_scope: card.business_scope.clone(),
        ownership: number_of(card.ownership, Ownership::number),
        customer_type: number_of(card.customer_type, CustomerType::number),
        channel: number_of(card.channel, Channel::number),
        grade: number_of(card.grade, Grade::number),
        trade_standing: number_of(card.trade_standing, TradeStanding::number),
        lifecycle: number_of(card.lifecycle, Lifecycle::number),
        region: card.region.clone(),
        location_type: number_of(card.location_type, LocationType::number),
        route_code: card.route_code.clone(),
        route_order: card.route_order,
        owner_id: card.owner_id.clone(),
        team: card.team.clone(),
        custodian_id: card.custodian_id.clone(),
        contacts: card
            .contacts
            .iter()
            .map(|c| pb::Contact {
                name: c.name.clone(),
                sex: number_of(c.sex, Sex::number),
                title: c.title.clone(),
                department: c.department.clone(),
                role: number_of(c.role, ContactRole::number),
                phone: text_of(&c.phone),
                email: text_of(&c.email),
                birth_date: format_date(c.birth_date),
                education: c.education.clone(),
                native_place: c.native_place.clone(),
                character: c.character.clone(),
                hobbies: c.hobbies.clone(),
                home_address: c.home_address.clone(),
                home_phone: text_of(&c.home_phone),
                relation_to_decision_makers: c.relation_to_decision_makers.clone(),
            })
            .collect(),
        competitors: card
            .competitors
            .iter()
            .map(|c| pb::Competitor {
                name: c.name.clone(),
                products: c.products.clone(),
                share_percent: decimal_text(c.share_percent),
                price: c.price.clone(),
                policy: c.policy.clone(),
            })
            .collect(),
        finance: (!card.finance.is_empty()).then(|| pb::Finance {
            debt_ratio: decimal_text(card.finance.debt_ratio),
            return_on_assets: decimal_text(card.finance.return_on_assets),
            total_assets: decimal_text(card.finance.total_assets),
            condition: card.finance.condition.clone(),
        }),
        notes: card.notes.clone(),
        founded_date: format_date(card.founded_date),
        first_trade_date: format_date(card.first_trade_date),
        staff_count: card.staff_count.unwrap_or(0),
        yearly_sales: decimal_text(card.yearly_sales),
        tags: card.tags.clone(),
        supply_sources: card
            .supply_sources
            .iter()
            .map(|s| pb::SupplySource {
                name: s.name.clone(),
                address: s.address.clone(),
                manager: s.manager.clone(),
            })
            .collect(),
        sales_situation: card.sales_situation.clone(),
        usage: card.usage.clone(),
        purchase_volume: card.purchase_volume.clone(),
        technical_requirements: card.technical_requirements.clone(),
        our_products: card.our_products.clone(),
        cooperation: card.cooperation.clone(),
        price_float: card.price_float.clone(),
        person: card.person.as_ref().map(|p| pb::PersonDetails {
            sex: number_of(p.sex, Sex::number),
            birth_date: format_date(p.birth_date),
            employer: p.employer.clone(),
            title: p.title.clone(),
            education: p.education.clone(),
            native_place: p.native_place.clone(),
            character: p.character.clone(),
            hobbies: p.hobbies.clone(),
            home_address: p.home_address.clone(),
            home_phone: text_of(&p.home_phone),
        }),
        ..pb::Customer::default()
    }
}

/// A whole archive as its message.
pub fn customer_to_proto(record: &CustomerRecord) -> pb::Customer {
    pb::Customer {
        id: record.id.clone(),
        archive_no: record.archive_no.clone(),
        state: record.state.number(),
        merged_into_id: record.merged_into_id.clone().unwrap_or_default(),
        review_due_at: Some(to_timestamp(record.review_due_at)),
        last_reviewed_at: record.last_reviewed_at.map(to_timestamp),
        etag: record.etag(),
        create_time: Some(to_timestamp(record.created_at)),
        update_time: Some(to_timestamp(record.updated_at)),
        created_by: record.created_by.clone(),
        updated_by: record.updated_by.clone(),
        ..card_to_proto(&record.card)
    }
}

/// A catalogue entry as its message.
pub fn document_to_proto(d: &crate::store::DocumentRecord) -> pb::Document {
    pb::Document {
        id: d.id.clone(),
        customer_id: d.customer_id.clone(),
        category: d.category,
        catalogue_no: d.catalogue_no.clone(),
        title: d.title.clone(),
        kind: d.kind.clone(),
        document_date: format_date(d.document_date),
        original: d.original,
        file_name: d.file_name.clone(),
        content_type: d.content_type.clone(),
        size_bytes: d.size_bytes,
        sha256: d.sha256.clone(),
        create_time: Some(to_timestamp(d.created_at)),
        created_by: d.created_by.clone(),
        volume_year: d.volume_year.unwrap_or(0),
        merged_from_archive_no: d.merged_from_archive_no.clone().unwrap_or_default(),
    }
}

/// A volume as its message.
pub fn volume_to_proto(v: &crate::store::VolumeRecord) -> pb::ArchiveVolume {
    pb::ArchiveVolume {
        id: v.row.id.clone(),
        customer_id: v.row.customer_id.clone(),
        year: v.row.year,
        volume_no: v.row.volume_no.clone(),
        close_time: Some(to_timestamp(v.row.closed_at)),
        closed_by: v.row.closed_by.clone(),
        card: Some(card_to_proto(&v.card)),
        entries: v
            .entries
            .iter()
            .map(|e| pb::VolumeEntry {
                catalogue_no: e.catalogue_no.clone(),
                title: e.title.clone(),
                document_date: format_date(e.document_date),
                original: e.original,
                document_id: e.id.clone(),
            })
            .collect(),
        versions: v.versions.clone(),
        digest: v.row.digest.clone(),
    }
}

/// A version as its message.
pub fn version_to_proto(v: &crate::store::VersionRecord) -> pb::CustomerVersion {
    pb::CustomerVersion {
        version: v.version,
        actor_id: v.actor_id.clone(),
        change_time: Some(to_timestamp(v.changed_at)),
        kind: v.kind.number(),
        changed_fields: v.changed_fields.clone(),
        old_values: Some(card_to_proto(&v.old_values)),
        new_values: Some(card_to_proto(&v.new_values)),
        note: v.note.clone(),
    }
}

/// The top-level fields a message sets (non-default values), by name.
pub fn fields_set(message: &pb::Customer) -> Vec<String> {
    use prost::Message;
    let Some(descriptor) =
        dossier_proto::descriptor_pool().get_message_by_name("dossier.customer.v1.Customer")
    else {
        return Vec::new();
    };
    match prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()) {
        Ok(dynamic) => dynamic
            .fields()
            .map(|(field, _)| field.name().to_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}
