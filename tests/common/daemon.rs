//! Running `flowstate run` as a child process, the way an init system or a container does.
//!
//! [`Daemon`] starts the real binary on a config file in a [`Sandbox`], with stdout and stderr
//! read continuously by threads of their own into shared buffers, so a test can wait for a
//! line while the daemon runs, and a daemon that prints a lot never blocks on a full pipe. The
//! API address comes from the daemon's own log (`API listening listen=127.0.0.1:PORT`), so a
//! config with `listen: 127.0.0.1:0` lets the kernel pick a free port without a race. Requests
//! to the API go through [`http_get`], a tiny HTTP/1.1 client on `std::net` that shares nothing
//! with the code under test. Signals are sent with `kill(1)`. Every wait has a deadline, and a
//! daemon still running when its test ends (passed or panicked) is killed.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cli::flowstate_command;
use super::wait::wait_for;
use super::Sandbox;

/// How long any condition about a running daemon may take before its test fails. Generous on
/// purpose: it only bounds how long a broken build takes to fail.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How long one API request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The config file of a daemon [`start`]ed by a test, relative to its sandbox.
pub const CONFIG: &str = "flowstate.yaml";

/// Starts `flowstate run -c flowstate.yaml` on `config` in a new sandbox.
pub fn start(config: &str) -> (Sandbox, Daemon) {
    start_at(CONFIG, config)
}

/// Starts `flowstate run -c PATH` on `config`, written to `path` (relative to a new sandbox).
pub fn start_at(path: &str, config: &str) -> (Sandbox, Daemon) {
    let sandbox = Sandbox::new();
    sandbox.write(path, config);
    let daemon = sandbox.daemon(path).start();
    (sandbox, daemon)
}

/// Starts an agent of a cluster on `config`, which names its location `${LOCATION}` and its
/// target's port `${TARGET_PORT}`: here `location`, and `target_port` (each location reaches
/// the target through its own port, so a failure can be local to one).
pub fn start_located(config: &str, location: &str, target_port: u16) -> (Sandbox, Daemon) {
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, config);
    let daemon = sandbox
        .daemon(CONFIG)
        .env("LOCATION", location)
        .env("TARGET_PORT", target_port.to_string())
        .start();
    (sandbox, daemon)
}

/// Saves `to` over `from` (as the [`CONFIG`] of a daemon [`start`]ed by a test) and answers
/// `POST /-/reload`, which must be 200 with a change in it. The ConfigWatcher applies saved
/// edits too, after a 250 ms debounce: should this thread be slower than that, the POST finds
/// nothing left to change; then `from` is put back and the edit made again.
#[track_caller]
pub fn post_edit(sandbox: &Sandbox, daemon: &mut Daemon, from: &str, to: &str) -> Answer {
    let nothing_changed = |answer: &Answer| {
        answer.json().is_ok_and(|summary| {
            ["added", "removed", "changed"]
                .iter()
                .all(|key| summary[key].as_array().is_some_and(Vec::is_empty))
        })
    };
    for _ in 0..5 {
        sandbox.write(CONFIG, to);
        let answer = daemon.request("POST", "/-/reload", &[]);
        assert_eq!(answer.status, 200, "{answer}\n{daemon}");
        if !nothing_changed(&answer) {
            return answer;
        }
        sandbox.write(CONFIG, from);
        let back = daemon.request("POST", "/-/reload", &[]);
        assert_eq!(back.status, 200, "{back}\n{daemon}");
    }
    panic!("POST /-/reload never found the edit to apply\n{daemon}");
}

impl Sandbox {
    /// `flowstate run -c CONFIG`, with the sandbox as working directory; more arguments and
    /// environment variables can be added before [`DaemonBuilder::start`].
    pub fn daemon(&self, config: &str) -> DaemonBuilder {
        DaemonBuilder {
            args: vec!["run".into(), "-c".into(), config.into()],
            env: Vec::new(),
            cwd: self.path().to_path_buf(),
        }
    }
}

/// A daemon to start, built up.
#[must_use]
pub struct DaemonBuilder {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

impl DaemonBuilder {
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(OsString::from));
        self
    }

    /// Sets an environment variable (the rest of the environment is cleared).
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// Starts the daemon and returns at once, whatever it does next.
    pub fn spawn(self) -> Daemon {
        let (mut command, shown) = flowstate_command(&self.args, &self.env, &self.cwd);
        let mut child = command.spawn().expect("start the flowstate binary");
        let stdout = Captured::read(child.stdout.take().expect("stdout is piped"));
        let stderr = Captured::read(child.stderr.take().expect("stderr is piped"));
        Daemon {
            command: shown,
            child,
            exited: None,
            stdout,
            stderr,
        }
    }

    /// Starts the daemon and waits until it says `monitoring started`; fails the test if it
    /// exits or stays silent instead.
    #[track_caller]
    pub fn start(self) -> Daemon {
        let mut daemon = self.spawn();
        daemon.wait_for_log("the daemon logs `monitoring started`", |line| {
            line.contains("monitoring started")
        });
        daemon
    }
}

/// Everything a pipe delivered so far, appended by a reader thread.
struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    fn read(mut pipe: impl Read + Send + 'static) -> Self {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = bytes.clone();
        let reader = thread::Builder::new()
            .name("daemon-output".into())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
                    }
                }
            })
            .expect("spawn an output reader");
        Captured {
            bytes,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Waits (briefly) until the writer closed the pipe and everything was read.
    fn finish(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The complete lines of `text`: a line still being written is left out.
pub fn complete_lines(text: &str) -> Vec<&str> {
    match text.rfind('\n') {
        Some(end) => text[..end].lines().collect(),
        None => Vec::new(),
    }
}

/// How a daemon ended.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
}

/// A running (or finished) `flowstate run`. Killed when dropped.
pub struct Daemon {
    command: String,
    child: Child,
    exited: Option<ExitStatus>,
    stdout: Captured,
    stderr: Captured,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed to stdout so far (alerts of the stdout notifier).
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Everything logged to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// The complete non-empty lines printed to stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        lines_of(&self.stdout())
    }

    /// The complete non-empty lines logged to stderr so far.
    pub fn log_lines(&self) -> Vec<String> {
        lines_of(&self.stderr())
    }

    /// The log lines that contain every one of `parts`.
    pub fn log_lines_with(&self, parts: &[&str]) -> Vec<String> {
        self.log_lines()
            .into_iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .collect()
    }

    /// Waits until a complete stderr line satisfies `matches`, and returns it. Fails the test,
    /// showing all output, if the daemon exits first or [`DEADLINE`] passes.
    #[track_caller]
    pub fn wait_for_log(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        match self.wait_for_line(what, Stream::Stderr, matches) {
            Some(line) => line,
            None => panic!("the daemon exited while waiting until {what}:\n{self}"),
        }
    }

    /// Like [`Daemon::wait_for_log`], but `None` when the daemon exits without such a line.
    #[track_caller]
    pub fn wait_for_log_or_exit(
        &mut self,
        what: &str,
        matches: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.wait_for_line(what, Stream::Stderr, matches)
    }

    /// Waits until a complete stdout line satisfies `matches`, and returns it.
    #[track_caller]
    pub fn wait_for_stdout(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        match self.wait_for_line(what, Stream::Stdout, matches) {
            Some(line) => line,
            None => panic!("the daemon exited while waiting until {what}:\n{self}"),
        }
    }

    /// The first complete line of `stream` that `matches`; `None` once the daemon has exited
    /// without printing one. Fails the test after [`DEADLINE`].
    #[track_caller]
    fn wait_for_line(
        &mut self,
        what: &str,
        stream: Stream,
        matches: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let find = |daemon: &Daemon| {
            let text = match stream {
                Stream::Stdout => daemon.stdout(),
                Stream::Stderr => daemon.stderr(),
            };
            complete_lines(&text)
                .into_iter()
                .find(|l| matches(l))
                .map(str::to_string)
        };
        let found = wait_for(DEADLINE, what, || {
            if let Some(line) = find(self) {
                return Some(Some(line));
            }
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.exited = Some(status);
                    Some(None)
                }
                _ => None,
            }
        });
        match found {
            Ok(Some(line)) => Some(line),
            Ok(None) => {
                // Exited: read what the pipes still held before deciding.
                self.stdout.finish();
                self.stderr.finish();
                find(self)
            }
            Err(timed_out) => panic!("{timed_out}\n{self}"),
        }
    }

    /// The API's address, from the daemon's `API listening` log line (text or JSON); waits for
    /// the line.
    #[track_caller]
    pub fn api(&mut self) -> SocketAddr {
        let line = self.wait_for_log("the daemon logs `API listening`", |line| {
            line.contains("API listening")
        });
        listen_address(&line)
            .unwrap_or_else(|| panic!("no address in the `API listening` line {line:?}\n{self}"))
    }

    /// `GET path` on the API.
    #[track_caller]
    pub fn get(&mut self, path: &str) -> Answer {
        let api = self.api();
        http_get(api, path)
            .unwrap_or_else(|e| panic!("GET {path} from the daemon's API failed: {e}\n{self}"))
    }

    /// `METHOD path` on the API with extra request headers (and an empty body).
    #[track_caller]
    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let api = self.api();
        http_request(api, method, path, headers, "")
            .unwrap_or_else(|e| panic!("{method} {path} to the daemon's API failed: {e}\n{self}"))
    }

    /// `GET path` on the API, which must answer 200 with JSON.
    #[track_caller]
    pub fn json(&mut self, path: &str) -> Value {
        let answer = self.get(path);
        assert_eq!(answer.status, 200, "GET {path}: {answer}\n{self}");
        answer
            .json()
            .unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {answer}\n{self}"))
    }

    /// `GET /api/v1/hosts`: every host.
    #[track_caller]
    pub fn hosts(&mut self) -> Vec<Value> {
        match self.json("/api/v1/hosts") {
            Value::Array(hosts) => hosts,
            other => panic!("/api/v1/hosts is not an array: {other}\n{self}"),
        }
    }

    /// `GET /api/v1/hosts/{label}`: one host with its history.
    #[track_caller]
    pub fn host(&mut self, label: &str) -> Value {
        self.json(&format!("/api/v1/hosts/{label}"))
    }

    /// Polls `/api/v1/hosts/{label}` until `condition` holds for it, and returns it. A host the
    /// API does not know (yet) counts as not holding.
    #[track_caller]
    pub fn wait_for_host(
        &mut self,
        label: &str,
        what: &str,
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        let api = self.api();
        let path = format!("/api/v1/hosts/{label}");
        let found = wait_for(DEADLINE, &format!("host {label:?} {what}"), || {
            let host = http_get(api, &path)
                .ok()
                .filter(|answer| answer.status == 200)
                .and_then(|answer| answer.json().ok());
            match host {
                Some(host) if condition(&host) => Some(Some(host)),
                // A daemon that exited will not change its mind.
                _ => match self.child.try_wait() {
                    Ok(Some(status)) => {
                        self.exited = Some(status);
                        Some(None)
                    }
                    _ => None,
                },
            }
        });
        match found {
            Ok(Some(host)) => host,
            Ok(None) => {
                self.stdout.finish();
                self.stderr.finish();
                panic!("the daemon exited while waiting until host {label:?} {what}\n{self}")
            }
            Err(timed_out) => {
                let last = http_get(api, &path)
                    .map(|a| a.to_string())
                    .unwrap_or_else(|e| e.to_string());
                panic!("{timed_out}\nlast answer: {last}\n{self}")
            }
        }
    }

    /// Polls host `label` until it has run at least `checks` checks, and returns it.
    #[track_caller]
    pub fn wait_for_checks(&mut self, label: &str, checks: u64) -> Value {
        self.wait_for_host(label, &format!("has run {checks} checks"), |h| {
            h["checks"].as_u64().is_some_and(|n| n >= checks)
        })
    }

    /// Polls host `label` until its status is `status`, and returns it.
    #[track_caller]
    pub fn wait_for_status(&mut self, label: &str, status: &str) -> Value {
        self.wait_for_host(label, &format!("is {status}"), |h| h["status"] == status)
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`, `KILL`) with `kill(1)`.
    #[track_caller]
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(
            status.success(),
            "kill -{name} {} failed: {status}",
            self.pid()
        );
    }

    /// Waits for the daemon to exit, at most `within`; kills it and fails the test otherwise.
    /// All output is read by the time this returns.
    #[track_caller]
    pub fn wait_exit(&mut self, within: Duration) -> Exit {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.exited {
                break status;
            }
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                self.exited = Some(status);
                break status;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                self.exited = self.child.wait().ok();
                self.stdout.finish();
                self.stderr.finish();
                panic!("the daemon was still running {within:?} later; killed it\n{self}");
            }
            thread::sleep(Duration::from_millis(5));
        };
        self.stdout.finish();
        self.stderr.finish();
        Exit {
            code: status.code(),
        }
    }

    /// Sends `signal` and waits (at most [`DEADLINE`]) for the daemon to exit.
    #[track_caller]
    pub fn stop(&mut self, signal: &str) -> Exit {
        self.signal(signal);
        self.wait_exit(DEADLINE)
    }
}

/// Shows the command, its state and all its output so far: for failure messages.
impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.exited {
            Some(status) => format!("exited with {status}"),
            None => format!("pid {}", self.child.id()),
        };
        write!(
            f,
            "`{}` ({state})\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.command,
            self.stdout(),
            self.stderr()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn lines_of(text: &str) -> Vec<String> {
    complete_lines(text)
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The address of an `API listening` line: `listen=ADDR` in text, `"listen":"ADDR"` in JSON.
fn listen_address(line: &str) -> Option<SocketAddr> {
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) {
        return object.get("listen")?.as_str()?.parse().ok();
    }
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("listen="))?
        .trim_matches('"')
        .parse()
        .ok()
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.body)
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.status, self.body)
    }
}

/// `GET path` over a fresh HTTP/1.1 connection (`Connection: close`), read to the end.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

/// `METHOD path` with extra request headers and a body, over a fresh HTTP/1.1 connection
/// (`Connection: close`), read to the end: for `POST /-/reload` and `Authorization` headers.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_is_read_from_text_and_json_lines() {
        let text = "2026-01-01T00:00:00.000Z INFO  API listening listen=127.0.0.1:4321";
        assert_eq!(
            listen_address(text),
            Some("127.0.0.1:4321".parse().unwrap())
        );
        let json = r#"{"level":"info","listen":"127.0.0.1:99","msg":"API listening"}"#;
        assert_eq!(listen_address(json), Some("127.0.0.1:99".parse().unwrap()));
        assert_eq!(listen_address("API listening"), None);
    }

    #[test]
    fn answers_are_parsed_plain_and_chunked() {
        let plain = parse_answer(b"HTTP/1.1 404 Not Found\r\nContent-Type: x\r\n\r\n{}").unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (404, "{}"));
        assert_eq!(plain.header("content-type"), Some("x"));
        let chunked = parse_answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, "abcde");
    }

    #[test]
    fn only_complete_lines_count() {
        assert_eq!(complete_lines("a\nb\npart"), ["a", "b"]);
        assert!(complete_lines("part").is_empty());
        assert_eq!(complete_lines("a\n"), ["a"]);
    }
}
