//! The documentation cannot drift from the code. For `README.md` and every `docs/*.md`:
//!
//! - **Every ```` ```yaml ```` block is a complete flowstate configuration** that
//!   `flowstate check` accepts as written, each in a sandbox of its own. Write whole
//!   documents (a host example goes under `hosts:`, a notifier under `notifiers:`), never
//!   fragments. The sandbox holds the files examples name ([`FIXTURES`]), and every `${VAR}`
//!   without a default is set.
//! - **YAML that is not a flowstate configuration is fenced with a suffix** saying what it is:
//!   ```` ```yaml-kubernetes ```` for manifests, ```` ```yaml-prometheus ```` for Prometheus
//!   rule files. Such blocks are not given to `flowstate check`; Prometheus rule files are
//!   given to `promtool check rules` instead.
//! - **Every key the configuration accepts is documented in its section** of
//!   `docs/configuration.md`: [`flowstate_config::schema::documented_keys`] lists them from the
//!   same constants validation checks keys against, and each must appear as `` `key` ``
//!   between the heading of its section (backticks aside, any case: `` ### `hosts` (type:
//!   `dns`) `` is the section `hosts (type: dns)`) and the next heading of the same or a
//!   higher level.
//! - `examples/flowstate.yaml` passes `flowstate check`.
//! - Every relative link points to an existing file, and a `#fragment` into a Markdown file to
//!   one of its headings (GitHub's anchors).
//! - Every metric family a running daemon exposes is described in `docs/metrics.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flowstate_config::schema::documented_keys;

use crate::common::repo::{read, root};
use crate::common::{start, Response, Sandbox, TestServer};

/// Files the examples refer to, created empty in every example's sandbox: validation needs
/// `tls.ca_file` to be a file, and a plain (not glob) `include` path to exist.
const FIXTURES: &[&str] = &[
    "certs/internal-ca.pem",
    "notifiers.yaml",
    "tenants/team-a.yaml",
];

/// The value given to every `${VAR}` an example uses without a default.
const VARIABLE_VALUE: &str = "docs-example";

/// `README.md`, `CONTRIBUTING.md` and every `docs/*.md`, sorted.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("read docs/")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root().join("README.md"));
    docs.insert(1, root().join("CONTRIBUTING.md"));
    docs
}

/// `docs/checks.md`, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A fenced code block: its info string (`yaml`, `yaml-kubernetes`), the line of its opening
/// fence (from 1), and its content.
struct Block {
    info: String,
    line: usize,
    content: String,
}

/// The fenced code blocks of a Markdown text, and every line outside them with its number.
fn split_fences(text: &str) -> (Vec<Block>, Vec<(usize, &str)>) {
    let mut blocks = Vec::new();
    let mut prose = Vec::new();
    let mut open: Option<(String, usize, usize, String)> = None; // fence, indent, line, info
    let mut content = String::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &open {
            None => {
                let fence: String = trimmed.chars().take_while(|c| *c == '`').collect();
                if fence.len() >= 3 {
                    let info = trimmed[fence.len()..].trim().to_string();
                    open = Some((fence, indent, index + 1, info));
                    content.clear();
                } else {
                    prose.push((index + 1, line));
                }
            }
            Some((fence, fence_indent, start, info)) => {
                let closes = trimmed.starts_with(fence.as_str())
                    && trimmed.trim_end().trim_matches('`').is_empty();
                if closes {
                    blocks.push(Block {
                        info: info.clone(),
                        line: *start,
                        content: std::mem::take(&mut content),
                    });
                    open = None;
                } else {
                    // Content indented like its fence (in a list item) loses that indent.
                    let cut = line.len() - line.trim_start().len();
                    content.push_str(&line[cut.min(*fence_indent)..]);
                    content.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "a code fence is never closed");
    (blocks, prose)
}

/// The names of the `${VAR}` an example uses with no default (`${VAR}`, `${VAR:?why}`).
fn variables_without_default(yaml: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = yaml;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let operator = &after[name.len()..];
        let defaulted = operator.starts_with(":-") || operator.starts_with('-');
        if !name.is_empty() && !defaulted {
            names.insert(name);
        }
        rest = after;
    }
    names
}

/// Runs `flowstate check` on one example in a sandbox of its own.
fn check_example(yaml: &str) -> crate::common::Outcome {
    let sandbox = Sandbox::new();
    for fixture in FIXTURES {
        sandbox.write(fixture, "");
    }
    // The example plugin, for examples of `plugins` (`flowstate check` starts each plugin).
    let plugin = sandbox.write(
        "plugins/tcp_check.py",
        &read(root().join("examples/plugins/tcp_check.py")),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755))
        .expect("make the example plugin executable");
    sandbox.write("flowstate.yaml", yaml);
    let mut run = sandbox.flowstate().args(&["check", "-c", "flowstate.yaml"]);
    for name in variables_without_default(yaml) {
        run = run.env(&name, VARIABLE_VALUE);
    }
    run.output()
}

#[test]
fn every_yaml_block_in_the_docs_is_a_complete_valid_configuration() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let (blocks, _) = split_fences(&read(&doc));
        for block in blocks
            .iter()
            .filter(|b| b.info == "yaml" || b.info == "yml")
        {
            checked += 1;
            let outcome = check_example(&block.content);
            if outcome.code != Some(0) {
                failures.push(format!(
                    "{}:{}: `flowstate check` refuses this block (exit {:?}):\n{}\n{}",
                    shown(&doc),
                    block.line,
                    outcome.code,
                    block.content,
                    outcome.stderr
                ));
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} yaml blocks found: is the fence parser broken?"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} yaml blocks are not valid configurations (fence other YAML as \
         ```yaml-kubernetes or ```yaml-prometheus):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A clone has only the repository: no page may send its reader to a folder beside it.
#[test]
fn the_docs_point_only_at_files_in_the_repository() {
    let mut outside = Vec::new();
    for doc in documents() {
        for (number, line) in read(&doc).lines().enumerate() {
            if line.contains("../shared") {
                outside.push(format!("{}:{}: {line}", shown(&doc), number + 1));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "pointers outside the repository:\n  {}",
        outside.join("\n  ")
    );
}

/// A newcomer reads `flowstate status` in the README after only `cargo run`: the README says
/// how the name gets onto the `PATH` before it first uses it.
#[test]
fn the_readme_says_how_to_get_flowstate_on_the_path_before_using_it() {
    let readme = read(root().join("README.md"));
    let install = readme
        .find("cargo install --path .")
        .expect("the README says `cargo install --path .`");
    let first_use = readme
        .find("\nflowstate ")
        .expect("the README shows a `flowstate` command");
    assert!(
        install < first_use,
        "the install hint comes after the first `flowstate` command"
    );
    assert!(
        readme.contains("target/debug/flowstate"),
        "the README names the built binary"
    );
}

/// Prose lines right before a block that may introduce it.
const LEAD_IN_LINES: usize = 8;

/// An example tried as written fails without its variables: every `${VAR}` without a default
/// is named where a reader sees it, in a comment of the block or in the lines leading in.
#[test]
fn every_variable_an_example_needs_is_named_next_to_it() {
    let mut unnamed = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        let lines: Vec<&str> = text.lines().collect();
        let (blocks, _) = split_fences(&text);
        for block in blocks
            .iter()
            .filter(|b| b.info == "yaml" || b.info == "yml")
        {
            let comments: String = block
                .content
                .lines()
                .filter_map(|l| {
                    l.split_once(" #")
                        .map(|(_, c)| c)
                        .or_else(|| l.trim_start().strip_prefix('#'))
                })
                .collect::<Vec<_>>()
                .join("\n");
            let from = block.line.saturating_sub(1 + LEAD_IN_LINES);
            let lead_in = lines[from..block.line.saturating_sub(1)].join("\n");
            for name in variables_without_default(&block.content) {
                if !comments.contains(&name) && !lead_in.contains(&name) {
                    unnamed.push(format!("{}:{}: {name}", shown(&doc), block.line));
                }
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "examples that need these variables set without saying so (name them in a comment of \
         the block or in the text just before it, or give them a default):\n  {}",
        unnamed.join("\n  ")
    );
}

#[test]
fn the_bundled_example_is_a_valid_configuration() {
    let sandbox = Sandbox::new();
    let example = root().join("examples/flowstate.yaml");
    let outcome = sandbox
        .flowstate()
        .arg("check")
        .arg("-c")
        .arg(&example)
        .output();
    outcome.expect_code(0);
    assert!(outcome.stderr.is_empty(), "{outcome}");
}

#[test]
fn prometheus_rules_in_the_docs_pass_promtool() {
    let mut checked = 0;
    for doc in documents() {
        let (blocks, _) = split_fences(&read(&doc));
        for block in blocks.iter().filter(|b| b.info == "yaml-prometheus") {
            checked += 1;
            let sandbox = Sandbox::new();
            let rules = sandbox.write("rules.yaml", &block.content);
            let output = match Command::new("promtool")
                .args(["check", "rules"])
                .arg(&rules)
                .stdin(Stdio::null())
                .output()
            {
                Ok(output) => output,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                    "promtool is not installed, and this test needs it for the alerting rules \
                     in the docs: install Debian's `prometheus` package (`apt-get install \
                     --no-install-recommends prometheus`; .ci/run does this)"
                ),
                Err(e) => panic!("cannot run promtool: {e}"),
            };
            assert!(
                output.status.success(),
                "{}:{}: promtool check rules refuses this block:\n{}\n{}{}",
                shown(&doc),
                block.line,
                block.content,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    assert!(checked > 0, "no ```yaml-prometheus block in the docs");
}

/// A heading: its level (number of `#`) and its text without backticks.
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let text = line[level..].strip_prefix(' ')?;
    (1..=6)
        .contains(&level)
        .then(|| (level, text.replace('`', "").trim().to_string()))
}

#[test]
fn every_configuration_key_is_documented_in_its_section() {
    let path = root().join("docs/configuration.md");
    let text = read(&path);
    let (_, prose) = split_fences(&text);
    let lines: Vec<&str> = text.lines().collect();
    // Headings outside code blocks, with their line index.
    let headings: Vec<(usize, usize, String)> = prose
        .iter()
        .filter_map(|(number, line)| heading(line).map(|(level, t)| (number - 1, level, t)))
        .collect();
    let section_text = |section: &str| -> Result<String, String> {
        let matching: Vec<&(usize, usize, String)> = headings
            .iter()
            .filter(|(_, _, t)| t.eq_ignore_ascii_case(section))
            .collect();
        let &&(start, level, _) = match matching.as_slice() {
            [one] => one,
            [] => return Err(format!("no heading for the section `{section}`")),
            _ => return Err(format!("more than one heading for the section `{section}`")),
        };
        let end = headings
            .iter()
            .find(|(index, l, _)| *index > start && *l <= level)
            .map_or(lines.len(), |(index, _, _)| *index);
        Ok(lines[start + 1..end].join("\n"))
    };
    let mut missing = Vec::new();
    for (section, key) in documented_keys() {
        match section_text(&section) {
            Ok(body) if body.contains(&format!("`{key}`")) => {}
            Ok(_) => missing.push(format!("`{key}` in section `{section}`")),
            Err(e) => missing.push(format!("`{key}`: {e}")),
        }
    }
    assert!(
        missing.is_empty(),
        "keys the configuration accepts but docs/configuration.md does not document:\n  {}",
        missing.join("\n  ")
    );
}

/// GitHub's anchor for a heading text: lower case, punctuation dropped, spaces as `-`.
fn anchor(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, with `-1`, `-2` for repeats as GitHub makes them.
fn anchors(text: &str) -> BTreeSet<String> {
    let (_, prose) = split_fences(text);
    let mut found = BTreeSet::new();
    for (_, line) in prose {
        if let Some((_, text)) = heading(line) {
            let base = anchor(&text);
            let mut candidate = base.clone();
            let mut n = 0;
            while found.contains(&candidate) {
                n += 1;
                candidate = format!("{base}-{n}");
            }
            found.insert(candidate);
        }
    }
    found
}

/// The targets of the inline links of a line, inline code aside.
fn link_targets(line: &str) -> Vec<String> {
    // Drop code spans: `[a](b)` inside backticks is not a link.
    let mut text = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            text.push_str(part);
        }
    }
    let mut targets = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    targets
}

#[test]
fn every_relative_link_in_the_docs_points_to_an_existing_file_and_heading() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = read(&doc);
        let (_, prose) = split_fences(&text);
        for (number, line) in prose {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, fragment) = match target.split_once('#') {
                    Some((path, fragment)) => (path, Some(fragment)),
                    None => (target.as_str(), None),
                };
                let file = if path.is_empty() {
                    doc.clone()
                } else {
                    doc.parent().expect("a directory").join(path)
                };
                let place = format!("{}:{number}: ({target})", shown(&doc));
                if !file.exists() {
                    broken.push(format!("{place}: {} does not exist", file.display()));
                    continue;
                }
                let is_markdown = file.extension().is_some_and(|e| e == "md");
                if let (Some(fragment), true) = (fragment, is_markdown) {
                    if !anchors(&read(&file)).contains(fragment) {
                        broken.push(format!("{place}: no heading with the anchor #{fragment}"));
                    }
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} relative links found");
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn every_metric_family_on_metrics_is_described_in_metrics_md() {
    let web = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(&format!(
        "server: {{ listen: 127.0.0.1:0 }}\n\
             defaults: {{ interval: 100ms, timeout: 100ms, alerts: [console] }}\n\
             notifiers:\n  console: {{ type: stdout }}\n\
             hosts:\n  - label: web\n    url: '{}'\n",
        web.url("/")
    ));
    daemon.wait_for_checks("web", 2);
    let scrape = daemon.get("/metrics");
    assert_eq!(scrape.status, 200, "{scrape}");
    let families: Vec<&str> = scrape
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(families.len() >= 10, "{}", scrape.body);
    let doc = read(root().join("docs/metrics.md"));
    let undocumented: Vec<&&str> = families
        .iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "metric families on /metrics that docs/metrics.md does not describe: {undocumented:?}"
    );
}

/// The fence parser itself, on the cases the docs use.
#[test]
fn fences_links_and_anchors_are_read_as_github_reads_them() {
    let text = "# Title\n\n```yaml\nhosts: []\n# not a heading\n```\n\n\
                - item\n\n  ```yaml-kubernetes\n  kind: Pod\n  ```\n\n\
                ## `hosts` (type: `dns`)\nSee [a](b.md#c) and `[x](y)`.\n";
    let (blocks, prose) = split_fences(text);
    assert_eq!(blocks.len(), 2);
    assert_eq!((blocks[0].info.as_str(), blocks[0].line), ("yaml", 3));
    assert_eq!(blocks[0].content, "hosts: []\n# not a heading\n");
    assert_eq!(blocks[1].info, "yaml-kubernetes");
    assert_eq!(blocks[1].content, "kind: Pod\n");
    assert!(prose.iter().all(|(_, l)| !l.contains("not a heading")));
    assert_eq!(
        heading("## `hosts` (type: `dns`)"),
        Some((2, "hosts (type: dns)".to_string()))
    );
    assert_eq!(
        anchors(text),
        BTreeSet::from(["title".to_string(), "hosts-type-dns".to_string()])
    );
    assert_eq!(
        link_targets("See [a](b.md#c) and `[x](y)`."),
        ["b.md#c".to_string()]
    );
    assert_eq!(
        variables_without_default("a: ${A}\nb: ${B:-x}\nc: ${C:?why}\nd: ${D-x}\ne: $$ $F"),
        BTreeSet::from(["A".to_string(), "C".to_string()])
    );
}
