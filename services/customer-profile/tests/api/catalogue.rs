//! The archive catalogue and yearly volumes.

use dossier_kit::auth::Role;
use dossier_proto::customer::{self as pb};
use tonic::Code;

use crate::helpers::*;

/// Files a small text document in category 1 and returns it.
pub async fn add_text_document(app: &TestApp, customer_id: &str, title: &str) -> pb::Document {
    app.client
        .clone()
        .add_document(archivist(pb::AddDocumentRequest {
            document: Some(pb::Document {
                customer_id: customer_id.into(),
                category: pb::DocumentCategory::Basic as i32,
                title: title.into(),
                kind: "business_licence".into(),
                content_type: "text/plain".into(),
                file_name: "licence.txt".into(),
                ..Default::default()
            }),
            content: format!("{title} 扫描件").into_bytes(),
            request_id: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .expect("filed")
        .into_inner()
}

fn pdf_request(customer_id: &str, date: &str, request_id: &str) -> pb::AddDocumentRequest {
    pb::AddDocumentRequest {
        document: Some(pb::Document {
            customer_id: customer_id.into(),
            category: pb::DocumentCategory::Basic as i32,
            title: "税务登记证".into(),
            kind: "tax_registration".into(),
            document_date: date.into(),
            original: true,
            content_type: "application/pdf".into(),
            file_name: "tax.pdf".into(),
            ..Default::default()
        }),
        content: b"%PDF-1.7 scanned".to_vec(),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn documents_are_numbered_per_category_and_kept_with_their_content() {
    let app = spawn_app().await;
    let customer = create(&app, "杭州恒远化工有限公司", 1).await;
    let first = add_text_document(&app, &customer.id, "营业执照").await;
    let mut client = app.client.clone();
    let second = client
        .add_document(archivist(pdf_request(&customer.id, "2026-03-01", "pdf-1")))
        .await
        .expect("filed")
        .into_inner();
    let retried = client
        .add_document(archivist(pdf_request(&customer.id, "2026-03-01", "pdf-1")))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        (first.catalogue_no.as_str(), second.catalogue_no.as_str()),
        ("1-001", "1-002")
    );
    assert_eq!(retried.id, second.id, "a retry files once");
    assert!(second.original);
    assert_eq!(second.size_bytes, 16);

    let read = client
        .get_document(archivist(pb::GetDocumentRequest {
            id: second.id.clone(),
            include_content: true,
        }))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.content, b"%PDF-1.7 scanned");
    let list = client
        .list_documents(archivist(pb::ListDocumentsRequest {
            customer_id: customer.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.total_size, 2);
}

#[tokio::test]
async fn content_that_is_not_what_it_claims_or_too_large_is_refused() {
    let app = spawn_app().await;
    let customer = create(&app, "杭州恒远化工有限公司", 1).await;
    let mut client = app.client.clone();
    let mut request = pdf_request(&customer.id, "", "x-1");
    request.content = b"MZ\x90\x00 executable".to_vec();
    let status = client
        .add_document(archivist(request))
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), vec!["content"]);

    let mut request = pdf_request(&customer.id, "", "x-2");
    request.content = [b"%PDF-".as_slice(), &vec![b'a'; 5000]].concat();
    let status = client
        .add_document(archivist(request))
        .await
        .expect_err("too large");
    assert_eq!(violated_fields(&status), vec!["content"]);
    assert!(status.message().contains("4096"));

    let mut request = pdf_request(&customer.id, "", "x-3");
    if let Some(document) = request.document.as_mut() {
        document.category = 0;
        document.title.clear();
    }
    let status = client
        .add_document(archivist(request))
        .await
        .expect_err("incomplete");
    assert_eq!(
        violated_fields(&status),
        vec!["document.category", "document.title"]
    );
}

#[tokio::test]
async fn a_closed_year_is_an_immutable_volume() {
    let app = spawn_app().await;
    let customer = create(&app, "杭州恒远化工有限公司", 1).await;
    let mut client = app.client.clone();
    client
        .add_document(archivist(pdf_request(&customer.id, "2025-05-20", "old-1")))
        .await
        .expect("filed");
    client
        .add_document(archivist(pdf_request(&customer.id, "2026-02-01", "new-1")))
        .await
        .expect("filed");

    let status = client
        .close_year(as_role(
            Role::SalesManager,
            pb::CloseYearRequest {
                id: customer.id.clone(),
                year: 2025,
            },
        ))
        .await
        .expect_err("only custodians and executives");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .close_year(archivist(pb::CloseYearRequest {
            id: customer.id.clone(),
            year: 2027,
        }))
        .await
        .expect_err("future");
    assert_eq!(violated_fields(&status), vec!["year"]);

    let volume = client
        .close_year(archivist(pb::CloseYearRequest {
            id: customer.id.clone(),
            year: 2025,
        }))
        .await
        .expect("closed")
        .into_inner();
    assert_eq!(volume.volume_no, format!("{}/2025", customer.archive_no));
    assert_eq!(volume.entries.len(), 1, "only the documents of 2025");
    assert_eq!(volume.digest.len(), 64);
    assert_eq!(volume.card.as_ref().expect("card").name, customer.name);

    let status = client
        .add_document(archivist(pdf_request(&customer.id, "2025-12-31", "late-1")))
        .await
        .expect_err("the year is closed");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&status).0, "YEAR_CLOSED");
    let status = client
        .close_year(archivist(pb::CloseYearRequest {
            id: customer.id.clone(),
            year: 2025,
        }))
        .await
        .expect_err("already closed");
    assert_eq!(status.code(), Code::AlreadyExists);

    let volumes = client
        .list_volumes(archivist(pb::ListVolumesRequest {
            customer_id: customer.id.clone(),
        }))
        .await
        .expect("volumes")
        .into_inner()
        .volumes;
    assert_eq!(volumes.len(), 1);
    assert_eq!(
        volumes[0].digest, volume.digest,
        "the volume reads back unchanged"
    );
    let documents = client
        .list_documents(archivist(pb::ListDocumentsRequest {
            customer_id: customer.id,
            ..Default::default()
        }))
        .await
        .expect("documents")
        .into_inner()
        .documents;
    let years: Vec<i32> = documents.iter().map(|d| d.volume_year).collect();
    assert_eq!(years, vec![2025, 0]);
}
