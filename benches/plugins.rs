//! The plugin benchmark (SPEC §11, docs/plugins.md): what a check costs when a plugin runs it,
//! next to the same check built in.
//!
//! `cargo bench --bench plugins` (env: `HOSTS`, default 1000, each checked every `INTERVAL`
//! seconds, default 1; `TARGETS`, default 100 loopback targets the hosts are spread over;
//! `SECONDS`, the measured window, default 20). It builds the SDK's example plugin
//! (`plugin/examples/tcp_check.rs`, release), then runs the daemon twice over the same hosts:
//! once as built-in `type: tcp` checks, once as `type: tcp-plugin` checks answered by the
//! example over the plugin protocol. For each it reports checks/s against nominal, failed
//! checks, CPU time per check of the daemon and (for the plugin) of the plugin's process, and
//! the daemon's peak RSS.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::{cpu_seconds, env_number, free_port, get_json, peak_rss_mib, start_targets};

/// One run's figures.
struct Figures {
    rate: f64,
    failures: u64,
    daemon_ms_per_check: f64,
    plugin_ms_per_check: Option<f64>,
    rss_mib: f64,
}

fn totals(api: &str) -> Option<(u64, u64)> {
    let hosts = get_json(api, "/api/v1/hosts")?;
    let hosts = hosts.as_array()?;
    let sum = |key: &str| hosts.iter().filter_map(|h| h[key].as_u64()).sum::<u64>();
    Some((sum("checks"), sum("failures")))
}

/// The example plugin, built in release mode beside the benchmark.
fn build_example() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "flowstate-plugin",
            "--example",
            "tcp_check",
        ])
        .current_dir(root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the example plugin failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("release/examples/tcp_check")
}

/// The processes whose parent is `pid` (the plugin's, for the daemon).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            support::proc_stat_fields(*child).get(1).map(String::as_str) == Some(&pid.to_string())
        })
        .collect()
}

fn run(
    hosts: usize,
    interval: u64,
    ports: &[u16],
    window: Duration,
    plugin: Option<&Path>,
) -> Figures {
    let api_port = free_port();
    let dir = std::env::temp_dir().join(format!("flowstate-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut yaml = format!(
        "server: {{ listen: \"127.0.0.1:{api_port}\" }}\nstate: {{ history: 10 }}\ndefaults: {{ interval: {interval}s, timeout: 1s }}\n"
    );
    if let Some(program) = plugin {
        let _ = writeln!(
            yaml,
            "plugins:\n  tcp-plugin: {{ command: [\"{}\"] }}",
            program.display()
        );
    }
    yaml.push_str("hosts:\n");
    for i in 0..hosts {
        let port = ports[i % ports.len()];
        let _ = match plugin {
            Some(_) => writeln!(
                yaml,
                "  - {{ label: h{i}, type: tcp-plugin, settings: {{ address: \"127.0.0.1:{port}\" }} }}"
            ),
            None => writeln!(yaml, "  - {{ label: h{i}, type: tcp, address: \"127.0.0.1:{port}\" }}"),
        };
    }
    let config = dir.join("plugins.yaml");
    std::fs::write(&config, yaml).expect("write config");
    let daemon = support::spawn_daemon(&config);
    let pid = daemon.0.id();
    let api = format!("http://127.0.0.1:{api_port}");
    support::wait_until_every_host_checked(hosts, Duration::from_secs(60), || {
        get_json(&api, "/api/v1/hosts")
    });
    let plugin_pids = children(pid);
    let plugin_cpu = |pids: &[u32]| -> f64 {
        pids.iter()
            .map(|p| {
                let (user, system) = cpu_seconds(*p);
                user + system
            })
            .sum()
    };
    let (checks0, failures0) = totals(&api).expect("read totals");
    let (user0, system0) = cpu_seconds(pid);
    let plugin0 = plugin_cpu(&plugin_pids);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let (checks1, failures1) = totals(&api).expect("read totals");
    let (user1, system1) = cpu_seconds(pid);
    let plugin1 = plugin_cpu(&plugin_pids);
    let elapsed = t0.elapsed().as_secs_f64();
    let rss_mib = peak_rss_mib(pid);
    drop(daemon);
    let checks = (checks1 - checks0).max(1) as f64;
    Figures {
        rate: checks / elapsed,
        failures: failures1 - failures0,
        daemon_ms_per_check: ((user1 + system1) - (user0 + system0)) * 1000.0 / checks,
        plugin_ms_per_check: plugin.map(|_| (plugin1 - plugin0) * 1000.0 / checks),
        rss_mib,
    }
}

fn main() {
    let hosts = env_number("HOSTS", 1_000) as usize;
    let interval = env_number("INTERVAL", 1).max(1);
    let targets = (env_number("TARGETS", 100) as usize).clamp(1, hosts.max(1));
    let window = Duration::from_secs(env_number("SECONDS", 20));
    let plugin = build_example();
    let ports = start_targets(targets);
    let nominal = hosts as f64 / interval as f64;
    println!(
        "{hosts} hosts every {interval}s ({nominal:.0} checks/s nominal), {}s window",
        window.as_secs()
    );
    for (name, program) in [
        ("built-in tcp", None),
        ("tcp plugin (Rust SDK example)", Some(plugin.as_path())),
    ] {
        let f = run(hosts, interval, &ports, window, program);
        println!(
            "{name:32} {:8.0} checks/s ({:5.1}% of nominal), {} failed, daemon {:.3} ms CPU/check{}, peak RSS {:.0} MiB",
            f.rate,
            100.0 * f.rate / nominal,
            f.failures,
            f.daemon_ms_per_check,
            f.plugin_ms_per_check
                .map(|ms| format!(", plugin {ms:.3} ms CPU/check"))
                .unwrap_or_default(),
            f.rss_mib,
        );
    }
}
