//! Borrowing lifts a salesperson to the full view of one archive from approval until one second
//! before it is due, never by their own approval, and every read under it names the grant.

use chrono::Duration;
use dossier_kit::auth::Role;
use dossier_kit::time::to_timestamp;
use dossier_proto::customer::GetCustomerRequest;
use dossier_proto::gateway::{self as pb, BorrowState};
use tonic::Code;

use crate::helpers::*;

const BORROWER: Who = Who::new(Role::SalesRep, "rep-c", "north");
const EAST_MANAGER: Who = Who::new(Role::SalesManager, "mgr-east", "east");
const NORTH_MANAGER: Who = Who::new(Role::SalesManager, "mgr-north", "north");

async fn phone_seen(stack: &Stack, who: &Who, id: &str) -> bool {
    let customer = stack
        .customers
        .clone()
        .get_customer(who.req(GetCustomerRequest { id: id.into() }))
        .await
        .expect("readable (reduced or full)")
        .into_inner();
    assert_eq!(
        customer.name, "东方化工有限公司",
        "the name is public to every salesperson"
    );
    customer.phone == "0571-88123456"
}

#[tokio::test]
async fn a_borrow_lifts_the_view_only_while_approved_and_not_due() {
    let stack = spawn_stack().await;
    let customer = create(&stack, company("东方化工有限公司", 1, "rep-a", "east")).await;
    let mut access = stack.access.clone();
    assert!(
        !phone_seen(&stack, &BORROWER, &customer.id).await,
        "not theirs"
    );

    let until = start_time() + Duration::days(3);
    let borrow = access
        .request_borrow(BORROWER.req(pb::RequestBorrowRequest {
            customer_id: customer.id.clone(),
            purpose: "准备年度合同谈判".into(),
            until: Some(to_timestamp(until)),
            request_id: "borrow-1".into(),
            notes: String::new(),
        }))
        .await
        .expect("requested")
        .into_inner();
    assert_eq!(borrow.state, BorrowState::Requested as i32);
    assert!(
        !phone_seen(&stack, &BORROWER, &customer.id).await,
        "no approval, no lift"
    );

    // Nobody approves their own borrow; a manager of another team cannot either.
    let own = access
        .approve_borrow(BORROWER.req(pb::ApproveBorrowRequest {
            id: borrow.id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("own approval");
    assert_eq!(own.code(), Code::PermissionDenied);
    let wrong_team = access
        .approve_borrow(NORTH_MANAGER.req(pb::ApproveBorrowRequest {
            id: borrow.id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("other team");
    assert_eq!(wrong_team.code(), Code::PermissionDenied);

    let approved = access
        .approve_borrow(EAST_MANAGER.req(pb::ApproveBorrowRequest {
            id: borrow.id.clone(),
            etag: borrow.etag.clone(),
            comment: "同意".into(),
            until: None,
        }))
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.state, BorrowState::Active as i32);
    assert_eq!(approved.approver_id, "mgr-east");
    assert!(
        phone_seen(&stack, &BORROWER, &customer.id).await,
        "full view under the grant"
    );

    stack.clock.set(until - Duration::seconds(1));
    assert!(
        phone_seen(&stack, &BORROWER, &customer.id).await,
        "one second before due"
    );
    stack.clock.set(until + Duration::seconds(1));
    assert!(
        !phone_seen(&stack, &BORROWER, &customer.id).await,
        "one second after due"
    );

    // Past due and not returned: on the overdue list of the team's manager.
    let overdue = access
        .list_borrows(EAST_MANAGER.req(pb::ListBorrowsRequest {
            overdue: true,
            ..Default::default()
        }))
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(overdue.borrows.len(), 1);
    assert!(overdue.borrows[0].overdue);
    let returned = access
        .return_borrow(BORROWER.req(pb::ReturnBorrowRequest {
            id: borrow.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("returned")
        .into_inner();
    assert_eq!(returned.state, BorrowState::Returned as i32);
    assert!(returned.returned_late);

    // Every read under the grant names it in the audit log.
    let events = access
        .list_audit_events(AUDITOR.req(pb::ListAuditEventsRequest {
            caller_id: "rep-c".into(),
            method: "/dossier.customer.v1.CustomerService/GetCustomer".into(),
            ..Default::default()
        }))
        .await
        .expect("auditor reads")
        .into_inner()
        .events;
    let under_grant: Vec<_> = events.iter().filter(|e| e.grant_id == borrow.id).collect();
    assert_eq!(
        under_grant.len(),
        2,
        "the two reads while the grant was active"
    );
    assert!(
        under_grant
            .iter()
            .all(|e| e.customer_ids == vec![customer.id.clone()])
    );
    assert_eq!(events.len(), 5, "every read of the borrower is audited");
}

#[tokio::test]
async fn a_borrow_request_is_validated_and_idempotent() {
    let stack = spawn_stack().await;
    let customer = create(&stack, company("东方化工有限公司", 2, "rep-a", "east")).await;
    let mut access = stack.access.clone();
    let too_long = access
        .request_borrow(BORROWER.req(pb::RequestBorrowRequest {
            customer_id: customer.id.clone(),
            purpose: "x".into(),
            until: Some(to_timestamp(start_time() + Duration::days(45))),
            ..Default::default()
        }))
        .await
        .expect_err("beyond the maximum");
    assert_eq!(too_long.code(), Code::InvalidArgument);
    assert!(
        too_long.message().contains("until"),
        "{}",
        too_long.message()
    );
    let no_purpose = access
        .request_borrow(BORROWER.req(pb::RequestBorrowRequest {
            customer_id: customer.id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("no purpose");
    assert!(no_purpose.message().contains("purpose"));
    let request = pb::RequestBorrowRequest {
        customer_id: customer.id.clone(),
        purpose: "回访".into(),
        request_id: "same-1".into(),
        ..Default::default()
    };
    let first = access
        .request_borrow(BORROWER.req(request.clone()))
        .await
        .expect("first")
        .into_inner();
    let again = access
        .request_borrow(BORROWER.req(request))
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(
        first.id, again.id,
        "the same request id gives the same borrow"
    );
    assert_eq!(
        first.until.as_ref().map(|t| t.seconds),
        Some((start_time() + Duration::days(14)).timestamp()),
        "14 days by default"
    );
}

/// The AccessService's own replies are masked like any other: a borrow stands to the caller as
/// its borrower and the customer's team do. The borrower and the team's manager read the purpose
/// and notes; the auditor, who may list every borrow, gets them cleared and named in the header
/// (and in the audit event of the listing).
#[tokio::test]
async fn a_borrow_reply_is_masked_by_who_reads_it() {
    let stack = spawn_stack().await;
    let customer = create(&stack, company("东方化工有限公司", 3, "rep-a", "east")).await;
    let mut access = stack.access.clone();
    let requested = access
        .request_borrow(BORROWER.req(pb::RequestBorrowRequest {
            customer_id: customer.id.clone(),
            purpose: "核对去年的对账单".into(),
            until: Some(to_timestamp(start_time() + Duration::days(3))),
            request_id: "borrow-masked-1".into(),
            notes: "急用".into(),
        }))
        .await
        .expect("requested");
    assert_eq!(masked_header(&requested), "", "the borrower's own request");
    let requested = requested.into_inner();
    assert_eq!(requested.purpose, "核对去年的对账单");
    assert_eq!(requested.customer_team, "east");

    let list = |who: &'static Who| {
        let mut access = stack.access.clone();
        async move {
            let reply = access
                .list_borrows(who.req(pb::ListBorrowsRequest::default()))
                .await
                .expect("listed");
            let header = masked_header(&reply);
            (reply.into_inner().borrows, header)
        }
    };
    for who in [&BORROWER, &EAST_MANAGER] {
        let (borrows, header) = list(who).await;
        assert_eq!(borrows.len(), 1, "{:?}", who.sub);
        assert_eq!(borrows[0].purpose, "核对去年的对账单", "{:?}", who.sub);
        assert_eq!(borrows[0].notes, "急用", "{:?}", who.sub);
        assert_eq!(header, "", "{:?}", who.sub);
    }
    let (borrows, header) = list(&AUDITOR).await;
    assert_eq!(borrows.len(), 1);
    assert_eq!(borrows[0].id, requested.id, "the auditor sees the borrow");
    assert_eq!(borrows[0].purpose, "", "but not what it is for");
    assert_eq!(borrows[0].notes, "");
    assert!(
        header.contains("borrows[].purpose") && header.contains("borrows[].notes"),
        "{header}"
    );
    let events = access
        .list_audit_events(AUDITOR.req(pb::ListAuditEventsRequest {
            caller_id: AUDITOR.sub.into(),
            method: "/dossier.gateway.v1.AccessService/ListBorrows".into(),
            ..Default::default()
        }))
        .await
        .expect("audit read")
        .into_inner()
        .events;
    assert!(
        events
            .iter()
            .any(|e| e.masked_fields.contains(&"borrows[].purpose".to_owned())),
        "{events:#?}"
    );
}
