//! The exports as xlsx workbooks laid out like their forms: 附表六 (factors down, months across,
//! group subtotals and 合计), 附表七 (factors down, companies across, 合计 and ranks), the
//! composition, the classification, 重点客户销量统计表 and the salesperson figures. They take the
//! answer already masked for the caller, so a workbook never shows more than the read would.

use dossier_kit::Problem;
use dossier_proto::analytics::{self as pb};
use rust_xlsxwriter::{Format, Workbook, Worksheet};

use crate::domain::factors::{FACTORS, Group};

/// A worksheet being written, row by row.
struct Sheet<'a> {
    sheet: &'a mut Worksheet,
    row: u32,
    bold: Format,
}

impl Sheet<'_> {
    /// Writes one row; numbers as numbers, masked or other text as text, empty cells left empty.
    fn line<S: AsRef<str>>(&mut self, cells: &[S], bold: bool) -> Result<(), Problem> {
        for (col, cell) in cells.iter().enumerate() {
            let text = cell.as_ref();
            let col = u16::try_from(col).map_err(Problem::internal)?;
            if text.is_empty() {
                continue;
            }
            let result = match (text.parse::<f64>(), bold) {
                (Ok(n), false) => self.sheet.write_number(self.row, col, n).map(|_| ()),
                (Ok(n), true) => self
                    .sheet
                    .write_number_with_format(self.row, col, n, &self.bold)
                    .map(|_| ()),
                (Err(_), false) => self.sheet.write_string(self.row, col, text).map(|_| ()),
                (Err(_), true) => self
                    .sheet
                    .write_string_with_format(self.row, col, text, &self.bold)
                    .map(|_| ()),
            };
            result.map_err(Problem::internal)?;
        }
        self.row += 1;
        Ok(())
    }
}

/// Fills one worksheet.
type Fill<'a> = Box<dyn FnOnce(&mut Sheet) -> Result<(), Problem> + 'a>;

/// Builds a workbook of one or more sheets, each filled by `fill`.
fn workbook(sheets: Vec<(&str, Fill<'_>)>) -> Result<Vec<u8>, Problem> {
    let mut book = Workbook::new();
    for (name, fill) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(name).map_err(Problem::internal)?;
        let mut s = Sheet {
            sheet,
            row: 0,
            bold: Format::new().set_bold(),
        };
        fill(&mut s)?;
    }
    book.save_to_buffer().map_err(Problem::internal)
}

fn score(n: i32) -> String {
    if n == 0 { String::new() } else { n.to_string() }
}

/// 附表六 客户综合销售力分析表.
pub fn sheet(s: &pb::GetSalesForceSheetResponse) -> Result<Vec<u8>, Problem> {
    let main = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&["客户综合销售力分析表"], true)?;
        x.line(
            &[
                format!("客户: {}", s.customer_name),
                format!("{} 年", s.year),
            ],
            false,
        )?;
        let mut header = vec!["项目".to_owned(), "因素".to_owned()];
        header.extend((1..=12).map(|m| format!("{m}月")));
        x.line(&header, true)?;
        for (gi, group) in Group::ALL.iter().enumerate() {
            for (i, f) in group.factors().enumerate() {
                let row = s
                    .rows
                    .iter()
                    .find(|r| r.factor.as_ref().map(|f| f.number) == Some(f.number));
                let mut line = vec![
                    if i == 0 {
                        group.name_zh().to_owned()
                    } else {
                        String::new()
                    },
                    format!("{} {}", f.number, f.name_zh),
                ];
                line.extend(
                    row.map(|r| r.cells.iter().map(|c| score(c.score)).collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                x.line(&line, false)?;
            }
            if let Some(g) = s.group_rows.get(gi) {
                let mut line = vec![String::new(), format!("小计 (满分 {})", g.max_score)];
                line.extend(g.subtotals.iter().map(|t| t.to_string()));
                x.line(&line, true)?;
            }
        }
        let mut total = vec!["合计".to_owned(), String::new()];
        total.extend(s.month_totals.iter().map(|t| t.total.to_string()));
        x.line(&total, true)?;
        Ok(())
    };
    let proposals = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&["月份", "因素", "建议评分", "规则", "依据"], true)?;
        for p in &s.proposals {
            let name = FACTORS
                .iter()
                .find(|f| f.number == p.factor)
                .map(|f| format!("{} {}", f.number, f.name_zh))
                .unwrap_or_default();
            let inputs = p
                .inputs
                .iter()
                .map(|i| format!("{} = {}", i.name, i.value))
                .collect::<Vec<_>>()
                .join("; ");
            x.line(
                &[
                    p.month.clone(),
                    name,
                    p.score.to_string(),
                    p.rule.clone(),
                    inputs,
                ],
                false,
            )?;
        }
        Ok(())
    };
    workbook(vec![
        ("附表六", Box::new(main)),
        ("建议评分", Box::new(proposals)),
    ])
}

/// 附表七 客户综合销售力对比分析表.
pub fn comparison(c: &pb::CompareSalesForceResponse) -> Result<Vec<u8>, Problem> {
    let fill = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&["客户综合销售力对比分析表"], true)?;
        x.line(&[format!("月份: {}", c.month)], false)?;
        let mut header = vec!["项目".to_owned(), "因素 \\ 公司".to_owned()];
        header.extend(c.customers.iter().map(|k| k.customer_name.clone()));
        x.line(&header, true)?;
        for group in Group::ALL {
            for (i, f) in group.factors().enumerate() {
                let mut line = vec![
                    if i == 0 {
                        group.name_zh().to_owned()
                    } else {
                        String::new()
                    },
                    format!("{} {}", f.number, f.name_zh),
                ];
                line.extend(c.customers.iter().map(|k| {
                    k.scores
                        .iter()
                        .find(|s| s.factor == f.number)
                        .map(|s| score(s.score))
                        .unwrap_or_default()
                }));
                x.line(&line, false)?;
            }
        }
        let mut total = vec!["合计".to_owned(), String::new()];
        total.extend(c.customers.iter().map(|k| k.total.to_string()));
        x.line(&total, true)?;
        let mut rank = vec!["名次".to_owned(), String::new()];
        // A rank is never 0: 0 is a rank masked for the caller, left blank.
        rank.extend(c.customers.iter().map(|k| score(k.rank)));
        x.line(&rank, true)
    };
    workbook(vec![("附表七", Box::new(fill))])
}

/// 客户构成分析.
pub fn composition(c: &pb::GetCompositionResponse) -> Result<Vec<u8>, Problem> {
    let dimension = match pb::CompositionDimension::try_from(c.dimension) {
        Ok(pb::CompositionDimension::Product) => "商品构成",
        Ok(pb::CompositionDimension::Region) => "地区构成",
        Ok(pb::CompositionDimension::Credit) => "信用构成",
        _ => "销售构成",
    };
    let fill = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&[format!("客户构成分析 — {dimension}")], true)?;
        x.line(
            &[
                format!("期间: {}", c.period),
                format!("口径: {}", c.measure),
            ],
            false,
        )?;
        x.line(
            &["类别", "名称", "金额", "占比 %", "客户数", "上期金额"],
            true,
        )?;
        for s in &c.slices {
            x.line(
                &[
                    s.key.clone(),
                    s.label.clone(),
                    s.amount.clone(),
                    s.share_percent.clone(),
                    s.customer_count.to_string(),
                    s.previous_amount.clone(),
                ],
                false,
            )?;
        }
        x.line(
            &["合计".to_owned(), String::new(), c.total_amount.clone()],
            true,
        )
    };
    workbook(vec![(dimension, Box::new(fill))])
}

fn yes(b: bool) -> String {
    if b { "是".into() } else { String::new() }
}

/// The ABC / key-account classification.
pub fn classification(c: &pb::ClassifyCustomersResponse) -> Result<Vec<u8>, Problem> {
    let fill = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&["客户ABC分类"], true)?;
        x.line(
            &[
                format!("期间: {}", c.period),
                format!("销售合计: {}", c.total_sales),
                format!(
                    "A {} / B {} / C {} / 重点客户 {}",
                    c.a_count, c.b_count, c.c_count, c.key_account_count
                ),
            ],
            false,
        )?;
        x.line(
            &[
                "名次",
                "客户",
                "销售额",
                "占比 %",
                "累计占比 %",
                "类别",
                "重点客户",
                "客户价值",
                "市场潜力",
                "战略重要性",
            ],
            true,
        )?;
        for k in &c.customers {
            let class = match pb::AbcClass::try_from(k.abc_class) {
                Ok(pb::AbcClass::A) => "A",
                Ok(pb::AbcClass::B) => "B",
                Ok(pb::AbcClass::C) => "C",
                _ => "",
            };
            let criteria = k.criteria.unwrap_or_default();
            x.line(
                &[
                    k.rank.to_string(),
                    k.customer_name.clone(),
                    k.sales_amount.clone(),
                    k.share_percent.clone(),
                    k.cumulative_share_percent.clone(),
                    class.to_owned(),
                    yes(k.key_account),
                    yes(criteria.customer_value),
                    yes(criteria.market_potential),
                    yes(criteria.strategic_importance),
                ],
                false,
            )?;
        }
        Ok(())
    };
    workbook(vec![("ABC分类", Box::new(fill))])
}

/// 重点客户销量统计表.
pub fn key_sales(k: &pb::GetKeyCustomerSalesResponse) -> Result<Vec<u8>, Problem> {
    let fill = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&["重点客户销量统计 (金额)"], true)?;
        x.line(&[format!("日期: {}", k.month)], false)?;
        x.line(
            &[
                "客户",
                "地区",
                "业务员",
                "本月",
                "上月",
                "去年同月",
                "本年累计",
                "去年同期累计",
                "同比增长 %",
                "年度目标",
                "完成 %",
                "本月回款",
            ],
            true,
        )?;
        let line = |r: &pb::KeyCustomerSalesRow, name: String| {
            vec![
                name,
                r.region.clone(),
                r.salesperson_id.clone(),
                r.month_amount.clone(),
                r.last_month_amount.clone(),
                r.last_year_month_amount.clone(),
                r.year_to_date_amount.clone(),
                r.last_year_to_date_amount.clone(),
                r.growth_percent.clone(),
                r.year_target_amount.clone(),
                r.completion_percent.clone(),
                r.collected_amount.clone(),
            ]
        };
        for r in &k.rows {
            x.line(&line(r, r.customer_name.clone()), false)?;
        }
        if let Some(total) = &k.total {
            x.line(&line(total, "合计".into()), true)?;
        }
        x.line(&["备注: 金额按公司出厂价格统计。"], false)
    };
    workbook(vec![("重点客户销量统计表", Box::new(fill))])
}

/// Salesperson performance.
pub fn performance(p: &pb::GetSalespersonPerformanceResponse) -> Result<Vec<u8>, Problem> {
    let fill = |x: &mut Sheet| -> Result<(), Problem> {
        x.line(&[format!("业务员业绩 {}", p.period)], true)?;
        x.line(
            &[
                "业务员",
                "团队",
                "销售额",
                "回款",
                "逾期",
                "目标",
                "完成 %",
                "计划拜访",
                "已拜访",
                "投诉",
                "新客户",
                "日志 %",
            ],
            true,
        )?;
        let line = |r: &pb::SalespersonPerformanceRow, name: String| {
            vec![
                name,
                r.team.clone(),
                r.sales_amount.clone(),
                r.collected_amount.clone(),
                r.overdue_amount.clone(),
                r.target_amount.clone(),
                r.completion_percent.clone(),
                r.visits_planned.to_string(),
                r.visits_done.to_string(),
                r.complaints_received.to_string(),
                r.new_customers.to_string(),
                r.journal_rate_percent.clone(),
            ]
        };
        for r in &p.rows {
            x.line(&line(r, r.salesperson_name.clone()), false)?;
        }
        if let Some(total) = &p.total {
            x.line(&line(total, "合计".into()), true)?;
        }
        Ok(())
    };
    workbook(vec![("业务员业绩", Box::new(fill))])
}
