//! Reading each check type's own keys: which keys a host of that `type` may have, and what
//! each must look like. Every problem is reported (by place) and reading goes on, so one pass
//! shows all of them.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use regex::Regex;

use crate::check::{
    DnsCheck, DnsRecord, GrpcCheck, HttpAuth, HttpVersion, IcmpCheck, ScriptCheck, TcpCheck,
    TlsSettings,
};
use crate::error::did_you_mean;
use crate::reader::{Fields, Node, Reader};
use crate::secret::Secret;

/// Check types flowstate runs.
pub(crate) const CHECK_TYPES: &[&str] = &["http", "tcp", "dns", "icmp", "script", "grpc"];

/// Keys every host has, whatever its type.
pub(crate) const COMMON_KEYS: &[&str] = &[
    "label",
    "type",
    "interval",
    "timeout",
    "failure_threshold",
    "success_threshold",
    "max_response_time",
    "alerts",
    "group",
    "public",
    "depends_on",
    "flapping",
    "locations",
];
const HTTP_KEYS: &[&str] = &[
    "url",
    "status",
    "regex",
    "method",
    "headers",
    "body",
    "follow_redirects",
    "max_redirects",
    "max_body_bytes",
    "auth",
    "tls",
    "http_version",
    "keepalive",
];
const TCP_KEYS: &[&str] = &["address", "send", "expect"];
const DNS_KEYS: &[&str] = &["name", "record", "resolver", "expect"];
const ICMP_KEYS: &[&str] = &["address", "count", "max_loss"];
const SCRIPT_KEYS: &[&str] = &["command", "env"];
const GRPC_KEYS: &[&str] = &["address", "service", "tls"];
pub(crate) const TLS_KEYS: &[&str] = &[
    "ca_file",
    "insecure",
    "expiry_warning",
    "expiry_check_every",
];
pub(crate) const AUTH_KEYS: &[&str] = &["basic", "bearer"];
pub(crate) const BASIC_KEYS: &[&str] = &["username", "password"];

/// Every key a host of `check_type` may have.
pub(crate) fn host_keys(check_type: &str) -> Vec<&'static str> {
    let specific = match check_type {
        "tcp" => TCP_KEYS,
        "dns" => DNS_KEYS,
        "icmp" => ICMP_KEYS,
        "script" => SCRIPT_KEYS,
        "grpc" => GRPC_KEYS,
        _ => HTTP_KEYS,
    };
    COMMON_KEYS.iter().chain(specific).copied().collect()
}

/// A required key, or an error on the host saying what to write.
fn required<'v>(
    reader: &mut Reader,
    host: &Node,
    fields: &Fields<'v>,
    key: &str,
    example: &str,
) -> Option<Node<'v>> {
    let found = fields.get(key);
    if found.is_none() {
        reader.semantic_error(host, format!("missing `{key}`; {example}"));
    }
    found
}

/// `host:port`, with the port a number from 1 to 65535 (`[::1]:443` for IPv6 literals).
fn read_address(reader: &mut Reader, node: &Node) -> Option<String> {
    let text = reader.string(node)?.trim().to_string();
    let parsed = text.rsplit_once(':').and_then(|(host, port)| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
        (!host.is_empty() && !host.contains(char::is_whitespace)).then_some(port)
    });
    if parsed.is_none() {
        reader.semantic_error(
            node,
            format!("`{text}` is not `host:port`; write e.g. `db.internal:5432` or `[::1]:443`"),
        );
        return None;
    }
    Some(text)
}

fn read_regex(reader: &mut Reader, node: &Node) -> Option<Regex> {
    let pattern = reader.string(node)?;
    match Regex::new(&pattern) {
        Ok(r) => Some(r),
        Err(e) => {
            let line = e.to_string().lines().last().unwrap_or_default().to_string();
            reader.semantic_error(node, format!("the regex does not compile: {line}"));
            None
        }
    }
}

pub(crate) fn read_tcp(reader: &mut Reader, host: &Node, fields: &Fields) -> Option<TcpCheck> {
    let address = required(
        reader,
        host,
        fields,
        "address",
        "a TCP check needs `address: host:port`",
    )
    .and_then(|n| read_address(reader, &n));
    let send = fields.get("send").and_then(|n| reader.string(&n));
    let expect = fields.get("expect").and_then(|n| read_regex(reader, &n));
    Some(TcpCheck {
        address: address?,
        send,
        expect,
    })
}

pub(crate) fn read_dns(reader: &mut Reader, host: &Node, fields: &Fields) -> Option<DnsCheck> {
    let name = required(
        reader,
        host,
        fields,
        "name",
        "a DNS check needs `name: example.com`",
    )
    .and_then(|n| {
        let name = reader.string(&n)?.trim().to_string();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.trim_end_matches('.').split('.').all(|label| {
                !label.is_empty() && label.len() <= 63 && !label.contains(char::is_whitespace)
            });
        if !valid {
            reader.semantic_error(
                &n,
                format!("`{name}` is not a domain name; write e.g. `example.com`"),
            );
            return None;
        }
        Some(name)
    });
    let record = match fields.get("record") {
        None => Some(DnsRecord::A),
        Some(n) => reader.string(&n).and_then(|text| {
            let record = DnsRecord::from_name(text.trim());
            if record.is_none() {
                reader.semantic_error(
                    &n,
                    format!(
                        "unknown record type `{text}`{}; use one of {}",
                        did_you_mean(&text.to_ascii_uppercase(), DnsRecord::NAMES.iter().copied()),
                        DnsRecord::NAMES.join(", ")
                    ),
                );
            }
            record
        }),
    };
    let resolver = fields.get("resolver").and_then(|n| {
        let text = reader.string(&n)?;
        let trimmed = text.trim();
        // A bare IP means port 53.
        let parsed = trimmed.parse::<SocketAddr>().ok().or_else(|| {
            trimmed
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        if parsed.is_none() {
            reader.semantic_error(
                &n,
                format!("`{trimmed}` is not `ip:port`; write e.g. `1.1.1.1:53` or `[2606:4700::1111]:53`"),
            );
        }
        parsed
    });
    let expect = fields
        .get("expect")
        .and_then(|n| reader.strings(&n))
        .unwrap_or_default();
    Some(DnsCheck {
        name: name?,
        record: record?,
        resolver,
        expect,
    })
}

pub(crate) fn read_icmp(reader: &mut Reader, host: &Node, fields: &Fields) -> Option<IcmpCheck> {
    let address = required(
        reader,
        host,
        fields,
        "address",
        "an ICMP check needs `address: host-or-ip`",
    )
    .and_then(|n| {
        let text = reader.string(&n)?.trim().to_string();
        if text.is_empty() || text.contains(char::is_whitespace) || text.contains('/') {
            reader.semantic_error(
                &n,
                format!("`{text}` is not a host name or IP address (no port, no scheme)"),
            );
            return None;
        }
        Some(text)
    });
    let count = fields
        .get("count")
        .map(|n| reader.count(&n, 1, 100).map(|c| c as u32))
        .unwrap_or(Some(3));
    let max_loss = match fields.get("max_loss") {
        None => Some(0.0),
        Some(n) => read_percent(reader, &n),
    };
    Some(IcmpCheck {
        address: address?,
        count: count?,
        max_loss: max_loss?,
    })
}

/// `20%`, `20` or `0.5%`: a percentage from 0 to 100.
pub(crate) fn read_percent(reader: &mut Reader, node: &Node) -> Option<f64> {
    let value = match node.value {
        serde_yaml::Value::Number(n) => n.as_f64(),
        _ => reader
            .string(node)
            .and_then(|t| t.trim().trim_end_matches('%').trim().parse::<f64>().ok()),
    };
    match value {
        Some(v) if (0.0..=100.0).contains(&v) => Some(v),
        _ => {
            reader.semantic_error(node, "expected a percentage from 0% to 100%, e.g. `20%`");
            None
        }
    }
}

pub(crate) fn read_script(
    reader: &mut Reader,
    host: &Node,
    fields: &Fields,
) -> Option<ScriptCheck> {
    let argv = required(
        reader,
        host,
        fields,
        "command",
        "a script check needs `command: [program, arg, ...]`",
    )
    .and_then(|n| read_argv(reader, &n));
    let env = fields
        .get("env")
        .map(|node| read_env(reader, &node))
        .unwrap_or_default();
    Some(ScriptCheck { argv: argv?, env })
}

/// An `env:` mapping of variable names to values (a script check's, a plugin's); a name the
/// environment cannot hold is an error at its key, and the others are still read.
pub(crate) fn read_env(reader: &mut Reader, node: &Node) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (name, value) in reader.named_entries(node) {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            reader.key_error(
                &value,
                format!("`{name}` is not a valid environment variable name"),
            );
            continue;
        }
        if let Some(text) = reader.string(&value) {
            env.push((name, text));
        }
    }
    env
}

/// A `command:` list (program and arguments, never a shell line), the program resolved by
/// [`program_path`]; an empty list or program is an error on `node`.
pub(crate) fn read_argv(reader: &mut Reader, node: &Node) -> Option<Vec<String>> {
    let mut argv = reader.strings(node)?;
    if argv.first().is_none_or(|p| p.trim().is_empty()) {
        reader.semantic_error(
            node,
            "the command is empty; give the program and its arguments as a list",
        );
        return None;
    }
    argv[0] = program_path(reader.dir, &argv[0]);
    Some(argv)
}

/// A program as written in a config file: a relative path with a `/` is relative to the
/// file's directory `dir` (see [`crate::reader::config_dir`]), like every other path in it; a
/// bare name (`check_disk`) is looked up in `PATH`. A path stays a path: since `dir` is never
/// empty, `./check.sh` beside `flowstate.yaml` becomes `./check.sh`, never `check.sh`.
pub(crate) fn program_path(dir: &Path, program: &str) -> String {
    if program.contains('/') && !Path::new(program).is_absolute() {
        dir.join(program.trim_start_matches("./"))
            .display()
            .to_string()
    } else {
        program.to_string()
    }
}

pub(crate) fn read_grpc(reader: &mut Reader, host: &Node, fields: &Fields) -> Option<GrpcCheck> {
    let address = required(
        reader,
        host,
        fields,
        "address",
        "a gRPC check needs `address: host:port`",
    )
    .and_then(|n| read_address(reader, &n));
    let service = fields
        .get("service")
        .and_then(|n| reader.string(&n))
        .unwrap_or_default();
    let tls = match fields.get("tls") {
        None => Some(None),
        Some(n) => read_tls(reader, &n).map(Some),
    };
    Some(GrpcCheck {
        address: address?,
        service,
        tls: tls?,
    })
}

/// An HTTP host's `auth`, `tls`, `http_version` and `keepalive`.
pub(crate) struct HttpExtras {
    pub auth: Option<HttpAuth>,
    pub tls: TlsSettings,
    pub http_version: HttpVersion,
    pub keepalive: bool,
}

pub(crate) fn read_http_extras(reader: &mut Reader, fields: &Fields) -> Option<HttpExtras> {
    let auth = match fields.get("auth") {
        None => Some(None),
        Some(n) => read_auth(reader, &n).map(Some),
    };
    let tls = match fields.get("tls") {
        None => Some(TlsSettings::default()),
        Some(n) => read_tls(reader, &n),
    };
    let http_version = match fields.get("http_version") {
        None => Some(HttpVersion::Auto),
        Some(n) => {
            let text = reader.text(&n)?.value;
            match text.trim() {
                "1.1" | "1" => Some(HttpVersion::One),
                "2" | "2.0" => Some(HttpVersion::Two),
                "3" | "3.0" | "h3" => Some(HttpVersion::Three),
                "alt-svc" => Some(HttpVersion::AltSvc),
                "auto" => Some(HttpVersion::Auto),
                other => {
                    reader.semantic_error(
                        &n,
                        format!(
                            "unknown HTTP version `{other}`; use \"1.1\", \"2\", \"3\", alt-svc or auto"
                        ),
                    );
                    None
                }
            }
        }
    };
    let keepalive = fields
        .get("keepalive")
        .map(|n| reader.boolean(&n))
        .unwrap_or(Some(false));
    Some(HttpExtras {
        auth: auth?,
        tls: tls?,
        http_version: http_version?,
        keepalive: keepalive?,
    })
}

fn read_auth(reader: &mut Reader, node: &Node) -> Option<HttpAuth> {
    let fields = reader.fields(node, AUTH_KEYS)?;
    match (fields.get("basic"), fields.get("bearer")) {
        (Some(_), Some(_)) => {
            reader.semantic_error(node, "use either `basic` or `bearer`, not both");
            None
        }
        (Some(basic), None) => {
            let inner = reader.fields(&basic, BASIC_KEYS)?;
            let username = inner.get("username").and_then(|n| reader.string(&n));
            let password = inner.get("password").and_then(|n| reader.string(&n));
            match (username, password) {
                (Some(username), Some(password)) if !username.contains(':') => {
                    Some(HttpAuth::Basic {
                        username,
                        password: Secret::new(password),
                    })
                }
                (Some(_), Some(_)) => {
                    reader.semantic_error(&basic, "a basic-auth username cannot contain `:`");
                    None
                }
                _ => {
                    reader.semantic_error(
                        &basic,
                        "basic auth needs `username` and `password` (e.g. `password: ${API_PASSWORD}`)",
                    );
                    None
                }
            }
        }
        (None, Some(bearer)) => {
            let token = reader.string(&bearer)?;
            if token.trim().is_empty() || token.contains(['\r', '\n']) {
                reader.semantic_error(&bearer, "the bearer token is empty or has line breaks");
                return None;
            }
            Some(HttpAuth::Bearer(Secret::new(token)))
        }
        (None, None) => {
            reader.semantic_error(
                node,
                "`auth` needs `basic: { username, password }` or `bearer: TOKEN`",
            );
            None
        }
    }
}

fn read_tls(reader: &mut Reader, node: &Node) -> Option<TlsSettings> {
    let fields = reader.fields(node, TLS_KEYS)?;
    let defaults = TlsSettings::default();
    let ca_file = fields.get("ca_file").and_then(|n| {
        let written = reader.string(&n)?;
        let path = reader.dir.join(written.trim());
        if !path.is_file() {
            reader.semantic_error(
                &n,
                format!(
                    "{} is not a readable file; give the PEM file of the CA to trust",
                    path.display()
                ),
            );
            return None;
        }
        Some(path)
    });
    let insecure = fields
        .get("insecure")
        .and_then(|n| reader.boolean(&n))
        .unwrap_or(false);
    let duration = |reader: &mut Reader, key: &str, default: Duration| match fields.get(key) {
        None => Some(default),
        Some(n) => reader.duration(&n),
    };
    let expiry_warning = duration(reader, "expiry_warning", defaults.expiry_warning);
    let expiry_check_every = duration(reader, "expiry_check_every", defaults.expiry_check_every);
    let (expiry_warning, expiry_check_every) = (expiry_warning?, expiry_check_every?);
    if fields.get("ca_file").is_some() && ca_file.is_none() {
        return None;
    }
    Some(TlsSettings {
        ca_file,
        insecure,
        expiry_warning,
        expiry_check_every,
    })
}
