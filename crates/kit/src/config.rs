//! Layered configuration: built-in defaults, then a TOML file (`dossier.toml` or `--config`), then
//! `DOSSIER_…` environment variables, the last one winning.
//!
//! Environment names follow the file's sections: `DOSSIER_AUTH_ISSUER` sets `auth.issuer`,
//! `DOSSIER_CUSTOMER_PROFILE_DATABASE_URL` sets `customer_profile.database_url`,
//! `DOSSIER_DATA_DIR` sets `data_dir`. Secrets are `SecretString`s: they never reach a log line
//! or a `Debug` print, and database URLs are shown with their password removed.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::auth::{JwtVerifier, VerifyingKey};

/// The sections of the configuration, used to map `DOSSIER_SECTION_KEY` to `section.key`.
const SECTIONS: &[&str] = &[
    "auth",
    "telemetry",
    "limits",
    "customer_profile",
    "visit_journal",
    "contract_receivables",
    "complaints",
    "analytics",
    "gateway",
];

/// Loads the layered configuration. `file` defaults to `dossier.toml` when that exists.
pub fn load(file: Option<&Path>) -> Result<Config, String> {
    let mut figment = Figment::new();
    match file {
        Some(path) => {
            if !path.exists() {
                return Err(format!(
                    "configuration file {} does not exist",
                    path.display()
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        None => figment = figment.merge(Toml::file("dossier.toml")),
    }
    figment =
        figment.merge(Env::prefixed("DOSSIER_").map(|key| env_key_to_path(key.as_str()).into()));
    Ok(Config { figment })
}

/// Maps `customer_profile_database_url` to `customer_profile.database_url`.
fn env_key_to_path(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key
}

/// The loaded configuration, from which each part extracts its own section.
#[derive(Clone)]
pub struct Config {
    figment: Figment,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Config { .. }")
    }
}

impl Config {
    /// A configuration from explicit values only (tests, embedding).
    pub fn from_values(values: impl Serialize) -> Self {
        Self {
            figment: Figment::from(Serialized::defaults(values)),
        }
    }

    /// Overrides one key (dotted path), e.g. `customer_profile.listen`.
    pub fn set(mut self, key: &str, value: impl Serialize) -> Self {
        self.figment = self.figment.merge(Serialized::default(key, value));
        self
    }

    /// Extracts a section into its settings type, defaults filling what is not set.
    pub fn section<T: for<'de> Deserialize<'de> + Default + Serialize>(
        &self,
        name: &str,
    ) -> Result<T, String> {
        Figment::from(Serialized::defaults(T::default()))
            .merge(self.figment.focus(name))
            .extract::<T>()
            .map_err(|e| format!("configuration section `{name}`: {e}"))
    }

    /// The settings every part shares.
    pub fn common(&self) -> Result<CommonSettings, String> {
        let data_dir = self
            .figment
            .find_value("data_dir")
            .ok()
            .and_then(|v| v.into_string())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data"));
        Ok(CommonSettings {
            data_dir,
            auth: self.section("auth")?,
            telemetry: self.section("telemetry")?,
            limits: self.section("limits")?,
        })
    }
}

/// Settings shared by every service.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// Where embedded SQLite files and the development secret live.
    pub data_dir: PathBuf,
    /// Token verification.
    pub auth: AuthSettings,
    /// Logs and traces.
    pub telemetry: TelemetrySettings,
    /// Server limits.
    pub limits: LimitSettings,
}

/// Token verification settings.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// `HS256` (development), `RS256` or `ES256`.
    pub algorithm: String,
    /// HS256 shared secret (at least 32 bytes). When neither this nor a public key is set, a
    /// development secret is generated once under `data_dir`.
    #[serde(skip_serializing)]
    pub hs256_secret: Option<SecretString>,
    /// PEM file of the RS256/ES256 public key.
    pub public_key_file: Option<PathBuf>,
    /// Key id the tokens name in their header, when keys are rotated.
    pub key_id: Option<String>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithm", &self.algorithm)
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("public_key_file", &self.public_key_file)
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: "dossier".into(),
            audience: "dossier-api".into(),
            algorithm: "HS256".into(),
            hs256_secret: None,
            public_key_file: None,
            key_id: None,
        }
    }
}

/// Name of the generated development secret file under `data_dir`.
pub const DEV_SECRET_FILE: &str = "dev-jwt-secret";

impl AuthSettings {
    /// The HS256 secret: the configured one, or the development secret under `data_dir`,
    /// generated on first use so a fresh checkout works without configuration.
    pub fn hs256_secret_or_dev(&self, data_dir: &Path) -> Result<SecretString, String> {
        if let Some(secret) = &self.hs256_secret {
            return Ok(secret.clone());
        }
        let path = data_dir.join(DEV_SECRET_FILE);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(SecretString::from(existing.trim().to_owned()));
        }
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        std::fs::write(&path, &secret)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        restrict_permissions(&path);
        Ok(SecretString::from(secret))
    }

    /// Mints a development token (HS256 only: production tokens come from an identity provider).
    pub fn mint_dev_token(
        &self,
        data_dir: &Path,
        request: &crate::auth::TokenRequest,
    ) -> Result<String, String> {
        if self.algorithm != "HS256" {
            return Err(format!(
                "tokens can be minted only with HS256 (development); with {} they come from your identity provider",
                self.algorithm
            ));
        }
        let secret = self.hs256_secret_or_dev(data_dir)?;
        crate::auth::mint_hs256(&secret, &self.issuer, &self.audience, request)
    }

    /// Builds the verifier these settings describe.
    pub fn verifier(&self, data_dir: &Path) -> Result<JwtVerifier, String> {
        let key = match self.algorithm.as_str() {
            "HS256" => VerifyingKey::Hs256(self.hs256_secret_or_dev(data_dir)?),
            "RS256" | "ES256" => {
                let file = self.public_key_file.as_ref().ok_or_else(|| {
                    format!(
                        "auth.algorithm {} needs auth.public_key_file",
                        self.algorithm
                    )
                })?;
                let pem = std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                if self.algorithm == "RS256" {
                    VerifyingKey::Rs256Pem(pem)
                } else {
                    VerifyingKey::Es256Pem(pem)
                }
            }
            other => {
                return Err(format!(
                    "auth.algorithm {other:?} is not one of HS256, RS256, ES256"
                ));
            }
        };
        JwtVerifier::new(
            vec![(self.key_id.clone(), key)],
            &self.issuer,
            &self.audience,
        )
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

/// Logging and tracing settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// `RUST_LOG`-style filter.
    pub log_filter: String,
    /// `pretty` or `json`.
    pub log_format: String,
    /// OTLP/gRPC endpoint of a collector; traces are exported only when set.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            log_format: "pretty".into(),
            otlp_endpoint: None,
        }
    }
}

/// Limits every server enforces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Deadline of a unary request when the caller sets none, in seconds.
    pub request_timeout_secs: u64,
    /// Requests served at once by one server; more wait.
    pub concurrency_limit: usize,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// How long shutdown waits for in-flight calls, in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            request_timeout_secs: 30,
            concurrency_limit: 256,
            max_message_bytes: 32 * 1024 * 1024,
            shutdown_grace_secs: 10,
        }
    }
}

/// A database URL as it may be shown: the password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `postgres://u@h:5432/test?x=y` with the database name replaced (test and bench databases are
/// created beside the one an admin URL names).
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(query) => format!("{}/{name}?{query}", &base[..path]),
        None => format!("{}/{name}", &base[..path]),
    }
}

/// The database URL of a service: the configured one or `sqlite://<data_dir>/<file>?mode=rwc`.
pub fn database_url_or_default(
    configured: Option<&SecretString>,
    data_dir: &Path,
    file: &str,
) -> String {
    match configured {
        Some(url) => url.expose_secret().to_owned(),
        None => format!("sqlite://{}?mode=rwc", data_dir.join(file).display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_map_to_sections() {
        assert_eq!(
            env_key_to_path("CUSTOMER_PROFILE_DATABASE_URL"),
            "customer_profile.database_url"
        );
        assert_eq!(env_key_to_path("AUTH_HS256_SECRET"), "auth.hs256_secret");
        assert_eq!(env_key_to_path("DATA_DIR"), "data_dir");
    }

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database_name("postgres://p@h:5432/test", "x"),
            "postgres://p@h:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://p@h/test?sslmode=disable", "x"),
            "postgres://p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgres://p@h:5432", "x"),
            "postgres://p@h:5432/x"
        );
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact_url("sqlite://data/x.db?mode=rwc"),
            "sqlite://data/x.db?mode=rwc"
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let settings = AuthSettings {
            hs256_secret: Some(SecretString::from(
                "super-secret-value-0123456789abcdef".to_owned(),
            )),
            ..AuthSettings::default()
        };
        assert!(!format!("{settings:?}").contains("super-secret"));
    }

    #[test]
    fn a_development_secret_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = AuthSettings::default()
            .hs256_secret_or_dev(dir.path())
            .expect("secret");
        let second = AuthSettings::default()
            .hs256_secret_or_dev(dir.path())
            .expect("secret");
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= 32);
    }

    #[test]
    fn sections_take_defaults_and_overrides() {
        let config = Config::from_values(serde_json::json!({"limits": {"concurrency_limit": 7}}));
        let common = config.common().expect("common");
        assert_eq!(common.limits.concurrency_limit, 7);
        assert_eq!(common.limits.request_timeout_secs, 30);
        assert_eq!(common.auth.issuer, "dossier");
    }
}
