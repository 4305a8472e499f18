//! Agents of one cluster against a real PostgreSQL (SPEC §10): they see each other, exactly
//! one holds the leader lease, and when the leader is killed another takes over within the
//! lease. Every agent is a real `flowstate run` process with its own location.

use std::collections::HashMap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::configs::{document_serving, host};
use crate::common::postgres::Postgres;
use crate::common::scrape::{metrics, sample};
use crate::common::server::{Response, TestServer};
use crate::common::wait::wait_for;
use crate::common::{closed_port, start, start_located, switchable, Daemon, Sandbox, DEADLINE};

/// A lease short enough for a test, with heartbeats well inside it.
const LEASE: &str = "lease: 3s, heartbeat: 1s";

/// How an agent is told its location.
#[derive(Clone, Copy)]
enum Told {
    InTheFile,
    ByFlag,
    ByEnvironment,
}

/// An agent of location `location` in the cluster at `url`, checking `target`, told its
/// location as `told` says.
fn agent(url: &str, location: &str, told: Told, target: &TestServer) -> (Sandbox, Daemon) {
    let sandbox = Sandbox::new();
    let in_file = match told {
        Told::InTheFile => format!("location: {location}, "),
        Told::ByFlag | Told::ByEnvironment => String::new(),
    };
    sandbox.write(
        "flowstate.yaml",
        &document_serving(
            "listen: \"127.0.0.1:0\"",
            &format!("cluster: {{ url: '{url}', {in_file}{LEASE} }}\n"),
            "interval: 1s",
            &[host("api", &target.url("/"), "")],
        ),
    );
    let builder = sandbox.daemon("flowstate.yaml");
    let builder = match told {
        Told::InTheFile => builder,
        Told::ByFlag => builder.args(&["--location", location]),
        Told::ByEnvironment => builder.env("FLOWSTATE_LOCATION", location),
    };
    let daemon = builder.start();
    (sandbox, daemon)
}

/// `GET /api/v1/cluster` of `daemon`.
fn cluster(daemon: &mut Daemon) -> Value {
    daemon.json("/api/v1/cluster")
}

/// The `field` of each object in `list`, sorted.
fn sorted(list: &[Value], field: &str) -> Vec<String> {
    let mut values: Vec<String> = list
        .iter()
        .filter_map(|item| item[field].as_str().map(str::to_string))
        .collect();
    values.sort();
    values
}

fn agent_ids(view: &Value) -> Vec<String> {
    sorted(view["agents"].as_array().map_or(&[], Vec::as_slice), "id")
}

#[test]
fn agents_see_each_other_one_leads_and_another_takes_over_when_it_is_killed() {
    let server = Postgres::start();
    let url = server.database("cluster");
    let target = TestServer::always(Response::ok("fine"));
    let (_eu_sandbox, mut eu) = agent(&url, "eu", Told::InTheFile, &target);
    let (_us_sandbox, mut us) = agent(&url, "us", Told::ByFlag, &target);

    // Both agents list both, and agree on one leader.
    let (eu_view, us_view) = wait_for(DEADLINE, "both agents see both and one leader", || {
        let (e, u) = (cluster(&mut eu), cluster(&mut us));
        let agreed = agent_ids(&e).len() == 2
            && agent_ids(&u) == agent_ids(&e)
            && e["leader"]["agent"].is_string()
            && e["leader"]["agent"] == u["leader"]["agent"]
            && (e["is_leader"] == true) != (u["is_leader"] == true);
        agreed.then_some((e, u))
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{eu}\n{us}"));
    assert_eq!(eu_view["location"], "eu");
    assert_eq!(us_view["location"], "us");
    // Registered, each with its share: ready for a Kubernetes readiness probe.
    for daemon in [&mut eu, &mut us] {
        let ready = daemon.get("/readyz");
        assert_eq!(ready.status, 200, "{}", ready.body);
    }
    // Their files differ (one names its location, the other takes it from the flag): the
    // cluster converges on the files published last, each agent with its own location.
    let hash = eu_view["config_hash"].as_str().unwrap_or_default();
    assert_eq!(hash.len(), 32, "{eu_view:#}");
    let agreed = wait_for(DEADLINE, "the agents converge on one configuration", || {
        let (e, u) = (cluster(&mut eu), cluster(&mut us));
        let same = e["config_agrees"] == true
            && u["config_agrees"] == true
            && e["config_hash"] == u["config_hash"]
            && e["config_hash"] == e["newest_config"]["hash"];
        same.then_some(e)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{eu}\n{us}"));
    let hashes = sorted(
        agreed["agents"].as_array().map_or(&[], Vec::as_slice),
        "config_hash",
    );
    assert!(hashes.len() == 2 && hashes[0] == hashes[1], "{agreed:#}");
    assert_eq!(cluster(&mut eu)["location"], "eu");
    assert_eq!(cluster(&mut us)["location"], "us");
    let locations: Vec<&str> = eu_view["agents"]
        .as_array()
        .map(|a| a.iter().filter_map(|a| a["location"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        locations.contains(&"eu") && locations.contains(&"us"),
        "{eu_view:#}"
    );

    let eu_leads = eu_view["is_leader"] == true;
    let (leader, follower) = if eu_leads {
        (&mut eu, &mut us)
    } else {
        (&mut us, &mut eu)
    };
    let scraped = metrics(leader);
    assert_eq!(
        sample(&scraped, "flowstate_cluster_leader"),
        1.0,
        "{scraped}"
    );
    assert_eq!(
        sample(&scraped, "flowstate_cluster_agents{location=\"eu\"}"),
        1.0
    );
    let scraped = metrics(follower);
    assert_eq!(sample(&scraped, "flowstate_cluster_leader"), 0.0);
    let old_token = eu_view["leader"]["token"].as_i64().unwrap_or(0);

    // The leader dies without a word: the other takes the lease once it expired, with a
    // higher fencing token, and no longer lists the dead agent.
    leader.signal("KILL");
    let taken = wait_for(
        Duration::from_secs(15),
        "the other agent takes over the lease",
        || {
            let view = cluster(follower);
            (view["is_leader"] == true && agent_ids(&view).len() == 1).then_some(view)
        },
    )
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{follower}"));
    assert!(
        taken["leader"]["token"].as_i64().unwrap_or(0) > old_token,
        "{taken:#}"
    );
    let scraped = metrics(follower);
    assert_eq!(sample(&scraped, "flowstate_cluster_leader"), 1.0);
}

#[test]
fn the_location_may_come_from_the_environment_and_a_missing_one_is_a_clear_error() {
    let server = Postgres::start();
    let url = server.database("located");
    let target = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut ap) = agent(&url, "ap", Told::ByEnvironment, &target);
    let view = wait_for(DEADLINE, "the agent joined", || {
        let view = cluster(&mut ap);
        (agent_ids(&view).len() == 1).then_some(view)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{ap}"));
    assert_eq!(view["location"], "ap");
    assert_eq!(view["is_leader"], true, "alone, it leads: {view:#}");

    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &document_serving(
            "listen: \"127.0.0.1:0\"",
            &format!("cluster: {{ url: '{url}' }}\n"),
            "interval: 1s",
            &[host("api", &target.url("/"), "")],
        ),
    );
    let outcome = sandbox.run(&["run", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    assert!(
        outcome.stderr.contains("--location") && outcome.stderr.contains("FLOWSTATE_LOCATION"),
        "{outcome}"
    );
}

#[test]
fn a_single_flowstate_says_it_runs_alone() {
    let target = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(&document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 1s",
        &[host("api", &target.url("/"), "")],
    ));
    let answer = daemon.get("/api/v1/cluster");
    assert_eq!(answer.status, 404, "{answer}");
    assert!(answer.body.contains("cluster:"), "{answer}");
}

/// The hosts `GET /api/v1/hosts` of `daemon` lists as checked by this agent (it lists every
/// host; those of other agents say `elsewhere`).
fn checked_here(daemon: &mut Daemon) -> Vec<String> {
    let here: Vec<Value> = daemon
        .hosts()
        .into_iter()
        .filter(|h| h["elsewhere"] != true)
        .collect();
    sorted(&here, "label")
}

#[test]
fn agents_of_a_location_share_its_hosts_and_take_over_those_of_one_that_dies() {
    let server = Postgres::start();
    let url = server.database("sharing");
    // When each host was checked, by any agent: two agents checking one host at once would
    // show as two checks closer than half an interval.
    let checked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let target = TestServer::start({
        let checked = checked.clone();
        move |request, _| {
            if let Ok(mut checked) = checked.lock() {
                checked.push((request.path().to_string(), Instant::now()));
            }
            Response::ok("fine")
        }
    });
    let mut hosts: Vec<String> = (0..20)
        .map(|n| host(&format!("h{n:02}"), &target.url(&format!("/{n}")), ""))
        .collect();
    hosts.push(host("us-only", &target.url("/us"), "locations: [us]"));
    let document = document_serving(
        "listen: \"127.0.0.1:0\"",
        &format!("cluster: {{ url: '{url}', location: eu, {LEASE} }}\n"),
        "interval: 1s",
        &hosts,
    );
    let (_first_sandbox, mut first) = start(&document);
    let (_second_sandbox, mut second) = start(&document);
    let all: Vec<String> = (0..20).map(|n| format!("h{n:02}")).collect();

    // Each host of the location is checked by exactly one of them, and both check some.
    let (mine, theirs) = wait_for(DEADLINE, "the two agents share the hosts", || {
        let (a, b) = (checked_here(&mut first), checked_here(&mut second));
        let mut union: Vec<String> = a.iter().chain(&b).cloned().collect();
        union.sort();
        (!a.is_empty() && !b.is_empty() && union == all).then_some((a, b))
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{first}\n{second}"));
    assert!(
        mine.iter().all(|label| !theirs.contains(label)),
        "checked twice: {mine:?} {theirs:?}"
    );
    // The same file: they agree.
    wait_for(DEADLINE, "both agents see the same configuration", || {
        (cluster(&mut first)["config_agrees"] == true).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{first}"));
    assert!(
        !mine.contains(&"us-only".to_string()),
        "a host of another location"
    );
    // Either agent answers for every host: those the other checks are listed too, with
    // the quorum's status, and their pages answer.
    let listed = first.hosts();
    assert_eq!(listed.len(), 21, "every configured host");
    let theirs_listed = listed
        .iter()
        .find(|h| h["label"] == theirs[0].as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(theirs_listed["elsewhere"], true, "{theirs_listed:#}");
    let detail = first.wait_for_host(&theirs[0], "is up for the cluster", |h| {
        h["cluster"]["status"] == "up"
    });
    assert_eq!(detail["elsewhere"], true, "{detail:#}");
    assert_eq!(detail["status"], "up", "{detail:#}");
    assert_eq!(detail["locations"]["eu"]["status"], "up", "{detail:#}");

    // One dies: within the lease and a heartbeat the other checks them all.
    second.signal("KILL");
    wait_for(
        Duration::from_secs(15),
        "the survivor checks every host",
        || (checked_here(&mut first) == all).then_some(()),
    )
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{first}"));
    // Every host is checked there: none was left unchecked by the handover.
    for label in &all {
        first.wait_for_checks(label, 1);
    }
    // Through the join and the death, no host was checked twice within half its interval.
    let checked = checked.lock().map(|c| c.clone()).unwrap_or_default();
    let mut by_path: HashMap<String, Vec<Instant>> = HashMap::new();
    for (path, at) in checked {
        by_path.entry(path).or_default().push(at);
    }
    for (path, times) in by_path {
        for pair in times.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            assert!(
                gap >= Duration::from_millis(500),
                "{path} checked twice {gap:?} apart: by two agents at once"
            );
        }
    }
}

#[test]
fn an_agent_without_its_database_checks_its_whole_location_rather_than_nothing() {
    // A port nothing listens on: the database is down from the start.
    let closed = closed_port();
    let target = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(&document_serving(
            "listen: \"127.0.0.1:0\"",
            &format!(
                "cluster: {{ url: 'postgres://postgres@127.0.0.1:{closed}/none?sslmode=disable', location: eu, {LEASE} }}\n"
            ),
            "interval: 1s",
            &[
                host("a", &target.url("/a"), ""),
                host("b", &target.url("/b"), ""),
            ],
    ));
    wait_for(DEADLINE, "the agent checks both hosts alone", || {
        (checked_here(&mut daemon) == ["a", "b"]).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    daemon.wait_for_checks("a", 1);
    // Alone, it has its share (all of its location): ready.
    let ready = daemon.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let view = cluster(&mut daemon);
    assert!(
        view["error"]
            .as_str()
            .is_some_and(|e| e.contains("cluster database")),
        "{view:#}"
    );
    assert_eq!(view["is_leader"], false);
}

#[test]
fn each_location_writes_its_verdict_and_the_quorum_tells_partial_from_down() {
    let server = Postgres::start();
    let url = server.database("verdicts");
    // Each location reaches the host through its own port: a failure can be local to one.
    let (eu_status, eu_target) = switchable(200);
    let (us_status, us_target) = switchable(200);
    let document = document_serving(
        "listen: \"127.0.0.1:0\"",
        &format!("cluster: {{ url: '{url}', location: '${{LOCATION}}', quorum: 2, {LEASE} }}\n"),
        "interval: 200ms, timeout: 200ms, failure_threshold: 1, locations: [eu, us]",
        &[host("api", "http://127.0.0.1:${TARGET_PORT}/", "")],
    );
    let (_eu_sandbox, mut eu) = start_located(&document, "eu", eu_target.port());
    let (_us_sandbox, mut us) = start_located(&document, "us", us_target.port());
    let cluster_status = |daemon: &mut Daemon, status: &str| {
        daemon.wait_for_host("api", &format!("is {status} for the cluster"), |h| {
            h["cluster"]["status"] == status
        })
    };
    let api = cluster_status(&mut eu, "up");
    assert_eq!(api["locations"]["eu"]["status"], "up", "{api:#}");
    assert_eq!(api["locations"]["us"]["status"], "up", "{api:#}");
    assert_eq!(api["cluster"]["quorum"], 2);

    // Failing from eu only: partial, eu named; both agents say the same.
    eu_status.store(503, SeqCst);
    let api = cluster_status(&mut us, "partial");
    assert_eq!(
        api["cluster"]["failing"],
        serde_json::json!(["eu"]),
        "{api:#}"
    );
    assert_eq!(api["locations"]["eu"]["status"], "down");
    assert_eq!(api["locations"]["eu"]["ok"], false);
    assert_eq!(api["locations"]["us"]["ok"], true);
    // Each location's availability (from its per-minute rollups, once a minute is over).
    assert!(
        api["locations"]["eu"]["availability"].is_object(),
        "{api:#}"
    );
    assert!(api["cluster"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("eu")));
    cluster_status(&mut eu, "partial");

    // Failing from both: down.
    us_status.store(503, SeqCst);
    let api = cluster_status(&mut eu, "down");
    assert_eq!(api["cluster"]["failing"], serde_json::json!(["eu", "us"]));

    // An agent that dies leaves a stale verdict: unknown, never down.
    us.signal("KILL");
    let api = cluster_status(&mut eu, "partial");
    assert_eq!(api["locations"]["us"]["fresh"], false, "{api:#}");
    assert_eq!(api["cluster"]["unknown"], serde_json::json!(["us"]));
}

#[test]
fn an_agent_stopped_cleanly_leaves_at_once() {
    let server = Postgres::start();
    let url = server.database("leaving");
    let target = TestServer::always(Response::ok("fine"));
    let (_eu_sandbox, mut eu) = agent(&url, "eu", Told::InTheFile, &target);
    let (_us_sandbox, mut us) = agent(&url, "us", Told::InTheFile, &target);
    wait_for(DEADLINE, "both agents see both", || {
        (agent_ids(&cluster(&mut eu)).len() == 2).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{eu}"));
    let exit = us.stop("TERM");
    assert_eq!(exit.code, Some(0), "{us}");
    // Well inside the 3 s lease: it deleted its row rather than let it expire.
    wait_for(
        Duration::from_millis(1500),
        "the stopped agent is gone",
        || (agent_ids(&cluster(&mut eu)).len() == 1).then_some(()),
    )
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{eu}"));
}

#[test]
fn an_edit_on_one_agent_is_run_by_every_agent_and_one_that_cannot_load_it_says_so() {
    let server = Postgres::start();
    let url = server.database("converging");
    let target = TestServer::always(Response::ok("fine"));
    let document = |hosts: &[String], extra: &str| {
        document_serving(
            "listen: \"127.0.0.1:0\"",
            &format!("cluster: {{ url: '{url}', location: '${{LOCATION}}', {LEASE} }}\n{extra}"),
            "interval: 1s, locations: [eu, us]",
            hosts,
        )
    };
    let a = host("a", &target.url("/a"), "");
    let b = host("b", &target.url("/b"), "");
    let agent_in = |location: &str, only_here: Option<&str>| {
        let sandbox = Sandbox::new();
        sandbox.write("flowstate.yaml", &document(std::slice::from_ref(&a), ""));
        let mut builder = sandbox.daemon("flowstate.yaml").env("LOCATION", location);
        if let Some(value) = only_here {
            builder = builder.env("ONLY_IN_EU", value);
        }
        (sandbox, builder.start())
    };
    let (eu_files, mut eu) = agent_in("eu", Some("eu-secret"));
    let (_us_files, mut us) = agent_in("us", None);
    let labels = |daemon: &mut Daemon| sorted(&daemon.hosts(), "label");

    // An edit of eu's files: us runs it too, within a heartbeat, though its own files lag.
    eu_files.write("flowstate.yaml", &document(&[a.clone(), b.clone()], ""));
    eu.wait_for_log("eu reloads its edit", |l| l.contains("config reloaded"));
    wait_for(DEADLINE, "us runs eu's edit", || {
        (labels(&mut us) == ["a", "b"]).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{us}"));
    us.wait_for_checks("b", 1);
    us.wait_for_log("us says where its configuration came from", |l| {
        l.contains("running the cluster's newest configuration")
    });
    wait_for(DEADLINE, "both run the same hash", || {
        let (e, u) = (cluster(&mut eu), cluster(&mut us));
        (e["config_hash"] == u["config_hash"] && u["config_agrees"] == true).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{eu}\n{us}"));

    // A reload of us's own, unchanged, files keeps the newer configuration.
    us.signal("HUP");
    us.wait_for_log("us keeps the cluster's", |l| {
        l.contains("files did not change; it keeps running the cluster's newer configuration")
    });
    assert_eq!(labels(&mut us), ["a", "b"]);

    // A configuration that needs a variable only eu has: us refuses it, keeps checking, and
    // the disagreement shows.
    eu_files.write(
        "flowstate.yaml",
        &document(
            &[a.clone(), b.clone()],
            "status_page: { title: '${ONLY_IN_EU}' }\n",
        ),
    );
    us.wait_for_log("us refuses what does not load here", |l| {
        l.contains("does not load on this agent")
    });
    let refusal = us.wait_for_log("us names the variable", |l| l.contains("ONLY_IN_EU"));
    assert!(refusal.contains("refused here"), "{refusal}");
    let view = wait_for(DEADLINE, "the disagreement shows", || {
        let view = cluster(&mut us);
        (view["config_agrees"] == false).then_some(view)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{us}"));
    assert_ne!(
        view["config_hash"], view["newest_config"]["hash"],
        "{view:#}"
    );
    let checks = us.host("b")["checks"].as_u64().unwrap_or(0);
    us.wait_for_checks("b", checks + 1);
}
