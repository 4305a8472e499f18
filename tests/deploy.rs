//! Deployment files: the Dockerfile and the image's default config, the systemd unit and the
//! daemon's sd_notify messages, the Kubernetes manifests, install.sh, the Homebrew formula, the
//! changelog's release notes and docs/deployment.md.
//!
//! No Docker engine, systemd or cluster runs here, so each file is checked for what it
//! promises (every COPY source exists and is in the build context, the unit is hardened and
//! passes `systemd-analyze verify`, the manifests agree with the image), and what it would
//! start is started for real with the test binary: the image's config answers `/healthz` and
//! `flowstate health` agrees; the unit's ExecStart line, given a notify socket, sends READY,
//! WATCHDOG, RELOADING and STOPPING.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_yaml::Value;

use crate::common::daemon::http_get;
use crate::common::repo::{read, root};
use crate::common::{closed_port, Response, Sandbox, TestServer, DEADLINE};

#[track_caller]
/// The strings of a YAML list (none when it is not a list).
fn strings(list: &Value) -> Vec<&str> {
    list.as_sequence()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn yaml(text: &str, what: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{what} is not YAML: {e}"))
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether a program is on PATH.
fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

// --- Dockerfile --------------------------------------------------------------------------

/// One Dockerfile instruction: continuation lines joined, comments dropped.
#[derive(Debug)]
struct Instruction {
    /// 0 for the first `FROM`'s stage, 1 for the next, ...
    stage: usize,
    keyword: String,
    args: String,
}

impl Instruction {
    /// The arguments in JSON (exec) form, e.g. `["flowstate", "health"]`, or split on spaces.
    fn words(&self) -> Vec<String> {
        let text = self.args.trim();
        if text.starts_with('[') {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{} {text}: not a JSON array: {e}", self.keyword))
        } else {
            text.split_whitespace().map(str::to_string).collect()
        }
    }
}

fn dockerfile() -> Vec<Instruction> {
    let text = read("Dockerfile");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stage = 0;
    let mut seen_from = false;
    joined
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (keyword, args) = line.split_once(' ').unwrap_or((&line, ""));
            let keyword = keyword.to_ascii_uppercase();
            if keyword == "FROM" {
                if seen_from {
                    stage += 1;
                }
                seen_from = true;
            }
            Instruction {
                stage,
                keyword,
                args: args.trim().to_string(),
            }
        })
        .collect()
}

/// The sources and destination of every COPY from the build context (not `--from=` a stage).
fn context_copies(instructions: &[Instruction]) -> Vec<(Vec<String>, String)> {
    instructions
        .iter()
        .filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
        .filter(|i| !i.args.contains("--from="))
        .map(|i| {
            let mut words: Vec<String> = i
                .words()
                .into_iter()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let destination = words.pop().expect("COPY has a destination");
            (words, destination)
        })
        .collect()
}

/// Whether `path` (relative, `/`-separated) or a directory above it matches a .dockerignore
/// pattern: `*` within one name, `**` across any number of names, anchored at the root.
fn docker_ignored(path: &str, patterns: &[String]) -> bool {
    fn matches(pattern: &[&str], path: &[&str]) -> bool {
        match (pattern.first(), path.first()) {
            (None, _) => path.is_empty(),
            (Some(&"**"), _) => (0..=path.len()).any(|skip| matches(&pattern[1..], &path[skip..])),
            (Some(p), Some(name)) => glob_name(p, name) && matches(&pattern[1..], &path[1..]),
            (Some(_), None) => false,
        }
    }
    fn glob_name(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, tail)) => {
                name.starts_with(head)
                    && (head.len()..=name.len())
                        .any(|at| name.is_char_boundary(at) && glob_name(tail, &name[at..]))
            }
        }
    }
    let names: Vec<&str> = path.trim_matches('/').split('/').collect();
    patterns.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
        (1..=names.len()).any(|depth| matches(&pattern, &names[..depth]))
    })
}

#[test]
fn docker_ignored_matches_like_docker() {
    let patterns: Vec<String> = ["target", "**/*.rs.bk", "*.md", "deploy/kubernetes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(docker_ignored("target/release/flowstate", &patterns));
    assert!(docker_ignored("README.md", &patterns));
    assert!(docker_ignored("src/a/b.rs.bk", &patterns));
    assert!(docker_ignored("deploy/kubernetes/pvc.yaml", &patterns));
    assert!(!docker_ignored("docs/README.md", &patterns));
    assert!(!docker_ignored("deploy/docker/flowstate.yaml", &patterns));
    assert!(!docker_ignored("src/main.rs", &patterns));
}

#[test]
fn dockerfile_copies_only_existing_files_of_the_build_context() {
    let instructions = dockerfile();
    let patterns: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert!(
        patterns.iter().all(|p| !p.starts_with('!')),
        "exceptions (!) are not understood by this test: {patterns:?}"
    );
    let copies = context_copies(&instructions);
    assert!(!copies.is_empty(), "no COPY in the Dockerfile");
    let mut sources = Vec::new();
    for (from, _) in &copies {
        for source in from {
            assert!(
                !source.contains('*') && !source.contains('?'),
                "COPY {source}: keep sources plain, no globs"
            );
            assert!(
                root().join(source).exists(),
                "COPY {source}: no such file or directory in the repository"
            );
            assert!(
                !docker_ignored(source, &patterns),
                "COPY {source}: excluded from the build context by .dockerignore"
            );
            sources.push(source.trim_end_matches('/').to_string());
        }
    }
    // The dependency layer needs every manifest of the workspace and the lock file.
    let manifest = read("Cargo.toml");
    let members = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("members = "))
        .expect("Cargo.toml lists the workspace members");
    let members: Vec<String> = serde_json::from_str(members).expect("members is a list");
    for needed in ["Cargo.toml".to_string(), "Cargo.lock".to_string()]
        .into_iter()
        .chain(members.iter().map(|m| format!("{m}/Cargo.toml")))
        .chain(members.iter().map(|m| format!("{m}/src")))
        .chain(["src".to_string()])
    {
        assert!(
            sources.contains(&needed),
            "the Dockerfile does not copy {needed} (copies {sources:?})"
        );
    }
}

/// A bind mount of the single file never sees an edit saved by rename: every `docker run`
/// shown mounts the directory that holds the configuration.
#[test]
fn every_docker_run_shown_mounts_the_config_directory_not_the_file() {
    let mut shown = 0;
    for file in [
        "Dockerfile",
        "deploy/docker/flowstate.yaml",
        "docs/deployment.md",
        "README.md",
    ] {
        for line in read(file).lines() {
            for mount in line.split("-v ").skip(1) {
                let source_and_target = mount.trim_start_matches('"');
                if source_and_target.contains(":/etc/flowstate") {
                    shown += 1;
                    assert!(
                        !source_and_target.contains("flowstate.yaml:/etc/flowstate/flowstate.yaml"),
                        "{file} shows a single-file bind mount: {line}"
                    );
                    assert!(
                        source_and_target.contains(":/etc/flowstate:ro"),
                        "{file} mounts something else over the config: {line}"
                    );
                }
            }
        }
    }
    assert!(
        shown >= 3,
        "the Dockerfile, its config and the docs each show a mount"
    );
}

#[test]
fn dockerfile_builds_locked_and_runs_unprivileged_with_its_own_healthcheck() {
    let instructions = dockerfile();
    let last = instructions.iter().map(|i| i.stage).max().unwrap_or(0);
    assert!(last >= 1, "a multi-stage build: builder, then runtime");
    let runtime = |keyword: &str| -> Vec<&Instruction> {
        instructions
            .iter()
            .filter(|i| i.stage == last && i.keyword == keyword)
            .collect()
    };
    let one = |keyword: &str| -> &Instruction {
        let found = runtime(keyword);
        assert_eq!(
            found.len(),
            1,
            "one {keyword} in the runtime stage: {found:?}"
        );
        found[0]
    };

    assert!(
        instructions.iter().any(|i| i.stage < last
            && i.keyword == "RUN"
            && i.args.contains("cargo build --release --locked")),
        "the builder runs `cargo build --release --locked`"
    );
    let user = one("USER").args.clone();
    let uid = user.split(':').next().unwrap_or("");
    assert!(
        !uid.is_empty() && uid.chars().all(|c| c.is_ascii_digit()) && uid != "0",
        "USER {user}: a numeric non-root user, so runAsNonRoot can verify it"
    );
    assert!(one("EXPOSE").words().contains(&"9900".to_string()));
    assert_eq!(one("STOPSIGNAL").args, "SIGTERM");
    assert!(one("VOLUME")
        .words()
        .contains(&"/var/lib/flowstate".to_string()));
    let healthcheck = one("HEALTHCHECK").args.clone();
    let (_, command) = healthcheck
        .split_once("CMD ")
        .expect("HEALTHCHECK ... CMD [...]");
    let command: Vec<String> = serde_json::from_str(command.trim()).expect("CMD in exec form");
    assert_eq!(
        &command[..2],
        ["flowstate", "health"],
        "the binary checks itself"
    );

    // The command line reads the shipped config where the image puts it.
    let mut argv = one("ENTRYPOINT").words();
    argv.extend(one("CMD").words());
    let argv = argv.join(" ");
    assert!(
        argv.ends_with("flowstate run -c /etc/flowstate/flowstate.yaml"),
        "ENTRYPOINT + CMD: {argv}"
    );
    let copies = context_copies(&instructions);
    assert!(
        copies
            .iter()
            .any(|(from, to)| from == &["deploy/docker/flowstate.yaml"]
                && to == "/etc/flowstate/flowstate.yaml"),
        "the default config is copied to /etc/flowstate/flowstate.yaml: {copies:?}"
    );

    let config = yaml(&read("deploy/docker/flowstate.yaml"), "the image's config");
    assert_eq!(
        config["server"]["listen"].as_str(),
        Some("0.0.0.0:9900"),
        "a published port needs every interface"
    );
    let state = config["state"]["path"].as_str().unwrap_or("");
    assert!(
        state.starts_with("/var/lib/flowstate/"),
        "state.path {state:?} on the volume"
    );
}

/// The image's config with its port, interval and state path moved into the test's sandbox.
fn docker_config_for_test(sandbox: &Sandbox, port: u16) -> PathBuf {
    let shipped = read("deploy/docker/flowstate.yaml");
    let state = sandbox.path().join("state.db");
    let mut adapted = shipped.clone();
    for (from, to) in [
        ("0.0.0.0:9900", format!("127.0.0.1:{port}")),
        ("127.0.0.1:9900", format!("127.0.0.1:{port}")),
        ("/var/lib/flowstate/state.db", state.display().to_string()),
        ("interval: 30s", "interval: 1s".to_string()),
        ("timeout: 5s", "timeout: 1s".to_string()),
    ] {
        assert!(
            shipped.contains(from),
            "the image's config no longer has {from:?}"
        );
        adapted = adapted.replace(from, &to);
    }
    sandbox.write("flowstate.yaml", &adapted)
}

#[test]
fn image_config_answers_healthz_and_flowstate_health_agrees() {
    let sandbox = Sandbox::new();
    let port = crate::common::server::free_port();
    let config = docker_config_for_test(&sandbox, port);
    let api = format!("http://127.0.0.1:{port}");
    let mut daemon = sandbox
        .daemon(&config.display().to_string())
        .env("FLOWSTATE_CONFIG", config.display().to_string())
        .start();
    assert_eq!(daemon.api().port(), port);
    let healthz = daemon.get("/healthz");
    assert_eq!(healthz.status, 200, "{healthz}");
    // The config's own host checks /healthz over HTTP, as in the image.
    daemon.wait_for_status("flowstate-self", "up");

    let health = sandbox.run(&["health", "--api", &api]);
    health.expect_code(0);
    assert_eq!(
        health.stdout.trim(),
        format!("healthy: {api}/healthz answered 200 ok"),
        "{health}"
    );
    let ready = sandbox.run(&["health", "--ready", "--api", &api]);
    ready.expect_code(0);
    assert!(
        ready.stdout.contains("/readyz answered 200 ready"),
        "{ready}"
    );

    // The Dockerfile's HEALTHCHECK command as it is, with $FLOWSTATE_API for the port.
    let instructions = dockerfile();
    let healthcheck = instructions
        .iter()
        .rfind(|i| i.keyword == "HEALTHCHECK")
        .expect("a HEALTHCHECK");
    let command: Vec<String> = serde_json::from_str(
        healthcheck
            .args
            .split_once("CMD ")
            .map(|(_, c)| c.trim())
            .unwrap_or(""),
    )
    .expect("CMD in exec form");
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    let probe = sandbox
        .flowstate()
        .args(&args)
        .env("FLOWSTATE_API", api.clone())
        .output();
    probe.expect_code(0);

    let exit = daemon.stop("TERM");
    assert_eq!(exit.code, Some(0), "{daemon}");
    assert!(
        sandbox.path().join("state.db").exists(),
        "state.path was written"
    );
}

#[test]
fn flowstate_health_fails_with_one_line_when_not_healthy() {
    let sandbox = Sandbox::new();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let refused = sandbox.run(&["health", "--api", &closed]);
    refused.expect_code(1);
    assert!(
        refused
            .stderr
            .starts_with(&format!("unhealthy: cannot reach {closed}/healthz")),
        "{refused}"
    );
    assert_eq!(refused.stderr.trim_end().lines().count(), 1, "{refused}");

    let starting = TestServer::always(Response::status(503).body("not ready: starting\n"));
    let not_ready = sandbox.run(&["health", "--ready", "--api", &starting.url("")]);
    not_ready.expect_code(1);
    assert_eq!(
        not_ready.stderr.trim_end(),
        format!(
            "unhealthy: {}/readyz answered 503: not ready: starting",
            starting.url("")
        ),
        "{not_ready}"
    );
    assert_eq!(starting.single_request().path(), "/readyz");

    let slow = TestServer::always(Response::ok("ok\n").delay_headers(Duration::from_secs(2)));
    let started = Instant::now();
    let timed_out = sandbox.run(&["health", "--timeout", "200ms", "--api", &slow.url("")]);
    timed_out.expect_code(1);
    assert!(timed_out.stderr.starts_with("unhealthy: "), "{timed_out}");
    assert!(started.elapsed() < Duration::from_secs(2), "{timed_out}");

    sandbox
        .run(&["health", "--api", "127.0.0.1:9900"])
        .expect_code(2);
}

// --- systemd -----------------------------------------------------------------------------

/// `Key=value` lines of the unit, in order (comments and sections dropped).
fn unit_settings() -> Vec<(String, String)> {
    read("deploy/systemd/flowstate.service")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn unit_value(key: &str) -> Option<String> {
    unit_settings()
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .next_back()
}

#[test]
fn systemd_unit_is_hardened_and_verifies() {
    for (key, value) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "flowstate"),
        ("ConfigurationDirectory", "flowstate"),
        ("SystemCallFilter", "@system-service"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
    ] {
        assert_eq!(
            unit_value(key).as_deref(),
            Some(value),
            "{key}= in deploy/systemd/flowstate.service"
        );
    }
    let watchdog = unit_value("WatchdogSec").expect("WatchdogSec=");
    let watchdog: Duration = watchdog
        .parse::<u64>()
        .map(Duration::from_secs)
        .or_else(|_| humantime_like(&watchdog))
        .expect("WatchdogSec is a duration");
    assert!(
        watchdog >= Duration::from_secs(10),
        "WatchdogSec={watchdog:?}"
    );
    let exec = unit_value("ExecStart").expect("ExecStart=");
    assert!(
        exec.starts_with("/usr/local/bin/flowstate run -c /etc/flowstate/flowstate.yaml"),
        "ExecStart={exec}: the config under ConfigurationDirectory"
    );

    if !have("systemd-analyze") {
        eprintln!("systemd-analyze is not installed: skipping `systemd-analyze verify` (.ci/run installs it)");
        return;
    }
    // verify refuses an ExecStart program that does not exist: point it at the test binary.
    let sandbox = Sandbox::new();
    let unit = read("deploy/systemd/flowstate.service")
        .replace("/usr/local/bin/flowstate", env!("CARGO_BIN_EXE_flowstate"));
    let path = sandbox.write("flowstate.service", &unit);
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "systemd-analyze verify: {}",
        show(&verified)
    );
}

/// `30s`, `1min`, `500ms`: the unit's duration forms this test accepts.
fn humantime_like(text: &str) -> Result<Duration, String> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let number: u64 = digits.parse().map_err(|_| text.to_string())?;
    match &text[digits.len()..] {
        "s" | "sec" => Ok(Duration::from_secs(number)),
        "min" | "m" => Ok(Duration::from_secs(number * 60)),
        "ms" | "msec" => Ok(Duration::from_millis(number)),
        _ => Err(text.to_string()),
    }
}

/// A notify socket as systemd binds one: every datagram received, with a deadline per wait.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    received: Vec<(Instant, String)>,
}

impl NotifySocket {
    fn bind(sandbox: &Sandbox) -> Self {
        let path = sandbox.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set a read timeout");
        NotifySocket {
            socket,
            path,
            received: Vec::new(),
        }
    }

    fn receive(&mut self) {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
            self.received.push((Instant::now(), text));
        }
    }

    /// Waits for the first datagram after `from` with a line `line`; returns its index.
    #[track_caller]
    fn wait_for(&mut self, from: usize, line: &str) -> usize {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.receive();
            if let Some(found) = self.received[from.min(self.received.len())..]
                .iter()
                .position(|(_, text)| text.lines().any(|l| l == line))
            {
                return from + found;
            }
            assert!(
                Instant::now() < deadline,
                "no {line} on the notify socket within {DEADLINE:?}; received {:?}",
                self.texts()
            );
        }
    }

    /// Collects for `period`.
    fn listen_for(&mut self, period: Duration) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            self.receive();
        }
    }

    fn texts(&self) -> Vec<&str> {
        self.received.iter().map(|(_, t)| t.as_str()).collect()
    }

    fn count(&self, from: usize, line: &str) -> usize {
        self.received[from..]
            .iter()
            .filter(|(_, t)| t.lines().any(|l| l == line))
            .count()
    }
}

/// The unit's ExecStart arguments after `-c FILE`, so the test runs the same command line.
fn unit_extra_args() -> Vec<String> {
    let exec = unit_value("ExecStart").expect("ExecStart=");
    let words: Vec<String> = exec.split_whitespace().map(str::to_string).collect();
    assert_eq!(
        words[1..4],
        ["run", "-c", "/etc/flowstate/flowstate.yaml"],
        "ExecStart={exec}"
    );
    words[4..].to_vec()
}

const NOTIFY_CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
defaults:
  interval: 200ms
  timeout: 100ms
hosts:
  - label: nothing-there
    type: tcp
    address: 127.0.0.1:9
";

#[test]
fn unit_command_line_notifies_ready_watchdog_reload_and_stop() {
    let sandbox = Sandbox::new();
    let config = sandbox.write("flowstate.yaml", NOTIFY_CONFIG);
    let mut notify = NotifySocket::bind(&sandbox);
    let extra = unit_extra_args();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut daemon = sandbox
        .daemon(&config.display().to_string())
        .args(&extra)
        .env("NOTIFY_SOCKET", notify.path.display().to_string())
        .env("WATCHDOG_USEC", "500000")
        .spawn();

    let ready = notify.wait_for(0, "READY=1");
    // READY=1 comes once the API listens and the configuration is applied.
    let api = daemon.api();
    let healthz = http_get(api, "/healthz").expect("the API answers after READY=1");
    assert_eq!(healthz.status, 200, "{healthz}");
    assert!(
        notify.received[ready]
            .1
            .contains("STATUS=monitoring 1 host\n"),
        "{:?}",
        notify.texts()
    );
    assert_eq!(
        notify.count(0, "WATCHDOG=1"),
        notify.count(ready, "WATCHDOG=1"),
        "no watchdog ping before READY=1: {:?}",
        notify.texts()
    );

    // WATCHDOG_USEC=500000: a ping every 250 ms while ready.
    let first = notify.wait_for(ready, "WATCHDOG=1");
    let second = notify.wait_for(first + 1, "WATCHDOG=1");
    let third = notify.wait_for(second + 1, "WATCHDOG=1");
    let spread = notify.received[third].0 - notify.received[first].0;
    assert!(
        spread >= Duration::from_millis(400),
        "three pings {spread:?} apart: not every half WATCHDOG_USEC"
    );

    // systemctl reload: ExecReload sends SIGHUP.
    daemon.signal("HUP");
    let reloading = notify.wait_for(third + 1, "RELOADING=1");
    assert!(
        notify.received[reloading]
            .1
            .lines()
            .any(|l| l.starts_with("MONOTONIC_USEC=")),
        "RELOADING=1 carries MONOTONIC_USEC: {:?}",
        notify.received[reloading].1
    );
    let reloaded = notify.wait_for(reloading + 1, "READY=1");
    assert!(
        notify.received[reloaded].1.contains("STATUS=reloaded: "),
        "{:?}",
        notify.received[reloaded].1
    );

    daemon.signal("TERM");
    notify.wait_for(reloaded + 1, "STOPPING=1");
    let exit = daemon.wait_exit(DEADLINE);
    assert_eq!(exit.code, Some(0), "{daemon}");
}

#[test]
fn watchdog_stays_off_when_watchdog_pid_is_another_process() {
    let sandbox = Sandbox::new();
    let config = sandbox.write("flowstate.yaml", NOTIFY_CONFIG);
    let mut notify = NotifySocket::bind(&sandbox);
    let mut daemon = sandbox
        .daemon(&config.display().to_string())
        .env("NOTIFY_SOCKET", notify.path.display().to_string())
        .env("WATCHDOG_USEC", "200000")
        .env("WATCHDOG_PID", "1")
        .spawn();
    let ready = notify.wait_for(0, "READY=1");
    // Five periods: pings would have come by now.
    notify.listen_for(Duration::from_secs(1));
    assert_eq!(notify.count(ready, "WATCHDOG=1"), 0, "{:?}", notify.texts());
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

// --- Kubernetes --------------------------------------------------------------------------

fn manifest(name: &str) -> Value {
    yaml(&read(format!("deploy/kubernetes/{name}")), name)
}

#[test]
fn kubernetes_config_map_holds_a_valid_config_serving_on_9900_with_state_on_the_volume() {
    let sandbox = Sandbox::new();
    let config_map = manifest("configmap.yaml");
    assert_eq!(config_map["kind"], "ConfigMap");
    let config = config_map["data"]["flowstate.yaml"]
        .as_str()
        .expect("the ConfigMap holds flowstate.yaml");
    let path = sandbox.write("flowstate.yaml", config);
    sandbox
        .run(&["check", "-c", &path.display().to_string()])
        .expect_code(0);
    let parsed = yaml(config, "the ConfigMap's flowstate.yaml");
    assert_eq!(parsed["server"]["listen"].as_str(), Some("0.0.0.0:9900"));
    let state = parsed["state"]["path"].as_str().unwrap_or("");
    assert!(state.starts_with("/var/lib/flowstate/"), "{state}");
}

#[test]
fn kubernetes_deployment_runs_one_locked_down_pod_with_probes_and_a_watchable_config_mount() {
    let config_map = manifest("configmap.yaml");
    let deployment = manifest("deployment.yaml");
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(
        deployment["spec"]["replicas"].as_u64(),
        Some(1),
        "one pod: no doubled alerts"
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let containers = pod["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    let args = strings(&container["args"]);
    assert_eq!(args, ["run", "-c", "/etc/flowstate/flowstate.yaml"]);
    let port = container["ports"][0]["containerPort"].as_u64();
    assert_eq!(port, Some(9900));
    let port_name = container["ports"][0]["name"].clone();
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(
            container[probe]["httpGet"]["path"].as_str(),
            Some(path),
            "{probe}"
        );
        assert_eq!(container[probe]["httpGet"]["port"], port_name, "{probe}");
    }
    let requests = &container["resources"]["requests"];
    assert!(requests["cpu"].is_string() && requests["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());

    // The ConfigMap is a directory mount (a subPath mount never sees updates).
    let mounts = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts");
    let mount = |path: &str| -> &Value {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("no volume mounted at {path}"))
    };
    let config_mount = mount("/etc/flowstate");
    assert!(
        config_mount.get("subPath").is_none(),
        "no subPath for the config"
    );
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let volume = |name: &Value| -> &Value {
        volumes
            .iter()
            .find(|v| &v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name:?}"))
    };
    assert_eq!(
        volume(&config_mount["name"])["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    let state_mount = mount("/var/lib/flowstate");
    assert!(state_mount
        .get("readOnly")
        .is_none_or(|r| r.as_bool() == Some(false)));
    volume(&state_mount["name"]);
}

#[test]
fn kubernetes_service_is_scraped_and_selects_the_deployments_pod() {
    let deployment = manifest("deployment.yaml");
    let service = manifest("service.yaml");
    assert_eq!(service["kind"], "Service");
    let annotations = &service["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "9900");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
}

#[test]
fn kubernetes_claim_is_the_one_the_deployment_names() {
    let claim = manifest("pvc.yaml");
    assert_eq!(claim["kind"], "PersistentVolumeClaim");
    let claim_name = claim["metadata"]["name"].as_str().expect("a name");
    assert!(
        read("deploy/kubernetes/deployment.yaml").contains(&format!("claimName: {claim_name}")),
        "deployment.yaml says how to use the claim {claim_name}"
    );
}

// --- install.sh --------------------------------------------------------------------------

fn install_sh(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("sh");
    command.arg(root().join("install.sh")).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run install.sh")
}

#[test]
fn install_sh_help_names_every_option() {
    let help = install_sh(&["--help"], &[]);
    assert!(help.status.success(), "{}", show(&help));
    let text = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--prefix",
        "--version",
        "--from-source",
        "--archive",
        "--dry-run",
    ] {
        assert!(text.contains(option), "--help mentions {option}: {text}");
    }
}

#[test]
fn install_sh_dry_runs_name_each_platforms_archive_or_the_source_build_and_change_nothing() {
    let prefix = Sandbox::new();
    let prefix_arg = prefix.path().join("usr").display().to_string();
    for (os, cpu, target) in [
        ("Linux", "x86_64", "x86_64-unknown-linux-musl"),
        ("Linux", "aarch64", "aarch64-unknown-linux-musl"),
        ("Linux", "arm64", "aarch64-unknown-linux-musl"),
        ("Darwin", "arm64", "aarch64-apple-darwin"),
        ("Darwin", "x86_64", "x86_64-apple-darwin"),
    ] {
        let run = install_sh(
            &[
                "--dry-run",
                "--version",
                "v0.1.0",
                "--prefix",
                &prefix_arg,
                "--repo",
                "example/flowstate",
            ],
            &[("UNAME_S", os), ("UNAME_M", cpu)],
        );
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{os} {cpu}: {}", show(&run));
        assert!(
            out.contains(&format!(
                "https://github.com/example/flowstate/releases/download/v0.1.0/flowstate-{target}.tar.gz"
            )),
            "{os} {cpu}: {out}"
        );
        assert!(
            out.contains("/releases/download/v0.1.0/SHA256SUMS"),
            "{out}"
        );
        assert!(out.contains("would verify"), "{out}");
        assert!(
            out.contains(&format!("{prefix_arg}/bin/flowstate")),
            "{out}"
        );
    }
    let source = install_sh(
        &["--from-source", "--dry-run", "--prefix", &prefix_arg],
        &[],
    );
    assert!(source.status.success(), "{}", show(&source));
    let out = String::from_utf8_lossy(&source.stdout);
    assert!(out.contains("cargo build --release --locked"), "{out}");
    assert!(
        std::fs::read_dir(prefix.path())
            .expect("read the prefix")
            .next()
            .is_none(),
        "a dry run changes nothing"
    );
}

#[test]
fn install_sh_asks_for_a_repository_unless_flowstate_repo_names_one() {
    // A checkout's install.sh names no repository: downloading asks for one, never guesses.
    let unnamed = install_sh(
        &["--dry-run"],
        &[("UNAME_S", "Linux"), ("UNAME_M", "x86_64")],
    );
    assert_eq!(unnamed.status.code(), Some(1), "{}", show(&unnamed));
    let said = String::from_utf8_lossy(&unnamed.stderr);
    assert!(
        said.contains("--repo OWNER/NAME") && said.contains("FLOWSTATE_REPO"),
        "{said}"
    );
    assert!(
        !String::from_utf8_lossy(&unnamed.stdout).contains("github.com"),
        "{}",
        show(&unnamed)
    );
    let from_env = install_sh(
        &["--dry-run"],
        &[
            ("UNAME_S", "Linux"),
            ("UNAME_M", "x86_64"),
            ("FLOWSTATE_REPO", "someone/fork"),
        ],
    );
    assert!(from_env.status.success(), "{}", show(&from_env));
    assert!(String::from_utf8_lossy(&from_env.stdout)
        .contains("github.com/someone/fork/releases/latest/download"));
}

#[test]
fn install_sh_refuses_unsupported_systems_and_unknown_flags() {
    let unsupported = install_sh(
        &["--dry-run"],
        &[("UNAME_S", "SunOS"), ("UNAME_M", "x86_64")],
    );
    assert_eq!(unsupported.status.code(), Some(1), "{}", show(&unsupported));
    assert!(String::from_utf8_lossy(&unsupported.stderr).contains("--from-source"));
    let bad = install_sh(&["--frobnicate"], &[]);
    assert_eq!(bad.status.code(), Some(1), "{}", show(&bad));
}

#[test]
fn install_sh_installs_a_verified_archive_and_refuses_a_tampered_one() {
    if !have("sha256sum") && !have("shasum") {
        eprintln!("no sha256sum or shasum: skipping");
        return;
    }
    let sandbox = Sandbox::new();
    let name = "flowstate-x86_64-unknown-linux-musl";
    sandbox.write(
        &format!("{name}/flowstate"),
        "#!/bin/sh\necho 'flowstate 0.0.0-test'\n",
    );
    let made = Command::new("tar")
        .current_dir(sandbox.path())
        .args(["-czf", &format!("{name}.tar.gz"), name])
        .output()
        .expect("run tar");
    assert!(made.status.success(), "{}", show(&made));
    let archive = sandbox.path().join(format!("{name}.tar.gz"));
    let hash = Command::new("sh")
        .arg("-c")
        .arg("sha256sum \"$1\" 2>/dev/null || shasum -a 256 \"$1\"")
        .arg("sh")
        .arg(&archive)
        .output()
        .expect("hash the archive");
    let hash = String::from_utf8_lossy(&hash.stdout);
    let hash = hash.split_whitespace().next().expect("a hash");
    sandbox.write(
        "SHA256SUMS",
        &format!("{hash}  {name}.tar.gz\n{}  other.tar.gz\n", "0".repeat(64)),
    );
    let prefix = sandbox.path().join("prefix");
    let archive_arg = archive.display().to_string();
    let prefix_arg = prefix.display().to_string();

    let installed = install_sh(&["--archive", &archive_arg, "--prefix", &prefix_arg], &[]);
    assert!(installed.status.success(), "{}", show(&installed));
    let out = String::from_utf8_lossy(&installed.stdout);
    assert!(out.contains("SHA-256 verified"), "{out}");
    assert!(out.contains("installed flowstate 0.0.0-test"), "{out}");
    let binary = prefix.join("bin/flowstate");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&binary).expect("installed").permissions(),
    );
    assert_eq!(mode & 0o777, 0o755);

    std::fs::remove_file(&binary).expect("remove the binary");
    sandbox.write(
        "SHA256SUMS",
        &format!("{}  {name}.tar.gz\n", "1".repeat(64)),
    );
    let refused = install_sh(&["--archive", &archive_arg, "--prefix", &prefix_arg], &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("checksum mismatch"),
        "{}",
        show(&refused)
    );
    assert!(!binary.exists(), "nothing installed after a mismatch");

    if have("shellcheck") {
        let checked = Command::new("shellcheck")
            .arg(root().join("install.sh"))
            .arg(root().join(".ci/release-notes"))
            .output()
            .expect("run shellcheck");
        assert!(checked.status.success(), "shellcheck: {}", show(&checked));
    } else {
        eprintln!("shellcheck is not installed: skipping it (.ci/run installs it)");
    }
}

/// The release dry run: this build's binary packaged by `.ci/package` (the script the release
/// workflow runs), summed, installed by install.sh from the archive, and run from where it was
/// installed, on the bundled example.
#[test]
fn a_release_archive_made_by_the_release_script_installs_and_runs() {
    if !have("sha256sum") && !have("shasum") {
        eprintln!("no sha256sum or shasum: skipping");
        return;
    }
    let sandbox = Sandbox::new();
    let dist = sandbox.path().join("dist");
    let dist_arg = dist.display().to_string();
    let target = "x86_64-unknown-linux-musl";
    let packaged = Command::new(root().join(".ci/package"))
        .args([
            "archive",
            target,
            env!("CARGO_BIN_EXE_flowstate"),
            &dist_arg,
        ])
        .output()
        .expect("run .ci/package archive");
    assert!(packaged.status.success(), "{}", show(&packaged));
    let summed = Command::new(root().join(".ci/package"))
        .args(["sums", &dist_arg])
        .output()
        .expect("run .ci/package sums");
    assert!(summed.status.success(), "{}", show(&summed));
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).expect("SHA256SUMS");
    assert!(
        sums.contains(&format!("  flowstate-{target}.tar.gz")),
        "{sums}"
    );

    let listed = Command::new("tar")
        .args(["-tzf"])
        .arg(dist.join(format!("flowstate-{target}.tar.gz")))
        .output()
        .expect("list the archive");
    let listing = String::from_utf8_lossy(&listed.stdout);
    for file in [
        "flowstate",
        "README.md",
        "CHANGELOG.md",
        "flowstate.service",
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l == format!("flowstate-{target}/{file}")),
            "{file} missing from the archive: {listing}"
        );
    }

    let prefix = sandbox.path().join("prefix");
    let archive = dist.join(format!("flowstate-{target}.tar.gz"));
    let installed = install_sh(
        &[
            "--archive",
            &archive.display().to_string(),
            "--prefix",
            &prefix.display().to_string(),
        ],
        &[],
    );
    assert!(installed.status.success(), "{}", show(&installed));
    assert!(
        String::from_utf8_lossy(&installed.stdout).contains("SHA-256 verified"),
        "{}",
        show(&installed)
    );
    let binary = prefix.join("bin/flowstate");
    let version = Command::new(&binary)
        .arg("--version")
        .output()
        .expect("run the installed flowstate");
    assert!(version.status.success(), "{}", show(&version));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("flowstate {}", env!("CARGO_PKG_VERSION"))
    );
    let checked = Command::new(&binary)
        .args(["check", "-c"])
        .arg(root().join("examples/flowstate.yaml"))
        .output()
        .expect("run the installed flowstate check");
    assert!(checked.status.success(), "{}", show(&checked));
}

// --- Homebrew, changelog, workflows, docs --------------------------------------------------

#[test]
fn homebrew_formula_tests_a_valid_config() {
    let formula = read("packaging/homebrew/flowstate.rb");
    let (_, rest) = formula
        .split_once("<<~YAML\n")
        .expect("a YAML heredoc in `test do`");
    let (body, _) = rest.split_once("\n    YAML\n").expect("the heredoc's end");
    // <<~ strips the common indentation.
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let config: String = body
        .lines()
        .map(|l| format!("{}\n", l.get(indent..).unwrap_or("")))
        .collect();
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", &config);
    let checked = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    checked.expect_code(0);
    let expected = formula
        .lines()
        .find_map(|l| l.trim().strip_prefix("assert_match \"configuration ok"))
        .and_then(|rest| rest.split('"').next())
        .map(|rest| format!("configuration ok{rest}"))
        .expect("the formula asserts on `configuration ok`");
    assert!(checked.stdout.contains(&expected), "{checked}");
    assert!(
        formula.contains("std_cargo_args"),
        "builds with cargo install"
    );
}

#[test]
fn changelog_gives_release_notes_and_the_workflows_use_them() {
    let changelog = read("CHANGELOG.md");
    assert!(
        changelog.contains("## [Unreleased]"),
        "Keep a Changelog's Unreleased section"
    );
    let notes = Command::new("sh")
        .arg(root().join(".ci/release-notes"))
        .arg("Unreleased")
        .output()
        .expect("run .ci/release-notes");
    assert!(notes.status.success(), "{}", show(&notes));
    let text = String::from_utf8_lossy(&notes.stdout);
    assert!(text.contains("### Added"), "{text}");
    assert!(
        !text.contains("## [Unreleased]"),
        "the heading is left out: {text}"
    );
    let missing = Command::new("sh")
        .arg(root().join(".ci/release-notes"))
        .arg("v99.0.0")
        .output()
        .expect("run .ci/release-notes");
    assert_eq!(missing.status.code(), Some(1), "{}", show(&missing));

    let release = read(".github/workflows/release.yml");
    yaml(&release, "release.yml");
    assert!(release.contains(".ci/release-notes"));
    assert!(release.contains("SHA256SUMS"));
    let install = read("install.sh");
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(
            release.contains(&format!("target: {target}")),
            "release.yml builds {target}"
        );
        assert!(install.contains(target), "install.sh knows {target}");
    }
    assert!(
        release.contains("flowstate-${{ matrix.target }}.tar.gz"),
        "install.sh's names"
    );
    let ci = read(".github/workflows/ci.yml");
    yaml(&ci, "ci.yml");
    assert!(ci.contains(".ci/run"));
}

#[test]
fn deployment_doc_configs_are_valid_and_its_links_exist() {
    let doc = read("docs/deployment.md");
    let sandbox = Sandbox::new();
    let mut blocks = 0;
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```yaml" {
            continue;
        }
        let block: String = lines
            .by_ref()
            .take_while(|l| l.trim() != "```")
            .map(|l| format!("{l}\n"))
            .collect();
        blocks += 1;
        let path = sandbox.write(&format!("block{blocks}.yaml"), &block);
        let checked = sandbox.run(&["check", "-c", &path.display().to_string()]);
        assert_eq!(
            checked.code,
            Some(0),
            "```yaml block {blocks} of docs/deployment.md is not a valid config:\n{block}\n{checked}"
        );
    }
    assert!(blocks > 0, "docs/deployment.md shows a config");
    // Relative links: [text](path) and [text](path#anchor).
    for (at, _) in doc.match_indices("](") {
        let target = &doc[at + 2..];
        let target = &target[..target.find(')').unwrap_or(0)];
        let target = target.split('#').next().unwrap_or("");
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        assert!(
            root().join("docs").join(target).exists(),
            "docs/deployment.md links to {target}, which does not exist"
        );
    }
}

// --- Kubernetes: a cluster of agents -----------------------------------------------------

const CLUSTER_DIR: &str = "deploy/kubernetes/cluster";

/// Every document of `deploy/kubernetes/cluster/NAME` (`---` separated), in order.
fn cluster_documents(name: &str) -> Vec<Value> {
    let text = read(format!("{CLUSTER_DIR}/{name}"));
    serde_yaml::Deserializer::from_str(&text)
        .enumerate()
        .map(|(n, document)| {
            <Value as serde::Deserialize>::deserialize(document).unwrap_or_else(|e| {
                panic!(
                    "document {} of {CLUSTER_DIR}/{name} is not YAML: {e}",
                    n + 1
                )
            })
        })
        .collect()
}

/// The one document of `deploy/kubernetes/cluster/NAME`.
#[track_caller]
fn cluster_manifest(name: &str) -> Value {
    let mut documents = cluster_documents(name);
    assert_eq!(
        documents.len(),
        1,
        "{CLUSTER_DIR}/{name} holds one document, not {}",
        documents.len()
    );
    documents.remove(0)
}

/// The files `kustomization.yaml` lists under `resources`, in order.
fn cluster_resources() -> Vec<String> {
    let kustomization = cluster_manifest("kustomization.yaml");
    assert_eq!(
        kustomization["kind"], "Kustomization",
        "kustomization.yaml is a Kustomization"
    );
    kustomization["resources"]
        .as_sequence()
        .expect("kustomization.yaml lists `resources`")
        .iter()
        .map(|r| {
            r.as_str()
                .unwrap_or_else(|| panic!("a resource of kustomization.yaml is not a file: {r:?}"))
                .to_string()
        })
        .collect()
}

/// Every document of every file `kustomization.yaml` lists: what `kubectl apply -k` applies.
fn cluster_objects() -> Vec<Value> {
    cluster_resources()
        .iter()
        .flat_map(|name| cluster_documents(name))
        .collect()
}

/// The applied objects of `kind`, each with its name.
fn cluster_objects_of(kind: &str) -> Vec<(String, Value)> {
    cluster_objects()
        .into_iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| {
            let name = o["metadata"]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("a {kind} without metadata.name: {o:?}"))
                .to_string();
            (name, o)
        })
        .collect()
}

/// The ConfigMap's `flowstate.yaml`, as text.
fn cluster_config_text() -> String {
    let config_map = cluster_manifest("configmap.yaml");
    assert_eq!(config_map["kind"], "ConfigMap", "configmap.yaml");
    config_map["data"]["flowstate.yaml"]
        .as_str()
        .expect("the cluster's ConfigMap holds flowstate.yaml")
        .to_string()
}

/// The locations of the cluster's config: `defaults.locations`.
fn cluster_locations(config: &Value) -> Vec<String> {
    let locations: Vec<String> = config["defaults"]["locations"]
        .as_sequence()
        .expect("the cluster's flowstate.yaml names its locations in defaults.locations")
        .iter()
        .map(|l| l.as_str().expect("a location name").to_string())
        .collect();
    assert!(!locations.is_empty(), "defaults.locations is empty");
    locations
}

/// Whether a `matchLabels` selector selects a pod with `labels`: each of its labels is there
/// with the same value. A selector with nothing in it would select every pod: never.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector
        .as_mapping()
        .unwrap_or_else(|| panic!("a selector is a mapping of labels: {selector:?}"));
    !selector.is_empty() && selector.iter().all(|(key, value)| &labels[key] == value)
}

/// An entry of a container's `env`, by name.
#[track_caller]
fn env_var<'a>(container: &'a Value, name: &str, deployment: &str) -> &'a Value {
    container["env"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{deployment}: the container sets no env"))
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{deployment}: the container does not set {name}"))
}

/// Only through `kustomization.yaml` does a file get applied: each one listed exists and is
/// YAML with a kind and a name, none is listed twice, no object is applied twice, and no
/// manifest of the directory is left out.
#[test]
fn kubernetes_cluster_kustomization_lists_every_manifest_of_the_directory_and_each_parses() {
    let resources = cluster_resources();
    assert!(!resources.is_empty(), "kustomization.yaml lists nothing");
    let mut seen = std::collections::BTreeSet::new();
    let mut objects = std::collections::BTreeSet::new();
    for name in &resources {
        assert!(
            seen.insert(name.clone()),
            "kustomization.yaml lists {name} twice"
        );
        assert!(
            root().join(CLUSTER_DIR).join(name).is_file(),
            "kustomization.yaml lists {name}, which is not a file of {CLUSTER_DIR}"
        );
        let documents = cluster_documents(name);
        assert!(!documents.is_empty(), "{name} holds no document");
        for (n, document) in documents.iter().enumerate() {
            let what = format!("document {} of {name}", n + 1);
            assert!(
                document["apiVersion"].is_string(),
                "{what} has no apiVersion"
            );
            let kind = document["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{what} has no kind"));
            let object = document["metadata"]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{what} has no metadata.name"));
            assert!(
                objects.insert(format!("{kind}/{object}")),
                "{kind}/{object} is applied twice ({what})"
            );
        }
    }
    let mut manifests = Vec::new();
    for entry in std::fs::read_dir(root().join(CLUSTER_DIR)).expect("read the cluster directory") {
        let name = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if (name.ends_with(".yaml") || name.ends_with(".yml")) && name != "kustomization.yaml" {
            manifests.push(name);
        }
    }
    manifests.sort();
    let unlisted: Vec<&String> = manifests.iter().filter(|m| !seen.contains(*m)).collect();
    assert!(
        unlisted.is_empty(),
        "manifests of {CLUSTER_DIR} that kustomization.yaml does not list: {unlisted:?}"
    );
    for expected in ["configmap.yaml", "secret.yaml", "pdb.yaml", "service.yaml"] {
        assert!(
            seen.contains(expected),
            "kustomization.yaml lists {expected}"
        );
    }
    assert!(
        read(format!("{CLUSTER_DIR}/README.md")).contains("kubectl apply -k"),
        "the README says how to apply the directory"
    );
}

/// Each location in the config's `defaults.locations` has its Deployment of agents: at least
/// two, rolled without a gap, spread over nodes, told their location, the database URL from
/// the Secret and their pod's name (the variables the config reads), probed on /readyz and
/// /healthz, locked down like the single-instance pod, with the config mounted as a directory.
#[test]
fn kubernetes_cluster_runs_a_locked_down_deployment_of_agents_in_each_location_of_the_config() {
    let config = yaml(&cluster_config_text(), "the cluster's flowstate.yaml");
    let locations = cluster_locations(&config);
    // The variables the Deployments set are the ones the config reads.
    for (key, var) in [
        ("url", "FLOWSTATE_DATABASE_URL"),
        ("location", "FLOWSTATE_LOCATION"),
        ("agent_id", "POD_NAME"),
    ] {
        assert_eq!(
            config["cluster"][key].as_str(),
            Some(format!("${{{var}}}").as_str()),
            "cluster.{key} of the ConfigMap comes from ${{{var}}}"
        );
    }
    let config_map = cluster_manifest("configmap.yaml");
    let secret = cluster_manifest("secret.yaml");
    assert_eq!(secret["kind"], "Secret", "secret.yaml");
    let secret_name = secret["metadata"]["name"]
        .as_str()
        .expect("the Secret's name");
    let image =
        manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]["image"].clone();

    let deployments = cluster_objects_of("Deployment");
    let mut covered = Vec::new();
    for (name, deployment) in &deployments {
        let name = name.as_str();
        let spec = &deployment["spec"];
        let replicas = spec["replicas"].as_u64().unwrap_or(1);
        assert!(
            replicas >= 2,
            "{name}: {replicas} replica; two at least, so one lost leaves its location checked"
        );
        assert_eq!(spec["strategy"]["type"], "RollingUpdate", "{name}");
        assert_eq!(
            spec["strategy"]["rollingUpdate"]["maxUnavailable"].as_u64(),
            Some(0),
            "{name}: a rollout starts a new agent before it stops an old one"
        );
        let labels = &spec["template"]["metadata"]["labels"];
        assert!(
            selects(&spec["selector"]["matchLabels"], labels),
            "{name}: its selector does not select its own pods"
        );
        let pod = &spec["template"]["spec"];
        let containers = pod["containers"].as_sequence().expect("containers");
        assert_eq!(containers.len(), 1, "{name}: one container");
        let container = &containers[0];
        assert_eq!(
            container["image"], image,
            "{name}: the same image as deploy/kubernetes/deployment.yaml"
        );

        // Its location, as the environment and as a label.
        let location = env_var(container, "FLOWSTATE_LOCATION", name)["value"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: FLOWSTATE_LOCATION is not a plain value"))
            .to_string();
        assert!(
            locations.contains(&location),
            "{name} runs agents in {location}, which defaults.locations {locations:?} does not name"
        );
        assert_eq!(
            labels["flowstate.io/location"].as_str(),
            Some(location.as_str()),
            "{name}: its pods are labelled with their location"
        );
        covered.push(location.clone());

        // The database URL from the Secret, the agent id from the pod's name.
        let url = &env_var(container, "FLOWSTATE_DATABASE_URL", name)["valueFrom"]["secretKeyRef"];
        assert_eq!(
            url["name"].as_str(),
            Some(secret_name),
            "{name}: FLOWSTATE_DATABASE_URL comes from the Secret of secret.yaml"
        );
        let key = url["key"].as_str().expect("the secretKeyRef's key");
        let example = secret["stringData"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{name} reads key {key:?}, which secret.yaml does not hold"));
        assert!(
            example.starts_with("postgres://"),
            "the Secret's {key} is a postgres:// URL: {example}"
        );
        assert_eq!(
            env_var(container, "POD_NAME", name)["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.name",
            "{name}: POD_NAME is the pod's name"
        );

        // Probes and the port.
        let args = strings(&container["args"]);
        assert_eq!(
            args,
            ["run", "-c", "/etc/flowstate/flowstate.yaml"],
            "{name}"
        );
        assert_eq!(
            container["ports"][0]["containerPort"].as_u64(),
            Some(9900),
            "{name}"
        );
        let port_name = &container["ports"][0]["name"];
        for (probe, path) in [
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/healthz"),
        ] {
            assert_eq!(
                container[probe]["httpGet"]["path"].as_str(),
                Some(path),
                "{name}: {probe} on {path}"
            );
            assert_eq!(
                &container[probe]["httpGet"]["port"], port_name,
                "{name}: {probe} on the container's port"
            );
        }

        // Locked down as the single-instance pod is.
        let pod_security = &pod["securityContext"];
        assert_eq!(pod_security["runAsNonRoot"].as_bool(), Some(true), "{name}");
        assert_eq!(pod_security["runAsUser"].as_u64(), Some(10001), "{name}");
        assert_eq!(
            pod_security["seccompProfile"]["type"], "RuntimeDefault",
            "{name}"
        );
        let ping = pod_security["sysctls"]
            .as_sequence()
            .and_then(|s| s.iter().find(|s| s["name"] == "net.ipv4.ping_group_range"));
        assert_eq!(
            ping.map(|s| &s["value"]),
            Some(&Value::from("0 2147483647")),
            "{name}: ICMP checks without NET_RAW"
        );
        let security = &container["securityContext"];
        assert_eq!(
            security["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{name}"
        );
        assert_eq!(
            security["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{name}"
        );
        assert_eq!(
            security["capabilities"]["drop"],
            serde_yaml::from_str::<Value>("[ALL]").expect("YAML"),
            "{name}: every capability dropped"
        );
        let resources = &container["resources"];
        assert!(
            resources["requests"]["cpu"].is_string() && resources["requests"]["memory"].is_string(),
            "{name}: requests CPU and memory"
        );
        assert!(
            resources["limits"]["memory"].is_string(),
            "{name}: a memory limit"
        );
        assert!(
            resources["limits"].get("cpu").is_none(),
            "{name}: no CPU limit (throttling delays checks)"
        );

        // The two agents on different nodes when possible.
        let spread = pod["topologySpreadConstraints"]
            .as_sequence()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["topologyKey"] == "kubernetes.io/hostname")
            })
            .unwrap_or_else(|| panic!("{name}: no spread of its pods over nodes"));
        assert_eq!(
            spread["whenUnsatisfiable"], "ScheduleAnyway",
            "{name}: a soft spread, so one node still runs both"
        );
        assert!(
            selects(&spread["labelSelector"]["matchLabels"], labels)
                && spread["labelSelector"]["matchLabels"]["flowstate.io/location"]
                    == location.as_str(),
            "{name}: the spread counts this location's pods"
        );

        // The ConfigMap as a directory (a subPath mount never sees updates).
        let config_mount = container["volumeMounts"]
            .as_sequence()
            .expect("volumeMounts")
            .iter()
            .find(|m| m["mountPath"] == "/etc/flowstate")
            .unwrap_or_else(|| panic!("{name}: nothing mounted at /etc/flowstate"));
        assert!(
            config_mount.get("subPath").is_none(),
            "{name}: no subPath for the config"
        );
        let volume = pod["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == config_mount["name"])
            .unwrap_or_else(|| panic!("{name}: no volume {:?}", config_mount["name"]));
        assert_eq!(
            volume["configMap"]["name"], config_map["metadata"]["name"],
            "{name}: mounts the cluster's ConfigMap"
        );
    }
    covered.sort();
    let mut expected = locations.clone();
    expected.sort();
    assert_eq!(
        covered, expected,
        "one Deployment per location of defaults.locations"
    );
}

/// A drain evicts at most one agent of a location at a time: each Deployment has its budget,
/// `minAvailable: 1`, selecting its pods and no other location's.
#[test]
fn kubernetes_cluster_budgets_keep_one_agent_of_each_location_through_disruptions() {
    let budgets = cluster_documents("pdb.yaml");
    let deployments = cluster_objects_of("Deployment");
    assert_eq!(
        budgets.len(),
        deployments.len(),
        "one PodDisruptionBudget per Deployment"
    );
    let mut budgeted = Vec::new();
    for budget in &budgets {
        let name = budget["metadata"]["name"].as_str().unwrap_or("(no name)");
        assert_eq!(budget["kind"], "PodDisruptionBudget", "{name} in pdb.yaml");
        assert_eq!(budget["apiVersion"], "policy/v1", "{name}");
        assert_eq!(
            budget["spec"]["minAvailable"].as_u64(),
            Some(1),
            "{name}: minAvailable 1"
        );
        let selector = &budget["spec"]["selector"];
        assert!(
            selector.get("matchExpressions").is_none(),
            "{name}: matchLabels only"
        );
        let selected: Vec<&str> = deployments
            .iter()
            .filter(|(_, d)| {
                selects(
                    &selector["matchLabels"],
                    &d["spec"]["template"]["metadata"]["labels"],
                )
            })
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            selected.len(),
            1,
            "{name} selects the pods of {selected:?}; it should select one Deployment's"
        );
        let deployment = &deployments
            .iter()
            .find(|(n, _)| n == selected[0])
            .expect("the selected Deployment")
            .1;
        assert_eq!(
            &selector["matchLabels"], &deployment["spec"]["selector"]["matchLabels"],
            "{name} selects exactly what {} selects",
            selected[0]
        );
        budgeted.push(selected[0]);
    }
    budgeted.sort();
    let mut names: Vec<&str> = deployments.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(budgeted, names, "every Deployment has one budget");
}

/// The ConfigMap's flowstate.yaml passes `flowstate check` with the environment each
/// location's agent has (and needs it: without the database URL it fails, naming the
/// variable); it serves on 9900, the port the Service forwards to every agent it selects.
#[test]
fn kubernetes_cluster_config_passes_check_in_every_location_and_the_service_selects_every_agent() {
    let text = cluster_config_text();
    let config = yaml(&text, "the cluster's flowstate.yaml");
    let sandbox = Sandbox::new();
    let path = sandbox.write("flowstate.yaml", &text).display().to_string();
    for location in cluster_locations(&config) {
        let checked = sandbox
            .flowstate()
            .args(&["check", "-c", &path])
            .env("FLOWSTATE_DATABASE_URL", "postgres://u:p@127.0.0.1:5432/db")
            .env("FLOWSTATE_LOCATION", location.as_str())
            .env("POD_NAME", format!("flowstate-{location}-0"))
            .output();
        assert_eq!(
            checked.code,
            Some(0),
            "the ConfigMap's flowstate.yaml does not pass check in {location}:\n{checked}"
        );
    }
    let unset = sandbox
        .flowstate()
        .args(&["check", "-c", &path])
        .env("FLOWSTATE_LOCATION", "eu")
        .env("POD_NAME", "flowstate-eu-0")
        .output();
    assert_ne!(
        unset.code,
        Some(0),
        "check passes without the database URL:\n{unset}"
    );
    assert!(
        unset.stderr.contains("FLOWSTATE_DATABASE_URL"),
        "check without the URL names the variable:\n{unset}"
    );
    assert_eq!(config["server"]["listen"].as_str(), Some("0.0.0.0:9900"));
    let quorum = config["cluster"]["quorum"]
        .as_u64()
        .expect("cluster.quorum");
    assert!(
        (2..=cluster_locations(&config).len() as u64).contains(&quorum),
        "quorum {quorum}: more than one location must agree, and no more than there are"
    );

    let service = cluster_manifest("service.yaml");
    assert_eq!(service["kind"], "Service", "service.yaml");
    let annotations = &service["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "9900");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    let port = &service["spec"]["ports"][0];
    assert_eq!(port["port"].as_u64(), Some(9900), "the Service's port");
    let selector = &service["spec"]["selector"];
    let deployments = cluster_objects_of("Deployment");
    assert!(!deployments.is_empty(), "no Deployment applied");
    for (name, deployment) in &deployments {
        let pod = &deployment["spec"]["template"];
        assert!(
            selects(selector, &pod["metadata"]["labels"]),
            "the Service does not select the pods of {name}"
        );
        assert_eq!(
            port["targetPort"], pod["spec"]["containers"][0]["ports"][0]["name"],
            "the Service forwards to the port {name}'s container names"
        );
    }
}
