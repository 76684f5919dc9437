//! The customer card (客户资料卡, 表2-7 / 表2-8) and the rules a card must satisfy.
//!
//! A card's serde names are the API's field names, which lets history diffs and field-mask updates
//! work on any field through one generic path (`changed_fields`, `apply_fields`) instead of one
//! branch per field.

use chrono::{DateTime, NaiveDate, Utc};
use dossier_kit::Violations;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::classification::*;
use super::contact_info::{Email, Phone, Postcode};
use super::credit_code::CreditCode;

/// Longest accepted name of a company or person.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted free-text field.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Everything a card says about a customer. Absent values are `None` or empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerCard {
    /// Company or individual; required.
    pub kind: Option<CustomerKind>,
    /// 企业名称 or the person's name; required.
    pub name: String,
    /// 统一社会信用代码.
    pub credit_code: Option<CreditCode>,
    /// 所在地址.
    pub address: String,
    /// 邮编.
    pub postcode: Option<Postcode>,
    /// Company phone.
    pub phone: Option<Phone>,
    /// Company fax.
    pub fax: Option<Phone>,
    /// Company email.
    pub email: Option<Email>,
    /// 开户行.
    pub bank_name: String,
    /// Bank account.
    pub bank_account: String,
    /// 所属行业.
    pub industry: String,
    /// 经营范围.
    pub business_scope: String,
    /// 所有制.
    pub ownership: Option<Ownership>,
    /// 客户类型.
    pub customer_type: Option<CustomerType>,
    /// Channel.
    pub channel: Option<Channel>,
    /// 客户等级.
    pub grade: Option<Grade>,
    /// Trade standing.
    pub trade_standing: Option<TradeStanding>,
    /// Lifecycle.
    pub lifecycle: Option<Lifecycle>,
    /// 地区.
    pub region: String,
    /// Location type.
    pub location_type: Option<LocationType>,
    /// 路序 route code.
    pub route_code: String,
    /// Order within the route.
    pub route_order: i32,
    /// 责任业务员.
    pub owner_id: String,
    /// Team.
    pub team: String,
    /// 档案管理员.
    pub custodian_id: String,
    /// People at the customer.
    pub contacts: Vec<Contact>,
    /// 主要竞争对手.
    pub competitors: Vec<Competitor>,
    /// 财务状况.
    pub finance: Finance,
    /// 备注.
    pub notes: String,
    /// 创业时间.
    pub founded_date: Option<NaiveDate>,
    /// 与本公司交易时间.
    pub first_trade_date: Option<NaiveDate>,
    /// Staff count.
    pub staff_count: Option<i32>,
    /// Yearly sales, CNY.
    pub yearly_sales: Option<Decimal>,
    /// Tags.
    pub tags: Vec<String>,
    /// 货源.
    pub supply_sources: Vec<SupplySource>,
    /// 销售情况.
    pub sales_situation: String,
    /// 用量.
    pub usage: String,
    /// 进货量.
    pub purchase_volume: String,
    /// 技术要求.
    pub technical_requirements: String,
    /// 本公司产品.
    pub our_products: String,
    /// 与本公司合作情况.
    pub cooperation: String,
    /// 价格浮动.
    pub price_float: String,
    /// An individual customer's own details.
    pub person: Option<PersonDetails>,
}

/// A person at the customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// 姓名; required.
    pub name: String,
    /// 性别.
    pub sex: Option<Sex>,
    /// 职务.
    pub title: String,
    /// 部门.
    pub department: String,
    /// Role.
    pub role: Option<ContactRole>,
    /// Work phone.
    pub phone: Option<Phone>,
    /// Work email.
    pub email: Option<Email>,
    /// 出生年月.
    pub birth_date: Option<NaiveDate>,
    /// 学历.
    pub education: String,
    /// 籍贯.
    pub native_place: String,
    /// 性格.
    pub character: String,
    /// 嗜好.
    pub hobbies: String,
    /// 家庭住址.
    pub home_address: String,
    /// 家庭电话.
    pub home_phone: Option<Phone>,
    /// 与决策层关系.
    pub relation_to_decision_makers: String,
}

/// An individual customer's own details.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonDetails {
    /// 性别.
    pub sex: Option<Sex>,
    /// 出生年月.
    pub birth_date: Option<NaiveDate>,
    /// 工作单位.
    pub employer: String,
    /// 职务.
    pub title: String,
    /// 学历.
    pub education: String,
    /// 籍贯.
    pub native_place: String,
    /// 性格.
    pub character: String,
    /// 嗜好.
    pub hobbies: String,
    /// 家庭住址.
    pub home_address: String,
    /// 家庭电话.
    pub home_phone: Option<Phone>,
}

/// A competitor of the customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Competitor {
    /// Name; required.
    pub name: String,
    /// Products.
    pub products: String,
    /// Share in percent, 0–100.
    pub share_percent: Option<Decimal>,
    /// Price level.
    pub price: String,
    /// Policy.
    pub policy: String,
}

/// A source of supply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupplySource {
    /// Name; required.
    pub name: String,
    /// Address.
    pub address: String,
    /// Person in charge.
    pub manager: String,
}

/// Financial condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Finance {
    /// 资产负债率, percent.
    pub debt_ratio: Option<Decimal>,
    /// 资产收益率, percent.
    pub return_on_assets: Option<Decimal>,
    /// Total assets, CNY.
    pub total_assets: Option<Decimal>,
    /// Condition in words.
    pub condition: String,
}

impl Finance {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        *self == Finance::default()
    }
}

/// Card fields the service manages itself; an update may not name them.
pub const MANAGED_FIELDS: &[(&str, &str)] = &[
    ("id", "is assigned by the service"),
    ("archive_no", "is assigned by the service"),
    (
        "etag",
        "is the version tag; send it in the request's etag field",
    ),
    ("state", "changes through ArchiveCustomer or MergeCustomers"),
    ("merged_into_id", "changes through MergeCustomers"),
    ("review_due_at", "changes through MarkReviewed"),
    ("last_reviewed_at", "changes through MarkReviewed"),
    ("owner_id", "changes through ReassignCustomer"),
    ("team", "changes through ReassignCustomer"),
    ("custodian_id", "changes through ReassignCustomer"),
    ("create_time", "is set by the service"),
    ("update_time", "is set by the service"),
    ("created_by", "is set by the service"),
    ("updated_by", "is set by the service"),
];

/// Names of the fields an update may change (the card's fields less the managed ones).
pub fn editable_fields() -> Vec<String> {
    card_field_names()
        .into_iter()
        .filter(|f| !MANAGED_FIELDS.iter().any(|(m, _)| m == f))
        .collect()
}

/// Every field name of a card, as the API spells it.
pub fn card_field_names() -> Vec<String> {
    match serde_json::to_value(CustomerCard::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The names of the fields whose values differ between two cards.
pub fn changed_fields(old: &CustomerCard, new: &CustomerCard) -> Vec<String> {
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    let mut changed: Vec<String> = new
        .iter()
        .filter(|(key, value)| old.get(*key) != Some(value))
        .map(|(key, _)| key.clone())
        .collect();
    changed.sort();
    changed
}

/// A card holding only `fields` of `card` (the others at their defaults); used to show the old and
/// new values of a version.
pub fn project(card: &CustomerCard, fields: &[String]) -> CustomerCard {
    let mut target = CustomerCard::default();
    apply_fields(&mut target, card, fields);
    target
}

/// Copies `fields` from `source` into `target`. Unknown names are ignored; callers validate
/// field names against [`editable_fields`] first.
pub fn apply_fields(target: &mut CustomerCard, source: &CustomerCard, fields: &[String]) {
    let (Ok(serde_json::Value::Object(mut into)), Ok(serde_json::Value::Object(from))) =
        (serde_json::to_value(&*target), serde_json::to_value(source))
    else {
        return;
    };
    for field in fields {
        if let Some(value) = from.get(field) {
            into.insert(field.clone(), value.clone());
        }
    }
    if let Ok(card) = serde_json::from_value(serde_json::Value::Object(into)) {
        *target = card;
    }
}

/// Fills the empty fields of `survivor` from `merged` (used by a merge: the surviving card keeps
/// its own values and gains what only the duplicate knew). Contacts are united by name and phone.
pub fn fill_gaps(survivor: &mut CustomerCard, merged: &CustomerCard) -> Vec<String> {
    let empty = CustomerCard::default();
    let (
        Ok(serde_json::Value::Object(mut into)),
        Ok(serde_json::Value::Object(from)),
        Ok(serde_json::Value::Object(blank)),
    ) = (
        serde_json::to_value(&*survivor),
        serde_json::to_value(merged),
        serde_json::to_value(&empty),
    )
    else {
        return Vec::new();
    };
    let mut filled = Vec::new();
    for (key, value) in from {
        if key == "contacts" || key == "owner_id" || key == "team" || key == "custodian_id" {
            continue;
        }
        if into.get(&key) == blank.get(&key) && Some(&value) != blank.get(&key) {
            into.insert(key.clone(), value);
            filled.push(key);
        }
    }
    if let Ok(card) = serde_json::from_value(serde_json::Value::Object(into)) {
        *survivor = card;
    }
    let before = survivor.contacts.len();
    for contact in &merged.contacts {
        let known = survivor
            .contacts
            .iter()
            .any(|c| c.name == contact.name && c.phone == contact.phone);
        if !known {
            survivor.contacts.push(contact.clone());
        }
    }
    if survivor.contacts.len() != before {
        filled.push("contacts".into());
    }
    filled.sort();
    filled
}

/// The rules of a whole card, checked on create and after every update: required fields per
/// kind, lengths, and ranges of figures. Format rules (credit code, phones, dates as text) are
/// enforced when the values are parsed.
pub fn validate(card: &CustomerCard, today: NaiveDate) -> Violations {
    let mut v = Violations::new();
    match card.kind {
        None => v.add(
            "kind",
            "is required: CUSTOMER_KIND_COMPANY or CUSTOMER_KIND_PERSON",
        ),
        Some(CustomerKind::Company) => {
            if card.address.trim().is_empty() {
                v.add("address", "is required for a company");
            }
            if card.person.is_some() {
                v.add("person", "is only for an individual customer");
            }
        }
        Some(CustomerKind::Person) => {
            if card.phone.is_none() {
                v.add("phone", "is required for an individual customer");
            }
        }
    }
    if card.name.trim().is_empty() {
        v.add("name", "is required");
    }
    check_len(&mut v, "name", &card.name, MAX_NAME_CHARS);
    for (field, text) in [
        ("address", &card.address),
        ("bank_name", &card.bank_name),
        ("bank_account", &card.bank_account),
        ("industry", &card.industry),
        ("business_scope", &card.business_scope),
        ("region", &card.region),
        ("route_code", &card.route_code),
        ("notes", &card.notes),
        ("sales_situation", &card.sales_situation),
        ("usage", &card.usage),
        ("purchase_volume", &card.purchase_volume),
        ("technical_requirements", &card.technical_requirements),
        ("our_products", &card.our_products),
        ("cooperation", &card.cooperation),
        ("price_float", &card.price_float),
        ("finance.condition", &card.finance.condition),
    ] {
        check_len(&mut v, field, text, MAX_TEXT_CHARS);
    }
    if !card.bank_account.is_empty()
        && !card
            .bank_account
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        v.add("bank_account", "may hold only digits, spaces and dashes");
    }
    if card.route_order < 0 {
        v.add("route_order", "must not be negative");
    }
    if card.staff_count.is_some_and(|n| n < 0) {
        v.add("staff_count", "must not be negative");
    }
    check_money(&mut v, "yearly_sales", card.yearly_sales);
    check_money(&mut v, "finance.total_assets", card.finance.total_assets);
    check_percent(
        &mut v,
        "finance.debt_ratio",
        card.finance.debt_ratio,
        Decimal::ZERO,
        Decimal::from(1000),
    );
    check_percent(
        &mut v,
        "finance.return_on_assets",
        card.finance.return_on_assets,
        Decimal::from(-1000),
        Decimal::from(1000),
    );
    check_past(&mut v, "founded_date", card.founded_date, today);
    check_past(&mut v, "first_trade_date", card.first_trade_date, today);
    for (i, contact) in card.contacts.iter().enumerate() {
        let at = format!("contacts[{i}]");
        if contact.name.trim().is_empty() {
            v.add(format!("{at}.name"), "is required");
        }
        check_len(&mut v, &format!("{at}.name"), &contact.name, MAX_NAME_CHARS);
        check_past(
            &mut v,
            &format!("{at}.birth_date"),
            contact.birth_date,
            today,
        );
    }
    for (i, competitor) in card.competitors.iter().enumerate() {
        if competitor.name.trim().is_empty() {
            v.add(format!("competitors[{i}].name"), "is required");
        }
        check_percent(
            &mut v,
            &format!("competitors[{i}].share_percent"),
            competitor.share_percent,
            Decimal::ZERO,
            Decimal::from(100),
        );
    }
    for (i, source) in card.supply_sources.iter().enumerate() {
        if source.name.trim().is_empty() {
            v.add(format!("supply_sources[{i}].name"), "is required");
        }
    }
    if let Some(person) = &card.person {
        check_past(&mut v, "person.birth_date", person.birth_date, today);
    }
    if card
        .tags
        .iter()
        .any(|t| t.trim().is_empty() || t.chars().count() > 50)
    {
        v.add("tags", "each tag must be 1 to 50 characters");
    }
    v
}

fn check_len(v: &mut Violations, field: &str, text: &str, max: usize) {
    if text.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
}

fn check_money(v: &mut Violations, field: &str, amount: Option<Decimal>) {
    if let Some(amount) = amount {
        if amount.is_sign_negative() {
            v.add(field, "must not be negative");
        }
        if amount.scale() > 2 {
            v.add(field, "must have at most two decimal places");
        }
    }
}

fn check_percent(
    v: &mut Violations,
    field: &str,
    value: Option<Decimal>,
    min: Decimal,
    max: Decimal,
) {
    if let Some(value) = value {
        if value < min || value > max {
            v.add(field, format!("must be between {min} and {max} percent"));
        }
        if value.scale() > 2 {
            v.add(field, "must have at most two decimal places");
        }
    }
}

fn check_past(v: &mut Violations, field: &str, date: Option<NaiveDate>, today: NaiveDate) {
    if let Some(date) = date {
        if date > today {
            v.add(field, "must not be in the future");
        }
        if date.year() < 1900 {
            v.add(field, "must not be before 1900");
        }
    }
}

use chrono::Datelike;

/// The stored archive: the card plus what the service manages about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    /// Stable id.
    pub id: String,
    /// Archive number.
    pub archive_no: String,
    /// Active, archived or merged.
    pub state: CustomerState,
    /// The survivor, when merged.
    pub merged_into_id: Option<String>,
    /// Next review.
    pub review_due_at: DateTime<Utc>,
    /// Last review.
    pub last_reviewed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version, from 1.
    pub version: i64,
    /// Opened at.
    pub created_at: DateTime<Utc>,
    /// Opened by.
    pub created_by: String,
    /// Last change at.
    pub updated_at: DateTime<Utc>,
    /// Last change by.
    pub updated_by: String,
    /// The card.
    pub card: CustomerCard,
}

impl CustomerRecord {
    /// The etag of the current version.
    pub fn etag(&self) -> String {
        etag_of(self.version)
    }

    /// Refuses the change unless `etag` (when given) names the current version.
    pub fn check_etag(&self, etag: &str) -> Result<(), dossier_kit::Problem> {
        if etag.is_empty() || etag == self.etag() {
            Ok(())
        } else {
            Err(dossier_kit::Problem::stale(etag, &self.etag()))
        }
    }

    /// Refuses changes to an archive that is not active.
    pub fn ensure_active(&self) -> Result<(), dossier_kit::Problem> {
        match self.state {
            CustomerState::Active => Ok(()),
            CustomerState::Archived => Err(dossier_kit::Problem::precondition(
                "CUSTOMER_ARCHIVED",
                format!(
                    "customer {} is archived and cannot be changed",
                    self.archive_no
                ),
            )),
            CustomerState::Merged => Err(dossier_kit::Problem::precondition(
                "CUSTOMER_MERGED",
                format!(
                    "customer {} was merged into {}; change the surviving card",
                    self.archive_no,
                    self.merged_into_id.as_deref().unwrap_or("another customer")
                ),
            )),
        }
    }
}

/// The etag of a version.
pub fn etag_of(version: i64) -> String {
    format!("\"v{version}\"")
}

/// The archive number of the `sequence`-th customer opened in `year`: `KH-2026-000123`.
pub fn archive_number(year: i32, sequence: i64) -> String {
    format!("KH-{year}-{sequence:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
    }

    fn company() -> CustomerCard {
        CustomerCard {
            kind: Some(CustomerKind::Company),
            name: "杭州恒远化工有限公司".into(),
            address: "浙江省杭州市西湖区文三路 138 号".into(),
            ..CustomerCard::default()
        }
    }

    #[test]
    fn a_company_needs_a_name_and_an_address() {
        assert!(validate(&company(), today()).is_empty());
        let mut card = company();
        card.address.clear();
        card.name = "  ".into();
        let fields: Vec<_> = validate(&card, today())
            .list()
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, vec!["address", "name"]);
    }

    #[test]
    fn a_person_needs_a_phone() {
        let card = CustomerCard {
            kind: Some(CustomerKind::Person),
            name: "王芳".into(),
            ..CustomerCard::default()
        };
        let fields: Vec<_> = validate(&card, today())
            .list()
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, vec!["phone"]);
    }

    #[test]
    fn figures_are_checked() {
        let mut card = company();
        card.yearly_sales = Some(Decimal::new(-1, 0));
        card.finance.debt_ratio = Some(Decimal::new(12345, 3));
        card.founded_date = NaiveDate::from_ymd_opt(2030, 1, 1);
        let fields: Vec<_> = validate(&card, today())
            .list()
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(
            fields,
            vec!["yearly_sales", "finance.debt_ratio", "founded_date"]
        );
    }

    #[test]
    fn changed_fields_names_exactly_what_differs() {
        let old = company();
        let mut new = old.clone();
        new.grade = Some(Grade::A);
        new.notes = "重点跟进".into();
        assert_eq!(changed_fields(&old, &new), vec!["grade", "notes"]);
        assert!(changed_fields(&old, &old).is_empty());
    }

    #[test]
    fn applying_fields_copies_only_those() {
        let mut target = company();
        let source = CustomerCard {
            name: "新名称".into(),
            region: "华东/杭州".into(),
            ..CustomerCard::default()
        };
        apply_fields(&mut target, &source, &["region".into()]);
        assert_eq!(target.region, "华东/杭州");
        assert_eq!(target.name, "杭州恒远化工有限公司");
        // Clearing a field is possible by naming it with an empty value.
        apply_fields(&mut target, &source, &["address".into()]);
        assert!(target.address.is_empty());
    }

    #[test]
    fn managed_fields_are_not_editable() {
        let editable = editable_fields();
        assert!(editable.contains(&"grade".to_owned()));
        assert!(!editable.contains(&"owner_id".to_owned()));
        assert!(!editable.iter().any(|f| f == "archive_no"));
    }

    #[test]
    fn a_merge_fills_only_gaps() {
        let mut survivor = company();
        survivor.phone = None;
        let mut merged = company();
        merged.address = "另一个地址".into();
        merged.industry = "化工".into();
        merged.contacts.push(Contact {
            name: "李娜".into(),
            ..Contact::default()
        });
        let filled = fill_gaps(&mut survivor, &merged);
        assert_eq!(survivor.address, "浙江省杭州市西湖区文三路 138 号");
        assert_eq!(survivor.industry, "化工");
        assert_eq!(survivor.contacts.len(), 1);
        assert_eq!(filled, vec!["contacts", "industry"]);
    }

    #[test]
    fn archive_numbers_are_zero_padded() {
        assert_eq!(archive_number(2026, 123), "KH-2026-000123");
    }
}
