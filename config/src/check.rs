//! The check types besides the HTTP request itself: TCP, DNS, ICMP, script and gRPC, and the
//! HTTP extras (authentication, TLS, protocol version). Immutable, validated at load.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use crate::secret::Secret;

/// `type: tcp`: a connection to `address`, optionally a line protocol exchange.
#[derive(Clone)]
pub struct TcpCheck {
    /// `host:port` (`[v6]:port` for IPv6 literals).
    pub address: String,
    /// Written after connecting (escapes such as `\r\n` already resolved by YAML).
    pub send: Option<String>,
    /// Must match the first bytes received.
    pub expect: Option<Regex>,
}

impl fmt::Debug for TcpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpCheck")
            .field("address", &self.address)
            .field("send", &self.send)
            .field("expect", &self.expect.as_ref().map(Regex::as_str))
            .finish()
    }
}

/// `type: dns`: a query whose answer must contain every `expect` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    pub name: String,
    pub record: DnsRecord,
    /// `ip:port` of the server to ask; `None`: the system's resolvers.
    pub resolver: Option<std::net::SocketAddr>,
    /// Values that must all be in the answer (addresses, names, texts), compared normalised.
    pub expect: Vec<String>,
}

/// The record types a DNS check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecord {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
}

impl DnsRecord {
    pub const NAMES: &'static [&'static str] = &["A", "AAAA", "CNAME", "MX", "TXT", "NS"];

    pub fn name(self) -> &'static str {
        match self {
            DnsRecord::A => "A",
            DnsRecord::Aaaa => "AAAA",
            DnsRecord::Cname => "CNAME",
            DnsRecord::Mx => "MX",
            DnsRecord::Txt => "TXT",
            DnsRecord::Ns => "NS",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "A" => Some(DnsRecord::A),
            "AAAA" => Some(DnsRecord::Aaaa),
            "CNAME" => Some(DnsRecord::Cname),
            "MX" => Some(DnsRecord::Mx),
            "TXT" => Some(DnsRecord::Txt),
            "NS" => Some(DnsRecord::Ns),
            _ => None,
        }
    }
}

/// `type: icmp`: `count` echo requests; down when more than `max_loss` percent are lost.
#[derive(Debug, Clone, PartialEq)]
pub struct IcmpCheck {
    /// A host name or an IP address (no port).
    pub address: String,
    pub count: u32,
    /// Percent of lost replies still counted as up (0 to 100).
    pub max_loss: f64,
}

/// `type: script`: a program run directly (no shell), judged by the Nagios plugin convention.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptCheck {
    pub argv: Vec<String>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
}

impl fmt::Debug for ScriptCheck {
    /// Arguments and environment values may hold tokens: only the program and the names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptCheck")
            .field("program", &self.argv.first())
            .field("arguments", &self.argv.len().saturating_sub(1))
            .field(
                "env",
                &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// `type: grpc`: the standard `grpc.health.v1` health check.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcCheck {
    /// `host:port`.
    pub address: String,
    /// The service to ask about; empty: the server as a whole.
    pub service: String,
    /// `None`: plaintext (h2c).
    pub tls: Option<TlsSettings>,
}

/// How an HTTP check authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuth {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

/// Which certificates a TLS connection trusts, and when one near expiry degrades the host.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    /// PEM file of extra trusted roots (a private CA), on top of the WebPKI roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (for lab setups); expiry is still reported.
    pub insecure: bool,
    /// A valid certificate expiring within this makes the host `degraded`.
    pub expiry_warning: Duration,
    /// How often the certificate is read for its expiry (one extra handshake).
    pub expiry_check_every: Duration,
}

impl TlsSettings {
    pub const DEFAULT_EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);
    pub const DEFAULT_EXPIRY_CHECK_EVERY: Duration = Duration::from_secs(3600);
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_file: None,
            insecure: false,
            expiry_warning: Self::DEFAULT_EXPIRY_WARNING,
            expiry_check_every: Self::DEFAULT_EXPIRY_CHECK_EVERY,
        }
    }
}

/// Which HTTP version a check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HttpVersion {
    /// HTTP/2 when the server offers it by ALPN, else HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    One,
    /// HTTP/2 required: a server that does not offer it is down.
    Two,
    /// HTTP/3 over QUIC (UDP) required: needs `https` and a build with the `http3` feature.
    Three,
    /// HTTP/1.1 or 2 as `Auto`, then the HTTP/3 endpoint the answer's `Alt-Svc` advertises:
    /// a TCP answer without a working HTTP/3 one is `degraded`.
    AltSvc,
}

impl HttpVersion {
    pub fn name(self) -> &'static str {
        match self {
            HttpVersion::Auto => "auto",
            HttpVersion::One => "1.1",
            HttpVersion::Two => "2",
            HttpVersion::Three => "3",
            HttpVersion::AltSvc => "alt-svc",
        }
    }

    /// Whether checks of this version speak HTTP/3 (QUIC) at some point.
    pub fn uses_http3(self) -> bool {
        matches!(self, HttpVersion::Three | HttpVersion::AltSvc)
    }
}

/// `(key, value)` rows of a TLS block, for settings and fingerprints.
pub(crate) fn tls_settings(tls: &TlsSettings) -> String {
    format!(
        "ca_file={} insecure={} expiry_warning={} expiry_check_every={}",
        tls.ca_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        tls.insecure,
        humantime::format_duration(tls.expiry_warning),
        humantime::format_duration(tls.expiry_check_every)
    )
}
