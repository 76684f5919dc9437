//! Token verification against the attacks a gateway meets: every one is `UNAUTHENTICATED`.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use dossier_kit::Problem;
use dossier_kit::auth::{JwtVerifier, Role, VerifyingKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const RSA_PRIVATE: &str = include_str!("keys/rs256-test.key.pem");
const RSA_PUBLIC: &str = include_str!("keys/rs256-test.pub.pem");
const EC_PRIVATE: &str = include_str!("keys/es256-test.key.pem");
const EC_PUBLIC: &str = include_str!("keys/es256-test.pub.pem");

fn rs256_verifier(kid: Option<&str>) -> JwtVerifier {
    JwtVerifier::new(
        vec![(
            kid.map(str::to_owned),
            VerifyingKey::Rs256Pem(RSA_PUBLIC.into()),
        )],
        "dossier",
        "dossier-api",
    )
    .expect("verifier")
}

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

fn refused(result: Result<dossier_kit::auth::Caller, Problem>) -> bool {
    matches!(result, Err(Problem::Unauthenticated { .. }))
}

#[test]
fn an_rs256_token_verifies_with_the_public_key() {
    let caller = rs256_verifier(None)
        .verify(&rs256(&claims(), None))
        .expect("verifies");
    assert_eq!(caller.role, Role::Finance);
    assert_eq!(caller.sub, "u-1");
}

#[test]
fn an_es256_token_verifies_with_its_public_key() {
    let verifier = JwtVerifier::new(
        vec![(None, VerifyingKey::Es256Pem(EC_PUBLIC.into()))],
        "dossier",
        "dossier-api",
    )
    .expect("verifier");
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("key"),
    )
    .expect("signed");
    assert_eq!(
        verifier.verify(&token).expect("verifies").role,
        Role::Finance
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    // The classic confusion: the attacker signs with the (public) RSA key as an HMAC secret.
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    )
    .expect("signed");
    assert!(refused(rs256_verifier(None).verify(&token)));
}

#[test]
fn expired_tokens_are_refused() {
    let mut expired = claims();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    assert!(refused(rs256_verifier(None).verify(&rs256(&expired, None))));
}

#[test]
fn tokens_missing_exp_aud_or_iss_are_refused() {
    for claim in ["exp", "aud", "iss", "sub"] {
        let mut partial = claims();
        partial.as_object_mut().expect("object").remove(claim);
        assert!(
            refused(rs256_verifier(None).verify(&rs256(&partial, None))),
            "without {claim}"
        );
    }
}

#[test]
fn a_wrong_audience_or_issuer_is_refused() {
    let mut other = claims();
    other["aud"] = json!("another-api");
    assert!(refused(rs256_verifier(None).verify(&rs256(&other, None))));
    let mut other = claims();
    other["iss"] = json!("someone-else");
    assert!(refused(rs256_verifier(None).verify(&rs256(&other, None))));
}

#[test]
fn an_unknown_key_id_is_refused() {
    let verifier = rs256_verifier(Some("2026-11"));
    assert!(verifier.verify(&rs256(&claims(), Some("2026-11"))).is_ok());
    assert!(refused(verifier.verify(&rs256(&claims(), Some("2025-01")))));
}

#[test]
fn an_unknown_role_is_refused() {
    let mut other = claims();
    other["role"] = json!("superuser");
    assert!(refused(rs256_verifier(None).verify(&rs256(&other, None))));
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = rs256(&claims(), None);
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut elevated = claims();
    elevated["role"] = json!("executive");
    let forged = rs256(&elevated, None);
    parts[1] = forged.split('.').nth(1).expect("payload");
    assert!(refused(rs256_verifier(None).verify(&parts.join("."))));
}
