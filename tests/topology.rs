//! The production topology: every service a separate `dossier serve` process with its own
//! database, the gateway in front, and a sales department's story told through the gateway —
//! customers opened, a contract signed and delivered, a visit, a payment, a complaint filed and
//! closed — with masking and the audit trail checked on the way. One service is killed with
//! SIGKILL in the middle: the gateway answers UNAVAILABLE for it and keeps serving the others,
//! and after a restart the story goes on with nothing lost.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use dossier_kit::auth::Role;
use dossier_kit::time::to_timestamp;
use dossier_proto::analytics::analytics_service_client::AnalyticsServiceClient;
use dossier_proto::analytics::{self as analytics};
use dossier_proto::complaint::complaint_service_client::ComplaintServiceClient;
use dossier_proto::complaint::{self as complaint};
use dossier_proto::contract::contract_service_client::ContractServiceClient;
use dossier_proto::contract::{self as contract};
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as customer};
use dossier_proto::gateway::access_service_client::AccessServiceClient;
use dossier_proto::gateway::{self as gateway};
use dossier_proto::visit::visit_service_client::VisitServiceClient;
use dossier_proto::visit::{self as visit};
use dossier_testkit::token;
use support::{ALL, Topology, scrape, with_token};
use tonic::transport::Channel;

/// The people of the story.
struct People {
    archivist: String,
    rep_east: String,
    manager_east: String,
    finance: String,
    desk: String,
    auditor: String,
    general_manager: String,
}

impl People {
    fn new() -> Self {
        Self {
            archivist: token(Role::Archivist, "arch-1", ""),
            rep_east: token(Role::SalesRep, "rep-east", "east"),
            manager_east: token(Role::SalesManager, "mgr-east", "east"),
            finance: token(Role::Finance, "fin-1", "east"),
            desk: token(Role::CustomerService, "desk-1", "east"),
            auditor: token(Role::Auditor, "aud-1", ""),
            general_manager: token(Role::Executive, "gm-1", ""),
        }
    }
}

/// Clients of every service, all through the gateway.
struct Clients {
    customers: CustomerServiceClient<Channel>,
    contracts: ContractServiceClient<Channel>,
    visits: VisitServiceClient<Channel>,
    complaints: ComplaintServiceClient<Channel>,
    analytics: AnalyticsServiceClient<Channel>,
    access: AccessServiceClient<Channel>,
}

impl Clients {
    fn new(channel: Channel) -> Self {
        Self {
            customers: CustomerServiceClient::new(channel.clone()),
            contracts: ContractServiceClient::new(channel.clone()),
            visits: VisitServiceClient::new(channel.clone()),
            complaints: ComplaintServiceClient::new(channel.clone()),
            analytics: AnalyticsServiceClient::new(channel.clone()),
            access: AccessServiceClient::new(channel),
        }
    }
}

fn company(name: &str, owner: &str, team: &str) -> customer::Customer {
    customer::Customer {
        kind: customer::CustomerKind::Company as i32,
        name: name.into(),
        address: "浙江省杭州市西湖区文三路 138 号".into(),
        phone: "0571-88123456".into(),
        grade: customer::Grade::B as i32,
        region: "华东/杭州".into(),
        owner_id: owner.into(),
        team: team.into(),
        ..customer::Customer::default()
    }
}

fn masked_fields<T>(response: &tonic::Response<T>) -> String {
    response
        .metadata()
        .get("dossier-masked-fields")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_sales_story_through_the_gateway_survives_a_killed_service() {
    let started = Instant::now();
    let mut topology = Topology::new(ALL, &["analytics"], &[]).await;
    topology.start_all(ALL);
    let people = People::new();
    let mut c = Clients::new(topology.channel("gateway"));
    let today = Utc::now().date_naive();
    let now = Utc::now();

    // 1. The archivist opens two customers: one of the east rep's, one of another team's.
    let own = c
        .customers
        .create_customer(with_token(
            customer::CreateCustomerRequest {
                customer: Some(company("杭州恒远化工有限公司", "rep-east", "east")),
                request_id: "topology-own".into(),
            },
            &people.archivist,
        ))
        .await
        .expect("own customer created")
        .into_inner();
    let other = c
        .customers
        .create_customer(with_token(
            customer::CreateCustomerRequest {
                customer: Some(company("宁波港联贸易有限公司", "rep-north", "north")),
                request_id: "topology-other".into(),
            },
            &people.archivist,
        ))
        .await
        .expect("other customer created")
        .into_inner();

    // 2. Masking: the east rep sees their own customer's phone, another rep's only partly.
    let read_own = c
        .customers
        .get_customer(with_token(
            customer::GetCustomerRequest { id: own.id.clone() },
            &people.rep_east,
        ))
        .await
        .expect("own customer read");
    assert_eq!(read_own.get_ref().phone, "0571-88123456");
    let read_other = c
        .customers
        .get_customer(with_token(
            customer::GetCustomerRequest {
                id: other.id.clone(),
            },
            &people.rep_east,
        ))
        .await
        .expect("another rep's customer read");
    assert!(
        masked_fields(&read_other).split(',').any(|f| f == "phone"),
        "the phone is listed as masked: {:?}",
        masked_fields(&read_other)
    );
    assert_ne!(read_other.get_ref().phone, "0571-88123456");
    assert_eq!(read_other.get_ref().name, "宁波港联贸易有限公司");

    // 3. The east manager grants credit and signs a contract; the goods are delivered.
    let year = today.year();
    let line = c
        .contracts
        .set_credit_line(with_token(
            contract::SetCreditLineRequest {
                customer_id: own.id.clone(),
                amount: "500000.00".into(),
                valid_from: format!("{year}-01-01"),
                valid_to: format!("{}-12-31", year + 1),
                reason: "年度授信".into(),
                request_id: "topology-credit".into(),
                ..Default::default()
            },
            &people.manager_east,
        ))
        .await
        .expect("credit line requested")
        .into_inner();
    c.contracts
        .approve_credit_line(with_token(
            contract::ApproveCreditLineRequest {
                id: line.id,
                etag: line.etag,
                ..Default::default()
            },
            &people.manager_east,
        ))
        .await
        .expect("credit line approved");
    let signed = (today - chrono::Days::new(3)).to_string();
    let draft = c
        .contracts
        .create_contract(with_token(
            contract::CreateContractRequest {
                contract: Some(contract::Contract {
                    contract_no: "HY-2026-0042".into(),
                    customer_id: own.id.clone(),
                    signed_date: signed.clone(),
                    signer: "王经理".into(),
                    lines: vec![contract::ContractLine {
                        product: "液压油 46#".into(),
                        unit: "桶".into(),
                        quantity: "100".into(),
                        unit_price: "850.00".into(),
                        packing: "200L/桶".into(),
                        ..Default::default()
                    }],
                    valid_from: signed,
                    valid_to: (today + chrono::Days::new(180)).to_string(),
                    ..Default::default()
                }),
                request_id: "topology-contract".into(),
            },
            &people.manager_east,
        ))
        .await
        .expect("contract drafted")
        .into_inner();
    let signed_contract = c
        .contracts
        .activate_contract(with_token(
            contract::ActivateContractRequest {
                id: draft.id.clone(),
                etag: draft.etag,
                r#override: None,
            },
            &people.manager_east,
        ))
        .await
        .expect("contract signed")
        .into_inner();
    let delivery = c
        .contracts
        .record_delivery(with_token(
            contract::RecordDeliveryRequest {
                delivery: Some(contract::Delivery {
                    contract_id: signed_contract.id.clone(),
                    line_no: 1,
                    delivery_date: today.to_string(),
                    quantity: "40".into(),
                    ..Default::default()
                }),
                request_id: "topology-delivery".into(),
                r#override: None,
            },
            &people.manager_east,
        ))
        .await
        .expect("delivery recorded")
        .into_inner();
    assert_eq!(
        delivery.amount.parse::<rust_decimal::Decimal>().ok(),
        "34000".parse().ok()
    );

    // 3b. Analytics has applied the delivery from contract-receivables' feed; then it dies
    //     (SIGKILL) and misses the rest of the story while it is written.
    let month = today.format("%Y-%m").to_string();
    let sales = wait_for_dashboard(&mut c, &people.general_manager, &month, |d| {
        money(&d.sales_amount) == money("34000")
    })
    .await;
    assert_eq!(money(&sales.collected_amount), money("0"));
    topology.kill("analytics");

    // 4. The rep records a visit to the customer.
    let minutes_ago = |m: i64| to_timestamp(now - chrono::Duration::minutes(m));
    let recorded_visit = c
        .visits
        .record_visit(with_token(
            visit::RecordVisitRequest {
                visit: Some(visit::Visit {
                    customer_id: own.id.clone(),
                    sequence: 1,
                    objective: "介绍新品水性切削油".into(),
                    interviewee: "彭广春".into(),
                    interviewee_title: "注塑部主管".into(),
                    topics: "价格与供货周期".into(),
                    outcome: "同意试用".into(),
                    check_in_time: Some(minutes_ago(60)),
                    start_time: Some(minutes_ago(55)),
                    end_time: Some(minutes_ago(10)),
                    check_in_location: Some(visit::GeoLocation {
                        latitude: "30.274085".into(),
                        longitude: "120.155070".into(),
                        coordinate_system: visit::CoordinateSystem::Wgs84 as i32,
                        accuracy_meters: 15,
                        place: "杭州市西湖区文三路 138 号".into(),
                    }),
                    ..Default::default()
                }),
                request_id: "topology-visit".into(),
            },
            &people.rep_east,
        ))
        .await
        .expect("visit recorded")
        .into_inner();

    // 5. Finance records a payment against the receivable.
    c.contracts
        .record_payment(with_token(
            contract::RecordPaymentRequest {
                payment: Some(contract::Payment {
                    customer_id: own.id.clone(),
                    amount: "10000.00".into(),
                    received_date: today.to_string(),
                    method: contract::PaymentMethod::BankTransfer as i32,
                    ..Default::default()
                }),
                request_id: "topology-payment".into(),
            },
            &people.finance,
        ))
        .await
        .expect("payment recorded");

    // 6. Customer service files a complaint.
    let filed = c
        .complaints
        .file_complaint(with_token(
            complaint::FileComplaintRequest {
                complaint: Some(complaint::Complaint {
                    customer_id: own.id.clone(),
                    complaint_time: Some(minutes_ago(5)),
                    complainant: "王建国".into(),
                    complainant_phone: "13812345678".into(),
                    subject: "第三批货晚到".into(),
                    content: "第三批货晚到五天,影响生产".into(),
                    ..Default::default()
                }),
                request_id: "topology-complaint".into(),
            },
            &people.desk,
        ))
        .await
        .expect("complaint filed")
        .into_inner();

    // 7. The complaints service dies (SIGKILL, nothing flushed). The gateway answers
    //    UNAVAILABLE naming it, and keeps serving every other service.
    topology.kill("complaints");
    let down = c
        .complaints
        .get_complaint(with_token(
            complaint::GetComplaintRequest {
                id: filed.id.clone(),
            },
            &people.desk,
        ))
        .await
        .expect_err("complaints is down");
    assert_eq!(down.code(), tonic::Code::Unavailable, "{down:?}");
    assert!(down.message().contains("complaints"), "{down:?}");
    c.customers
        .get_customer(with_token(
            customer::GetCustomerRequest { id: own.id.clone() },
            &people.rep_east,
        ))
        .await
        .expect("customer-profile still served");
    let contract_read = c
        .contracts
        .get_contract(with_token(
            contract::GetContractRequest {
                id: signed_contract.id.clone(),
                version: 0,
            },
            &people.manager_east,
        ))
        .await
        .expect("contract-receivables still served")
        .into_inner();
    assert_eq!(contract_read.contract_no, "HY-2026-0042");
    c.visits
        .get_visit(with_token(
            visit::GetVisitRequest {
                id: recorded_visit.id.clone(),
            },
            &people.rep_east,
        ))
        .await
        .expect("visit-journal still served");

    // 8. It comes back on the same port and database: the complaint filed before the crash is
    //    there, and its life cycle goes on to the end.
    topology.start("complaints");
    let mut current = None;
    for _ in 0..50 {
        match c
            .complaints
            .get_complaint(with_token(
                complaint::GetComplaintRequest {
                    id: filed.id.clone(),
                },
                &people.desk,
            ))
            .await
        {
            Ok(reply) => {
                current = Some(reply.into_inner());
                break;
            }
            // The gateway's channel reconnects with a back-off.
            Err(status) if status.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("complaint read after restart: {status:?}"),
        }
    }
    let complaint = current.expect("complaints is reachable again after its restart");
    assert_eq!(complaint.subject, "第三批货晚到");
    let complaint = c
        .complaints
        .analyze_complaint(with_token(
            complaint::AnalyzeComplaintRequest {
                id: complaint.id.clone(),
                analysis: "物流排期错误".into(),
                etag: complaint.etag.clone(),
            },
            &people.desk,
        ))
        .await
        .expect("analysed")
        .into_inner();
    let complaint = c
        .complaints
        .start_handling(with_token(
            complaint::StartHandlingRequest {
                id: complaint.id.clone(),
                handling_method: "补发并补偿运费".into(),
                handler: "陈静".into(),
                handler_id: "desk-1".into(),
                etag: complaint.etag.clone(),
            },
            &people.desk,
        ))
        .await
        .expect("handling started")
        .into_inner();
    let complaint = c
        .complaints
        .reply_complaint(with_token(
            complaint::ReplyComplaintRequest {
                id: complaint.id.clone(),
                result: "已补发".into(),
                reply: "致歉,已补发并补偿运费".into(),
                etag: complaint.etag.clone(),
                ..Default::default()
            },
            &people.desk,
        ))
        .await
        .expect("replied")
        .into_inner();
    let closed = c
        .complaints
        .close_complaint(with_token(
            complaint::CloseComplaintRequest {
                id: complaint.id.clone(),
                customer_reaction: complaint::CustomerReaction::Satisfied as i32,
                etag: complaint.etag.clone(),
                note: String::new(),
            },
            &people.desk,
        ))
        .await
        .expect("closed")
        .into_inner();
    assert_eq!(closed.state, complaint::ComplaintState::Closed as i32);

    // Nothing written before the crash is lost elsewhere either.
    let payments = c
        .contracts
        .list_payments(with_token(
            contract::ListPaymentsRequest {
                customer_id: own.id.clone(),
                ..Default::default()
            },
            &people.finance,
        ))
        .await
        .expect("payments listed")
        .into_inner();
    assert_eq!(payments.payments.len(), 1);

    // 8b. Analytics comes back on its database and catches up from where it stopped: the
    //     payment and the closed complaint it missed are there, and the delivery it had
    //     applied before it died is counted once (34000.00, not twice that).
    topology.start("analytics");
    let dashboard = wait_for_dashboard(&mut c, &people.general_manager, &month, |d| {
        money(&d.collected_amount) == money("10000") && d.open_complaints == 0
    })
    .await;
    assert_eq!(
        money(&dashboard.sales_amount),
        money("34000"),
        "{dashboard:#?}"
    );
    assert_eq!(
        money(&dashboard.open_receivables),
        money("24000"),
        "{dashboard:#?}"
    );
    // The east team's manager reads the east team's totals in full; the company's totals, or
    // another team's, stand to him as other teams' customers do: the money is masked.
    let team_dashboard = |team: &str| {
        let mut analytics = c.analytics.clone();
        let request = with_token(
            analytics::GetDashboardRequest {
                period: month.clone(),
                team: team.to_owned(),
                ..Default::default()
            },
            &people.manager_east,
        );
        async move {
            let reply = analytics.get_dashboard(request).await.expect("dashboard");
            let masked = reply
                .metadata()
                .get("dossier-masked-fields")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (reply.into_inner(), masked)
        }
    };
    let (east, masked) = team_dashboard("east").await;
    assert_eq!(money(&east.sales_amount), money("34000"), "{east:#?}");
    assert!(!masked.contains("sales_amount"), "{masked}");
    for other in ["", "west"] {
        let (seen, masked) = team_dashboard(other).await;
        assert_eq!(seen.sales_amount, "", "team `{other}`: {seen:#?}");
        assert!(masked.contains("sales_amount"), "team `{other}`: {masked}");
    }
    let lag = c
        .analytics
        .get_feed_lag(with_token(
            analytics::GetFeedLagRequest {},
            &people.general_manager,
        ))
        .await
        .expect("feed lag")
        .into_inner();
    assert_eq!(lag.sources.len(), 4, "{lag:#?}");
    assert!(lag.sources.iter().all(|s| s.connected), "{lag:#?}");
    // The same lag on the Prometheus endpoint of the restarted process, per source it applied.
    let metrics = scrape(topology.metrics_address("analytics")).await;
    for source in [
        "dossier.contract.v1.ContractService",
        "dossier.complaint.v1.ComplaintService",
    ] {
        assert!(
            metrics.contains(&format!("dossier_feed_lag_events{{source=\"{source}\"}} 0")),
            "{metrics}"
        );
    }

    // 9. The audit trail: the auditor finds the east rep's reads, the masked one with its
    //    masked fields, and the chain verifies.
    let events = c
        .access
        .list_audit_events(with_token(
            gateway::ListAuditEventsRequest {
                caller_id: "rep-east".into(),
                method: "/dossier.customer.v1.CustomerService/GetCustomer".into(),
                ..Default::default()
            },
            &people.auditor,
        ))
        .await
        .expect("audit listed")
        .into_inner()
        .events;
    assert_eq!(events.len(), 3, "three reads by the rep: {events:#?}");
    let masked_read = events
        .iter()
        .find(|e| e.customer_ids.contains(&other.id))
        .expect("the read of the other rep's customer is audited");
    assert!(
        masked_read.masked_fields.iter().any(|f| f == "phone"),
        "{masked_read:#?}"
    );
    let verified = c
        .access
        .verify_audit_chain(with_token(
            gateway::VerifyAuditChainRequest::default(),
            &people.auditor,
        ))
        .await
        .expect("chain verified")
        .into_inner();
    assert!(verified.ok, "{verified:#?}");

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the story took {:?} (on PostgreSQL: {})",
        started.elapsed(),
        topology.on_postgres()
    );
}

fn money(text: &str) -> Option<rust_decimal::Decimal> {
    text.parse().ok()
}

/// The dashboard of `month` once `ready` holds (analytics follows the feeds a moment behind).
async fn wait_for_dashboard(
    c: &mut Clients,
    token: &str,
    month: &str,
    ready: impl Fn(&analytics::GetDashboardResponse) -> bool,
) -> analytics::GetDashboardResponse {
    let mut last = None;
    for _ in 0..150 {
        match c
            .analytics
            .get_dashboard(with_token(
                analytics::GetDashboardRequest {
                    period: month.to_owned(),
                    ..Default::default()
                },
                token,
            ))
            .await
        {
            Ok(reply) => {
                let dashboard = reply.into_inner();
                if ready(&dashboard) {
                    return dashboard;
                }
                last = Some(Ok(dashboard));
            }
            // Right after a restart the gateway's channel reconnects with a back-off.
            Err(status) if status.code() == tonic::Code::Unavailable => last = Some(Err(status)),
            Err(status) => panic!("dashboard: {status:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("analytics did not catch up within 15 s; last answer: {last:#?}");
}
