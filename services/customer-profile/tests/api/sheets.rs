//! Import from xlsx and CSV, export to xlsx.

use std::io::Cursor;

use calamine::Reader;
use dossier_proto::customer::{self as pb};

use crate::helpers::*;

const HEADER: [&str; 6] = [
    "企业名称",
    "统一社会信用代码",
    "所在地址",
    "电话",
    "客户等级",
    "地区",
];

fn workbook(rows: &[[String; 6]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, title) in HEADER.iter().enumerate() {
        sheet.write_string(0, col as u16, *title).expect("header");
    }
    for (r, row) in rows.iter().enumerate() {
        for (col, value) in row.iter().enumerate() {
            sheet
                .write_string(r as u32 + 1, col as u16, value)
                .expect("cell");
        }
    }
    book.save_to_buffer().expect("xlsx")
}

fn row(n: u32) -> [String; 6] {
    [
        format!("测试客户{n}有限公司"),
        credit_code(n),
        format!("浙江省杭州市西湖区文三路 {n} 号"),
        "0571-88123456".into(),
        "A".into(),
        "华东/杭州".into(),
    ]
}

#[tokio::test]
async fn ten_thousand_rows_with_three_bad_ones_import_all_the_good_ones() {
    let app = spawn_app().await;
    let mut rows: Vec<[String; 6]> = (1..=10_000).map(row).collect();
    rows[9][1].push('X'); // credit code too long: spreadsheet row 11
    rows[4999][3] = "12345".into(); // not a phone: row 5001
    rows[9998][0].clear(); // no name: row 10000
    let reply = app
        .client
        .clone()
        .import_customers(archivist(pb::ImportCustomersRequest {
            content: workbook(&rows),
            file_name: "customers.xlsx".into(),
            ..Default::default()
        }))
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(reply.rows_read, 10_000);
    assert_eq!(reply.created, 9_997);
    let report: Vec<(i32, &str)> = reply
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(
        report,
        vec![(11, "credit_code"), (5001, "phone"), (10000, "name")]
    );
    let listed = app
        .client
        .clone()
        .list_customers(archivist(pb::ListCustomersRequest::default()))
        .await
        .expect("list");
    assert_eq!(listed.into_inner().total_size, 9_997);
}

#[tokio::test]
async fn a_csv_with_chinese_headers_imports_and_refuses_codes_on_file() {
    let app = spawn_app().await;
    let existing = create(&app, "已有客户", 900).await;
    let csv = format!(
        "\u{feff}企业名称,统一社会信用代码,所在地址,客户等级,所有制\n\
         甲贸易有限公司,{},浙江省杭州市上城区 1 号,重要,股份制\n\
         乙贸易有限公司,{},浙江省杭州市上城区 2 号,C,外资\n\
         丙贸易有限公司,{},浙江省杭州市上城区 3 号,Z,其他\n\
         丁贸易有限公司,{},浙江省杭州市上城区 4 号,B,集体\n",
        credit_code(1),
        existing.credit_code,
        credit_code(3),
        credit_code(1),
    );
    let reply = app
        .client
        .clone()
        .import_customers(archivist(pb::ImportCustomersRequest {
            content: csv.into_bytes(),
            format: pb::SheetFormat::Csv as i32,
            ..Default::default()
        }))
        .await
        .expect("imported")
        .into_inner();
    assert_eq!(reply.created, 1);
    let report: Vec<(i32, &str)> = reply
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(
        report,
        vec![(3, "credit_code"), (4, "grade"), (5, "credit_code")]
    );
    let imported = app
        .client
        .clone()
        .list_customers(archivist(pb::ListCustomersRequest {
            query: "甲贸易".into(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner()
        .customers;
    assert_eq!(imported[0].grade, pb::Grade::A as i32);
    assert_eq!(imported[0].ownership, pb::Ownership::JointStock as i32);
}

#[tokio::test]
async fn an_export_is_a_workbook_of_the_filtered_customers() {
    let app = spawn_app().await;
    for n in 1..=3 {
        create(&app, &format!("导出{n}有限公司"), n).await;
    }
    let reply = app
        .client
        .clone()
        .export_customers(archivist(pb::ExportCustomersRequest::default()))
        .await
        .expect("exported")
        .into_inner();
    assert_eq!(reply.rows, 3);
    let mut book = calamine::Xlsx::new(Cursor::new(reply.content)).expect("readable xlsx");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    assert_eq!(range.height(), 4);
    let names: Vec<String> = range.rows().skip(1).map(|r| r[1].to_string()).collect();
    assert_eq!(
        names,
        vec!["导出1有限公司", "导出2有限公司", "导出3有限公司"]
    );
    let status = app
        .client
        .clone()
        .export_customers(as_role(
            dossier_kit::auth::Role::SalesRep,
            pb::ExportCustomersRequest::default(),
        ))
        .await
        .expect_err("bulk output is not for salespeople");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
}
