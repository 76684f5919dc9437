//! The masking matrix: a customer with a unique canary in every non-public field, read by every
//! role in every relation through every path — Get, List, history, WatchChanges, export, and then
//! every RPC of every routed service with a request naming the customer, errors included. No
//! canary reaches a caller the policy does not reveal its class to; every canary reaches a caller
//! it does (masking that hides everything fails too).

use std::time::Duration;

use dossier_kit::auth::{Caller, Role};
use dossier_masking::{Access, Relation, access};
use dossier_proto::common::WatchChangesRequest;
use dossier_proto::customer::{self as pb};
use dossier_proto::sensitivity::{Sensitivity, annotation};
use prost::Message;
use prost_reflect::{DynamicMessage, Value};
use tokio_stream::StreamExt;

use crate::helpers::*;

/// A planted value: where, which class, the value.
struct Canary {
    path: &'static str,
    class: Sensitivity,
    value: &'static str,
}

const fn canary(path: &'static str, class: Sensitivity, value: &'static str) -> Canary {
    Canary { path, class, value }
}

use Sensitivity::{Business, Contact, Financial, Internal, Personal, PublicIdentity};

/// Every non-metadata string of the card that takes free text or a unique valid value.
const CANARIES: &[Canary] = &[
    canary("name", PublicIdentity, "金丝雀公司CNRYPUB01"),
    canary("contacts[].name", PublicIdentity, "联系人CNRYPUB02"),
    canary("contacts[].title", PublicIdentity, "采购总监CNRYPUB03"),
    canary("address", Contact, "浙江省杭州市西湖区CNRYCON01路 9 号"),
    canary("phone", Contact, "0571-86420975"),
    canary("email", Contact, "cnrycon03@example.com"),
    canary("contacts[].department", Contact, "采购部CNRYCON04"),
    canary("contacts[].phone", Contact, "13986420531"),
    canary("contacts[].email", Contact, "cnrycon06@example.com"),
    canary("contacts[].hobbies", Personal, "围棋CNRYPER01"),
    canary("contacts[].native_place", Personal, "绍兴CNRYPER02"),
    canary("contacts[].character", Personal, "稳重CNRYPER03"),
    canary(
        "contacts[].home_address",
        Personal,
        "浙江省绍兴市越城区CNRYPER04弄",
    ),
    canary("contacts[].home_phone", Personal, "13575319864"),
    canary(
        "contacts[].relation_to_decision_makers",
        Personal,
        "同学CNRYPER06",
    ),
    canary("industry", Business, "化工CNRYBUS01"),
    canary("business_scope", Business, "涂料CNRYBUS02"),
    canary("sales_situation", Business, "华东经销CNRYBUS03"),
    canary("usage", Business, "月用量CNRYBUS04"),
    canary("competitors[].name", Business, "竞争者CNRYBUS05"),
    canary("supply_sources[].name", Business, "货源CNRYBUS06"),
    canary("bank_name", Financial, "工商银行CNRYFIN01支行"),
    canary("bank_account", Financial, "6222020200112233445"),
    canary("finance.condition", Financial, "良好CNRYFIN03"),
    canary("notes", Internal, "内部备注CNRYINT01"),
];

/// Canaries in a complaint about the customer (附表八): the complainant's phone is personal, the
/// analysis and notes internal, the content business.
const COMPLAINT_CANARIES: &[Canary] = &[
    canary("complaint.complainant_phone", Personal, "13924681357"),
    canary("complaint.content", Business, "到货延迟CNRYBUS07"),
    canary("complaint.notes", Internal, "投诉备注CNRYINT02"),
];

fn canary_customer() -> pb::Customer {
    let value = |path: &str| {
        CANARIES
            .iter()
            .find(|c| c.path == path)
            .map(|c| c.value.to_owned())
            .expect("planted")
    };
    pb::Customer {
        kind: pb::CustomerKind::Company as i32,
        name: value("name"),
        credit_code: credit_code(42),
        address: value("address"),
        phone: value("phone"),
        email: value("email"),
        grade: pb::Grade::A as i32,
        region: "华东/杭州".into(),
        owner_id: OWNER.sub.into(),
        team: OWNER.team.into(),
        industry: value("industry"),
        business_scope: value("business_scope"),
        sales_situation: value("sales_situation"),
        usage: value("usage"),
        bank_name: value("bank_name"),
        bank_account: value("bank_account"),
        notes: value("notes"),
        finance: Some(pb::Finance {
            condition: value("finance.condition"),
            ..Default::default()
        }),
        competitors: vec![pb::Competitor {
            name: value("competitors[].name"),
            ..Default::default()
        }],
        supply_sources: vec![pb::SupplySource {
            name: value("supply_sources[].name"),
            ..Default::default()
        }],
        contacts: vec![pb::Contact {
            name: value("contacts[].name"),
            title: value("contacts[].title"),
            role: pb::ContactRole::DecisionMaker as i32,
            department: value("contacts[].department"),
            phone: value("contacts[].phone"),
            email: value("contacts[].email"),
            hobbies: value("contacts[].hobbies"),
            native_place: value("contacts[].native_place"),
            character: value("contacts[].character"),
            home_address: value("contacts[].home_address"),
            home_phone: value("contacts[].home_phone"),
            relation_to_decision_makers: value("contacts[].relation_to_decision_makers"),
            ..Default::default()
        }],
        ..pb::Customer::default()
    }
}

/// The callers of the matrix and their relation to the canary customer (owned by `rep-a`,
/// team `east`; `rep-d` holds an approved borrow of it).
fn callers() -> Vec<(Who, Relation)> {
    vec![
        (OWNER, Relation::Owner),
        (Who::new(Role::SalesRep, "rep-b", "east"), Relation::Team),
        (Who::new(Role::SalesRep, "rep-c", "north"), Relation::Other),
        (
            Who::new(Role::SalesRep, "rep-d", "north"),
            Relation::Borrower,
        ),
        (
            Who::new(Role::SalesManager, "mgr-east", "east"),
            Relation::Team,
        ),
        (
            Who::new(Role::SalesManager, "mgr-north", "north"),
            Relation::Other,
        ),
        (
            Who::new(Role::CustomerService, "cs-1", "east"),
            Relation::Team,
        ),
        (Who::new(Role::Executive, "exec-1", ""), Relation::Other),
        (Who::new(Role::Finance, "fin-1", ""), Relation::Other),
        (Who::new(Role::Archivist, "arch-1", ""), Relation::Other),
        (AUDITOR, Relation::Other),
        (
            Who {
                role: Role::Integration,
                sub: "erp-1",
                team: "",
                scopes: &["customers.basic"],
            },
            Relation::Other,
        ),
        (
            Who {
                role: Role::Integration,
                sub: "erp-2",
                team: "",
                scopes: &["receivables"],
            },
            Relation::Other,
        ),
    ]
}

fn as_caller(who: &Who) -> Caller {
    Caller {
        sub: who.sub.into(),
        name: who.sub.into(),
        role: who.role,
        team: who.team.into(),
        scopes: who.scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Everything a caller received on one path, as bytes to search.
struct Seen {
    path: String,
    bytes: Vec<u8>,
}

fn seen_status(path: &str, status: &tonic::Status) -> Seen {
    let mut bytes = status.message().as_bytes().to_vec();
    bytes.extend_from_slice(status.details());
    Seen {
        path: format!("{path} (error {:?})", status.code()),
        bytes,
    }
}

/// The cell text of an xlsx export, to search (the file itself is compressed).
fn xlsx_text(content: &[u8]) -> Vec<u8> {
    use calamine::{Reader, Xlsx};
    let Ok(mut workbook) = Xlsx::new(std::io::Cursor::new(content.to_vec())) else {
        return Vec::new();
    };
    let mut text = Vec::new();
    for name in workbook.sheet_names() {
        if let Ok(range) = workbook.worksheet_range(&name) {
            for row in range.rows() {
                for cell in row {
                    text.extend_from_slice(cell.to_string().as_bytes());
                    text.push(b'\t');
                }
            }
        }
    }
    text
}

async fn watch(stack: &Stack, who: &Who) -> Vec<u8> {
    let mut out = Vec::new();
    let stream = stack
        .customers
        .clone()
        .watch_changes(who.req(WatchChangesRequest::default()))
        .await;
    let Ok(stream) = stream else {
        return out;
    };
    let mut stream = stream.into_inner();
    // The events written so far arrive at once; stop at the first quiet moment.
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(Duration::from_millis(400), stream.next()).await
    {
        out.extend(event.encode_to_vec());
    }
    out
}

/// A request for `method` naming the customer in every `customer_ref` field and in `id`.
fn generic_request(method: &prost_reflect::MethodDescriptor, customer_id: &str) -> Vec<u8> {
    let mut request = DynamicMessage::new(method.input());
    for field in method.input().fields() {
        let is_id = field.name() == "id" || annotation(&field).customer_ref;
        if is_id && matches!(field.kind(), prost_reflect::Kind::String) {
            if field.is_list() {
                request.set_field(&field, Value::List(vec![Value::String(customer_id.into())]));
            } else {
                request.set_field(&field, Value::String(customer_id.into()));
            }
        }
    }
    request.encode_to_vec()
}

async fn call_raw(
    stack: &Stack,
    who: &Who,
    method: &prost_reflect::MethodDescriptor,
    body: Vec<u8>,
) -> Seen {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let mut grpc = tonic::client::Grpc::new(stack.raw_channel());
    grpc.ready().await.expect("ready");
    let request = who.req(bytes::Bytes::from(body));
    let path_and_query: http::uri::PathAndQuery = path.parse().expect("path");
    if method.is_server_streaming() {
        match grpc
            .server_streaming(request, path_and_query, dossier_gateway::upstream::RawCodec)
            .await
        {
            Ok(reply) => {
                let mut stream = reply.into_inner();
                let mut bytes = Vec::new();
                while let Ok(Some(Ok(item))) =
                    tokio::time::timeout(Duration::from_millis(300), stream.next()).await
                {
                    bytes.extend_from_slice(&item);
                }
                Seen { path, bytes }
            }
            Err(status) => seen_status(&path, &status),
        }
    } else {
        match grpc
            .unary(request, path_and_query, dossier_gateway::upstream::RawCodec)
            .await
        {
            Ok(reply) => {
                let mut bytes = reply.get_ref().to_vec();
                if let Some(header) = reply.metadata().get(dossier_masking::MASKED_FIELDS_HEADER) {
                    bytes.extend_from_slice(header.as_bytes());
                }
                Seen { path, bytes }
            }
            Err(status) => seen_status(&path, &status),
        }
    }
}

#[tokio::test]
async fn no_canary_reaches_a_caller_who_may_not_see_it_and_every_one_reaches_who_may() {
    let stack = spawn_full_stack().await;
    let planted = create(&stack, canary_customer()).await;
    let id = planted.id.clone();
    for c in CANARIES {
        assert!(
            contains(&planted.encode_to_vec(), c.value),
            "{} stored as planted",
            c.path
        );
    }
    // rep-d borrows the archive, approved by the owner's manager.
    let borrower = callers()
        .into_iter()
        .find(|(w, _)| w.sub == "rep-d")
        .map(|(w, _)| w)
        .expect("borrower");
    let borrow = stack
        .access
        .clone()
        .request_borrow(borrower.req(dossier_proto::gateway::RequestBorrowRequest {
            customer_id: id.clone(),
            purpose: "matrix".into(),
            ..Default::default()
        }))
        .await
        .expect("requested")
        .into_inner();
    stack
        .access
        .clone()
        .approve_borrow(Who::new(Role::SalesManager, "mgr-east", "east").req(
            dossier_proto::gateway::ApproveBorrowRequest {
                id: borrow.id,
                ..Default::default()
            },
        ))
        .await
        .expect("approved");

    // A complaint about it, filed by the service desk through the gateway.
    let complaint_value = |path: &str| {
        COMPLAINT_CANARIES
            .iter()
            .find(|c| c.path == path)
            .map(|c| c.value.to_owned())
            .expect("planted")
    };
    dossier_proto::complaint::complaint_service_client::ComplaintServiceClient::new(
        stack.raw_channel(),
    )
    .file_complaint(Who::new(Role::CustomerService, "cs-1", "east").req(
        dossier_proto::complaint::FileComplaintRequest {
            complaint: Some(dossier_proto::complaint::Complaint {
                customer_id: id.clone(),
                complaint_time: Some(dossier_kit::time::to_timestamp(start_time())),
                complainant: "王建国".into(),
                complainant_phone: complaint_value("complaint.complainant_phone"),
                subject: "交货延迟".into(),
                content: complaint_value("complaint.content"),
                notes: complaint_value("complaint.notes"),
                ..Default::default()
            }),
            request_id: "matrix-complaint".into(),
        },
    ))
    .await
    .expect("complaint filed");

    let mut failures = Vec::new();
    for (who, relation) in callers() {
        let caller = as_caller(&who);
        let visible = |class: Sensitivity| access(&caller, relation, class) == Access::Reveal;
        let mut seen: Vec<Seen> = Vec::new();
        let mut customers = stack.customers.clone();

        // Get: every canary of a revealed class must be there.
        let get = customers
            .get_customer(who.req(pb::GetCustomerRequest { id: id.clone() }))
            .await;
        match get {
            Ok(reply) => {
                let header = masked_header(&reply);
                let bytes = reply.into_inner().encode_to_vec();
                for c in CANARIES.iter().filter(|c| visible(c.class)) {
                    if !contains(&bytes, c.value) {
                        failures.push(format!(
                            "{:?}/{relation:?}: GetCustomer hid {} it may see",
                            who.role, c.path
                        ));
                    }
                }
                if CANARIES.iter().any(|c| !visible(c.class)) && header.is_empty() {
                    failures.push(format!("{:?}/{relation:?}: masked but no header", who.role));
                }
                seen.push(Seen {
                    path: "GetCustomer".into(),
                    bytes,
                });
            }
            Err(status) => seen.push(seen_status("GetCustomer", &status)),
        }
        if let Ok(reply) = customers
            .list_customers(who.req(pb::ListCustomersRequest::default()))
            .await
        {
            seen.push(Seen {
                path: "ListCustomers".into(),
                bytes: reply.into_inner().encode_to_vec(),
            });
        }
        if let Ok(reply) = customers
            .get_customer_history(who.req(pb::GetCustomerHistoryRequest {
                id: id.clone(),
                ..Default::default()
            }))
            .await
        {
            seen.push(Seen {
                path: "GetCustomerHistory".into(),
                bytes: reply.into_inner().encode_to_vec(),
            });
        }
        let watched = watch(&stack, &who).await;
        for c in CANARIES.iter().filter(|c| visible(c.class)) {
            if !contains(&watched, c.value) {
                failures.push(format!(
                    "{:?}/{relation:?}: WatchChanges hid {} it may see",
                    who.role, c.path
                ));
            }
        }
        seen.push(Seen {
            path: "WatchChanges".into(),
            bytes: watched,
        });
        match customers
            .export_customers(who.req(pb::ExportCustomersRequest::default()))
            .await
        {
            Ok(reply) => seen.push(Seen {
                path: "ExportCustomers".into(),
                bytes: xlsx_text(&reply.into_inner().content),
            }),
            Err(status) => seen.push(seen_status("ExportCustomers", &status)),
        }

        for s in &seen {
            for c in CANARIES.iter().filter(|c| !visible(c.class)) {
                if contains(&s.bytes, c.value) {
                    failures.push(format!(
                        "{:?}/{relation:?}: {} leaked {} ({:?})",
                        who.role, s.path, c.path, c.class
                    ));
                }
            }
        }
    }

    // Then every RPC of every routed service, each caller, a request naming the customer.
    let mut complaint_reads = 0;
    let table = dossier_gateway::routing::MethodTable::new(dossier_proto::descriptor_pool());
    let mut methods: Vec<_> = table.all().map(|m| m.descriptor.clone()).collect();
    methods.sort_by_key(|m| m.full_name().to_owned());
    for (who, relation) in callers() {
        let caller = as_caller(&who);
        for method in &methods {
            let seen = call_raw(&stack, &who, method, generic_request(method, &id)).await;
            // A complaint listed for the customer shows the caller every class it may see.
            if method.name() == "ListComplaints" && !seen.path.contains("(error") {
                complaint_reads += 1;
                for c in COMPLAINT_CANARIES
                    .iter()
                    .filter(|c| access(&caller, relation, c.class) == Access::Reveal)
                {
                    if !contains(&seen.bytes, c.value) {
                        failures.push(format!(
                            "{:?}/{relation:?}: ListComplaints hid {} it may see",
                            who.role, c.path
                        ));
                    }
                }
            }
            // What this caller may see of the customer now (a sweep may have archived it, which
            // changes nothing of who sees what).
            for c in CANARIES
                .iter()
                .chain(COMPLAINT_CANARIES)
                .filter(|c| access(&caller, relation, c.class) != Access::Reveal)
            {
                if contains(&seen.bytes, c.value) {
                    failures.push(format!(
                        "{:?}/{relation:?}: {} leaked {}",
                        who.role, seen.path, c.path
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        complaint_reads >= 8,
        "the complaint was read through the gateway by most callers ({complaint_reads})"
    );
}

/// Canaries of a journal `rep-a` (team `east`) wrote about nobody in the archive: what each
/// caller sees of it follows the author relation (author → owner, the author's team → team).
const JOURNAL_CANARIES: &[Canary] = &[
    canary("market_analysis", Business, "JRN-MARKET-CANARY"),
    canary("visits[].talk_content", Business, "JRN-TALK-CANARY"),
    canary("internal_affairs[].matter", Business, "JRN-AFFAIR-CANARY"),
    canary("sign_offs[].comment", Business, "JRN-SUBMIT-CANARY"),
];

#[tokio::test]
async fn a_journal_shows_each_caller_what_its_authors_relation_allows() {
    use dossier_proto::visit::{self as v, visit_service_client::VisitServiceClient};
    let stack = spawn_full_stack().await;
    let value = |path: &str| {
        JOURNAL_CANARIES
            .iter()
            .find(|c| c.path == path)
            .map(|c| c.value.to_owned())
            .expect("planted")
    };
    let mut visits = VisitServiceClient::new(stack.raw_channel());
    let journal = visits
        .create_journal(OWNER.req(v::CreateJournalRequest {
            journal: Some(v::Journal {
                journal_date: "2026-06-15".into(),
                visits: vec![v::JournalVisitEntry {
                    customer_name: "路边五金店".into(),
                    from_time: Some(dossier_kit::time::to_timestamp(
                        start_time() - chrono::Duration::hours(1),
                    )),
                    to_time: Some(dossier_kit::time::to_timestamp(
                        start_time() - chrono::Duration::minutes(50),
                    )),
                    talk_content: value("visits[].talk_content"),
                    ..Default::default()
                }],
                market_analysis: value("market_analysis"),
                internal_affairs: vec![v::InternalAffair {
                    matter: value("internal_affairs[].matter"),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: "matrix-journal".into(),
        }))
        .await
        .expect("the author files it")
        .into_inner();
    visits
        .submit_journal(OWNER.req(v::SubmitJournalRequest {
            id: journal.id.clone(),
            etag: journal.etag.clone(),
            comment: value("sign_offs[].comment"),
        }))
        .await
        .expect("submitted");

    let pool = dossier_proto::descriptor_pool();
    let service = pool
        .get_service_by_name("dossier.visit.v1.VisitService")
        .expect("declared");
    let method = |name: &str| {
        service
            .methods()
            .find(|m| m.name() == name)
            .expect("declared")
    };
    let mut failures = Vec::new();
    let mut reads = 0;
    for (who, _) in callers() {
        let caller = as_caller(&who);
        // Restated here rather than asked of the engine, so a slip there is caught.
        let relation = if who.sub == OWNER.sub {
            Relation::Owner
        } else if who.team == OWNER.team {
            Relation::Team
        } else {
            Relation::Other
        };
        let get = v::GetJournalRequest {
            id: journal.id.clone(),
        };
        let list = v::ListJournalsRequest {
            salesperson_id: OWNER.sub.into(),
            ..Default::default()
        };
        for seen in [
            call_raw(&stack, &who, &method("GetJournal"), get.encode_to_vec()).await,
            call_raw(&stack, &who, &method("ListJournals"), list.encode_to_vec()).await,
        ] {
            let read = !seen.path.contains("(error") && contains(&seen.bytes, &journal.id);
            reads += usize::from(read);
            for c in JOURNAL_CANARIES {
                let may = access(&caller, relation, c.class) == Access::Reveal;
                let shown = contains(&seen.bytes, c.value);
                if shown && !may {
                    failures.push(format!(
                        "{}/{relation:?}: {} leaked {}",
                        who.sub, seen.path, c.path
                    ));
                }
                if read && may && !shown {
                    failures.push(format!(
                        "{}/{relation:?}: {} hid {} it may see",
                        who.sub, seen.path, c.path
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The author, the team's manager and the chain's other readers (executive, finance,
    // archivist, auditor) read it through the gateway.
    assert!(
        reads >= 6,
        "the journal was read by most of its readers ({reads})"
    );
}
