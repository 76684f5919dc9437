//! Routing: a service that is down is `UNAVAILABLE` by name while the gateway keeps serving, and
//! is reached again once it is back; a salesperson's lists are their own; writes of fields the
//! caller may not see or set change nothing; rate and page-size limits.

use dossier_kit::auth::Role;
use dossier_proto::customer::{self as pb};
use dossier_proto::gateway::WhoAmIRequest;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_service_that_is_down_is_unavailable_by_name_and_recovers() {
    let mut stack = spawn_stack().await;
    let customer = create(&stack, company("路由测试公司", 6, "rep-a", "east")).await;
    stack.stop_profile();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let down = stack
        .customers
        .clone()
        .get_customer(ARCHIVIST.req(pb::GetCustomerRequest {
            id: customer.id.clone(),
        }))
        .await
        .expect_err("customer-profile is down");
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(
        down.message().contains("customer-profile"),
        "{}",
        down.message()
    );
    assert!(
        !down.message().contains("os error"),
        "no transport detail: {}",
        down.message()
    );
    stack
        .access
        .clone()
        .who_am_i(ARCHIVIST.req(WhoAmIRequest {}))
        .await
        .expect("the gateway itself keeps serving");

    stack.restart_profile().await;
    let mut back = None;
    for _ in 0..50 {
        match stack
            .customers
            .clone()
            .get_customer(ARCHIVIST.req(pb::GetCustomerRequest {
                id: customer.id.clone(),
            }))
            .await
        {
            Ok(reply) => {
                back = Some(reply.into_inner());
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert_eq!(back.expect("reached again").id, customer.id);
}

#[tokio::test]
async fn a_salesperson_lists_only_their_own_and_cannot_search_the_archive() {
    let stack = spawn_stack().await;
    create(&stack, company("甲公司", 7, "rep-a", "east")).await;
    create(&stack, company("乙公司", 8, "rep-b", "east")).await;
    create(&stack, company("丙公司", 9, "rep-a", "east")).await;
    let mine = stack
        .customers
        .clone()
        .list_customers(OWNER.req(pb::ListCustomersRequest::default()))
        .await
        .expect("own list")
        .into_inner();
    let mut names: Vec<_> = mine.customers.iter().map(|c| c.name.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["丙公司", "甲公司"]);
    let others = stack
        .customers
        .clone()
        .list_customers(OWNER.req(pb::ListCustomersRequest {
            owner_id: "rep-b".into(),
            ..Default::default()
        }))
        .await
        .expect_err("another's book");
    assert_eq!(others.code(), Code::PermissionDenied);
    let search = stack
        .customers
        .clone()
        .find_duplicates(OWNER.req(pb::FindDuplicatesRequest::default()))
        .await
        .expect_err("no archive-wide search");
    assert_eq!(search.code(), Code::PermissionDenied);
    let manager = Who::new(Role::SalesManager, "mgr-east", "east");
    let all = stack
        .customers
        .clone()
        .list_customers(manager.req(pb::ListCustomersRequest::default()))
        .await
        .expect("a manager lists all")
        .into_inner();
    assert_eq!(all.customers.len(), 3);
}

#[tokio::test]
async fn writes_of_fields_the_caller_may_not_see_or_set_change_nothing() {
    let stack = spawn_stack().await;
    let mine = create(&stack, company("丁公司", 10, "rep-a", "east")).await;
    let theirs = create(&stack, company("戊公司", 11, "rep-b", "east")).await;
    let mut customers = stack.customers.clone();
    let update =
        |customer: &pb::Customer, change: pb::Customer, paths: &[&str]| pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: customer.id.clone(),
                ..change
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            etag: customer.etag.clone(),
        };
    // Internal notes: a salesperson never sees them, so may not write them.
    let notes = customers
        .update_customer(OWNER.req(update(
            &mine,
            pb::Customer {
                notes: "写入内部备注".into(),
                ..Default::default()
            },
            &["notes"],
        )))
        .await
        .expect_err("notes are internal");
    assert_eq!(notes.code(), Code::PermissionDenied);
    assert!(notes.message().contains("notes"), "{}", notes.message());
    // The owner field is not a salesperson's to change.
    let owner = customers
        .update_customer(OWNER.req(update(
            &mine,
            pb::Customer {
                owner_id: "rep-b".into(),
                ..Default::default()
            },
            &["owner_id"],
        )))
        .await
        .expect_err("owner");
    assert_eq!(owner.code(), Code::PermissionDenied);
    // Another's customer: refused, exactly as a customer that does not exist.
    let change = pb::Customer {
        industry: "化工".into(),
        ..Default::default()
    };
    let other = customers
        .update_customer(OWNER.req(update(&theirs, change.clone(), &["industry"])))
        .await
        .expect_err("not theirs");
    let missing = customers
        .update_customer(OWNER.req(update(
            &pb::Customer {
                id: "01900000-0000-7000-8000-000000000000".into(),
                ..Default::default()
            },
            change.clone(),
            &["industry"],
        )))
        .await
        .expect_err("no such customer");
    assert_eq!(other.code(), Code::PermissionDenied);
    assert_eq!(
        (other.code(), other.message()),
        (missing.code(), missing.message())
    );
    // Nothing changed; the owner's own allowed change goes through.
    let still = customers
        .get_customer(ARCHIVIST.req(pb::GetCustomerRequest {
            id: mine.id.clone(),
        }))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(
        (still.owner_id.as_str(), still.notes.as_str()),
        ("rep-a", "")
    );
    let changed = customers
        .update_customer(OWNER.req(update(&mine, change, &["industry"])))
        .await
        .expect("the owner changes a business field")
        .into_inner();
    assert_eq!(changed.industry, "化工");
}

#[tokio::test]
async fn rate_and_page_size_limits() {
    let stack = spawn_stack_with(serde_json::json!({
        "rate_limit_per_second": 0.01, "rate_limit_burst": 3, "max_page_size": 50
    }))
    .await;
    let mut customers = stack.customers.clone();
    let too_big = customers
        .list_customers(as_role(
            Role::Executive,
            pb::ListCustomersRequest {
                page_size: 51,
                ..Default::default()
            },
        ))
        .await
        .expect_err("page too big");
    assert_eq!(too_big.code(), Code::InvalidArgument);
    assert!(too_big.message().contains("page_size"));
    for _ in 0..2 {
        customers
            .list_customers(as_role(
                Role::Executive,
                pb::ListCustomersRequest::default(),
            ))
            .await
            .expect("within the burst");
    }
    let limited = customers
        .list_customers(as_role(
            Role::Executive,
            pb::ListCustomersRequest::default(),
        ))
        .await
        .expect_err("over the rate");
    assert_eq!(limited.code(), Code::ResourceExhausted);
    // Another caller is not affected.
    customers
        .list_customers(as_role(
            Role::Archivist,
            pb::ListCustomersRequest::default(),
        ))
        .await
        .expect("another caller");
}

#[tokio::test]
async fn an_export_is_masked_row_by_row_like_a_read() {
    let stack = spawn_stack().await;
    let mut east = company("东区客户", 12, "rep-a", "east");
    east.phone = "0571-81112222".into();
    let mut north = company("北区客户", 13, "rep-n", "north");
    north.phone = "010-83334444".into();
    create(&stack, east).await;
    create(&stack, north).await;
    let manager = Who::new(Role::SalesManager, "mgr-east", "east");
    let reply = stack
        .customers
        .clone()
        .export_customers(manager.req(pb::ExportCustomersRequest::default()))
        .await
        .expect("a manager exports")
        .into_inner();
    assert_eq!(reply.rows, 2);
    let text = {
        use calamine::{Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(reply.content)).expect("an xlsx");
        let sheet = book.worksheet_range("客户").expect("the sheet");
        sheet
            .rows()
            .flat_map(|row| row.iter().map(|cell| cell.to_string()))
            .collect::<Vec<_>>()
            .join("\t")
    };
    assert!(
        text.contains("0571-81112222"),
        "the team's customer in full"
    );
    assert!(
        !text.contains("010-83334444"),
        "another team's phone is not exported whole"
    );
    assert!(
        text.contains("010****4444"),
        "it is exported in its partial form: {text}"
    );
    assert!(text.contains("北区客户"), "the name is public");
}

/// A stream's headers leave before its first message, so each streamed event says itself what
/// the gateway masked in it: nothing for the caller's own customer, the other rep's customer's
/// phone and contacts' phones for theirs — the same paths a `GetCustomer` header names.
#[tokio::test]
async fn each_streamed_event_names_what_was_masked_in_it() {
    use dossier_proto::common::WatchChangesRequest;
    use futures::StreamExt;

    let stack = spawn_stack().await;
    let own = create(&stack, company("流事件自有公司", 11, "rep-a", "east")).await;
    let theirs = create(&stack, company("流事件他人公司", 12, "rep-b", "west")).await;
    let mut stream = stack
        .customers
        .clone()
        .watch_changes(OWNER.req(WatchChangesRequest::default()))
        .await
        .expect("opens")
        .into_inner();
    let mut by_customer = std::collections::HashMap::new();
    while by_customer.len() < 2 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("an event in time")
            .expect("not the end")
            .expect("not an error");
        by_customer.insert(event.customer_id.clone(), event.masked_fields);
    }
    assert_eq!(by_customer[&own.id], Vec::<String>::new(), "own customer");
    let masked = &by_customer[&theirs.id];
    assert!(
        masked.contains(&"payload.phone".to_owned())
            && masked.contains(&"payload.contacts[].phone".to_owned()),
        "the other rep's customer: {masked:?}"
    );
    let header = stack
        .customers
        .clone()
        .get_customer(OWNER.req(pb::GetCustomerRequest {
            id: theirs.id.clone(),
        }))
        .await
        .expect("reduced view");
    let header = masked_header(&header);
    for path in masked {
        let path = path.strip_prefix("payload.").expect("inside the payload");
        assert!(
            header.split(',').any(|p| p == path),
            "{path} masked in the stream but not named by GetCustomer's header `{header}`"
        );
    }
}
