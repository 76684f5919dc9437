//! Who is calling: JWT verification into a typed [`Caller`], and minting of development tokens.
//!
//! The algorithm is pinned by configuration (never taken from the token), `exp`, `iss` and `aud`
//! are required and checked, and a token naming a `kid` must name a configured key. HS256 with a
//! shared secret is for development; production uses RS256 or ES256 public keys.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// An access level (DOMAIN.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// 业务员: sees own customers in full, others reduced.
    SalesRep,
    /// 客户服务人员: the service desk; full data.
    CustomerService,
    /// 业务经理 / 客户经理: the team's customers; approves.
    SalesManager,
    /// 经理级以上: everything.
    Executive,
    /// 财务: contracts, receivables, credit, payments.
    Finance,
    /// 档案管理员: the custodian; reviews, yearly close, merges, catalogue.
    Archivist,
    /// Internal audit: the audit log.
    Auditor,
    /// A service account of an ERP or finance system; what its scopes name.
    Integration,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 8] = [
        Role::SalesRep,
        Role::CustomerService,
        Role::SalesManager,
        Role::Executive,
        Role::Finance,
        Role::Archivist,
        Role::Auditor,
        Role::Integration,
    ];

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SalesRep => "sales_rep",
            Role::CustomerService => "customer_service",
            Role::SalesManager => "sales_manager",
            Role::Executive => "executive",
            Role::Finance => "finance",
            Role::Archivist => "archivist",
            Role::Auditor => "auditor",
            Role::Integration => "integration",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User or service-account id (`sub`).
    pub sub: String,
    /// Display name (`name`), may be empty.
    pub name: String,
    /// Access level.
    pub role: Role,
    /// Sales team, may be empty.
    pub team: String,
    /// Scopes of an integration account.
    pub scopes: BTreeSet<String>,
}

impl Caller {
    /// Whether the caller holds one of `roles`.
    pub fn is_any(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }

    /// Refuses unless the caller holds one of `roles`; `action` says what was attempted.
    pub fn require_any(&self, roles: &[Role], action: &str) -> Result<(), Problem> {
        if self.is_any(roles) {
            Ok(())
        } else {
            Err(Problem::denied(format!(
                "role {} may not {action}; allowed: {}",
                self.role,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

/// The claims of a Dossier token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user or service-account id.
    pub sub: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Role claim.
    pub role: String,
    /// Team claim.
    #[serde(default)]
    pub team: String,
    /// Scopes, for integration accounts.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: i64,
}

/// The key material the verifier trusts.
#[derive(Clone)]
pub enum VerifyingKey {
    /// A shared HS256 secret (development).
    Hs256(SecretString),
    /// An RS256 public key, PEM.
    Rs256Pem(String),
    /// An ES256 public key, PEM.
    Es256Pem(String),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyingKey::Hs256(_) => f.write_str("Hs256([redacted])"),
            VerifyingKey::Rs256Pem(_) => f.write_str("Rs256Pem(..)"),
            VerifyingKey::Es256Pem(_) => f.write_str("Es256Pem(..)"),
        }
    }
}

struct TrustedKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies bearer tokens into callers.
pub struct JwtVerifier {
    keys: Vec<TrustedKey>,
    issuer: String,
    audience: String,
    /// Tokens already verified, with their expiry: a client sends the same token on every call,
    /// and a signature check plus a claims parse per call is the largest fixed cost of a read.
    verified: std::sync::Mutex<std::collections::HashMap<String, (Caller, i64)>>,
}

/// Verified tokens remembered at most; the memory is simply emptied when full.
const VERIFIED_CACHE_CAPACITY: usize = 4096;

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl JwtVerifier {
    /// A verifier trusting `keys` (each with an optional key id) for tokens from `issuer` to
    /// `audience`.
    pub fn new(
        keys: Vec<(Option<String>, VerifyingKey)>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("no verification key configured".into());
        }
        let keys = keys
            .into_iter()
            .map(|(kid, key)| {
                let (algorithm, key) = match key {
                    VerifyingKey::Hs256(secret) => {
                        if secret.expose_secret().len() < 32 {
                            return Err("the HS256 secret must be at least 32 bytes".to_owned());
                        }
                        (
                            Algorithm::HS256,
                            DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                        )
                    }
                    VerifyingKey::Rs256Pem(pem) => (
                        Algorithm::RS256,
                        DecodingKey::from_rsa_pem(pem.as_bytes())
                            .map_err(|e| format!("RS256 key: {e}"))?,
                    ),
                    VerifyingKey::Es256Pem(pem) => (
                        Algorithm::ES256,
                        DecodingKey::from_ec_pem(pem.as_bytes())
                            .map_err(|e| format!("ES256 key: {e}"))?,
                    ),
                };
                Ok(TrustedKey {
                    kid,
                    algorithm,
                    key,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            verified: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Verifies a bearer token and returns the caller it names. A token verified before is
    /// answered from memory until it expires.
    pub fn verify(&self, token: &str) -> Result<Caller, Problem> {
        let now = chrono::Utc::now().timestamp();
        if let Ok(verified) = self.verified.lock()
            && let Some((caller, expires)) = verified.get(token)
            && now < *expires
        {
            return Ok(caller.clone());
        }
        let (caller, expires) = self.verify_signed(token)?;
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_CACHE_CAPACITY {
                verified.clear();
            }
            verified.insert(token.to_owned(), (caller.clone(), expires));
        }
        Ok(caller)
    }

    /// The full check: key, algorithm, signature and claims.
    fn verify_signed(&self, token: &str) -> Result<(Caller, i64), Problem> {
        let unauthenticated = |message: String| Problem::Unauthenticated { message };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthenticated("malformed token".into()))?;
        let key = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                .ok_or_else(|| unauthenticated("unknown key id".into()))?,
            None if self.keys.len() == 1 => &self.keys[0],
            None => return Err(unauthenticated("token names no key id".into())),
        };
        // The algorithm comes from our configuration, never from the token: a token claiming
        // `none` or HS256-with-a-public-key fails here.
        if header.alg != key.algorithm {
            return Err(unauthenticated("token algorithm not accepted".into()));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| unauthenticated(format!("invalid token: {}", describe_jwt_error(&e))))?;
        let claims = data.claims;
        let claims_exp = claims.exp;
        let role = Role::from_str(&claims.role).map_err(unauthenticated)?;
        if claims.sub.trim().is_empty() {
            return Err(unauthenticated("token has an empty subject".into()));
        }
        let caller = Caller {
            sub: claims.sub,
            name: claims.name,
            role,
            team: claims.team,
            scopes: claims.scopes.into_iter().collect(),
        };
        Ok((caller, claims_exp))
    }

    /// Verifies the value of an `authorization` header (`Bearer <token>`).
    pub fn verify_header(&self, value: Option<&str>) -> Result<Caller, Problem> {
        let value = value.ok_or_else(|| Problem::Unauthenticated {
            message: "missing authorization header; send `authorization: Bearer <token>`".into(),
        })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| Problem::Unauthenticated {
                message: "authorization header must be `Bearer <token>`".into(),
            })?;
        self.verify(token.trim())
    }
}

fn describe_jwt_error(err: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm => "algorithm not accepted",
        ErrorKind::ImmatureSignature => "not valid yet",
        _ => "malformed",
    }
}

/// What a development token says about its holder.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Subject.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Lifetime.
    pub ttl: std::time::Duration,
}

/// Mints HS256 tokens with the development secret (`dossier token`, tests, the demo).
pub fn mint_hs256(
    secret: &SecretString,
    issuer: &str,
    audience: &str,
    request: &TokenRequest,
) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: request.sub.clone(),
        name: request.name.clone(),
        role: request.role.as_str().to_owned(),
        team: request.team.clone(),
        scopes: request.scopes.clone(),
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        exp: now + i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX / 2),
        iat: now,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| format!("cannot sign token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("0123456789abcdef0123456789abcdef".to_owned())
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(
            vec![(None, VerifyingKey::Hs256(secret()))],
            "dossier",
            "dossier-api",
        )
        .expect("valid verifier")
    }

    fn request(role: Role) -> TokenRequest {
        TokenRequest {
            sub: "u-1".into(),
            name: "张三".into(),
            role,
            team: "east".into(),
            scopes: vec![],
            ttl: std::time::Duration::from_secs(600),
        }
    }

    #[test]
    fn a_minted_token_verifies_into_its_caller() {
        let token = mint_hs256(
            &secret(),
            "dossier",
            "dossier-api",
            &request(Role::SalesRep),
        )
        .expect("mint");
        let caller = verifier().verify(&token).expect("verifies");
        assert_eq!(caller.sub, "u-1");
        assert_eq!(caller.role, Role::SalesRep);
        assert_eq!(caller.team, "east");
    }

    #[test]
    fn wrong_audience_or_issuer_is_refused() {
        let token =
            mint_hs256(&secret(), "dossier", "other", &request(Role::SalesRep)).expect("mint");
        assert!(matches!(
            verifier().verify(&token),
            Err(Problem::Unauthenticated { .. })
        ));
        let token =
            mint_hs256(&secret(), "evil", "dossier-api", &request(Role::SalesRep)).expect("mint");
        assert!(matches!(
            verifier().verify(&token),
            Err(Problem::Unauthenticated { .. })
        ));
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        // header {"alg":"none","typ":"JWT"}
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let token = mint_hs256(
            &secret(),
            "dossier",
            "dossier-api",
            &request(Role::Executive),
        )
        .expect("mint");
        let payload = token.split('.').nth(1).expect("payload");
        let forged = format!("{header}.{payload}.");
        assert!(matches!(
            verifier().verify(&forged),
            Err(Problem::Unauthenticated { .. })
        ));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let token = mint_hs256(
            &secret(),
            "dossier",
            "dossier-api",
            &request(Role::SalesRep),
        )
        .expect("mint");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let other = mint_hs256(
            &secret(),
            "dossier",
            "dossier-api",
            &request(Role::Executive),
        )
        .expect("mint");
        parts[1] = other.split('.').nth(1).expect("payload").to_owned();
        // The signature of the first token does not cover the second payload... unless both
        // happened to be identical, which they are not (different roles).
        let forged = parts.join(".");
        assert!(matches!(
            verifier().verify(&forged),
            Err(Problem::Unauthenticated { .. })
        ));
    }

    #[test]
    fn a_remembered_token_still_answers_as_its_own_caller_only() {
        let verifier = verifier();
        let token = mint_hs256(
            &secret(),
            "dossier",
            "dossier-api",
            &request(Role::SalesRep),
        )
        .expect("mint");
        assert_eq!(verifier.verify(&token).expect("first").role, Role::SalesRep);
        assert_eq!(
            verifier.verify(&token).expect("remembered").role,
            Role::SalesRep
        );
        // A different (forged) token is never answered from memory.
        let forged = format!("{token}x");
        assert!(matches!(
            verifier.verify(&forged),
            Err(Problem::Unauthenticated { .. })
        ));
    }

    #[test]
    fn a_short_secret_is_refused_at_start() {
        let short = SecretString::from("short".to_owned());
        assert!(JwtVerifier::new(vec![(None, VerifyingKey::Hs256(short))], "i", "a").is_err());
    }

    #[test]
    fn the_header_must_be_a_bearer_token() {
        assert!(verifier().verify_header(None).is_err());
        assert!(verifier().verify_header(Some("Basic abc")).is_err());
    }
}
