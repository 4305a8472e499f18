//! Config documents for daemon tests: the API on a free port, two notifiers every host alerts
//! (`console` on stdout, `audit` appending to [`ALERTS`]) or notifiers of the test's own, and
//! host list items.

/// Where the `audit` file notifier appends events, relative to the sandbox.
pub const ALERTS: &str = "alerts.jsonl";

/// A config document: `server` (the inside of a flow mapping), `top` (more top-level lines,
/// e.g. `include`), `defaults` (the inside of a flow mapping) and the two notifiers.
pub fn document_serving(server: &str, top: &str, defaults: &str, hosts: &[String]) -> String {
    format!(
        "server: {{ {server} }}\n{top}\
         defaults: {{ {defaults}, alerts: [console, audit] }}\n\
         notifiers:\n  console: {{ type: stdout }}\n  audit: {{ type: file, path: {ALERTS} }}\n\
         hosts:\n{}",
        hosts.concat()
    )
}

/// A config document with the API on a free port and notifiers of the test's own: `server`
/// (more of the inside of the `server` flow mapping, after `listen`), `defaults` (the inside of
/// a flow mapping, with any `alerts`), `notifiers` (lines of the `notifiers:` mapping, indented
/// two spaces; none when empty) and `hosts`.
pub fn document_with_notifiers(
    server: &str,
    defaults: &str,
    notifiers: &str,
    hosts: &[String],
) -> String {
    let server = if server.is_empty() {
        String::new()
    } else {
        format!(", {server}")
    };
    let notifiers = if notifiers.trim().is_empty() {
        "notifiers: {}\n".to_string()
    } else {
        format!("notifiers:\n{notifiers}")
    };
    format!(
        "server: {{ listen: \"127.0.0.1:0\"{server} }}\n\
         defaults: {{ {defaults} }}\n\
         {notifiers}\
         hosts:\n{}",
        hosts.concat()
    )
}

/// One host list item checking `url`; `extra` holds more `key: value` lines.
pub fn host(label: &str, url: &str, extra: &str) -> String {
    item(label, &format!("url: '{url}'\n{extra}"))
}

/// A host list item: `label` and the `key: value` lines of `body` (each trimmed; empty ones
/// left out). A label that is not a plain word (letters, digits, `-`, `_`, `.`) is quoted.
pub fn item(label: &str, body: &str) -> String {
    let plain = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let label = if plain {
        label.to_string()
    } else {
        format!("'{}'", label.replace('\'', "''"))
    };
    let mut item = format!("  - label: {label}\n");
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        item.push_str(&format!("    {line}\n"));
    }
    item
}

/// `${NOPE:-` `depth` times around `x`: variable defaults nested `depth` levels deep.
pub fn nested_defaults(depth: usize) -> String {
    format!("{}x{}", "${NOPE:-".repeat(depth), "}".repeat(depth))
}

/// A sandbox whose `flowstate.yaml` includes `hosts.d/**/*.yaml`, with host `a` in
/// `hosts.d/a.yaml` and two symlink loops back to `hosts.d` (`sub/up` and `sub/again`); `top`
/// is put before the include. Followed blindly, the walk doubles at every level until the
/// kernel's 40 symlinks per path: 2^40 directories.
pub fn symlink_loop_sandbox(top: &str) -> super::Sandbox {
    let sandbox = super::Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!("{top}include: [\"hosts.d/**/*.yaml\"]\n"),
    );
    sandbox.write(
        "hosts.d/a.yaml",
        "hosts:\n  - { label: a, type: tcp, address: '127.0.0.1:1', interval: 1h }\n",
    );
    std::fs::create_dir_all(sandbox.path().join("hosts.d/sub")).expect("create hosts.d/sub");
    for name in ["up", "again"] {
        std::os::unix::fs::symlink("..", sandbox.path().join("hosts.d/sub").join(name))
            .expect("create a symlink loop");
    }
    sandbox
}

impl super::Sandbox {
    /// Every event a file notifier wrote to `relative` (in the sandbox) so far, one per
    /// complete line; a line still being written is left for the next look. A complete line
    /// that is not JSON fails the test: a file notifier writes nothing else.
    #[track_caller]
    pub fn events(&self, relative: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.path().join(relative)).unwrap_or_default();
        super::daemon::complete_lines(&text)
            .into_iter()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{relative} has a line that is not JSON ({e}): {line:?}")
                })
            })
            .collect()
    }
}
