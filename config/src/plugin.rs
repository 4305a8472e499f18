//! Plugins as configured (SPEC §11): the `plugins` section (a name and the program to run),
//! and what a host or notifier of a plugin's type passes it (`settings`).
//!
//! What a plugin's `settings` must look like is the plugin's own business: it sends a JSON
//! Schema when it starts, and the daemon and `flowstate check` validate against that. Here
//! `settings` is only turned from YAML into JSON, `${VAR}` substituted in every string.

use std::sync::Arc;

use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

use crate::read_check::{read_argv, read_env};
use crate::reader::{describe, Node, Reader};

pub(crate) const PLUGIN_KEYS: &[&str] = &["command", "env", "processes"];
/// The most processes one plugin may run: a pool for a plugin that handles one request at a
/// time, not a way to fork-bomb the host.
pub const MAX_PROCESSES: u64 = 16;

/// One entry of `plugins`: a long-lived process speaking the plugin protocol.
#[derive(Clone, PartialEq, Eq)]
pub struct PluginConfig {
    pub name: Arc<str>,
    /// The program and its arguments; run directly, never through a shell.
    pub argv: Vec<String>,
    /// Added to the daemon's environment (values may hold secrets: never printed).
    pub env: Vec<(String, String)>,
    /// How many copies of the program run, requests shared among them (`processes`, 1 by
    /// default: the protocol lets one process serve many requests at once).
    pub processes: usize,
}

impl std::fmt::Debug for PluginConfig {
    /// The program only: arguments and environment values may hold tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginConfig")
            .field("name", &self.name)
            .field("program", &self.argv.first())
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl PluginConfig {
    /// Every setting as `(key, value)`, secrets included: for comparing two versions (a
    /// plugin whose command or environment changed is restarted on reload).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        vec![
            ("command", self.argv.join(" ")),
            ("env", env.join(", ")),
            ("processes", self.processes.to_string()),
        ]
    }
}

/// What a host or notifier of a plugin's type holds: the plugin's name (its `type`) and its
/// `settings`, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginUse {
    pub plugin: Arc<str>,
    pub settings: Value,
}

impl PluginUse {
    /// The settings' top-level keys, for printing: their values may be passwords, and only
    /// the plugin's schema could say which are.
    pub fn shown_settings(&self) -> String {
        match &self.settings {
            Value::Object(map) if !map.is_empty() => format!(
                "{} (values hidden)",
                map.keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Null => String::new(),
            _ => "(hidden)".to_string(),
        }
    }
}

/// Names a plugin may have: they become check and notifier types, so they must not shadow
/// a built-in one, and they show in metrics labels and logs.
pub(crate) fn valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads the `plugins` section: `name: { command: [...], env: {...} }`.
pub(crate) fn read_plugins(
    reader: &mut Reader,
    node: &Node,
    reserved: &[&str],
) -> Vec<PluginConfig> {
    let mut plugins = Vec::new();
    for (name, entry) in reader.named_entries(node) {
        if !valid_plugin_name(&name) {
            reader.key_error(
                &entry,
                format!("`{name}` is not a plugin name; use letters, digits, `-` and `_` (it becomes a `type:`)"),
            );
            continue;
        }
        if reserved.contains(&name.as_str()) {
            reader.key_error(
                &entry,
                format!("`{name}` is a built-in type; give the plugin another name"),
            );
            continue;
        }
        let Some(fields) = reader.fields(&entry, PLUGIN_KEYS) else {
            continue;
        };
        let argv = match fields.get("command") {
            Some(command) => read_argv(reader, &command),
            None => {
                reader.semantic_error(
                    &entry,
                    "missing `command`; e.g. `command: [/usr/lib/flowstate/plugins/redis-check]`",
                );
                None
            }
        };
        let env = fields
            .get("env")
            .map(|node| read_env(reader, &node))
            .unwrap_or_default();
        let processes = match fields.get("processes") {
            Some(node) => reader.count(&node, 1, MAX_PROCESSES),
            None => Some(1),
        };
        if let (Some(argv), Some(processes)) = (argv, processes) {
            plugins.push(PluginConfig {
                name: Arc::from(name.as_str()),
                argv,
                env,
                processes: processes as usize,
            });
        }
    }
    plugins
}

/// A `settings` mapping as JSON, every string `${VAR}`-substituted. `None` (with the errors
/// reported) when a key is not a string or a value has no JSON form.
pub(crate) fn read_settings(reader: &mut Reader, node: &Node) -> Option<Value> {
    match node.value {
        // `settings:` with nothing after it: no settings, as if it were not written.
        Yaml::Null => return Some(Value::Object(Map::new())),
        Yaml::Mapping(_) => {}
        other => {
            reader.type_error(
                node,
                format!(
                    "expected a mapping of the plugin's settings, e.g. `settings: {{ address: \"127.0.0.1:6379\" }}`, found {}",
                    describe(other)
                ),
            );
            return None;
        }
    }
    to_json(reader, node)
}

fn to_json(reader: &mut Reader, node: &Node) -> Option<Value> {
    Some(match node.value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                match n.as_f64().and_then(Number::from_f64) {
                    Some(f) => Value::Number(f),
                    None => {
                        reader.type_error(
                            node,
                            format!("{n} has no JSON form; write a finite number"),
                        );
                        return None;
                    }
                }
            }
        }
        Yaml::String(_) => Value::String(reader.string(node)?),
        Yaml::Sequence(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut ok = true;
            for (index, item) in items.iter().enumerate() {
                match to_json(reader, &node.index(index, item)) {
                    Some(v) => values.push(v),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Value::Array(values)
        }
        Yaml::Mapping(mapping) => {
            let mut map = Map::new();
            let mut ok = true;
            for (key, value) in mapping {
                let Some(key) = key.as_str() else {
                    reader.type_error(
                        node,
                        format!("setting names must be strings, found {}", describe(key)),
                    );
                    ok = false;
                    continue;
                };
                match to_json(reader, &node.key(key, value)) {
                    Some(v) => {
                        map.insert(key.to_string(), v);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            reader.type_error(
                node,
                format!(
                    "YAML tags (`{}`) have no JSON form; remove the tag",
                    tagged.tag
                ),
            );
            return None;
        }
    })
}
