//! The server's own settings: `--config FILE` ([`ServeFile`]) and what is resolved from it, the
//! command line and the defaults ([`ServeConfig`]), with each tenant's [`Shares`] of the host.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{
    Ceilings, ConfigError, DEFAULT_ARTIFACT_CACHE_MIB, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_DATA_DIR,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MEMORY_BUDGET_MIB, DEFAULT_SIGNATURE_WINDOW_SECS, DEFAULT_TENANT_MAX_QUEUED,
    MAX_STATE_KEYS, MAX_STATE_MIB, RUNNING_PER_CORE, STATE_FILE, check_range, check_token_hash, parse_toml,
};

/// `--config FILE`: the server settings a file may give (the command line wins).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// Plugin tree.
    pub plugins: Option<PathBuf>,
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// Public base URL (what Vonage calls).
    pub public_url: Option<String>,
    /// Data directory (compiled artifacts, state).
    pub data_dir: Option<PathBuf>,
    /// Most webhooks waiting for an instance at once, over all tenants.
    pub max_concurrent: Option<usize>,
    /// Most plugin instances running at once (default: 4 per core).
    pub max_running: Option<usize>,
    /// Default of a tenant's `[limits] max_running` (default: half of `max_running`).
    pub tenant_max_running: Option<usize>,
    /// Default of a tenant's `[limits] max_queued`.
    pub tenant_max_queued: Option<usize>,
    /// Default of a tenant's `[limits] memory_share_mib` (default: half the budget).
    pub tenant_memory_share_mib: Option<u64>,
    /// Default of a tenant's `[limits] state_keys`.
    pub tenant_state_keys: Option<u64>,
    /// Default of a tenant's `[limits] state_mib`.
    pub tenant_state_mib: Option<u64>,
    /// Most calls of one tenant pinned to the version that answered them at once.
    pub tenant_max_pinned_calls: Option<u64>,
    /// Memory all instances may hold together, MiB.
    pub memory_budget_mib: Option<u64>,
    /// Time a client has to send a request's headers (and most idle time on a kept-alive
    /// connection), milliseconds.
    pub header_read_timeout_ms: Option<u64>,
    /// Time a client has to send a request's body, milliseconds.
    pub body_read_timeout_ms: Option<u64>,
    /// Most open connections.
    pub max_connections: Option<usize>,
    /// Most compiled artifacts kept, MiB.
    pub artifact_cache_mib: Option<u64>,
    /// Largest webhook body, bytes.
    pub max_body_bytes: Option<usize>,
    /// Accepted `iat` skew of signed webhooks, seconds.
    pub signature_window_secs: Option<u64>,
    /// State backend: `redis://HOST:PORT/DB`, `memory`, or a redb file.
    pub state: Option<String>,
    /// The hex SHA-256 of the operator's token (the token itself is never stored): it reaches
    /// `/_admin`, every tenant's deploy API and the inspector. Without it those answer loopback
    /// clients only.
    pub admin_token_sha256: Option<String>,
    /// Serve the admin, deploy and inspector routes on this address instead of the webhook port.
    pub admin_listen: Option<SocketAddr>,
    /// Record webhooks for the inspector (default true; false leaves it empty).
    pub inspect: Option<bool>,
    /// Webhook records the inspector keeps (oldest dropped first).
    pub inspect_records: Option<usize>,
    /// Bytes of webhook records the inspector keeps, MiB.
    pub inspect_mib: Option<u64>,
    /// Mask phone numbers in the inspector's records (all but the last 3 digits).
    pub inspect_redact_numbers: Option<bool>,
    /// Hide custom data (`custom_data`, SIP headers, payloads, `client_ref`) in the inspector.
    pub inspect_redact_custom_data: Option<bool>,
    /// `text` (the default) or `json` (one object a line).
    pub log_format: Option<LogFormat>,
    /// Let plugins' HTTP requests reach private, loopback and link-local addresses (default false:
    /// refused on the address dialled, whatever an app's allow-list says).
    pub allow_private_networks: Option<bool>,
    /// Where plugins' call-control requests go (default: Vonage's API, or a call's `region_url`
    /// when it is a Vonage host); `ncco-host simulate --api-listen` for offline tests.
    pub vonage_api_url: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable text (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object a line, with tenant, app, version, call and kind as fields.
    Json,
}

impl LogFormat {
    /// `text` or `json` (what `--log-format` takes).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

impl ServeFile {
    /// Reads and parses the server config file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::new(file, format!("cannot read: {e}")))?;
        let parsed: ServeFile = parse_toml(file, &text)?;
        if let Some(n) = parsed.max_concurrent {
            check_range(file, "max_concurrent", n as u64, 1, 1_000_000)?;
        }
        for (key, n) in [
            ("max_running", parsed.max_running),
            ("tenant_max_running", parsed.tenant_max_running),
            ("max_connections", parsed.max_connections),
        ] {
            if let Some(n) = n {
                check_range(file, key, n as u64, 1, 100_000)?;
            }
        }
        if let Some(n) = parsed.artifact_cache_mib {
            check_range(file, "artifact_cache_mib", n, 1, 1 << 24)?;
        }
        if let Some(n) = parsed.tenant_max_queued {
            check_range(file, "tenant_max_queued", n as u64, 0, 1_000_000)?;
        }
        if let Some(n) = parsed.tenant_memory_share_mib {
            check_range(file, "tenant_memory_share_mib", n, 2, 1 << 20)?;
        }
        if let Some(n) = parsed.tenant_state_keys {
            check_range(file, "tenant_state_keys", n, 0, MAX_STATE_KEYS)?;
        }
        if let Some(n) = parsed.tenant_state_mib {
            check_range(file, "tenant_state_mib", n, 0, MAX_STATE_MIB)?;
        }
        if let Some(n) = parsed.tenant_max_pinned_calls {
            check_range(file, "tenant_max_pinned_calls", n, 0, MAX_STATE_KEYS)?;
        }
        for (key, n) in [
            ("header_read_timeout_ms", parsed.header_read_timeout_ms),
            ("body_read_timeout_ms", parsed.body_read_timeout_ms),
        ] {
            if let Some(n) = n {
                check_range(file, key, n, 100, 3_600_000)?;
            }
        }
        if let Some(n) = parsed.memory_budget_mib {
            check_range(file, "memory_budget_mib", n, 16, 1 << 20)?;
        }
        if let Some(n) = parsed.max_body_bytes {
            check_range(file, "max_body_bytes", n as u64, 1024, 64 << 20)?;
        }
        if let Some(n) = parsed.signature_window_secs {
            check_range(file, "signature_window_secs", n, 1, 10 * 366 * 86_400)?;
        }
        if let Some(h) = &parsed.admin_token_sha256 {
            check_token_hash(file, "admin_token_sha256", h)?;
        }
        if let Some(n) = parsed.inspect_records {
            check_range(file, "inspect_records", n as u64, 1, 10_000_000)?;
        }
        if let Some(n) = parsed.inspect_mib {
            check_range(file, "inspect_mib", n, 1, 1 << 16)?;
        }
        Ok(parsed)
    }
}

/// The server's settings, resolved once at start.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The plugin tree: `<tenant>/<app>.wasm`.
    pub plugins: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Public base URL, without a trailing slash (`http://ADDR` by default).
    pub public_url: Option<String>,
    /// Data directory: compiled artifacts (and state, later).
    pub data_dir: PathBuf,
    /// Most webhooks waiting for an instance at once, over all tenants.
    pub max_concurrent: usize,
    /// Most plugin instances running at once.
    pub max_running: usize,
    /// A tenant's instances running at once, unless its `tenant.toml` says otherwise.
    pub tenant_max_running: Option<usize>,
    /// A tenant's webhooks waiting at once, unless its `tenant.toml` says otherwise.
    pub tenant_max_queued: usize,
    /// A tenant's share of the memory budget, bytes, unless its `tenant.toml` says otherwise.
    pub tenant_memory_share_bytes: Option<u64>,
    /// A tenant's state quota, unless its `tenant.toml` says otherwise.
    pub tenant_state: crate::state::Limits,
    /// Most calls of one tenant pinned to their versions at once.
    pub tenant_max_pinned_calls: u64,
    /// Memory all instances may hold together, bytes.
    pub memory_budget_bytes: u64,
    /// Time a client has to send a request's headers (and most idle time between requests).
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body.
    pub body_read_timeout: Duration,
    /// Most open connections.
    pub max_connections: usize,
    /// Most bytes of compiled artifacts kept in the data directory.
    pub artifact_cache_bytes: u64,
    /// Largest webhook body.
    pub max_body_bytes: usize,
    /// Accepted `iat` skew of signed webhooks.
    pub signature_window: Duration,
    /// Where state and pins live; `None` means `<data_dir>/state.redb`.
    pub state: Option<crate::state::StateBackend>,
    /// The hex SHA-256 (lower case) of the operator's token, if one is configured.
    pub admin_token_sha256: Option<String>,
    /// Where the admin, deploy and inspector routes listen, when not on the webhook port.
    pub admin_listen: Option<SocketAddr>,
    /// Whether webhooks are recorded for the inspector.
    pub inspect: bool,
    /// Webhook records the inspector keeps.
    pub inspect_records: usize,
    /// Bytes of webhook records the inspector keeps.
    pub inspect_bytes: u64,
    /// What the inspector hides.
    pub inspect_redaction: crate::inspect::Redaction,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Whether plugins' HTTP requests may reach private, loopback and link-local addresses.
    pub allow_private_networks: bool,
    /// Where plugins' call-control requests go (`None`: Vonage's API).
    pub vonage_api_url: Option<String>,
}

/// What a tenant may use of the host's shared capacity, resolved from its `tenant.toml` and the
/// operator's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    /// Instances running at once.
    pub max_running: usize,
    /// Webhooks waiting at once.
    pub max_queued: usize,
    /// Memory its running instances may hold together, bytes.
    pub memory_bytes: u64,
}

impl ServeConfig {
    /// The shares of a tenant whose `[limits]` are `ceilings`.
    pub fn shares(&self, ceilings: &Ceilings) -> Shares {
        let running = ceilings.max_running.or(self.tenant_max_running).unwrap_or(self.max_running.div_ceil(2));
        let memory = ceilings
            .memory_share_mib
            .map(|m| m << 20)
            .or(self.tenant_memory_share_bytes)
            .unwrap_or(self.memory_budget_bytes / 2);
        Shares {
            max_running: running.clamp(1, self.max_running.max(1)),
            max_queued: ceilings.max_queued.unwrap_or(self.tenant_max_queued),
            memory_bytes: memory.min(self.memory_budget_bytes),
        }
    }

    /// The state backend in force.
    pub fn state_backend(&self) -> crate::state::StateBackend {
        self.state.clone().unwrap_or_else(|| crate::state::StateBackend::Embedded(self.data_dir.join(STATE_FILE)))
    }

    /// Defaults for serving `plugins`.
    pub fn new(plugins: PathBuf) -> Self {
        ServeConfig {
            plugins,
            listen: DEFAULT_LISTEN,
            public_url: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_running: RUNNING_PER_CORE * std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            tenant_max_running: None,
            tenant_max_queued: DEFAULT_TENANT_MAX_QUEUED,
            tenant_memory_share_bytes: None,
            tenant_state: crate::state::Limits::default(),
            tenant_max_pinned_calls: crate::state::DEFAULT_PINNED_CALLS,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_MIB << 20,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            artifact_cache_bytes: DEFAULT_ARTIFACT_CACHE_MIB << 20,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            signature_window: Duration::from_secs(DEFAULT_SIGNATURE_WINDOW_SECS),
            state: None,
            admin_token_sha256: None,
            admin_listen: None,
            inspect: true,
            inspect_records: crate::inspect::DEFAULT_RECORDS,
            inspect_bytes: crate::inspect::DEFAULT_RECORD_MIB << 20,
            inspect_redaction: crate::inspect::Redaction::default(),
            log_format: LogFormat::Text,
            allow_private_networks: false,
            vonage_api_url: None,
        }
    }
}
