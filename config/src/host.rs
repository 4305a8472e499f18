//! One monitored host as configured: what to check, how often, and who to tell.
//!
//! Immutable once loaded and shared as `Arc<HostConfiguration>`; the running system keeps its
//! mutable state elsewhere, keyed by [`HostConfiguration::label`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use url::Url;

use crate::check::tls_settings;
pub use crate::check::{
    DnsCheck, DnsRecord, GrpcCheck, HttpAuth, HttpVersion, IcmpCheck, ScriptCheck, TcpCheck,
    TlsSettings,
};
use crate::fingerprint::FingerprintKey;
use crate::flapping::FlappingSettings;
use crate::secret::{is_sensitive_name, REDACTED};

/// Where a host was defined: its file and its position in that file's `hosts` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<Path>,
    pub index: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: hosts[{}]", self.file.display(), self.index)
    }
}

/// A host's complete, effective configuration (defaults already applied).
#[derive(Debug, Clone)]
pub struct HostConfiguration {
    /// The host's identity: unique across all files and stable across reloads.
    pub label: Arc<str>,
    pub check: Check,
    pub interval: Duration,
    /// Bounds the whole check: resolve, connect, TLS, request and body.
    pub timeout: Duration,
    /// Consecutive failed checks before the host is `down`.
    pub failure_threshold: u32,
    /// Consecutive passed checks before the host is `up` again.
    pub success_threshold: u32,
    /// A passing check slower than this makes the host `degraded`.
    pub max_response_time: Option<Duration>,
    /// Notifier names that hear about this host's changes.
    pub alerts: Vec<Arc<str>>,
    /// `group`: a name the dashboard groups and filters hosts by; `None` when not set.
    pub group: Option<Arc<str>>,
    /// Shown on the public status page (`/status`); every other page needs the token.
    pub public: bool,
    /// What this host needs to be reachable (`depends_on`), in the order written.
    pub depends_on: Vec<crate::dependencies::Dependency>,
    /// Flapping detection (`flapping`, else `defaults.flapping`); `None`: off.
    pub flapping: Option<FlappingSettings>,
    /// The locations that check this host (`locations`, else `defaults.locations`), sorted;
    /// `None`: every location. Only with `cluster`; see [`Self::checked_in`].
    pub locations: Option<Vec<Arc<str>>>,
    pub origin: Origin,
    /// The tenant whose file the host is in (its label is then `<tenant>/<label>`); `None`:
    /// the main configuration's.
    pub tenant: Option<Arc<str>>,
}

/// What a host checks. One variant per check type.
// Each host's configuration is allocated once and shared by `Arc`: the size of the largest
// variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Check {
    Http(HttpCheck),
    Tcp(TcpCheck),
    Dns(DnsCheck),
    Icmp(IcmpCheck),
    Script(ScriptCheck),
    Grpc(GrpcCheck),
    /// A check type a plugin adds (`type: <plugin name>`): run by the plugin's process.
    Plugin(crate::plugin::PluginUse),
}

impl Check {
    /// The check type as written in `type:`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Http(_) => "http",
            Check::Tcp(_) => "tcp",
            Check::Dns(_) => "dns",
            Check::Icmp(_) => "icmp",
            Check::Script(_) => "script",
            Check::Grpc(_) => "grpc",
            Check::Plugin(_) => "plugin",
        }
    }

    /// The type as written in `type:`: the plugin's name for a plugin's type.
    pub fn type_name(&self) -> &str {
        match self {
            Check::Plugin(plugin) => &plugin.plugin,
            other => other.kind(),
        }
    }

    /// What is checked, fit to print (secrets redacted; script arguments may hold tokens).
    pub fn target(&self) -> String {
        match self {
            Check::Http(http) => http.shown_url.clone(),
            Check::Tcp(tcp) => tcp.address.clone(),
            Check::Dns(dns) => format!("{} {}", dns.record.name(), dns.name),
            Check::Icmp(icmp) => icmp.address.clone(),
            Check::Script(script) => script.argv.first().cloned().unwrap_or_default(),
            Check::Plugin(plugin) => format!("plugin {}", plugin.plugin),
            Check::Grpc(grpc) => format!(
                "{}{}",
                grpc.address,
                if grpc.service.is_empty() {
                    String::new()
                } else {
                    format!(" {}", grpc.service)
                }
            ),
        }
    }
}

/// An HTTP(S) request and what its answer must look like.
#[derive(Clone)]
pub struct HttpCheck {
    pub url: Url,
    /// The URL as it may be printed: its password, credential-like query values and every
    /// part that came from a `${VAR}` shown as `***` (see [`crate::secret::shown_url`]).
    pub shown_url: String,
    pub method: String,
    pub headers: Vec<HttpHeader>,
    pub body: Option<String>,
    pub status: ExpectedStatus,
    /// Compiled once at load; the body is read only when this is set.
    pub regex: Option<Regex>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    /// How much of the body is read for `regex`.
    pub max_body_bytes: usize,
    pub auth: Option<HttpAuth>,
    pub tls: TlsSettings,
    pub http_version: HttpVersion,
    /// Reuse connections between checks; the default opens a fresh one each time, so a
    /// server that accepts no new connections is seen as down.
    pub keepalive: bool,
}

/// The default for [`HttpCheck::max_body_bytes`].
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCheck")
            .field("url", &self.shown_url)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field(
                "body",
                &self.body.as_ref().map(|b| format!("<{} bytes>", b.len())),
            )
            .field("status", &self.status)
            .field("regex", &self.regex.as_ref().map(Regex::as_str))
            .field("follow_redirects", &self.follow_redirects)
            .field("max_redirects", &self.max_redirects)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("http_version", &self.http_version)
            .field("keepalive", &self.keepalive)
            .finish()
    }
}

/// One request header. Its value is redacted when printed if the name looks like a credential
/// or the value came from an environment variable.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
    pub sensitive: bool,
}

impl HttpHeader {
    pub fn new(name: impl Into<String>, value: impl Into<String>, from_environment: bool) -> Self {
        let name = name.into();
        let sensitive = from_environment || is_sensitive_name(&name);
        HttpHeader {
            name,
            value: value.into(),
            sensitive,
        }
    }

    /// The value as it may be printed.
    pub fn shown_value(&self) -> &str {
        if self.sensitive {
            REDACTED
        } else {
            &self.value
        }
    }
}

impl fmt::Debug for HttpHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.shown_value())
    }
}

/// Which response status codes pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedStatus {
    /// Any 2xx: what `status` absent means.
    AnySuccess,
    OneOf(Vec<u16>),
}

impl ExpectedStatus {
    pub fn accepts(&self, code: u16) -> bool {
        match self {
            ExpectedStatus::AnySuccess => (200..300).contains(&code),
            ExpectedStatus::OneOf(codes) => codes.contains(&code),
        }
    }
}

impl fmt::Display for ExpectedStatus {
    /// `2xx`, `200`, `200 or 204`, `200, 204 or 301`: as it reads in a failure reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedStatus::AnySuccess => f.write_str("2xx"),
            ExpectedStatus::OneOf(codes) => {
                for (i, code) in codes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(if i + 1 == codes.len() { " or " } else { ", " })?;
                    }
                    write!(f, "{code}")?;
                }
                Ok(())
            }
        }
    }
}

impl HostConfiguration {
    /// Every effective setting as `(key, value)` in a fixed order, secrets included: what a
    /// reload compares to decide whether a host changed, and which keys did.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        self.settings_with(|header| header.value.clone(), str::to_string)
    }

    fn settings_with(
        &self,
        header_value: impl Fn(&HttpHeader) -> String,
        secret_value: impl Fn(&str) -> String,
    ) -> Vec<(&'static str, String)> {
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let mut settings = vec![
            ("type", self.check.kind().to_string()),
            ("public", self.public.to_string()),
            (
                "depends_on",
                self.depends_on
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ];
        match &self.check {
            Check::Http(http) => {
                settings.push(("url", http.url.to_string()));
                settings.push(("method", http.method.clone()));
                let headers: Vec<String> = http
                    .headers
                    .iter()
                    .map(|h| format!("{}: {}", h.name, header_value(h)))
                    .collect();
                settings.push(("headers", headers.join(", ")));
                settings.push(("body", http.body.clone().unwrap_or_default()));
                settings.push(("status", http.status.to_string()));
                settings.push((
                    "regex",
                    http.regex
                        .as_ref()
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                ));
                settings.push(("follow_redirects", http.follow_redirects.to_string()));
                settings.push(("max_redirects", http.max_redirects.to_string()));
                settings.push(("max_body_bytes", http.max_body_bytes.to_string()));
                settings.push((
                    "auth",
                    match &http.auth {
                        None => String::new(),
                        Some(HttpAuth::Basic { username, password }) => {
                            format!("basic {username}:{}", secret_value(password.expose()))
                        }
                        Some(HttpAuth::Bearer(token)) => {
                            format!("bearer {}", secret_value(token.expose()))
                        }
                    },
                ));
                settings.push(("tls", tls_settings(&http.tls)));
                settings.push(("http_version", http.http_version.name().to_string()));
                settings.push(("keepalive", http.keepalive.to_string()));
            }
            Check::Tcp(tcp) => {
                settings.push(("address", tcp.address.clone()));
                settings.push(("send", tcp.send.clone().unwrap_or_default()));
                settings.push((
                    "expect",
                    tcp.expect
                        .as_ref()
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                ));
            }
            Check::Dns(dns) => {
                settings.push(("name", dns.name.clone()));
                settings.push(("record", dns.record.name().to_string()));
                settings.push((
                    "resolver",
                    dns.resolver.map(|r| r.to_string()).unwrap_or_default(),
                ));
                settings.push(("expect", dns.expect.join(", ")));
            }
            Check::Icmp(icmp) => {
                settings.push(("address", icmp.address.clone()));
                settings.push(("count", icmp.count.to_string()));
                settings.push(("max_loss", format!("{}%", icmp.max_loss)));
            }
            Check::Script(script) => {
                settings.push(("command", script.argv.join(" ")));
                let env: Vec<String> = script
                    .env
                    .iter()
                    .map(|(k, v)| format!("{k}={}", secret_value(v)))
                    .collect();
                settings.push(("env", env.join(", ")));
            }
            Check::Plugin(plugin) => {
                settings.push(("plugin", plugin.plugin.to_string()));
                settings.push(("settings", secret_value(&plugin.settings.to_string())));
            }
            Check::Grpc(grpc) => {
                settings.push(("address", grpc.address.clone()));
                settings.push(("service", grpc.service.clone()));
                settings.push((
                    "tls",
                    grpc.tls.as_ref().map(tls_settings).unwrap_or_default(),
                ));
            }
        }
        settings.push(("interval", duration(self.interval)));
        settings.push(("timeout", duration(self.timeout)));
        settings.push(("failure_threshold", self.failure_threshold.to_string()));
        settings.push(("success_threshold", self.success_threshold.to_string()));
        settings.push((
            "max_response_time",
            self.max_response_time.map(duration).unwrap_or_default(),
        ));
        let alerts: Vec<&str> = self.alerts.iter().map(|a| &**a).collect();
        settings.push(("alerts", alerts.join(", ")));
        settings.push((
            "group",
            self.group.as_deref().unwrap_or_default().to_string(),
        ));
        settings.push((
            "flapping",
            self.flapping.map(|f| f.to_string()).unwrap_or_default(),
        ));
        settings.push((
            "locations",
            self.locations
                .as_deref()
                .map(|l| l.join(", "))
                .unwrap_or_default(),
        ));
        settings
    }

    /// Whether agents of `location` check this host: those of every location when it names
    /// none.
    pub fn checked_in(&self, location: &str) -> bool {
        self.locations.as_deref().is_none_or(|names| {
            names
                .binary_search_by(|name| (**name).cmp(location))
                .is_ok()
        })
    }
}

impl HostConfiguration {
    /// Whether every effective setting equals `other`'s (the origin aside): what
    /// [`Self::settings`] would compare, without formatting a string, so diffing 10 000 hosts
    /// costs next to nothing.
    pub fn same_settings(&self, other: &HostConfiguration) -> bool {
        let checks_equal = match (&self.check, &other.check) {
            (Check::Http(a), Check::Http(b)) => {
                a.url == b.url
                    && a.method == b.method
                    && a.headers == b.headers
                    && a.body == b.body
                    && a.status == b.status
                    && a.regex.as_ref().map(Regex::as_str) == b.regex.as_ref().map(Regex::as_str)
                    && a.follow_redirects == b.follow_redirects
                    && a.max_redirects == b.max_redirects
                    && a.max_body_bytes == b.max_body_bytes
                    && a.auth == b.auth
                    && a.tls == b.tls
                    && a.http_version == b.http_version
                    && a.keepalive == b.keepalive
            }
            // Rare enough to compare the long way.
            (a, b) => {
                a.kind() == b.kind() && {
                    let mine = self.settings();
                    let theirs = other.settings();
                    mine.iter()
                        .zip(&theirs)
                        .take_while(|((k, _), _)| !matches!(*k, "interval"))
                        .all(|(x, y)| x == y)
                }
            }
        };
        checks_equal
            && self.public == other.public
            && self.depends_on == other.depends_on
            && self.interval == other.interval
            && self.timeout == other.timeout
            && self.failure_threshold == other.failure_threshold
            && self.success_threshold == other.success_threshold
            && self.max_response_time == other.max_response_time
            && self.alerts == other.alerts
            && self.group == other.group
            && self.flapping == other.flapping
            && self.locations == other.locations
    }

    /// Every setting as `(key, fingerprint)` under `key` (see [`crate::fingerprint`]), for a
    /// running daemon and `flowstate check --diff` to compare configurations.
    ///
    /// With [`Secrets::Hidden`], a setting that holds a secret (whatever [`Self::describe`]
    /// has to redact: credential headers, `auth`, values from `${VAR}` in the URL, script
    /// arguments and environment, the body) is fingerprinted by its printable form, secrets as
    /// `***`: its other parts still tell a change (another host in the URL, one header more),
    /// a change of the secret alone does not show, and no guess at the secret can be tested
    /// against it. [`Secrets::Compared`] fingerprints the whole value, for a client that holds
    /// the daemon's token.
    pub fn fingerprints(
        &self,
        key: &FingerprintKey,
        secrets: Secrets,
    ) -> Vec<(&'static str, String)> {
        self.settings()
            .into_iter()
            .zip(self.describe())
            .map(|((name, value), (_, printable))| {
                let hashed = match secrets {
                    Secrets::Compared => value,
                    Secrets::Hidden => printable,
                };
                (name, key.fingerprint(&hashed))
            })
            .collect()
    }
}

/// FNV-1a of `value`: the same in every process and version, unlike the standard library's
/// hasher. Fingerprints, schedule phases and arbiter placement all rely on that.
pub fn stable_hash(value: &str) -> u64 {
    value.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether [`HostConfiguration::fingerprints`] include secret values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Whole values: only for a client that holds `server.token`.
    Compared,
    /// Settings that hold a secret in their printable form, secrets as `***`.
    Hidden,
}

impl HostConfiguration {
    /// The settings fit to print: header secrets, URL credentials and the body hidden.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mut settings = self.settings_with(
            |header| header.shown_value().to_string(),
            |_| REDACTED.to_string(),
        );
        for (key, value) in &mut settings {
            if *key == "url" {
                *value = self.check.target();
            }
            if let (&mut "command", Check::Script(script)) = (&mut *key, &self.check) {
                // Arguments may hold tokens: show the program and how many there are.
                *value = match script.argv.len() {
                    1 => script.argv[0].clone(),
                    n => format!("{} (+{} arguments)", script.argv[0], n - 1),
                };
            }
            if let (&mut "settings", Check::Plugin(plugin)) = (&mut *key, &self.check) {
                *value = plugin.shown_settings();
            }
            if *key == "body" && !value.is_empty() {
                *value = format!("<{} bytes>", value.len());
            }
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schedule phases and arbiter placement depend on these exact values across versions.
    #[test]
    fn the_stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(stable_hash("Bearer one"), stable_hash("Bearer two"));
    }

    #[test]
    fn expected_status_reads_naturally() {
        assert_eq!(ExpectedStatus::AnySuccess.to_string(), "2xx");
        assert_eq!(ExpectedStatus::OneOf(vec![200]).to_string(), "200");
        assert_eq!(
            ExpectedStatus::OneOf(vec![200, 204]).to_string(),
            "200 or 204"
        );
        assert_eq!(
            ExpectedStatus::OneOf(vec![200, 204, 301]).to_string(),
            "200, 204 or 301"
        );
        assert!(ExpectedStatus::AnySuccess.accepts(204));
        assert!(!ExpectedStatus::AnySuccess.accepts(301));
        assert!(ExpectedStatus::OneOf(vec![301]).accepts(301));
    }

    #[test]
    fn headers_redact_credentials() {
        assert_eq!(
            HttpHeader::new("Authorization", "Bearer x", false).shown_value(),
            "***"
        );
        assert_eq!(
            HttpHeader::new("X-Trace", "from-env", true).shown_value(),
            "***"
        );
        assert_eq!(
            HttpHeader::new("Accept", "text/html", false).shown_value(),
            "text/html"
        );
    }
}
