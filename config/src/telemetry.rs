//! `telemetry`: where flowstate sends OpenTelemetry traces of its checks, deliveries and
//! reloads (SPEC §13), and how many of them.
//!
//! Read here and only here; the exporter itself lives in the actors crate. A build without
//! the `otlp` feature still reads the section, so a config stays valid across builds, and the
//! daemon says at start that it cannot export.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::host::HttpHeader;
use crate::reader::{Node, Reader};
use crate::secret::redact_url;

pub(crate) const TELEMETRY_KEYS: &[&str] = &["otlp", "sample_ratio", "service_name", "resource"];
pub(crate) const OTLP_KEYS: &[&str] = &["endpoint", "protocol", "headers", "timeout", "ca_file"];

/// The `telemetry` section.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    pub otlp: OtlpSettings,
    /// The share of passing checks whose traces are kept, from 0 to 1. A failing check's
    /// trace is always kept: it is the one an alert links to.
    pub sample_ratio: f64,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// More resource attributes (`deployment.environment: prod`), in file order.
    pub resource: Vec<(String, String)>,
}

impl TelemetrySettings {
    pub const DEFAULT_SERVICE_NAME: &'static str = "flowstate";
}

/// `telemetry.otlp`: the collector.
#[derive(Clone, PartialEq)]
pub struct OtlpSettings {
    /// For `grpc`, the collector's address (`http://collector:4317`); for `http/protobuf`, the
    /// full traces URL (`/v1/traces` is added to a URL without a path).
    pub endpoint: Url,
    pub protocol: OtlpProtocol,
    /// Sent with every export (an API key); redacted wherever the settings are shown.
    pub headers: Vec<HttpHeader>,
    /// How long one export may take before its spans count as dropped.
    pub timeout: Duration,
    /// A PEM file of the authorities to trust for an `https` endpoint, instead of the
    /// public ones.
    pub ca_file: Option<PathBuf>,
}

impl OtlpSettings {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpSettings")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// OTLP's two transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC, usually on port 4317.
    Grpc,
    /// Protobuf over HTTP POST, usually on port 4318.
    HttpProtobuf,
}

impl OtlpProtocol {
    pub fn name(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

pub(crate) fn read_telemetry(reader: &mut Reader, node: &Node) -> Option<TelemetrySettings> {
    let fields = reader.fields(node, TELEMETRY_KEYS)?;
    let Some(otlp_node) = fields.get("otlp") else {
        reader.semantic_error(
            node,
            "missing `otlp`: where to send traces, e.g. `otlp: { endpoint: \"http://collector:4317\" }`",
        );
        return None;
    };
    let otlp = read_otlp(reader, &otlp_node);
    let sample_ratio = match fields.get("sample_ratio") {
        None => Some(1.0),
        Some(n) => read_ratio(reader, &n),
    };
    let service_name = match fields.get("service_name") {
        None => Some(TelemetrySettings::DEFAULT_SERVICE_NAME.to_string()),
        Some(n) => reader.string(&n).and_then(|name| {
            if name.trim().is_empty() {
                reader.semantic_error(
                    &n,
                    "service_name cannot be empty; remove it to use `flowstate`",
                );
                None
            } else {
                Some(name)
            }
        }),
    };
    let mut resource = Vec::new();
    if let Some(n) = fields.get("resource") {
        for (key, value) in reader.named_entries(&n) {
            if key == "service.name" {
                reader.key_error(
                    &value,
                    "set `service.name` with telemetry.service_name, not in resource",
                );
                continue;
            }
            let text = match value.value {
                serde_yaml::Value::Number(number) => Some(number.to_string()),
                serde_yaml::Value::Bool(flag) => Some(flag.to_string()),
                _ => reader.string(&value),
            };
            if let Some(text) = text {
                resource.push((key, text));
            }
        }
    }
    Some(TelemetrySettings {
        otlp: otlp?,
        sample_ratio: sample_ratio?,
        service_name: service_name?,
        resource,
    })
}

fn read_otlp(reader: &mut Reader, node: &Node) -> Option<OtlpSettings> {
    let fields = reader.fields(node, OTLP_KEYS)?;
    let protocol = match fields.get("protocol") {
        None => Some(OtlpProtocol::Grpc),
        Some(n) => match reader.string(&n)?.trim() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" | "http" => Some(OtlpProtocol::HttpProtobuf),
            other => {
                reader.semantic_error(
                    &n,
                    format!("unknown OTLP protocol `{other}`; use `grpc` (port 4317) or `http/protobuf` (port 4318)"),
                );
                None
            }
        },
    };
    let Some(endpoint_node) = fields.get("endpoint") else {
        reader.semantic_error(
            node,
            "missing `endpoint`: the collector's URL, e.g. http://collector:4317",
        );
        return None;
    };
    let endpoint = crate::validate::read_http_url(reader, &endpoint_node).map(|(url, _)| url);
    let endpoint = match (endpoint, protocol) {
        (Some(mut url), Some(OtlpProtocol::HttpProtobuf)) if url.path() == "/" => {
            url.set_path("/v1/traces");
            Some(url)
        }
        (endpoint, _) => endpoint,
    };
    // A collector's headers are its credentials, whatever their names: never shown.
    let headers = fields
        .get("headers")
        .map(|n| crate::validate::read_headers(reader, &n))
        .unwrap_or_default()
        .into_iter()
        .map(|header| HttpHeader {
            sensitive: true,
            ..header
        })
        .collect();
    let timeout = match fields.get("timeout") {
        None => Some(OtlpSettings::DEFAULT_TIMEOUT),
        Some(n) => reader.duration(&n),
    };
    let ca_file = fields
        .get("ca_file")
        .and_then(|n| reader.string(&n))
        .map(|path| crate::validate::relative_to(reader.dir, &path));
    Some(OtlpSettings {
        endpoint: endpoint?,
        protocol: protocol?,
        headers,
        timeout: timeout?,
        ca_file,
    })
}

/// A number from 0 to 1 (`0.01`), or a percentage (`1%`).
fn read_ratio(reader: &mut Reader, node: &Node) -> Option<f64> {
    let value = match node.value {
        serde_yaml::Value::Number(n) => n.as_f64(),
        _ => reader.string(node).and_then(|text| {
            let text = text.trim();
            match text.strip_suffix('%') {
                Some(percent) => percent.trim().parse::<f64>().ok().map(|p| p / 100.0),
                None => text.parse::<f64>().ok(),
            }
        }),
    };
    match value {
        Some(v) if (0.0..=1.0).contains(&v) => Some(v),
        _ => {
            reader.semantic_error(
                node,
                "expected a ratio from 0 to 1 (`0.01` keeps 1 in 100 passing checks' traces) or a percentage like `1%`",
            );
            None
        }
    }
}
