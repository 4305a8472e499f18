//! Files in, [`Config`] out: reading every `-c` file and its `include` globs, in order.
//!
//! Each file is parsed and checked on its own ([`crate::validate::read_file`]), then all are
//! merged ([`crate::validate::assemble`]). Include globs are relative to the including file;
//! a file reached twice by different globs is read once; a cycle is an error.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ConfigError, Diagnostic, Position};
pub use crate::include::{include_files, IncludeError, MAX_DIRECTORIES};
use crate::reader::{config_dir, Lookup, Node, Reader};
use crate::tenant::TenantFile;
use crate::tenant_reload::Loaded;
use crate::validate::{assemble, read_file, FileSections};
use crate::yaml;
use crate::{Config, EnvValues};

/// Loads and validates `paths`, with `${VAR}` from the process environment. Any error, also
/// one in a tenant's files, fails the load: see [`load_with_previous`] for the load that
/// contains a tenant's errors.
pub fn load(paths: &[PathBuf]) -> Result<Config, ConfigError> {
    load_with_env(paths, &|name| std::env::var(name).ok())
}

/// Loads and validates `paths`, looking variables up with `lookup`; every error fails it.
pub fn load_with_env(paths: &[PathBuf], lookup: Lookup) -> Result<Config, ConfigError> {
    load_with_previous_env(paths, None, lookup)?.strict()
}

/// Loads and validates `paths` for a daemon that runs `previous` (`None` at start): an error
/// in the main files fails the load (with every error, the tenants' too), but a tenant whose
/// files have errors keeps its part of `previous` and the others take their new parts; its
/// errors are in [`Loaded::contained`] (see `tenant_reload.rs`).
pub fn load_with_previous(
    paths: &[PathBuf],
    previous: Option<&Config>,
) -> Result<Loaded, ConfigError> {
    load_with_previous_env(paths, previous, &|name| std::env::var(name).ok())
}

/// [`load_with_previous`], looking variables up with `lookup`.
pub fn load_with_previous_env(
    paths: &[PathBuf],
    previous: Option<&Config>,
    lookup: Lookup,
) -> Result<Loaded, ConfigError> {
    let used = RefCell::new(Vec::new());
    let recording = recording(lookup, &used);
    let mut loader = Loader {
        lookup: &recording,
        errors: Vec::new(),
        tenant_errors: HashMap::new(),
        read: Vec::new(),
        loaded: HashSet::new(),
        stack: Vec::new(),
        sections: Vec::new(),
        include_globs: Vec::new(),
        tenant: None,
        tenant_root: None,
        tenant_env: Vec::new(),
    };
    for path in paths {
        loader.load_file(path, None);
    }
    loader.load_tenants();
    let read = Read {
        errors: loader.errors,
        tenant_errors: loader.tenant_errors,
        include_globs: loader.include_globs,
        files: loader.read,
        env_values: used.take(),
    };
    finish(loader.sections, read, previous)
}

/// `lookup`, noting every value it gives in `used`.
fn recording<'a>(
    lookup: Lookup<'a>,
    used: &'a RefCell<Vec<String>>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        let value = lookup(name);
        if let Some(value) = &value {
            used.borrow_mut().push(value.clone());
        }
        value
    }
}

/// Validates one YAML text as if it were the file `name` (includes and the files of
/// `tenants` are not followed: the tenants are read, without their hosts or notifiers).
pub fn load_str(name: &str, text: &str, lookup: Lookup) -> Result<Config, ConfigError> {
    let used = RefCell::new(Vec::new());
    let recording = recording(lookup, &used);
    let mut errors = Vec::new();
    let mut sections = Vec::new();
    if let Some(s) = parse_file(Path::new(name), text, &recording, &mut errors, None) {
        sections.push(s);
    }
    let read = Read {
        errors,
        tenant_errors: HashMap::new(),
        include_globs: Vec::new(),
        files: vec![PathBuf::from(name)],
        env_values: used.take(),
    };
    finish(sections, read, None)?.strict()
}

/// What reading the files found besides their sections.
struct Read {
    /// The errors of the main files (and of files no tenant owns).
    errors: Vec<Diagnostic>,
    /// The errors the loader found in each tenant's files (one that is missing, that does not
    /// parse): contained with those found when the tenant's files are merged.
    tenant_errors: HashMap<Arc<str>, Vec<Diagnostic>>,
    include_globs: Vec<PathBuf>,
    /// Every file read, in order, for sorting errors.
    files: Vec<PathBuf>,
    /// What `${VAR}` brought in.
    env_values: Vec<String>,
}

/// Merges what was read; a tenant's errors are contained unless the main files have errors.
fn finish(
    sections: Vec<FileSections>,
    read: Read,
    previous: Option<&Config>,
) -> Result<Loaded, ConfigError> {
    let Read {
        mut errors,
        tenant_errors,
        include_globs,
        files,
        mut env_values,
    } = read;
    let (mut config, mut contained) = assemble(sections, &mut errors, tenant_errors, previous);
    config.include_globs = include_globs;
    if contained.iter().any(|f| f.kept) {
        // The kept parts' secrets came from the environment as it was then.
        env_values.extend(previous.iter().flat_map(|p| p.env_values.values()));
    }
    // A label, a notifier name, a location or an agent id is an identity, shown in every log
    // line and API answer: hiding it in `check` alone would protect nothing and leave rows
    // nobody can tell apart.
    let locations = config.locations();
    let agent_id = config.cluster.as_ref().and_then(|c| c.agent_id.as_deref());
    let not_identities: Vec<String> = env_values
        .into_iter()
        .filter(|v| {
            config.host(v).is_none()
                && config.notifier(v).is_none()
                && !locations.contains(v.as_str())
                && agent_id != Some(v.as_str())
        })
        .collect();
    config.env_values = EnvValues::new(not_identities);
    for failure in &mut contained {
        sort_by_file_and_line(&mut failure.error.diagnostics, &files);
    }
    if errors.is_empty() {
        return Ok(Loaded { config, contained });
    }
    // The main configuration is refused: all of it, with every error there is to fix.
    errors.extend(contained.into_iter().flat_map(|f| f.error.diagnostics));
    sort_by_file_and_line(&mut errors, &files);
    Err(ConfigError {
        diagnostics: errors,
    })
}

/// Orders errors as a reader goes through the files: files in the order they were read (the
/// ones that could not be read, such as a missing `-c` file, after them in the order found),
/// and by line and column within a file; an error about a whole file comes first. The sort is
/// stable, so errors at the same place stay in the order found.
fn sort_by_file_and_line(errors: &mut [Diagnostic], read: &[PathBuf]) {
    let mut rank: HashMap<PathBuf, usize> = HashMap::new();
    for file in read.iter().chain(errors.iter().map(|e| &e.file)) {
        let next = rank.len();
        rank.entry(file.clone()).or_insert(next);
    }
    errors.sort_by_key(|e| (rank.get(&e.file).copied(), e.position));
}

fn parse_file(
    path: &Path,
    text: &str,
    lookup: Lookup,
    errors: &mut Vec<Diagnostic>,
    tenant: Option<&str>,
) -> Option<FileSections> {
    let mut doc = match yaml::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            errors.push(Diagnostic::new(path, "", e.message).at(e.position));
            return None;
        }
    };
    let mut sections = {
        let mut reader = Reader::new(path, &doc, lookup, errors);
        read_file(&mut reader, Node::root(&doc.root), tenant)
    };
    // Kept for the positions of errors found when the files are merged.
    doc.forget_tree();
    sections.doc = Some(doc);
    Some(sections)
}

/// The `include` entry that named a file, for errors about that file reported on the parent.
struct IncludedFrom<'p> {
    /// The including file.
    file: &'p Path,
    /// Its index in [`Loader::sections`], to find the entry's line and column.
    section: usize,
    /// The path of the entry in the including file: `include[2]`, `tenants.team-a.config`.
    entry: String,
    /// The place errors are reported at: `include`, `tenants.team-a.config`.
    place: String,
}

struct Loader<'a> {
    lookup: Lookup<'a>,
    errors: Vec<Diagnostic>,
    /// Errors in each tenant's files, kept apart from the main files' (see [`Read`]).
    tenant_errors: HashMap<Arc<str>, Vec<Diagnostic>>,
    /// Every file read, in order (also those that do not parse): the order errors are sorted in.
    read: Vec<PathBuf>,
    /// Canonical paths already read, so a file reached by two globs is read once.
    loaded: HashSet<PathBuf>,
    /// The chain of files being included, to detect cycles.
    stack: Vec<(PathBuf, PathBuf)>,
    sections: Vec<FileSections>,
    include_globs: Vec<PathBuf>,
    /// The tenant whose files are being read; `None`: the main configuration's.
    tenant: Option<Arc<str>>,
    /// The directory that tenant's includes must stay in (see `tenant_paths.rs`).
    tenant_root: Option<PathBuf>,
    /// The variables that tenant's files may use (`tenants.<name>.env`).
    tenant_env: Vec<String>,
}

impl Loader<'_> {
    /// Where the value at `path` of the file read as `sections[section]` is; computed (by a
    /// second parse of that file) only because there is an error to report.
    fn position(&self, section: usize, path: &str) -> Option<Position> {
        self.sections
            .get(section)
            .and_then(|s| s.doc.as_ref())
            .and_then(|doc| doc.value_position(path))
    }

    /// An error on an `include` entry of the file read as `sections[from.section]`.
    fn include_error(&mut self, from: &IncludedFrom, message: String) {
        let position = self.position(from.section, &from.entry);
        self.errors
            .push(Diagnostic::new(from.file, from.place.clone(), message).at(position));
    }

    fn load_file(&mut self, path: &Path, included_from: Option<IncludedFrom>) {
        let unreadable = |e: std::io::Error| {
            let hint = match (e.kind(), &included_from) {
                (std::io::ErrorKind::NotFound, None) => {
                    "; create it, or name another file with -c or $FLOWSTATE_CONFIG"
                }
                (std::io::ErrorKind::NotFound, Some(from)) if from.place == "include" => {
                    "; fix the `include` entry"
                }
                (std::io::ErrorKind::NotFound, Some(_)) => {
                    "; create it, or fix the path, which is relative to this file"
                }
                (std::io::ErrorKind::PermissionDenied, _) => {
                    "; give the user running flowstate read access"
                }
                _ => "",
            };
            format!("cannot read this file: {e}{hint}")
        };
        let fail = |loader: &mut Self, message: String| match &included_from {
            Some(from) => loader.include_error(from, format!("{}: {message}", path.display())),
            None => loader.errors.push(Diagnostic::new(path, "", message)),
        };
        let canonical = match std::fs::canonicalize(path) {
            Ok(c) => c,
            Err(e) => return fail(self, unreadable(e)),
        };
        if let (Some(root), Some(from), Some(tenant)) =
            (&self.tenant_root, &included_from, &self.tenant)
        {
            // Refused before it is read: its text must not reach an error message.
            if from.place == "include" && !canonical.starts_with(root) {
                let message = format!(
                    "{}: tenant `{tenant}`'s files may include only files under their own directory {}; move the file there",
                    path.display(),
                    root.display()
                );
                return self.include_error(from, message);
            }
        }
        if let Some(start) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|(_, shown)| shown.display().to_string())
                .chain(std::iter::once(path.display().to_string()))
                .collect();
            let message = format!(
                "include cycle: {}; remove one of these includes",
                chain.join(" → ")
            );
            match &included_from {
                Some(from) => self.include_error(from, message),
                None => self.errors.push(Diagnostic::new(path, "include", message)),
            }
            return;
        }
        if !self.loaded.insert(canonical.clone()) {
            return;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return fail(self, unreadable(e)),
        };
        self.read.push(path.to_path_buf());
        let tenant = self.tenant.clone();
        // A tenant's files look up only the variables listed for it; the others read as
        // unset, and their errors say why.
        let refused: std::cell::RefCell<Vec<String>> = std::cell::RefCell::new(Vec::new());
        let (allowed, base) = (&self.tenant_env, self.lookup);
        let confined = |name: &str| {
            if allowed.iter().any(|listed| listed == name) {
                base(name)
            } else {
                refused.borrow_mut().push(name.to_string());
                None
            }
        };
        let lookup: Lookup = if tenant.is_some() {
            &confined
        } else {
            self.lookup
        };
        let errors_before = self.errors.len();
        let parsed = parse_file(path, &text, lookup, &mut self.errors, tenant.as_deref());
        if let Some(tenant) = &tenant {
            for name in refused.borrow().iter() {
                let unset = format!("environment variable {name} is not set");
                for error in &mut self.errors[errors_before..] {
                    if error.message.starts_with(&unset) {
                        error.message = crate::tenant::env_not_listed(tenant, name);
                    }
                }
            }
        }
        let Some(mut sections) = parsed else {
            return;
        };
        let includes = std::mem::take(&mut sections.include);
        let section = self.sections.len();
        self.sections.push(sections);
        self.stack.push((canonical, path.to_path_buf()));
        let base = config_dir(path);
        for (index, pattern) in includes.into_iter().enumerate() {
            let here = IncludedFrom {
                file: path,
                section,
                entry: format!("include[{index}]"),
                place: "include".to_string(),
            };
            // Beside a bare `flowstate.yaml`, `hosts.d/*.yaml` stays as written (it is relative
            // to the current directory either way) rather than becoming `./hosts.d/*.yaml`.
            let full = if base == Path::new(".") {
                PathBuf::from(&pattern)
            } else {
                base.join(&pattern)
            };
            self.include_globs.push(full.clone());
            let files = match include_files(&full) {
                Ok(files) => files,
                Err(e) => {
                    self.include_error(&here, format!("`{pattern}` {e}"));
                    continue;
                }
            };
            let is_glob = pattern.contains(['*', '?', '[']);
            if files.is_empty() && !is_glob {
                self.include_error(
                    &here,
                    format!("`{pattern}` does not exist (looked for {}); fix the path, which is relative to this file", full.display()),
                );
            }
            for file in files {
                // A glob such as `*.yaml` beside the including file matches that file too:
                // that is not a cycle the user asked for, so it is skipped (only for globs).
                let is_self = is_glob
                    && std::fs::canonicalize(&file).ok().as_ref()
                        == self.stack.last().map(|(canonical, _)| canonical);
                if !is_self {
                    let from = IncludedFrom {
                        file: path,
                        section,
                        entry: here.entry.clone(),
                        place: here.place.clone(),
                    };
                    self.load_file(&file, Some(from));
                }
            }
        }
        self.stack.pop();
    }

    /// Reads the file of every tenant of the first main file with `tenants` (a second one is
    /// an error when the files are merged), with its own includes, as that tenant's.
    fn load_tenants(&mut self) {
        let Some((section, main_file, tenants)) =
            self.sections.iter().enumerate().find_map(|(i, s)| {
                let tenants = s.tenants.as_ref()?;
                let files: Vec<TenantFile> = tenants
                    .iter()
                    .map(|t| TenantFile {
                        name: t.name.clone(),
                        config: t.config.clone(),
                        entry: format!("tenants.{}.config", t.name),
                        env: t.env.clone(),
                    })
                    .collect();
                Some((i, s.file.clone(), files))
            })
        else {
            return;
        };
        for tenant in tenants {
            let before = self.errors.len();
            self.load_tenant(&tenant, &main_file, section);
            let found = self.errors.split_off(before);
            if !found.is_empty() {
                self.tenant_errors.insert(tenant.name, found);
            }
        }
    }

    /// Reads the files of one tenant; their errors are left in `errors` for the caller to
    /// take as the tenant's.
    fn load_tenant(&mut self, tenant: &TenantFile, main_file: &Path, section: usize) {
        let from = IncludedFrom {
            file: main_file,
            section,
            entry: tenant.entry.clone(),
            place: tenant.entry.clone(),
        };
        // Watched like an include, also while missing or broken, so its fix is noticed.
        self.include_globs.push(tenant.config.clone());
        // A file read already (by the main configuration or another tenant) would be
        // skipped, and its hosts silently not the tenant's.
        if let Ok(canonical) = std::fs::canonicalize(&tenant.config) {
            if self.loaded.contains(&canonical) {
                self.include_error(
                    &from,
                    format!(
                        "{} is already read as part of the configuration; give tenant `{}` a file of its own, not included by the main file or another tenant",
                        tenant.config.display(),
                        tenant.name
                    ),
                );
                return;
            }
        }
        self.tenant = Some(tenant.name.clone());
        self.tenant_root = crate::tenant_paths::tenant_root(&tenant.config);
        self.tenant_env = tenant.env.clone();
        self.load_file(&tenant.config, Some(from));
        self.tenant = None;
        self.tenant_root = None;
        self.tenant_env = Vec::new();
    }
}

/// Where `path` (`hosts[2].settings.port`) is in `file`, read again: for problems found after
/// loading (a plugin's schema), reported like every other. The deepest part of `path` that
/// exists is given, so a missing key points at the mapping that should hold it.
pub fn locate(file: &Path, path: &str) -> Option<crate::Position> {
    let text = std::fs::read_to_string(file).ok()?;
    let doc = yaml::parse(&text).ok()?;
    let mut candidate = path.to_string();
    loop {
        if let Some(position) = doc
            .value_position(&candidate)
            .or_else(|| doc.key_position(&candidate))
        {
            return Some(position);
        }
        let cut = candidate.rfind(['.', '['])?;
        candidate.truncate(cut);
    }
}
