//! Configuration: the per-tenant and per-app TOML files of the plugin tree, their limits and
//! ceilings, and (in [`serve`]) the server's own settings, resolved once at start from the command
//! line, an optional TOML file and defaults.
//!
//! Our own TOML is strict: unknown keys and out-of-range values are refused with a message naming the
//! file and the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ncco_sdk::ncco::Validator;
use serde::Deserialize;

pub mod outbound;
pub use outbound::AllowedHost;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8080));
/// Default data directory (compiled artifacts, state), relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = ".ncco-host";
/// The embedded state database, inside the data directory.
pub const STATE_FILE: &str = "state.redb";
/// Default wall-clock deadline of one plugin call.
pub const DEFAULT_TIMEOUT_MS: u64 = 500;
/// Default linear-memory cap of one plugin instance.
pub const DEFAULT_MEMORY_MIB: u64 = 32;
/// Default cap on the NCCO a plugin returns.
pub const DEFAULT_MAX_NCCO_BYTES: u64 = 64 * 1024;
/// Default cap on what one webhook's plugin may log (log lines and stdout/stderr together).
pub const DEFAULT_LOG_BYTES: u64 = 16 * 1024;
/// Operator maximum of `timeout_ms`, unless `tenant.toml` lowers it.
pub const MAX_TIMEOUT_MS: u64 = 4_000;
/// Operator maximum of `memory_mib`.
pub const MAX_MEMORY_MIB: u64 = 256;
/// Operator maximum of `max_ncco_bytes`.
pub const MAX_NCCO_BYTES: u64 = 1024 * 1024;
/// Operator maximum of `log_bytes`.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;
/// Most state keys a tenant may be given.
pub const MAX_STATE_KEYS: u64 = 1_000_000_000;
/// Most state a tenant may be given, MiB (1 TiB).
pub const MAX_STATE_MIB: u64 = 1 << 20;
/// Largest webhook body accepted.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Plugin instances running at once per core (they yield to each other every epoch tick, and many
/// wait on state I/O): the scheduler's slots are this times the available cores.
pub const RUNNING_PER_CORE: usize = 4;
/// Webhooks waiting for an instance slot at once, over all tenants.
pub const DEFAULT_MAX_CONCURRENT: usize = 1024;
/// Webhooks of one tenant waiting for a slot at once (its own backlog; others never wait behind it).
pub const DEFAULT_TENANT_MAX_QUEUED: usize = 256;
/// Time a client has to send a request's headers; also how long an idle keep-alive connection is
/// kept (hyper starts the header timer again when a response is done).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request's whole body.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most (lowered to fit the process's descriptor limit); past 7/8 of it, idle
/// connections are closed to make room, so health checks and admin still get in.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// Memory all running instances may hold together.
pub const DEFAULT_MEMORY_BUDGET_MIB: u64 = 4096;
/// Accepted clock skew of a signed webhook's `iat`, either way.
pub const DEFAULT_SIGNATURE_WINDOW_SECS: u64 = 300;
/// Most compiled artifacts kept in the data directory, MiB (least recently used go first).
pub const DEFAULT_ARTIFACT_CACHE_MIB: u64 = 2048;
/// Largest plugin file compiled.
pub const MAX_PLUGIN_BYTES: u64 = 32 * 1024 * 1024;
/// Default of `max_outbound_requests`: HTTP requests one webhook's plugin may make.
pub const DEFAULT_OUTBOUND_REQUESTS: u32 = 8;
/// Operator maximum of `max_outbound_requests`.
pub const MAX_OUTBOUND_REQUESTS: u32 = 64;
/// Default of `max_outbound_response_bytes`: response body bytes one webhook's plugin may receive,
/// over all its requests.
pub const DEFAULT_OUTBOUND_RESPONSE_BYTES: u64 = 1024 * 1024;
/// Operator maximum of `max_outbound_response_bytes`.
pub const MAX_OUTBOUND_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Spoken when a plugin fails and its app has no fallback NCCO of its own.
pub const DEFAULT_FALLBACK_TEXT: &str =
    "We are sorry, this service is temporarily unavailable. Please try again later.";

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// What is wrong, naming the key.
    pub message: String,
}

impl ConfigError {
    fn new(file: &Path, message: impl Into<String>) -> Self {
        ConfigError { file: file.display().to_string(), message: message.into() }
    }
}

/// The sandbox limits of one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of one call into the plugin.
    pub timeout: Duration,
    /// Linear-memory cap, bytes.
    pub memory_bytes: u64,
    /// Largest NCCO accepted from the plugin, bytes.
    pub max_ncco_bytes: u64,
    /// Most log bytes per webhook.
    pub log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            memory_bytes: DEFAULT_MEMORY_MIB << 20,
            max_ncco_bytes: DEFAULT_MAX_NCCO_BYTES,
            log_bytes: DEFAULT_LOG_BYTES,
        }
    }
}

/// Ceilings for the app limits (operator maxima, lowered per tenant by `tenant.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ceilings {
    /// Most `timeout_ms`.
    #[serde(default = "max_timeout_ms")]
    pub timeout_ms: u64,
    /// Most `memory_mib`.
    #[serde(default = "max_memory_mib")]
    pub memory_mib: u64,
    /// Most `max_ncco_bytes`.
    #[serde(default = "max_ncco_bytes")]
    pub max_ncco_bytes: u64,
    /// Most `log_bytes`.
    #[serde(default = "max_log_bytes")]
    pub log_bytes: u64,
    /// Instances of this tenant running at once (default: the operator's `tenant_max_running`).
    #[serde(default)]
    pub max_running: Option<usize>,
    /// Webhooks of this tenant waiting for a slot at once (default: `tenant_max_queued`).
    #[serde(default)]
    pub max_queued: Option<usize>,
    /// This tenant's share of the host's memory budget, MiB (default: `tenant_memory_share_mib`).
    #[serde(default)]
    pub memory_share_mib: Option<u64>,
    /// Most state keys this tenant's apps keep together (default: `tenant_state_keys`).
    #[serde(default)]
    pub state_keys: Option<u64>,
    /// Most state this tenant's apps keep together, MiB of keys and values (default:
    /// `tenant_state_mib`).
    #[serde(default)]
    pub state_mib: Option<u64>,
    /// What this tenant's apps may list in `allowed_outbound_hosts`: each of their entries must lie
    /// within one of these (default: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_outbound_hosts: Option<Vec<String>>,
    /// Most `max_outbound_requests`.
    #[serde(default = "max_outbound_requests")]
    pub max_outbound_requests: u32,
    /// Most `max_outbound_response_bytes`.
    #[serde(default = "max_outbound_response_bytes")]
    pub max_outbound_response_bytes: u64,
}

fn max_timeout_ms() -> u64 {
    MAX_TIMEOUT_MS
}
fn max_memory_mib() -> u64 {
    MAX_MEMORY_MIB
}
fn max_ncco_bytes() -> u64 {
    MAX_NCCO_BYTES
}
fn max_log_bytes() -> u64 {
    MAX_LOG_BYTES
}
fn max_outbound_requests() -> u32 {
    MAX_OUTBOUND_REQUESTS
}
fn max_outbound_response_bytes() -> u64 {
    MAX_OUTBOUND_RESPONSE_BYTES
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            timeout_ms: MAX_TIMEOUT_MS,
            memory_mib: MAX_MEMORY_MIB,
            max_ncco_bytes: MAX_NCCO_BYTES,
            log_bytes: MAX_LOG_BYTES,
            max_running: None,
            max_queued: None,
            memory_share_mib: None,
            state_keys: None,
            state_mib: None,
            allowed_outbound_hosts: None,
            max_outbound_requests: MAX_OUTBOUND_REQUESTS,
            max_outbound_response_bytes: MAX_OUTBOUND_RESPONSE_BYTES,
        }
    }
}

fn check_range(file: &Path, key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(file, format!("`{key}` must be between {min} and {max}, got {value}")));
    }
    Ok(())
}

/// A parser message without the values it quotes: serde quotes a wrong value between backticks after
/// "invalid type:" or "invalid value:" (a mistyped secret would be echoed); key names stay.
fn without_values(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: ")) else {
        return message.to_owned();
    };
    // "integer `1234`, expected a string" -> "an integer, expected a string"
    let (found, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
    let kind = found.split('`').next().unwrap_or("").trim();
    let kind = if kind.is_empty() { "a value" } else { kind };
    format!(
        "wrong type: found {kind}{}",
        if expected.is_empty() { String::new() } else { format!(", expected{expected}") }
    )
}

fn parse_toml<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let message = without_values(e.message());
        let at = e.span().map(|s| {
            let start = s.start.min(text.len());
            let line = text[..start].lines().count().max(1);
            // The key of that line, never its value.
            let line_text = text[text[..start].rfind('\n').map_or(0, |i| i + 1)..].lines().next().unwrap_or("");
            let key = line_text.split_once('=').map(|(k, _)| k.trim()).filter(|k| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            });
            match key {
                Some(key) => format!(" (key `{key}`, line {line})"),
                None => format!(" (line {line})"),
            }
        });
        ConfigError::new(file, format!("{message}{}", at.unwrap_or_default()))
    })
}

/// `<tenant>/tenant.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// HS256 secret of the tenant's signed webhooks; when set, every webhook must be signed.
    pub signature_secret: Option<String>,
    /// The Vonage application whose webhooks this tenant serves; when set, a signed webhook's
    /// `application_id` claim must name it.
    pub application_id: Option<String>,
    /// Ceilings for the limits of this tenant's apps.
    #[serde(default)]
    pub limits: Option<Ceilings>,
    /// The tenant's API tokens, by the hex SHA-256 of each (the tokens themselves are never
    /// stored): each reaches this tenant's deploy API, and its calls in the inspector.
    #[serde(default)]
    pub api_token_sha256: Vec<TokenHash>,
    /// The Vonage application the tenant's plugins control calls of (the Voice REST API).
    pub vonage: Option<VonageApp>,
}

/// `[vonage]` of `tenant.toml`: the application whose key the host signs call-control requests
/// with. The key never reaches a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VonageApp {
    /// The application's id (a UUID).
    pub application_id: String,
    /// Its private key (PEM, PKCS#8 or PKCS#1), relative to the tenant's folder and inside it.
    pub private_key_file: String,
}

/// One API token, by its SHA-256: a bare hex string, or `{ name = "ci", sha256 = "<hex>" }` (the
/// name is what the version list says deployed it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum TokenHash {
    /// The hex SHA-256 alone.
    Bare(String),
    /// A named token.
    Named {
        /// Shown as the deployer.
        name: String,
        /// The hex SHA-256.
        sha256: String,
    },
}

impl TokenHash {
    /// The hex SHA-256, in lower case.
    pub fn sha256(&self) -> String {
        match self {
            TokenHash::Bare(h) | TokenHash::Named { sha256: h, .. } => h.to_ascii_lowercase(),
        }
    }

    /// Who this token is, for the version list: its name, or the first 12 hex digits of its hash.
    pub fn label(&self) -> String {
        match self {
            TokenHash::Named { name, .. } => name.clone(),
            TokenHash::Bare(h) => format!("token sha256:{}", &h.to_ascii_lowercase()[..12.min(h.len())]),
        }
    }
}

/// Checks a configured token hash: 64 hex digits.
pub fn check_token_hash(file: &Path, key: &str, hash: &str) -> Result<(), ConfigError> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConfigError::new(
            file,
            format!("`{key}` must be the hex SHA-256 of the token (64 hex digits), not the token itself"),
        ));
    }
    Ok(())
}

impl TenantConfig {
    /// Parses and checks `tenant.toml` against the operator maxima.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        // An emptied or truncated file must not silently turn signature checks off: a tenant.toml
        // with no keys is an error (the previous configuration stays); delete the file for none.
        let table: toml::Table = parse_toml(file, text)?;
        if table.is_empty() {
            return Err(ConfigError::new(
                file,
                "has no keys (empty or truncated?); delete the file to run the tenant without one",
            ));
        }
        let config: TenantConfig = parse_toml(file, text)?;
        if let Some(secret) = &config.signature_secret
            && secret.len() < 4
        {
            return Err(ConfigError::new(file, "`signature_secret` is too short (at least 4 bytes, 32 advised)"));
        }
        for (i, t) in config.api_token_sha256.iter().enumerate() {
            check_token_hash(file, &format!("api_token_sha256[{i}]"), &t.sha256())?;
            if let TokenHash::Named { name, .. } = t
                && (name.is_empty() || name.len() > 64 || name.chars().any(char::is_control))
            {
                return Err(ConfigError::new(
                    file,
                    format!("`api_token_sha256[{i}].name` must be 1 to 64 printable characters"),
                ));
            }
        }
        if let Some(v) = &config.vonage {
            if uuid::Uuid::try_parse(&v.application_id).is_err() {
                return Err(ConfigError::new(file, "`vonage.application_id` must be the application's UUID"));
            }
            let key = Path::new(&v.private_key_file);
            let inside = key.components().all(|c| matches!(c, std::path::Component::Normal(_)));
            if v.private_key_file.is_empty() || !inside {
                return Err(ConfigError::new(
                    file,
                    "`vonage.private_key_file` must be a path inside the tenant's folder (relative, no `..`)",
                ));
            }
            if config.signature_secret.is_none() {
                return Err(ConfigError::new(
                    file,
                    "`[vonage]` needs `signature_secret`: call control trusts the call uuids webhooks name, so \
                     they must be signed",
                ));
            }
            if let Some(signed) = &config.application_id
                && !signed.eq_ignore_ascii_case(&v.application_id)
            {
                return Err(ConfigError::new(
                    file,
                    "`application_id` and `vonage.application_id` name different applications",
                ));
            }
        }
        if let Some(c) = &config.limits {
            let max = Ceilings::default();
            check_range(file, "limits.timeout_ms", c.timeout_ms, 1, max.timeout_ms)?;
            check_range(file, "limits.memory_mib", c.memory_mib, 2, max.memory_mib)?;
            check_range(file, "limits.max_ncco_bytes", c.max_ncco_bytes, 64, max.max_ncco_bytes)?;
            check_range(file, "limits.log_bytes", c.log_bytes, 0, max.log_bytes)?;
            if let Some(n) = c.max_running {
                check_range(file, "limits.max_running", n as u64, 1, 100_000)?;
            }
            if let Some(n) = c.max_queued {
                check_range(file, "limits.max_queued", n as u64, 0, 1_000_000)?;
            }
            if let Some(n) = c.memory_share_mib {
                check_range(file, "limits.memory_share_mib", n, 2, 1 << 20)?;
            }
            if let Some(n) = c.state_keys {
                check_range(file, "limits.state_keys", n, 0, MAX_STATE_KEYS)?;
            }
            if let Some(n) = c.state_mib {
                check_range(file, "limits.state_mib", n, 0, MAX_STATE_MIB)?;
            }
            check_range(
                file,
                "limits.max_outbound_requests",
                c.max_outbound_requests.into(),
                0,
                MAX_OUTBOUND_REQUESTS.into(),
            )?;
            check_range(
                file,
                "limits.max_outbound_response_bytes",
                c.max_outbound_response_bytes,
                0,
                MAX_OUTBOUND_RESPONSE_BYTES,
            )?;
            if let Some(list) = &c.allowed_outbound_hosts {
                outbound::parse_list("limits.allowed_outbound_hosts", list).map_err(|m| ConfigError::new(file, m))?;
            }
        }
        Ok(config)
    }

    /// The ceilings in force for this tenant.
    pub fn ceilings(&self) -> Ceilings {
        self.limits.clone().unwrap_or_default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppConfig {
    timeout_ms: Option<u64>,
    max_concurrent: Option<usize>,
    memory_mib: Option<u64>,
    max_ncco_bytes: Option<u64>,
    log_bytes: Option<u64>,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
    fallback: Option<toml::Value>,
    allowed_outbound_hosts: Option<Vec<String>>,
    max_outbound_requests: Option<u32>,
    max_outbound_response_bytes: Option<u64>,
}

/// What an app's plugin may reach over HTTP (`wasi:http/outgoing-handler`), from `<app>.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Where requests may go; empty: nowhere (a plugin importing `wasi:http` is refused at load).
    pub allowed: Vec<AllowedHost>,
    /// Requests one webhook may make.
    pub max_requests: u32,
    /// Response body bytes one webhook may receive, over all its requests.
    pub max_response_bytes: u64,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        OutboundPolicy {
            allowed: Vec::new(),
            max_requests: DEFAULT_OUTBOUND_REQUESTS,
            max_response_bytes: DEFAULT_OUTBOUND_RESPONSE_BYTES,
        }
    }
}

impl OutboundPolicy {
    /// Whether this app may make HTTP requests at all.
    pub fn enabled(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// The entry allowing a request to `target`, if one does.
    pub fn allowing(&self, target: &outbound::Target) -> Option<&AllowedHost> {
        self.allowed.iter().find(|a| a.allows(target))
    }

    /// This policy within `ceilings`: entries outside the tenant's cap dropped, counts lowered. An
    /// app keeps its last good configuration when its file no longer parses; a tenant that narrowed
    /// its cap meanwhile still gets it applied.
    pub fn clamped(&self, ceilings: &Ceilings) -> OutboundPolicy {
        let cap = ceilings
            .allowed_outbound_hosts
            .as_deref()
            .map(|c| outbound::parse_list("limits.allowed_outbound_hosts", c).unwrap_or_default());
        OutboundPolicy {
            allowed: self
                .allowed
                .iter()
                .filter(|a| cap.as_ref().is_none_or(|cap| cap.iter().any(|c| a.within(c))))
                .cloned()
                .collect(),
            max_requests: self.max_requests.min(ceilings.max_outbound_requests),
            max_response_bytes: self.max_response_bytes.min(ceilings.max_outbound_response_bytes),
        }
    }

    fn parse(file: &Path, raw: &RawAppConfig, ceilings: &Ceilings) -> Result<Self, ConfigError> {
        let key = "allowed_outbound_hosts";
        let allowed = outbound::parse_list(key, raw.allowed_outbound_hosts.as_deref().unwrap_or_default())
            .map_err(|m| ConfigError::new(file, m))?;
        if let Some(cap) = &ceilings.allowed_outbound_hosts {
            let cap = outbound::parse_list("limits.allowed_outbound_hosts", cap)
                .map_err(|m| ConfigError::new(file, format!("the tenant's {m}")))?;
            if let Some((i, entry)) = allowed.iter().enumerate().find(|(_, a)| !cap.iter().any(|c| a.within(c))) {
                return Err(ConfigError::new(
                    file,
                    format!(
                        "`{key}[{i}]` (`{entry}`) is not within the tenant's `limits.allowed_outbound_hosts` ({})",
                        cap.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let mut policy = OutboundPolicy { allowed, ..OutboundPolicy::default() };
        if let Some(n) = raw.max_outbound_requests {
            check_range(file, "max_outbound_requests", n.into(), 0, ceilings.max_outbound_requests.into())?;
            policy.max_requests = n;
        }
        if let Some(n) = raw.max_outbound_response_bytes {
            check_range(file, "max_outbound_response_bytes", n, 0, ceilings.max_outbound_response_bytes)?;
            policy.max_response_bytes = n;
        }
        policy.max_requests = policy.max_requests.min(ceilings.max_outbound_requests);
        policy.max_response_bytes = policy.max_response_bytes.min(ceilings.max_outbound_response_bytes);
        Ok(policy)
    }
}

/// `<tenant>/<app>.toml`, resolved against the tenant's ceilings.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The sandbox limits.
    pub limits: Limits,
    /// The app's variables, read by plugins with `config(name)` (shared by every call).
    pub vars: std::sync::Arc<BTreeMap<String, String>>,
    /// The NCCO answered when the plugin fails (JSON text, validated).
    pub fallback_ncco: String,
    /// Webhooks of this app in flight at once (waiting or running); more are answered as overloaded.
    pub max_concurrent: Option<usize>,
    /// What its plugin may reach over HTTP.
    pub outbound: std::sync::Arc<OutboundPolicy>,
}

/// The default fallback NCCO: a short spoken apology.
pub fn default_fallback_ncco() -> String {
    ncco_sdk::Ncco::new().talk(DEFAULT_FALLBACK_TEXT).to_json()
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            limits: Limits::default(),
            vars: Default::default(),
            fallback_ncco: default_fallback_ncco(),
            max_concurrent: None,
            outbound: std::sync::Arc::default(),
        }
    }
}

impl AppConfig {
    /// Parses `<app>.toml`; each limit must lie within the tenant's ceilings.
    ///
    /// `fallback` is an NCCO: either a TOML array of tables, or a string holding the NCCO's JSON.
    pub fn parse(file: &Path, text: &str, ceilings: &Ceilings) -> Result<Self, ConfigError> {
        let raw: RawAppConfig = parse_toml(file, text)?;
        let outbound = std::sync::Arc::new(OutboundPolicy::parse(file, &raw, ceilings)?);
        let mut limits = Limits::default();
        if let Some(ms) = raw.timeout_ms {
            check_range(file, "timeout_ms", ms, 1, ceilings.timeout_ms)?;
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(mib) = raw.memory_mib {
            check_range(file, "memory_mib", mib, 2, ceilings.memory_mib)?;
            limits.memory_bytes = mib << 20;
        }
        if let Some(n) = raw.max_ncco_bytes {
            check_range(file, "max_ncco_bytes", n, 64, ceilings.max_ncco_bytes)?;
            limits.max_ncco_bytes = n;
        }
        if let Some(n) = raw.log_bytes {
            check_range(file, "log_bytes", n, 0, ceilings.log_bytes)?;
            limits.log_bytes = n;
        }
        // Defaults above a lowered ceiling come down to it.
        limits.timeout = limits.timeout.min(Duration::from_millis(ceilings.timeout_ms));
        limits.memory_bytes = limits.memory_bytes.min(ceilings.memory_mib << 20);
        limits.max_ncco_bytes = limits.max_ncco_bytes.min(ceilings.max_ncco_bytes);
        limits.log_bytes = limits.log_bytes.min(ceilings.log_bytes);
        let mut vars = BTreeMap::new();
        for (k, v) in raw.vars {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError::new(
                        file,
                        format!("`vars.{k}` must be a string, number or boolean, got {}", other.type_str()),
                    ));
                }
            };
            vars.insert(k, s);
        }
        let fallback_ncco = match raw.fallback {
            None => default_fallback_ncco(),
            Some(value) => {
                let json = match value {
                    toml::Value::String(s) => serde_json::from_str::<serde_json::Value>(&s)
                        .map_err(|e| ConfigError::new(file, format!("`fallback` is not JSON: {e}")))?,
                    other => serde_json::to_value(other)
                        .map_err(|e| ConfigError::new(file, format!("`fallback` cannot be read: {e}")))?,
                };
                match Validator::default().check_value(&json).into_result() {
                    Ok(ncco) => ncco.to_json(),
                    Err(report) => {
                        return Err(ConfigError::new(file, format!("`fallback` is not a valid NCCO: {report}")));
                    }
                }
            }
        };
        if let Some(n) = raw.max_concurrent {
            check_range(file, "max_concurrent", n as u64, 1, 100_000)?;
        }
        Ok(AppConfig {
            limits,
            vars: std::sync::Arc::new(vars),
            fallback_ncco,
            max_concurrent: raw.max_concurrent,
            outbound,
        })
    }
}

mod serve;
pub use serve::{LogFormat, ServeConfig, ServeFile, Shares};

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(text: &str) -> Result<TenantConfig, ConfigError> {
        TenantConfig::parse(Path::new("acme/tenant.toml"), text)
    }

    #[test]
    fn the_vonage_application_is_an_id_and_a_key_file_inside_the_tenant_folder() {
        let ok = tenant("signature_secret = \"0123456789abcdef\"\n[vonage]\napplication_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"\nprivate_key_file = \"keys/private.key\"\n")
            .expect("valid");
        assert_eq!(ok.vonage.map(|v| v.private_key_file), Some("keys/private.key".into()));
        let cases = [
            (
                "application_id = \"my-app\"\nprivate_key_file = \"k\"",
                "`vonage.application_id` must be the application's UUID",
            ),
            (
                "application_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"\nprivate_key_file = \"../other/k\"",
                "inside the tenant's folder",
            ),
            (
                "application_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"\nprivate_key_file = \"/etc/k\"",
                "inside the tenant's folder",
            ),
            ("application_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"", "private_key_file"),
            ("application_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"\nprivate_key_file = \"k\"\nkey = \"x\"", "key"),
        ];
        for (body, says) in cases {
            let e = tenant(&format!("signature_secret = \"0123456789abcdef\"\n[vonage]\n{body}\n"))
                .expect_err(body)
                .to_string();
            assert!(e.starts_with("acme/tenant.toml: ") && e.contains(says), "{body}: {e}");
        }
        let e = tenant(
            "signature_secret = \"0123456789abcdef\"\napplication_id = \"00000000-0000-4000-8000-000000000000\"\n[vonage]\napplication_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"\nprivate_key_file = \"k\"\n",
        )
        .expect_err("two applications");
        assert!(e.to_string().contains("name different applications"), "{e}");
        // Unsigned webhooks could name any call: call control needs them signed.
        let e =
            tenant("[vonage]\napplication_id = \"2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b\"\nprivate_key_file = \"k\"\n")
                .expect_err("unsigned");
        assert!(e.to_string().contains("`[vonage]` needs `signature_secret`"), "{e}");
    }
}
