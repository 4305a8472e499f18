//! Files in, [`Config`] out: reading every `-c` file and its `include` globs, in order.
//!
//! Each file is parsed and checked on its own ([`crate::validate::read_file`]), then all are
//! merged ([`crate::validate::assemble`]). Include globs are relative to the including file;
//! a file reached twice by different globs is read once; a cycle is an error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Diagnostic};
pub use crate::include::{include_files, IncludeError, MAX_DIRECTORIES};
use crate::reader::{config_dir, Lookup, Node, Reader};
use crate::validate::{assemble, read_file, FileSections};
use crate::yaml;
use crate::Config;

/// Loads and validates `paths`, with `${VAR}` from the process environment.
pub fn load(paths: &[PathBuf]) -> Result<Config, ConfigError> {
    load_with_env(paths, &|name| std::env::var(name).ok())
}

/// Loads and validates `paths`, looking variables up with `lookup`.
pub fn load_with_env(paths: &[PathBuf], lookup: Lookup) -> Result<Config, ConfigError> {
    let mut loader = Loader {
        lookup,
        errors: Vec::new(),
        loaded: HashSet::new(),
        stack: Vec::new(),
        sections: Vec::new(),
        include_globs: Vec::new(),
    };
    for path in paths {
        loader.load_file(path, None);
    }
    finish(loader.sections, loader.errors, loader.include_globs)
}

/// Validates one YAML text as if it were the file `name` (includes are not followed).
pub fn load_str(name: &str, text: &str, lookup: Lookup) -> Result<Config, ConfigError> {
    let mut errors = Vec::new();
    let mut sections = Vec::new();
    if let Some(s) = parse_file(Path::new(name), text, lookup, &mut errors) {
        sections.push(s);
    }
    finish(sections, errors, Vec::new())
}

fn finish(
    sections: Vec<FileSections>,
    mut errors: Vec<Diagnostic>,
    include_globs: Vec<PathBuf>,
) -> Result<Config, ConfigError> {
    let mut config = assemble(sections, &mut errors);
    config.include_globs = include_globs;
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            diagnostics: errors,
        })
    }
}

fn parse_file(
    path: &Path,
    text: &str,
    lookup: Lookup,
    errors: &mut Vec<Diagnostic>,
) -> Option<FileSections> {
    let doc = match yaml::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            errors.push(Diagnostic::new(path, "", e.message).at(e.position));
            return None;
        }
    };
    let mut reader = Reader::new(path, &doc, lookup, errors);
    Some(read_file(&mut reader, Node::root(&doc.root)))
}

struct Loader<'a> {
    lookup: Lookup<'a>,
    errors: Vec<Diagnostic>,
    /// Canonical paths already read, so a file reached by two globs is read once.
    loaded: HashSet<PathBuf>,
    /// The chain of files being included, to detect cycles.
    stack: Vec<(PathBuf, PathBuf)>,
    sections: Vec<FileSections>,
    include_globs: Vec<PathBuf>,
}

impl Loader<'_> {
    fn load_file(&mut self, path: &Path, included_from: Option<&Path>) {
        let unreadable = |e: std::io::Error| {
            let hint = match (e.kind(), included_from) {
                (std::io::ErrorKind::NotFound, None) => {
                    "; create it, or name another file with -c or $FLOWSTATE_CONFIG"
                }
                (std::io::ErrorKind::NotFound, Some(_)) => "; fix the `include` entry",
                (std::io::ErrorKind::PermissionDenied, _) => {
                    "; give the user running flowstate read access"
                }
                _ => "",
            };
            let message = format!("cannot read this file: {e}{hint}");
            match included_from {
                Some(parent) => {
                    Diagnostic::new(parent, "include", format!("{}: {message}", path.display()))
                }
                None => Diagnostic::new(path, "", message),
            }
        };
        let canonical = match std::fs::canonicalize(path) {
            Ok(c) => c,
            Err(e) => return self.errors.push(unreadable(e)),
        };
        if let Some(start) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|(_, shown)| shown.display().to_string())
                .chain(std::iter::once(path.display().to_string()))
                .collect();
            let parent = included_from.unwrap_or(path);
            self.errors.push(Diagnostic::new(
                parent,
                "include",
                format!(
                    "include cycle: {}; remove one of these includes",
                    chain.join(" → ")
                ),
            ));
            return;
        }
        if !self.loaded.insert(canonical.clone()) {
            return;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return self.errors.push(unreadable(e)),
        };
        let Some(mut sections) = parse_file(path, &text, self.lookup, &mut self.errors) else {
            return;
        };
        let includes = std::mem::take(&mut sections.include);
        self.sections.push(sections);
        self.stack.push((canonical, path.to_path_buf()));
        let base = config_dir(path);
        for pattern in includes {
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
                    self.errors
                        .push(Diagnostic::new(path, "include", format!("`{pattern}` {e}")));
                    continue;
                }
            };
            let is_glob = pattern.contains(['*', '?', '[']);
            if files.is_empty() && !is_glob {
                self.errors.push(Diagnostic::new(
                    path,
                    "include",
                    format!("`{pattern}` does not exist (looked for {}); fix the path, which is relative to this file", full.display()),
                ));
            }
            for file in files {
                // A glob such as `*.yaml` beside the including file matches that file too:
                // that is not a cycle the user asked for, so it is skipped (only for globs).
                let is_self = is_glob
                    && std::fs::canonicalize(&file).ok().as_ref()
                        == self.stack.last().map(|(canonical, _)| canonical);
                if !is_self {
                    self.load_file(&file, Some(path));
                }
            }
        }
        self.stack.pop();
    }
}
