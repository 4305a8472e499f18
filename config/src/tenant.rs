//! `tenants` (SPEC §12): teams sharing one flowstate, each with a file of its own for its
//! hosts, notifiers, defaults and maintenance windows, its API tokens and its limits.
//!
//! Only the configuration lives here: reading the section of the main file, the rules a
//! tenant's files must follow (checked on what they say, before they are merged) and the
//! renaming of a tenant's items to `<tenant>/<name>`. Tokens are read and kept, not yet used:
//! the API's isolation comes next.
//!
//! ## Rules
//! - A tenant's `defaults` apply to its own hosts only, over the built-in defaults: the main
//!   file's `defaults` do not reach a tenant (their `alerts` name the main file's notifiers,
//!   which a tenant's hosts may not use, and the platform team's choices would otherwise change
//!   every team's checks behind their backs).
//! - A tenant's labels, notifier names and window names are written bare in its files and
//!   become `<tenant>/<name>` in the [`crate::Config`]; a `/` in them is an error so the prefix
//!   is never ambiguous. `alerts`, `depends_on` and a window's `hosts` resolve within the
//!   tenant; a window without `hosts` covers the tenant's hosts only.
//! - A name in the main files (label, notifier, window) may not start with `<tenant>/` for a
//!   configured tenant: that prefix is how the API, the CLI and a reload that keeps a broken
//!   tenant's part tell the tenant's items, so it is the tenant's alone.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::dependencies::Dependency;
use crate::error::{did_you_mean, Diagnostic};
use crate::host::{Check, HostConfiguration};
use crate::maintenance::{HostPattern, MaintenanceWindow};
use crate::notifier::{NotifierConfig, NotifierKind};
use crate::reader::{Node, Reader};
use crate::secret::Secret;
use crate::settings::Defaults;
use crate::tenant_paths::{tenant_root, within};
use crate::validate::{relative_to, FileSections, PartialCheck, Positions};

/// The keys of one tenant.
pub(crate) const TENANT_KEYS: &[&str] = &["config", "tokens", "limits", "programs", "env"];
/// The keys of a tenant's `limits`.
pub(crate) const LIMIT_KEYS: &[&str] = &["hosts", "min_interval", "notifiers"];
/// The keys of a token written as a mapping.
pub(crate) const TOKEN_KEYS: &[&str] = &["token", "hash", "role"];
/// The top-level sections a tenant's file may have; the others are the platform team's.
pub(crate) const TENANT_FILE_KEYS: &[&str] = &[
    "include",
    "defaults",
    "notifiers",
    "hosts",
    "maintenance",
    "version",
];

/// What a token may do in its tenant (used by the API, later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads, and sets silences, maintenance and announcements.
    Responder,
    /// Everything a responder does, and reloads.
    Admin,
}

impl Role {
    const NAMES: &'static [&'static str] = &["viewer", "responder", "admin"];

    fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "responder" => Some(Role::Responder),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        })
    }
}

/// How a token is known: as written (usually from `${VAR}`), or only by its argon2 hash.
/// Both are [`Secret`]s: a hash is not the token, but it is no one's business either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Token(Secret),
    /// A PHC string starting with `$argon2`; only its form is checked here.
    Hash(Secret),
}

/// One entry of a tenant's `tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantToken {
    pub credential: Credential,
    pub role: Role,
}

/// A tenant's `limits`; `None`: no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantLimits {
    pub hosts: Option<usize>,
    pub min_interval: Option<Duration>,
    pub notifiers: Option<usize>,
}

/// One entry of `tenants`.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// Letters, digits, `-` and `_`: it prefixes the tenant's labels.
    pub name: Arc<str>,
    /// The tenant's file, relative paths taken from the main file's directory.
    pub config: PathBuf,
    pub tokens: Vec<TenantToken>,
    pub limits: TenantLimits,
    /// `programs`: may the tenant's hosts be script checks or of a plugin's type, and its
    /// notifiers commands or of a plugin's type? Running programs on the platform's machine
    /// is the platform team's decision: `false` unless the main file says so.
    pub programs: bool,
    /// `env`: the environment variables the tenant's files may use in `${VAR}`. The daemon's
    /// environment holds the platform's secrets (its token, database passwords), and a
    /// tenant's check URL pointing at the tenant's own server would send them there: only
    /// what the main file lists is looked up.
    pub env: Vec<String>,
}

/// Where a tenant's `config` was written, for errors about reading that file.
pub(crate) struct TenantFile {
    pub name: Arc<str>,
    pub config: PathBuf,
    /// The path of the entry in the main file: `tenants.team-a.config`.
    pub entry: String,
    /// The variables its files may use ([`TenantConfig::env`]).
    pub env: Vec<String>,
}

/// Tenant names prefix labels (`team-a/api`): no `/`, nothing a URL path must escape.
pub(crate) fn valid_tenant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads `tenants`: `name: { config, tokens, limits, programs }`.
pub(crate) fn read_tenants(reader: &mut Reader, node: &Node) -> Vec<TenantConfig> {
    let mut tenants = Vec::new();
    // Every token written so far, with its tenant: a token identifies its tenant, so one
    // given twice would make the API guess whose it is.
    let mut seen: HashMap<String, Arc<str>> = HashMap::new();
    for (name, entry) in reader.named_entries(node) {
        let entry = entry.with_place(format!("tenants.{name}"));
        if !valid_tenant_name(&name) {
            reader.key_error(
                &entry,
                format!("`{name}` is not a tenant name; use letters, digits, `-` and `_` (it prefixes the tenant's labels, as in `{}/api`)", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "-")),
            );
            continue;
        }
        let Some(fields) = reader.fields(&entry, TENANT_KEYS) else {
            continue;
        };
        let errors_before = reader.errors.len();
        let config = match fields.get("config") {
            Some(n) => reader
                .string(&n)
                .map(|written| relative_to(reader.dir, &written)),
            None => {
                reader.semantic_error(
                    &entry,
                    format!("missing `config`: the file of tenant `{name}`'s hosts and notifiers, e.g. `config: tenants/{name}.yaml`"),
                );
                None
            }
        };
        let tokens = match fields.get("tokens") {
            Some(n) => read_tokens(reader, &n, (&name, &mut seen)),
            None => Vec::new(),
        };
        let limits = match fields.get("limits") {
            Some(n) => read_limits(reader, &n),
            None => TenantLimits::default(),
        };
        let programs = match fields.get("programs") {
            Some(n) => reader.boolean(&n).unwrap_or(false),
            None => false,
        };
        let env = match fields.get("env") {
            Some(n) => read_env_names(reader, &n),
            None => Vec::new(),
        };
        if let (Some(config), true) = (config, reader.errors.len() == errors_before) {
            tenants.push(TenantConfig {
                name: Arc::from(name.as_str()),
                config,
                tokens,
                limits,
                programs,
                env,
            });
        }
    }
    tenants
}

/// `env: [TEAM_A_DB_PASSWORD, ...]`: names only, as `${NAME}` would name them.
fn read_env_names(reader: &mut Reader, node: &Node) -> Vec<String> {
    let mut names = Vec::new();
    for item in reader.one_or_many(node) {
        let Some(name) = reader.string(&item) else {
            continue;
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            names.push(name);
        } else {
            reader.semantic_error(
                &item,
                format!("`{name}` is not an environment variable name; use letters, digits and `_`, as in `TEAM_A_DB_PASSWORD`"),
            );
        }
    }
    names
}

/// The error a tenant's file gets for a `${NAME}` its tenant may not use.
pub(crate) fn env_not_listed(tenant: &str, name: &str) -> String {
    format!(
        "tenant `{tenant}` may use only the environment variables listed in `tenants.{tenant}.env` of the main file, and {name} is not one; ask the platform team to add it there (the daemon's other variables are the platform's)"
    )
}

fn read_tokens(
    reader: &mut Reader,
    node: &Node,
    (tenant, seen): (&str, &mut HashMap<String, Arc<str>>),
) -> Vec<TenantToken> {
    let mut tokens = Vec::new();
    for item in reader.one_or_many(node) {
        let token = match item.value {
            serde_yaml::Value::Mapping(_) => read_token_mapping(reader, &item),
            _ => read_token(reader, &item).map(|token| TenantToken {
                credential: Credential::Token(token),
                role: Role::Responder,
            }),
        };
        if let Some(TenantToken {
            credential: Credential::Token(secret),
            ..
        }) = &token
        {
            if let Some(first) = seen.get(secret.expose()) {
                let whose = match &**first == tenant {
                    true => "given twice to this tenant".to_string(),
                    false => format!("also a token of tenant `{first}`"),
                };
                reader.semantic_error(
                    &item,
                    format!("this token is {whose}; a token identifies one tenant and one role, give each its own"),
                );
                continue;
            }
            seen.insert(secret.expose().to_string(), Arc::from(tenant));
        }
        tokens.extend(token);
    }
    tokens
}

/// A token as written; an empty one (`${TEAM_A_TOKEN}` with the variable set to nothing)
/// would let anyone in with an empty header, so it is an error.
fn read_token(reader: &mut Reader, node: &Node) -> Option<Secret> {
    let token = reader.string(node)?;
    if token.trim().is_empty() {
        reader.semantic_error(
            node,
            "the token is empty; set its environment variable, or remove the entry",
        );
        return None;
    }
    Some(Secret::new(token))
}

fn read_token_mapping(reader: &mut Reader, node: &Node) -> Option<TenantToken> {
    let fields = reader.fields(node, TOKEN_KEYS)?;
    let role = match fields.get("role") {
        None => Some(Role::Responder),
        Some(n) => {
            let name = reader.string(&n)?;
            let role = Role::parse(&name);
            if role.is_none() {
                reader.semantic_error(
                    &n,
                    format!(
                        "unknown role `{name}`{}; use one of {}",
                        did_you_mean(&name, Role::NAMES.iter().copied()),
                        Role::NAMES.join(", ")
                    ),
                );
            }
            role
        }
    };
    let credential = match (fields.get("token"), fields.get("hash")) {
        (Some(token), None) => read_token(reader, &token).map(Credential::Token),
        (None, Some(hash)) => {
            let written = reader.string(&hash)?;
            if !written.starts_with("$argon2") {
                reader.semantic_error(
                    &hash,
                    "not an argon2 hash: write the PHC string starting with `$argon2id$`, or give the token itself as `token:`",
                );
                return None;
            }
            Some(Credential::Hash(Secret::new(written)))
        }
        (Some(_), Some(_)) => {
            reader.semantic_error(node, "give either `token` or `hash`, not both");
            None
        }
        (None, None) => {
            reader.semantic_error(
                node,
                "missing `token` (or `hash`); e.g. `{ token: \"${TEAM_A_TOKEN}\", role: viewer }`",
            );
            None
        }
    };
    Some(TenantToken {
        credential: credential?,
        role: role?,
    })
}

fn read_limits(reader: &mut Reader, node: &Node) -> TenantLimits {
    let Some(fields) = reader.fields(node, LIMIT_KEYS) else {
        return TenantLimits::default();
    };
    TenantLimits {
        hosts: fields
            .get("hosts")
            .and_then(|n| reader.count(&n, 0, 1_000_000))
            .map(|v| v as usize),
        min_interval: fields.get("min_interval").and_then(|n| reader.duration(&n)),
        notifiers: fields
            .get("notifiers")
            .and_then(|n| reader.count(&n, 0, 1_000_000))
            .map(|v| v as usize),
    }
}

/// `name` of `tenant`, as the merged configuration knows it.
pub fn prefixed(tenant: &str, name: &str) -> Arc<str> {
    Arc::from(format!("{tenant}/{name}"))
}

/// Whether `label` (of a host, notifier or window) is one of `tenant`'s: `<tenant>/...`. The
/// main files may not use that prefix, so it says whose an item is.
pub fn belongs_to(label: &str, tenant: &str) -> bool {
    label
        .strip_prefix(tenant)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// A tenant's token that is also `server.token`: the API could not tell the platform team
/// (which sees everything) from the tenant. Reported at the tenant's `tokens`.
pub(crate) fn check_server_token(
    tenant: &TenantConfig,
    server_token: Option<&Secret>,
    main_file: &Path,
    positions: &Positions,
) -> Option<Diagnostic> {
    let server_token = server_token?;
    let shared = tenant
        .tokens
        .iter()
        .any(|t| t.credential == Credential::Token(server_token.clone()));
    let path = format!("tenants.{}.tokens", tenant.name);
    shared.then(|| {
        Diagnostic::new(main_file, path.clone(), format!("a token of tenant `{}` is also `server.token`, which sees every tenant; give the tenant a token of its own", tenant.name))
            .at(positions.key(main_file, &path))
    })
}

/// Names in the main files that start with `<tenant>/` for a configured tenant: the API (and
/// `flowstate status --tenant`) take everything with that prefix as the tenant's, and a
/// tenant's broken file keeps its running items by that prefix too, so it must be the
/// tenant's alone. Reported at each name, in the main files.
pub(crate) fn check_main_names(
    tenants: &[TenantConfig],
    files: &[FileSections],
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) {
    // The error about `name`, when it starts with a configured tenant's prefix.
    let misplaced = |what: &str, name: &str| {
        let (tenant, bare) = name.split_once('/')?;
        tenants.iter().any(|t| &*t.name == tenant).then(|| {
            format!("{what} `{name}` starts with `{tenant}/`, the prefix of tenant `{tenant}`'s items; rename it without that prefix, or move it into the tenant's file as `{bare}`")
        })
    };
    for f in files {
        let file = &*f.file;
        for host in &f.hosts {
            if let Some(message) = misplaced("label", &host.label) {
                let path = format!("hosts[{}].label", host.origin.index);
                errors.push(
                    Diagnostic::new(file, format!("{}.label", host.place), message)
                        .at(positions.value(file, &path)),
                );
            }
        }
        let notifiers = f
            .notifiers
            .iter()
            .map(|n| &n.name)
            .chain(&f.broken_notifiers);
        for notifier in notifiers {
            if let Some(message) = misplaced("notifier", notifier) {
                let path = format!("notifiers.{notifier}");
                errors.push(
                    Diagnostic::new(file, path.clone(), message).at(positions.key(file, &path)),
                );
            }
        }
        for window in &f.maintenance {
            if let Some(message) = misplaced("maintenance window", &window.name) {
                let path = format!("maintenance[{}].name", window.origin.index);
                errors.push(
                    Diagnostic::new(file, path.clone(), message).at(positions.value(file, &path)),
                );
            }
        }
    }
}

/// The rules of a tenant's files, checked on what they say before they are merged: no `/` in
/// names, the limits, and no programs unless allowed. (A name of the main files cannot
/// collide with a tenant's: they may not start with `<tenant>/`, see [`check_main_names`].)
pub(crate) fn check_tenant_files(
    tenant: &TenantConfig,
    main_file: &Path,
    files: &[FileSections],
    errors: &mut Vec<Diagnostic>,
    positions: &Positions,
) {
    let name = &*tenant.name;
    // `None` when the tenant's file cannot be resolved: it was reported as unreadable.
    let root = tenant_root(&tenant.config);
    let limit_place = |limit: &str| {
        let path = format!("tenants.{name}.limits.{limit}");
        positions.shown(main_file, positions.value(main_file, &path))
    };
    let mut host_count = 0;
    let mut notifier_count = 0;
    let mut reported_default_interval = false;
    let defaults_interval = files
        .iter()
        .find_map(|f| f.defaults.as_ref().and_then(|d| d.interval).map(|i| (i, f)));
    for f in files {
        let file = &*f.file;
        let error = |path: &str, message: String, key: bool| {
            let position = match key {
                true => positions.key(file, path),
                false => positions.value(file, path),
            };
            Diagnostic::new(file, path.to_string(), message).at(position)
        };
        // A host's errors name it as every other host error does: `hosts[2] (label "api")`.
        let host_error = |host: &crate::validate::PartialHost, key: &str, message: String| {
            let path = format!("hosts[{}]{key}", host.origin.index);
            Diagnostic::new(file, format!("{}{key}", host.place), message)
                .at(positions.value(file, &path))
        };
        let names = f
            .notifiers
            .iter()
            .map(|n| (&n.name, Some(&n.kind)))
            .chain(f.broken_notifiers.iter().map(|n| (n, None)));
        for (notifier, kind) in names {
            let path = format!("notifiers.{notifier}");
            notifier_count += 1;
            if notifier.contains('/') {
                errors.push(error(&path, format!("notifier names of a tenant cannot contain `/`: tenant `{name}`'s notifiers are named `{name}/<name>`; rename it"), true));
            }
            if let Some(limit) = tenant.limits.notifiers.filter(|l| notifier_count == l + 1) {
                errors.push(error(&path, format!("tenant `{name}` has more notifiers than its limit of {limit} ({}); remove notifiers, or raise `limits.notifiers` of the tenant in the main configuration", limit_place("notifiers")), true));
            }
            let program = match kind {
                Some(NotifierKind::Command(_)) => Some("`command` notifier"),
                Some(NotifierKind::Plugin(..)) => Some("notifier of a plugin's type"),
                _ => None,
            };
            if let (Some(what), false) = (program, tenant.programs) {
                errors.push(error(
                    &format!("{path}.type"),
                    not_allowed(name, what),
                    false,
                ));
            }
            let named = match kind {
                Some(NotifierKind::File { path }) => Some(("path", path)),
                Some(NotifierKind::Email(email)) => email.ca_file.as_ref().map(|f| ("ca_file", f)),
                _ => None,
            };
            if let (Some((key, file)), Some(root)) = (named, &root) {
                if !within(root, file) {
                    errors.push(error(
                        &format!("{path}.{key}"),
                        outside(name, file, root),
                        false,
                    ));
                }
            }
        }
        for host in &f.hosts {
            host_count += 1;
            let label = &*host.label;
            if label.contains('/') {
                errors.push(host_error(host, ".label", format!("labels of a tenant cannot contain `/`: tenant `{name}`'s hosts are labelled `{name}/<label>`; rename it")));
            }
            if let Some(limit) = tenant.limits.hosts.filter(|l| host_count == l + 1) {
                errors.push(host_error(host, "", format!("tenant `{name}` has more hosts than its limit of {limit} ({}); remove hosts, or raise `limits.hosts` of the tenant in the main configuration", limit_place("hosts"))));
            }
            if let Some(min) = tenant.limits.min_interval {
                let too_short = |interval: Duration| {
                    format!("an interval of {} is below tenant `{name}`'s minimum of {} ({}); check less often, or lower `limits.min_interval` of the tenant in the main configuration", humantime::format_duration(interval), humantime::format_duration(min), limit_place("min_interval"))
                };
                match (host.settings.interval, defaults_interval) {
                    (Some(interval), _) if interval < min => {
                        errors.push(host_error(host, ".interval", too_short(interval)))
                    }
                    (Some(_), _) => {}
                    (None, Some((interval, defaults))) if interval < min => {
                        // Inherited from the tenant's `defaults`: reported there, once.
                        if !reported_default_interval {
                            reported_default_interval = true;
                            let file = &*defaults.file;
                            errors.push(
                                Diagnostic::new(file, "defaults.interval", too_short(interval))
                                    .at(positions.value(file, "defaults.interval")),
                            );
                        }
                    }
                    (None, Some(_)) => {}
                    (None, None) => {
                        let interval = Defaults::default().interval;
                        if interval < min {
                            errors.push(host_error(host, "", format!("{}; this host has the built-in default interval: set `interval:` on it or in the tenant's `defaults`", too_short(interval))));
                        }
                    }
                }
            }
            let program = match &host.check {
                Some(PartialCheck::Ready(Check::Script(_))) => Some("`script` check"),
                Some(PartialCheck::Plugin { .. }) => Some("check of a plugin's type"),
                _ => None,
            };
            if let (Some(what), false) = (program, tenant.programs) {
                errors.push(host_error(host, ".type", not_allowed(name, what)));
            }
            let ca_file = match &host.check {
                Some(PartialCheck::Http(http)) => http.ca_file(),
                Some(PartialCheck::Ready(Check::Http(http))) => http.tls.ca_file.as_deref(),
                Some(PartialCheck::Ready(Check::Grpc(grpc))) => {
                    grpc.tls.as_ref().and_then(|tls| tls.ca_file.as_deref())
                }
                _ => None,
            };
            if let (Some(file), Some(root)) = (ca_file, &root) {
                if !within(root, file) {
                    errors.push(host_error(host, ".tls.ca_file", outside(name, file, root)));
                }
            }
        }
        for window in &f.maintenance {
            let path = format!("maintenance[{}].name", window.origin.index);
            if window.name.contains('/') {
                errors.push(error(&path, format!("maintenance window names of a tenant cannot contain `/`: tenant `{name}`'s windows are named `{name}/<name>`; rename it"), false));
            }
        }
    }
}

/// The error for `file`, named in tenant `tenant`'s files outside its directory `root`.
fn outside(tenant: &str, file: &Path, root: &Path) -> String {
    format!(
        "{} is outside tenant `{tenant}`'s directory {}: a tenant's files may name files only under it (flowstate reads and writes them with the platform's rights); move the file there",
        file.display(),
        root.display()
    )
}

fn not_allowed(tenant: &str, what: &str) -> String {
    format!("tenant `{tenant}` may not run programs, and a {what} runs one on the flowstate machine; the main configuration must allow it with `programs: true` under `tenants.{tenant}`, or use another type")
}

/// A host of `tenant` as the merged configuration knows it: its label, `alerts` and
/// `depends_on` prefixed.
pub(crate) fn tenant_host(tenant: &Arc<str>, host: &HostConfiguration) -> HostConfiguration {
    let mut host = host.clone();
    host.label = prefixed(tenant, &host.label);
    host.alerts = host.alerts.iter().map(|a| prefixed(tenant, a)).collect();
    host.depends_on = host
        .depends_on
        .iter()
        .map(|d| match d {
            Dependency::Host(label) => Dependency::Host(prefixed(tenant, label)),
            Dependency::AnyOf(labels) => {
                Dependency::AnyOf(labels.iter().map(|l| prefixed(tenant, l)).collect())
            }
        })
        .collect();
    host.tenant = Some(tenant.clone());
    host
}

pub(crate) fn tenant_notifier(tenant: &Arc<str>, notifier: &NotifierConfig) -> NotifierConfig {
    let mut notifier = notifier.clone();
    notifier.name = prefixed(tenant, &notifier.name);
    notifier.tenant = Some(tenant.clone());
    notifier
}

/// A window of `tenant`: its name and `hosts` prefixed; without `hosts` it covers every host
/// of the tenant (`<tenant>/*`), never the main file's or another tenant's.
pub(crate) fn tenant_window(tenant: &Arc<str>, window: &MaintenanceWindow) -> MaintenanceWindow {
    let mut window = window.clone();
    window.name = prefixed(tenant, &window.name);
    let prefix = |pattern: &HostPattern| match pattern {
        HostPattern::Label(label) => Some(HostPattern::Label(prefixed(tenant, label))),
        // Tenant names hold no glob characters, so the prefix matches only itself.
        HostPattern::Glob(glob) => glob::Pattern::new(&format!("{tenant}/{}", glob.as_str()))
            .ok()
            .map(HostPattern::Glob),
    };
    window.hosts = Some(match &window.hosts {
        Some(patterns) => patterns.iter().filter_map(prefix).collect(),
        None => glob::Pattern::new(&format!("{tenant}/*"))
            .ok()
            .map(HostPattern::Glob)
            .into_iter()
            .collect(),
    });
    window.tenant = Some(tenant.clone());
    window
}
