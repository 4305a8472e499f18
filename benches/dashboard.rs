//! A measurement, not a timed test: how big the dashboard (`GET /`) is with many hosts, and
//! how long headless Chromium takes to show it.
//!
//! `cargo bench --bench dashboard` (env: `HOSTS`, default 10000; `RUNS`, page loads measured,
//! default 5; `STATE=1` to keep a SQLite store so availability columns are filled). It starts
//! loopback TCP targets in this process (a tenth of the hosts point at a closed port, so they
//! are down), the release `flowstate run` as a child with every host in one of 20 groups,
//! waits until every host was checked, then reports the size of `/` (and gzip-compressed, as a
//! proxy would send it) and, over `RUNS` loads in a fresh tab each, the time to the response's
//! end, to `DOMContentLoaded`, to `load` and to the first contentful paint, from the browser's
//! own Navigation Timing. Target: `load` under 1 s at 10 000 hosts.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::{env_number, free_port};

#[path = "../tests/common/browser.rs"]
#[allow(dead_code)]
mod browser;
use browser::Browser;

/// `count` listeners that accept connections and close them: enough for `type: tcp`.
fn start_targets(count: usize) -> Vec<u16> {
    (0..count)
        .map(|_| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback target");
            let port = listener.local_addr().expect("target address").port();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    drop(stream);
                }
            });
            port
        })
        .collect()
}

/// `GET path` over HTTP/1.0: the body, read to the end.
fn get(port: u16, path: &str) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    // `HTTP/1.0 200` or `HTTP/1.1 200`.
    (raw.get(8..13) == Some(b" 200 ".as_slice())).then(|| raw[split + 4..].to_vec())
}

fn gzip_size(bytes: &[u8]) -> Option<usize> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    Some(output.stdout.len())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let hosts = env_number("HOSTS", 10_000) as usize;
    let runs = env_number("RUNS", 5).max(1) as usize;
    let ports = start_targets(50);
    let closed = free_port();
    let api_port = free_port();
    let dir = std::env::temp_dir().join(format!("flowstate-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let state = if std::env::var("STATE").is_ok_and(|v| v == "1") {
        format!(
            "state: {{ path: \"{}\" }}\n",
            dir.join("state.db").display()
        )
    } else {
        String::new()
    };
    let mut yaml = format!(
        "server: {{ listen: \"127.0.0.1:{api_port}\" }}\n{state}defaults: {{ interval: 10s, timeout: 2s, failure_threshold: 1 }}\nhosts:\n"
    );
    for i in 0..hosts {
        let port = if i % 10 == 9 {
            closed
        } else {
            ports[i % ports.len()]
        };
        let _ = writeln!(
            yaml,
            "  - {{ label: host-{i:05}, type: tcp, address: \"127.0.0.1:{port}\", group: group-{:02} }}",
            i % 20
        );
    }
    let config = dir.join("dashboard.yaml");
    std::fs::write(&config, yaml).expect("write config");
    let daemon = support::spawn_daemon(&config);

    // Every host checked at least once: the page then has a status and a sparkline for each.
    support::wait_until_every_host_checked(hosts, Duration::from_secs(90), || {
        get(api_port, "/api/v1/hosts").and_then(|body| serde_json::from_slice(&body).ok())
    });

    let started = Instant::now();
    let page = get(api_port, "/").expect("GET / answers 200");
    let served_ms = started.elapsed().as_secs_f64() * 1000.0;
    let gzipped = gzip_size(&page);

    let browser = Browser::start(1280, 800);
    let url = format!("http://127.0.0.1:{api_port}/");
    let mut timings: Vec<[f64; 4]> = Vec::new();
    for _ in 0..runs {
        browser.goto("about:blank");
        browser.goto(&url);
        let entry = browser.wait_for(
            "the page has loaded",
            "const n = performance.getEntriesByType('navigation')[0]; \
             const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             return n && n.loadEventEnd > 0 ? [n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd, p ? p.startTime : -1] : null;",
        );
        let number = |i: usize| entry[i].as_f64().unwrap_or(f64::NAN);
        timings.push([number(0), number(1), number(2), number(3)]);
    }
    let rows = browser.run(
        "return document.querySelectorAll('#hosts tbody tr').length",
        vec![],
    );
    drop(browser);
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);

    let column = |i: usize| median(timings.iter().map(|t| t[i]).collect());
    println!("flowstate dashboard: {hosts} hosts, {rows} rows in the page, {runs} loads in headless Chromium");
    println!(
        "  GET /               {:.2} MB ({} bytes){}, served in {served_ms:.0} ms",
        page.len() as f64 / 1e6,
        page.len(),
        gzipped
            .map(|g| format!(", {:.2} MB gzip-compressed", g as f64 / 1e6))
            .unwrap_or_default()
    );
    println!("  response end        {:.0} ms (median)", column(0));
    println!("  DOMContentLoaded    {:.0} ms (median)", column(1));
    println!(
        "  load                {:.0} ms (median; target under 1000 ms)",
        column(2)
    );
    println!(
        "  first paint         {:.0} ms (median, first contentful paint)",
        column(3)
    );
    for (i, t) in timings.iter().enumerate() {
        println!(
            "    run {}: response {:.0} ms, DOMContentLoaded {:.0} ms, load {:.0} ms, FCP {:.0} ms",
            i + 1,
            t[0],
            t[1],
            t[2],
            t[3]
        );
    }
}
