//! Demo complaints for `dossier demo` and `dossier up --demo`: complaint cards in every state of
//! the life cycle (received, analysed, handling, replied, closed, reopened, overdue and
//! escalated) and a few feedback records, filed through the public API against the demo
//! customers. Each complaint has a fixed request id and is taken only through the steps it has
//! not had yet, so loading twice changes nothing.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use dossier_kit::auth::{Role, TokenRequest};
use dossier_kit::config::Config;
use dossier_kit::time::to_timestamp;
use dossier_proto::complaint::complaint_service_client::ComplaintServiceClient;
use dossier_proto::complaint::{self as pb, CustomerReaction};
use dossier_proto::customer::ListCustomersRequest;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// One step of a demo complaint's path.
#[derive(Clone, Copy)]
enum Step {
    Analyse,
    Handle,
    Reply,
    Close(CustomerReaction),
    Reopen,
    Escalate,
}

/// The demo complaints: subject, content, hours ago, and the path taken.
const PLANS: &[(&str, &str, i64, &[Step])] = &[
    ("交货延迟", "第三批货晚到五天,影响生产排期", 2, &[]),
    (
        "包装破损",
        "到货时外箱破损,部分产品受潮",
        6,
        &[Step::Analyse],
    ),
    (
        "发票错误",
        "发票抬头与合同不符,需重开",
        20,
        &[Step::Analyse, Step::Handle],
    ),
    (
        "质量问题",
        "批次 B-1107 有色差",
        30,
        &[Step::Analyse, Step::Handle, Step::Reply],
    ),
    (
        "服务态度",
        "业务员回复不及时",
        90,
        &[
            Step::Analyse,
            Step::Handle,
            Step::Reply,
            Step::Close(CustomerReaction::Satisfied),
        ],
    ),
    (
        "退货处理",
        "退货款迟迟未到账",
        120,
        &[
            Step::Analyse,
            Step::Handle,
            Step::Reply,
            Step::Close(CustomerReaction::Unsatisfied),
            Step::Reopen,
        ],
    ),
    ("交货延迟", "加急订单未按期送达", 72, &[Step::Escalate]),
    (
        "价格争议",
        "结算单价与报价单不一致",
        200,
        &[
            Step::Analyse,
            Step::Handle,
            Step::Reply,
            Step::Close(CustomerReaction::PartlySatisfied),
        ],
    ),
];

/// Puts the demo user's token on every request.
type AddToken =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;
type Authed = InterceptedService<Channel, AddToken>;

async fn connect(
    endpoint: &str,
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
) -> anyhow::Result<Authed> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .context("endpoint")?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let interceptor: AddToken = Box::new(move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        Ok(request)
    });
    Ok(InterceptedService::new(channel, interceptor))
}

/// Loads the demo complaints through `complaints_endpoint` against customers listed from
/// `customers_endpoint`; returns a one-line summary.
pub async fn load(
    config: &Config,
    customers_endpoint: &str,
    complaints_endpoint: &str,
) -> anyhow::Result<String> {
    let common = config.common().map_err(anyhow::Error::msg)?;
    let desk = TokenRequest {
        sub: "cs-zhaomin".into(),
        name: "赵敏".into(),
        role: Role::CustomerService,
        team: String::new(),
        scopes: vec![],
        ttl: Duration::from_secs(600),
    };
    let archivist = TokenRequest {
        sub: "arch-chenjing".into(),
        name: "陈静".into(),
        role: Role::Archivist,
        ..desk.clone()
    };
    let bearer_of = |who: &TokenRequest| -> anyhow::Result<tonic::metadata::MetadataValue<_>> {
        let token = common
            .auth
            .mint_dev_token(&common.data_dir, who)
            .map_err(anyhow::Error::msg)?;
        format!("Bearer {token}").parse().context("token header")
    };
    let bearer = bearer_of(&desk)?;

    let mut customers =
        CustomerServiceClient::new(connect(customers_endpoint, bearer_of(&archivist)?).await?);
    let listed = customers
        .list_customers(ListCustomersRequest {
            page_size: PLANS.len() as i32,
            ..ListCustomersRequest::default()
        })
        .await
        .context("listing the demo customers")?
        .into_inner()
        .customers;
    anyhow::ensure!(
        !listed.is_empty(),
        "no customers: load the demo customers first"
    );

    let mut client = ComplaintServiceClient::new(connect(complaints_endpoint, bearer).await?);
    let now = Utc::now();
    let (mut filed, mut present) = (0, 0);
    for (index, (subject, content, hours_ago, path)) in PLANS.iter().enumerate() {
        let customer = &listed[index % listed.len()];
        let card = pb::Complaint {
            customer_id: customer.id.clone(),
            // On the hour, so a reload within the same hour files nothing new.
            complaint_time: Some(to_timestamp(
                now - chrono::Duration::hours(*hours_ago)
                    - chrono::Duration::seconds(now.timestamp() % 3600),
            )),
            complainant: customer
                .contacts
                .first()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "客户代表".into()),
            complainant_phone: "13800138000".into(),
            subject: (*subject).into(),
            content: (*content).into(),
            ..pb::Complaint::default()
        };
        let request = pb::FileComplaintRequest {
            complaint: Some(card),
            request_id: format!("demo-complaint-{index}"),
        };
        let mut complaint = match client.file_complaint(request).await {
            Ok(reply) => reply.into_inner(),
            // Loaded by an earlier run at another time: leave it as it is.
            Err(status) if status.code() == Code::AlreadyExists => {
                present += 1;
                continue;
            }
            Err(status) => anyhow::bail!(
                "demo complaint {index}: {}: {}",
                status.code(),
                status.message()
            ),
        };
        // The steps already taken (a reload) are in the history: take only the rest.
        let done = complaint.history.len().saturating_sub(1) + complaint.escalations.len();
        if done == 0 {
            filed += 1;
        } else {
            present += 1;
        }
        for step in path.iter().skip(done) {
            complaint = take(&mut client, &complaint, *step)
                .await
                .with_context(|| format!("demo complaint {index}"))?;
        }
        if index < 3 {
            record_feedback(&mut client, &complaint, index).await?;
        }
    }
    Ok(format!(
        "{} demo complaints in every state ({filed} filed, {present} already there) at {complaints_endpoint}",
        PLANS.len()
    ))
}

async fn take(
    client: &mut ComplaintServiceClient<Authed>,
    c: &pb::Complaint,
    step: Step,
) -> anyhow::Result<pb::Complaint> {
    let (id, etag) = (c.id.clone(), c.etag.clone());
    let reply = match step {
        Step::Analyse => {
            client
                .analyze_complaint(pb::AnalyzeComplaintRequest {
                    id,
                    analysis: "物流排期与生产计划脱节,责任在我方".into(),
                    etag,
                })
                .await
        }
        Step::Handle => {
            client
                .start_handling(pb::StartHandlingRequest {
                    id,
                    handling_method: "补发并承担运费,调整排期".into(),
                    handler: "赵敏".into(),
                    handler_id: "cs-zhaomin".into(),
                    etag,
                })
                .await
        }
        Step::Reply => {
            client
                .reply_complaint(pb::ReplyComplaintRequest {
                    id,
                    result: "已补发,运费由我方承担".into(),
                    reply: "电话致歉并说明补救措施".into(),
                    etag,
                    ..pb::ReplyComplaintRequest::default()
                })
                .await
        }
        Step::Close(reaction) => {
            client
                .close_complaint(pb::CloseComplaintRequest {
                    id,
                    customer_reaction: reaction as i32,
                    etag,
                    note: String::new(),
                })
                .await
        }
        Step::Reopen => {
            client
                .reopen_complaint(pb::ReopenComplaintRequest {
                    id,
                    reason: "客户对退款进度仍不满意".into(),
                    etag,
                })
                .await
        }
        Step::Escalate => {
            client
                .escalate_complaint(pb::EscalateComplaintRequest {
                    id,
                    escalate_to_id: "mgr-zhaolei".into(),
                    reason: "超过回复时限,需经理跟进".into(),
                    etag,
                })
                .await
        }
    };
    reply
        .map(|r| r.into_inner())
        .map_err(|s| anyhow::anyhow!("{}: {}", s.code(), s.message()))
}

async fn record_feedback(
    client: &mut ComplaintServiceClient<Authed>,
    c: &pb::Complaint,
    index: usize,
) -> anyhow::Result<()> {
    let request = pb::RecordFeedbackRequest {
        feedback: Some(pb::Feedback {
            customer_id: c.customer_id.clone(),
            complaint_id: c.id.clone(),
            feedback_time: c.complaint_time,
            content: "客户希望每周通报处理进度".into(),
            follow_up: if index == 0 {
                String::new()
            } else {
                "已安排每周电话通报".into()
            },
            person: c.complainant.clone(),
            ..pb::Feedback::default()
        }),
        request_id: format!("demo-feedback-{index}"),
    };
    match client.record_feedback(request).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) => anyhow::bail!(
            "demo feedback {index}: {}: {}",
            status.code(),
            status.message()
        ),
    }
}
