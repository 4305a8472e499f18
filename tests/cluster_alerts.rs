//! Alerts in a cluster (SPEC §10): three real agents in three locations against a real
//! PostgreSQL and a real webhook receiver on loopback. A host is down only when a quorum of
//! locations agree, only the leader alerts, a leader killed mid-delivery leaves its event to
//! the next one (delivered once, under the same id), and a leader paused past its lease sends
//! nothing when it resumes.
//!
//! Each location reaches the target through its own port, so a failure can be local to one.

use std::sync::atomic::{AtomicU16, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::configs::host;
use crate::common::postgres::Postgres;
use crate::common::receiver::{shown, Post, Receiver};
use crate::common::server::TestServer;
use crate::common::wait::wait_for;
use crate::common::{start_located, switchable, Daemon, Sandbox, DEADLINE};

/// The locations of these tests, one agent each.
const LOCATIONS: [&str; 3] = ["eu", "us", "ap"];

/// Long enough for a lease (3 s) to pass and another agent to take it over.
const TAKEOVER: Duration = Duration::from_secs(30);

/// One agent of a three-location cluster: its files, its process, and the status its port of
/// the target answers.
struct Agent {
    _sandbox: Sandbox,
    daemon: Daemon,
    target: Arc<AtomicU16>,
    _server: TestServer,
}

/// A webhook notifier `name` posting to `receiver`, retrying every 200 ms; `extra` adds keys.
fn webhook(name: &str, receiver: &Receiver, extra: &str) -> String {
    format!(
        "  {name}: {{ type: webhook, url: '{}', backoff: 200ms, max_backoff: 200ms{extra} }}\n",
        receiver.url("/hook")
    )
}

/// Three agents, one per location, `quorum: 2`, alerting `receiver` about host `api`.
fn three_agents(url: &str, receiver: &Receiver) -> Vec<Agent> {
    three_agents_alerting(url, &webhook("hook", receiver, ""), "hook")
}

/// Three agents, one per location, `quorum: 2`, with `notifiers` (lines of the mapping),
/// alerting `alerts` (a flow list's inside) about host `api`.
fn three_agents_alerting(url: &str, notifiers: &str, alerts: &str) -> Vec<Agent> {
    let document = format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\n\
         cluster: {{ url: '{url}', location: '${{LOCATION}}', quorum: 2, lease: 3s, heartbeat: 1s }}\n\
         defaults: {{ interval: 200ms, timeout: 200ms, failure_threshold: 1, success_threshold: 1, locations: [eu, us, ap], alerts: [{alerts}] }}\n\
         notifiers:\n{notifiers}\
         hosts:\n{}",
        host("api", "http://127.0.0.1:${TARGET_PORT}/", "")
    );
    LOCATIONS
        .iter()
        .map(|location| {
            let (target, server) = switchable(200);
            let (sandbox, daemon) = start_located(&document, location, server.port());
            Agent {
                _sandbox: sandbox,
                daemon,
                target,
                _server: server,
            }
        })
        .collect()
}

/// Waits until `agent` says the host is `status` for the cluster.
fn cluster_status(agent: &mut Agent, status: &str) -> Value {
    agent
        .daemon
        .wait_for_host("api", &format!("is {status} for the cluster"), |h| {
            h["cluster"]["status"] == status
        })
}

/// Waits until one agent leads, and returns its index.
fn leader(agents: &mut [Agent], within: Duration, except: Option<usize>) -> usize {
    wait_for(within, "one agent leads the cluster", || {
        (0..agents.len())
            .filter(|i| Some(*i) != except)
            .find(|&i| agents[i].daemon.json("/api/v1/cluster")["is_leader"] == true)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}"))
}

/// The posts of `event` (`down`, `up`) answered `answered`.
fn of_event(posts: &[Post], event: &str, answered: u16) -> Vec<Post> {
    posts
        .iter()
        .filter(|p| p.json()["event"] == event && p.answered == answered)
        .cloned()
        .collect()
}

#[test]
fn a_host_is_down_when_a_quorum_of_locations_agree_and_alerted_once_by_the_leader() {
    let server = Postgres::start();
    let url = server.database("quorum_alerts");
    let receiver = Receiver::accepting();
    let mut agents = three_agents(&url, &receiver);
    cluster_status(&mut agents[0], "up");

    // Failing from one location: partial, and nobody is alerted.
    agents[0].target.store(503, SeqCst);
    let api = cluster_status(&mut agents[1], "partial");
    assert_eq!(
        api["cluster"]["failing"],
        serde_json::json!(["eu"]),
        "{api:#}"
    );

    // From two: down, alerted by the leader alone, once, naming the failing locations.
    agents[1].target.store(503, SeqCst);
    cluster_status(&mut agents[2], "down");
    let posts = receiver.wait_for_posts(&agents[0].daemon, "the down alert", |posts| {
        !of_event(posts, "down", 200).is_empty()
    });
    let down = &of_event(&posts, "down", 200)[0].json();
    assert_eq!(down["host"], "api");
    let reason = down["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("eu") && reason.contains("us"), "{down:#}");

    // Both recover: one `up`. By then a second `down` from any agent would have come.
    agents[0].target.store(200, SeqCst);
    agents[1].target.store(200, SeqCst);
    let posts = receiver.wait_for_posts(&agents[0].daemon, "the up alert", |posts| {
        !of_event(posts, "up", 200).is_empty()
    });
    assert_eq!(of_event(&posts, "down", 200).len(), 1, "{}", shown(&posts));
    assert_eq!(of_event(&posts, "up", 200).len(), 1, "{}", shown(&posts));
    assert_eq!(
        posts.len(),
        2,
        "nothing but one down and one up: {}",
        shown(&posts)
    );
    // The partial phase alerted nobody: the first post is the down.
    assert_eq!(posts[0].json()["event"], "down", "{}", shown(&posts));
}

/// Three agents whose host goes down everywhere while `receiver` refuses (503): returns the
/// agents, which one leads (retrying the event every 200 ms), and the event's id.
fn leader_retrying_a_refused_down(url: &str, receiver: &Receiver) -> (Vec<Agent>, usize, String) {
    let mut agents = three_agents(url, receiver);
    cluster_status(&mut agents[0], "up");
    let first = leader(&mut agents, DEADLINE, None);
    for agent in &agents {
        agent.target.store(503, SeqCst);
    }
    let refused = receiver.wait_for_posts(&agents[first].daemon, "a refused attempt", |p| {
        !of_event(p, "down", 503).is_empty()
    });
    let id = of_event(&refused, "down", 503)[0].id();
    (agents, first, id)
}

#[test]
fn a_leader_killed_while_the_receiver_is_down_leaves_the_alert_to_the_next_exactly_once() {
    let server = Postgres::start();
    let url = server.database("killed_leader");
    let receiver = Receiver::answering(503);
    // Down everywhere; the receiver refuses, so the leader keeps the event and retries.
    let (mut agents, first, id) = leader_retrying_a_refused_down(&url, &receiver);

    // The leader dies mid-delivery. Another takes the lease and the event from the database.
    agents[first].daemon.signal("KILL");
    let next = leader(&mut agents, TAKEOVER, Some(first));
    agents[next]
        .daemon
        .wait_for_log("the new leader takes over", |line| {
            line.contains("this agent leads the cluster")
        });
    receiver.answer(200);
    let posts = receiver.wait_for_posts(&agents[next].daemon, "the down delivered", |p| {
        !of_event(p, "down", 200).is_empty()
    });
    let delivered = of_event(&posts, "down", 200);
    assert_eq!(
        delivered[0].id(),
        id,
        "resumed under its own id: {}",
        shown(&posts)
    );

    // Every location that is left recovers: the `up` comes after anything a duplicate would.
    for agent in &agents {
        agent.target.store(200, SeqCst);
    }
    let posts = receiver.wait_for_posts(&agents[next].daemon, "the up alert", |p| {
        !of_event(p, "up", 200).is_empty()
    });
    assert_eq!(of_event(&posts, "down", 200).len(), 1, "{}", shown(&posts));
    assert!(
        posts
            .iter()
            .filter(|p| p.json()["event"] == "down")
            .all(|p| p.id() == id),
        "one down event, whichever leader tried it: {}",
        shown(&posts)
    );
}

#[test]
fn a_leader_paused_past_its_lease_sends_nothing_when_it_resumes() {
    let server = Postgres::start();
    let url = server.database("paused_leader");
    let receiver = Receiver::answering(503);
    let (mut agents, first, _) = leader_retrying_a_refused_down(&url, &receiver);

    // Paused with its retry due every 200 ms: another agent takes the lease meanwhile and
    // delivers the event.
    agents[first].daemon.signal("STOP");
    let next = leader(&mut agents, TAKEOVER, Some(first));
    receiver.answer(200);
    receiver.wait_for_posts(&agents[next].daemon, "the new leader's delivery", |p| {
        !of_event(p, "down", 200).is_empty()
    });

    // Resumed, the old leader's overdue retry and judgement meet the fence.
    agents[first].daemon.signal("CONT");
    agents[first]
        .daemon
        .wait_for_log("the old leader steps down", |line| {
            line.contains("no longer leads the cluster")
                || line.contains("this agent sends no more alerts")
        });
    // Its next heartbeat says so too (the fence may have stopped it first).
    wait_for(DEADLINE, "the old leader no longer says it leads", || {
        (agents[first].daemon.json("/api/v1/cluster")["is_leader"] == false).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}"));

    // A later change goes out once, from the leader: the old one sent nothing in between.
    for agent in &agents {
        agent.target.store(200, SeqCst);
    }
    let posts = receiver.wait_for_posts(&agents[next].daemon, "the up alert", |p| {
        !of_event(p, "up", 200).is_empty()
    });
    assert_eq!(of_event(&posts, "down", 200).len(), 1, "{}", shown(&posts));
    assert_eq!(of_event(&posts, "up", 200).len(), 1, "{}", shown(&posts));
}

/// `method path` with a JSON `body` on `agent`'s API.
fn call(agent: &mut Agent, method: &str, path: &str, body: &str) -> crate::common::daemon::Answer {
    let api = agent.daemon.api();
    crate::common::daemon::http_request(
        api,
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
    .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
}

#[test]
fn a_silence_made_through_any_agent_holds_the_leaders_alert_until_it_is_ended() {
    let server = Postgres::start();
    let url = server.database("shared_silence");
    let receiver = Receiver::accepting();
    let mut agents = three_agents(&url, &receiver);
    cluster_status(&mut agents[0], "up");
    let leader = leader(&mut agents, DEADLINE, None);
    let follower = (leader + 1) % agents.len();

    // Made through a follower (behind a Service, any pod may answer): the leader has it.
    let made = call(
        &mut agents[follower],
        "POST",
        "/api/v1/silences",
        r#"{"hosts": ["api"], "duration": "1h", "comment": "deploy"}"#,
    );
    assert_eq!(made.status, 201, "{made}");
    let id = made.json().expect("JSON")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_for(DEADLINE, "the leader lists the silence", || {
        let listed = agents[leader].daemon.json("/api/v1/silences");
        listed["silences"]
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s["id"] == id.as_str()))
            .then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}"));

    // Down by quorum while silenced: held by the leader, sent to nobody.
    for agent in &agents {
        agent.target.store(503, SeqCst);
    }
    cluster_status(&mut agents[leader], "down");
    agents[leader]
        .daemon
        .wait_for_log("the leader holds the alert", |l| {
            l.contains("alert held back") && l.contains(id.as_str())
        });
    assert!(receiver.posts().is_empty(), "{}", shown(&receiver.posts()));

    // Ended through another agent: the leader settles and alerts the outage once.
    let other = (leader + 2) % agents.len();
    let ended = call(
        &mut agents[other],
        "DELETE",
        &format!("/api/v1/silences/{id}"),
        "",
    );
    assert!(ended.status < 300, "{ended}");
    let posts =
        receiver.wait_for_posts(&agents[leader].daemon, "the down after the silence", |p| {
            !of_event(p, "down", 200).is_empty()
        });
    assert_eq!(posts.len(), 1, "{}", shown(&posts));
}

/// The events of `posts` in order, as `event/status`.
fn events(posts: &[Post]) -> Vec<String> {
    posts
        .iter()
        .map(|p| {
            let event = p.json();
            format!(
                "{}/{}",
                event["event"].as_str().unwrap_or("?"),
                event["status"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn partial_is_told_as_degraded_only_to_a_notifier_that_asks_for_it() {
    let server = Postgres::start();
    let url = server.database("partial_routed");
    let (pager, watcher) = (Receiver::accepting(), Receiver::accepting());
    let notifiers = webhook("pager", &pager, "") + &webhook("watch", &watcher, ", partial: true");
    let mut agents = three_agents_alerting(&url, &notifiers, "pager, watch");
    cluster_status(&mut agents[0], "up");

    // Failing in eu only: the watcher hears `degraded`, naming eu; the pager nothing.
    agents[0].target.store(503, SeqCst);
    cluster_status(&mut agents[1], "partial");
    let posts = watcher.wait_for_posts(&agents[1].daemon, "the partial as degraded", |p| {
        p.len() == 1
    });
    assert_eq!(events(&posts), ["degraded/degraded"], "{}", shown(&posts));
    let reason = posts[0].json()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("eu") && reason.contains("below quorum"),
        "{reason}"
    );

    // A quorum fails: both hear `down`; all recover: both hear `up`.
    agents[1].target.store(503, SeqCst);
    pager.wait_for_posts(&agents[1].daemon, "the pager's down", |p| {
        !of_event(p, "down", 200).is_empty()
    });
    watcher.wait_for_posts(&agents[1].daemon, "the watcher's down", |p| {
        !of_event(p, "down", 200).is_empty()
    });
    agents[0].target.store(200, SeqCst);
    agents[1].target.store(200, SeqCst);
    let posts = watcher.wait_for_posts(&agents[1].daemon, "the watcher's up", |p| {
        !of_event(p, "up", 200).is_empty()
    });
    // One location may recover a moment before the other: partial again on the way up.
    let told = events(&posts);
    assert_eq!(
        told[..2],
        ["degraded/degraded", "down/down"],
        "{}",
        shown(&posts)
    );
    assert_eq!(told.last().map(String::as_str), Some("up/up"));
    assert!(
        told[2..told.len() - 1]
            .iter()
            .all(|e| e == "degraded/degraded"),
        "{}",
        shown(&posts)
    );
    let posts = pager.wait_for_posts(&agents[1].daemon, "the pager's up", |p| {
        !of_event(p, "up", 200).is_empty()
    });
    assert_eq!(events(&posts), ["down/down", "up/up"], "{}", shown(&posts));
}
