//! Sheet, comparison, composition, classification, key-customer sales, performance and dashboard
//! figures against a small data set computed by hand (ties and empty months included).

use dossier_analytics::store::apply::Source;
use dossier_kit::auth::Role;
use dossier_proto::analytics::{self as pb};

use crate::helpers::*;

/// Four customers, deliveries in March–May 2026, two payments, a contract and a visit plan.
///
/// | customer | grade | region | owner | key | deliveries |
/// |---|---|---|---|---|---|
/// | c1 甲 | A | 华东/上海 | rep-1 east | yes | 04-15 2000 钢材 (paid 05-10), 05-03 5000 钢材 |
/// | c2 乙 | B | 华东/杭州 | rep-1 east | no | 05-10 3000 水泥 |
/// | c3 丙 | A | 华北/北京 | rep-2 north | no | 03-01 400 水泥 (due 03-31), 05-20 1000 钢材 (due 05-25, 400 paid 06-01) |
/// | c4 丁 | C | 华东/上海 | rep-2 north | yes | 05-25 1000 木材 |
pub async fn seed(stack: &Stack) {
    stack
        .write(
            Source::Customers,
            vec![
                customer_event("c1", "甲公司", 1, "华东/上海", "rep-1", "east", true),
                customer_event("c2", "乙公司", 2, "华东/杭州", "rep-1", "east", false),
                customer_event("c3", "丙公司", 1, "华北/北京", "rep-2", "north", false),
                customer_event("c4", "丁公司", 3, "华东/上海", "rep-2", "north", true),
                customer_event("c5", "戊公司", 4, "西南/成都", "rep-3", "west", false),
            ],
        )
        .await;
    stack
        .write(
            Source::Contracts,
            vec![
                contract_event("k1", "c1", "2026-01-01", "12000.00"),
                delivery_event("d5", "c1", "2026-04-15", "钢材", "2000.00", "2026-05-15"),
                delivery_event("d6", "c3", "2026-03-01", "水泥", "400.00", "2026-03-31"),
                delivery_event("d1", "c1", "2026-05-03", "钢材", "5000.00", "2026-06-02"),
                delivery_event("d2", "c2", "2026-05-10", "水泥", "3000.00", "2026-06-09"),
                delivery_event("d3", "c3", "2026-05-20", "钢材", "1000.00", "2026-05-25"),
                delivery_event("d4", "c4", "2026-05-25", "木材", "1000.00", "2026-07-01"),
                payment_event("p1", "c1", "2026-05-10", &[("r-d5", "2000.00")]),
                payment_event("p2", "c3", "2026-06-01", &[("r-d3", "400.00")]),
            ],
        )
        .await;
    stack
        .write(
            Source::Visits,
            vec![plan_event(
                "plan-1",
                "rep-1",
                &[("c1", "2026-05-05", "2026-05-06"), ("c2", "2026-05-20", "")],
            )],
        )
        .await;
}

async fn ready() -> Stack {
    let stack = spawn_stack(true).await;
    seed(&stack).await;
    let store = store_at(&stack.analytics_db.url).await;
    stack.caught_up(&store).await;
    stack
}

fn slices(c: &pb::GetCompositionResponse) -> Vec<(String, String, String, i32, String)> {
    c.slices
        .iter()
        .map(|s| {
            (
                s.key.clone(),
                s.amount.clone(),
                s.share_percent.clone(),
                s.customer_count,
                s.previous_amount.clone(),
            )
        })
        .collect()
}

fn row(k: &str, a: &str, s: &str, n: i32, p: &str) -> (String, String, String, i32, String) {
    (k.into(), a.into(), s.into(), n, p.into())
}

async fn composition(
    stack: &Stack,
    dimension: pb::CompositionDimension,
    top_n: i32,
    team: &str,
) -> pb::GetCompositionResponse {
    stack
        .client()
        .get_composition(manager(pb::GetCompositionRequest {
            dimension: dimension as i32,
            period: "2026-05".into(),
            top_n,
            team: team.into(),
        }))
        .await
        .expect("composition")
        .into_inner()
}

#[tokio::test]
async fn composition_matches_the_hand_computation() {
    let stack = ready().await;
    use pb::CompositionDimension::*;

    let c = composition(&stack, Sales, 0, "").await;
    assert_eq!(
        (c.total_amount.as_str(), c.measure.as_str()),
        ("10000.00", "sales")
    );
    assert_eq!(
        slices(&c),
        vec![
            row("1", "6000.00", "60.00", 2, "2000.00"),
            row("2", "3000.00", "30.00", 1, "0.00"),
            row("3", "1000.00", "10.00", 1, "0.00"),
        ]
    );
    let c = composition(&stack, Sales, 1, "").await;
    assert_eq!(
        slices(&c),
        vec![
            row("1", "6000.00", "60.00", 2, "2000.00"),
            row("other", "4000.00", "40.00", 2, "0.00")
        ]
    );
    let c = composition(&stack, Sales, 0, "north").await;
    assert_eq!(
        slices(&c),
        vec![
            row("1", "1000.00", "50.00", 1, "0.00"),
            row("3", "1000.00", "50.00", 1, "0.00")
        ]
    );
    let c = composition(&stack, Product, 0, "").await;
    assert_eq!(
        slices(&c),
        vec![
            row("钢材", "6000.00", "60.00", 2, "2000.00"),
            row("水泥", "3000.00", "30.00", 1, "0.00"),
            row("木材", "1000.00", "10.00", 1, "0.00"),
        ]
    );
    let c = composition(&stack, Region, 0, "").await;
    assert_eq!(
        slices(&c),
        vec![
            row("华东/上海", "6000.00", "60.00", 2, "2000.00"),
            row("华东/杭州", "3000.00", "30.00", 1, "0.00"),
            row("华北/北京", "1000.00", "10.00", 1, "0.00"),
        ]
    );
    // Open at 05-31: c1 5000, c2 3000, c4 1000 nothing overdue (A); c3 1000 + 400, the 400 due
    // 03-31 is 61 days overdue (C). At 04-30: c1 2000 (A), c3 400 30 days overdue (B).
    let c = composition(&stack, Credit, 0, "").await;
    assert_eq!(c.measure, "open_receivables");
    assert_eq!(
        slices(&c),
        vec![
            row("A", "9000.00", "86.54", 3, "2000.00"),
            row("C", "1400.00", "13.46", 1, "0.00"),
            row("B", "0.00", "0.00", 0, "400.00"),
        ]
    );
    // An empty period: no slices, total zero.
    let empty = stack
        .client()
        .get_composition(manager(pb::GetCompositionRequest {
            dimension: Sales as i32,
            period: "2025-Q1".into(),
            ..Default::default()
        }))
        .await
        .expect("empty composition")
        .into_inner();
    assert_eq!(
        (empty.total_amount.as_str(), empty.slices.len()),
        ("0.00", 0)
    );
    let bad = stack
        .client()
        .get_composition(manager(pb::GetCompositionRequest {
            dimension: 0,
            period: "2026-13".into(),
            ..Default::default()
        }))
        .await
        .expect_err("invalid");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("dimension"), "{}", bad.message());
}

/// An export is masked like the read through the gateway: the east manager's export of the east
/// team's composition carries its amounts; of every team's, it does not (the company's totals
/// stand to him as other teams' customers do).
#[tokio::test]
async fn a_composition_export_shows_a_team_its_own_totals() {
    let stack = ready().await;
    let export = |team: &str| {
        let mut client = stack.client();
        let request = manager(pb::ExportCompositionRequest {
            query: Some(pb::GetCompositionRequest {
                dimension: pb::CompositionDimension::Sales as i32,
                period: "2026-05".into(),
                top_n: 0,
                team: team.into(),
            }),
        });
        async move {
            let content = client
                .export_composition(request)
                .await
                .expect("export")
                .into_inner()
                .content;
            read_xlsx(&content).concat().join("|")
        }
    };
    let east_total = composition(&stack, pb::CompositionDimension::Sales, 0, "east")
        .await
        .total_amount;
    assert!(east_total != "0.00", "the east team sold something");
    // Cells hold numbers: 8000.00 reads back as 8000.
    let whole = east_total.trim_end_matches(".00");
    let own = export("east").await;
    assert!(own.contains(&format!("|{whole}|")), "{whole} in {own}");
    let all = export("").await;
    assert!(
        all.contains("合计") && !all.contains("|10000|") && !all.contains("|6000|"),
        "the company's figures are masked: {all}"
    );
}

#[tokio::test]
async fn classification_ranks_ties_and_flags_key_accounts() {
    let stack = ready().await;
    let mut client = stack.client();
    // c4 (主力) with sales potential scored 4 in its latest month meets two criteria.
    score(&mut client, "c4", "2026-04", &[(24, 1)])
        .await
        .expect("score");
    score(&mut client, "c4", "2026-05", &[(24, 4)])
        .await
        .expect("score");
    // c2 scored 3 for potential but is not 主力: one criterion (and class A anyway).
    let classify = |a: &str, b: &str, key_only: bool| pb::ClassifyCustomersRequest {
        period: "2026-05".into(),
        a_share_percent: a.into(),
        b_share_percent: b.into(),
        key_accounts_only: key_only,
        ..Default::default()
    };
    let c = client
        .classify_customers(manager(classify("", "", false)))
        .await
        .expect("classify")
        .into_inner();
    let got: Vec<(String, i32, String, String, i32, bool)> = c
        .customers
        .iter()
        .map(|k| {
            (
                k.customer_id.clone(),
                k.rank,
                k.share_percent.clone(),
                k.cumulative_share_percent.clone(),
                k.abc_class,
                k.key_account,
            )
        })
        .collect();
    use pb::AbcClass::{A, B, C};
    assert_eq!(
        got,
        vec![
            (
                "c1".into(),
                1,
                "50.00".into(),
                "50.00".into(),
                A as i32,
                true
            ),
            (
                "c2".into(),
                2,
                "30.00".into(),
                "80.00".into(),
                A as i32,
                true
            ),
            (
                "c3".into(),
                3,
                "10.00".into(),
                "90.00".into(),
                B as i32,
                false
            ),
            (
                "c4".into(),
                4,
                "10.00".into(),
                "100.00".into(),
                B as i32,
                true
            ),
        ]
    );
    assert_eq!(
        (
            c.a_count,
            c.b_count,
            c.c_count,
            c.key_account_count,
            c.total_size
        ),
        (2, 2, 0, 3, 4)
    );
    assert_eq!(c.total_sales, "10000.00");
    let criteria = c.customers[3].criteria.expect("criteria");
    assert!(!criteria.customer_value && criteria.market_potential && criteria.strategic_importance);

    let c = client
        .classify_customers(manager(classify("50", "85", false)))
        .await
        .expect("classify")
        .into_inner();
    let classes: Vec<i32> = c.customers.iter().map(|k| k.abc_class).collect();
    assert_eq!(classes, vec![A as i32, B as i32, B as i32, C as i32]);

    let keys = client
        .classify_customers(manager(pb::ClassifyCustomersRequest {
            page_size: 2,
            ..classify("", "", true)
        }))
        .await
        .expect("key accounts")
        .into_inner();
    assert_eq!(keys.total_size, 3);
    assert_eq!(keys.customers.len(), 2);
    assert!(!keys.next_page_token.is_empty());
    let next = client
        .classify_customers(manager(pb::ClassifyCustomersRequest {
            page_size: 2,
            page_token: keys.next_page_token.clone(),
            ..classify("", "", true)
        }))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(
        next.customers
            .iter()
            .map(|k| k.customer_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c4"]
    );
    assert!(next.next_page_token.is_empty());

    let bad = client
        .classify_customers(manager(classify("90", "80", false)))
        .await
        .expect_err("b below a");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().contains("b_share_percent"),
        "{}",
        bad.message()
    );

    // The export carries every row, laid out with the form's columns.
    let export = client
        .export_customer_classification(manager(pb::ExportCustomerClassificationRequest {
            query: Some(classify("", "", false)),
        }))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(export.rows, 4);
    let cells = read_xlsx(&export.content);
    assert!(
        cells.iter().any(|r| r.iter().any(|c| c == "甲公司")),
        "{cells:?}"
    );
}

/// The cells of the first sheet of a workbook, as text.
pub fn read_xlsx(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let name = book.sheet_names().first().cloned().expect("a sheet");
    let range = book.worksheet_range(&name).expect("sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn sheets_and_comparisons_total_and_rank_with_ties_and_empty_months() {
    let stack = ready().await;
    let mut client = stack.client();
    let all: Vec<(i32, i32)> = (1..=25).map(|f| (f, 4)).collect();
    score(&mut client, "c1", "2026-05", &all).await.expect("c1");
    score(
        &mut client,
        "c2",
        "2026-05",
        &[(1, 3), (2, 3), (3, 3), (4, 3)],
    )
    .await
    .expect("c2");
    let card = score(&mut client, "c3", "2026-05", &[(1, 4), (2, 4), (3, 4)])
        .await
        .expect("c3");
    assert_eq!((card.total, card.complete), (12, false));
    assert_eq!(card.group_scores[0].score, 12);
    assert_eq!(card.group_scores[0].max_score, 16);

    let compare = |ids: &[&str], month: &str| pb::CompareSalesForceRequest {
        customer_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        month: month.into(),
    };
    let c = client
        .compare_sales_force(manager(compare(&["c2", "c1", "c3"], "2026-05")))
        .await
        .expect("compare")
        .into_inner();
    let got: Vec<(String, i32, i32, bool)> = c
        .customers
        .iter()
        .map(|k| (k.customer_name.clone(), k.total, k.rank, k.complete))
        .collect();
    assert_eq!(
        got,
        vec![
            ("乙公司".into(), 12, 2, false),
            ("甲公司".into(), 100, 1, true),
            ("丙公司".into(), 12, 2, false),
        ]
    );
    assert_eq!(c.factors.len(), 25);
    // A month nobody was scored in: all zero, all first.
    let empty = client
        .compare_sales_force(manager(compare(&["c1", "c2"], "2026-04")))
        .await
        .expect("empty month")
        .into_inner();
    assert_eq!(
        empty
            .customers
            .iter()
            .map(|k| (k.total, k.rank))
            .collect::<Vec<_>>(),
        vec![(0, 1), (0, 1)]
    );
    let bad = client
        .compare_sales_force(manager(compare(&["c1"], "2026-05")))
        .await
        .expect_err("one customer");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("customer_ids"), "{}", bad.message());

    let sheet = client
        .get_sales_force_sheet(manager(pb::GetSalesForceSheetRequest {
            customer_id: "c2".into(),
            year: 2026,
        }))
        .await
        .expect("sheet")
        .into_inner();
    assert_eq!(sheet.customer_name, "乙公司");
    assert_eq!(sheet.rows.len(), 25);
    assert!(sheet.rows.iter().all(|r| r.cells.len() == 12));
    let totals: Vec<i32> = sheet.month_totals.iter().map(|t| t.total).collect();
    assert_eq!(totals, vec![0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(sheet.month_totals[4].scored_count, 4);
    assert_eq!(sheet.month_totals[4].evaluator, "gm-1");
    assert_eq!(sheet.rows[0].cells[4].score, 3);
    assert_eq!(sheet.rows[4].cells[4].score, 0);
    assert_eq!(sheet.group_rows.len(), 7);
    assert_eq!(sheet.group_rows[0].subtotals[4], 12);
    assert_eq!(sheet.group_rows[6].max_score, 20);
    // Proposals only for months up to today (June 2026), none after.
    assert!(
        sheet
            .proposals
            .iter()
            .all(|p| p.month.as_str() <= "2026-06")
    );
    assert!(
        sheet
            .proposals
            .iter()
            .any(|p| p.month == "2026-06" && p.factor == 19)
    );

    let export = client
        .export_sales_force_sheet(manager(pb::ExportSalesForceSheetRequest {
            query: Some(pb::GetSalesForceSheetRequest {
                customer_id: "c2".into(),
                year: 2026,
            }),
        }))
        .await
        .expect("export")
        .into_inner();
    let cells = read_xlsx(&export.content);
    assert_eq!(cells[0][0], "客户综合销售力分析表");
    let total_row = cells
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("合计"))
        .expect("合计 row");
    assert_eq!(total_row[6], "12");
    // The export is masked like a read: a manager of team east does not see the rank (an
    // internal figure) of c3, a customer of team north; an executive sees every rank.
    let ranks = |role: Role, team: &str| {
        let mut client = stack.client();
        let team = team.to_owned();
        async move {
            let export = client
                .export_sales_force_comparison(as_user(
                    role,
                    "u-1",
                    &team,
                    pb::ExportSalesForceComparisonRequest {
                        query: Some(compare(&["c2", "c1", "c3"], "2026-05")),
                    },
                ))
                .await
                .expect("export comparison")
                .into_inner();
            let cells = read_xlsx(&export.content);
            let row = cells
                .iter()
                .find(|r| r.first().map(String::as_str) == Some("名次"))
                .expect("名次 row");
            row[2..5].to_vec()
        }
    };
    assert_eq!(
        ranks(Role::SalesManager, "east").await,
        vec!["2".to_owned(), "1".to_owned(), String::new()]
    );
    assert_eq!(
        ranks(Role::Executive, "").await,
        vec!["2".to_owned(), "1".to_owned(), "2".to_owned()]
    );
}

#[tokio::test]
async fn key_customer_sales_performance_and_dashboard() {
    let stack = ready().await;
    let mut client = stack.client();
    let k = client
        .get_key_customer_sales(manager(pb::GetKeyCustomerSalesRequest {
            month: "2026-05".into(),
            ..Default::default()
        }))
        .await
        .expect("key sales")
        .into_inner();
    let got: Vec<(String, String, String, String, String, String)> = k
        .rows
        .iter()
        .map(|r| {
            (
                r.customer_id.clone(),
                r.month_amount.clone(),
                r.last_month_amount.clone(),
                r.year_to_date_amount.clone(),
                r.completion_percent.clone(),
                r.collected_amount.clone(),
            )
        })
        .collect();
    let s = |a: &str| a.to_owned();
    assert_eq!(
        got,
        vec![
            (
                s("c1"),
                s("5000.00"),
                s("2000.00"),
                s("7000.00"),
                s("58.33"),
                s("2000.00")
            ),
            (
                s("c3"),
                s("1000.00"),
                s("0.00"),
                s("1400.00"),
                s(""),
                s("0.00")
            ),
            (
                s("c4"),
                s("1000.00"),
                s("0.00"),
                s("1000.00"),
                s(""),
                s("0.00")
            ),
        ]
    );
    assert_eq!(k.rows[0].year_target_amount, "12000.00");
    assert_eq!(k.rows[0].growth_percent, "");
    let total = k.total.expect("total");
    assert_eq!(
        (
            total.month_amount.as_str(),
            total.year_to_date_amount.as_str()
        ),
        ("7000.00", "9400.00")
    );
    assert_eq!(k.total_size, 3);
    let shanghai = client
        .get_key_customer_sales(manager(pb::GetKeyCustomerSalesRequest {
            month: "2026-05".into(),
            region: "华东/".into(),
            ..Default::default()
        }))
        .await
        .expect("by region")
        .into_inner();
    assert_eq!(
        shanghai
            .rows
            .iter()
            .map(|r| r.customer_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c1", "c4"]
    );

    let p = client
        .get_salesperson_performance(manager(pb::GetSalespersonPerformanceRequest {
            period: "2026-05".into(),
            ..Default::default()
        }))
        .await
        .expect("performance")
        .into_inner();
    let got: Vec<(String, String, String, String, i32, i32, i32)> = p
        .rows
        .iter()
        .filter(|r| r.salesperson_id != "rep-3")
        .map(|r| {
            (
                r.salesperson_id.clone(),
                r.sales_amount.clone(),
                r.collected_amount.clone(),
                r.overdue_amount.clone(),
                r.visits_planned,
                r.visits_done,
                r.new_customers,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (s("rep-1"), s("8000.00"), s("2000.00"), s("0.00"), 2, 1, 1),
            (s("rep-2"), s("2000.00"), s("0.00"), s("1400.00"), 0, 0, 1),
        ]
    );
    assert_eq!(p.total.expect("total").sales_amount, "10000.00");

    // An urgent report open, one acknowledged, a daily one; a credit line awaiting approval, a
    // deferral decided.
    use dossier_kit::outbox::NewEvent;
    use dossier_proto::{contract, visit};
    let report = |id: &str, kind: visit::ReportKind, acknowledged: bool| {
        let r = visit::Report {
            id: id.into(),
            kind: kind as i32,
            customer_id: "c1".into(),
            acknowledged,
            ..Default::default()
        };
        NewEvent::new("report.filed", id, Some("c1".into()), "test", &r)
    };
    stack
        .write(
            Source::Visits,
            vec![
                report("u1", visit::ReportKind::Urgent, false),
                report("u2", visit::ReportKind::Urgent, false),
                report("u2", visit::ReportKind::Urgent, true),
                report("r3", visit::ReportKind::Daily, false),
            ],
        )
        .await;
    let line = contract::CreditLine {
        id: "cl1".into(),
        customer_id: "c3".into(),
        state: contract::CreditLineState::Requested as i32,
        ..Default::default()
    };
    let deferral = contract::Deferral {
        id: "df1".into(),
        customer_id: "c3".into(),
        state: contract::DeferralState::Approved as i32,
        ..Default::default()
    };
    stack
        .write(
            Source::Contracts,
            vec![
                NewEvent::new(
                    "credit_line.requested",
                    "cl1",
                    Some("c3".into()),
                    "test",
                    &line,
                ),
                NewEvent::new(
                    "deferral.decided",
                    "df1",
                    Some("c3".into()),
                    "test",
                    &deferral,
                ),
            ],
        )
        .await;
    stack
        .caught_up(&store_at(&stack.analytics_db.url).await)
        .await;
    let dashboard = |team: &str| pb::GetDashboardRequest {
        period: "2026-05".into(),
        team: team.into(),
        ..Default::default()
    };
    let d = client
        .get_dashboard(manager(dashboard("")))
        .await
        .expect("dashboard")
        .into_inner();
    assert_eq!(
        (d.unacknowledged_urgent_reports, d.pending_approvals),
        (1, 1)
    );
    let east = client
        .get_dashboard(manager(dashboard("east")))
        .await
        .expect("dashboard east")
        .into_inner();
    assert_eq!(
        (east.unacknowledged_urgent_reports, east.pending_approvals),
        (1, 0)
    );
    assert_eq!(east.sales_amount, "8000.00");
    assert_eq!(
        (
            d.sales_amount.as_str(),
            d.previous_sales_amount.as_str(),
            d.collected_amount.as_str(),
            d.open_receivables.as_str(),
            d.overdue_amount.as_str(),
        ),
        ("10000.00", "2000.00", "2000.00", "10000.00", "9000.00")
    );
    assert_eq!(
        (
            d.visits_planned,
            d.visits_done,
            d.visit_completion_percent.as_str()
        ),
        (2, 1, "50.00")
    );
    let gainers: Vec<(&str, &str)> = d
        .top_gainers
        .iter()
        .map(|m| (m.customer_id.as_str(), m.change_amount.as_str()))
        .collect();
    assert_eq!(
        gainers,
        vec![
            ("c1", "3000.00"),
            ("c2", "3000.00"),
            ("c3", "1000.00"),
            ("c4", "1000.00")
        ]
    );
    assert_eq!(d.top_gainers[0].change_percent, "150.00");
    assert!(d.top_decliners.is_empty());
    assert!(d.data_as_of_time.is_some());

    let lag = client
        .get_feed_lag(manager(pb::GetFeedLagRequest {}))
        .await
        .expect("lag")
        .into_inner();
    assert_eq!(lag.sources.len(), 4);
    let contracts = lag
        .sources
        .iter()
        .find(|s| s.source == "dossier.contract.v1.ContractService")
        .expect("contracts");
    assert_eq!((contracts.applied_sequence, contracts.lag_events), (11, 0));
    assert!(contracts.connected);
}
