//! Spreadsheets in and out: reading customer rows from xlsx or CSV (column names in English or as
//! the card's Chinese labels), and writing an xlsx export.

use std::io::Cursor;

use calamine::{Data, Reader};
use dossier_kit::Problem;
use dossier_proto::customer as pb;

use crate::domain::card::CustomerRecord;
use crate::domain::classification::*;
use crate::wire::customer_to_proto;

/// Largest export, in customers.
pub const MAX_EXPORT_ROWS: u64 = 100_000;
/// Largest import, in rows.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// One data row: its spreadsheet row number and the customer it describes (or why it could not
/// be read).
pub struct SheetRow {
    /// Row number as the spreadsheet shows it (header = 1).
    pub number: i32,
    /// The customer, or the violation of a cell that could not be read.
    pub customer: Result<pb::Customer, Problem>,
}

/// The columns understood, each with its Chinese label(s).
const COLUMNS: &[(&str, &[&str])] = &[
    ("kind", &["类型", "客户类别"]),
    ("name", &["企业名称", "客户名称", "公司名称", "名称"]),
    ("credit_code", &["统一社会信用代码", "信用代码"]),
    ("address", &["所在地址", "地址", "公司地址"]),
    ("postcode", &["邮编"]),
    ("phone", &["电话", "联系方式"]),
    ("fax", &["传真"]),
    ("email", &["邮箱", "电子邮件"]),
    ("bank_name", &["开户行"]),
    ("bank_account", &["账号", "银行账号"]),
    ("industry", &["所属行业", "行业"]),
    ("business_scope", &["经营范围"]),
    ("ownership", &["所有制", "性质"]),
    ("customer_type", &["客户类型"]),
    ("channel", &["渠道"]),
    ("grade", &["客户等级", "等级"]),
    ("trade_standing", &["客户地位"]),
    ("lifecycle", &["客户阶段"]),
    ("region", &["地区"]),
    ("location_type", &["地段"]),
    ("route_code", &["路线"]),
    ("route_order", &["路序"]),
    ("owner_id", &["责任业务员"]),
    ("team", &["团队"]),
    ("custodian_id", &["档案管理员"]),
    ("founded_date", &["创业时间"]),
    ("first_trade_date", &["与本公司交易时间"]),
    ("staff_count", &["员工人数"]),
    ("yearly_sales", &["年销售额"]),
    ("tags", &["标签"]),
    ("notes", &["备注"]),
    ("contact_name", &["联系人"]),
    ("contact_title", &["职务"]),
    ("contact_phone", &["联系人电话"]),
    ("contact_email", &["联系人邮箱"]),
];

/// Chinese labels of classification values, beside their codes.
const LABELS: &[(&str, &str, &str)] = &[
    ("kind", "企业", "company"),
    ("kind", "公司", "company"),
    ("kind", "个人", "person"),
    ("grade", "重要", "A"),
    ("grade", "特殊", "B"),
    ("grade", "一般", "C"),
    ("ownership", "全民", "state"),
    ("ownership", "国有", "state"),
    ("ownership", "集体", "collective"),
    ("ownership", "个体", "private"),
    ("ownership", "股份制", "joint_stock"),
    ("ownership", "合资", "joint_venture"),
    ("ownership", "外资", "foreign"),
    ("ownership", "其他", "other"),
    ("customer_type", "政府机构", "government"),
    ("customer_type", "特殊公司", "special_company"),
    ("customer_type", "普通公司", "ordinary_company"),
    ("customer_type", "个人", "individual"),
    ("customer_type", "交易伙伴", "trade_partner"),
    ("channel", "批发", "wholesale"),
    ("channel", "零售", "retail"),
    ("channel", "代理", "agent"),
    ("channel", "特约", "appointed"),
    ("channel", "连锁", "chain"),
    ("channel", "专营", "exclusive"),
    ("trade_standing", "主力", "key"),
    ("trade_standing", "一般", "regular"),
    ("trade_standing", "零散", "occasional"),
    ("lifecycle", "准客户", "prospect"),
    ("lifecycle", "新客户", "new"),
    ("lifecycle", "老客户", "established"),
    ("lifecycle", "休眠", "dormant"),
    ("lifecycle", "流失", "lost"),
    ("location_type", "商业中心", "commercial_center"),
    ("location_type", "交通枢纽", "transport_hub"),
    ("location_type", "居民区", "residential"),
    ("location_type", "其他", "other"),
];

/// Reads the rows of a sheet.
pub fn read_rows(content: &[u8], format: i32, file_name: &str) -> Result<Vec<SheetRow>, Problem> {
    if content.is_empty() {
        return Err(Problem::invalid("content", "is empty"));
    }
    let is_xlsx = match pb::SheetFormat::try_from(format) {
        Ok(pb::SheetFormat::Xlsx) => true,
        Ok(pb::SheetFormat::Csv) => false,
        _ => {
            file_name.to_ascii_lowercase().ends_with(".xlsx") || content.starts_with(b"PK\x03\x04")
        }
    };
    let grid = if is_xlsx {
        read_xlsx(content)?
    } else {
        read_csv(content)?
    };
    let mut lines = grid.into_iter();
    let header = lines
        .next()
        .ok_or_else(|| Problem::invalid("content", "has no header row"))?;
    let columns = map_header(&header)?;
    let mut rows = Vec::new();
    for (index, cells) in lines.enumerate() {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(Problem::ResourceExhausted {
                message: format!("at most {MAX_IMPORT_ROWS} rows per import"),
            });
        }
        let number = i32::try_from(index + 2).unwrap_or(i32::MAX);
        rows.push(SheetRow {
            number,
            customer: row_to_customer(&columns, &cells),
        });
    }
    Ok(rows)
}

fn read_xlsx(content: &[u8]) -> Result<Vec<Vec<String>>, Problem> {
    let mut workbook = calamine::Xlsx::new(Cursor::new(content)).map_err(|e| {
        Problem::invalid("content", format!("is not a readable xlsx workbook: {e}"))
    })?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| Problem::invalid("content", "has no worksheet"))?
        .map_err(|e| Problem::invalid("content", format!("first worksheet unreadable: {e}")))?;
    Ok(range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect())
}

/// A cell as text. Numbers keep no spurious `.0` (phones and codes are often typed as numbers),
/// dates become `YYYY-MM-DD`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.chars().take(10).collect(),
        Data::Error(_) => String::new(),
    }
}

fn read_csv(content: &[u8]) -> Result<Vec<Vec<String>>, Problem> {
    // Excel writes UTF-8 CSV with a byte-order mark.
    let content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(content);
    let mut grid = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            Problem::invalid("content", format!("row {}: not valid CSV: {e}", index + 1))
        })?;
        grid.push(record.iter().map(str::to_owned).collect());
    }
    Ok(grid)
}

fn map_header(header: &[String]) -> Result<Vec<Option<&'static str>>, Problem> {
    let columns: Vec<Option<&'static str>> = header
        .iter()
        .map(|name| {
            let name = name.trim();
            COLUMNS
                .iter()
                .find(|(field, labels)| field.eq_ignore_ascii_case(name) || labels.contains(&name))
                .map(|(field, _)| *field)
        })
        .collect();
    if !columns.contains(&Some("name")) {
        return Err(Problem::invalid(
            "content",
            "the header row has no `name` (企业名称) column",
        ));
    }
    Ok(columns)
}

fn row_to_customer(
    columns: &[Option<&'static str>],
    cells: &[String],
) -> Result<pb::Customer, Problem> {
    let mut c = pb::Customer::default();
    let mut contact = pb::Contact::default();
    for (column, cell) in columns.iter().zip(cells) {
        let Some(field) = column else { continue };
        let value = cell.trim().to_owned();
        if value.is_empty() {
            continue;
        }
        match *field {
            "kind" => {
                c.kind =
                    classification(field, &value, CustomerKind::from_code, CustomerKind::number)?
            }
            "name" => c.name = value,
            "credit_code" => c.credit_code = value,
            "address" => c.address = value,
            "postcode" => c.postcode = value,
            "phone" => c.phone = value,
            "fax" => c.fax = value,
            "email" => c.email = value,
            "bank_name" => c.bank_name = value,
            "bank_account" => c.bank_account = value,
            "industry" => c.industry = value,
            "business_scope" => c.business_scope = value,
            "ownership" => {
                c.ownership =
                    classification(field, &value, Ownership::from_code, Ownership::number)?
            }
            "customer_type" => {
                c.customer_type =
                    classification(field, &value, CustomerType::from_code, CustomerType::number)?
            }
            "channel" => {
                c.channel = classification(field, &value, Channel::from_code, Channel::number)?
            }
            "grade" => c.grade = classification(field, &value, Grade::from_code, Grade::number)?,
            "trade_standing" => {
                c.trade_standing = classification(
                    field,
                    &value,
                    TradeStanding::from_code,
                    TradeStanding::number,
                )?
            }
            "lifecycle" => {
                c.lifecycle =
                    classification(field, &value, Lifecycle::from_code, Lifecycle::number)?
            }
            "region" => c.region = value,
            "location_type" => {
                c.location_type =
                    classification(field, &value, LocationType::from_code, LocationType::number)?
            }
            "route_code" => c.route_code = value,
            "route_order" => c.route_order = integer(field, &value)?,
            "owner_id" => c.owner_id = value,
            "team" => c.team = value,
            "custodian_id" => c.custodian_id = value,
            "founded_date" => c.founded_date = value,
            "first_trade_date" => c.first_trade_date = value,
            "staff_count" => c.staff_count = integer(field, &value)?,
            "yearly_sales" => c.yearly_sales = value,
            "tags" => {
                c.tags = value
                    .split([';', ',', '；', '，'])
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            "notes" => c.notes = value,
            "contact_name" => contact.name = value,
            "contact_title" => contact.title = value,
            "contact_phone" => contact.phone = value,
            "contact_email" => contact.email = value,
            _ => {}
        }
    }
    if c.kind == 0 {
        // A sheet of companies need not say so on every row.
        c.kind = if c.credit_code.is_empty() && !c.phone.is_empty() && c.address.is_empty() {
            CustomerKind::Person.number()
        } else {
            CustomerKind::Company.number()
        };
    }
    if contact != pb::Contact::default() {
        c.contacts.push(contact);
    }
    Ok(c)
}

fn classification<T: Copy>(
    field: &str,
    value: &str,
    from_code: fn(&str) -> Option<T>,
    number: fn(T) -> i32,
) -> Result<i32, Problem> {
    let code = LABELS
        .iter()
        .find(|(f, label, _)| *f == field && *label == value)
        .map(|(_, _, code)| *code)
        .unwrap_or(value);
    from_code(code)
        .map(number)
        .ok_or_else(|| Problem::invalid(field, format!("{value:?} is not a known value")))
}

fn integer(field: &str, value: &str) -> Result<i32, Problem> {
    value
        .parse()
        .map_err(|_| Problem::invalid(field, format!("{value:?} is not a whole number")))
}

/// The export columns: header text and how each customer fills it.
type Column = (&'static str, fn(&pb::Customer) -> String);

const EXPORT: &[Column] = &[
    ("编号 archive_no", |c| c.archive_no.clone()),
    ("企业名称 name", |c| c.name.clone()),
    ("统一社会信用代码 credit_code", |c| {
        c.credit_code.clone()
    }),
    ("所在地址 address", |c| c.address.clone()),
    ("邮编 postcode", |c| c.postcode.clone()),
    ("电话 phone", |c| c.phone.clone()),
    ("传真 fax", |c| c.fax.clone()),
    ("Email email", |c| c.email.clone()),
    ("所属行业 industry", |c| c.industry.clone()),
    ("客户类型 customer_type", |c| {
        code_of(
            c.customer_type,
            CustomerType::from_number,
            CustomerType::code,
        )
    }),
    ("客户等级 grade", |c| {
        code_of(c.grade, Grade::from_number, Grade::code)
    }),
    ("地区 region", |c| c.region.clone()),
    ("路线 route_code", |c| c.route_code.clone()),
    ("路序 route_order", |c| c.route_order.to_string()),
    ("责任业务员 owner_id", |c| c.owner_id.clone()),
    ("联系人 contact", |c| {
        c.contacts
            .first()
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }),
    ("职务 title", |c| {
        c.contacts
            .first()
            .map(|p| p.title.clone())
            .unwrap_or_default()
    }),
    ("联系人电话 contact_phone", |c| {
        c.contacts
            .first()
            .map(|p| p.phone.clone())
            .unwrap_or_default()
    }),
    ("备注 notes", |c| c.notes.clone()),
];

fn code_of<T: Copy>(
    number: i32,
    from_number: fn(i32) -> Result<Option<T>, String>,
    code: fn(T) -> &'static str,
) -> String {
    from_number(number)
        .ok()
        .flatten()
        .map(|v| code(v).to_owned())
        .unwrap_or_default()
}

/// Masks a customer for `caller` exactly as the gateway masks a read, for the caller's relation
/// to it decided from the card itself (owner, same team, or other). A borrow does not reach bulk
/// output (DOMAIN.md §6: originals and borrowed archives are never exported), so it is not asked.
pub fn mask_for(
    masker: &dossier_masking::Masker,
    caller: &dossier_kit::auth::Caller,
    customer: pb::Customer,
) -> Result<pb::Customer, Problem> {
    use dossier_masking::Relation;
    use prost::Message;
    let relation = if !customer.owner_id.is_empty() && customer.owner_id == caller.sub {
        Relation::Owner
    } else if !customer.team.is_empty() && customer.team == caller.team {
        Relation::Team
    } else {
        Relation::Other
    };
    let (bytes, _) = masker
        .mask_bytes_as(
            "dossier.customer.v1.Customer",
            &customer.encode_to_vec(),
            caller,
            &|_: &str| relation,
            relation,
        )
        .map_err(Problem::internal)?;
    pb::Customer::decode(bytes.as_slice()).map_err(Problem::internal)
}

/// Writes customers as an xlsx workbook (the classification summary of 附表一, widened), each
/// row masked for `caller` (see [`mask_for`]).
pub fn write_xlsx(
    records: &[CustomerRecord],
    masker: &dossier_masking::Masker,
    caller: &dossier_kit::auth::Caller,
) -> Result<Vec<u8>, Problem> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("客户").map_err(Problem::internal)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, (header, _)) in EXPORT.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *header, &bold)
            .map_err(Problem::internal)?;
    }
    for (index, record) in records.iter().enumerate() {
        let customer = mask_for(masker, caller, customer_to_proto(record))?;
        let row = u32::try_from(index + 1).map_err(Problem::internal)?;
        for (col, (_, value)) in EXPORT.iter().enumerate() {
            let text = value(&customer);
            if !text.is_empty() {
                sheet
                    .write_string(row, col as u16, text)
                    .map_err(Problem::internal)?;
            }
        }
    }
    workbook.save_to_buffer().map_err(Problem::internal)
}
