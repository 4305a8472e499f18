//! From YAML trees to a validated [`Config`]: every error with its file and place, all at once.
//!
//! Two stages. [`read_file`] checks one file's shape, types and values and keeps what it
//! understood as sections with optional fields. [`assemble`] merges the files' sections, applies
//! `defaults` to every host, and checks what spans files: unique labels, notifier names, alerts.
//! The files of each tenant are merged on their own, as a configuration of their own, and
//! their items added renamed `<tenant>/<name>` (`tenant.rs`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use url::Url;

use crate::cluster::{
    known_locations, quorum_error, read_cluster, read_locations, ClusterPlace, ClusterSettings,
};
use crate::dependencies::{find_cycle, read_depends_on, Dependency};
use crate::error::{did_you_mean, ConfigError, Diagnostic, Position};
use crate::flapping::{read_flapping, FlappingSettings, PartialFlapping};
use crate::host::{
    Check, ExpectedStatus, HostConfiguration, HttpCheck, HttpHeader, Origin, DEFAULT_MAX_BODY_BYTES,
};
use crate::maintenance::{HostPattern, MaintenanceWindow};
use crate::notifier::{
    AlertmanagerConfig, CommandConfig, EventFormat, GroupKey, NotifierConfig, NotifierKind,
    RetryPolicy, WebhookConfig, WebhookFormat,
};
use crate::plugin::{read_plugins, read_settings, valid_plugin_name, PluginConfig, PluginUse};
use crate::read_check::{
    host_keys, read_dns, read_grpc, read_http_extras, read_icmp, read_script, read_tcp,
    CHECK_TYPES, COMMON_KEYS,
};
use crate::read_maintenance::{read_maintenance, ReadWindow};
use crate::reader::{Fields, Node, Reader};
use crate::secret::{shown_url, EnvValues, Secret};
use crate::settings::{
    DatabaseUrl, Defaults, SelfCheckSettings, ServerSettings, StateSettings, StatusGroup,
    StatusPageSettings,
};
use crate::tenant::{
    check_main_names, check_server_token, check_tenant_files, prefixed, read_tenants, tenant_host,
    tenant_notifier, tenant_window, TenantConfig, TENANT_FILE_KEYS,
};
use crate::tenant_reload::{keep_previous_part, TenantFailure};
use crate::yaml::Document;
use crate::Config;

pub(crate) const TOP_KEYS: &[&str] = &[
    "include",
    "server",
    "state",
    "defaults",
    "notifiers",
    "hosts",
    "self_check",
    "status_page",
    "maintenance",
    "cluster",
    "plugins",
    "tenants",
    "telemetry",
    "version",
];
pub(crate) const STATUS_PAGE_KEYS: &[&str] = &["title", "groups", "show_reasons"];
pub(crate) const SERVER_KEYS: &[&str] = &["listen", "token", "ready_max_lag"];
pub(crate) const SELF_CHECK_KEYS: &[&str] = &["url", "every", "timeout"];
pub(crate) const STATE_KEYS: &[&str] = &["path", "url", "history", "retention", "raw_retention"];
/// Keys a host may inherit from `defaults`.
pub(crate) const DEFAULT_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "failure_threshold",
    "success_threshold",
    "max_response_time",
    "follow_redirects",
    "max_redirects",
    "alerts",
    "headers",
    "flapping",
    "locations",
];
pub(crate) const NOTIFIER_TYPES: &[&str] = &[
    "stdout",
    "file",
    "webhook",
    "command",
    "alertmanager",
    "email",
];
pub(crate) const NOTIFIER_COMMON_KEYS: &[&str] = &[
    "type",
    "cooldown",
    "remind_every",
    "send_resolved",
    "partial",
    "backoff",
    "max_backoff",
    "max_age",
    "group_by",
    "group_wait",
];
pub(crate) const STDOUT_KEYS: &[&str] = &["format"];
pub(crate) const FILE_KEYS: &[&str] = &["path"];
pub(crate) const WEBHOOK_KEYS: &[&str] = &[
    "url",
    "headers",
    "timeout",
    "format",
    "routing_key",
    "chat_id",
];
pub(crate) const COMMAND_KEYS: &[&str] = &["command", "timeout"];
/// The own keys of a notifier of a plugin's type (besides the common ones): how long a
/// delivery may take, and the plugin's own `settings`.
pub(crate) const PLUGIN_NOTIFIER_KEYS: &[&str] = &["settings", "timeout"];
/// The own key of a host of a plugin's type: the plugin's own `settings`.
pub(crate) const PLUGIN_HOST_KEYS: &[&str] = &["settings"];
pub(crate) const ALERTMANAGER_KEYS: &[&str] = &["url", "headers", "timeout", "resend_every"];
pub(crate) const EMAIL_KEYS: &[&str] = &[
    "url", "starttls", "from", "to", "subject", "ca_file", "insecure", "timeout",
];
const DEFAULT_NOTIFIER_TIMEOUT: Duration = Duration::from_secs(10);

/// What one file says, checked on its own; `None` where the file does not set a section.
pub(crate) struct FileSections {
    pub file: Arc<Path>,
    /// The parsed text (its tree already forgotten), for the line and column of an error found
    /// only when files are merged (a duplicate label, an unknown notifier).
    pub doc: Option<Document>,
    pub include: Vec<String>,
    pub server: Option<ServerSettings>,
    pub state: Option<StateSettings>,
    pub self_check: Option<SelfCheckSettings>,
    pub telemetry: Option<crate::telemetry::TelemetrySettings>,
    pub status_page: Option<StatusPageSettings>,
    pub defaults: Option<PartialDefaults>,
    pub notifiers: Vec<NotifierConfig>,
    /// Notifiers with errors of their own: hosts may still name them without a second error.
    pub broken_notifiers: Vec<Arc<str>>,
    pub hosts: Vec<PartialHost>,
    /// `maintenance` windows, also those with errors (their names are claimed all the same).
    pub maintenance: Vec<ReadWindow>,
    pub cluster: Option<(ClusterSettings, ClusterPlace)>,
    /// Whether the file has a `cluster` section, also one with errors: `locations` need one,
    /// and are not reported again when the section was.
    pub cluster_written: bool,
    /// `plugins`, when the file has the section.
    pub plugins: Option<Vec<PluginConfig>>,
    /// Notifiers of a plugin's type, with the keys written besides the common ones and
    /// `settings` (see `PartialCheck::Plugin`).
    pub plugin_notifier_keys: Vec<(Arc<str>, Vec<String>)>,
    /// `tenants`, when the file has the section (only the main configuration may).
    pub tenants: Option<Vec<TenantConfig>>,
    /// The tenant this file belongs to (its `config` file or one that includes); `None`: the
    /// main configuration.
    pub tenant: Option<Arc<str>>,
}

/// Host and default settings as written: `None` means "inherit".
#[derive(Default)]
pub(crate) struct PartialDefaults {
    pub(crate) interval: Option<Duration>,
    timeout: Option<Duration>,
    failure_threshold: Option<u32>,
    success_threshold: Option<u32>,
    max_response_time: Option<Duration>,
    follow_redirects: Option<bool>,
    max_redirects: Option<u32>,
    alerts: Option<Vec<Arc<str>>>,
    headers: Option<Vec<HttpHeader>>,
    flapping: Option<PartialFlapping>,
    locations: Option<Vec<Arc<str>>>,
}

pub(crate) struct PartialHost {
    pub(crate) origin: Origin,
    /// `hosts[2] (label "api")`: where the host is, as messages name it.
    pub(crate) place: String,
    pub(crate) label: Arc<str>,
    /// `group`, as written (hosts only: `defaults` has none).
    group: Option<Arc<str>>,
    /// `None` when the host has errors: it still claims its label and has its alerts checked,
    /// so those errors are reported in the same pass, but it is never built.
    pub(crate) check: Option<PartialCheck>,
    pub(crate) settings: PartialDefaults,
    public: bool,
    depends_on: Vec<Dependency>,
}

/// A host's check as written; HTTP's still takes headers and redirects from `defaults`.
#[allow(clippy::large_enum_variant)] // one per host, short-lived
pub(crate) enum PartialCheck {
    Http(Box<PartialHttp>),
    Ready(Check),
    /// `type:` names no built-in check: a plugin's, if `plugins` defines it once every file
    /// is read. `written` are the keys besides the common ones and `settings`, reported as
    /// unknown only then (a mistyped `type: htp` is one error, not one per HTTP key).
    Plugin {
        used: PluginUse,
        written: Vec<String>,
    },
}

pub(crate) struct PartialHttp {
    url: Url,
    shown_url: String,
    method: String,
    body: Option<String>,
    status: ExpectedStatus,
    regex: Option<Regex>,
    max_body_bytes: usize,
    extras: crate::read_check::HttpExtras,
}

impl PartialHttp {
    /// The `tls.ca_file` written, if any (a tenant's must stay in its directory).
    pub(crate) fn ca_file(&self) -> Option<&Path> {
        self.extras.tls.ca_file.as_deref()
    }
}

/// Checks one file's tree. Problems go to `reader.errors`; what was understood is returned.
///
/// A file of a tenant (`tenant`) may have only [`TENANT_FILE_KEYS`]: any other section is
/// reported, at its key, as belonging in the main file, and not read.
pub(crate) fn read_file(reader: &mut Reader, root: Node, tenant: Option<&str>) -> FileSections {
    let file: Arc<Path> = Arc::from(reader.file);
    let mut sections = FileSections {
        file: file.clone(),
        doc: None,
        include: vec![],
        server: None,
        state: None,
        self_check: None,
        telemetry: None,
        status_page: None,
        defaults: None,
        notifiers: vec![],
        broken_notifiers: vec![],
        hosts: vec![],
        maintenance: vec![],
        cluster: None,
        cluster_written: false,
        plugins: None,
        plugin_notifier_keys: vec![],
        tenants: None,
        tenant: tenant.map(Arc::from),
    };
    let Some(fields) = reader.fields(&root, TOP_KEYS) else {
        return sections;
    };
    if let Some(tenant) = tenant {
        for key in TOP_KEYS.iter().filter(|k| !TENANT_FILE_KEYS.contains(k)) {
            if let Some(node) = fields.get(key) {
                reader.key_error(
                    &node,
                    format!(
                        "`{key}` belongs in the main file, not in a file of tenant `{tenant}`; move it there (a tenant's file may have only {})",
                        TENANT_FILE_KEYS.join(", ")
                    ),
                );
            }
        }
    }
    // What a tenant's file may not have was reported above: it is read as absent.
    let top = |key: &str| {
        fields
            .get(key)
            .filter(|_| tenant.is_none() || TENANT_FILE_KEYS.contains(&key))
    };
    if let Some(node) = top("version") {
        crate::version::read_version(reader, &node);
    }
    if let Some(node) = top("include") {
        sections.include = reader.strings(&node).unwrap_or_default();
    }
    if let Some(node) = top("server") {
        sections.server = read_server(reader, &node);
    }
    if let Some(node) = top("state") {
        sections.state = read_state(reader, &node);
    }
    if let Some(node) = top("self_check") {
        sections.self_check = read_self_check(reader, &node);
    }
    if let Some(node) = top("telemetry") {
        sections.telemetry = crate::telemetry::read_telemetry(reader, &node);
    }
    if let Some(node) = top("status_page") {
        sections.status_page = read_status_page(reader, &node);
    }
    if let Some(node) = top("defaults") {
        sections.defaults = reader
            .fields(&node, DEFAULT_KEYS)
            .map(|fields| read_host_settings(reader, &fields));
    }
    if let Some(node) = top("notifiers") {
        for (name, notifier) in reader.named_entries(&node) {
            match read_notifier(reader, &name, &notifier) {
                Some(n) => {
                    if let NotifierKind::Plugin(..) = n.kind {
                        sections.plugin_notifier_keys.push((
                            n.name.clone(),
                            plugin_keys_written(
                                &notifier,
                                NOTIFIER_COMMON_KEYS,
                                PLUGIN_NOTIFIER_KEYS,
                            ),
                        ));
                    }
                    sections.notifiers.push(n)
                }
                None => sections.broken_notifiers.push(Arc::from(name.as_str())),
            }
        }
    }
    if let Some(node) = top("hosts") {
        match node.value {
            serde_yaml::Value::Sequence(items) => {
                for (index, item) in items.iter().enumerate() {
                    let host = node.index(index, item);
                    if let Some(h) = read_host(reader, &file, index, host) {
                        sections.hosts.push(h);
                    }
                }
            }
            serde_yaml::Value::Null => {}
            other => reader.type_error(
                &node,
                format!(
                    "expected a list of hosts (lines starting with `- label:`), found {}",
                    crate::reader::describe(other)
                ),
            ),
        }
    }
    if let Some(node) = top("maintenance") {
        sections.maintenance = read_maintenance(reader, &file, &node);
    }
    if let Some(node) = top("plugins") {
        let built_in: Vec<&str> = CHECK_TYPES.iter().chain(NOTIFIER_TYPES).copied().collect();
        sections.plugins = Some(read_plugins(reader, &node, &built_in));
    }
    if let Some(node) = top("tenants") {
        sections.tenants = Some(read_tenants(reader, &node));
    }
    if let Some(node) = top("cluster") {
        sections.cluster_written = true;
        sections.cluster = read_cluster(reader, &file, &node);
    }
    sections
}

fn read_server(reader: &mut Reader, node: &Node) -> Option<ServerSettings> {
    let fields = reader.fields(node, SERVER_KEYS)?;
    let mut server = ServerSettings::default();
    if let Some(listen) = fields.get("listen") {
        server.listen = match listen.value {
            serde_yaml::Value::Null => None,
            _ => {
                let written = reader.text(&listen)?;
                let text = &written.value;
                let normalised = match text.strip_prefix("localhost:") {
                    Some(port) => format!("127.0.0.1:{port}"),
                    None => text.clone(),
                };
                match normalised.parse::<SocketAddr>() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        reader.semantic_error(
                            &listen,
                            format!("{} is not an address; write ip:port such as 127.0.0.1:9900 (0.0.0.0:9900 for every interface), or null to disable the API", crate::reader::shown(&written)),
                        );
                        return None;
                    }
                }
            }
        };
    }
    if let Some(token) = fields.get("token") {
        // An empty token (`${FLOWSTATE_TOKEN:-}`) means no token, not "accept the empty one".
        server.token = reader
            .string(&token)
            .filter(|t| !t.is_empty())
            .map(Secret::new);
    }
    if let Some(lag) = fields.get("ready_max_lag") {
        server.ready_max_lag = reader.duration(&lag)?;
    }
    Some(server)
}

fn read_status_page(reader: &mut Reader, node: &Node) -> Option<StatusPageSettings> {
    let fields = reader.fields(node, STATUS_PAGE_KEYS)?;
    let mut page = StatusPageSettings::default();
    if let Some(title) = fields.get("title") {
        page.title = reader.string(&title)?;
    }
    if let Some(show) = fields.get("show_reasons") {
        page.show_reasons = reader.boolean(&show)?;
    }
    if let Some(groups) = fields.get("groups") {
        let serde_yaml::Value::Sequence(items) = groups.value else {
            reader.type_error(
                &groups,
                "expected a list of groups, e.g. `- { name: API, hosts: [api, auth] }`",
            );
            return None;
        };
        for (index, item) in items.iter().enumerate() {
            let group = groups.index(index, item);
            let fields = reader.fields(&group, &["name", "hosts"])?;
            let Some(name) = fields.get("name") else {
                reader.semantic_error(&group, "missing `name`; e.g. `name: API`");
                return None;
            };
            let name = reader.string(&name)?;
            let hosts = match fields.get("hosts") {
                Some(hosts) => reader.strings(&hosts)?,
                None => Vec::new(),
            };
            page.groups.push(StatusGroup { name, hosts });
        }
    }
    Some(page)
}

fn read_self_check(reader: &mut Reader, node: &Node) -> Option<SelfCheckSettings> {
    let fields = reader.fields(node, SELF_CHECK_KEYS)?;
    let Some(url_node) = fields.get("url") else {
        reader.semantic_error(
            node,
            "missing `url`: the dead man's switch to call while flowstate is healthy",
        );
        return None;
    };
    let url = read_http_url(reader, &url_node).map(|(url, _)| url);
    let every = match fields.get("every") {
        Some(n) => reader.duration(&n),
        None => Some(SelfCheckSettings::DEFAULT_EVERY),
    };
    let timeout = match fields.get("timeout") {
        Some(n) => reader.duration(&n),
        None => Some(SelfCheckSettings::DEFAULT_TIMEOUT),
    };
    Some(SelfCheckSettings {
        url: url?,
        every: every?,
        timeout: timeout?,
    })
}

fn read_state(reader: &mut Reader, node: &Node) -> Option<StateSettings> {
    let fields = reader.fields(node, STATE_KEYS)?;
    let mut state = StateSettings::default();
    if let Some(path) = fields.get("path") {
        state.path = reader.string(&path).map(|p| relative_to(reader.dir, &p));
    }
    if let Some(node) = fields.get("url") {
        state.url = read_database_url(reader, &node);
        if let (Some(_), Some(_)) = (&state.path, &state.url) {
            reader.semantic_error(
                &node,
                "state.path and state.url are both set; keep one: path for a SQLite file, url for PostgreSQL",
            );
        }
    }
    if let Some(history) = fields.get("history") {
        state.history = reader.count(&history, 1, 1_000_000).map(|n| n as usize)?;
    }
    let retention = fields.get("retention");
    if let Some(node) = &retention {
        state.retention = reader.duration(node)?;
    }
    let raw_retention = fields.get("raw_retention");
    if let Some(node) = &raw_retention {
        state.raw_retention = reader.duration(node)?;
    }
    // Under an hour of raw results leaves the per-minute rollups nothing to be made from
    // once a restart interrupts them; a raw retention beyond the total is meaningless.
    if state.raw_retention < MIN_RAW_RETENTION {
        if let Some(node) = raw_retention.as_ref().or(retention.as_ref()) {
            reader.semantic_error(
                node,
                format!(
                    "state.raw_retention must be at least 1h (it is {}); raise it",
                    humantime::format_duration(state.raw_retention)
                ),
            );
        }
        return None;
    }
    if state.raw_retention > state.retention {
        if let Some(node) = raw_retention.as_ref().or(retention.as_ref()) {
            reader.semantic_error(
                node,
                format!(
                    "state.raw_retention ({}) is longer than state.retention ({}); raw results cannot outlive the rollups: lower raw_retention or raise retention",
                    humantime::format_duration(state.raw_retention),
                    humantime::format_duration(state.retention)
                ),
            );
        }
        return None;
    }
    Some(state)
}

const MIN_RAW_RETENTION: Duration = Duration::from_secs(3600);

/// A `postgres://` (or `postgresql://`) URL with a host and a database name.
pub(crate) fn read_database_url(reader: &mut Reader, node: &Node) -> Option<DatabaseUrl> {
    let text = reader.text(node)?;
    match Url::parse(text.value.trim()) {
        Ok(url)
            if matches!(url.scheme(), "postgres" | "postgresql")
                && url.host().is_some()
                && url.path().len() > 1 =>
        {
            let shown = shown_url(&url, text.masked.as_deref());
            Some(DatabaseUrl::new(url, shown))
        }
        Ok(url) => {
            reader.semantic_error(
                node,
                format!(
                    "`{}` is not a PostgreSQL URL; write it as postgres://user:password@host:5432/database",
                    shown_url(&url, text.masked.as_deref())
                ),
            );
            None
        }
        Err(e) => {
            // Not echoed: an unparsable URL cannot be redacted, and holds a password.
            reader.semantic_error(
                node,
                format!("not a valid URL ({e}); write it as postgres://user:password@host:5432/database"),
            );
            None
        }
    }
}

/// A path written in a config file, relative paths taken from that file's directory `dir`
/// so the daemon finds the same file whatever its working directory (systemd starts it in `/`).
pub(crate) fn relative_to(dir: &Path, written: &str) -> PathBuf {
    let path = Path::new(written);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    dir.join(path)
}

/// The keys shared by `defaults` and hosts.
fn read_host_settings(reader: &mut Reader, fields: &crate::reader::Fields) -> PartialDefaults {
    let mut s = PartialDefaults::default();
    let get = |key| fields.get(key);
    s.interval = get("interval").and_then(|n| reader.duration(&n));
    s.timeout = get("timeout").and_then(|n| reader.duration(&n));
    s.failure_threshold =
        get("failure_threshold").and_then(|n| reader.count(&n, 1, 1_000_000).map(|v| v as u32));
    s.success_threshold =
        get("success_threshold").and_then(|n| reader.count(&n, 1, 1_000_000).map(|v| v as u32));
    s.max_response_time = get("max_response_time").and_then(|n| reader.duration(&n));
    s.follow_redirects = get("follow_redirects").and_then(|n| reader.boolean(&n));
    s.max_redirects = get("max_redirects").and_then(|n| reader.count(&n, 0, 100).map(|v| v as u32));
    if let Some(node) = get("alerts") {
        let names = reader.one_or_many(&node);
        let mut alerts = Vec::with_capacity(names.len());
        for name in names {
            if let Some(n) = reader.string(&name) {
                alerts.push(Arc::from(n.as_str()));
            }
        }
        s.alerts = Some(alerts);
    }
    if let Some(node) = get("headers") {
        s.headers = Some(read_headers(reader, &node));
    }
    s.flapping = get("flapping").and_then(|n| read_flapping(reader, &n));
    s.locations = get("locations").and_then(|n| read_locations(reader, &n));
    s
}

pub(crate) fn read_headers(reader: &mut Reader, node: &Node) -> Vec<HttpHeader> {
    let mut headers = Vec::new();
    for (name, value) in reader.named_entries(node) {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            reader.key_error(
                &value,
                format!("`{name}` is not a valid header name; use letters, digits and `-`"),
            );
            continue;
        }
        if let Some(text) = reader.text(&value) {
            if text.value.contains(['\r', '\n']) {
                reader.semantic_error(&value, "header values cannot contain line breaks");
                continue;
            }
            headers.push(HttpHeader::new(name, text.value, text.substituted));
        }
    }
    headers
}

fn read_notifier(reader: &mut Reader, name: &str, node: &Node) -> Option<NotifierConfig> {
    let node = node.clone().with_place(format!("notifiers.{name}"));
    if name.trim().is_empty() {
        reader.key_error(&node, "notifier names cannot be empty");
        return None;
    }
    let serde_yaml::Value::Mapping(mapping) = node.value else {
        reader.type_error(
            &node,
            format!(
                "expected a mapping such as `{{ type: stdout }}`, found {}",
                crate::reader::describe(node.value)
            ),
        );
        return None;
    };
    let Some(type_value) = mapping.get("type") else {
        reader.semantic_error(
            &node,
            format!("missing `type`; use one of {}", NOTIFIER_TYPES.join(", ")),
        );
        return None;
    };
    let type_node = node.key("type", type_value);
    let kind_name = reader.string(&type_node)?;
    let every_key: Vec<&str>;
    let specific: &[&str] = match kind_name.as_str() {
        "stdout" => STDOUT_KEYS,
        "file" => FILE_KEYS,
        "webhook" => WEBHOOK_KEYS,
        "command" => COMMAND_KEYS,
        "alertmanager" => ALERTMANAGER_KEYS,
        "email" => EMAIL_KEYS,
        // A plugin's type, if `plugins` defines it: known once every file is read. Every key
        // is accepted until then (see `plugin_notifier_keys`).
        other if valid_plugin_name(other) => {
            every_key = NOTIFIER_TYPES
                .iter()
                .flat_map(|kind| crate::schema::notifier_type_keys(kind).iter().copied())
                .chain(["settings"])
                .collect();
            &every_key
        }
        other => {
            reader.semantic_error(
                &type_node,
                format!(
                    "unknown notifier type `{other}`{}; use one of {}",
                    did_you_mean(other, NOTIFIER_TYPES.iter().copied()),
                    NOTIFIER_TYPES.join(", ")
                ),
            );
            return None;
        }
    };
    let known: Vec<&str> = NOTIFIER_COMMON_KEYS
        .iter()
        .chain(specific)
        .copied()
        .collect();
    let fields = reader.fields(&node, &known)?;
    let errors_before = reader.errors.len();
    let cooldown = fields.get("cooldown").and_then(|n| reader.duration(&n));
    let remind_every = fields.get("remind_every").and_then(|n| reader.duration(&n));
    let send_resolved = fields
        .get("send_resolved")
        .and_then(|n| reader.boolean(&n))
        .unwrap_or(true);
    let partial = fields
        .get("partial")
        .and_then(|n| reader.boolean(&n))
        .unwrap_or(false);
    let timeout = fields
        .get("timeout")
        .and_then(|n| reader.duration(&n))
        .unwrap_or(DEFAULT_NOTIFIER_TIMEOUT);
    let retry = read_retry(reader, &fields);
    let grouping = read_grouping(reader, &fields);
    let kind = match kind_name.as_str() {
        "stdout" => {
            let format = match fields.get("format") {
                None => EventFormat::Text,
                Some(n) => match reader.string(&n).as_deref() {
                    Some("text") => EventFormat::Text,
                    Some("json") => EventFormat::Json,
                    Some(other) => {
                        reader.semantic_error(
                            &n,
                            format!("unknown format `{other}`; use text or json"),
                        );
                        return None;
                    }
                    None => return None,
                },
            };
            NotifierKind::Stdout { format }
        }
        "file" => match fields.get("path") {
            Some(n) => {
                let path = reader.string(&n)?;
                if path.trim().is_empty() {
                    reader.semantic_error(
                        &n,
                        "the path is empty; name the file events are appended to",
                    );
                    return None;
                }
                NotifierKind::File {
                    path: relative_to(reader.dir, &path),
                }
            }
            None => {
                reader.semantic_error(&node, "missing `path`: the file events are appended to");
                return None;
            }
        },
        "webhook" => {
            let Some(url_node) = fields.get("url") else {
                reader.semantic_error(&node, "missing `url`: where events are posted");
                return None;
            };
            let (url, _) = read_http_url(reader, &url_node)?;
            let headers = fields
                .get("headers")
                .map(|n| read_headers(reader, &n))
                .unwrap_or_default();
            let format = match fields.get("format") {
                None => WebhookFormat::Generic,
                Some(n) => {
                    let text = reader.string(&n)?;
                    match WebhookFormat::from_name(&text) {
                        Some(f) => f,
                        None => {
                            reader.semantic_error(
                                &n,
                                format!(
                                    "unknown webhook format `{text}`{}; use one of {}",
                                    did_you_mean(&text, WebhookFormat::NAMES.iter().copied()),
                                    WebhookFormat::NAMES.join(", ")
                                ),
                            );
                            return None;
                        }
                    }
                }
            };
            let routing_key = fields
                .get("routing_key")
                .and_then(|n| reader.string(&n))
                .filter(|k| !k.is_empty())
                .map(Secret::new);
            if format == WebhookFormat::Pagerduty && routing_key.is_none() {
                reader.semantic_error(
                    &node,
                    "format pagerduty needs `routing_key`: the integration key of a PagerDuty Events API v2 service",
                );
                return None;
            }
            // Both read before either gives up, so both mistakes are reported at once.
            let chat_id = read_chat_id(reader, &node, &fields, format);
            let url_fits = check_format_url(reader, &url_node, &url, format);
            let (chat_id, ()) = (chat_id?, url_fits?);
            NotifierKind::Webhook(WebhookConfig {
                url,
                headers,
                timeout,
                format,
                routing_key,
                chat_id,
            })
        }
        "alertmanager" => {
            let Some(url_node) = fields.get("url") else {
                reader.semantic_error(
                    &node,
                    "missing `url`: the Alertmanager's base URL, such as http://127.0.0.1:9093",
                );
                return None;
            };
            let (url, shown) = read_http_url(reader, &url_node)?;
            if !url.username().is_empty() || url.password().is_some() {
                // Not sent from the URL by the HTTP client: it would be silently ignored.
                reader.semantic_error(
                    &url_node,
                    format!(
                        "`{shown}` has a user or password, which is not sent from the URL; write it as a header instead: `headers: {{ Authorization: \"Basic ...\" }}`"
                    ),
                );
                return None;
            }
            let headers = fields
                .get("headers")
                .map(|n| read_headers(reader, &n))
                .unwrap_or_default();
            let resend_every = read_resend_every(reader, &fields)?;
            NotifierKind::Alertmanager(AlertmanagerConfig {
                url,
                headers,
                timeout,
                resend_every,
            })
        }
        "email" => NotifierKind::Email(crate::read_email::read_email(
            reader, &node, &fields, timeout,
        )?),
        "command" => {
            let Some(command_node) = fields.get("command") else {
                reader.semantic_error(
                    &node,
                    "missing `command`: the program and its arguments, as a list",
                );
                return None;
            };
            let argv = crate::read_check::read_argv(reader, &command_node)?;
            NotifierKind::Command(CommandConfig { argv, timeout })
        }
        plugin => {
            let settings = match fields.get("settings") {
                Some(n) => read_settings(reader, &n)?,
                None => serde_json::Value::Object(Default::default()),
            };
            NotifierKind::Plugin(
                PluginUse {
                    plugin: Arc::from(plugin),
                    settings,
                },
                timeout,
            )
        }
    };
    let retry = retry?;
    let (group_by, group_wait) = grouping?;
    (reader.errors.len() == errors_before).then(|| NotifierConfig {
        tenant: None,
        name: Arc::from(name),
        kind,
        cooldown,
        remind_every,
        send_resolved,
        partial,
        retry,
        group_by,
        group_wait,
    })
}

/// `chat_id`: Telegram's chat, required by `format: telegram` and refused by every other
/// format (it would be silently ignored there). `None` (the error recorded) when it is wrong;
/// `Some(None)` when absent and not needed.
fn read_chat_id(
    reader: &mut Reader,
    node: &Node,
    fields: &Fields<'_>,
    format: WebhookFormat,
) -> Option<Option<String>> {
    let chat_node = fields.get("chat_id");
    match (format, chat_node) {
        (WebhookFormat::Telegram, None) => {
            reader.semantic_error(
                node,
                "format telegram needs `chat_id`: the chat to post to, a number such as -1001234567890 or @channelusername",
            );
            None
        }
        (WebhookFormat::Telegram, Some(n)) => {
            let chat_id = reader.string(&n)?.trim().to_string();
            if chat_id.is_empty() {
                reader.semantic_error(
                    &n,
                    "the chat id is empty; write the chat's number (such as -1001234567890) or @channelusername",
                );
                return None;
            }
            Some(Some(chat_id))
        }
        (_, Some(n)) => {
            reader.semantic_error(
                &n,
                format!(
                    "`chat_id` is only used by format telegram, not {}; remove it, or set `format: telegram`",
                    format.name()
                ),
            );
            None
        }
        (_, None) => Some(None),
    }
}

/// The URL shapes some formats need: ntfy's topic URL (flowstate publishes to its parent with
/// the topic in the body) and Matrix's send endpoint (flowstate appends the transaction id).
fn check_format_url(
    reader: &mut Reader,
    url_node: &Node,
    url: &Url,
    format: WebhookFormat,
) -> Option<()> {
    let last = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or("");
    match format {
        WebhookFormat::Ntfy if last.is_empty() => {
            reader.semantic_error(
                url_node,
                "format ntfy needs the topic's URL, such as https://ntfy.sh/mytopic: its last path segment is the topic",
            );
            None
        }
        WebhookFormat::Matrix
            if !url.path().ends_with("/send/m.room.message") || !url.path().contains("/rooms/") =>
        {
            reader.semantic_error(
                url_node,
                "format matrix needs the room's send endpoint, such as https://matrix.example.org/_matrix/client/v3/rooms/!room:example.org/send/m.room.message (flowstate appends the transaction id)",
            );
            None
        }
        _ => Some(()),
    }
}

/// `group_by` (known keys, each once) and `group_wait` (1s to 1h, only with `group_by`).
fn read_grouping(reader: &mut Reader, fields: &Fields<'_>) -> Option<(Vec<GroupKey>, Duration)> {
    let mut group_by = Vec::new();
    let mut all_read = true;
    let by_node = fields.get("group_by");
    if let Some(node) = &by_node {
        let items = reader.one_or_many(node);
        if items.is_empty() {
            reader.semantic_error(
                node,
                "the list is empty; write `group_by: [group]` to collect events, or remove group_by to deliver each on its own",
            );
            all_read = false;
        }
        for item in items {
            let Some(name) = reader.string(&item) else {
                all_read = false;
                continue;
            };
            match GroupKey::from_name(name.trim()) {
                Some(key) if group_by.contains(&key) => {
                    reader.semantic_error(
                        &item,
                        format!("`{}` is listed twice; list each key once", key.name()),
                    );
                    all_read = false;
                }
                Some(key) => group_by.push(key),
                None => {
                    reader.semantic_error(
                        &item,
                        format!(
                            "unknown group_by key `{name}`{}; use one of {}",
                            did_you_mean(&name, GroupKey::NAMES.iter().copied()),
                            GroupKey::NAMES.join(", ")
                        ),
                    );
                    all_read = false;
                }
            }
        }
    }
    let mut group_wait = NotifierConfig::DEFAULT_GROUP_WAIT;
    if let Some(node) = fields.get("group_wait") {
        match reader.duration(&node) {
            Some(_) if by_node.is_none() => {
                reader.semantic_error(
                    &node,
                    "group_wait needs group_by: add `group_by: [group]` to collect events into one delivery, or remove group_wait",
                );
                all_read = false;
            }
            Some(wait)
                if wait < NotifierConfig::MIN_GROUP_WAIT
                    || wait > NotifierConfig::MAX_GROUP_WAIT =>
            {
                let written = reader.text(&node).map(|t| crate::reader::shown(&t));
                reader.semantic_error(
                    &node,
                    format!(
                        "group_wait must be between 1s and 1h, found {}; events wait this long for others of their group",
                        written.unwrap_or_default()
                    ),
                );
                all_read = false;
            }
            Some(wait) => group_wait = wait,
            None => all_read = false,
        }
    }
    all_read.then_some((group_by, group_wait))
}

/// `backoff`, `max_backoff` and `max_age`, each defaulted, checked against each other.
/// `resend_every` of an Alertmanager notifier: within bounds that keep Alertmanager neither
/// flooded nor resolving alerts that still fire.
fn read_resend_every(reader: &mut Reader, fields: &Fields<'_>) -> Option<Duration> {
    let Some(n) = fields.get("resend_every") else {
        return Some(AlertmanagerConfig::DEFAULT_RESEND_EVERY);
    };
    let every = reader.duration(&n)?;
    let (min, max) = (
        AlertmanagerConfig::MIN_RESEND_EVERY,
        AlertmanagerConfig::MAX_RESEND_EVERY,
    );
    if every < min || every > max {
        reader.semantic_error(
            &n,
            format!(
                "resend_every must be between {} and {}; Alertmanager expects about 1m",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        );
        return None;
    }
    Some(every)
}

fn read_retry(reader: &mut Reader, fields: &Fields<'_>) -> Option<RetryPolicy> {
    let mut read = |key: &str, default: Duration| -> Option<(Duration, Option<Node>)> {
        match fields.get(key) {
            None => Some((default, None)),
            Some(n) => Some((reader.duration(&n)?, Some(n))),
        }
    };
    // Zero and too long durations are refused by `duration` itself. All three are read
    // before giving up, so each one's error is reported in the same pass.
    let backoff = read("backoff", RetryPolicy::DEFAULT_BACKOFF);
    let max_backoff = read("max_backoff", RetryPolicy::DEFAULT_MAX_BACKOFF);
    let max_age = read("max_age", RetryPolicy::DEFAULT_MAX_AGE);
    let ((backoff, backoff_node), (max_backoff, max_backoff_node), (max_age, _)) =
        (backoff?, max_backoff?, max_age?);
    if backoff > max_backoff {
        let message = format!(
            "backoff ({}) is longer than max_backoff ({}); lower backoff or raise max_backoff",
            humantime::format_duration(backoff),
            humantime::format_duration(max_backoff)
        );
        if let Some(n) = max_backoff_node.as_ref().or(backoff_node.as_ref()) {
            reader.semantic_error(n, message);
        }
        return None;
    }
    Some(RetryPolicy {
        backoff,
        max_backoff,
        max_age,
    })
}

/// An absolute http(s) URL with a host, and how it may be shown (see
/// [`crate::secret::shown_url`]); the message shows the URL without its secrets.
pub(crate) fn read_http_url(reader: &mut Reader, node: &Node) -> Option<(Url, String)> {
    let text = reader.text(node)?;
    match Url::parse(text.value.trim()) {
        Ok(url) if (url.scheme() == "http" || url.scheme() == "https") && url.host().is_some() => {
            let shown = shown_url(&url, text.masked.as_deref());
            Some((url, shown))
        }
        Ok(url) => {
            reader.semantic_error(
                node,
                format!(
                    "`{}` is not an http or https URL; write it as http://host/path or https://host/path",
                    shown_url(&url, text.masked.as_deref())
                ),
            );
            None
        }
        Err(e) => {
            // Not echoed: an unparsable URL cannot be redacted, and may hold a token.
            reader.semantic_error(
                node,
                format!("not a valid URL ({e}); write it as http://host/path or https://host/path"),
            );
            None
        }
    }
}

fn read_host(
    reader: &mut Reader,
    file: &Arc<Path>,
    index: usize,
    node: Node,
) -> Option<PartialHost> {
    let serde_yaml::Value::Mapping(mapping) = node.value else {
        reader.type_error(
            &node,
            format!(
                "expected a host (a mapping with `label:` and `url:`), found {}",
                crate::reader::describe(node.value)
            ),
        );
        return None;
    };
    // Read the label first so every later message can name the host.
    let label = mapping
        .get("label")
        .and_then(|v| reader.string(&node.key("label", v)));
    let place = match &label {
        Some(l) => format!("hosts[{index}] (label {l:?})"),
        None => format!("hosts[{index}]"),
    };
    let node = node.with_place(place.clone());
    let errors_before = reader.errors.len();
    let check_type = match mapping.get("type") {
        None => "http".to_string(),
        Some(v) => reader.string(&node.key("type", v))?,
    };
    let plugin_type = !CHECK_TYPES.contains(&check_type.as_str()) && valid_plugin_name(&check_type);
    if !CHECK_TYPES.contains(&check_type.as_str()) && !plugin_type {
        let type_node = node.key(
            "type",
            mapping.get("type").unwrap_or(&serde_yaml::Value::Null),
        );
        reader.semantic_error(
            &type_node,
            format!(
                "unknown check type `{check_type}`{}; supported: {}",
                did_you_mean(&check_type, CHECK_TYPES.iter().copied()),
                CHECK_TYPES.join(", ")
            ),
        );
        return None;
    }
    let known = match plugin_type {
        // Any host key is accepted for now: see `PartialCheck::Plugin`.
        true => CHECK_TYPES
            .iter()
            .flat_map(|kind| host_keys(kind))
            .chain(["settings"])
            .collect(),
        false => host_keys(&check_type),
    };
    let fields = reader.fields(&node, &known)?;
    let label: Option<Arc<str>> = match (fields.get("label"), label) {
        (None, _) => {
            reader.semantic_error(
                &node,
                "missing `label`; every host needs a unique label, e.g. `label: api`",
            );
            None
        }
        (Some(n), Some(l)) if l.trim().is_empty() => {
            reader.semantic_error(
                &n.clone().with_place(format!("{place}.label")),
                "the label is empty; give the host a unique name",
            );
            None
        }
        (Some(n), Some(l)) if l.trim() != l || l.chars().any(char::is_control) => {
            reader.semantic_error(
                &n.clone().with_place(format!("{place}.label")),
                "labels cannot start or end with spaces or contain control characters",
            );
            None
        }
        (_, l) => l.map(|l| Arc::from(l.as_str())),
    };
    let check = match check_type.as_str() {
        "tcp" => read_tcp(reader, &node, &fields).map(|c| PartialCheck::Ready(Check::Tcp(c))),
        "dns" => read_dns(reader, &node, &fields).map(|c| PartialCheck::Ready(Check::Dns(c))),
        "icmp" => read_icmp(reader, &node, &fields).map(|c| PartialCheck::Ready(Check::Icmp(c))),
        "script" => {
            read_script(reader, &node, &fields).map(|c| PartialCheck::Ready(Check::Script(c)))
        }
        "grpc" => read_grpc(reader, &node, &fields).map(|c| PartialCheck::Ready(Check::Grpc(c))),
        plugin if plugin_type => read_plugin_check(reader, &node, &fields, plugin),
        _ => read_http_check(reader, &node, &fields),
    };
    let settings = read_host_settings(reader, &fields);
    let group = fields.get("group").and_then(|n| read_group(reader, &n));
    let public = match fields.get("public") {
        Some(n) => reader.boolean(&n).unwrap_or(false),
        None => false,
    };
    let depends_on = match fields.get("depends_on") {
        Some(n) => read_depends_on(reader, &n).unwrap_or_default(),
        None => Vec::new(),
    };
    let check = check.filter(|_| reader.errors.len() == errors_before);
    Some(PartialHost {
        public,
        depends_on,
        origin: Origin {
            file: file.clone(),
            index,
        },
        place,
        label: label?,
        group,
        check,
        settings,
    })
}

/// The keys of a host or notifier of a plugin's type other than those every host (or
/// notifier) has and `settings`: a plugin's own settings belong under `settings`.
fn plugin_keys_written(node: &Node, common: &[&str], own: &[&str]) -> Vec<String> {
    match node.value {
        serde_yaml::Value::Mapping(mapping) => mapping
            .keys()
            .filter_map(|k| k.as_str())
            .filter(|k| !common.contains(k) && !own.contains(k))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The check of a host whose `type` may be a plugin's: its `settings`, and the keys other
/// than the common ones, kept aside until the merge knows whether the plugin exists.
fn read_plugin_check(
    reader: &mut Reader,
    node: &Node,
    fields: &Fields,
    plugin: &str,
) -> Option<PartialCheck> {
    let written = plugin_keys_written(node, COMMON_KEYS, PLUGIN_HOST_KEYS);
    let settings = match fields.get("settings") {
        Some(n) => read_settings(reader, &n)?,
        None => serde_json::Value::Object(Default::default()),
    };
    Some(PartialCheck::Plugin {
        used: PluginUse {
            plugin: Arc::from(plugin),
            settings,
        },
        written,
    })
}

/// A host's `group`: a non-empty name without control characters, trimmed as labels must be.
fn read_group(reader: &mut Reader, node: &Node) -> Option<Arc<str>> {
    let name = reader.string(node)?;
    if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
        reader.semantic_error(
            node,
            "a group is a name without spaces at its ends or control characters, e.g. `group: payments`",
        );
        return None;
    }
    Some(Arc::from(name.as_str()))
}

/// An HTTP host's own keys.
fn read_http_check(
    reader: &mut Reader,
    node: &Node,
    fields: &crate::reader::Fields,
) -> Option<PartialCheck> {
    let url = match fields.get("url") {
        Some(n) => read_http_url(reader, &n),
        None => {
            reader.semantic_error(
                node,
                "missing `url`; an HTTP check needs `url: https://host/path`",
            );
            None
        }
    };
    let method = match fields.get("method") {
        None => Some("GET".to_string()),
        Some(n) => reader.text(&n).and_then(|written| {
            let upper = written.value.trim().to_ascii_uppercase();
            if !upper.is_empty()
                && upper
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
            {
                Some(upper)
            } else {
                reader.semantic_error(
                    &n,
                    format!(
                        "{} is not an HTTP method; use GET, HEAD, POST, PUT, ...",
                        crate::reader::shown(&written)
                    ),
                );
                None
            }
        }),
    };
    let body = fields.get("body").and_then(|n| reader.string(&n));
    let status = match fields.get("status") {
        None => Some(ExpectedStatus::AnySuccess),
        Some(n) => read_status(reader, &n),
    };
    let regex = fields.get("regex").and_then(|n| {
        let pattern = reader.string(&n)?;
        match Regex::new(&pattern) {
            Ok(r) => Some(r),
            Err(e) => {
                reader.semantic_error(
                    &n,
                    format!("the regex does not compile: {}", regex_error_line(&e)),
                );
                None
            }
        }
    });
    let max_body_bytes = fields
        .get("max_body_bytes")
        .and_then(|n| reader.count(&n, 1, 1 << 30).map(|v| v as usize))
        .unwrap_or(DEFAULT_MAX_BODY_BYTES);
    let extras = read_http_extras(reader, fields);
    if let (Some(url), Some(extras), Some(node)) = (&url, &extras, fields.get("http_version")) {
        if extras.http_version == crate::check::HttpVersion::Two && url.0.scheme() == "http" {
            reader.semantic_error(
                &node,
                "HTTP/2 is negotiated over TLS here (h2c is not supported); use an https URL or remove http_version",
            );
            return None;
        }
        if extras.http_version.uses_http3() {
            let version = extras.http_version.name();
            if !cfg!(feature = "http3") {
                reader.semantic_error(
                    &node,
                    format!(
                        "http_version: {version} needs HTTP/3, and this flowstate was built without it (cargo feature `http3`); rebuild with `--features http3` or use http_version: auto"
                    ),
                );
                return None;
            }
            if url.0.scheme() == "http" {
                reader.semantic_error(
                    &node,
                    format!(
                        "HTTP/3 runs over QUIC, which is always TLS; use an https URL or remove http_version: {version}"
                    ),
                );
                return None;
            }
        }
    }
    match (url, method, status, extras) {
        (Some((url, shown_url)), Some(method), Some(status), Some(extras)) => {
            Some(PartialCheck::Http(Box::new(PartialHttp {
                url,
                shown_url,
                method,
                body,
                status,
                regex,
                max_body_bytes,
                extras,
            })))
        }
        _ => None,
    }
}

fn read_status(reader: &mut Reader, node: &Node) -> Option<ExpectedStatus> {
    let mut codes = Vec::new();
    for item in reader.one_or_many(node) {
        // Environment variables are text: `status: ${CODE}` is a number once substituted.
        let code = match item.value {
            serde_yaml::Value::String(_) => match reader.text(&item) {
                Some(text) if text.substituted => text.value.trim().parse::<u64>().ok(),
                Some(_) => None,
                None => continue,
            },
            value => value.as_u64(),
        };
        match code {
            Some(code) if (100..=599).contains(&code) => codes.push(code as u16),
            Some(code) => reader.semantic_error(
                &item,
                format!("{code} is not an HTTP status code; use a number from 100 to 599"),
            ),
            None => reader.type_error(
                &item,
                format!(
                    "expected a status code such as 200, found {}",
                    crate::reader::describe(item.value)
                ),
            ),
        }
    }
    if codes.is_empty() {
        if matches!(node.value, serde_yaml::Value::Sequence(s) if s.is_empty()) {
            reader.semantic_error(node, "the list is empty; remove `status` to accept any 2xx");
        }
        return None;
    }
    Some(ExpectedStatus::OneOf(codes))
}

/// The regex crate's errors draw the pattern over several lines; keep the one that explains.
fn regex_error_line(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.lines().map(str::trim).collect::<Vec<_>>().join(" "))
}

/// Where things are in the files being merged: the line and column of a value by file and
/// path, looked up (and computed, lazily) only when there is an error to report.
pub(crate) struct Positions {
    docs: Vec<(Arc<Path>, Document)>,
}

impl Positions {
    fn doc(&self, file: &Path) -> Option<&Document> {
        self.docs
            .iter()
            .find(|(f, _)| &**f == file)
            .map(|(_, doc)| doc)
    }

    pub(crate) fn value(&self, file: &Path, path: &str) -> Option<Position> {
        self.doc(file).and_then(|d| d.value_position(path))
    }

    pub(crate) fn key(&self, file: &Path, path: &str) -> Option<Position> {
        self.doc(file).and_then(|d| d.key_position(path))
    }

    /// `file:line:column` (or just `file`), to name another place in a message.
    pub(crate) fn shown(&self, file: &Path, position: Option<Position>) -> String {
        match position {
            Some(p) => format!("{}:{}:{}", file.display(), p.line, p.column),
            None => file.display().to_string(),
        }
    }
}

/// Every `depends_on` names configured hosts and no host depends on itself, directly or
/// through others; each problem is reported at the entry that causes it.
fn check_dependencies(
    hosts: &[Arc<HostConfiguration>],
    by_label: &HashMap<Arc<str>, usize>,
    claimed: &HashMap<Arc<str>, Origin>,
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) {
    let mut parents: HashMap<Arc<str>, Vec<Arc<str>>> = HashMap::with_capacity(hosts.len());
    for host in hosts {
        let file = &host.origin.file;
        let place = format!("hosts[{}]", host.origin.index);
        for (i, dependency) in host.depends_on.iter().enumerate() {
            for label in dependency.labels() {
                let path = format!("{place}.depends_on[{i}]");
                let problem = if *label == host.label {
                    format!("`{label}` depends on itself; remove it from its own depends_on")
                } else if by_label.contains_key(label) || claimed.contains_key(label) {
                    continue;
                } else {
                    format!(
                        "no host is labelled `{label}`{}; name a configured host",
                        did_you_mean(label, by_label.keys().map(|l| &**l))
                    )
                };
                errors.push(
                    Diagnostic::new(
                        file,
                        format!("{place} (label {:?}).depends_on[{i}]", &*host.label),
                        problem,
                    )
                    .at(positions.value(file, &path)),
                );
            }
        }
        parents.insert(
            host.label.clone(),
            host.depends_on
                .iter()
                .flat_map(|d| d.labels().iter().cloned())
                .filter(|l| *l != host.label)
                .collect(),
        );
    }
    if let Some(cycle) = find_cycle(&parents) {
        let first = by_label.get(&cycle[0]).map(|&i| &hosts[i]);
        if let Some(host) = first {
            let shown: Vec<&str> = cycle.iter().map(|l| &**l).collect();
            let path = format!("hosts[{}].depends_on", host.origin.index);
            errors.push(
                Diagnostic::new(
                    &host.origin.file,
                    format!("hosts[{}] (label {:?}).depends_on", host.origin.index, &*host.label),
                    format!(
                        "dependencies form a cycle: {}; a host cannot need itself to be reachable, remove one of these entries",
                        shown.join(" → ")
                    ),
                )
                .at(positions.key(&host.origin.file, &path)),
            );
        }
    }
}

/// The status page's settings, its groups checked against the hosts: each names a host that
/// exists and is `public: true` (a group must never publish a host by accident).
fn checked_status_page(
    page: Option<(StatusPageSettings, Arc<Path>)>,
    hosts: &[Arc<HostConfiguration>],
    by_label: &HashMap<Arc<str>, usize>,
    claimed: &HashMap<Arc<str>, Origin>,
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) -> StatusPageSettings {
    let Some((page, file)) = page else {
        return StatusPageSettings::default();
    };
    for (g, group) in page.groups.iter().enumerate() {
        for (h, label) in group.hosts.iter().enumerate() {
            let path = format!("status_page.groups[{g}].hosts[{h}]");
            let problem = match by_label.get(label.as_str()).map(|&i| &hosts[i]) {
                Some(host) if host.public => continue,
                Some(_) => format!(
                    "host `{label}` is not public; add `public: true` to it to show it on the status page, or remove it from this group"
                ),
                // A host with errors of its own was reported already.
                None if claimed.contains_key(label.as_str()) => continue,
                None => format!(
                    "no host is labelled `{label}`{}; name a configured host",
                    did_you_mean(label, by_label.keys().map(|l| &**l))
                ),
            };
            errors.push(
                Diagnostic::new(&file, path.clone(), problem).at(positions.value(&file, &path)),
            );
        }
    }
    page
}

/// The maintenance windows of every file, checked across files: names unique, and each plain
/// label in `hosts` naming a configured host (a glob may match none). Windows with errors are
/// left out, once every problem of theirs is reported.
fn checked_maintenance(
    windows: Vec<ReadWindow>,
    (by_label, outside): (&HashMap<Arc<str>, usize>, &HashSet<Arc<str>>),
    claimed: &HashMap<Arc<str>, Origin>,
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) -> Vec<Arc<MaintenanceWindow>> {
    let mut names: HashMap<Arc<str>, Origin> = HashMap::with_capacity(windows.len());
    let mut checked = Vec::with_capacity(windows.len());
    for read in windows {
        let place = format!("maintenance[{}]", read.origin.index);
        let file = &read.origin.file;
        let mut valid = true;
        if let Some(first) = names.get(&read.name) {
            let first_path = format!("maintenance[{}].name", first.index);
            let first_at = positions.shown(&first.file, positions.value(&first.file, &first_path));
            let path = format!("{place}.name");
            errors.push(
                Diagnostic::new(
                    file,
                    path.clone(),
                    format!(
                        "maintenance window `{}` is already defined at {first_at}: maintenance[{}]; names must be unique, rename one of them",
                        read.name, first.index
                    ),
                )
                .at(positions.value(file, &path)),
            );
            valid = false;
        } else {
            names.insert(read.name.clone(), read.origin.clone());
        }
        for (i, pattern) in &read.hosts {
            let HostPattern::Label(label) = pattern else {
                continue;
            };
            // A host with errors of its own was reported already.
            if by_label.contains_key(label)
                || claimed.contains_key(label)
                || outside.contains(label)
            {
                continue;
            }
            let path = format!("{place}.hosts[{i}]");
            errors.push(
                Diagnostic::new(
                    file,
                    path.clone(),
                    format!(
                        "no host is labelled `{label}`{}; name a configured host, or write a glob such as `{label}*` to match hosts that may not exist yet",
                        did_you_mean(label, by_label.keys().map(|l| &**l))
                    ),
                )
                .at(positions.value(file, &path)),
            );
            valid = false;
        }
        if let (true, Some(window)) = (valid, read.window) {
            checked.push(Arc::new(window));
        }
    }
    checked
}

/// Which files [`assemble_part`] merges, and what it takes from outside them.
struct Scope<'a> {
    /// The tenant whose files these are; `None`: the main configuration's.
    tenant: Option<&'a str>,
    /// A tenant's hosts and notifiers may be of the main file's plugins' types.
    plugins: Option<&'a [Arc<PluginConfig>]>,
    /// Whether the main configuration has a `cluster` section (`locations` need one).
    cluster_written: bool,
    /// Labels configured elsewhere (the tenants' hosts, prefixed) that a window's `hosts` may
    /// name.
    outside_labels: &'a HashSet<Arc<str>>,
}

/// Merges the files, applies defaults, and checks what spans files: the main configuration's
/// files first, then each tenant's on their own (their own defaults, notifiers and labels),
/// renamed `<tenant>/<name>` and added (see `tenant.rs`).
///
/// A tenant's errors (those the loader found in its files, `tenant_errors`, and those found
/// here) go to its [`TenantFailure`], not to `errors`, and the tenant keeps its part of
/// `previous` instead (see `tenant_reload.rs`); the caller decides whether that is acceptable.
pub(crate) fn assemble(
    mut files: Vec<FileSections>,
    errors: &mut Vec<Diagnostic>,
    mut tenant_errors: HashMap<Arc<str>, Vec<Diagnostic>>,
    previous: Option<&Config>,
) -> (Config, Vec<TenantFailure>) {
    let mut positions = Positions { docs: Vec::new() };
    for f in &mut files {
        if let Some(doc) = f.doc.take() {
            positions.docs.push((f.file.clone(), doc));
        }
    }
    let (mut tenant_files, main_files): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| f.tenant.is_some());
    let tenants_file = main_files
        .iter()
        .find(|f| f.tenants.is_some())
        .map(|f| f.file.clone());
    // The labels of the tenants' hosts, as read now and as running (of the tenants still
    // configured): a main file's window may name them, also while a tenant's file is broken
    // and its hosts are the running ones.
    let configured = |tenant: &Option<Arc<str>>| {
        main_files
            .iter()
            .filter_map(|f| f.tenants.as_deref())
            .flatten()
            .any(|t| Some(&t.name) == tenant.as_ref())
    };
    let tenant_labels: HashSet<Arc<str>> = tenant_files
        .iter()
        .flat_map(|f| {
            let tenant = f.tenant.clone().unwrap_or_default();
            f.hosts.iter().map(move |h| prefixed(&tenant, &h.label))
        })
        .chain(
            previous
                .iter()
                .flat_map(|p| p.hosts())
                .filter(|h| configured(&h.tenant))
                .map(|h| h.label.clone()),
        )
        .collect();
    let cluster_written = main_files.iter().any(|f| f.cluster_written);
    if let Some(tenants) = main_files.iter().find_map(|f| f.tenants.as_deref()) {
        check_main_names(tenants, &main_files, errors, &positions);
    }
    let main_scope = Scope {
        tenant: None,
        plugins: None,
        cluster_written: false,
        outside_labels: &tenant_labels,
    };
    let mut config = assemble_part(main_files, errors, &positions, &main_scope);
    let mut contained = Vec::new();
    let Some(main_file) = tenants_file else {
        return (config, contained);
    };
    for tenant in config.tenants.clone() {
        let files;
        (files, tenant_files) = tenant_files
            .into_iter()
            .partition(|f| f.tenant.as_ref() == Some(&tenant.name));
        let mut own_errors = tenant_errors.remove(&tenant.name).unwrap_or_default();
        check_tenant_files(&tenant, &main_file, &files, &mut own_errors, &positions);
        // A token shared with `server.token` is fixed in the main file: the main
        // configuration's error.
        errors.extend(check_server_token(
            &tenant,
            config.server.token.as_ref(),
            &main_file,
            &positions,
        ));
        let scope = Scope {
            tenant: Some(&tenant.name),
            plugins: Some(&config.plugins),
            cluster_written,
            outside_labels: &HashSet::new(),
        };
        let part = assemble_part(files, &mut own_errors, &positions, &scope);
        // Watched and hashed as the tenant's files also while they are broken, so their fix
        // is noticed.
        config.sources.extend(part.sources);
        if !own_errors.is_empty() {
            let kept = keep_previous_part(&mut config, &tenant.name, previous);
            contained.push(TenantFailure {
                tenant: tenant.name.clone(),
                error: ConfigError {
                    diagnostics: own_errors,
                },
                kept,
            });
            continue;
        }
        for host in &part.hosts {
            let host = tenant_host(&tenant.name, host);
            config
                .by_label
                .insert(host.label.clone(), config.hosts.len());
            config.hosts.push(Arc::new(host));
        }
        config.notifiers.extend(
            part.notifiers
                .iter()
                .map(|n| Arc::new(tenant_notifier(&tenant.name, n))),
        );
        config.maintenance.extend(
            part.maintenance
                .iter()
                .map(|w| Arc::new(tenant_window(&tenant.name, w))),
        );
    }
    (config, contained)
}

/// Merges the files of the main configuration or of one tenant (`scope`).
fn assemble_part(
    files: Vec<FileSections>,
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
    scope: &Scope,
) -> Config {
    let mut server: Option<(ServerSettings, Arc<Path>)> = None;
    let mut self_check: Option<(SelfCheckSettings, Arc<Path>)> = None;
    let mut telemetry: Option<(crate::telemetry::TelemetrySettings, Arc<Path>)> = None;
    let mut state: Option<(StateSettings, Arc<Path>)> = None;
    let mut status_page: Option<(StatusPageSettings, Arc<Path>)> = None;
    let mut cluster: Option<((ClusterSettings, ClusterPlace), Arc<Path>)> = None;
    let mut cluster_written = scope.cluster_written;
    let mut tenants: Option<(Vec<TenantConfig>, Arc<Path>)> = None;
    let mut plugins: Option<(Vec<PluginConfig>, Arc<Path>)> = None;
    let mut plugin_notifier_keys = Vec::new();
    let mut user_defaults: Option<(PartialDefaults, Arc<Path>)> = None;
    let mut notifiers: Vec<Arc<NotifierConfig>> = Vec::new();
    let mut notifier_files: HashMap<Arc<str>, Arc<Path>> = HashMap::new();
    let mut broken_notifiers: Vec<Arc<str>> = Vec::new();
    let mut partial_hosts = Vec::new();
    let mut read_windows = Vec::new();
    let mut sources = Vec::new();

    for f in files {
        sources.push(f.file.to_path_buf());
        let at = positions;
        set_once(&mut server, f.server, &f.file, "server", errors, at);
        set_once(
            &mut self_check,
            f.self_check,
            &f.file,
            "self_check",
            errors,
            at,
        );
        set_once(&mut state, f.state, &f.file, "state", errors, at);
        set_once(
            &mut telemetry,
            f.telemetry,
            &f.file,
            "telemetry",
            errors,
            at,
        );
        set_once(
            &mut status_page,
            f.status_page,
            &f.file,
            "status_page",
            errors,
            at,
        );
        set_once(
            &mut user_defaults,
            f.defaults,
            &f.file,
            "defaults",
            errors,
            at,
        );
        set_once(&mut cluster, f.cluster, &f.file, "cluster", errors, at);
        set_once(&mut plugins, f.plugins, &f.file, "plugins", errors, at);
        set_once(&mut tenants, f.tenants, &f.file, "tenants", errors, at);
        cluster_written |= f.cluster_written;
        let file = f.file.clone();
        plugin_notifier_keys.extend(
            f.plugin_notifier_keys
                .into_iter()
                .map(|(name, written)| (name, written, file.clone())),
        );
        for n in f.notifiers {
            if let Some(first) = notifier_files.get(&n.name) {
                let path = format!("notifiers.{}", n.name);
                let first_at = at.shown(first, at.key(first, &path));
                errors.push(
                    Diagnostic::new(
                        &f.file,
                        path.clone(),
                        format!(
                            "notifier `{}` is already defined in {first_at}; rename one of them",
                            n.name,
                        ),
                    )
                    .at(at.key(&f.file, &path)),
                );
                continue;
            }
            notifier_files.insert(n.name.clone(), f.file.clone());
            notifiers.push(Arc::new(n));
        }
        broken_notifiers.extend(f.broken_notifiers);
        partial_hosts.extend(f.hosts);
        read_windows.extend(f.maintenance);
    }

    let plugins: Vec<Arc<PluginConfig>> = match scope.plugins {
        Some(outer) => outer.to_vec(),
        None => plugins
            .map(|(plugins, _)| plugins.into_iter().map(Arc::new).collect())
            .unwrap_or_default(),
    };
    let plugin_names: Vec<&str> = plugins.iter().map(|p| &*p.name).collect();
    for (name, written, file) in plugin_notifier_keys {
        let Some(NotifierKind::Plugin(used, _)) =
            notifiers.iter().find(|n| n.name == name).map(|n| &n.kind)
        else {
            continue;
        };
        let path = format!("notifiers.{name}");
        if !plugin_names.contains(&&*used.plugin) {
            errors.push(
                Diagnostic::new(
                    &file,
                    format!("{path}.type"),
                    unknown_type("notifier", &used.plugin, NOTIFIER_TYPES, &plugin_names),
                )
                .at(positions.value(&file, &format!("{path}.type"))),
            );
            continue;
        }
        for key in written {
            errors.push(
                Diagnostic::new(
                    &file,
                    format!("{path}.{key}"),
                    own_key_of_plugin(&key, "notifier", &used.plugin),
                )
                .at(positions.key(&file, &format!("{path}.{key}"))),
            );
        }
    }
    let notifier_names: Vec<&str> = notifiers
        .iter()
        .map(|n| &*n.name)
        .chain(broken_notifiers.iter().map(|n| &**n))
        .collect();
    let mut defaults = Defaults::default();
    if let Some((d, file)) = user_defaults {
        check_alerts(
            d.alerts.as_deref().unwrap_or(&[]),
            (&notifier_names, scope.tenant),
            (&file, "defaults.alerts", "defaults.alerts"),
            errors,
            positions,
        );
        defaults.interval = d.interval.unwrap_or(defaults.interval);
        defaults.timeout_is_explicit = d.timeout.is_some();
        defaults.timeout = d.timeout.unwrap_or(defaults.timeout);
        defaults.failure_threshold = d.failure_threshold.unwrap_or(defaults.failure_threshold);
        defaults.success_threshold = d.success_threshold.unwrap_or(defaults.success_threshold);
        defaults.max_response_time = d.max_response_time.or(defaults.max_response_time);
        defaults.follow_redirects = d.follow_redirects.unwrap_or(defaults.follow_redirects);
        defaults.max_redirects = d.max_redirects.unwrap_or(defaults.max_redirects);
        defaults.alerts = d.alerts.unwrap_or_default();
        defaults.headers = d.headers.unwrap_or_default();
        if let Some(flapping) = d.flapping {
            defaults.flapping = effective_flapping(
                flapping,
                FlappingSettings::DEFAULT,
                (&file, "defaults", "defaults"),
                errors,
                positions,
            );
        }
        if let (Some(_), false) = (&d.locations, cluster_written) {
            errors.push(locations_without_cluster(
                &file, "defaults", "defaults", positions,
            ));
        }
        defaults.locations = d.locations;
        if defaults.timeout_is_explicit && defaults.timeout > defaults.interval {
            errors.push(
                timeout_error(&file, "defaults", defaults.timeout, defaults.interval)
                    .at(positions.value(&file, "defaults.timeout")),
            );
        }
    }

    let mut hosts: Vec<Arc<HostConfiguration>> = Vec::with_capacity(partial_hosts.len());
    let mut by_label: HashMap<Arc<str>, usize> = HashMap::with_capacity(partial_hosts.len());
    // Every label written, by hosts with errors too, so a duplicate is reported in one pass.
    let mut claimed: HashMap<Arc<str>, Origin> = HashMap::with_capacity(partial_hosts.len());
    // Every location hosts name, also hosts with errors: `quorum` is checked against them.
    let mut named_locations = Vec::new();
    for p in partial_hosts {
        let path = format!("hosts[{}]", p.origin.index);
        let file = &p.origin.file;
        if let Some(locations) = &p.settings.locations {
            if !cluster_written {
                errors.push(locations_without_cluster(file, &p.place, &path, positions));
            }
            named_locations.push(locations.clone());
        }
        // Alerts are checked before anything else so a host with another error still has
        // its notifier names reported in the same pass.
        if let Some(a) = &p.settings.alerts {
            check_alerts(
                a,
                (&notifier_names, scope.tenant),
                (
                    file,
                    &format!("{}.alerts", p.place),
                    &format!("{path}.alerts"),
                ),
                errors,
                positions,
            );
        }
        // A type that is no plugin's is reported as a built-in type's mistake always was:
        // before the label is claimed, as the host was never read.
        if let Some(PartialCheck::Plugin { used, .. }) = &p.check {
            if !plugin_names.contains(&&*used.plugin) {
                errors.push(
                    Diagnostic::new(
                        file,
                        format!("{}.type", p.place),
                        unknown_type("check", &used.plugin, CHECK_TYPES, &plugin_names),
                    )
                    .at(positions.value(file, &format!("{path}.type"))),
                );
                continue;
            }
        }
        if let Some(first) = claimed.get(&p.label) {
            let first_path = format!("hosts[{}]", first.index);
            let first_at = positions.shown(
                &first.file,
                positions.value(&first.file, &format!("{first_path}.label")),
            );
            errors.push(
                Diagnostic::new(
                    file,
                    format!("{}.label", p.place),
                    format!(
                        "label {:?} is already used by {first_at}: {first_path}; labels must be unique",
                        &*p.label
                    ),
                )
                .at(positions.value(file, &format!("{path}.label"))),
            );
            continue;
        }
        claimed.insert(p.label.clone(), p.origin.clone());
        let alerts = p
            .settings
            .alerts
            .clone()
            .unwrap_or_else(|| defaults.alerts.clone());
        let flapping = match p.settings.flapping {
            None => defaults.flapping,
            Some(written) => effective_flapping(
                written,
                defaults.flapping.unwrap_or(FlappingSettings::DEFAULT),
                (file, &p.place, &path),
                errors,
                positions,
            ),
        };
        let Some(check) = p.check else { continue };
        let interval = p.settings.interval.unwrap_or(defaults.interval);
        let timeout = match p.settings.timeout {
            Some(t) => {
                if t > interval {
                    errors.push(
                        timeout_error(file, &p.place, t, interval)
                            .at(positions.value(file, &format!("{path}.timeout"))),
                    );
                }
                t
            }
            None if defaults.timeout_is_explicit => {
                // With the interval inherited too, the error was already given for `defaults`.
                // Here the host's own interval is what is too short: point at it.
                if defaults.timeout > interval && p.settings.interval.is_some() {
                    errors.push(
                        timeout_error(file, &p.place, defaults.timeout, interval)
                            .at(positions.value(file, &format!("{path}.interval"))),
                    );
                }
                defaults.timeout
            }
            // An unset timeout shrinks to fit a short interval rather than forcing users to
            // write one for every fast check.
            None => defaults.timeout.min(interval),
        };
        let check = match check {
            PartialCheck::Ready(check) => check,
            PartialCheck::Plugin { used, written } => {
                if !written.is_empty() {
                    for key in written {
                        errors.push(
                            Diagnostic::new(
                                file,
                                format!("{}.{key}", p.place),
                                own_key_of_plugin(&key, "host", &used.plugin),
                            )
                            .at(positions.key(file, &format!("{path}.{key}"))),
                        );
                    }
                    continue;
                }
                Check::Plugin(used)
            }
            PartialCheck::Http(http) => {
                let mut headers = defaults.headers.clone();
                for h in p.settings.headers.clone().unwrap_or_default() {
                    headers.retain(|d| !d.name.eq_ignore_ascii_case(&h.name));
                    headers.push(h);
                }
                let http = *http;
                Check::Http(HttpCheck {
                    url: http.url,
                    shown_url: http.shown_url,
                    method: http.method,
                    headers,
                    body: http.body,
                    status: http.status,
                    regex: http.regex,
                    follow_redirects: p
                        .settings
                        .follow_redirects
                        .unwrap_or(defaults.follow_redirects),
                    max_redirects: p.settings.max_redirects.unwrap_or(defaults.max_redirects),
                    max_body_bytes: http.max_body_bytes,
                    auth: http.extras.auth,
                    tls: http.extras.tls,
                    http_version: http.extras.http_version,
                    keepalive: http.extras.keepalive,
                })
            }
        };
        let host = HostConfiguration {
            label: p.label.clone(),
            check,
            interval,
            timeout,
            failure_threshold: p
                .settings
                .failure_threshold
                .unwrap_or(defaults.failure_threshold),
            success_threshold: p
                .settings
                .success_threshold
                .unwrap_or(defaults.success_threshold),
            max_response_time: p.settings.max_response_time.or(defaults.max_response_time),
            alerts,
            group: p.group.clone(),
            public: p.public,
            depends_on: p.depends_on.clone(),
            flapping,
            locations: p
                .settings
                .locations
                .clone()
                .or_else(|| defaults.locations.clone()),
            origin: p.origin,
            tenant: None,
        };
        by_label.insert(p.label, hosts.len());
        hosts.push(Arc::new(host));
    }

    check_dependencies(&hosts, &by_label, &claimed, errors, positions);
    let maintenance = checked_maintenance(
        read_windows,
        (&by_label, scope.outside_labels),
        &claimed,
        errors,
        positions,
    );
    let (cluster, cluster_place) = match cluster {
        Some(((settings, place), _)) => {
            let known = known_locations(
                defaults.locations.as_deref(),
                named_locations.iter().map(Vec::as_slice),
                settings.location.as_ref(),
            );
            check_quorum(&settings, &place, &known, errors, positions);
            let same_database = state.as_ref().is_some_and(|(state, _)| {
                state
                    .url
                    .as_ref()
                    .is_some_and(|url| url.expose() == settings.url.expose())
            });
            if same_database {
                // Every agent's store would write the same hosts' rows over the others'.
                errors.push(
                    Diagnostic::new(
                        &place.file,
                        "cluster.url",
                        "cluster.url is also state.url: each agent's state store holds its own location's results and must be its own; give state.url a database of its own per agent, or use state.path".to_string(),
                    )
                    .at(positions.value(&place.file, "cluster.url")),
                );
            }
            (Some(settings), Some(place))
        }
        None => (None, None),
    };
    Config {
        sources,
        include_globs: Vec::new(),
        server: server.map(|(s, _)| s).unwrap_or_default(),
        state: state.map(|(s, _)| s).unwrap_or_default(),
        self_check: self_check.map(|(s, _)| s),
        telemetry: telemetry.map(|(t, _)| t),
        status_page: checked_status_page(
            status_page,
            &hosts,
            &by_label,
            &claimed,
            errors,
            positions,
        ),
        defaults,
        notifiers,
        plugins,
        tenants: tenants
            .map(|(tenants, _)| tenants.into_iter().map(Arc::new).collect())
            .unwrap_or_default(),
        env_values: EnvValues::default(),
        maintenance,
        cluster,
        cluster_place,
        hosts,
        by_label,
    }
}

/// `cluster.quorum` is at most the number of locations `known`; with this agent's location
/// still to come (from the command line), it may be one more, and
/// [`Config::with_location`] checks again once it is known.
fn check_quorum(
    cluster: &ClusterSettings,
    place: &ClusterPlace,
    known: &std::collections::BTreeSet<Arc<str>>,
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) {
    if let Some(message) = quorum_error(cluster.quorum, known, cluster.location.is_none()) {
        errors.push(
            Diagnostic::new(&place.file, "cluster.quorum", message)
                .at(positions.value(&place.file, "cluster.quorum")),
        );
    }
}

/// A `type` that is neither built in nor a plugin's: what to write instead.
fn unknown_type(what: &str, written: &str, built_in: &[&str], plugins: &[&str]) -> String {
    // The words each kind of type always used, so messages stay as users know them.
    let lead = match what {
        "check" => "supported:",
        _ => "use one of",
    };
    let candidates = built_in.iter().chain(plugins).copied();
    let plugin_hint = match plugins {
        [] => format!(", or a plugin named `{written}` defined under `plugins:`"),
        names => format!(", or one of the plugins: {}", names.join(", ")),
    };
    format!(
        "unknown {what} type `{written}`{}; {lead} {}{plugin_hint}",
        did_you_mean(written, candidates),
        built_in.join(", "),
    )
}

/// A key a host or notifier of a plugin's type cannot have: the plugin's own settings go
/// under `settings`, where its schema checks them.
fn own_key_of_plugin(key: &str, what: &str, plugin: &str) -> String {
    format!(
        "unknown key `{key}`: a {what} of plugin type `{plugin}` takes the plugin's own settings under `settings:`, e.g. `settings: {{ {key}: ... }}`"
    )
}

/// `server`, `state` and `defaults` may each be written in one file only.
fn set_once<T>(
    slot: &mut Option<(T, Arc<Path>)>,
    value: Option<T>,
    file: &Arc<Path>,
    section: &str,
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) {
    let Some(value) = value else { return };
    match slot {
        Some((_, first)) => errors.push(
            Diagnostic::new(
                file,
                section,
                format!(
                    "`{section}` is already set in {}; keep it in one file",
                    positions.shown(first, positions.key(first, section))
                ),
            )
            .at(positions.key(file, section)),
        ),
        None => *slot = Some((value, file.clone())),
    }
}

/// Reports every name in `alerts` that no notifier has; `(file, place, path)` say where the
/// list is, for messages and for positions.
fn check_alerts(
    alerts: &[Arc<str>],
    (known, tenant): (&[&str], Option<&str>),
    (file, place, path): (&Path, &str, &str),
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) {
    for (i, name) in alerts.iter().enumerate() {
        if !known.contains(&&**name) {
            // A tenant's hosts alert its own notifiers only, so only those are suggested.
            let hint = match (did_you_mean(name, known.iter().copied()), tenant) {
                (h, _) if !h.is_empty() => h,
                (_, None) if known.is_empty() => "; define it under `notifiers:`".to_string(),
                (_, None) => format!("; defined notifiers: {}", known.join(", ")),
                (_, Some(t)) if known.is_empty() => format!(
                    "; tenant `{t}` has no notifiers: define it under `notifiers:` in its files (a tenant's hosts alert only the tenant's own notifiers)"
                ),
                (_, Some(t)) => format!(
                    "; notifiers of tenant `{t}` (a tenant's hosts alert only these): {}",
                    known.join(", ")
                ),
            };
            errors.push(
                Diagnostic::new(
                    file,
                    format!("{place}[{i}]"),
                    format!("no notifier named `{name}`{hint}"),
                )
                .at(positions.value(file, &format!("{path}[{i}]"))),
            );
        }
    }
}

/// The flapping settings of `defaults` or a host, `written` over `base`; an error is reported
/// at the `low` or `high` written in the block (`(file, place, path)` say where it is).
fn effective_flapping(
    written: PartialFlapping,
    base: FlappingSettings,
    (file, place, path): (&Path, &str, &str),
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) -> Option<FlappingSettings> {
    match written.over(base) {
        Ok(settings) => settings,
        Err((key, message)) => {
            let inherited_both = matches!(
                written,
                PartialFlapping::On {
                    high: None,
                    low: None,
                    ..
                }
            );
            // A host that writes neither inherits the problem from `defaults`, where it
            // was reported.
            if !inherited_both || place == "defaults" {
                let at = format!("flapping.{}", key.name());
                errors.push(
                    Diagnostic::new(file, format!("{place}.{at}"), message)
                        .at(positions.value(file, &format!("{path}.{at}"))),
                );
            }
            None
        }
    }
}

/// `locations` (of `defaults` or a host, at `place` and `path`) in a configuration without
/// `cluster`: a single agent checks every host itself.
fn locations_without_cluster(
    file: &Path,
    place: &str,
    path: &str,
    positions: &Positions,
) -> Diagnostic {
    Diagnostic::new(
        file,
        format!("{place}.locations"),
        "`locations` needs a top-level `cluster:` section (agents in several locations sharing one database); add `cluster:` with its `url` and `location`, or remove `locations`: one flowstate alone checks every host itself",
    )
    .at(positions.key(file, &format!("{path}.locations")))
}

fn timeout_error(file: &Path, place: &str, timeout: Duration, interval: Duration) -> Diagnostic {
    Diagnostic::new(
        file,
        format!("{place}.timeout"),
        format!(
            "the timeout ({}) is longer than the interval ({}), so checks would pile up; set timeout to at most {}",
            humantime::format_duration(timeout),
            humantime::format_duration(interval),
            humantime::format_duration(interval)
        ),
    )
}
