//! Every forged, stale or misaddressed token is `UNAUTHENTICATED` at the gateway — on its own
//! service and on a forwarded path — and the refusal is audited.

use std::sync::Arc;

use dossier_kit::clock::ManualClock;
use dossier_kit::config::Config;
use dossier_kit::server::shutdown_pair;
use dossier_proto::customer::GetCustomerRequest;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::gateway::WhoAmIRequest;
use dossier_proto::gateway::access_service_client::AccessServiceClient;
use dossier_testkit::{TestDb, with_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tonic::Code;

use crate::helpers::start_time;

const RSA_PRIVATE: &str = include_str!("../../../../crates/kit/tests/keys/rs256-test.key.pem");
const RSA_PUBLIC_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/kit/tests/keys/rs256-test.pub.pem"
);
const KID: &str = "k-2026";

fn claims() -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "u-1", "role": "finance", "team": "east", "iss": "dossier", "aud": "dossier-api", "exp": now + 600, "iat": now})
}

fn rs256(claims: &serde_json::Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("key"),
    )
    .expect("signed")
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn without(key: &str) -> serde_json::Value {
    let mut c = claims();
    c.as_object_mut().expect("object").remove(key);
    c
}

fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut c = claims();
    c[key] = value;
    c
}

#[tokio::test]
async fn forged_and_stale_tokens_are_unauthenticated_everywhere() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::from_values(json!({
        "data_dir": dir.path().display().to_string(),
        "auth": {"issuer": "dossier", "audience": "dossier-api", "algorithm": "RS256",
                 "public_key_file": RSA_PUBLIC_FILE, "key_id": KID},
        "telemetry": {"log_filter": "warn"},
        // No customer-profile behind it: a call that passes authentication says UNAVAILABLE.
        "gateway": {"listen": "127.0.0.1:0", "database_url": db.url,
                    "upstreams": {"customer-profile": "http://127.0.0.1:1"}},
    }));
    let (trigger, shutdown) = shutdown_pair();
    let app = dossier_gateway::Application::build(
        &config,
        Arc::new(ManualClock::new(start_time())),
        shutdown,
    )
    .await
    .expect("gateway builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    let mut access = AccessServiceClient::new(channel.clone());
    let mut customers = CustomerServiceClient::new(channel);

    let valid = rs256(&claims(), Some(KID));
    let who = access
        .who_am_i(with_token(WhoAmIRequest {}, &valid))
        .await
        .expect("a valid token is accepted")
        .into_inner();
    assert_eq!(who.sub, "u-1");
    assert_eq!(who.role_name, "finance");
    let forwarded = customers
        .get_customer(with_token(GetCustomerRequest { id: "c".into() }, &valid))
        .await
        .expect_err("nothing behind the gateway");
    assert_eq!(
        forwarded.code(),
        Code::Unavailable,
        "authenticated, then routed"
    );

    let public_pem = std::fs::read(RSA_PUBLIC_FILE).expect("public key");
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&public_pem))
            .expect("signed")
    };
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"k-2026"}"#),
        b64(claims().to_string().as_bytes())
    );
    let tampered = {
        let parts: Vec<&str> = valid.split('.').collect();
        let forged = with("role", json!("executive"));
        format!(
            "{}.{}.{}",
            parts[0],
            b64(forged.to_string().as_bytes()),
            parts[2]
        )
    };
    let now = chrono::Utc::now().timestamp();
    let attacks = [
        ("alg none", alg_none),
        (
            "HS256 signed with the RSA public key",
            hs256_with_public_key,
        ),
        ("expired", rs256(&with("exp", json!(now - 3600)), Some(KID))),
        ("missing exp", rs256(&without("exp"), Some(KID))),
        ("missing aud", rs256(&without("aud"), Some(KID))),
        ("missing iss", rs256(&without("iss"), Some(KID))),
        (
            "wrong aud",
            rs256(&with("aud", json!("other-api")), Some(KID)),
        ),
        ("wrong iss", rs256(&with("iss", json!("evil")), Some(KID))),
        ("tampered payload", tampered),
        ("unknown kid", rs256(&claims(), Some("k-unknown"))),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (name, token) in &attacks {
        let status = access
            .who_am_i(with_token(WhoAmIRequest {}, token))
            .await
            .expect_err(name);
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{name} on WhoAmI: {status:?}"
        );
        let status = customers
            .get_customer(with_token(GetCustomerRequest { id: "c".into() }, token))
            .await
            .expect_err(name);
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{name} forwarded: {status:?}"
        );
    }
    let missing = customers
        .get_customer(tonic::Request::new(GetCustomerRequest { id: "c".into() }))
        .await
        .expect_err("no token");
    assert_eq!(missing.code(), Code::Unauthenticated);

    // The forwarded refusals are in the audit log, as denied calls of nobody.
    let store =
        dossier_gateway::store::Store::new(dossier_kit::db::connect(&db.url).await.expect("db"));
    let (events, _) = store
        .list_audit(
            &dossier_gateway::store::audit::AuditFilter {
                method: Some("/dossier.customer.v1.CustomerService/GetCustomer".into()),
                outcome: Some(2),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .expect("audit readable");
    assert_eq!(
        events.len(),
        attacks.len() + 1,
        "every refused forwarded call is audited"
    );
    assert!(
        events
            .iter()
            .all(|e| e.entry.caller_id.is_empty() && e.entry.status_code == 16)
    );
    trigger.fire();
}
