//! Plugins (SPEC §11): check and notifier types in separate processes speaking JSON lines.
//!
//! The plugins are Python scripts (standard library only): the shipped example
//! `examples/plugins/tcp_check.py`, and test-only ones in `tests/plugins/` that crash on every
//! 10th request (`flaky.py`), stop answering (`hang.py`), talk on stderr (`noisy.py`) or record
//! the events they are sent (`record.py`). Each is named by its absolute path in the repository
//! and run with `python3`.
//!
//! What is shown: the example speaks the protocol and answers concurrently on its own; a
//! plugin check follows its target up and down, its host typed with the plugin's name; a
//! plugin that crashes or hangs is restarted (with a doubling backoff; a hung one killed with
//! its children) and never holds up other hosts; a plugin's stderr reaches the log with its
//! name; `flowstate check` validates each host's `settings` against the plugin's schema,
//! naming file and place; a plugin that cannot start makes its own hosts down and nothing
//! else; a notifier plugin gets the alert event (retried when it asks) or, with `group_by`,
//! the group; an edit of a plugin's command restarts it, an edit elsewhere does not.
//!
//! Nothing is asserted after a sleep: each wait polls with a deadline.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::mpsc;
use std::thread;

use serde_json::{json, Value};

use crate::common::configs::{document_serving, document_with_notifiers, item};
use crate::common::daemon::CONFIG;
use crate::common::events::{assert_event, events, wait_for_event};
use crate::common::hosts::{checks, let_checks_pass};
use crate::common::processes::{alive, pids_in, KillListed};
use crate::common::scrape::wait_for_scrape;
use crate::common::wait::{wait_for, wait_until};
use crate::common::{closed_port, start, switchable, Daemon, Sandbox, DEADLINE};

// --- Helpers -----------------------------------------------------------------------------

/// The absolute path of a test-only plugin in `tests/plugins/`.
fn test_plugin(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plugins")
        .join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path.display().to_string()
}

/// The absolute path of the shipped example plugin.
fn tcp_check_example() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/tcp_check.py");
    assert!(path.exists(), "{} is missing", path.display());
    path.display().to_string()
}

/// A YAML single-quoted string.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One entry of the `plugins:` mapping: `name: { command: [python3, script, args...], env }`.
fn python_plugin(name: &str, script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let command: Vec<String> = ["python3", script]
        .iter()
        .chain(args)
        .map(|a| quoted(a))
        .collect();
    plugin_entry(name, &command, env)
}

/// The `noisy` test plugin as an entry of `plugins:`, tagged `tag` (its answers say it); each
/// of its starts appends its process id to `pids`.
fn noisy_plugin(tag: &str, pids: &std::path::Path) -> String {
    let pids = pids.display().to_string();
    python_plugin(
        "noisy",
        &test_plugin("noisy.py"),
        &[tag],
        &[("NOISY_PIDS", &pids)],
    )
}

/// One entry of the `plugins:` mapping, `command` already quoted item by item.
fn plugin_entry(name: &str, command: &[String], env: &[(&str, &str)]) -> String {
    let env = if env.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("{k}: {}", quoted(v)))
            .collect();
        format!(", env: {{ {} }}", pairs.join(", "))
    };
    format!("  {name}: {{ command: [{}]{env} }}\n", command.join(", "))
}

/// The `plugins:` section holding `entries`.
fn plugins(entries: &[String]) -> String {
    format!("plugins:\n{}", entries.concat())
}

/// A host list item of a plugin's type with these `settings` (a YAML flow mapping).
fn plugin_host(label: &str, plugin: &str, settings: &str, extra: &str) -> String {
    item(
        label,
        &format!("type: {plugin}\nsettings: {settings}\n{extra}"),
    )
}

/// A `type: tcp` host list item.
fn tcp_host(label: &str, address: &str) -> String {
    item(label, &format!("type: tcp\naddress: '{address}'"))
}

/// A config with the API on a free port, the two notifiers of [`document_serving`], these
/// plugins, and `defaults` (the inside of a flow mapping).
fn document(plugin_entries: &[String], defaults: &str, hosts: &[String]) -> String {
    document_serving(
        "listen: \"127.0.0.1:0\"",
        &plugins(plugin_entries),
        defaults,
        hosts,
    )
}

/// Checks often, decides on one result.
const FAST: &str = "interval: 300ms, timeout: 300ms, failure_threshold: 1, success_threshold: 1";

/// A loopback listener that accepts every connection and closes it at once, on a thread of
/// its own (so its backlog never fills however many checks connect): a TCP check against it
/// is up. Its address.
fn listening() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address").to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    address
}

/// A loopback listener that never accepts: the kernel completes a connection from its
/// backlog, and then nothing is ever said on it. Kept open while the listener lives.
fn silent() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address").to_string();
    (listener, address)
}

/// The value of a counter with one `plugin` label (and more labels), waiting until it
/// satisfies `condition`.
#[track_caller]
fn wait_for_plugin_counter(
    daemon: &mut Daemon,
    name: &str,
    labels: &[(&str, &str)],
    condition: impl Fn(f64) -> bool,
) -> f64 {
    let what = format!("{name}{labels:?} as expected");
    let scrape = wait_for_scrape(daemon, &what, |s| {
        s.get(name, labels).is_some_and(&condition)
    });
    scrape.value(name, labels)
}

/// The `last_check.detail` of a host.
fn detail(host: &Value) -> String {
    host["last_check"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether a check's detail says the plugin did not answer in time.
fn says_timed_out(detail: &Value) -> bool {
    let detail = detail.as_str().unwrap_or_default().to_lowercase();
    // A request sent while the plugin is still starting may time out too: not this case.
    !detail.contains("starting")
        && ["timed out", "timeout", "did not answer", "no answer"]
            .iter()
            .any(|words| detail.contains(words))
}

/// A host's check results, oldest first (none when the API shows no history).
fn history(host: &Value) -> Vec<Value> {
    host["history"].as_array().cloned().unwrap_or_default()
}

/// Whether a log line carries the field `plugin` = `name` (text `plugin=name` or
/// `plugin="name"`, or JSON `"plugin":"name"`).
fn names_plugin(line: &str, name: &str) -> bool {
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) {
        return object.get("plugin").and_then(Value::as_str) == Some(name);
    }
    line.split_whitespace()
        .any(|field| field == format!("plugin={name}") || field == format!("plugin=\"{name}\""))
}

/// Waits until `path` lists at least `n` process ids, and returns them.
#[track_caller]
fn wait_for_pids(path: &std::path::Path, n: usize, daemon: &Daemon) -> Vec<u32> {
    wait_for(
        DEADLINE,
        &format!("{} lists {n} pids", path.display()),
        || {
            let pids = pids_in(path);
            (pids.len() >= n).then_some(pids)
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{daemon}", pids_in(path)))
}

/// The example plugin run by the test itself (no daemon): requests written to its stdin, its
/// answers read line by line on a thread, so a read has a deadline.
struct Driven {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Driven {
    fn start(script: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Driven {
            child,
            stdin,
            lines,
        }
    }

    #[track_caller]
    fn send(&mut self, request: Value) {
        writeln!(self.stdin, "{request}").expect("write a request to the plugin");
        self.stdin.flush().expect("flush the plugin's stdin");
    }

    /// The next answer, parsed; fails the test after [`DEADLINE`].
    #[track_caller]
    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("the plugin answers within the deadline");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- The example plugin on its own ---------------------------------------------------------

#[test]
fn example_plugin_says_hello_and_answers_checks_concurrently() {
    // Proves the shipped example speaks the protocol: its hello names its kind and a schema
    // requiring `address`, and an answer does not wait for a slower request sent before it.
    let up_address = listening();
    // A peer that never says anything: a check expecting a banner waits on it.
    let (_silent, silent_address) = silent();
    let mut plugin = Driven::start(&tcp_check_example());

    plugin.send(json!({"op": "hello", "protocol": 1}));
    let hello = plugin.next();
    assert_eq!(hello["protocol"], 1, "{hello}");
    assert_eq!(hello["kind"], "check", "{hello}");
    let schema = &hello["settings_schema"];
    assert_eq!(schema["type"], "object", "{hello}");
    assert_eq!(schema["required"], json!(["address"]), "{hello}");
    assert_eq!(schema["additionalProperties"], false, "{hello}");
    assert_eq!(schema["properties"]["address"]["type"], "string", "{hello}");
    assert!(
        schema["properties"]["address"]["pattern"].is_string(),
        "{hello}"
    );

    plugin.send(json!({"op": "check", "id": 1, "host": "slow",
        "settings": {"address": silent_address, "expect": "^never"}, "timeout_ms": 3000}));
    plugin.send(json!({"op": "check", "id": 2, "host": "fast",
        "settings": {"address": up_address}, "timeout_ms": 3000}));
    let first = plugin.next();
    assert_eq!(first["id"], 2, "the fast check is answered first: {first}");
    assert_eq!(first["status"], "up", "{first}");
    assert!(detail_of(&first).starts_with("connected in "), "{first}");
    assert!(
        first["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{first}"
    );

    let refused = format!("127.0.0.1:{}", closed_port());
    plugin.send(json!({"op": "check", "id": 3, "host": "closed",
        "settings": {"address": refused}, "timeout_ms": 3000}));
    let third = plugin.next();
    assert_eq!(
        (&third["id"], &third["status"], &third["detail"]),
        (&json!(3), &json!("down"), &json!("connection refused")),
        "{third}"
    );

    // The slow one ends by its own timeout, down, saying what it waited for.
    let slow = plugin.next();
    assert_eq!(
        (&slow["id"], &slow["status"]),
        (&json!(1), &json!("down")),
        "{slow}"
    );
    assert!(detail_of(&slow).contains("not matched"), "{slow}");
}

fn detail_of(answer: &Value) -> &str {
    answer["detail"].as_str().unwrap_or_default()
}

// --- Checks through the daemon -------------------------------------------------------------

#[test]
fn plugin_check_goes_up_and_down_with_its_target() {
    // Proves a Python plugin's verdicts drive a host like a built-in check: up, down with the
    // plugin's detail (and an alert), up again; the requests are counted per plugin and op.
    let (status, target) = switchable(200);
    let config = document(
        &[python_plugin(
            "tcpcheck",
            &tcp_check_example(),
            &[],
            &[("OPTIONAL", "x")],
        )],
        FAST,
        &[
            plugin_host(
                "web",
                "tcpcheck",
                &format!(
                    r#"{{ address: '{}', send: "GET / HTTP/1.0\r\n\r\n", expect: '^HTTP/1\.[01] 200' }}"#,
                    target.addr()
                ),
                "",
            ),
            plugin_host(
                "refused",
                "tcpcheck",
                &format!("{{ address: '127.0.0.1:{}' }}", closed_port()),
                "",
            ),
        ],
    );
    let (sandbox, mut daemon) = start(&config);

    let web = daemon.wait_for_status("web", "up");
    assert!(detail(&web).ends_with("expect matched"), "{web:#}");
    let refused = daemon.wait_for_status("refused", "down");
    assert_eq!(detail(&refused), "connection refused", "{refused:#}");

    // (A first check can fail while the plugin is still starting on a busy machine: the
    // events that count are those after the switch.)
    let before = events(&sandbox).len();
    status.store(503, SeqCst);
    let web = daemon.wait_for_status("web", "down");
    assert!(detail(&web).contains("not matched"), "{web:#}");
    let down = wait_for(DEADLINE, "a `down` event for web after the switch", || {
        events(&sandbox)
            .into_iter()
            .skip(before)
            .find(|e| e["event"] == "down" && e["host"] == "web")
    })
    .unwrap_or_else(|e| panic!("{e}: {:#?}\n{daemon}", events(&sandbox)));
    assert_event(&down, "down", "web", "up");
    assert!(
        down["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not matched"),
        "the plugin's detail is the reason: {down}"
    );

    status.store(200, SeqCst);
    daemon.wait_for_status("web", "up");
    wait_for_event(&sandbox, &daemon, "up", "web");

    let requests = wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_requests_total",
        &[("plugin", "tcpcheck"), ("op", "check")],
        |n| n >= 3.0,
    );
    assert!(requests >= 3.0);
}

#[test]
fn api_shows_a_plugin_host_with_the_type_it_was_written_with() {
    // Proves the API's `type` of a plugin's host is the `type:` of its config (the plugin's
    // name), as it is for built-in types: with several plugins, `plugin` would tell nothing.
    let address = listening();
    let config = document(
        &[python_plugin("tcpcheck", &tcp_check_example(), &[], &[])],
        FAST,
        &[plugin_host(
            "cache",
            "tcpcheck",
            &format!("{{ address: '{address}' }}"),
            "",
        )],
    );
    let (_sandbox, mut daemon) = start(&config);
    let cache = daemon.wait_for_status("cache", "up");
    assert_eq!(cache["type"], "tcpcheck", "{cache:#}");
}

#[test]
fn crashing_plugin_is_restarted_and_never_stops_other_hosts() {
    // Proves a plugin that exits on every 10th request is started again (a new process each
    // time, with its `env`), its restarts counted, its host back up after each; while a
    // built-in host and another plugin's host go on being checked the whole time.
    let address = listening();
    let sandbox_pids = tempfile::tempdir().expect("a temporary directory");
    let pids = sandbox_pids.path().join("flaky.pids");
    let _cleanup = KillListed(vec![pids.clone()]);
    let config = document(
        &[
            python_plugin(
                "flaky",
                &test_plugin("flaky.py"),
                &[],
                &[("FLAKY_PIDS", &pids.display().to_string())],
            ),
            python_plugin("tcpcheck", &tcp_check_example(), &[], &[]),
        ],
        "interval: 200ms, timeout: 200ms, failure_threshold: 1, success_threshold: 1",
        &[
            plugin_host("flaky", "flaky", "{}", ""),
            tcp_host("plain", &address),
            plugin_host(
                "other",
                "tcpcheck",
                &format!("{{ address: '{address}' }}"),
                "",
            ),
        ],
    );
    let (_sandbox, mut daemon) = start(&config);
    daemon.wait_for_status("flaky", "up");
    let first = wait_for_pids(&pids, 1, &daemon)[0];

    // The first crash (request 10) and its restart.
    wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_restarts_total",
        &[("plugin", "flaky")],
        |n| n >= 1.0,
    );
    let plain_before = checks(&daemon.host("plain"));
    let other_before = checks(&daemon.host("other"));

    // The second crash and restart: the other hosts were checked all along.
    wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_restarts_total",
        &[("plugin", "flaky")],
        |n| n >= 2.0,
    );
    let plain = daemon.host("plain");
    let other = daemon.host("other");
    assert!(
        checks(&plain) >= plain_before + 5,
        "the tcp host was checked while the plugin crashed and restarted: {plain_before} then {plain:#}\n{daemon}"
    );
    assert!(
        checks(&other) >= other_before + 5,
        "the other plugin's host was checked while the plugin crashed and restarted: {other_before} then {other:#}\n{daemon}"
    );
    let lives = wait_for_pids(&pids, 3, &daemon);
    let distinct: std::collections::BTreeSet<&u32> = lives.iter().collect();
    assert_eq!(
        distinct.len(),
        lives.len(),
        "each restart is a new process: {lives:?}"
    );
    assert!(!alive(first), "the first life exited: {lives:?}");

    // Back up after the restart, answering from the new process.
    let now = checks(&daemon.host("flaky"));
    let flaky = daemon.wait_for_host("flaky", "is up again after a restart", |h| {
        h["status"] == "up" && h["checks"].as_u64().is_some_and(|n| n > now)
    });
    assert!(
        detail(&flaky).starts_with("flaky answered request"),
        "{flaky:#}"
    );
    for label in ["plain", "other"] {
        let host = let_checks_pass(&mut daemon, label, 2);
        assert_eq!(host["status"], "up", "{host:#}");
    }
    let requests = wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_requests_total",
        &[("plugin", "flaky"), ("op", "check")],
        |n| n >= 20.0,
    );
    assert!(requests >= 20.0);
}

#[test]
fn plugin_that_keeps_dying_is_restarted_with_a_doubling_backoff() {
    // Proves a plugin that exits before its hello is started again after 1 s, then 2 s, then
    // 4 s (never in a tight loop), its host down meanwhile with a detail naming the plugin.
    // Only lower bounds are asserted: a busy machine makes every gap longer, never shorter.
    let config = document(
        &[python_plugin(
            "dies",
            &test_plugin("flaky.py"),
            &[],
            // `FLAKY_EVERY=0` is no number of requests: the plugin fails before its hello.
            &[("FLAKY_EVERY", "0")],
        )],
        FAST,
        &[plugin_host("doomed", "dies", "{}", "")],
    );
    let (_sandbox, mut daemon) = start(&config);
    let restarts = |daemon: &mut Daemon, n: f64| {
        wait_for_plugin_counter(
            daemon,
            "flowstate_plugin_restarts_total",
            &[("plugin", "dies")],
            |v| v >= n,
        );
        std::time::Instant::now()
    };
    let first = restarts(&mut daemon, 1.0);
    let second = restarts(&mut daemon, 2.0);
    let third = restarts(&mut daemon, 3.0);
    let (gap1, gap2) = (second - first, third - second);
    assert!(
        gap1 >= std::time::Duration::from_millis(1800),
        "the second restart came {gap1:?} after the first, not 2 s\n{daemon}"
    );
    assert!(
        gap2 >= std::time::Duration::from_millis(3600),
        "the third restart came {gap2:?} after the second, not 4 s\n{daemon}"
    );
    let doomed = daemon.wait_for_status("doomed", "down");
    assert!(detail(&doomed).contains("dies"), "{doomed:#}");
    let line = daemon.wait_for_log("the plugin's traceback is logged", |l| {
        l.contains("ZeroDivisionError")
    });
    assert!(names_plugin(&line, "dies"), "{line}");
}

#[test]
fn hung_plugin_times_out_and_is_killed_with_its_children_then_restarted() {
    // Proves a plugin that stops answering has its requests time out (the host down, saying
    // so), is killed with what it started (its process group), and is started again; a
    // built-in host is checked all the while.
    let address = listening();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pids = dir.path().join("hang.pids");
    let _cleanup = KillListed(vec![pids.clone()]);
    let config = document(
        &[python_plugin(
            "hang",
            &test_plugin("hang.py"),
            &[],
            &[
                ("HANG_PIDS", &pids.display().to_string()),
                ("HANG_AFTER", "3"),
            ],
        )],
        FAST,
        &[
            plugin_host("stuck", "hang", "{}", ""),
            tcp_host("plain", &address),
        ],
    );
    let (_sandbox, mut daemon) = start(&config);

    daemon.wait_for_status("stuck", "up");
    let first_life = wait_for_pids(&pids, 2, &daemon);
    let (plugin, child) = (first_life[0], first_life[1]);
    let plain_before = checks(&daemon.host("plain"));

    // Request 4 gets no answer: the host is down once the request's timeout passed, the
    // check's detail naming the plugin and saying it did not answer in time. (The history is
    // searched: the checks made while the plugin restarts fail with another detail.)
    let stuck = daemon.wait_for_host("stuck", "is down after a check timed out", |h| {
        h["status"] == "down" && history(h).iter().any(|c| says_timed_out(&c["detail"]))
    });
    let checks_made = history(&stuck);
    let timed_out = checks_made
        .iter()
        .find(|c| says_timed_out(&c["detail"]))
        .unwrap();
    assert_eq!(timed_out["ok"], false, "{stuck:#}");
    assert!(
        timed_out["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("hang"),
        "the detail names the plugin: {stuck:#}"
    );
    wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_timeouts_total",
        &[("plugin", "hang")],
        |n| n >= 1.0,
    );
    wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_restarts_total",
        &[("plugin", "hang")],
        |n| n >= 1.0,
    );

    // Killed, its `sleep` child too; a new process answers again.
    wait_until(DEADLINE, "the hung plugin and its child are gone", || {
        !alive(plugin) && !alive(child)
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: plugin {plugin} alive {}, its child {child} alive {}\n{daemon}",
            alive(plugin),
            alive(child)
        )
    });
    let lives = wait_for_pids(&pids, 4, &daemon);
    assert_ne!(lives[2], plugin, "a new process: {lives:?}");
    let now = checks(&daemon.host("stuck"));
    let stuck = daemon.wait_for_host("stuck", "is up again after the restart", |h| {
        h["status"] == "up" && h["checks"].as_u64().is_some_and(|n| n > now)
    });
    assert!(detail(&stuck).starts_with("answered request"), "{stuck:#}");

    let plain = daemon.host("plain");
    assert!(
        checks(&plain) > plain_before + 5 && plain["status"] == "up",
        "the tcp host was checked while the plugin hung: {plain_before} then {plain:#}"
    );
}

#[test]
fn plugin_stderr_is_logged_with_the_plugins_name() {
    // Proves what a plugin writes to stderr reaches the daemon's log, each line with the
    // plugin's name, in the text and in the JSON log format.
    let config = document(
        &[python_plugin(
            "noisy",
            &test_plugin("noisy.py"),
            &["v1"],
            &[],
        )],
        FAST,
        &[plugin_host("chatty", "noisy", "{}", "")],
    );
    let (_sandbox, mut daemon) = start(&config);
    let line = daemon.wait_for_log("the plugin's start line is logged", |l| {
        l.contains("marker=noisy-stderr-7f3a")
    });
    assert!(names_plugin(&line, "noisy"), "{line}\n{daemon}");
    let line = daemon.wait_for_log("a line per check is logged", |l| {
        l.contains("checking chatty for request")
    });
    assert!(names_plugin(&line, "noisy"), "{line}\n{daemon}");
    daemon.stop("TERM");

    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, &config);
    let mut daemon = sandbox
        .daemon(CONFIG)
        .args(&["--log-format", "json"])
        .start();
    let line = daemon.wait_for_log("the plugin's start line is logged as JSON", |l| {
        l.contains("marker=noisy-stderr-7f3a")
    });
    let object: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}\n{daemon}"));
    assert_eq!(object["plugin"], "noisy", "{line}");
    assert!(
        object["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("marker=noisy-stderr-7f3a"),
        "{line}"
    );
}

#[test]
fn check_validates_settings_against_the_plugins_schema() {
    // Proves `flowstate check` asks the plugin for its schema and reports every host whose
    // settings break it, with the file and the place, as other config errors are; and passes
    // a config whose settings are all valid.
    let sandbox = Sandbox::new();
    let plugin = python_plugin("tcpcheck", &tcp_check_example(), &[], &[]);
    let good = plugin_host("cache", "tcpcheck", "{ address: '127.0.0.1:6379' }", "");
    sandbox.write(
        "good.yaml",
        &format!("{}hosts:\n{good}", plugins(std::slice::from_ref(&plugin))),
    );
    let outcome = sandbox.run(&["check", "-c", "good.yaml"]);
    outcome.expect_code(0);
    assert!(outcome.stdout.contains("cache"), "{outcome}");
    assert!(outcome.stdout.contains("tcpcheck"), "{outcome}");

    let hosts = [
        good,
        plugin_host("nocolon", "tcpcheck", "{ address: 'localhost' }", ""),
        plugin_host(
            "typo",
            "tcpcheck",
            "{ address: '127.0.0.1:6379', sned: 'PING' }",
            "",
        ),
        plugin_host("empty", "tcpcheck", "{ send: 'PING' }", ""),
        plugin_host("number", "tcpcheck", "{ address: 6379 }", ""),
    ];
    sandbox.write(
        "bad.yaml",
        &format!("{}hosts:\n{}", plugins(&[plugin]), hosts.concat()),
    );
    let outcome = sandbox.run(&["check", "-c", "bad.yaml"]);
    // SPEC §1: an invalid config is bad input, exit code 2 (as every other config error).
    outcome.expect_code(2);
    let lines = outcome.stderr_lines();
    let error_for = |host: &str, key: &str| {
        lines
            .iter()
            .find(|l| {
                l.starts_with("bad.yaml:")
                    && l.contains(host)
                    && (key.is_empty() || l.contains(key))
            })
            .copied()
    };
    let address = error_for("hosts[1]", ".settings.address");
    assert!(
        address.is_some(),
        "hosts[1].settings.address is named: {outcome}"
    );
    assert!(
        error_for("hosts[2]", ".settings.sned").is_some(),
        "the unknown key of hosts[2] is named: {outcome}"
    );
    assert!(
        error_for("hosts[3]", ".settings.address").is_some(),
        "the missing `address` of hosts[3] is named: {outcome}"
    );
    assert!(
        error_for("hosts[4]", ".settings.address").is_some(),
        "a number where a string belongs, hosts[4].settings.address: {outcome}"
    );
    assert!(
        error_for("hosts[0]", "").is_none(),
        "valid settings are not reported: {outcome}"
    );
}

#[test]
fn plugin_that_cannot_start_makes_only_its_hosts_down() {
    // Proves a plugin whose command does not exist is no daemon crash: its hosts are down with
    // a detail naming the plugin, and every other host is checked and up.
    let address = listening();
    let config = document(
        &[
            plugin_entry(
                "ghost",
                &[quoted("/nonexistent/flowstate-ghost-plugin")],
                &[],
            ),
            python_plugin("tcpcheck", &tcp_check_example(), &[], &[]),
        ],
        FAST,
        &[
            plugin_host("haunted", "ghost", "{}", ""),
            tcp_host("solid", &address),
            plugin_host(
                "other",
                "tcpcheck",
                &format!("{{ address: '{address}' }}"),
                "",
            ),
        ],
    );
    let (_sandbox, mut daemon) = start(&config);

    let haunted = daemon.wait_for_status("haunted", "down");
    assert!(
        detail(&haunted).contains("ghost"),
        "the detail names the plugin: {haunted:#}"
    );
    for label in ["solid", "other"] {
        daemon.wait_for_status(label, "up");
    }
    let solid = let_checks_pass(&mut daemon, "solid", 3);
    assert_eq!(solid["status"], "up", "{solid:#}");
    let haunted = daemon.host("haunted");
    assert_eq!(haunted["status"], "down", "{haunted:#}");
    assert!(detail(&haunted).contains("ghost"), "{haunted:#}");
}

// --- Notifier plugins ----------------------------------------------------------------------

/// The records `record.py` appended to `path` so far (complete lines).
fn records(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    crate::common::daemon::complete_lines(&text)
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// Waits until a record in `path` satisfies `matches`; returns all records then.
#[track_caller]
fn wait_for_record(
    path: &std::path::Path,
    daemon: &Daemon,
    what: &str,
    matches: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    wait_for(DEADLINE, what, || {
        let records = records(path);
        matches(&records).then_some(records)
    })
    .unwrap_or_else(|e| panic!("{e}: {:#?}\n{daemon}", records(path)))
}

#[test]
fn notifier_plugin_receives_the_events_and_is_retried_when_it_asks() {
    // Proves a notifier plugin is sent each alert event (SPEC §3 shape) with its notifier's
    // settings; one that answers `retry: true` gets the same event again.
    let (status, target) = switchable(200);
    let sandbox = Sandbox::new();
    let pager = sandbox.path().join("pager.jsonl");
    let patient = sandbox.path().join("patient.jsonl");
    let notifiers = format!(
        "  pager: {{ type: record, settings: {{ path: {} }} }}\n  \
         patient: {{ type: record, settings: {{ path: {}, fail_first: 1 }} }}\n",
        quoted(&pager.display().to_string()),
        quoted(&patient.display().to_string()),
    );
    let config = format!(
        "{}{}",
        plugins(&[python_plugin("record", &test_plugin("record.py"), &[], &[])]),
        document_with_notifiers(
            "",
            &format!("{FAST}, alerts: [pager, patient]"),
            &notifiers,
            &[item("api", &format!("url: '{}'", target.url("/health")))],
        )
    );
    sandbox.write(CONFIG, &config);
    let mut daemon = sandbox.daemon(CONFIG).start();
    daemon.wait_for_status("api", "up");

    status.store(503, SeqCst);
    let recorded = wait_for_record(&pager, &daemon, "pager got the down event", |r| {
        r.iter().any(|r| r["event"]["event"] == "down")
    });
    let down = recorded
        .iter()
        .find(|r| r["event"]["event"] == "down")
        .unwrap();
    assert_event(&down["event"], "down", "api", "up");
    assert_eq!(down["group"], Value::Null, "{down}");
    assert_eq!(
        down["settings"],
        json!({"path": pager.display().to_string()}),
        "the notifier's own settings come with the event: {down}"
    );
    assert_eq!(
        (&down["attempt"], &down["answer"]),
        (&json!(1), &json!("ok")),
        "{down}"
    );

    // `patient` asked for a retry once: the same event came again, and was taken.
    let attempts = wait_for_record(&patient, &daemon, "patient took the down event", |r| {
        r.iter()
            .any(|r| r["event"]["event"] == "down" && r["answer"] == "ok")
    });
    let downs: Vec<&Value> = attempts
        .iter()
        .filter(|r| r["event"]["event"] == "down")
        .collect();
    assert!(downs.len() >= 2, "{attempts:#?}");
    assert_eq!(
        (&downs[0]["answer"], &downs[1]["answer"]),
        (&json!("retry"), &json!("ok")),
        "{attempts:#?}"
    );
    assert_eq!(
        downs[0]["event"]["id"], downs[1]["event"]["id"],
        "a retry is the same event: {attempts:#?}"
    );
    assert_eq!(downs.len(), 2, "taken once, not sent again: {attempts:#?}");

    status.store(200, SeqCst);
    let recorded = wait_for_record(&pager, &daemon, "pager got the recovery", |r| {
        r.iter().any(|r| r["event"]["event"] == "up")
    });
    let up = recorded
        .iter()
        .find(|r| r["event"]["event"] == "up")
        .unwrap();
    assert_event(&up["event"], "up", "api", "down");

    let notifies = wait_for_plugin_counter(
        &mut daemon,
        "flowstate_plugin_requests_total",
        &[("plugin", "record"), ("op", "notify")],
        |n| n >= 4.0,
    );
    assert!(notifies >= 4.0);
}

#[test]
fn notifier_plugin_with_group_by_is_sent_the_group() {
    // Proves a notifier plugin with `group_by` gets one request holding the group (`"group":
    // {"group": ..., "events": [...]}`) instead of one per event.
    let (status, target) = switchable(200);
    let sandbox = Sandbox::new();
    let grouped = sandbox.path().join("grouped.jsonl");
    let notifiers = format!(
        "  pager: {{ type: record, group_by: [group], group_wait: 1s, settings: {{ path: {} }} }}\n",
        quoted(&grouped.display().to_string()),
    );
    let hosts: Vec<String> = ["pay-1", "pay-2", "pay-3"]
        .iter()
        .map(|label| {
            item(
                label,
                &format!(
                    "url: '{}'\ngroup: payments",
                    target.url(&format!("/{label}"))
                ),
            )
        })
        .collect();
    let config = format!(
        "{}{}",
        plugins(&[python_plugin("record", &test_plugin("record.py"), &[], &[])]),
        document_with_notifiers("", &format!("{FAST}, alerts: [pager]"), &notifiers, &hosts)
    );
    sandbox.write(CONFIG, &config);
    let mut daemon = sandbox.daemon(CONFIG).start();
    for label in ["pay-1", "pay-2", "pay-3"] {
        daemon.wait_for_status(label, "up");
    }

    status.store(503, SeqCst);
    let recorded = wait_for_record(&grouped, &daemon, "a group of three down events", |r| {
        r.iter()
            .map(|r| r["group"]["events"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
            >= 3
    });
    assert_eq!(
        recorded.len(),
        1,
        "one request for the group: {recorded:#?}"
    );
    let request = &recorded[0];
    assert_eq!(request["event"], Value::Null, "{request}");
    assert_eq!(request["group"]["group"], "payments", "{request}");
    let mut hosts: Vec<&str> = request["group"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            // An event of a host in a group also names the group: not a bare SPEC §3 one.
            assert_eq!(
                (&e["event"], &e["status"], &e["previous"], &e["group"]),
                (
                    &json!("down"),
                    &json!("down"),
                    &json!("up"),
                    &json!("payments")
                ),
                "{request}"
            );
            assert!(
                e["id"].as_str().is_some_and(|id| id.len() == 26),
                "{request}"
            );
            e["host"].as_str().unwrap_or_default()
        })
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["pay-1", "pay-2", "pay-3"], "{request}");
}

// --- Reload --------------------------------------------------------------------------------

#[test]
fn editing_a_plugins_command_restarts_it() {
    // Proves an edit of the config file that changes a plugin's command stops the running
    // process and starts the new command; its hosts go on being checked by the new one.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pids = dir.path().join("noisy.pids");
    let _cleanup = KillListed(vec![pids.clone()]);
    let version = |tag: &str| {
        document(
            &[noisy_plugin(tag, &pids)],
            FAST,
            &[plugin_host("chatty", "noisy", "{}", "")],
        )
    };
    let (sandbox, mut daemon) = start(&version("v1"));
    let chatty = daemon.wait_for_host("chatty", "is checked by v1", |h| {
        detail(h) == "noisy v1 says up"
    });
    assert_eq!(chatty["status"], "up", "{chatty:#}");
    let v1 = wait_for_pids(&pids, 1, &daemon)[0];

    sandbox.write(CONFIG, &version("v2"));
    let chatty = daemon.wait_for_host("chatty", "is checked by v2", |h| {
        detail(h) == "noisy v2 says up"
    });
    assert_eq!(chatty["status"], "up", "{chatty:#}");
    daemon.wait_for_log("v2 logs its start", |l| {
        l.contains("started tag=v2") && names_plugin(l, "noisy")
    });
    wait_until(DEADLINE, "the v1 process is gone", || !alive(v1))
        .unwrap_or_else(|e| panic!("{e}: {:?}\n{daemon}", pids_in(&pids)));
    let lives = pids_in(&pids);
    assert_eq!(
        lives.len(),
        2,
        "one process per command: {lives:?}\n{daemon}"
    );
}

#[test]
fn an_edit_elsewhere_leaves_a_plugin_running() {
    // Proves a reload that does not touch a plugin's entry keeps its process (requests in
    // flight are not cut): a host added to the config is checked by the same process.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pids = dir.path().join("noisy.pids");
    let _cleanup = KillListed(vec![pids.clone()]);
    let plugin = noisy_plugin("v1", &pids);
    let one = [plugin_host("chatty", "noisy", "{}", "")];
    let two = [one[0].clone(), plugin_host("quiet", "noisy", "{}", "")];
    let (sandbox, mut daemon) = start(&document(std::slice::from_ref(&plugin), FAST, &one));
    daemon.wait_for_status("chatty", "up");
    let before = wait_for_pids(&pids, 1, &daemon);

    sandbox.write(CONFIG, &document(std::slice::from_ref(&plugin), FAST, &two));
    daemon.wait_for_checks("quiet", 2);
    let_checks_pass(&mut daemon, "chatty", 2);
    assert_eq!(
        pids_in(&pids),
        before,
        "the plugin was not restarted by an edit elsewhere\n{daemon}"
    );
    assert!(alive(before[0]), "{daemon}");
}

#[test]
fn a_pool_of_processes_shares_the_checks() {
    // Proves `processes: 3` starts three copies of the program (a pool for a plugin that
    // handles one request at a time), that checks go to each of them in turn, and that every
    // host is checked.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pids = dir.path().join("noisy.pids");
    let _cleanup = KillListed(vec![pids.clone()]);
    let plugin = noisy_plugin("pool", &pids).replace(" }\n", ", processes: 3 }\n");
    assert!(plugin.contains("processes: 3"), "{plugin}");
    let hosts: Vec<String> = (0..4)
        .map(|i| plugin_host(&format!("pooled-{i}"), "noisy", "{}", ""))
        .collect();
    let (_sandbox, mut daemon) = start(&document(std::slice::from_ref(&plugin), FAST, &hosts));
    for i in 0..4 {
        daemon.wait_for_status(&format!("pooled-{i}"), "up");
    }
    let started = wait_for_pids(&pids, 3, &daemon);
    let mut distinct = started.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "three processes, not restarts: {started:?}\n{daemon}"
    );
    // Each copy answers checks: its stderr lines (`noisy[<pid>]: checking ...`) say which.
    for pid in &distinct {
        let marker = format!("noisy[{pid}]: checking pooled-");
        daemon.wait_for_log(&format!("a check answered by process {pid}"), |line| {
            line.contains(&marker)
        });
    }
}
