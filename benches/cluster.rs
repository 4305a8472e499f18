//! The cluster benchmark (SPEC §10, docs/cluster.md): three real agents, one per location
//! (`eu`, `us`, `ap`), `quorum: 2`, against one throwaway PostgreSQL started here.
//!
//! `cargo bench --bench cluster` (env: `HOSTS`, default 10000, every one checked every
//! `INTERVAL` seconds (default 1) by every agent, since each agent is the only one of its
//! location; `TARGETS`, default 1000
//! loopback HTTP targets the hosts are spread over; `SECONDS`, the measured window, default
//! 30). It starts the targets in this process, PostgreSQL (`postgresql` from Debian, as the
//! tests use it), and three release `flowstate run` agents sharing one configuration file,
//! each with its own `LOCATION` and `API_PORT`. Once every agent has checked every host and
//! one of them leads, it measures over the window:
//!
//! - per agent: checks/s against nominal (`HOSTS`), failed checks, CPU time per check, peak
//!   RSS, start lag and skipped slots, and whether it leads (the leader also judges every host
//!   by quorum once a second);
//! - PostgreSQL: commits, rows written and rows read per second (`pg_stat_database`, with the
//!   busiest tables from `pg_stat_user_tables`) and the CPU time of its processes;
//! - how long `GET /api/v1/hosts` takes on an agent that does not lead (every host, merged with
//!   the quorum's verdicts read from the database).
//!
//! Then it stops the agents with SIGTERM and checks they left the cluster cleanly.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/mod.rs"]
mod support;
use support::{
    clock_ticks_per_second, cpu_seconds, env_number, free_port, get_json, peak_rss_mib,
    proc_stat_fields, start_targets_on_threads, Daemon,
};

#[path = "../actors/tests/common/postgres.rs"]
mod postgres_server;
use postgres_server::Postgres;

/// One agent per location: each checks every host of its location, here all of them.
const LOCATIONS: [&str; 3] = ["eu", "us", "ap"];
/// Down once two locations see a host failing.
const QUORUM: usize = 2;
/// Timed `GET /api/v1/hosts` requests on the agent that does not lead.
const HOSTS_LIST_REQUESTS: usize = 5;

/// One running agent and where to reach it.
struct Agent {
    location: &'static str,
    api: String,
    log: std::path::PathBuf,
    /// Stops the agent with SIGTERM when the agent is dropped.
    daemon: Daemon,
}

impl Agent {
    fn pid(&self) -> u32 {
        self.daemon.0.id()
    }
}

/// What an agent had done at one instant: the ends of its measured window.
struct AgentSample {
    at: Instant,
    checks: u64,
    failures: u64,
    cpu_user: f64,
    cpu_system: f64,
    skipped_slots: u64,
    /// Hosts whose last check failed, by the check's detail, most frequent first.
    last_check_failures: Vec<(String, usize)>,
}

/// The database-wide counters of `pg_stat_database` for the agents' database.
struct DatabaseCounters {
    commits: u64,
    rollbacks: u64,
    inserted: u64,
    updated: u64,
    deleted: u64,
    returned: u64,
    fetched: u64,
}

/// Rows written and read per table, from `pg_stat_user_tables`.
type TableCounters = Vec<(String, u64, u64)>;

/// The counters and the server's CPU time at one end of the window.
struct PostgresSample {
    at: Instant,
    database: DatabaseCounters,
    tables: TableCounters,
    cpu_seconds: f64,
    processes: usize,
}

fn main() {
    // `cargo bench` passes `--bench`; filters do not apply to this benchmark.
    let hosts = env_number("HOSTS", 10_000) as usize;
    let targets = (env_number("TARGETS", 1_000) as usize).clamp(1, hosts.max(1));
    let window = Duration::from_secs(env_number("SECONDS", 30));
    let interval = env_number("INTERVAL", 1).max(1);

    // Three agents share the machine with the targets: a thread per core gives the targets
    // a fairer share of it than the load benchmark's one thread (see start_targets_on_threads).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ports = start_targets_on_threads(targets, cores);
    // Declared before the agents, so that on a panic the agents are dropped (stopped) first.
    let postgres = Postgres::start();
    let database_url = postgres.database("flowstate");
    let postmaster = postmaster_pid(&postgres);

    let dir = std::env::temp_dir().join(format!("flowstate-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("cluster.yaml");
    std::fs::write(
        &config,
        cluster_config(&database_url, hosts, interval, &ports),
    )
    .expect("write config");

    let agents: Vec<Agent> = LOCATIONS
        .iter()
        .map(|location| start_agent(location, &config, &dir))
        .collect();

    // Warm-up: every agent has checked every host once (at 10 000 hosts × 3 agents on a small
    // machine the first round can be slow), and the agents have elected a leader.
    for agent in &agents {
        support::wait_until_every_host_checked(hosts, Duration::from_secs(300), || {
            get_json(&agent.api, "/api/v1/hosts")
        });
    }
    let leader_at_start = wait_for_one_leader(&agents, Duration::from_secs(60));

    // The database's window lies inside every agent's, so that reading an agent's host list
    // (which itself reads verdicts from the database) is not counted as the cluster's load.
    let agents_at_start: Vec<AgentSample> = agents.iter().map(sample_agent).collect();
    let postgres_at_start = sample_postgres(&postgres, postmaster);
    let own_cpu_at_start = cpu_seconds(std::process::id());
    std::thread::sleep(window);
    let own_cpu_at_end = cpu_seconds(std::process::id());
    let postgres_at_end = sample_postgres(&postgres, postmaster);
    let agents_at_end: Vec<AgentSample> = agents.iter().map(sample_agent).collect();
    let leader_at_end = leader_index(&agents);
    let scheduler: Vec<Value> = agents
        .iter()
        .map(|a| get_json(&a.api, "/api/v1/scheduler").unwrap_or(Value::Null))
        .collect();
    let peak_rss: Vec<f64> = agents.iter().map(|a| peak_rss_mib(a.pid())).collect();

    // The host list on an agent that does not lead: every host with the quorum's verdicts.
    let follower = (0..agents.len())
        .find(|&i| Some(i) != leader_at_end)
        .expect("an agent that does not lead");
    let hosts_list = time_hosts_list(&agents[follower].api);

    // Stop the agents (SIGTERM, each waited for), then see that they left the cluster: a
    // cleanly stopped agent deletes its row in `cluster_agents`.
    let logs: Vec<(&str, std::path::PathBuf)> =
        agents.iter().map(|a| (a.location, a.log.clone())).collect();
    let stop_started = Instant::now();
    drop(agents);
    let stop_ms = stop_started.elapsed().as_secs_f64() * 1000.0;
    let agents_left = postgres.psql("flowstate", "SELECT COUNT(*) FROM cluster_agents");

    let window_seconds = postgres_at_end
        .at
        .duration_since(postgres_at_start.at)
        .as_secs_f64();
    println!(
        "flowstate cluster benchmark: {} agents ({}), quorum {QUORUM}, {hosts} hosts every {interval} s each over {targets} loopback targets, {window_seconds:.1} s window",
        LOCATIONS.len(),
        LOCATIONS.join(", ")
    );
    let mut agents_cpu_per_second = 0.0;
    for (i, (location, log)) in logs.iter().enumerate() {
        let (start, end) = (&agents_at_start[i], &agents_at_end[i]);
        let seconds = end.at.duration_since(start.at).as_secs_f64();
        let checks = (end.checks - start.checks) as f64;
        let rate = checks / seconds;
        let nominal = hosts as f64 / interval as f64;
        let user = end.cpu_user - start.cpu_user;
        let system = end.cpu_system - start.cpu_system;
        agents_cpu_per_second += (user + system) / seconds;
        let role = match (leader_at_start == i, leader_at_end == Some(i)) {
            (true, true) => "leader: also judges every host by quorum each second",
            (false, false) => "not leading",
            (false, true) => "became the leader during the window",
            (true, false) => "led at the start of the window, not at its end",
        };
        println!("  agent {location} ({role})");
        println!(
            "    checks/s        {rate:.0} of {nominal:.0} nominal ({:.2}%) over {seconds:.1} s",
            100.0 * rate / nominal
        );
        println!(
            "    failed checks   {}; at the end, last check failed on {} hosts{}",
            end.failures - start.failures,
            end.last_check_failures
                .iter()
                .map(|(_, n)| n)
                .sum::<usize>(),
            end.last_check_failures
                .iter()
                .take(2)
                .map(|(detail, hosts)| format!("; {hosts}: {detail}"))
                .collect::<String>()
        );
        println!(
            "    CPU per check   {:.4} ms ({:.4} user + {:.4} system; {:.2} CPU-seconds/s)",
            1000.0 * (user + system) / checks.max(1.0),
            1000.0 * user / checks.max(1.0),
            1000.0 * system / checks.max(1.0),
            (user + system) / seconds
        );
        println!("    peak RSS        {:.1} MiB", peak_rss[i]);
        let stats = &scheduler[i];
        println!(
            "    start lag       p50 {} ms, p99 {} ms, max {} ms (last {} checks); skipped slots in the window {}",
            stats["lag_p50_ms"],
            stats["lag_p99_ms"],
            stats["lag_max_ms"],
            stats["lag_samples"],
            end.skipped_slots.saturating_sub(start.skipped_slots)
        );
        println!("    log             {}", log_summary(log));
    }

    let (start, end) = (&postgres_at_start.database, &postgres_at_end.database);
    let per_second = |delta: u64| delta as f64 / window_seconds;
    let (inserted, updated, deleted) = (
        end.inserted - start.inserted,
        end.updated - start.updated,
        end.deleted - start.deleted,
    );
    let (returned, fetched) = (end.returned - start.returned, end.fetched - start.fetched);
    let postgres_cpu_per_second =
        (postgres_at_end.cpu_seconds - postgres_at_start.cpu_seconds) / window_seconds;
    println!("  PostgreSQL (database flowstate)");
    println!(
        "    commits/s       {:.0} ({:.1} rollbacks/s)",
        per_second(end.commits - start.commits),
        per_second(end.rollbacks - start.rollbacks)
    );
    println!(
        "    rows written/s  {:.0} ({:.0} inserted + {:.0} updated + {:.0} deleted)",
        per_second(inserted + updated + deleted),
        per_second(inserted),
        per_second(updated),
        per_second(deleted)
    );
    println!(
        "    rows read/s     {:.0} returned (scanned), {:.0} fetched (by index)",
        per_second(returned),
        per_second(fetched)
    );
    println!(
        "    by table        {}",
        busiest_tables(
            &postgres_at_start.tables,
            &postgres_at_end.tables,
            window_seconds
        )
    );
    println!(
        "    server CPU      {postgres_cpu_per_second:.2} CPU-seconds/s ({} processes at the end)",
        postgres_at_end.processes
    );

    match hosts_list {
        Some(list) => println!(
            "  GET /api/v1/hosts on agent {} (not leading): median {:.1} ms, min {:.1} ms, max {:.1} ms over {HOSTS_LIST_REQUESTS} requests; {:.2} MiB, {} hosts ({} elsewhere, {} up by quorum)",
            LOCATIONS[follower],
            list.median_ms,
            list.min_ms,
            list.max_ms,
            list.bytes as f64 / 1_048_576.0,
            list.hosts,
            list.elsewhere,
            list.up_by_quorum
        ),
        None => println!(
            "  GET /api/v1/hosts on agent {} (not leading): failed",
            LOCATIONS[follower]
        ),
    }
    let targets_cpu_per_second =
        (own_cpu_at_end.0 + own_cpu_at_end.1 - own_cpu_at_start.0 - own_cpu_at_start.1)
            / window_seconds;
    println!(
        "  machine CPU       {:.2} of {cores} cores: agents {agents_cpu_per_second:.2} + PostgreSQL {postgres_cpu_per_second:.2} + targets (this process) {targets_cpu_per_second:.2}",
        agents_cpu_per_second + postgres_cpu_per_second + targets_cpu_per_second
    );
    println!(
        "  stopped           {} agents with SIGTERM in {stop_ms:.0} ms; rows left in cluster_agents: {agents_left}",
        LOCATIONS.len()
    );
    drop(postgres);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One configuration for every agent: its location and API port come from the environment
/// (`LOCATION`, `API_PORT`), so the agents run the same file and agree on its hash.
fn cluster_config(database_url: &str, hosts: usize, interval: u64, ports: &[u16]) -> String {
    // `timeout` may not exceed `interval` (checks would pile up), so 1 s, as in the load
    // benchmark.
    let mut yaml = format!(
        "server: {{ listen: \"127.0.0.1:${{API_PORT}}\" }}\n\
         cluster: {{ url: \"{database_url}\", location: \"${{LOCATION}}\", quorum: {QUORUM} }}\n\
         defaults: {{ interval: {interval}s, timeout: 1s, locations: [{}] }}\n\
         hosts:\n",
        LOCATIONS.join(", ")
    );
    for i in 0..hosts {
        let port = ports[i % ports.len()];
        let _ = writeln!(
            yaml,
            "  - {{ label: h{i}, url: \"http://127.0.0.1:{port}/h{i}\" }}"
        );
    }
    yaml
}

/// Starts the release `flowstate run` for `location`; its warnings go to `<location>.log`.
fn start_agent(location: &'static str, config: &Path, dir: &Path) -> Agent {
    let api_port = free_port();
    let log = dir.join(format!("{location}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_flowstate"))
        .args(["run", "-c"])
        .arg(config)
        .env("LOCATION", location)
        .env("API_PORT", api_port.to_string())
        // It would win over the file's `cluster.location`.
        .env_remove("FLOWSTATE_LOCATION")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create the agent's log"))
        .spawn()
        .expect("start an agent");
    Agent {
        location,
        api: format!("http://127.0.0.1:{api_port}"),
        log,
        daemon: Daemon(child),
    }
}

/// The agent that says it leads (`GET /api/v1/cluster` → `is_leader`), if exactly one does.
fn leader_index(agents: &[Agent]) -> Option<usize> {
    let leading: Vec<usize> = agents
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            get_json(&a.api, "/api/v1/cluster").is_some_and(|c| c["is_leader"] == true)
        })
        .map(|(i, _)| i)
        .collect();
    (leading.len() == 1).then(|| leading[0])
}

/// Waits until one agent leads and every agent sees all of them live; panics after `within`.
fn wait_for_one_leader(agents: &[Agent], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let everyone_seen = agents.iter().all(|a| {
            get_json(&a.api, "/api/v1/cluster").and_then(|c| c["agents"].as_array().map(Vec::len))
                == Some(agents.len())
        });
        if let (true, Some(leader)) = (everyone_seen, leader_index(agents)) {
            return leader;
        }
        assert!(
            Instant::now() < deadline,
            "no single leader seen by {} live agents within {within:?}",
            agents.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn sample_agent(agent: &Agent) -> AgentSample {
    let hosts = get_json(&agent.api, "/api/v1/hosts").expect("read the agent's hosts");
    let at = Instant::now();
    let (cpu_user, cpu_system) = cpu_seconds(agent.pid());
    let skipped_slots = get_json(&agent.api, "/api/v1/scheduler")
        .and_then(|s| s["skipped_total"].as_u64())
        .unwrap_or(0);
    // Only the hosts this agent checks: another agent's counters are that agent's.
    let checked_here: Vec<&Value> = hosts
        .as_array()
        .expect("a list of hosts")
        .iter()
        .filter(|h| h["elsewhere"] != true)
        .collect();
    let sum = |key: &str| checked_here.iter().filter_map(|h| h[key].as_u64()).sum();
    let mut last_check_failures: Vec<(String, usize)> = Vec::new();
    for check in checked_here.iter().map(|h| &h["last_check"]) {
        if check["ok"] != false {
            continue;
        }
        let detail = check["detail"].as_str().unwrap_or("?");
        match last_check_failures.iter_mut().find(|(d, _)| d == detail) {
            Some((_, hosts)) => *hosts += 1,
            None => last_check_failures.push((detail.to_string(), 1)),
        }
    }
    last_check_failures.sort_by_key(|(_, hosts)| std::cmp::Reverse(*hosts));
    AgentSample {
        at,
        checks: sum("checks"),
        failures: sum("failures"),
        cpu_user,
        cpu_system,
        skipped_slots,
        last_check_failures,
    }
}

/// The PID of the throwaway server's postmaster, from `postmaster.pid` in its data directory.
fn postmaster_pid(postgres: &Postgres) -> u32 {
    let data_directory = postgres.psql("flowstate", "SHOW data_directory");
    std::fs::read_to_string(Path::new(&data_directory).join("postmaster.pid"))
        .ok()
        .and_then(|pid_file| pid_file.lines().next()?.trim().parse().ok())
        .expect("the postmaster's PID")
}

/// CPU time, in seconds, of the postmaster and every process it forked (backends, WAL writer,
/// checkpointer, autovacuum...), and how many processes that is. A backend that exits during
/// the window is not lost: once the postmaster has waited for it, its time is in the
/// postmaster's `cutime`/`cstime`.
fn postgres_cpu(postmaster: u32) -> (f64, usize) {
    let ticks = |fields: &[String]| -> f64 {
        (11..=14)
            .filter_map(|i| fields.get(i)?.parse::<f64>().ok())
            .sum()
    };
    let parent = postmaster.to_string();
    let mut total = ticks(&proc_stat_fields(postmaster));
    let mut processes = 1;
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let fields = proc_stat_fields(pid);
        if fields.get(1) == Some(&parent) {
            total += ticks(&fields);
            processes += 1;
        }
    }
    (total / clock_ticks_per_second(), processes)
}

fn sample_postgres(postgres: &Postgres, postmaster: u32) -> PostgresSample {
    let numbers = |line: &str| -> Vec<u64> {
        line.split('|')
            .map(|n| n.trim().parse().unwrap_or(0))
            .collect()
    };
    // Backends report their counters at most about once a second (PostgreSQL 15's shared
    // statistics), so each end may lag by that much; the two lags mostly cancel out.
    let row = numbers(&postgres.psql(
        "flowstate",
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, \
         tup_returned, tup_fetched FROM pg_stat_database WHERE datname = 'flowstate'",
    ));
    let field = |i: usize| row.get(i).copied().unwrap_or(0);
    let database = DatabaseCounters {
        commits: field(0),
        rollbacks: field(1),
        inserted: field(2),
        updated: field(3),
        deleted: field(4),
        returned: field(5),
        fetched: field(6),
    };
    let tables = postgres
        .psql(
            "flowstate",
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del, \
             COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables",
        )
        .lines()
        .filter_map(|line| {
            let (name, counts) = line.split_once('|')?;
            let counts = numbers(counts);
            Some((name.to_string(), counts[0], counts.get(1).copied()?))
        })
        .collect();
    let (cpu_seconds, processes) = postgres_cpu(postmaster);
    PostgresSample {
        at: Instant::now(),
        database,
        tables,
        cpu_seconds,
        processes,
    }
}

/// The tables written or read during the window, busiest first: `name W written/s R read/s`.
fn busiest_tables(start: &TableCounters, end: &TableCounters, seconds: f64) -> String {
    let mut rates: Vec<(String, f64, f64)> = end
        .iter()
        .map(|(name, written, read)| {
            let (written0, read0) = start
                .iter()
                .find(|(n, _, _)| n == name)
                .map_or((0, 0), |(_, w, r)| (*w, *r));
            (
                name.clone(),
                written.saturating_sub(written0) as f64 / seconds,
                read.saturating_sub(read0) as f64 / seconds,
            )
        })
        .filter(|(_, written, read)| *written >= 0.05 || *read >= 0.05)
        .collect();
    rates.sort_by(|a, b| (b.1 + b.2).total_cmp(&(a.1 + a.2)));
    if rates.is_empty() {
        return "nothing".to_string();
    }
    rates
        .iter()
        .map(|(name, written, read)| format!("{name} {written:.1} written/s {read:.0} read/s"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `GET /api/v1/hosts` timed over a few requests, and what it answered.
struct HostsListTiming {
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    bytes: usize,
    hosts: usize,
    elsewhere: usize,
    up_by_quorum: usize,
}

fn time_hosts_list(api: &str) -> Option<HostsListTiming> {
    let url = format!("{api}/api/v1/hosts");
    let mut timings_ms = Vec::with_capacity(HOSTS_LIST_REQUESTS);
    let mut last_body = Vec::new();
    // One client for all requests, so the timings are the API's, not connection setup.
    actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        for _ in 0..HOSTS_LIST_REQUESTS {
            let started = Instant::now();
            let mut response = client.get(url.as_str()).send().await.ok()?;
            let body = response.body().limit(256 * 1024 * 1024).await.ok()?;
            timings_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            last_body = body.to_vec();
        }
        Some(())
    })?;
    let hosts: Value = serde_json::from_slice(&last_body).ok()?;
    let hosts = hosts.as_array()?;
    timings_ms.sort_by(f64::total_cmp);
    Some(HostsListTiming {
        median_ms: timings_ms[timings_ms.len() / 2],
        min_ms: timings_ms[0],
        max_ms: timings_ms[timings_ms.len() - 1],
        bytes: last_body.len(),
        hosts: hosts.len(),
        elsewhere: hosts.iter().filter(|h| h["elsewhere"] == true).count(),
        up_by_quorum: hosts
            .iter()
            .filter(|h| h["cluster"]["status"] == "up")
            .count(),
    })
}

/// How many lines the agent logged (warnings and errors), with the first of them.
fn log_summary(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    match lines.next() {
        None => "nothing logged".to_string(),
        Some(first) => {
            let first: String = first.chars().take(160).collect();
            format!("{} lines; first: {first}", 1 + lines.count())
        }
    }
}
