//! Notifiers as configured: where alert events go and how often.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::host::HttpHeader;
use crate::secret::{redact_url, redact_url_path, Secret};

/// One named notifier from the `notifiers` section.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub name: Arc<str>,
    pub kind: NotifierKind,
    /// At most one `down`/`degraded` alert per host per cooldown; recoveries are never held.
    pub cooldown: Option<Duration>,
    /// Repeat a `reminder` while a host stays down; `None`: never.
    pub remind_every: Option<Duration>,
    /// Send `up` events after a `down`.
    pub send_resolved: bool,
    /// In a cluster: also tell this notifier of a host failing in some locations but fewer
    /// than the quorum (`partial`), as a `degraded` event; others hear nothing of it.
    pub partial: bool,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// `group_by`: what events are collected into one delivery by; empty (the default):
    /// every event is delivered on its own.
    pub group_by: Vec<GroupKey>,
    /// `group_wait`: how long the first event of a group waits for more before the group is
    /// delivered. Only used when `group_by` is not empty; [`Self::DEFAULT_GROUP_WAIT`] when
    /// not written.
    pub group_wait: Duration,
    /// The tenant whose file the notifier is in (its name is then `<tenant>/<name>`); `None`:
    /// the main configuration's.
    pub tenant: Option<Arc<str>>,
}

impl NotifierConfig {
    /// As Alertmanager's `group_wait`: long enough for the hosts behind one failure to fail
    /// together, short enough that the first page is not late.
    pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
    pub const MIN_GROUP_WAIT: Duration = Duration::from_secs(1);
    pub const MAX_GROUP_WAIT: Duration = Duration::from_secs(3600);

    /// Whether events are collected into groups (`group_by` is set).
    pub fn is_grouped(&self) -> bool {
        !self.group_by.is_empty()
    }
}

/// One key of `group_by`: events with the same value of every listed key are delivered
/// together (`{"group": "payments", "events": [...]}`); other events are not held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKey {
    /// The host's `group`; a host without one is a group of its own.
    Group,
    /// The host's label: one host's events, such as a flap, in one delivery.
    Host,
}

impl GroupKey {
    pub const NAMES: &'static [&'static str] = &["group", "host"];

    /// The key as written in `group_by`.
    pub fn name(self) -> &'static str {
        match self {
            GroupKey::Group => "group",
            GroupKey::Host => "host",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "group" => Some(GroupKey::Group),
            "host" => Some(GroupKey::Host),
            _ => None,
        }
    }
}

/// How a failed delivery is retried: exponential backoff with jitter, until the event is
/// `max_age` old. The same event (same `id`) is sent on every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; each later failure doubles it.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How long after the event a failing delivery is given up.
    pub max_age: Duration,
}

impl RetryPolicy {
    pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Self::DEFAULT_BACKOFF,
            max_backoff: Self::DEFAULT_MAX_BACKOFF,
            max_age: Self::DEFAULT_MAX_AGE,
        }
    }
}

/// The delivery channel and its own settings.
#[derive(Debug, Clone)]
pub enum NotifierKind {
    /// One line per event on standard output.
    Stdout { format: EventFormat },
    /// One JSON object per line, appended to a file.
    File { path: PathBuf },
    /// An HTTP POST per event.
    Webhook(WebhookConfig),
    /// A program run per event, the event as JSON on stdin.
    Command(CommandConfig),
    /// A notifier type a plugin adds (`type: <plugin name>`): delivered by its process.
    Plugin(crate::plugin::PluginUse, Duration),
    /// Alertmanager API v2: an alert per host, re-posted while it lasts.
    Alertmanager(AlertmanagerConfig),
    /// A mail per event (or per group) over SMTP.
    Email(EmailConfig),
}

impl NotifierKind {
    /// The type as written in `type:`.
    pub fn kind(&self) -> &'static str {
        match self {
            NotifierKind::Stdout { .. } => "stdout",
            NotifierKind::File { .. } => "file",
            NotifierKind::Webhook(_) => "webhook",
            NotifierKind::Command(_) => "command",
            NotifierKind::Plugin(..) => "plugin",
            NotifierKind::Alertmanager(_) => "alertmanager",
            NotifierKind::Email(_) => "email",
        }
    }

    /// Where events go, fit to print (webhook paths often hold tokens, so they are hidden).
    pub fn target(&self) -> String {
        match self {
            NotifierKind::Stdout { format } => format!("standard output ({})", format.name()),
            NotifierKind::File { path } => path.display().to_string(),
            NotifierKind::Webhook(hook) => {
                format!("{} ({})", redact_url_path(&hook.url), hook.format.name())
            }
            NotifierKind::Command(command) => command.argv.first().cloned().unwrap_or_default(),
            NotifierKind::Plugin(plugin, _) => format!("plugin {}", plugin.plugin),
            NotifierKind::Alertmanager(am) => redact_url(&am.url),
            NotifierKind::Email(email) => format!(
                "{} via {}://{}:{} ({})",
                email.to.join(", "),
                email.security.scheme(),
                email.host,
                email.port,
                email.security.name()
            ),
        }
    }
}

/// How the stdout notifier prints an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    /// One human-readable line.
    Text,
    /// The event's JSON object.
    Json,
}

impl EventFormat {
    pub const NAMES: &'static [&'static str] = &["text", "json"];

    pub fn name(self) -> &'static str {
        match self {
            EventFormat::Text => "text",
            EventFormat::Json => "json",
        }
    }
}

#[derive(Clone)]
pub struct WebhookConfig {
    pub url: Url,
    pub headers: Vec<HttpHeader>,
    pub timeout: Duration,
    pub format: WebhookFormat,
    /// PagerDuty's integration key; required by `format: pagerduty`.
    pub routing_key: Option<Secret>,
    /// The Telegram chat messages go to (a numeric id, or `@channelusername`); required by
    /// `format: telegram` and refused by the others.
    pub chat_id: Option<String>,
}

impl fmt::Debug for WebhookConfig {
    /// Only the URL's scheme and host: Slack and Discord put the token in the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redact_url_path(&self.url))
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("format", &self.format)
            .field("routing_key", &self.routing_key)
            .field("chat_id", &self.chat_id)
            .finish()
    }
}

/// The payload shape a webhook receiver expects (and, for a few, how it is sent: see
/// [`WebhookFormat::ALL`] and docs/alerts.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Generic,
    Slack,
    Discord,
    Pagerduty,
    /// incident.io HTTP alert source: an alert event keyed by `flowstate-<host>`.
    Incidentio,
    /// Microsoft Teams Workflows webhook: a message with one Adaptive Card.
    Teams,
    /// Telegram Bot API `sendMessage` (the URL holds the bot token; `chat_id` is required).
    Telegram,
    /// ntfy: JSON published to the server root, the topic taken from the URL's last segment.
    Ntfy,
    /// Gotify `POST /message`; the app token in the `X-Gotify-Key` header.
    Gotify,
    /// Matrix client-server API: `PUT .../send/m.room.message/{txnId}`, the event id as txnId.
    Matrix,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 10] = [
        WebhookFormat::Generic,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Pagerduty,
        WebhookFormat::Incidentio,
        WebhookFormat::Teams,
        WebhookFormat::Telegram,
        WebhookFormat::Ntfy,
        WebhookFormat::Gotify,
        WebhookFormat::Matrix,
    ];

    pub const NAMES: &'static [&'static str] = &[
        "generic",
        "slack",
        "discord",
        "pagerduty",
        "incidentio",
        "teams",
        "telegram",
        "ntfy",
        "gotify",
        "matrix",
    ];

    pub fn name(self) -> &'static str {
        match self {
            WebhookFormat::Generic => "generic",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Pagerduty => "pagerduty",
            WebhookFormat::Incidentio => "incidentio",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Telegram => "telegram",
            WebhookFormat::Ntfy => "ntfy",
            WebhookFormat::Gotify => "gotify",
            WebhookFormat::Matrix => "matrix",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        WebhookFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandConfig {
    /// The program and its arguments; run directly, never through a shell.
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// `type: alertmanager`: alerts posted to `{url}/api/v2/alerts`.
#[derive(Clone)]
pub struct AlertmanagerConfig {
    /// The Alertmanager's base URL (`http://127.0.0.1:9093`); `/api/v2/alerts` is appended.
    pub url: Url,
    pub headers: Vec<HttpHeader>,
    pub timeout: Duration,
    /// How often an active alert is posted again. Alertmanager resolves an alert whose
    /// `endsAt` passed, so each post says `endsAt = now + 4 × resend_every`: a flowstate that
    /// died leaves no alert firing forever, and a few lost posts close nothing.
    pub resend_every: Duration,
}

impl AlertmanagerConfig {
    /// As Prometheus's `--rules.alert.resend-delay`.
    pub const DEFAULT_RESEND_EVERY: Duration = Duration::from_secs(60);
    pub const MIN_RESEND_EVERY: Duration = Duration::from_secs(1);
    pub const MAX_RESEND_EVERY: Duration = Duration::from_secs(3600);
}

impl fmt::Debug for AlertmanagerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertmanagerConfig")
            .field("url", &redact_url(&self.url))
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("resend_every", &self.resend_every)
            .finish()
    }
}

/// How the email notifier protects its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS when the server offers it, plain text otherwise.
    Opportunistic,
    /// `smtp://` with `starttls: required`: no STARTTLS, no mail.
    Required,
    /// `smtp://` with `starttls: never`: plain text; only for a server on loopback.
    Never,
    /// `smtps://`: TLS from the first byte.
    Tls,
}

impl SmtpSecurity {
    /// The values of `starttls:`.
    pub const STARTTLS_NAMES: &'static [&'static str] = &["opportunistic", "required", "never"];

    pub fn name(self) -> &'static str {
        match self {
            SmtpSecurity::Opportunistic => "opportunistic",
            SmtpSecurity::Required => "required",
            SmtpSecurity::Never => "never",
            SmtpSecurity::Tls => "tls",
        }
    }

    pub fn scheme(self) -> &'static str {
        match self {
            SmtpSecurity::Tls => "smtps",
            _ => "smtp",
        }
    }
}

/// `type: email`: a mail per event over SMTP.
#[derive(Clone)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// From the URL's user part, percent-decoded.
    pub username: Option<String>,
    /// From the URL's password part, percent-decoded; never printed.
    pub password: Option<Secret>,
    /// The sender, `alerts@example.com` or `flowstate <alerts@example.com>`.
    pub from: String,
    /// Every recipient, each in the same form as `from`.
    pub to: Vec<String>,
    /// The subject template; [`EmailConfig::DEFAULT_SUBJECT`] when not written.
    pub subject: String,
    /// A PEM file of CA certificates to trust besides the WebPKI roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (a test server, a self-signed relay).
    pub insecure: bool,
    pub timeout: Duration,
}

impl EmailConfig {
    pub const DEFAULT_SUBJECT: &'static str = "[flowstate] {host} is {status}";
    /// The placeholders a subject may hold.
    pub const PLACEHOLDERS: &'static [&'static str] =
        &["host", "status", "event", "reason", "group"];
    pub const SMTP_PORT: u16 = 587;
    pub const SMTPS_PORT: u16 = 465;
}

impl fmt::Debug for EmailConfig {
    /// Everything but the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("ca_file", &self.ca_file)
            .field("insecure", &self.insecure)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The password as [`NotifierConfig::settings`] holds it: a keyed fingerprint under a key drawn
/// once per process, so two loads in one daemon compare equal when (and only when) the password
/// is the same, and nothing printed or compared elsewhere can give it back.
fn password_tag(password: &Secret) -> String {
    static KEY: std::sync::OnceLock<Option<crate::FingerprintKey>> = std::sync::OnceLock::new();
    match KEY.get_or_init(|| crate::FingerprintKey::random().ok()) {
        Some(key) => key.fingerprint(password.expose()),
        // Without randomness a password change goes unnoticed until a restart: better than
        // holding the password where a diff could show it.
        None => crate::secret::REDACTED.to_string(),
    }
}

impl NotifierConfig {
    /// Every setting as `(key, value)`, secrets included (but the SMTP password only as a
    /// keyed fingerprint): for comparing two versions.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let mut settings = vec![("type", self.kind.kind().to_string())];
        match &self.kind {
            NotifierKind::Stdout { format } => settings.push(("format", format.name().into())),
            NotifierKind::File { path } => settings.push(("path", path.display().to_string())),
            NotifierKind::Webhook(hook) => {
                settings.push(("url", hook.url.to_string()));
                let headers: Vec<String> = hook
                    .headers
                    .iter()
                    .map(|h| format!("{}: {}", h.name, h.value))
                    .collect();
                settings.push(("headers", headers.join(", ")));
                settings.push(("timeout", duration(hook.timeout)));
                settings.push(("format", hook.format.name().into()));
                settings.push((
                    "routing_key",
                    hook.routing_key
                        .as_ref()
                        .map(|k| k.expose().to_string())
                        .unwrap_or_default(),
                ));
                settings.push(("chat_id", hook.chat_id.clone().unwrap_or_default()));
            }
            NotifierKind::Command(command) => {
                settings.push(("command", command.argv.join(" ")));
                settings.push(("timeout", duration(command.timeout)));
            }
            NotifierKind::Plugin(plugin, timeout) => {
                settings.push(("plugin", plugin.plugin.to_string()));
                settings.push(("settings", plugin.settings.to_string()));
                settings.push(("timeout", duration(*timeout)));
            }
            NotifierKind::Alertmanager(am) => {
                settings.push(("url", am.url.to_string()));
                let headers: Vec<String> = am
                    .headers
                    .iter()
                    .map(|h| format!("{}: {}", h.name, h.value))
                    .collect();
                settings.push(("headers", headers.join(", ")));
                settings.push(("timeout", duration(am.timeout)));
                settings.push(("resend_every", duration(am.resend_every)));
            }
            NotifierKind::Email(email) => {
                settings.push((
                    "url",
                    format!(
                        "{}://{}:{}",
                        email.security.scheme(),
                        email.host,
                        email.port
                    ),
                ));
                settings.push(("starttls", email.security.name().into()));
                settings.push(("username", email.username.clone().unwrap_or_default()));
                settings.push((
                    "password",
                    email
                        .password
                        .as_ref()
                        .map(password_tag)
                        .unwrap_or_default(),
                ));
                settings.push(("from", email.from.clone()));
                settings.push(("to", email.to.join(", ")));
                settings.push(("subject", email.subject.clone()));
                settings.push((
                    "ca_file",
                    email
                        .ca_file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ));
                settings.push(("insecure", email.insecure.to_string()));
                settings.push(("timeout", duration(email.timeout)));
            }
        }
        settings.push(("cooldown", self.cooldown.map(duration).unwrap_or_default()));
        settings.push((
            "remind_every",
            self.remind_every.map(duration).unwrap_or_default(),
        ));
        settings.push(("send_resolved", self.send_resolved.to_string()));
        settings.push(("partial", self.partial.to_string()));
        settings.push(("backoff", duration(self.retry.backoff)));
        settings.push(("max_backoff", duration(self.retry.max_backoff)));
        settings.push(("max_age", duration(self.retry.max_age)));
        let group_by: Vec<&str> = self.group_by.iter().map(|k| k.name()).collect();
        settings.push(("group_by", group_by.join(", ")));
        settings.push((
            "group_wait",
            match self.is_grouped() {
                true => duration(self.group_wait),
                false => String::new(),
            },
        ));
        settings
    }
}
