//! The public status page (`/status`) and announcements on the real daemon: only public hosts,
//! no reasons or URLs unless configured, no token needed while every other page needs one,
//! cache headers; announcements set with the CLI, shown on the page and in the Atom feed, and
//! kept across a restart by the state store.

use std::sync::atomic::Ordering::SeqCst;

use serde_json::Value;

use crate::common::configs::host;
use crate::common::daemon::{http_get, CONFIG};
use crate::common::wait::wait_for;
use crate::common::{switchable, Daemon, Sandbox, DEADLINE};

const TOKEN: &str = "status-page-token";

/// `www` public and up, `api` public and failing (reason naming a private address), `db`
/// private; the API with a token; history in `state.db`.
fn config(www: &str, api: &str, db: &str, page: &str) -> String {
    format!(
        "server: {{ listen: \"127.0.0.1:0\", token: {TOKEN} }}\n\
         state: {{ path: state.db }}\n\
         defaults: {{ interval: 200ms, timeout: 200ms, failure_threshold: 1, success_threshold: 1 }}\n\
         {page}\
         hosts:\n{}{}{}",
        host("www", www, "public: true"),
        host("api", api, "public: true"),
        host("db-primary", db, ""),
    )
}

fn page(daemon: &mut Daemon) -> (u16, String, Option<String>) {
    let answer = http_get(daemon.api(), "/status").expect("GET /status");
    let cache = answer.header("cache-control").map(str::to_string);
    (answer.status, answer.body, cache)
}

/// Runs `flowstate announce ARGS` against the daemon with the token.
fn announce(sandbox: &Sandbox, daemon: &mut Daemon, args: &[&str]) -> crate::common::Outcome {
    let api = format!("http://{}", daemon.api());
    let mut all = vec!["announce", "--api", api.as_str(), "--token", TOKEN];
    all.extend_from_slice(args);
    sandbox.run(&all)
}

#[test]
fn the_status_page_shows_public_hosts_only_and_needs_no_token() {
    let (_, www) = switchable(200);
    let (api_status, api) = switchable(200);
    let (_, db) = switchable(200);
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &config(
            &www.url("/"),
            &api.url("/private-path"),
            &db.url("/"),
            "status_page:\n  title: Acme status\n  groups:\n    - { name: Website, hosts: [www] }\n",
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    let api = daemon.api();
    wait_for(DEADLINE, "the page shows every public host up", || {
        let answer = http_get(api, "/status").ok()?;
        answer
            .body
            .contains("All systems operational")
            .then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    api_status.store(503, SeqCst);
    wait_for(DEADLINE, "the page shows api's outage", || {
        let answer = http_get(api, "/status").ok()?;
        answer.body.contains("Partial outage").then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    let (status, body, cache) = page(&mut daemon);
    assert_eq!(status, 200, "public without the token: {body}");
    assert_eq!(cache.as_deref(), Some("public, max-age=10"));
    assert!(body.contains("<title>Acme status</title>"), "{body}");
    assert!(
        body.contains("Website") && body.contains("Other services"),
        "{body}"
    );
    assert!(
        body.contains("www") && body.contains("Operational"),
        "{body}"
    );
    assert!(body.contains("Outage"), "{body}");
    // Nothing private: not the other host, not the reason, not a URL or a port.
    assert!(
        !body.contains("db-primary"),
        "a private host on the public page: {body}"
    );
    assert!(
        !body.contains("status 503") && !body.contains("private-path"),
        "{body}"
    );
    assert!(!body.contains("127.0.0.1"), "{body}");
    // One bar a day for 90 days, today's known.
    assert_eq!(body.matches("<rect").count(), 2 * 90, "{body}");
    // Everything else still needs the token.
    assert_eq!(http_get(api, "/api/v1/hosts").expect("GET").status, 401);
}

#[test]
fn reasons_show_only_when_configured() {
    let (_, www) = switchable(503);
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &config(
            &www.url("/"),
            &www.url("/"),
            &www.url("/"),
            "status_page: { show_reasons: true }\n",
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    let api = daemon.api();
    wait_for(DEADLINE, "the page shows the reason", || {
        let answer = http_get(api, "/status").ok()?;
        answer
            .body
            .contains("status 503, expected 2xx")
            .then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
}

#[test]
fn announcements_are_published_updated_fed_and_kept_across_a_restart() {
    let (_, www) = switchable(200);
    let sandbox = Sandbox::new();
    let text = config(&www.url("/"), &www.url("/"), &www.url("/"), "");
    sandbox.write(CONFIG, &text);
    let mut daemon = sandbox.daemon(CONFIG).start();

    let made = announce(
        &sandbox,
        &mut daemon,
        &["new", "Slow <checkout>", "--message", "Looking into it"],
    );
    made.expect_code(0);
    let id = made.stdout.trim().to_string();
    assert_eq!(id.len(), 26, "a ULID: {made}");
    announce(
        &sandbox,
        &mut daemon,
        &["update", &id, "--state", "identified", "-m", "A bad deploy"],
    )
    .expect_code(0);
    let refused = announce(
        &sandbox,
        &mut daemon,
        &["update", "nope", "--state", "resolved"],
    );
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("no announcement with id"),
        "{refused}"
    );

    let api = daemon.api();
    let found = wait_for(DEADLINE, "the page shows the announcement", || {
        let answer = http_get(api, "/status").ok()?;
        answer.body.contains("A bad deploy").then_some(answer.body)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    assert!(found.contains("Current incidents"), "{found}");
    assert!(found.contains("Slow &lt;checkout&gt;"), "escaped: {found}");
    let feed = http_get(api, "/status/feed.atom").expect("GET the feed");
    assert_eq!(feed.status, 200);
    assert!(
        feed.header("content-type")
            .is_some_and(|t| t.starts_with("application/atom+xml")),
        "{feed}"
    );
    assert!(
        feed.body
            .contains(&format!("urn:flowstate:announcement:{id}")),
        "{feed}"
    );
    assert!(feed.body.contains("identified: A bad deploy"), "{feed}");

    let listed = announce(&sandbox, &mut daemon, &["list", "--json"]);
    listed.expect_code(0);
    let all: Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(all[0]["updates"].as_array().map(Vec::len), Some(2), "{all}");

    // The store keeps it: a restarted daemon shows the same announcement.
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    let mut daemon = sandbox.daemon(CONFIG).start();
    let table = announce(&sandbox, &mut daemon, &["list"]);
    table.expect_code(0);
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("identified"),
        "{table}"
    );
    announce(&sandbox, &mut daemon, &["rm", &id]).expect_code(0);
    let empty = announce(&sandbox, &mut daemon, &["list"]);
    assert_eq!(empty.stdout, "no announcements\n", "{empty}");
}
