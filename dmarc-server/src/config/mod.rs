//! Server configuration: defaults < TOML file < `DMARC_*` environment variables < flags.
//!
//! Every setting has an environment name derived from its place in the file: top-level
//! keys are `DMARC_<KEY>` (`DMARC_LISTEN`, `DMARC_DATABASE_URL`), keys of a section are
//! `DMARC_<SECTION>_<KEY>` (`DMARC_AUTH_BCRYPT_COST`, `DMARC_LIMITS_UPLOAD_MAX_FILES`).
//! Secrets never appear in `Debug` output or logs.
//!
//! The layering is written here (about 80 lines) rather than with figment: figment's `Env`
//! provider reads the process environment only, where `Config::load` takes the variables
//! as an argument (tests and embedders pass their own, without touching the process), it
//! splits names at every `_` where ours finds the section (`DMARC_SCHEDULES_PROCESS_REPORTS`
//! is `schedules.process_reports`), and it reads `yes`/`on` as text where ours reads them
//! as true.

use std::path::Path;

use serde::{Deserialize, Serialize};

mod geo;
mod ml;
mod senders;
pub use geo::GeoConfig;
pub use ml::MlConfig;

/// A secret string: shown as `***` in `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// Everything `dmarc serve` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: Secret,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// Trust the first address of `X-Forwarded-For` as the client's (behind a proxy).
    pub trust_forwarded_for: bool,
    /// TLS is in front of the server (a proxy terminates it): answers carry
    /// `Strict-Transport-Security` and cookies are `Secure`.
    pub tls_in_front: bool,
    /// Tokens and passwords.
    pub auth: AuthConfig,
    /// Sizes and rates.
    pub limits: LimitsConfig,
    /// Background jobs and workers.
    pub jobs: JobsConfig,
    /// When the scheduler queues each kind of job (cron expressions, UTC).
    pub schedules: SchedulesConfig,
    /// How long reports are kept.
    pub retention: RetentionConfig,
    /// Where alerts are sent.
    pub alerts: AlertsConfig,
    /// Geolocation of source addresses.
    pub geo: GeoConfig,
    /// Anomaly detection of sending sources.
    pub ml: MlConfig,
    /// Services added to the curated sender table (`[[senders]]` in the file): `name`,
    /// `asns`, `dkim_domains`. An entry named as a curated one replaces it.
    pub senders: Vec<dmarc_core::senders::Service>,
    /// The mailbox DMARC reports arrive in (none while `host` is empty).
    pub imap: MailboxConfig,
    /// Further mailboxes, with the same keys as `[imap]` (`[[mailboxes]]` in the file).
    pub mailboxes: Vec<MailboxConfig>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Tokens and passwords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 key for access tokens; empty: generated once and kept in the database, which
    /// every process on the same database then shares.
    pub jwt_secret: Secret,
    /// Lifetime of access tokens, seconds.
    pub access_token_ttl: u64,
    /// Lifetime of refresh tokens, seconds.
    pub refresh_token_ttl: u64,
    /// bcrypt cost of stored passwords (4..=31).
    pub bcrypt_cost: u32,
    /// Shortest password accepted.
    pub min_password_length: usize,
    /// Failed logins per minute from one client address (for any account); the client then
    /// waits. Successful logins are not counted.
    pub login_attempts_per_minute: u32,
    /// Failed logins per hour on one account from all clients together (distributed
    /// guessing); browsers that signed in to the account before (a device cookie) are not
    /// held back by it, so a stranger cannot lock the owner out.
    pub login_failures_per_hour_per_account: u32,
}

/// Background jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Worker tasks in this process (`dmarc serve` and `dmarc worker`); 0 runs none.
    pub workers: usize,
    /// Run the scheduler in `dmarc serve` (several processes may: each slot fires once).
    pub scheduler: bool,
    /// Runs of a job before it fails for good.
    pub max_attempts: u32,
    /// Wait before the first retry, milliseconds; doubled for each further retry (at most
    /// an hour).
    pub retry_backoff_ms: u64,
    /// How long a worker holds a job before another may take it, milliseconds; renewed
    /// while the job runs, so it only expires when the process died.
    pub lease_ms: u64,
    /// How often idle workers look for due jobs, milliseconds.
    pub poll_interval_ms: u64,
    /// Days finished jobs are kept.
    pub retention_days: u64,
}

/// Cron expressions (UTC; five fields, or six with seconds first); empty turns a schedule
/// off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulesConfig {
    /// Fetch reports from the mailboxes.
    pub email_ingestion: String,
    /// Parse stored inputs that were never parsed.
    pub process_reports: String,
    /// Evaluate alert rules.
    pub alert_evaluation: String,
    /// Train the anomaly model.
    pub ml_training: String,
    /// Score sources for anomalies.
    pub anomaly_detection: String,
    /// Delete reports past `retention.days` (only when it is set).
    pub purge: String,
    /// E-mail the digest (`alerts.digest_days` days; Monday 06:00 by default).
    pub alert_digest: String,
    /// Look up again places older than `geo.refresh_days` or from other databases.
    pub geo_refresh: String,
}

/// How long reports are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Reports whose period ended more than this many days ago are deleted by the daily
    /// purge job, with their records, aggregates, raw inputs and ingest-log rows; 0 keeps
    /// everything.
    pub days: u32,
}

/// Where alerts are sent: a channel without its address is off. The addresses are secrets
/// (a webhook URL is all it takes to post to a channel): never logged or answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// A Microsoft Teams Workflows webhook (it receives an Adaptive Card message).
    pub teams_webhook_url: Secret,
    /// A Slack incoming webhook.
    pub slack_webhook_url: Secret,
    /// A Discord webhook.
    pub discord_webhook_url: Secret,
    /// `smtp://USER:PASSWORD@HOST:587` (STARTTLS) or `smtps://USER:PASSWORD@HOST:465` (TLS).
    pub smtp_url: Secret,
    /// The sender of alert e-mails.
    pub email_from: String,
    /// Their recipients, separated by commas.
    pub email_to: String,
    /// A PEM file of further certificate authorities the SMTP server's certificate may be
    /// signed by (a private CA); the Mozilla roots are always trusted.
    pub smtp_ca_file: String,
    /// The recipients of the digest e-mail, separated by commas (`email_to` when empty).
    pub digest_to: String,
    /// The days a digest covers (7 for the weekly digest, 1 for a daily one), compared with
    /// as many days before.
    pub digest_days: u32,
    /// Send the digest even when there is nothing to report (no failing message, no new
    /// source, no open alert).
    pub digest_when_clean: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            teams_webhook_url: Secret::default(),
            slack_webhook_url: Secret::default(),
            discord_webhook_url: Secret::default(),
            smtp_url: Secret::default(),
            email_from: String::new(),
            email_to: String::new(),
            smtp_ca_file: String::new(),
            digest_to: String::new(),
            digest_days: 7,
            digest_when_clean: false,
        }
    }
}

impl AlertsConfig {
    /// The configured address of `channel` (`teams`, `slack`, `discord`, `email`), if any.
    pub fn address(&self, channel: &str) -> Option<&str> {
        let secret = match channel {
            "teams" => &self.teams_webhook_url,
            "slack" => &self.slack_webhook_url,
            "discord" => &self.discord_webhook_url,
            "email" => &self.smtp_url,
            _ => return None,
        };
        Some(secret.0.as_str()).filter(|a| !a.is_empty())
    }

    /// The recipients of alert e-mails.
    pub fn recipients(&self) -> Vec<&str> {
        list(&self.email_to)
    }

    /// The recipients of the digest.
    pub fn digest_recipients(&self) -> Vec<&str> {
        match list(&self.digest_to) {
            none if none.is_empty() => self.recipients(),
            some => some,
        }
    }
}

/// The items of a comma-separated list.
fn list(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect()
}

/// How to reach an IMAP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No encryption (tests, or a server on the same host).
    None,
}

/// One mailbox to fetch reports from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// Server name or address; empty: no mailbox.
    pub host: String,
    /// Port; 0 means 993 with `tls`, 143 otherwise.
    pub port: u16,
    /// Login name.
    pub user: String,
    /// Password.
    pub password: Secret,
    /// `tls`, `starttls` or `none`.
    pub tls: ImapTls,
    /// Where reports arrive.
    pub folder: String,
    /// Where messages go once their reports are stored (created when missing).
    pub processed_folder: String,
    /// Where messages without a report go (created when missing).
    pub failed_folder: String,
    /// A PEM file of further CAs to trust (besides the public web roots).
    pub ca_file: String,
    /// Messages fetched per round trip (memory is bounded by this times the input limit).
    pub batch_size: usize,
    /// Seconds before a connection, login or command is given up.
    pub timeout_seconds: u64,
}

impl MailboxConfig {
    /// The port, defaulted from the TLS mode.
    pub fn port(&self) -> u16 {
        match (self.port, self.tls) {
            (0, ImapTls::Tls) => 993,
            (0, _) => 143,
            (port, _) => port,
        }
    }

    /// `user@host:port/folder`, how logs and results name the mailbox.
    pub fn name(&self) -> String {
        format!(
            "{}@{}:{}/{}",
            self.user,
            self.host,
            self.port(),
            self.folder
        )
    }
}

/// Sizes and rates of inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Files per upload request.
    pub upload_max_files: usize,
    /// Bytes per uploaded file.
    pub upload_max_file_bytes: usize,
    /// Bytes per upload request.
    pub upload_max_request_bytes: usize,
    /// Bytes of any other request body (JSON).
    pub json_max_bytes: usize,
    /// Upload requests per minute per user.
    pub uploads_per_minute: u32,
    /// CSV exports per minute per user.
    pub csv_exports_per_minute: u32,
    /// PDF summaries per minute per user.
    pub pdf_exports_per_minute: u32,
    /// Ingestions (upload requests, mailbox passes) parsing at once in this process; more
    /// wait for a turn. Each holds one input, one payload's XML and the row budget.
    pub concurrent_ingests: usize,
    /// Records per ingest transaction, about; twice this many rows may wait for the
    /// database (one larger report goes alone).
    pub ingest_batch_records: u64,
    /// Longest a read (rollups, lists, records, exports) may run, milliseconds; a longer
    /// one is stopped and answered with 503.
    pub query_timeout_ms: u64,
    /// Expensive reads (lists, rollups, a report's records, exports) one user may have in
    /// flight at once; more are answered with 429.
    pub heavy_reads_per_user: usize,
    /// Largest input kept whole when it holds no report; a larger one is kept as its
    /// SHA-256, size and first 64 KiB.
    pub rejected_payload_max_bytes: u64,
    /// Bytes of rollup answers kept in memory, per process (0: no cache).
    pub cache_max_bytes: usize,
}

impl LimitsConfig {
    /// [`query_timeout_ms`](Self::query_timeout_ms) as a duration.
    pub fn query_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.query_timeout_ms)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: Secret(dmarc_store::DEFAULT_DATABASE_URL.into()),
            log_format: LogFormat::Text,
            trust_forwarded_for: false,
            tls_in_front: false,
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            jobs: JobsConfig::default(),
            schedules: SchedulesConfig::default(),
            retention: RetentionConfig::default(),
            alerts: AlertsConfig::default(),
            geo: GeoConfig::default(),
            ml: MlConfig::default(),
            senders: Vec::new(),
            imap: MailboxConfig::default(),
            mailboxes: Vec::new(),
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            workers: 2,
            scheduler: true,
            max_attempts: 3,
            retry_backoff_ms: 30_000,
            lease_ms: 300_000,
            poll_interval_ms: 1_000,
            retention_days: 30,
        }
    }
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        SchedulesConfig {
            email_ingestion: "*/15 * * * *".into(),
            process_reports: "*/5 * * * *".into(),
            alert_evaluation: "0 * * * *".into(),
            ml_training: "0 2 * * 0".into(),
            anomaly_detection: "0 3 * * *".into(),
            purge: "30 4 * * *".into(),
            alert_digest: "0 6 * * 1".into(),
            geo_refresh: "30 1 * * *".into(),
        }
    }
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig {
            host: String::new(),
            port: 0,
            user: String::new(),
            password: Secret::default(),
            tls: ImapTls::Tls,
            folder: "INBOX".into(),
            processed_folder: "Processed".into(),
            failed_folder: "Failed".into(),
            ca_file: String::new(),
            batch_size: 50,
            timeout_seconds: 60,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: Secret::default(),
            access_token_ttl: 15 * 60,
            refresh_token_ttl: 7 * 24 * 3600,
            bcrypt_cost: 12,
            min_password_length: 12,
            login_attempts_per_minute: 10,
            login_failures_per_hour_per_account: 100,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            upload_max_files: 200,
            upload_max_file_bytes: 32 << 20,
            upload_max_request_bytes: 512 << 20,
            json_max_bytes: 64 << 10,
            uploads_per_minute: 30,
            csv_exports_per_minute: 10,
            pdf_exports_per_minute: 5,
            concurrent_ingests: 2,
            ingest_batch_records: 20_000,
            query_timeout_ms: 30_000,
            heavy_reads_per_user: 4,
            rejected_payload_max_bytes: 1 << 20,
            cache_max_bytes: 64 << 20,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file, or a value from the environment, is not valid.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file or the variable.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(origin: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        origin: origin.into(),
        message: message.to_string(),
    }
}

impl Config {
    /// Defaults, then the TOML file (when given), then `DMARC_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut tree =
            toml::Table::try_from(Config::default()).map_err(|e| invalid("defaults", e))?;
        if let Some(path) = file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: origin.clone(),
                source,
            })?;
            let from_file: toml::Table = text.parse().map_err(|e| invalid(&origin, e))?;
            // Unknown keys are reported by name rather than ignored.
            Config::deserialize(toml::Value::Table(from_file.clone()))
                .map_err(|e| invalid(&origin, e))?;
            merge(&mut tree, from_file);
        }
        for (name, value) in env {
            apply_env(&mut tree, &name, &value)?;
        }
        let config = Config::deserialize(toml::Value::Table(tree))
            .map_err(|e| invalid("configuration", e))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(invalid("auth.bcrypt_cost", "must be between 4 and 31"));
        }
        if self.auth.access_token_ttl == 0 || self.auth.refresh_token_ttl == 0 {
            return Err(invalid("auth", "token lifetimes must be positive"));
        }
        if self.limits.heavy_reads_per_user == 0 {
            return Err(invalid("limits.heavy_reads_per_user", "must be positive"));
        }
        if self.limits.query_timeout_ms == 0 {
            return Err(invalid("limits.query_timeout_ms", "must be positive"));
        }
        if self.limits.concurrent_ingests == 0 {
            return Err(invalid("limits.concurrent_ingests", "must be positive"));
        }
        if self.limits.ingest_batch_records == 0 {
            return Err(invalid("limits.ingest_batch_records", "must be positive"));
        }
        if self.limits.upload_max_files == 0 {
            return Err(invalid("limits.upload_max_files", "must be positive"));
        }
        if let Some(problem) = self.ml.problem() {
            return Err(invalid("ml", problem));
        }
        if let Some((which, problem)) = senders::problem(&self.senders) {
            return Err(invalid(which, problem));
        }
        if !(1..=3650).contains(&self.geo.refresh_days) {
            return Err(invalid("geo.refresh_days", "must be between 1 and 3650"));
        }
        if self.jobs.max_attempts == 0 || self.jobs.lease_ms == 0 || self.jobs.poll_interval_ms == 0
        {
            return Err(invalid(
                "jobs",
                "max_attempts, lease_ms and poll_interval_ms must be positive",
            ));
        }
        for channel in ["teams", "slack", "discord"] {
            if let Some(url) = self.alerts.address(channel)
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(invalid(
                    format!("alerts.{channel}_webhook_url"),
                    "must be an http(s) URL",
                ));
            }
        }
        if let Some(url) = self.alerts.address("email") {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(invalid(
                    "alerts.smtp_url",
                    "must start with smtp:// or smtps://",
                ));
            }
            if self.alerts.email_from.trim().is_empty() || self.alerts.recipients().is_empty() {
                return Err(invalid(
                    "alerts",
                    "e-mail alerts need email_from and email_to",
                ));
            }
        }
        if !(1..=366).contains(&self.alerts.digest_days) {
            return Err(invalid("alerts.digest_days", "must be from 1 to 366"));
        }
        for (name, expression) in self.schedules.all() {
            crate::cron::parse(expression)
                .map_err(|e| invalid(format!("schedules.{}", name.replace('-', "_")), e))?;
        }
        let named = std::iter::once(("imap".to_owned(), &self.imap)).chain(
            self.mailboxes
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("mailboxes[{i}]"), m)),
        );
        for (origin, mailbox) in named.filter(|(_, m)| !m.host.is_empty()) {
            if mailbox.user.is_empty() {
                return Err(invalid(origin, "a mailbox needs a user"));
            }
            if mailbox.batch_size == 0 || mailbox.timeout_seconds == 0 {
                return Err(invalid(
                    origin,
                    "batch_size and timeout_seconds must be positive",
                ));
            }
        }
        Ok(())
    }

    /// The mailboxes to fetch: `[imap]` when it names a host, then `[[mailboxes]]`.
    pub fn mailboxes(&self) -> impl Iterator<Item = &MailboxConfig> {
        std::iter::once(&self.imap)
            .chain(&self.mailboxes)
            .filter(|m| !m.host.is_empty())
    }
}

impl SchedulesConfig {
    /// `(job kind, expression)` of every schedule, in a fixed order.
    pub fn all(&self) -> [(&'static str, &str); 8] {
        [
            ("email-ingestion", &self.email_ingestion),
            ("process-reports", &self.process_reports),
            ("alert-evaluation", &self.alert_evaluation),
            ("ml-training", &self.ml_training),
            ("anomaly-detection", &self.anomaly_detection),
            ("purge", &self.purge),
            ("alert-digest", &self.alert_digest),
            ("geo-refresh", &self.geo_refresh),
        ]
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Applies one `DMARC_*` variable when it names a setting (other `DMARC_*` variables, such
/// as `DMARC_CONFIG`, are not settings and are left alone). The value is read as the
/// setting's type.
fn apply_env(tree: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let Some(rest) = name.strip_prefix("DMARC_") else {
        return Ok(());
    };
    let rest = rest.to_ascii_lowercase();
    let slot = if tree.get(&rest).is_some_and(|v| !v.is_table()) {
        tree.get_mut(&rest)
    } else {
        let section = tree
            .iter()
            .filter(|(_, v)| v.is_table())
            .map(|(k, _)| k.clone())
            .find(|section| {
                rest.strip_prefix(section.as_str())
                    .and_then(|r| r.strip_prefix('_'))
                    .is_some()
            });
        match section {
            Some(section) => {
                let key = &rest[section.len() + 1..];
                tree.get_mut(&section)
                    .and_then(|t| t.as_table_mut())
                    .and_then(|t| t.get_mut(key))
            }
            None => None,
        }
    };
    let Some(slot) = slot else {
        return Ok(());
    };
    *slot = match slot {
        toml::Value::Integer(_) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| invalid(name, format!("{value:?} is not a whole number")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match value.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(invalid(name, format!("{value:?} is not true or false"))),
        }),
        _ => toml::Value::String(value.to_owned()),
    };
    Ok(())
}

#[cfg(test)]
mod tests;
