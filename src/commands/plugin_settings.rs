//! `flowstate check`'s last step: every plugin the configuration defines is started, asked for
//! its settings schema and stopped again, and each host's and notifier's `settings` are checked
//! against that schema. Each problem is reported like a built-in key's: file, line and column,
//! and the place (`hosts[2] (label "cache").settings.port`).

use std::path::{Path, PathBuf};

use flowstate_actors::plugin::handshake::ask_hello;
use flowstate_actors::plugin::process::HELLO_TIMEOUT;
use flowstate_actors::plugin::settings_schema::SettingsSchema;
use flowstate_config::{locate, Check, Config, Diagnostic, NotifierKind, PluginUse};
use flowstate_plugin::PluginKind;

/// Every problem of every plugin's settings, in configuration order.
pub fn problems(config: &Config) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for plugin in &config.plugins {
        let section = format!("plugins.{}", plugin.name);
        let (file, at) = find(&config.sources, &section);
        let hello = match ask_hello(plugin, HELLO_TIMEOUT) {
            Ok(hello) => hello,
            Err(error) => {
                problems.push(
                    Diagnostic::new(
                        &file,
                        &section,
                        format!("cannot read the plugin's settings schema: {error}; fix `command` or the program"),
                    )
                    .at(at),
                );
                continue;
            }
        };
        let schema = match SettingsSchema::compile(&hello.settings_schema) {
            Ok(schema) => schema,
            Err(error) => {
                problems.push(
                    Diagnostic::new(
                        &file,
                        &section,
                        format!("the plugin's settings_schema is not a JSON Schema ({error}); the plugin must be fixed"),
                    )
                    .at(at),
                );
                continue;
            }
        };
        let mut check =
            |used: &PluginUse, wanted: PluginKind, file: &Path, path: String, place: String| {
                if used.plugin != plugin.name {
                    return;
                }
                if hello.kind != wanted {
                    problems.push(
                        Diagnostic::new(
                            file,
                            format!("{place}.type"),
                            format!(
                                "plugin `{}` is a {} plugin; use a {} plugin here",
                                plugin.name,
                                hello.kind.name(),
                                wanted.name()
                            ),
                        )
                        .at(locate(file, &format!("{path}.type"))),
                    );
                    return;
                }
                for problem in schema.problems(&used.settings) {
                    problems.push(
                        Diagnostic::new(
                            file,
                            format!("{place}.{}", problem.place),
                            format!(
                                "{} (the settings schema of plugin `{}`)",
                                problem.message, plugin.name
                            ),
                        )
                        .at(locate(file, &format!("{path}.{}", problem.place))),
                    );
                }
            };
        for host in config.hosts() {
            if let Check::Plugin(used) = &host.check {
                let index = host.origin.index;
                check(
                    used,
                    PluginKind::Check,
                    &host.origin.file,
                    format!("hosts[{index}]"),
                    format!("hosts[{index}] (label {:?})", &*host.label),
                );
            }
        }
        for notifier in &config.notifiers {
            if let NotifierKind::Plugin(used, _) = &notifier.kind {
                let path = format!("notifiers.{}", notifier.name);
                let (file, _) = find(&config.sources, &path);
                check(used, PluginKind::Notifier, &file, path.clone(), path);
            }
        }
    }
    problems
}

/// The file of `sources` that has `path`, and where; the first file when none does.
fn find(sources: &[PathBuf], path: &str) -> (PathBuf, Option<flowstate_config::Position>) {
    sources
        .iter()
        .find_map(|file| locate(file, path).map(|at| (file.clone(), Some(at))))
        .unwrap_or_else(|| (sources.first().cloned().unwrap_or_default(), None))
}
