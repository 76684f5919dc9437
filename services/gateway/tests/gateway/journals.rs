//! A salesperson's daily work journal (附表九) through the gateway: it names no customer at its
//! top, so it stands to each caller as its author does (author → owner, the author's team →
//! team). The author files and reads it in full, the team's manager reviews it, the author reads
//! why it was returned, others see the text masked, and nobody writes as someone else.

use chrono::TimeZone;
use dossier_kit::auth::Role;
use dossier_proto::visit::visit_service_client::VisitServiceClient;
use dossier_proto::visit::{self as v};
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::*;

const HEAD: Who = Who::new(Role::SalesManager, "head-east", "east");
const WEST_REP: Who = Who::new(Role::SalesRep, "rep-w", "west");

fn at(hour: u32, minute: u32) -> prost_types::Timestamp {
    let t = chrono::Utc
        .with_ymd_and_hms(2026, 6, 15, hour, minute, 0)
        .single()
        .expect("valid time");
    dossier_kit::time::to_timestamp(t)
}

fn journal_of(author: &str, customer: &str) -> v::Journal {
    v::Journal {
        salesperson_id: author.into(),
        journal_date: "2026-06-15".into(),
        visits: vec![
            v::JournalVisitEntry {
                customer_id: customer.into(),
                person_visited: "彭广春".into(),
                from_time: Some(at(8, 0)),
                to_time: Some(at(8, 45)),
                talk_content: "试用反馈良好".into(),
                result: "下月下单".into(),
                ..Default::default()
            },
            // A walk-in with no archive yet: the row stands as the journal does.
            v::JournalVisitEntry {
                customer_name: "路边五金店".into(),
                from_time: Some(at(9, 0)),
                to_time: Some(at(9, 10)),
                talk_content: "留了样品".into(),
                ..Default::default()
            },
        ],
        market_analysis: "竞品降价 5%".into(),
        product_analysis: "水性切削油走量".into(),
        internal_affairs: vec![v::InternalAffair {
            department: "仓储部".into(),
            matter: "样品发货".into(),
            status: "已完成".into(),
            notes: String::new(),
        }],
        ..Default::default()
    }
}

fn client(stack: &Stack) -> VisitServiceClient<Channel> {
    VisitServiceClient::new(stack.raw_channel())
}

async fn read(stack: &Stack, who: &Who, id: &str) -> (v::Journal, String) {
    let reply = client(stack)
        .get_journal(who.req(v::GetJournalRequest { id: id.into() }))
        .await
        .unwrap_or_else(|e| panic!("{} reads the journal: {e:?}", who.sub));
    let header = masked_header(&reply);
    (reply.into_inner(), header)
}

fn assert_full(journal: &v::Journal) {
    assert_eq!(journal.market_analysis, "竞品降价 5%");
    assert_eq!(journal.product_analysis, "水性切削油走量");
    assert_eq!(journal.visits[0].talk_content, "试用反馈良好");
    assert_eq!(journal.visits[0].result, "下月下单");
    assert_eq!(journal.visits[1].talk_content, "留了样品");
    assert_eq!(journal.internal_affairs[0].matter, "样品发货");
}

#[tokio::test]
async fn a_salesperson_files_their_journal_the_manager_returns_it_and_others_see_it_masked() {
    let stack = spawn_full_stack().await;
    let customer = create(
        &stack,
        company("杭州精工机械有限公司", 41, OWNER.sub, "east"),
    )
    .await;

    // The author files the journal about their own customer and reads back every word.
    let created = client(&stack)
        .create_journal(OWNER.req(v::CreateJournalRequest {
            journal: Some(journal_of(OWNER.sub, &customer.id)),
            request_id: "journal-1".into(),
        }))
        .await
        .expect("the author files their journal");
    assert_eq!(masked_header(&created), "");
    let journal = created.into_inner();
    assert_full(&journal);
    assert_eq!(journal.team, "east");

    let submitted = client(&stack)
        .submit_journal(OWNER.req(v::SubmitJournalRequest {
            id: journal.id.clone(),
            etag: journal.etag.clone(),
            comment: "请审阅".into(),
        }))
        .await
        .expect("the author submits with a comment")
        .into_inner();
    assert_eq!(submitted.state, v::JournalState::Submitted as i32);

    let (mine, header) = read(&stack, &OWNER, &journal.id).await;
    assert_eq!(header, "", "the author's own journal is not masked");
    assert_full(&mine);
    assert_eq!(mine.sign_offs[0].comment, "请审阅");

    // The manager of the author's team reads it in full and returns it with a comment.
    let (reviewed, header) = read(&stack, &HEAD, &journal.id).await;
    assert_eq!(header, "");
    assert_full(&reviewed);
    let returned = client(&stack)
        .review_journal(HEAD.req(v::ReviewJournalRequest {
            id: journal.id.clone(),
            decision: v::ReviewDecision::Return as i32,
            comment: "回款记录不全, 请补充".into(),
            etag: reviewed.etag.clone(),
            supervisor_evaluation: String::new(),
        }))
        .await
        .expect("the team's manager returns it")
        .into_inner();
    assert_eq!(returned.state, v::JournalState::Returned as i32);

    // The author reads why.
    let (mine, header) = read(&stack, &OWNER, &journal.id).await;
    assert_eq!(header, "");
    let last = mine.sign_offs.last().expect("a sign-off");
    assert_eq!(last.decision, v::SignOffDecision::Return as i32);
    assert_eq!(last.comment, "回款记录不全, 请补充");

    // Outside the author's team the salesperson's text is business data: an auditor (who may
    // read every journal) sees it masked, and the header names what was masked.
    let (audited, header) = read(&stack, &AUDITOR, &journal.id).await;
    assert_eq!(audited.id, journal.id);
    assert_eq!(audited.salesperson_id, OWNER.sub);
    assert_eq!(audited.market_analysis, "");
    assert_eq!(audited.product_analysis, "");
    assert_eq!(audited.visits[0].talk_content, "");
    assert_eq!(audited.visits[1].talk_content, "");
    assert_eq!(audited.visits[1].customer_name, "路边五金店");
    assert_eq!(audited.internal_affairs[0].matter, "");
    assert_eq!(
        audited.sign_offs.last().map(|s| s.comment.as_str()),
        Some("")
    );
    for path in [
        "market_analysis",
        "product_analysis",
        "visits[].talk_content",
        "visits[].result",
        "internal_affairs[].matter",
        "sign_offs[].comment",
    ] {
        assert!(
            header.split(',').any(|p| p == path),
            "{path} not in {header}"
        );
    }

    // A salesperson of another team may not read it at all (the service refuses), nor list it.
    let denied = client(&stack)
        .get_journal(WEST_REP.req(v::GetJournalRequest {
            id: journal.id.clone(),
        }))
        .await
        .expect_err("another team's salesperson");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let list = client(&stack)
        .list_journals(WEST_REP.req(v::ListJournalsRequest::default()))
        .await
        .expect("lists")
        .into_inner();
    assert!(list.journals.is_empty());
}

#[tokio::test]
async fn a_salesperson_may_not_write_a_journal_as_someone_else() {
    let stack = spawn_full_stack().await;
    let customer = create(
        &stack,
        company("杭州精工机械有限公司", 42, OWNER.sub, "east"),
    )
    .await;
    // With their own customer in it, and without any customer: refused by the gateway either
    // way, before the service sees it.
    for journal in [
        journal_of("rep-b", &customer.id),
        v::Journal {
            salesperson_id: "rep-b".into(),
            journal_date: "2026-06-15".into(),
            market_analysis: "竞品降价 5%".into(),
            ..Default::default()
        },
    ] {
        let refused = client(&stack)
            .create_journal(OWNER.req(v::CreateJournalRequest {
                journal: Some(journal),
                request_id: format!("as-other-{}", uuid::Uuid::new_v4()),
            }))
            .await
            .expect_err("written as someone else");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert!(
            refused.message().contains("own author"),
            "{}",
            refused.message()
        );
    }
    // Without naming an author the service takes the caller: allowed.
    let mine = v::Journal {
        journal_date: "2026-06-14".into(),
        market_analysis: "竞品降价 5%".into(),
        ..Default::default()
    };
    let created = client(&stack)
        .create_journal(OWNER.req(v::CreateJournalRequest {
            journal: Some(mine),
            request_id: "mine".into(),
        }))
        .await
        .expect("the caller's own journal")
        .into_inner();
    assert_eq!(created.salesperson_id, OWNER.sub);
    assert_eq!(created.market_analysis, "竞品降价 5%");
}

#[tokio::test]
async fn a_manager_still_writes_a_plan_for_one_of_his_salespeople() {
    // A work plan names its salesperson but no team: the gateway cannot place the author in
    // the manager's team, and keeps the manager's write as before (the service decides who
    // may act for whom). The salesperson themselves may not write one as someone else.
    let stack = spawn_full_stack().await;
    let plan = |author: &str| v::WorkPlan {
        salesperson_id: author.into(),
        kind: v::WorkPlanKind::Monthly as i32,
        period: "2026-06".into(),
        focus: vec!["新品进店".into()],
        budget: vec![v::BudgetItem {
            category: "陈列费用".into(),
            amount: "3000".into(),
        }],
        notes: "月底前补人".into(),
        ..Default::default()
    };
    let written = client(&stack)
        .upsert_work_plan(HEAD.req(v::UpsertWorkPlanRequest {
            plan: Some(plan(OWNER.sub)),
            etag: String::new(),
        }))
        .await
        .expect("the manager writes his salesperson's plan")
        .into_inner();
    assert_eq!(written.salesperson_id, OWNER.sub);
    let refused = client(&stack)
        .upsert_work_plan(OWNER.req(v::UpsertWorkPlanRequest {
            plan: Some(v::WorkPlan {
                notes: String::new(),
                ..plan("rep-b")
            }),
            etag: String::new(),
        }))
        .await
        .expect_err("a salesperson writing as another");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("own author"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_salesperson_records_visit_notes_and_reads_them_back() {
    let stack = spawn_full_stack().await;
    let customer = create(
        &stack,
        company("宁波精密注塑有限公司", 42, OWNER.sub, "east"),
    )
    .await;
    let visit = v::Visit {
        customer_id: customer.id.clone(),
        sequence: 1,
        objective: "介绍新品水性切削油".into(),
        interviewee: "彭广春".into(),
        topics: "价格与供货周期".into(),
        outcome: "同意试用".into(),
        notes: "对方采购下月换人".into(),
        check_in_time: Some(at(8, 0)),
        start_time: Some(at(8, 5)),
        end_time: Some(at(8, 50)),
        ..Default::default()
    };
    let recorded = client(&stack)
        .record_visit(OWNER.req(v::RecordVisitRequest {
            visit: Some(visit),
            request_id: "visit-notes-1".into(),
        }))
        .await
        .expect("the salesperson writes their visit notes")
        .into_inner();
    assert_eq!(recorded.notes, "对方采购下月换人");
    let read = client(&stack)
        .get_visit(OWNER.req(v::GetVisitRequest {
            id: recorded.id.clone(),
        }))
        .await
        .expect("reads it back");
    assert_eq!(masked_header(&read), "");
    assert_eq!(read.into_inner().notes, "对方采购下月换人");
    // Another salesperson of the team does not own the customer: the notes never reach them,
    // whether the service answers (masked) or refuses.
    let other = client(&stack)
        .get_visit(
            Who::new(Role::SalesRep, "rep-b", "east").req(v::GetVisitRequest {
                id: recorded.id.clone(),
            }),
        )
        .await;
    match other {
        Ok(other) => {
            assert!(masked_header(&other).contains("notes"));
            assert_eq!(other.into_inner().notes, "");
        }
        Err(refused) => assert!(
            matches!(refused.code(), Code::PermissionDenied | Code::NotFound),
            "{refused:?}"
        ),
    }
}
