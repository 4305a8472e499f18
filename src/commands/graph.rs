//! `flowstate graph`: the hosts' dependencies (`depends_on`) as a graph, parent to child, for
//! Graphviz (`--format dot`, the default: `flowstate graph | dot -Tsvg > deps.svg`) or
//! Mermaid (`--format mermaid`, which GitHub and most wikis draw in Markdown).
//!
//! Every host is a node, so one with no dependencies shows too; a redundancy group's edges
//! are dashed and marked `any`. Exit 0, or 2 when the configuration is invalid (a cycle or an
//! unknown parent among its errors).

use std::fmt::Write as _;
use std::process::ExitCode;

use flowstate_config::dependencies::Dependency;
use flowstate_config::Config;

use super::{exit, load_config, BadInput};
use crate::cli::{GraphArgs, GraphFormat};
use crate::output;

pub fn run(args: &GraphArgs) -> Result<ExitCode, BadInput> {
    let config = load_config(&args.config)?;
    let text = match args.format {
        GraphFormat::Dot => dot(&config),
        GraphFormat::Mermaid => mermaid(&config),
    };
    output::print(&text)?;
    Ok(exit::success())
}

/// Each edge parent → child, and whether it belongs to a redundancy group.
fn edges(config: &Config) -> Vec<(&str, &str, bool)> {
    let mut edges = Vec::new();
    for host in config.hosts() {
        for dependency in &host.depends_on {
            let redundant = matches!(dependency, Dependency::AnyOf(_));
            for parent in dependency.labels() {
                edges.push((&**parent, &*host.label, redundant));
            }
        }
    }
    edges
}

/// A label as a DOT string: quotes and backslashes escaped.
fn dot_string(label: &str) -> String {
    format!("\"{}\"", label.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn dot(config: &Config) -> String {
    let mut out = String::from("digraph flowstate {\n  rankdir=LR;\n  node [shape=box];\n");
    for host in config.hosts() {
        let _ = writeln!(out, "  {};", dot_string(&host.label));
    }
    for (parent, child, redundant) in edges(config) {
        let style = if redundant {
            " [style=dashed, label=\"any\"]"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {}{style};",
            dot_string(parent),
            dot_string(child)
        );
    }
    out.push_str("}\n");
    out
}

/// A label inside a Mermaid node's `["..."]`: quotes and angle brackets as entities.
fn mermaid_text(label: &str) -> String {
    label
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

pub fn mermaid(config: &Config) -> String {
    let mut out = String::from("graph LR\n");
    // Mermaid ids must be plain words: hosts are numbered, their labels are the text.
    let id = |label: &str| {
        config
            .hosts()
            .iter()
            .position(|h| &*h.label == label)
            .map(|i| format!("h{i}"))
            .unwrap_or_else(|| "unknown".to_string())
    };
    for (i, host) in config.hosts().iter().enumerate() {
        let _ = writeln!(out, "  h{i}[\"{}\"]", mermaid_text(&host.label));
    }
    for (parent, child, redundant) in edges(config) {
        let arrow = if redundant { "-. any .->" } else { "-->" };
        let _ = writeln!(out, "  {} {arrow} {}", id(parent), id(child));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        flowstate_config::load_str(
            "t.yaml",
            "hosts:\n  - { label: isp-a, url: 'http://a/' }\n  - { label: isp-b, url: 'http://b/' }\n\
             \x20 - { label: router, url: 'http://r/', depends_on: [{ any: [isp-a, isp-b] }] }\n\
             \x20 - { label: 'api \"v2\"', url: 'http://api/', depends_on: [router] }\n",
            &|_| None,
        )
        .expect("a valid configuration")
    }

    #[test]
    fn dot_draws_every_host_and_dashes_redundant_parents() {
        let text = dot(&config());
        assert!(text.starts_with("digraph flowstate {\n"), "{text}");
        assert!(
            text.contains("  \"isp-a\" -> \"router\" [style=dashed, label=\"any\"];\n"),
            "{text}"
        );
        assert!(
            text.contains("  \"router\" -> \"api \\\"v2\\\"\";\n"),
            "{text}"
        );
        assert_eq!(text.matches(";\n").count(), 2 + 4 + 3, "{text}");
    }

    #[test]
    fn mermaid_numbers_the_hosts_and_keeps_labels_as_text() {
        let text = mermaid(&config());
        assert!(text.starts_with("graph LR\n"), "{text}");
        assert!(text.contains("  h3[\"api #quot;v2#quot;\"]\n"), "{text}");
        assert!(
            text.contains("  h0 -. any .-> h2\n") && text.contains("  h2 --> h3\n"),
            "{text}"
        );
    }
}
