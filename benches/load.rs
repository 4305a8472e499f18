//! The many-hosts load benchmark: the real daemon checking N loopback HTTP targets at 1 s.
//!
//! `cargo bench --bench load` (env: `HOSTS`, default 10000; `TARGETS`, default 1000 listening
//! ports the hosts are spread over; `SECONDS`, the measured window, default 30; `STATE=1` to
//! save state and history to a SQLite `state.path`, `STATE=pg` to a throwaway PostgreSQL
//! cluster started here, each adding one batched write per second). It starts the targets in
//! this process, the release `flowstate run` as a child, waits until every host has been
//! checked, then measures over the window: achieved checks/s against nominal, failed checks,
//! CPU time per check, peak RSS, and the scheduler's start lag p50/p99; with a store, also its
//! size, bytes per stored result, the projected size at `retention` with the default
//! retentions, and how long the history API takes. `TRACE_RATIO=1.0` (or `0.01`, ...) turns
//! OpenTelemetry tracing on at that `sample_ratio`, exporting over OTLP/HTTP to one of the
//! targets (which answers every post 200), to measure what tracing costs per check.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/mod.rs"]
mod support;
use support::{cpu_seconds, env_number, free_port, get_json, peak_rss_mib, start_targets};

#[path = "../actors/tests/common/postgres.rs"]
mod postgres_server;
use postgres_server::Postgres;

/// (checks, failures) summed over all hosts.
fn totals(api: &str) -> Option<(u64, u64)> {
    let hosts = get_json(api, "/api/v1/hosts")?;
    let hosts = hosts.as_array()?;
    let sum = |key: &str| hosts.iter().filter_map(|h| h[key].as_u64()).sum::<u64>();
    Some((sum("checks"), sum("failures")))
}

fn main() {
    // `cargo bench` passes `--bench`; filters do not apply to this benchmark.
    let hosts = env_number("HOSTS", 10_000) as usize;
    let targets = (env_number("TARGETS", 1_000) as usize).clamp(1, hosts.max(1));
    let window = Duration::from_secs(env_number("SECONDS", 30));

    let ports = start_targets(targets);
    let api_port = free_port();
    let dir = std::env::temp_dir().join(format!("flowstate-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = std::env::var("STATE").unwrap_or_default();
    let postgres = (store == "pg").then(Postgres::start);
    let state_path = match (&postgres, store.as_str()) {
        (Some(server), _) => format!(", url: \"{}\"", server.database("flowstate")),
        (None, "1") => format!(", path: \"{}\"", dir.join("state.db").display()),
        _ => String::new(),
    };
    let telemetry = match std::env::var("TRACE_RATIO") {
        Ok(ratio) => format!(
            "telemetry: {{ otlp: {{ endpoint: \"http://127.0.0.1:{}/v1/traces\", protocol: http/protobuf }}, sample_ratio: {ratio} }}\n",
            ports[0]
        ),
        Err(_) => String::new(),
    };
    let mut yaml = format!(
        "server: {{ listen: \"127.0.0.1:{api_port}\" }}\nstate: {{ history: 10{state_path} }}\n{telemetry}defaults: {{ interval: 1s, timeout: 1s }}\nhosts:\n"
    );
    for i in 0..hosts {
        let port = ports[i % ports.len()];
        let _ = writeln!(
            yaml,
            "  - {{ label: h{i}, url: \"http://127.0.0.1:{port}/h{i}\" }}"
        );
    }
    let config = dir.join("load.yaml");
    std::fs::write(&config, yaml).expect("write config");

    let daemon = support::spawn_daemon(&config);
    let pid = daemon.0.id();
    let api = format!("http://127.0.0.1:{api_port}");

    // Warm-up: every host checked at least once.
    support::wait_until_every_host_checked(hosts, Duration::from_secs(60), || {
        get_json(&api, "/api/v1/hosts")
    });

    let (checks0, failures0) = totals(&api).expect("read totals");
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let (checks1, failures1) = totals(&api).expect("read totals");
    let cpu1 = cpu_seconds(pid);
    let elapsed = t0.elapsed().as_secs_f64();
    let scheduler = get_json(&api, "/api/v1/scheduler").unwrap_or(Value::Null);
    let rss = peak_rss_mib(pid);

    // Reload with one host changed: how long until applied, and whether other hosts missed
    // a check meanwhile (skipped slots would show it).
    let skipped_before = scheduler["skipped_total"].as_u64().unwrap_or(0);
    let edited = std::fs::read_to_string(&config)
        .expect("read config")
        .replacen("/h0\"", "/h0-changed\"", 1);
    std::fs::write(&config, edited).expect("write config");
    let reload_started = Instant::now();
    let summary = post_json(&api, "/-/reload");
    let reload_ms = reload_started.elapsed().as_secs_f64() * 1000.0;
    let (checks_r0, _) = totals(&api).expect("read totals");
    let t_r0 = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let (checks_r1, _) = totals(&api).expect("read totals");
    let rate_after_reload = (checks_r1 - checks_r0) as f64 / t_r0.elapsed().as_secs_f64();
    let skipped_after = get_json(&api, "/api/v1/scheduler")
        .and_then(|v| v["skipped_total"].as_u64())
        .unwrap_or(0);

    // A file edit, the watcher's path: the whole file is read and validated while checks go
    // on, so the start lag over the edit shows whether result handling stalled. First let the
    // lag window (the last 65 536 starts, ~6.5 s at 10 000 checks/s) roll past the reload.
    std::thread::sleep(Duration::from_secs(7));
    let h1_url = |api: &str| {
        get_json(api, "/api/v1/config").and_then(|v| {
            let hosts = v["hosts"].as_array()?;
            let h1 = hosts.iter().find(|h| h["label"] == "h1")?;
            h1["settings"]["url"].as_str().map(String::from)
        })
    };
    let h1_before = h1_url(&api);
    let edited = std::fs::read_to_string(&config)
        .expect("read config")
        .replacen("/h1\"", "/h1-changed\"", 1);
    let edit_started = Instant::now();
    std::fs::write(&config, edited).expect("write config");
    let edit_deadline = edit_started + Duration::from_secs(30);
    while h1_url(&api) == h1_before && Instant::now() < edit_deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let edit_ms = edit_started.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(Duration::from_secs(1));
    let over_edit = get_json(&api, "/api/v1/scheduler").unwrap_or(Value::Null);
    let history_timings = history_timings(&api);
    let traces = trace_counts(&api);
    drop(daemon);
    let stored = stored_size(&dir, postgres.as_ref());

    let checks = (checks1 - checks0) as f64;
    let rate = checks / elapsed;
    let nominal = hosts as f64;
    println!("flowstate load benchmark: {hosts} hosts at 1 s over {targets} loopback targets, {elapsed:.1} s window");
    println!(
        "  checks/s          {rate:.0} of {nominal:.0} nominal ({:.2}%)",
        100.0 * rate / nominal
    );
    println!("  failed checks     {}", failures1 - failures0);
    let (user, system) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    println!(
        "  CPU per check     {:.4} ms ({:.4} user + {:.4} system; {:.2} CPU-seconds)",
        1000.0 * (user + system) / checks.max(1.0),
        1000.0 * user / checks.max(1.0),
        1000.0 * system / checks.max(1.0),
        user + system
    );
    println!("  peak RSS          {rss:.1} MiB");
    println!(
        "  start lag         p50 {} ms, p99 {} ms, max {} ms (last {} checks); skipped slots {}",
        scheduler["lag_p50_ms"],
        scheduler["lag_p99_ms"],
        scheduler["lag_max_ms"],
        scheduler["lag_samples"],
        scheduler["skipped_total"]
    );
    println!(
        "  reload, 1 of {hosts} hosts changed: applied in {reload_ms:.0} ms (POST /-/reload; changed: {}); checks/s in the 3 s after: {rate_after_reload:.0}; skipped slots during reload: {}",
        summary.map(|v| v["changed"].to_string()).unwrap_or_else(|| "?".into()),
        skipped_after.saturating_sub(skipped_before)
    );
    println!(
        "  file edit, 1 of {hosts} hosts changed: applied in {edit_ms:.0} ms (watcher: 250 ms debounce, then the load); start lag over the edit p99 {} ms, max {} ms; skipped slots {}",
        over_edit["lag_p99_ms"],
        over_edit["lag_max_ms"],
        over_edit["skipped_total"].as_u64().unwrap_or(0).saturating_sub(skipped_after)
    );
    if let Some(line) = history_timings {
        println!("{line}");
    }
    if let (Ok(ratio), Some(line)) = (std::env::var("TRACE_RATIO"), traces) {
        println!("  tracing           sample_ratio {ratio}: {line}");
    }
    if let Some(stored) = stored {
        // What the defaults keep at this rate: raw results for 7 days, per-minute rows for
        // 7 days and per-hour rows for 90, at the sizes measured in this run.
        let per_result = stored.results_bytes as f64 / stored.results.max(1) as f64;
        let per_row = stored.rollup_bytes as f64 / stored.rollup_rows.max(1) as f64;
        let raw = rate * 86_400.0 * 7.0 * per_result;
        let rows = nominal * (1440.0 * 7.0 + 24.0 * 90.0) * per_row;
        println!(
            "  store             {:.1} MiB in all: {} results ({per_result:.0} bytes each with their index), {} rollup rows ({per_row:.0} bytes each)",
            stored.total_bytes as f64 / 1_048_576.0,
            stored.results,
            stored.rollup_rows,
        );
        println!(
            "  projected         at 90 days with the default retentions: {:.1} GiB raw (7 d) + {:.2} GiB rollups (minute rows 7 d, hour rows 90 d); per day of raw results {:.2} GiB",
            raw / 1_073_741_824.0,
            rows / 1_073_741_824.0,
            raw / 7.0 / 1_073_741_824.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tracing pipeline's counters from `/metrics`, when tracing is on.
fn trace_counts(api: &str) -> Option<String> {
    let text = support::get_text(api, "/metrics")?;
    let value = |name: &str| {
        text.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some(format!(
        "{:.0} spans exported, {:.0} dropped (queue full), {:.0} dropped (export failed)",
        value("flowstate_trace_spans_exported_total"),
        value("flowstate_trace_spans_dropped_total{reason=\"queue_full\"}"),
        value("flowstate_trace_spans_dropped_total{reason=\"export_failed\"}"),
    ))
}

/// How long one host's 30-day uptime and the host list with availability take, when the
/// daemon keeps history.
fn history_timings(api: &str) -> Option<String> {
    let started = Instant::now();
    get_json(api, "/api/v1/hosts/h0/uptime?window=30d")?;
    let uptime_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    get_json(api, "/api/v1/hosts")?;
    let hosts_ms = started.elapsed().as_secs_f64() * 1000.0;
    Some(format!(
        "  history API       uptime?window=30d for one host {uptime_ms:.1} ms; /api/v1/hosts with availability {hosts_ms:.1} ms"
    ))
}

/// What the store held after the daemon stopped.
struct StoredSize {
    total_bytes: u64,
    results: u64,
    results_bytes: u64,
    rollup_rows: u64,
    rollup_bytes: u64,
}

/// The store's size, and that of its results and rollups, after the daemon stopped.
fn stored_size(dir: &std::path::Path, postgres: Option<&Postgres>) -> Option<StoredSize> {
    let number = |text: String| text.trim().parse::<u64>().ok();
    if let Some(server) = postgres {
        let ask = |sql: &str| number(server.psql("flowstate", sql));
        return Some(StoredSize {
            total_bytes: ask("SELECT pg_database_size('flowstate')")?,
            results: ask("SELECT COUNT(*) FROM results")?,
            results_bytes: ask("SELECT pg_total_relation_size('results')")?,
            rollup_rows: ask("SELECT COUNT(*) FROM rollups")?,
            rollup_bytes: ask("SELECT pg_total_relation_size('rollups')")?,
        });
    }
    let path = dir.join("state.db");
    if !path.exists() {
        return None;
    }
    let ask = |sql: &str| {
        let output = Command::new("sqlite3").arg(&path).arg(sql).output().ok()?;
        number(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    Some(StoredSize {
        total_bytes: ask("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")?,
        results: ask("SELECT COUNT(*) FROM results")?,
        results_bytes: ask("SELECT SUM(pgsize) FROM dbstat WHERE name = 'results'")?,
        rollup_rows: ask("SELECT COUNT(*) FROM rollups")?,
        rollup_bytes: ask("SELECT SUM(pgsize) FROM dbstat WHERE name = 'rollups'")?,
    })
}
fn post_json(api: &str, path: &str) -> Option<Value> {
    let url = format!("{api}{path}");
    actix_rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let mut response = client.post(url).send().await.ok()?;
        let body = response.body().limit(64 * 1024 * 1024).await.ok()?;
        serde_json::from_slice(&body).ok()
    })
}
