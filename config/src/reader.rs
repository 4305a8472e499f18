//! Typed reading of a YAML tree that collects every problem instead of stopping at the first.
//!
//! A [`Reader`] walks one file's [`Document`]: each accessor converts a [`Node`] (a value with
//! its path) into the type a key needs, interpolating `${VAR}` in strings, and on any problem
//! records a [`Diagnostic`] at the node's line and column and returns `None`, so the caller
//! simply carries on with the next key.

use std::path::Path;
use std::time::Duration;

use crate::error::{did_you_mean, Diagnostic};
use crate::interpolate::{interpolate, Interpolated};
use crate::yaml::{join_key, Document, Value};

/// The longest duration any key accepts (365 days). A year is longer than any sensible
/// interval, timeout, cooldown or backoff, and bounding every duration where it is read means
/// no key can forget it: the running system adds and multiplies these durations with instants,
/// and `584000000000y` overflowed the clock there.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// [`MAX_DURATION`] as users write it (humantime would print `11months 30days ...`).
const MAX_DURATION_TEXT: &str = "365d";

/// How environment variables are looked up (injectable so tests need not touch the process).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A value in the document, with its path (for positions) and its place (for messages, which
/// may name a host's label: `hosts[3] (label "api")`).
#[derive(Debug, Clone)]
pub struct Node<'v> {
    pub value: &'v Value,
    pub path: String,
    pub place: String,
}

impl<'v> Node<'v> {
    pub fn root(value: &'v Value) -> Self {
        Node {
            value,
            path: String::new(),
            place: String::new(),
        }
    }

    pub fn key(&self, key: &str, value: &'v Value) -> Node<'v> {
        Node {
            value,
            path: join_key(&self.path, key),
            place: join_key(&self.place, key),
        }
    }

    pub fn index(&self, index: usize, value: &'v Value) -> Node<'v> {
        Node {
            value,
            path: format!("{}[{index}]", self.path),
            place: format!("{}[{index}]", self.place),
        }
    }

    /// The same node, described differently in messages.
    pub fn with_place(mut self, place: String) -> Self {
        self.place = place;
        self
    }
}

/// The keys of a mapping that passed the unknown-key check, in file order.
pub struct Fields<'v> {
    entries: Vec<(String, Node<'v>)>,
}

impl<'v> Fields<'v> {
    pub fn get(&self, key: &str) -> Option<Node<'v>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, node)| node.clone())
    }
}

pub struct Reader<'a> {
    pub file: &'a Path,
    /// The directory relative paths in this file start from: see [`config_dir`].
    pub dir: &'a Path,
    doc: &'a Document,
    lookup: Lookup<'a>,
    pub errors: &'a mut Vec<Diagnostic>,
}

/// The directory that relative paths written in `config_file` (programs, includes, CA files,
/// state and notifier files) are taken from: the file's own directory, and the current
/// directory (`.`) for a bare name such as `flowstate.yaml`. Never the empty path: joined to
/// it, `./check.sh` would become the bare name `check.sh`, which is looked up in `PATH`.
pub fn config_dir(config_file: &Path) -> &Path {
    match config_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A string value as an error message may quote it: a value that came from an environment
/// variable is not repeated, since variables are how secrets reach a configuration.
pub fn shown(text: &Interpolated) -> String {
    if text.substituted {
        "the value of its environment variable".to_string()
    } else {
        format!("`{}`", text.value)
    }
}

/// How a value is named in "expected X, found Y" messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

impl<'a> Reader<'a> {
    pub fn new(
        file: &'a Path,
        doc: &'a Document,
        lookup: Lookup<'a>,
        errors: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Reader {
            file,
            dir: config_dir(file),
            doc,
            lookup,
            errors,
        }
    }

    /// Where `node`'s key is, for an error found after this file is read (computing it parses
    /// the file a second time: ask only when the position may be needed).
    pub fn key_position(&self, node: &Node) -> Option<crate::error::Position> {
        self.doc.key_position(&node.path)
    }

    /// Where `node`'s value is; see [`Self::key_position`].
    pub fn value_position(&self, node: &Node) -> Option<crate::error::Position> {
        self.doc.value_position(&node.path)
    }

    /// A problem with the value itself (its type or form): reported at its line and column.
    pub fn type_error(&mut self, node: &Node, message: impl Into<String>) {
        let position = self.doc.value_position(&node.path);
        self.errors
            .push(Diagnostic::new(self.file, node.place.clone(), message).at(position));
    }

    /// A problem with a key (unknown, misspelt): reported at the key's line and column.
    pub fn key_error(&mut self, node: &Node, message: impl Into<String>) {
        let position = self.doc.key_position(&node.path);
        self.errors
            .push(Diagnostic::new(self.file, node.place.clone(), message).at(position));
    }

    /// A problem with what a well-formed value means (a duplicate, a value out of range, a
    /// missing key of a mapping): reported at the value's line and column too, like every error.
    pub fn semantic_error(&mut self, node: &Node, message: impl Into<String>) {
        self.type_error(node, message);
    }

    /// The entries of a mapping, after reporting every key not in `known`. `null` (a section
    /// left empty) reads as no entries.
    pub fn fields<'v>(&mut self, node: &Node<'v>, known: &[&str]) -> Option<Fields<'v>> {
        let mapping = match node.value {
            Value::Null => return Some(Fields { entries: vec![] }),
            Value::Mapping(m) => m,
            other => {
                self.type_error(
                    node,
                    format!(
                        "expected a mapping of `key: value` lines, found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let mut entries = Vec::with_capacity(mapping.len());
        for (key, value) in mapping {
            let Some(key) = key.as_str() else {
                self.type_error(
                    node,
                    format!("keys must be strings, found {}", describe(key)),
                );
                continue;
            };
            let child = node.key(key, value);
            if known.contains(&key) {
                entries.push((key.to_string(), child));
            } else {
                let hint = match did_you_mean(key, known.iter().copied()) {
                    hint if !hint.is_empty() => hint,
                    _ => format!("; known keys here: {}", known.join(", ")),
                };
                self.key_error(&child, format!("unknown key `{key}`{hint}"));
            }
        }
        Some(Fields { entries })
    }

    /// The entries of a mapping whose keys are names chosen by the user (notifiers, headers).
    pub fn named_entries<'v>(&mut self, node: &Node<'v>) -> Vec<(String, Node<'v>)> {
        match node.value {
            Value::Null => vec![],
            Value::Mapping(mapping) => mapping
                .iter()
                .filter_map(|(key, value)| match key.as_str() {
                    Some(k) => Some((k.to_string(), node.key(k, value))),
                    None => {
                        self.type_error(
                            node,
                            format!("names must be strings, found {}", describe(key)),
                        );
                        None
                    }
                })
                .collect(),
            other => {
                self.type_error(
                    node,
                    format!(
                        "expected a mapping of `name: value` lines, found {}",
                        describe(other)
                    ),
                );
                vec![]
            }
        }
    }

    /// A string, with `${VAR}` substituted. Numbers and booleans are taken as their text
    /// (`X-Count: 5` means the header value "5").
    pub fn text(&mut self, node: &Node) -> Option<Interpolated> {
        let raw = match node.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => {
                return Some(Interpolated {
                    value: n.to_string(),
                    substituted: false,
                    masked: None,
                })
            }
            Value::Bool(b) => {
                return Some(Interpolated {
                    value: b.to_string(),
                    substituted: false,
                    masked: None,
                })
            }
            other => {
                self.type_error(
                    node,
                    format!("expected a string, found {}", describe(other)),
                );
                return None;
            }
        };
        match interpolate(&raw, self.lookup) {
            Ok(done) => Some(done),
            Err(error) => {
                self.type_error(node, error.to_string());
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node) -> Option<String> {
        self.text(node).map(|t| t.value)
    }

    /// A positive humantime duration (`500ms`, `10s`, `5m`, `1h`, `14d`) of at most
    /// [`MAX_DURATION`].
    pub fn duration(&mut self, node: &Node) -> Option<Duration> {
        if let Value::Number(n) = node.value {
            self.type_error(
                node,
                format!("expected a duration with a unit, found the number {n}; write it as {n}s or {n}ms"),
            );
            return None;
        }
        let text = self.text(node)?;
        match humantime::parse_duration(text.value.trim()) {
            Ok(d) if d > MAX_DURATION => {
                self.duration_too_long(node, &text);
                None
            }
            Err(humantime::DurationError::NumberOverflow) => {
                self.duration_too_long(node, &text);
                None
            }
            Ok(d) if d.is_zero() => {
                self.semantic_error(
                    node,
                    format!("must be longer than 0, found {}", shown(&text)),
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                self.type_error(
                    node,
                    format!(
                        "{} is not a duration; write it like 500ms, 10s, 5m, 1h or 14d",
                        shown(&text)
                    ),
                );
                None
            }
        }
    }

    fn duration_too_long(&mut self, node: &Node, text: &Interpolated) {
        self.type_error(
            node,
            format!(
                "{} is too long: a duration must be longer than 0 and at most {MAX_DURATION_TEXT}",
                shown(text),
            ),
        );
    }

    /// A whole number of at least `min`. A string is accepted only when it came from `${VAR}`,
    /// since environment variables are always text.
    pub fn count(&mut self, node: &Node, min: u64, max: u64) -> Option<u64> {
        let number = match node.value {
            Value::Number(n) => n.as_u64(),
            Value::String(_) => {
                let text = self.text(node)?;
                if !text.substituted {
                    // Quotes are worth mentioning only when they are there and are all
                    // that is wrong (`"3"`); `three` needs a number, not fewer quotes.
                    let message = if text.value.trim().parse::<f64>().is_ok()
                        && self.doc.is_quoted(&node.path)
                    {
                        format!(
                            "expected a whole number, found the string {:?}; remove the quotes",
                            text.value
                        )
                    } else {
                        let key = node.path.rsplit('.').next().unwrap_or("count");
                        format!(
                            "expected a whole number of at least {min}, such as `{key}: {}`, found the string {:?}",
                            3.clamp(min, max),
                            text.value
                        )
                    };
                    self.type_error(node, message);
                    return None;
                }
                text.value.trim().parse::<u64>().ok()
            }
            _ => None,
        };
        match number {
            Some(n) if n < min => {
                self.semantic_error(node, format!("must be at least {min}, found {n}"));
                None
            }
            Some(n) if n > max => {
                self.semantic_error(node, format!("must be at most {max}, found {n}"));
                None
            }
            Some(n) => Some(n),
            None => {
                self.type_error(
                    node,
                    format!(
                        "expected a whole number of at least {min}, found {}",
                        describe(node.value)
                    ),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(*b),
            Value::String(_) => {
                let text = self.text(node)?;
                match (text.substituted, text.value.trim()) {
                    (true, "true") => Some(true),
                    (true, "false") => Some(false),
                    _ => {
                        self.type_error(
                            node,
                            format!("expected true or false, found {}", shown(&text)),
                        );
                        None
                    }
                }
            }
            other => {
                self.type_error(
                    node,
                    format!("expected true or false, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A list, or a single value standing for a list of one (`alerts: ops`).
    pub fn one_or_many<'v>(&mut self, node: &Node<'v>) -> Vec<Node<'v>> {
        match node.value {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| node.index(i, item))
                .collect(),
            Value::Null => vec![],
            _ => vec![node.clone()],
        }
    }

    /// A list of strings (a single string counts as a list of one).
    pub fn strings(&mut self, node: &Node) -> Option<Vec<String>> {
        let mut all_ok = true;
        let mut out = Vec::new();
        for item in self.one_or_many(node) {
            match self.string(&item) {
                Some(s) => out.push(s),
                None => all_ok = false,
            }
        }
        all_ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(config_dir(Path::new("flowstate.yaml")), Path::new("."));
        assert_eq!(config_dir(Path::new("./flowstate.yaml")), Path::new("."));
        assert_eq!(
            config_dir(Path::new("conf/flowstate.yaml")),
            Path::new("conf")
        );
        assert_eq!(config_dir(Path::new("/etc/fs.yaml")), Path::new("/etc"));
        assert_eq!(config_dir(Path::new("")), Path::new("."));
    }

    #[test]
    fn relative_programs_stay_paths() {
        use crate::read_check::program_path;
        let dir = config_dir(Path::new("flowstate.yaml"));
        assert_eq!(program_path(dir, "./check.sh"), "./check.sh");
        assert_eq!(program_path(dir, "bin/check.sh"), "./bin/check.sh");
        assert_eq!(program_path(dir, "check_disk"), "check_disk");
        assert_eq!(
            program_path(Path::new("conf"), "./check.sh"),
            "conf/check.sh"
        );
        assert_eq!(program_path(dir, "/usr/bin/true"), "/usr/bin/true");
    }
}
