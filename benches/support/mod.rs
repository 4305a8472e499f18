//! What the benchmarks share (each includes this with `#[path]`): their knobs from the
//! environment, a free port for the daemon's API, the daemon stopped with SIGTERM when the
//! benchmark ends, and the wait until every host has been checked once, so a measurement
//! starts with the whole fleet running; also the loopback HTTP targets, the API's JSON and a
//! process's CPU time and peak RSS from `/proc`.

// Not every benchmark uses every helper (the dashboard's has targets of its own).
#![allow(dead_code)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The daemon under measurement: stopped with SIGTERM (and waited for) when dropped, so a
/// benchmark that fails half-way leaves no daemon behind.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// Starts `flowstate run -c config` (this build's binary; warnings and errors only on its
/// stderr, its stdout dropped).
pub fn spawn_daemon(config: &std::path::Path) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_flowstate"))
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the daemon");
    Daemon(child)
}

/// The number in `$name`, or `default` when it is unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `hosts_json` (the daemon's `/api/v1/hosts`, fetched however the bench talks HTTP)
/// until every one of `hosts` has run a check; panics after `within`.
pub fn wait_until_every_host_checked(
    hosts: usize,
    within: Duration,
    hosts_json: impl Fn() -> Option<Value>,
) {
    let deadline = Instant::now() + within;
    loop {
        let checked = hosts_json().and_then(|v| {
            v.as_array()
                .map(|a| a.iter().filter(|h| h["checks"].as_u64() > Some(0)).count())
        });
        if checked == Some(hosts) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every host was checked within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Starts `count` minimal HTTP targets on a thread of their own; returns their ports.
pub fn start_targets(count: usize) -> Vec<u16> {
    start_targets_on_one_thread(count, None)
        .recv()
        .expect("targets started")
}

/// Starts `count` minimal HTTP targets spread over `threads` threads of their own (one event
/// loop each), so that where the daemons under measurement take every core the targets still
/// get more than one thread's share of it; returns their ports.
///
/// Targets that fall behind hold their accepted connections open, and at tens of thousands
/// of checks a second that would exhaust this process's open files (then the benchmark
/// itself fails). So together they hold at most what the limit allows, with room for their
/// listeners and the benchmark's own files; beyond that, connections wait in the kernel's
/// accept queue, as they would at a real overloaded server.
pub fn start_targets_on_threads(count: usize, threads: usize) -> Vec<u16> {
    let threads = threads.clamp(1, count.max(1));
    let open_connections_per_thread =
        (open_files_limit().saturating_sub(count + 1_000) / threads).max(64);
    (0..threads)
        .map(|thread| count / threads + usize::from(thread < count % threads))
        .map(|targets| start_targets_on_one_thread(targets, Some(open_connections_per_thread)))
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|ports| ports.recv().expect("targets started"))
        .collect()
}

/// This process's soft limit of open files (`/proc/self/limits`), 1024 if unreadable.
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            let soft = line
                .trim_start_matches("Max open files")
                .split_whitespace()
                .next()?;
            // "unlimited" has no number: as good as no limit.
            Some(soft.parse().unwrap_or(usize::MAX))
        })
        .unwrap_or(1024)
}

/// Starts `count` targets on a new thread, holding at most `max_open_connections` accepted
/// connections at once (`None`: no limit); their ports arrive on the channel once bound.
fn start_targets_on_one_thread(
    count: usize,
    max_open_connections: Option<usize>,
) -> std::sync::mpsc::Receiver<Vec<u16>> {
    let (ports_tx, ports_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let permits = max_open_connections.map(|most| {
                std::sync::Arc::new(tokio::sync::Semaphore::new(
                    most.min(tokio::sync::Semaphore::MAX_PERMITS),
                ))
            });
            let mut ports = Vec::with_capacity(count);
            for _ in 0..count {
                let listener = actix_rt::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a loopback target");
                ports.push(listener.local_addr().expect("target address").port());
                let permits = permits.clone();
                actix_rt::spawn(async move {
                    loop {
                        let permit = match &permits {
                            Some(permits) => match permits.clone().acquire_owned().await {
                                Ok(permit) => Some(permit),
                                Err(_) => return,
                            },
                            None => None,
                        };
                        let Ok((mut stream, _)) = listener.accept().await else {
                            return;
                        };
                        actix_rt::spawn(async move {
                            // Held until the connection is closed.
                            let _permit = permit;
                            let mut buf = [0u8; 2048];
                            let mut seen = Vec::new();
                            // Read the request head, then answer and close.
                            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                                match stream.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                                }
                            }
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                                .await;
                            let _ = stream.shutdown().await;
                        });
                    }
                });
            }
            ports_tx.send(ports).expect("report ports");
            std::future::pending::<()>().await;
        });
    });
    ports_rx
}

/// The JSON the API at `api` answers for `GET path`; `None` on any failure (10 s timeout).
pub fn get_json(api: &str, path: &str) -> Option<Value> {
    serde_json::from_slice(&get_bytes(api, path)?).ok()
}

/// `GET {api}{path}` as text (`/metrics`).
#[allow(dead_code)] // Not every benchmark reads text.
pub fn get_text(api: &str, path: &str) -> Option<String> {
    String::from_utf8(get_bytes(api, path)?).ok()
}

fn get_bytes(api: &str, path: &str) -> Option<Vec<u8>> {
    let url = format!("{api}{path}");
    actix_rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish();
        let mut response = client.get(url).send().await.ok()?;
        let body = response.body().limit(64 * 1024 * 1024).await.ok()?;
        Some(body.to_vec())
    })
}

/// The fields of `/proc/<pid>/stat` after the parenthesised command name (which may hold
/// spaces): `[1]` is the parent's PID, `[11]` and `[12]` the process's user and system time,
/// `[13]` and `[14]` those of its children it has waited for, in clock ticks. Empty when the
/// process is gone.
pub fn proc_stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after.split_whitespace().map(String::from).collect()
}

/// (user, system) CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> (f64, f64) {
    let fields = proc_stat_fields(pid);
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let hz = clock_ticks_per_second();
    (ticks(11) / hz, ticks(12) / hz)
}

pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A process's peak resident set size (`VmHWM`), in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
