//! Opening, reading, changing, listing, archiving, merging and reviewing archives.

use dossier_kit::auth::Role;
use dossier_proto::customer::{self as pb};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_wrong_credit_code_check_character_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let mut customer = company("杭州恒远化工有限公司", 1);
    let last = customer.credit_code.pop().expect("code");
    customer
        .credit_code
        .push(if last == '0' { '1' } else { '0' });
    let status = app
        .client
        .clone()
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(customer),
            request_id: "r-1".into(),
        }))
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), vec!["customer.credit_code"]);
    assert!(
        status.message().contains("check character"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn every_bad_field_is_reported_at_once_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut customer = company("", 1);
    customer.phone = "12345".into();
    customer.email = "not-an-email".into();
    customer.postcode = "31000".into();
    customer.founded_date = "2026-13-01".into();
    customer.yearly_sales = "1e6".into();
    let status = app
        .client
        .clone()
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(customer),
            request_id: "r-1".into(),
        }))
        .await
        .expect_err("refused");
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "customer.email",
            "customer.founded_date",
            "customer.phone",
            "customer.postcode",
            "customer.yearly_sales"
        ]
    );
    let list = app
        .client
        .clone()
        .list_customers(archivist(pb::ListCustomersRequest::default()))
        .await
        .expect("list");
    assert_eq!(list.into_inner().total_size, 0);
}

#[tokio::test]
async fn a_valid_company_gets_an_archive_number_and_a_retry_returns_the_same_customer() {
    let app = spawn_app().await;
    let request = pb::CreateCustomerRequest {
        customer: Some(company("杭州恒远化工有限公司", 1)),
        request_id: "req-A".into(),
    };
    let first = app
        .client
        .clone()
        .create_customer(archivist(request.clone()))
        .await
        .expect("created")
        .into_inner();
    assert!(
        first.archive_no.starts_with("KH-2026-"),
        "{}",
        first.archive_no
    );
    assert_eq!(first.contacts.len(), 5);
    assert_eq!(
        first.owner_id, "archivist-1",
        "the owner defaults to the caller"
    );
    let again = app
        .client
        .clone()
        .create_customer(archivist(request))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(again.id, first.id);
    assert_eq!(again.archive_no, first.archive_no);

    let list = app
        .client
        .clone()
        .list_customers(archivist(pb::ListCustomersRequest::default()))
        .await
        .expect("list");
    assert_eq!(list.into_inner().total_size, 1, "one row");
    let events = crate::changes::read_events(&app, 0, 10).await;
    assert_eq!(events.len(), 1, "one outbox event");
    assert_eq!(events[0].event_type, "customer.created");
}

#[tokio::test]
async fn the_same_request_id_with_other_content_is_refused() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    client
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(company("甲公司", 1)),
            request_id: "same".into(),
        }))
        .await
        .expect("created");
    let status = client
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(company("乙公司", 2)),
            request_id: "same".into(),
        }))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(error_info(&status).0, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn a_credit_code_on_file_is_refused_with_the_existing_id() {
    let app = spawn_app().await;
    let existing = create(&app, "杭州恒远化工有限公司", 7).await;
    let status = app
        .client
        .clone()
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(company("恒远化工（杭州）", 7)),
            request_id: "other".into(),
        }))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::AlreadyExists);
    let (reason, metadata) = error_info(&status);
    assert_eq!(reason, "CREDIT_CODE_TAKEN");
    assert_eq!(metadata.get("existing_id"), Some(&existing.id));
}

#[tokio::test]
async fn a_stale_etag_is_aborted_and_history_keeps_every_version() {
    let app = spawn_app().await;
    let created = create(&app, "杭州恒远化工有限公司", 1).await;
    let mut client = app.client.clone();

    let mut change = pb::Customer {
        id: created.id.clone(),
        grade: pb::Grade::A as i32,
        ..pb::Customer::default()
    };
    let updated = client
        .update_customer(archivist(pb::UpdateCustomerRequest {
            customer: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["grade".into()],
            }),
            etag: created.etag.clone(),
        }))
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(updated.grade, pb::Grade::A as i32);
    assert_ne!(updated.etag, created.etag);
    assert_eq!(
        updated.name, created.name,
        "fields outside the mask are kept"
    );

    change.notes = "年度重点客户".into();
    let status = client
        .update_customer(archivist(pb::UpdateCustomerRequest {
            customer: Some(change),
            update_mask: Some(FieldMask {
                paths: vec!["notes".into()],
            }),
            etag: created.etag.clone(),
        }))
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::Aborted);

    let history = client
        .get_customer_history(archivist(pb::GetCustomerHistoryRequest {
            id: created.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("history")
        .into_inner();
    assert_eq!(history.total_size, 2);
    let newest = &history.versions[0];
    assert_eq!(newest.version, 2);
    assert_eq!(newest.kind, pb::ChangeKind::Updated as i32);
    assert_eq!(newest.actor_id, "archivist-1");
    assert_eq!(newest.changed_fields, vec!["grade"]);
    assert_eq!(
        newest.old_values.as_ref().expect("old").grade,
        pb::Grade::B as i32
    );
    assert_eq!(
        newest.new_values.as_ref().expect("new").grade,
        pb::Grade::A as i32
    );
    assert_eq!(history.versions[1].kind, pb::ChangeKind::Created as i32);
}

#[tokio::test]
async fn an_update_may_not_name_managed_fields_or_break_the_card() {
    let app = spawn_app().await;
    let created = create(&app, "杭州恒远化工有限公司", 1).await;
    let mut client = app.client.clone();
    let status = client
        .update_customer(archivist(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id.clone(),
                owner_id: "someone".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["owner_id".into()],
            }),
            etag: String::new(),
        }))
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), vec!["update_mask"]);
    assert!(status.message().contains("ReassignCustomer"));

    // Clearing the address of a company breaks a required field.
    let status = client
        .update_customer(archivist(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["address".into()],
            }),
            etag: String::new(),
        }))
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), vec!["customer.address"]);
    let stored = client
        .get_customer(archivist(pb::GetCustomerRequest { id: created.id }))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(stored.etag, created.etag, "nothing was written");
}

#[tokio::test]
async fn lists_filter_page_and_order() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    for (n, name) in ["甲", "乙", "丙", "丁", "戊", "己", "庚"]
        .iter()
        .enumerate()
    {
        let mut customer = company(&format!("{name}贸易有限公司"), n as u32 + 1);
        customer.grade = if n % 2 == 0 {
            pb::Grade::A as i32
        } else {
            pb::Grade::C as i32
        };
        customer.route_code = "HZ-01".into();
        customer.route_order = 7 - n as i32;
        customer.owner_id = if n < 3 {
            "rep-zhang".into()
        } else {
            "rep-li".into()
        };
        client
            .create_customer(archivist(pb::CreateCustomerRequest {
                customer: Some(customer),
                request_id: format!("r{n}"),
            }))
            .await
            .expect("created");
    }
    let page = |token: String| pb::ListCustomersRequest {
        page_size: 3,
        page_token: token,
        ..Default::default()
    };
    let first = client
        .list_customers(archivist(page(String::new())))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!((first.customers.len(), first.total_size), (3, 7));
    let second = client
        .list_customers(archivist(page(first.next_page_token.clone())))
        .await
        .expect("page 2")
        .into_inner();
    let third = client
        .list_customers(archivist(page(second.next_page_token.clone())))
        .await
        .expect("page 3")
        .into_inner();
    assert_eq!(third.customers.len(), 1);
    assert!(third.next_page_token.is_empty());
    let mut seen: Vec<String> = [first.customers, second.customers, third.customers]
        .concat()
        .into_iter()
        .map(|c| c.archive_no)
        .collect();
    let sorted = {
        let mut s = seen.clone();
        s.sort();
        s
    };
    assert_eq!(seen, sorted, "default order is by archive number");
    seen.dedup();
    assert_eq!(seen.len(), 7, "no customer twice across pages");

    let graded = client
        .list_customers(archivist(pb::ListCustomersRequest {
            grade: pb::Grade::A as i32,
            ..Default::default()
        }))
        .await
        .expect("by grade")
        .into_inner();
    assert_eq!(graded.total_size, 4);
    let owned = client
        .list_customers(archivist(pb::ListCustomersRequest {
            owner_id: "rep-li".into(),
            ..Default::default()
        }))
        .await
        .expect("by owner")
        .into_inner();
    assert_eq!(owned.total_size, 4);
    let route = client
        .list_customers(archivist(pb::ListCustomersRequest {
            order_by: "route".into(),
            ..Default::default()
        }))
        .await
        .expect("by route")
        .into_inner();
    let orders: Vec<i32> = route.customers.iter().map(|c| c.route_order).collect();
    assert_eq!(orders, vec![1, 2, 3, 4, 5, 6, 7]);
    let found = client
        .list_customers(archivist(pb::ListCustomersRequest {
            query: "丙贸易".into(),
            ..Default::default()
        }))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.total_size, 1);

    let status = client
        .list_customers(archivist(pb::ListCustomersRequest {
            order_by: "salary".into(),
            ..Default::default()
        }))
        .await
        .expect_err("bad order");
    assert_eq!(violated_fields(&status), vec!["order_by"]);
    let status = client
        .list_customers(archivist(pb::ListCustomersRequest {
            page_size: 3,
            page_token: first.next_page_token,
            grade: pb::Grade::C as i32,
            ..Default::default()
        }))
        .await
        .expect_err("token of another query");
    assert_eq!(violated_fields(&status), vec!["page_token"]);
}

#[tokio::test]
async fn archiving_is_soft() {
    let app = spawn_app().await;
    let created = create(&app, "杭州恒远化工有限公司", 1).await;
    let mut client = app.client.clone();
    let status = client
        .archive_customer(as_role(
            Role::SalesRep,
            pb::ArchiveCustomerRequest {
                id: created.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("a salesperson may not archive");
    assert_eq!(status.code(), Code::PermissionDenied);
    let archived = client
        .archive_customer(archivist(pb::ArchiveCustomerRequest {
            id: created.id.clone(),
            etag: created.etag.clone(),
            reason: "停业".into(),
        }))
        .await
        .expect("archived")
        .into_inner();
    assert_eq!(archived.state, pb::CustomerState::Archived as i32);
    let read = client
        .get_customer(archivist(pb::GetCustomerRequest {
            id: created.id.clone(),
        }))
        .await
        .expect("still readable");
    assert_eq!(read.into_inner().name, created.name);
    let listed = client
        .list_customers(archivist(pb::ListCustomersRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total_size, 0);
    let all = client
        .list_customers(archivist(pb::ListCustomersRequest {
            include_archived: true,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.total_size, 1);
    let status = client
        .update_customer(archivist(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id,
                notes: "x".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["notes".into()],
            }),
            etag: String::new(),
        }))
        .await
        .expect_err("archived cards do not change");
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn duplicates_are_found_and_merged_keeping_history_and_documents() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let survivor = create(&app, "上海华通机电有限公司", 1).await;
    let mut twin = company("上海 华通机电股份有限公司", 2);
    twin.industry = "机电".into();
    twin.credit_code.clear();
    let twin = client
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(twin),
            request_id: "twin".into(),
        }))
        .await
        .expect("created")
        .into_inner();
    crate::catalogue::add_text_document(&app, &twin.id, "营业执照").await;

    let candidates = client
        .find_duplicates(archivist(pb::FindDuplicatesRequest {
            customer: Some(pb::Customer {
                name: "上海华通机电".into(),
                ..Default::default()
            }),
        }))
        .await
        .expect("duplicates")
        .into_inner()
        .candidates;
    assert_eq!(candidates.len(), 2);
    let by_code = client
        .find_duplicates(archivist(pb::FindDuplicatesRequest {
            customer: Some(pb::Customer {
                id: survivor.id.clone(),
                credit_code: survivor.credit_code.clone(),
                ..Default::default()
            }),
        }))
        .await
        .expect("duplicates")
        .into_inner()
        .candidates;
    assert!(by_code.is_empty(), "a card is not its own duplicate");

    let status = client
        .merge_customers(as_role(
            Role::SalesRep,
            pb::MergeCustomersRequest {
                survivor_id: survivor.id.clone(),
                merged_id: twin.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not for salespeople");
    assert_eq!(status.code(), Code::PermissionDenied);
    let merged = client
        .merge_customers(archivist(pb::MergeCustomersRequest {
            survivor_id: survivor.id.clone(),
            merged_id: twin.id.clone(),
            survivor_etag: survivor.etag.clone(),
        }))
        .await
        .expect("merged")
        .into_inner();
    assert_eq!(merged.industry, "机电", "the survivor fills its gaps");
    assert_eq!(
        merged.name, survivor.name,
        "the survivor keeps its own values"
    );

    let gone = client
        .get_customer(archivist(pb::GetCustomerRequest {
            id: twin.id.clone(),
        }))
        .await
        .expect("kept")
        .into_inner();
    assert_eq!(gone.state, pb::CustomerState::Merged as i32);
    assert_eq!(gone.merged_into_id, survivor.id);
    let gone_history = client
        .get_customer_history(archivist(pb::GetCustomerHistoryRequest {
            id: twin.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("history kept")
        .into_inner();
    assert_eq!(
        gone_history.versions[0].kind,
        pb::ChangeKind::MergedAway as i32
    );
    assert_eq!(gone_history.total_size, 2);

    let documents = client
        .list_documents(archivist(pb::ListDocumentsRequest {
            customer_id: survivor.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("documents")
        .into_inner()
        .documents;
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].merged_from_archive_no, twin.archive_no);
    assert_eq!(documents[0].catalogue_no, "1-001");
}

#[tokio::test]
async fn completeness_names_the_empty_card_fields() {
    let app = spawn_app().await;
    let created = create(&app, "杭州恒远化工有限公司", 1).await;
    let report = app
        .client
        .clone()
        .get_completeness(archivist(pb::GetCompletenessRequest { id: created.id }))
        .await
        .expect("report")
        .into_inner();
    assert_eq!(report.required_count, 22);
    assert!(report.missing_fields.contains(&"postcode".to_owned()));
    assert!(!report.missing_fields.contains(&"credit_code".to_owned()));
    assert!(
        !report
            .missing_fields
            .contains(&"contacts.decision_maker".to_owned())
    );
    assert_eq!(
        report.score,
        (22 - report.missing_fields.len() as i32) * 100 / 22
    );
}

#[tokio::test]
async fn reviews_fall_due_after_sixty_days_and_are_listed() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let first = create(&app, "甲公司", 1).await;
    let second = create(&app, "乙公司", 2).await;
    let due =
        |client: &mut dossier_proto::customer::customer_service_client::CustomerServiceClient<
            _,
        >| {
            let request = archivist(pb::ListReviewsDueRequest::default());
            let mut client = client.clone();
            async move {
                client
                    .list_reviews_due(request)
                    .await
                    .expect("due")
                    .into_inner()
            }
        };
    assert_eq!(due(&mut client).await.total_size, 0);
    app.clock.advance(chrono::Duration::days(60));
    assert_eq!(due(&mut client).await.total_size, 2);
    let reviewed = client
        .mark_reviewed(archivist(pb::MarkReviewedRequest {
            id: first.id.clone(),
            note: "资料已核实".into(),
        }))
        .await
        .expect("reviewed")
        .into_inner();
    let next = reviewed.review_due_at.expect("due").seconds;
    assert_eq!(next - app.clock_now_seconds(), 60 * 86_400);
    let still_due = due(&mut client).await;
    assert_eq!(still_due.total_size, 1);
    assert_eq!(still_due.customers[0].id, second.id);
    let overdue = client
        .list_customers(archivist(pb::ListCustomersRequest {
            review_overdue: true,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(overdue.total_size, 1);
}

#[tokio::test]
async fn reassigning_needs_a_manager_and_is_recorded() {
    let app = spawn_app().await;
    let created = create(&app, "杭州恒远化工有限公司", 1).await;
    let mut client = app.client.clone();
    let request = pb::ReassignCustomerRequest {
        id: created.id.clone(),
        owner_id: "rep-li".into(),
        team: "north".into(),
        ..Default::default()
    };
    let status = client
        .reassign_customer(as_role(Role::SalesRep, request.clone()))
        .await
        .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    let moved = client
        .reassign_customer(as_role(Role::SalesManager, request))
        .await
        .expect("moved")
        .into_inner();
    assert_eq!(
        (moved.owner_id.as_str(), moved.team.as_str()),
        ("rep-li", "north")
    );
    let history = client
        .get_customer_history(archivist(pb::GetCustomerHistoryRequest {
            id: created.id,
            ..Default::default()
        }))
        .await
        .expect("history")
        .into_inner();
    assert_eq!(history.versions[0].kind, pb::ChangeKind::Reassigned as i32);
    assert_eq!(history.versions[0].changed_fields, vec!["owner_id", "team"]);
}

#[tokio::test]
async fn callers_need_a_valid_token_and_a_role_that_may_write() {
    let app = spawn_app().await;
    let status = app
        .client
        .clone()
        .list_customers(tonic::Request::new(pb::ListCustomersRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = app
        .client
        .clone()
        .list_customers(dossier_testkit::with_token(
            pb::ListCustomersRequest::default(),
            "not.a.token",
        ))
        .await
        .expect_err("bad token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = app
        .client
        .clone()
        .create_customer(as_role(
            Role::Auditor,
            pb::CreateCustomerRequest {
                customer: Some(company("甲", 1)),
                request_id: "a".into(),
            },
        ))
        .await
        .expect_err("auditors read only");
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn an_unknown_customer_is_not_found() {
    let app = spawn_app().await;
    let status = app
        .client
        .clone()
        .get_customer(archivist(pb::GetCustomerRequest { id: "nope".into() }))
        .await
        .expect_err("missing");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_service() {
    let app = spawn_app().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "dossier.customer.v1.CustomerService".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection
        .server_reflection_info(futures::stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let reply = replies.message().await.expect("reply").expect("one reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reply")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"dossier.customer.v1.CustomerService".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn concurrent_retries_of_one_create_open_one_archive() {
    let app = spawn_app().await;
    let request = pb::CreateCustomerRequest {
        customer: Some(company("杭州恒远化工有限公司", 1)),
        request_id: "flaky-network".into(),
    };
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let mut client = app.client.clone();
            let request = request.clone();
            tokio::spawn(async move { client.create_customer(archivist(request)).await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for call in calls {
        ids.insert(
            call.await
                .expect("joined")
                .expect("every retry answers")
                .into_inner()
                .id,
        );
    }
    assert_eq!(ids.len(), 1, "all retries name the same customer");
    let list = app
        .client
        .clone()
        .list_customers(archivist(pb::ListCustomersRequest::default()))
        .await
        .expect("list");
    assert_eq!(list.into_inner().total_size, 1);
    assert_eq!(crate::changes::read_events(&app, 0, 10).await.len(), 1);
}
