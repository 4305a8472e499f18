//! `flowstate tui`: the real binary against a real daemon, driven in tmux the way a person
//! uses it: keys go in with `send-keys`, the screen comes out with `capture-pane`.
//!
//! tmux is required, not optional: without it these tests fail and say how to install it
//! (`.ci/run` does). Each test runs its own tmux server on a socket in its sandbox, with a
//! fixed window size, no status bar, and `remain-on-exit`, so the pane stays readable after
//! the dashboard quits, with a line that tells its exit status and the terminal's modes. Every wait polls the pane with a
//! deadline; nothing is asserted after a sleep.
//!
//! The rendering itself (every part of the screen, colours, 10 000 hosts) is tested without
//! a terminal next to the code, in `src/tui/view.rs`.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::wait::wait_for;
use crate::common::{closed_port, Daemon, Response, Sandbox, TestServer, DEADLINE};

const WIDTH: u16 = 140;
const HEIGHT: u16 = 30;

/// A tmux server of the test's own, with one session running one command.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached `WIDTH`×`HEIGHT` session.
    fn start(sandbox: &Sandbox, command: &str) -> Tmux {
        require_tmux();
        let config = sandbox.write(
            "tmux.conf",
            "set -g status off\nset -g remain-on-exit on\nset -g default-terminal screen-256color\n",
        );
        let tmux = Tmux {
            socket: sandbox.path().join("tmux.sock"),
        };
        tmux.run(&[
            "-f",
            config.to_str().unwrap(),
            "new-session",
            "-d",
            "-s",
            "flowstate",
            "-x",
            &WIDTH.to_string(),
            "-y",
            &HEIGHT.to_string(),
            command,
        ]);
        tmux
    }

    /// `tmux -S SOCKET ARGS...`, which must succeed; returns its stdout.
    #[track_caller]
    fn run(&self, args: &[&str]) -> String {
        let output = self.output(args);
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn output(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            // UTF-8 whatever the locale, so the dashboard's symbols come back as they are.
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// What the pane shows now, one line per row.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "flowstate"])
    }

    /// The normal screen with what scrolled off it: everything printed outside the dashboard.
    fn scrollback(&self) -> String {
        self.run(&["capture-pane", "-p", "-S", "-", "-t", "flowstate"])
    }

    /// Types keys (tmux key names: `j`, `Enter`, `Escape`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "flowstate"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "flowstate", "-l", text]);
    }

    /// A tmux format of the pane (`#{pane_dead}`, `#{alternate_on}`).
    fn pane(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "flowstate", format])
            .trim()
            .to_string()
    }

    /// Waits until the screen satisfies `condition`, and returns it; fails showing the last
    /// screen, or at once, showing what it printed, if the dashboard exits instead.
    #[track_caller]
    fn wait_for_screen(&self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let found = wait_for(DEADLINE, what, || {
            let screen = self.screen();
            if condition(&screen) {
                Some(Ok(screen))
            } else if screen.lines().any(|l| l.starts_with("after: ")) {
                Some(Err(()))
            } else {
                None
            }
        });
        match found {
            Ok(Ok(screen)) => screen,
            Ok(Err(())) => panic!(
                "the dashboard exited while waiting until {what}:\n{}",
                self.scrollback()
            ),
            Err(timed_out) => panic!("{timed_out}; the screen:\n{}", self.screen()),
        }
    }

    /// Waits until the dashboard exited, and returns the line the pane's shell printed after
    /// it (see [`dashboard_command`]). (tmux's own `#{pane_dead_status}` is not used: tmux
    /// 3.3 sometimes leaves the pane's shell a zombie and never records its status.)
    #[track_caller]
    fn wait_for_exit(&self) -> String {
        let found = wait_for(DEADLINE, "the dashboard exits", || {
            let text = self.scrollback();
            let line = text.lines().find(|l| l.starts_with("after: "))?;
            Some(line.trim().to_string())
        });
        found.unwrap_or_else(|timed_out| panic!("{timed_out}; the screen:\n{}", self.screen()))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.output(&["kill-server"]);
    }
}

/// Fails the test, saying how to fix it, when tmux is not installed.
fn require_tmux() {
    let found = Command::new("tmux").arg("-V").output();
    if !found.is_ok_and(|o| o.status.success()) {
        panic!(
            "tmux is not on PATH: the dashboard's end-to-end tests run it in tmux. \
             Install it (`apt-get install -y tmux`; .ci/run does) and run the tests again."
        );
    }
}

/// A daemon checking four hosts against `target`: `gamma-cache` fails, the rest pass.
fn daemon_with_four_hosts(sandbox: &Sandbox, target: &TestServer) -> Daemon {
    let host = |label: &str, path: &str| {
        format!("  - {{ label: {label}, url: '{}' }}\n", target.url(path))
    };
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\n\
             defaults: {{ interval: 300ms, timeout: 250ms, failure_threshold: 1, alerts: [] }}\n\
             hosts:\n{}{}{}{}",
            host("alpha-api", "/ok"),
            host("beta-db", "/ok"),
            host("gamma-cache", "/fail"),
            host("delta-web", "/ok"),
        ),
    );
    sandbox.daemon("flowstate.yaml").start()
}

fn target() -> TestServer {
    TestServer::routes([
        ("/ok", Response::ok("ok")),
        ("/fail", Response::status(503)),
    ])
}

/// The pane's command: the dashboard, then one line on the terminal it left behind and its
/// exit status: `after: icanon echo exit=0` when raw mode was undone (`stty` says `-icanon
/// -echo` in raw mode).
fn dashboard_command(api: &str) -> String {
    format!(
        "env -u FLOWSTATE_TOKEN -u FLOWSTATE_API '{}' tui --api '{api}'; code=$?; \
         modes=$(stty -a | tr ' ;' '\\n\\n' | grep -x -E -e '-?(icanon|echo)' | tr '\\n' ' '); \
         echo \"after: ${{modes}}exit=$code\"; exit $code",
        env!("CARGO_BIN_EXE_flowstate")
    )
}

/// The screen's row that shows the selection marker.
fn selected_row(screen: &str) -> &str {
    screen.lines().find(|l| l.contains("▶ ")).unwrap_or("")
}

#[test]
fn tui_in_tmux_shows_hosts_moves_filters_and_quits_cleanly() {
    let target = target();
    let sandbox = Sandbox::new();
    let mut daemon = daemon_with_four_hosts(&sandbox, &target);
    let api = format!("http://{}", daemon.api());
    let tmux = Tmux::start(&sandbox, &dashboard_command(&api));

    // The header with the totals and the address, every host, the most urgent first and
    // selected, with its detail pane.
    let screen = tmux.wait_for_screen("every host is shown and checked", |s| {
        s.contains("4 hosts: 3 up, 1 down")
            && ["alpha-api", "beta-db", "gamma-cache", "delta-web"]
                .iter()
                .all(|label| s.contains(label))
    });
    assert!(screen.lines().next().unwrap().contains(&api), "{screen}");
    assert!(selected_row(&screen).contains("gamma-cache"), "{screen}");
    assert!(selected_row(&screen).contains("✖ down"), "{screen}");
    assert_eq!(tmux.pane("#{alternate_on}"), "1", "{screen}");

    // `j` moves to the next host (the up hosts follow by label); its detail pane fills in
    // with its history from /api/v1/hosts/alpha-api.
    tmux.keys(&["j"]);
    let screen = tmux.wait_for_screen("alpha-api is selected with its history", |s| {
        selected_row(s).contains("alpha-api")
            && s.contains("● alpha-api ")
            && s.contains("history:")
    });
    assert!(selected_row(&screen).contains("● up"), "{screen}");
    assert!(screen.contains("recent checks"), "{screen}");

    // `/` opens the filter prompt; the list follows each character; Enter keeps the filter.
    tmux.keys(&["/"]);
    tmux.type_text("gam");
    let screen = tmux.wait_for_screen("the filter prompt shows /gam", |s| {
        s.lines().last().unwrap_or("").starts_with("/gam") && s.contains("hosts 1 of 4")
    });
    assert!(!screen.contains("beta-db"), "{screen}");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for_screen("the filter is kept and the prompt is gone", |s| {
        s.lines().last().unwrap_or("").contains("q quit") && s.contains("filter “gam”")
    });
    assert!(selected_row(&screen).contains("gamma-cache"), "{screen}");
    for hidden in ["alpha-api", "beta-db", "delta-web"] {
        assert!(
            !screen.contains(hidden),
            "{hidden} should be filtered out:\n{screen}"
        );
    }

    // `q` quits with 0 and gives the terminal back: normal screen, cooked mode, echo.
    tmux.keys(&["q"]);
    let after = tmux.wait_for_exit();
    let screen = tmux.scrollback();
    assert_eq!(after, "after: icanon echo exit=0", "{screen}");
    assert_eq!(tmux.pane("#{alternate_on}"), "0", "{screen}");
    assert!(
        !screen.contains("gamma-cache"),
        "the dashboard is still on screen:\n{screen}"
    );
}

#[test]
fn tui_in_tmux_keeps_the_last_data_when_the_daemon_goes_away() {
    let target = target();
    let sandbox = Sandbox::new();
    let mut daemon = daemon_with_four_hosts(&sandbox, &target);
    let api = format!("http://{}", daemon.api());
    let tmux = Tmux::start(&sandbox, &dashboard_command(&api));
    tmux.wait_for_screen("every host is shown and checked", |s| {
        s.contains("4 hosts: 3 up, 1 down")
    });

    let exit = daemon.stop("TERM");
    assert_eq!(exit.code, Some(0));
    let screen = tmux.wait_for_screen("the status line says the daemon cannot be reached", |s| {
        s.lines()
            .last()
            .unwrap_or("")
            .starts_with("✖ cannot reach the flowstate API at")
    });
    assert!(screen.lines().last().unwrap().contains(&api), "{screen}");
    // The last data stays, marked stale.
    assert!(screen.contains("4 hosts: 3 up, 1 down"), "{screen}");
    assert!(screen.contains("no answer · data from"), "{screen}");
    for label in ["alpha-api", "beta-db", "gamma-cache", "delta-web"] {
        assert!(screen.contains(label), "{label} is gone:\n{screen}");
    }
    assert_eq!(
        tmux.pane("#{alternate_on}"),
        "1",
        "the dashboard exited:\n{screen}"
    );

    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_for_exit(), "after: icanon echo exit=0");
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
}

#[test]
fn tui_exits_2_before_drawing_when_the_daemon_is_unreachable() {
    let sandbox = Sandbox::new();
    let api = format!("http://127.0.0.1:{}", closed_port());
    let outcome = sandbox.run(&["tui", "--api", &api]);
    outcome.expect_code(2);
    assert!(
        outcome.stderr.contains(&format!(
            "cannot reach the flowstate API at {api}/api/v1/hosts"
        )),
        "{outcome}"
    );
    // Nothing was drawn: no alternate screen, no escape sequences at all.
    assert_eq!(outcome.stdout, "", "{outcome}");
}

#[test]
fn tui_without_a_terminal_says_to_use_status() {
    let target = target();
    let sandbox = Sandbox::new();
    let mut daemon = daemon_with_four_hosts(&sandbox, &target);
    let api = format!("http://{}", daemon.api());
    let outcome = sandbox.run(&["tui", "--api", &api]);
    outcome.expect_code(2);
    assert!(outcome.stderr.contains("needs a terminal"), "{outcome}");
    assert!(outcome.stderr.contains("flowstate status"), "{outcome}");
    assert_eq!(outcome.stdout, "", "{outcome}");
}
