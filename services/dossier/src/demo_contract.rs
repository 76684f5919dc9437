//! Demo data of contract-and-receivables: credit lines, contracts, deliveries, payments, a
//! return claim and a repayment agreement for the demo customers, dated around today so that
//! statements, aging (every bucket) and the performance sheet have something to show. Loaded
//! through the public API like any other data; customers that already have contracts are
//! skipped, so loading twice changes nothing.

use std::time::Duration;

use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};
use dossier_kit::auth::{Role, TokenRequest};
use dossier_kit::config::Config;
use dossier_proto::contract::contract_service_client::ContractServiceClient;
use dossier_proto::contract::{self as pb};
use dossier_proto::customer::ListCustomersRequest;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use rust_decimal::Decimal;
use tonic::transport::Channel;

/// Customers given contracts.
const CUSTOMERS: usize = 16;

struct Caller {
    token: String,
}

impl Caller {
    fn new(config: &Config, role: Role, sub: &str, name: &str) -> anyhow::Result<Self> {
        let common = config.common().map_err(anyhow::Error::msg)?;
        let token = common
            .auth
            .mint_dev_token(
                &common.data_dir,
                &TokenRequest {
                    sub: sub.into(),
                    name: name.into(),
                    role,
                    team: "east".into(),
                    scopes: vec![],
                    ttl: Duration::from_secs(600),
                },
            )
            .map_err(anyhow::Error::msg)?;
        Ok(Self { token })
    }

    fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {}", self.token).parse()?);
        Ok(request)
    }
}

async fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .context("endpoint")?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))
}

fn day(today: NaiveDate, days_ago: u64) -> String {
    today
        .checked_sub_days(Days::new(days_ago))
        .unwrap_or(today)
        .to_string()
}

/// Loads the contract demo for the first demo customers; returns a one-line summary.
pub async fn load(
    config: &Config,
    customer_endpoint: &str,
    contract_endpoint: &str,
) -> anyhow::Result<String> {
    let archivist = Caller::new(config, Role::Archivist, "arch-chenjing", "陈静")?;
    let manager = Caller::new(config, Role::SalesManager, "mgr-wanglei", "王磊")?;
    let finance = Caller::new(config, Role::Finance, "fin-liuyan", "刘燕")?;
    let mut customers = CustomerServiceClient::new(channel(customer_endpoint).await?);
    let mut client = ContractServiceClient::new(channel(contract_endpoint).await?);
    let listed = customers
        .list_customers(archivist.request(ListCustomersRequest {
            page_size: CUSTOMERS as i32,
            ..Default::default()
        })?)
        .await
        .context("listing the demo customers")?
        .into_inner();
    let today = Utc::now().date_naive();
    let (mut loaded, mut skipped, mut payments) = (0, 0, 0);
    for (i, customer) in listed.customers.iter().enumerate() {
        let existing = client
            .list_contracts(finance.request(pb::ListContractsRequest {
                customer_id: customer.id.clone(),
                page_size: 1,
                ..Default::default()
            })?)
            .await?
            .into_inner();
        if existing.total_size > 0 {
            skipped += 1;
            continue;
        }
        payments += load_customer(
            &mut client,
            &manager,
            &finance,
            &customer.id,
            &customer.owner_id,
            i,
            today,
        )
        .await
        .with_context(|| format!("demo contracts of {}", customer.name))?;
        loaded += 1;
    }
    Ok(format!(
        "contracts for {loaded} demo customers ({skipped} had them already), {payments} payments, at {contract_endpoint}"
    ))
}

#[allow(clippy::too_many_arguments)]
async fn load_customer(
    client: &mut ContractServiceClient<Channel>,
    manager: &Caller,
    finance: &Caller,
    customer_id: &str,
    owner_id: &str,
    i: usize,
    today: NaiveDate,
) -> anyhow::Result<usize> {
    let rid = |what: &str| format!("demo-cr-{customer_id}-{what}");
    let line = client
        .set_credit_line(
            manager.request(pb::SetCreditLineRequest {
                customer_id: customer_id.into(),
                amount: format!("{}.00", 200_000 + i * 20_000),
                valid_from: day(today, 200),
                valid_to: today
                    .checked_add_days(Days::new(365))
                    .unwrap_or(today)
                    .to_string(),
                collateral: vec![pb::Collateral {
                    kind: pb::CollateralKind::Guarantee as i32,
                    description: "法人代表个人连带责任保证".into(),
                    guarantor: "法定代表人".into(),
                    ..Default::default()
                }],
                reason: "年度授信".into(),
                request_id: rid("line"),
            })?,
        )
        .await?
        .into_inner();
    client
        .approve_credit_line(manager.request(pb::ApproveCreditLineRequest {
            id: line.id,
            etag: line.etag,
            comment: "同意".into(),
            ..Default::default()
        })?)
        .await?;
    let terms = if i.is_multiple_of(2) {
        pb::PaymentTerms {
            net_days: 30,
            discount_percent: "2".into(),
            discount_days: 10,
        }
    } else {
        pb::PaymentTerms {
            net_days: 60,
            discount_percent: String::new(),
            discount_days: 0,
        }
    };
    let contract = client
        .create_contract(
            manager.request(pb::CreateContractRequest {
                contract: Some(pb::Contract {
                    contract_no: format!("HT-DEMO-{:03}", i + 1),
                    customer_id: customer_id.into(),
                    signed_date: day(today, 160),
                    signer: "采购部经理".into(),
                    lines: vec![
                        pb::ContractLine {
                            product: "液压油 46#".into(),
                            unit: "桶".into(),
                            quantity: format!("{}", 30 + i),
                            unit_price: "1280.00".into(),
                            packing: "200L/桶".into(),
                            ..Default::default()
                        },
                        pb::ContractLine {
                            product: "齿轮油 220#".into(),
                            unit: "桶".into(),
                            quantity: "20".into(),
                            unit_price: "960.50".into(),
                            packing: "18L/桶".into(),
                            ..Default::default()
                        },
                    ],
                    payment_terms: Some(terms),
                    valid_from: day(today, 160),
                    valid_to: today
                        .checked_add_days(Days::new(200))
                        .unwrap_or(today)
                        .to_string(),
                    salesperson_id: owner_id.into(),
                    ..Default::default()
                }),
                request_id: rid("contract"),
            })?,
        )
        .await?
        .into_inner();
    let contract = client
        .activate_contract(manager.request(pb::ActivateContractRequest {
            id: contract.id,
            etag: contract.etag,
            r#override: Some(pb::OverrideApproval {
                manager_approval: true,
                reason: "演示数据: 经理特批".into(),
                ..Default::default()
            }),
        })?)
        .await?
        .into_inner();
    // Deliveries spread over five months, so that aging fills every bucket.
    let mut deliveries = Vec::new();
    for (n, (days_ago, line_no, quantity)) in [
        (150u64, 1, "5"),
        (120, 2, "6"),
        (95, 1, "5"),
        (70, 1, "4"),
        (40, 2, "5"),
        (15, 1, "6"),
        (3, 1, "2"),
    ]
    .into_iter()
    .enumerate()
    {
        let d = client
            .record_delivery(manager.request(pb::RecordDeliveryRequest {
                delivery: Some(pb::Delivery {
                    contract_id: contract.id.clone(),
                    line_no,
                    delivery_date: day(today, days_ago),
                    quantity: quantity.into(),
                    ..Default::default()
                }),
                request_id: rid(&format!("delivery-{n}")),
                r#override: Some(pb::OverrideApproval {
                    manager_approval: true,
                    reason: "演示数据".into(),
                    ..Default::default()
                }),
            })?)
            .await?
            .into_inner();
        deliveries.push((days_ago, d));
    }
    // A damaged-goods claim for every fifth customer, decided before the money comes in.
    if i.is_multiple_of(5) {
        let (_, d) = &deliveries[deliveries.len() - 2];
        let claim = client
            .file_return_claim(manager.request(pb::FileReturnClaimRequest {
                claim: Some(pb::ReturnClaim {
                    delivery_id: d.id.clone(),
                    kind: pb::ReturnClaimKind::Compensation as i32,
                    amount: "500.00".into(),
                    reason: "到货两桶破损".into(),
                    ..Default::default()
                }),
                request_id: rid("claim"),
            })?)
            .await?
            .into_inner();
        client
            .decide_return_claim(manager.request(pb::DecideReturnClaimRequest {
                id: claim.id,
                decision: pb::Decision::Approve as i32,
                responsibility: Some(pb::ResponsibilityFinding {
                    party: pb::ResponsibleParty::Carrier as i32,
                    cause: "运输途中装卸不当".into(),
                    finding: "承运方负责, 向承运方追偿".into(),
                    ..Default::default()
                }),
                etag: claim.etag,
                ..Default::default()
            })?)
            .await?;
    }
    // Payment behaviour by customer: prompt (with discounts), late, partial, or an overpayment.
    let amount = |d: &pb::Delivery| d.amount.parse::<Decimal>().unwrap_or_default();
    let mut paid = Vec::new();
    match i % 4 {
        0 => {
            for (days_ago, d) in deliveries.iter().filter(|(ago, _)| *ago > 20) {
                let discount = (amount(d) * Decimal::from(2) / Decimal::from(100))
                    .round_dp_with_strategy(
                        2,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    );
                let discounted = amount(d) - discount;
                paid.push((days_ago - 8, discounted));
            }
        }
        1 => {
            let early: Decimal = deliveries
                .iter()
                .filter(|(ago, _)| *ago >= 95)
                .map(|(_, d)| amount(d))
                .sum();
            paid.push((30, early));
        }
        2 => {
            paid.push((100, amount(&deliveries[0].1) / Decimal::from(2)));
        }
        _ => {
            let all: Decimal = deliveries.iter().map(|(_, d)| amount(d)).sum();
            paid.push((2, all + Decimal::from(5000)));
        }
    }
    for (n, (days_ago, sum)) in paid.iter().enumerate() {
        client
            .record_payment(finance.request(pb::RecordPaymentRequest {
                payment: Some(pb::Payment {
                    customer_id: customer_id.into(),
                    amount: sum.round_dp(2).to_string(),
                    received_date: day(today, *days_ago),
                    method: pb::PaymentMethod::BankTransfer as i32,
                    reference: format!("DEMO-{i:03}-{n}"),
                    ..Default::default()
                }),
                request_id: rid(&format!("payment-{n}")),
            })?)
            .await?;
    }
    // A repayment agreement for the slow payers.
    if i % 4 == 2 {
        let open = client
            .list_receivables(finance.request(pb::ListReceivablesRequest {
                customer_id: customer_id.into(),
                state: pb::ReceivableState::Open as i32,
                page_size: 500,
                ..Default::default()
            })?)
            .await?
            .into_inner();
        let debt: Decimal = open.total_open_amount.parse().unwrap_or_default();
        let third = (debt / Decimal::from(3)).round_dp(2);
        if debt > Decimal::ZERO {
            client
                .create_repayment_plan(
                    manager.request(pb::CreateRepaymentPlanRequest {
                        plan: Some(pb::RepaymentPlan {
                            customer_id: customer_id.into(),
                            agreement_no: format!("XY-DEMO-{:03}", i + 1),
                            signed_date: day(today, 10),
                            instalments: [(20u64, third), (50, third), (80, debt - third - third)]
                                .into_iter()
                                .map(|(ahead, amount)| pb::Instalment {
                                    due_date: today
                                        .checked_add_days(Days::new(ahead))
                                        .unwrap_or(today)
                                        .to_string(),
                                    amount: amount.to_string(),
                                    ..Default::default()
                                })
                                .collect(),
                            notes: "分三期还清".into(),
                            ..Default::default()
                        }),
                        request_id: rid("plan"),
                    })?,
                )
                .await?;
        }
    }
    Ok(paid.len())
}
