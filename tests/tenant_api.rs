//! Tenants in the API (SPEC §12): a tenant's token sees and changes its own tenant only, in
//! every route, page and the stream, as far as its role allows; `server.token` sees all.
//!
//! The isolation test is a matrix generated from the daemon's own route table (read from
//! `actors/src/api/mod.rs` and `actors/src/web/mod.rs`), so a route added without a case here
//! fails it: every route × every role of tenant `team-a` × a resource of tenant `team-b` is
//! answered 404 or 403 (or, for lists and pages, without any of B in it), never with B's data.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::common::daemon::{http_request, Answer};
use crate::common::repo;
use crate::common::stream::Stream;
use crate::common::wait::wait_until;
use crate::common::{closed_port, switchable, Daemon, Sandbox, DEADLINE};

const PLATFORM: &str = "platform-token";
const B_ADMIN: &str = "b-admin-token";
const A_ADMIN: &str = "a-admin-token";

/// Team A's tokens, one per role; the admin's is configured only as its argon2 hash.
const A_ROLES: [(&str, &str); 3] = [
    ("viewer", "a-viewer-token"),
    ("responder", "a-responder-token"),
    ("admin", A_ADMIN),
];

/// What of team B must never reach team A: its labels, its tenant name, what its silence and
/// announcement say.
const B_SECRETS: [&str; 4] = [
    "team-b",
    "secret-db",
    "b-silence-comment",
    "b-announcement-title",
];

/// `text` run through `flowstate hash-token`, as a platform team would make a `hash:`.
fn hashed(token: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowstate"))
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flowstate hash-token");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(format!("{token}\n").as_bytes())
        .expect("write the token");
    let out = child.wait_with_output().expect("hash-token ends");
    assert!(out.status.success(), "{out:?}");
    let hash = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash.trim().to_string()
}

/// Two tenants: A with a host on `a_url` (switchable), B with a host that is down; the
/// platform with one host of its own and a state store, so the history routes answer.
fn tenants_daemon(a_url: &str) -> (Sandbox, Daemon) {
    let sandbox = Sandbox::new();
    let down = closed_port();
    sandbox.write(
        "a.yaml",
        &format!(
            "defaults: {{ interval: 200ms, alerts: [a-log] }}\n\
             notifiers:\n  a-log: {{ type: stdout }}\n\
             hosts:\n  - {{ label: api, url: '{a_url}' }}\n"
        ),
    );
    sandbox.write(
        "b.yaml",
        &format!(
            "defaults: {{ interval: 200ms, alerts: [b-log] }}\n\
             notifiers:\n  b-log: {{ type: stdout }}\n\
             hosts:\n  - {{ label: secret-db, type: tcp, address: '127.0.0.1:{down}' }}\n"
        ),
    );
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "server: {{ listen: '127.0.0.1:0', token: {PLATFORM} }}\n\
             state: {{ path: state.db }}\n\
             hosts:\n  - {{ label: platform-api, url: '{a_url}', interval: 200ms }}\n\
             tenants:\n\
             \x20 team-a:\n\
             \x20   config: a.yaml\n\
             \x20   tokens:\n\
             \x20     - {{ token: a-viewer-token, role: viewer }}\n\
             \x20     - a-responder-token\n\
             \x20     - {{ hash: '{}', role: admin }}\n\
             \x20 team-b:\n\
             \x20   config: b.yaml\n\
             \x20   tokens: [{{ token: {B_ADMIN}, role: admin }}]\n",
            hashed(A_ADMIN)
        ),
    );
    let daemon = sandbox.daemon("flowstate.yaml").start();
    (sandbox, daemon)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `method path` with `token` and a JSON `body`.
#[track_caller]
fn call(daemon: &mut Daemon, token: &str, method: &str, path: &str, body: &str) -> Answer {
    let api = daemon.api();
    let auth = bearer(token);
    let mut headers = vec![("Authorization", auth.as_str())];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    http_request(api, method, path, &headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} failed: {e}\n{daemon}"))
}

fn labels(answer: &Answer) -> Vec<String> {
    let hosts: Value = answer.json().expect("JSON");
    hosts
        .as_array()
        .expect("an array")
        .iter()
        .map(|h| h["label"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every route the daemon registers, as (method, path template), read from its source.
fn routes() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for file in ["actors/src/api/mod.rs", "actors/src/web/mod.rs"] {
        let source = repo::read(file);
        for (at, _) in source.match_indices(".route(") {
            let rest = &source[at..];
            let Some(open) = rest.find('"') else { continue };
            let Some(length) = rest[open + 1..].find('"') else {
                continue;
            };
            let path = &rest[open + 1..open + 1 + length];
            // The route's own method is the first one named after its path.
            let method = ["get", "post", "delete", "put", "patch"]
                .into_iter()
                .filter_map(|m| Some((rest[open..].find(&format!("web::{m}()"))?, m)))
                .min()
                .map(|(_, m)| m)
                .unwrap_or_else(|| panic!("no method for route {path} in {file}"));
            found.push((method.to_uppercase(), path.to_string()));
        }
    }
    assert!(
        found.len() >= 25,
        "the route table was not found: {found:?}"
    );
    found
}

/// How a route must answer team A about team B.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// It names B's resource: 404 or 403.
    Refused,
    /// A list or page: any answer, none of B in it.
    Without,
}

/// The request that asks route (`method`, `template`) about B's resources, and what it must
/// answer; B's silence and announcement are `silence` and `announcement`.
fn asking_about_b(
    method: &str,
    template: &str,
    silence: &str,
    announcement: &str,
) -> (String, String, Expect) {
    let b_host = "team-b/secret-db";
    let b_host_escaped = "team-b%2Fsecret-db";
    let case = |path: String, body: &str, expect| (path, body.to_string(), expect);
    match (method, template) {
        ("GET", "/api/v1/hosts/{label:.+}") => {
            case(format!("/api/v1/hosts/{b_host}"), "", Expect::Refused)
        }
        ("GET", "/api/v1/hosts/{label:.+}/uptime") => case(
            format!("/api/v1/hosts/{b_host_escaped}/uptime"),
            "",
            Expect::Refused,
        ),
        ("GET", "/api/v1/hosts/{label:.+}/series") => case(
            format!("/api/v1/hosts/{b_host}/series"),
            "",
            Expect::Refused,
        ),
        ("GET", "/hosts/{label:.+}") => case(format!("/hosts/{b_host}"), "", Expect::Refused),
        ("GET", "/api/v1/events") => case(
            format!("/api/v1/events?host={b_host_escaped}"),
            "",
            Expect::Without,
        ),
        ("POST", "/api/v1/announcements/{id}/updates") => case(
            format!("/api/v1/announcements/{announcement}/updates"),
            r#"{"state": "resolved", "message": "taken over"}"#,
            Expect::Refused,
        ),
        ("DELETE", "/api/v1/announcements/{id}") => case(
            format!("/api/v1/announcements/{announcement}"),
            "",
            Expect::Refused,
        ),
        ("DELETE", "/api/v1/silences/{id}") => {
            case(format!("/api/v1/silences/{silence}"), "", Expect::Refused)
        }
        // Naming B's host makes it A's own label (`team-a/team-b/secret-db`), which does not
        // exist: refused as a bad request, or 403 for a viewer; it never mutes B.
        ("POST", "/api/v1/silences") => case(
            "/api/v1/silences".into(),
            &json!({"hosts": [b_host], "duration": "1h", "comment": "mute b"}).to_string(),
            Expect::Without,
        ),
        ("POST", "/api/v1/announcements") => case(
            "/api/v1/announcements".into(),
            r#"{"title": "a's note"}"#,
            Expect::Without,
        ),
        ("GET", "/api/v1/cluster" | "/api/v1/scheduler") => {
            case(template.to_string(), "", Expect::Refused)
        }
        ("GET", "/assets/{name}") => case("/assets/nothing.css".into(), "", Expect::Without),
        ("POST", "/login") => case("/login".into(), "token=wrong", Expect::Without),
        (_, path) if !path.contains('{') => case(path.to_string(), "", Expect::Without),
        _ => panic!("route {method} {template} has no case in the tenant matrix: add one"),
    }
}

/// `body` without the label A itself asked for, as an error repeats it (`no host labelled
/// "team-b/secret-db"`): that is A's own words, not B's data.
fn without_echo(body: &str) -> String {
    let mut said = body.to_string();
    for asked in ["team-b/secret-db", "team-a/team-b/secret-db"] {
        for echo in [
            format!("labelled \\\"{asked}\\\""),
            format!("labelled <code>{asked}</code>"),
        ] {
            said = said.replace(&echo, "labelled (asked)");
        }
    }
    said
}

/// A stream of `token` replays every kept event up to A's host going down, and none of B's.
fn stream_shows_none_of_b(daemon: &mut Daemon, token: &str) {
    let api = daemon.api();
    let auth = bearer(token);
    let mut stream = Stream::open(
        api,
        Some("00000000000000000000000000"),
        &[("Authorization", &auth)],
    );
    loop {
        let event = stream.next();
        let host = event.data["host"].as_str().unwrap_or_default().to_string();
        assert!(
            host.starts_with("team-a/"),
            "the stream of a team-a token carried {host}: {:?}",
            event.data
        );
        if host == "team-a/api" && event.data["status"] == "down" {
            return;
        }
    }
}

#[test]
fn a_tenant_sees_and_changes_only_its_own_in_every_route_and_role() {
    let (status, target) = switchable(200);
    let (_sandbox, mut daemon) = tenants_daemon(&target.url("/"));

    // The platform sees everything; B's host is down and B has a silence and an announcement.
    wait_until(DEADLINE, "B's host is down and A's is up", || {
        let answer = call(&mut daemon, PLATFORM, "GET", "/api/v1/hosts", "");
        let hosts: Value = answer.json().unwrap_or_default();
        let status_of = |label: &str| {
            hosts.as_array().and_then(|all| {
                all.iter()
                    .find(|h| h["label"] == label)
                    .map(|h| h["status"].clone())
            })
        };
        status_of("team-b/secret-db") == Some(json!("down"))
            && status_of("team-a/api") == Some(json!("up"))
            && status_of("platform-api") == Some(json!("up"))
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    let silence = call(
        &mut daemon,
        B_ADMIN,
        "POST",
        "/api/v1/silences",
        r#"{"hosts": ["secret-db"], "duration": "1h", "comment": "b-silence-comment"}"#,
    );
    assert_eq!(silence.status, 201, "{silence}");
    let silence = silence.json().expect("JSON")["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let announcement = call(
        &mut daemon,
        B_ADMIN,
        "POST",
        "/api/v1/announcements",
        r#"{"title": "b-announcement-title"}"#,
    );
    assert_eq!(announcement.status, 201, "{announcement}");
    let announcement = announcement.json().expect("JSON")["id"]
        .as_str()
        .expect("an id")
        .to_string();
    // B's own token took its bare label within its tenant and sees its silence.
    let b_silences = call(&mut daemon, B_ADMIN, "GET", "/api/v1/silences", "");
    assert!(b_silences.body.contains("team-b/secret-db"), "{b_silences}");

    // A's host goes down, after B's: the stream replay below ends at A's event.
    status.store(500, std::sync::atomic::Ordering::SeqCst);
    wait_until(DEADLINE, "A's host is down", || {
        call(&mut daemon, A_ADMIN, "GET", "/api/v1/hosts/team-a/api", "")
            .json()
            .is_ok_and(|h| h["status"] == "down")
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));

    // The matrix.
    let routes = routes();
    for (role, token) in A_ROLES {
        for (method, template) in &routes {
            if template == "/api/v1/stream" {
                stream_shows_none_of_b(&mut daemon, token);
                continue;
            }
            let (path, body, expect) = asking_about_b(method, template, &silence, &announcement);
            let answer = call(&mut daemon, token, method, &path, &body);
            let seen = format!("{role} token: {method} {path} ({template}) -> {answer}");
            if expect == Expect::Refused {
                assert!(
                    matches!(answer.status, 403 | 404),
                    "must be 403 or 404: {seen}"
                );
            }
            let said = without_echo(&answer.body);
            for secret in B_SECRETS {
                assert!(!said.contains(secret), "B's {secret:?} shown: {seen}");
            }
        }
    }

    // Nothing A did touched B: its silence and announcement are as they were, its host still
    // silenced by its own silence only.
    let after = call(&mut daemon, PLATFORM, "GET", "/api/v1/silences", "");
    let silences: Value = after.json().expect("JSON");
    let b_ids: Vec<&str> = silences["silences"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|s| s["hosts"].to_string().contains("team-b"))
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(b_ids, [silence.as_str()], "{after}");
    let notes = call(&mut daemon, PLATFORM, "GET", "/api/v1/announcements", "");
    let notes: Value = notes.json().expect("JSON");
    let b_note = notes
        .as_array()
        .expect("a list")
        .iter()
        .find(|n| n["id"] == announcement.as_str())
        .expect("B's announcement is still there");
    assert_eq!(b_note["updates"].as_array().map(Vec::len), Some(1));
    assert_eq!(b_note["tenant"], "team-b");
}

#[test]
fn roles_decide_what_a_tenant_may_change_and_the_platform_sees_all() {
    let (_status, target) = switchable(200);
    let (_sandbox, mut daemon) = tenants_daemon(&target.url("/"));
    daemon.wait_for_log("team-a/api is checked", |line| line.contains("team-a/api"));

    // Lists: each token its own, the platform everything.
    wait_until(DEADLINE, "every host is listed to the platform", || {
        labels(&call(&mut daemon, PLATFORM, "GET", "/api/v1/hosts", "")).len() == 3
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    let mut platform = labels(&call(&mut daemon, PLATFORM, "GET", "/api/v1/hosts", ""));
    platform.sort();
    assert_eq!(platform, ["platform-api", "team-a/api", "team-b/secret-db"]);
    for (_, token) in A_ROLES {
        let own = labels(&call(&mut daemon, token, "GET", "/api/v1/hosts", ""));
        assert_eq!(own, ["team-a/api"]);
    }
    // Labels with their `/` as written or escaped.
    for path in ["/api/v1/hosts/team-a/api", "/api/v1/hosts/team-a%2Fapi"] {
        let answer = call(&mut daemon, A_ADMIN, "GET", path, "");
        assert_eq!(answer.status, 200, "{path}: {answer}");
    }
    // A platform host is no tenant's either.
    let answer = call(
        &mut daemon,
        A_ADMIN,
        "GET",
        "/api/v1/hosts/platform-api",
        "",
    );
    assert_eq!(answer.status, 404, "{answer}");

    // Silences: a viewer may not; a responder's bare label is taken within its tenant.
    let mute = r#"{"hosts": ["api"], "duration": "10m", "comment": "deploy"}"#;
    let viewer = call(
        &mut daemon,
        "a-viewer-token",
        "POST",
        "/api/v1/silences",
        mute,
    );
    assert_eq!(viewer.status, 403, "{viewer}");
    assert!(viewer.body.contains("responder"), "{viewer}");
    let made = call(
        &mut daemon,
        "a-responder-token",
        "POST",
        "/api/v1/silences",
        mute,
    );
    assert_eq!(made.status, 201, "{made}");
    let id = made.json().expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let listed = call(&mut daemon, "a-viewer-token", "GET", "/api/v1/silences", "");
    let listed: Value = listed.json().expect("JSON");
    assert_eq!(listed["silences"][0]["hosts"], json!(["team-a/api"]));
    // B's token does not see or end A's silence.
    let b_end = call(
        &mut daemon,
        B_ADMIN,
        "DELETE",
        &format!("/api/v1/silences/{id}"),
        "",
    );
    assert_eq!(b_end.status, 404, "{b_end}");
    let ended = call(
        &mut daemon,
        "a-responder-token",
        "DELETE",
        &format!("/api/v1/silences/{id}"),
        "",
    );
    assert_eq!(ended.status, 204, "{ended}");

    // Reload: admins only; A's admin hears of A's hosts only.
    let responder = call(&mut daemon, "a-responder-token", "POST", "/-/reload", "");
    assert_eq!(responder.status, 403, "{responder}");
    let reloaded = call(&mut daemon, A_ADMIN, "POST", "/-/reload", "");
    assert_eq!(reloaded.status, 200, "{reloaded}");
    let summary = reloaded.json().expect("JSON");
    assert_eq!(summary["unchanged"], json!(["team-a/api"]), "{summary}");

    // The platform's own routes are the platform token's.
    for path in ["/api/v1/scheduler", "/api/v1/cluster"] {
        let refused = call(&mut daemon, A_ADMIN, "GET", path, "");
        assert_eq!(refused.status, 403, "{path}: {refused}");
    }
    let scheduler = call(&mut daemon, PLATFORM, "GET", "/api/v1/scheduler", "");
    assert_eq!(scheduler.status, 200, "{scheduler}");

    // `/metrics`: a tenant's series to its token, none of any tenant's without a token.
    let api = daemon.api();
    let own = call(&mut daemon, "a-viewer-token", "GET", "/metrics", "");
    assert!(own.body.contains("host=\"team-a/api\""), "{own}");
    assert!(!own.body.contains("platform-api"), "{own}");
    let scraped = http_request(api, "GET", "/metrics", &[], "").expect("answers");
    assert!(scraped.body.contains("host=\"platform-api\""), "{scraped}");
    assert!(!scraped.body.contains("team-"), "{scraped}");
    let all = call(&mut daemon, PLATFORM, "GET", "/metrics", "");
    assert!(all.body.contains("team-b/secret-db"), "{all}");

    // No token, or a wrong one, is no one.
    let anonymous = http_request(api, "GET", "/api/v1/hosts", &[], "").expect("answers");
    assert_eq!(anonymous.status, 401, "{anonymous}");
}

#[test]
fn wrong_tokens_from_one_address_are_throttled_before_argon2_and_right_ones_go_on() {
    let (_status, target) = switchable(200);
    let (_sandbox, mut daemon) = tenants_daemon(&target.url("/"));
    let mut refused = 0;
    let throttled = loop {
        let answer = call(&mut daemon, "guess", "GET", "/api/v1/hosts", "");
        match answer.status {
            401 => refused += 1,
            429 => break answer,
            other => panic!("a wrong token answered {other}: {answer}"),
        }
        assert!(
            refused <= 10,
            "never throttled after {refused} wrong tokens"
        );
    };
    assert_eq!(refused, 10);
    assert!(throttled.header("retry-after").is_some(), "{throttled}");
    // Tokens that cost no argon2 still get in from that address: the written ones, and the
    // hashed one that verified before the guessing began... which this one did not.
    let right = call(&mut daemon, PLATFORM, "GET", "/api/v1/hosts", "");
    assert_eq!(right.status, 200, "{right}");
    let hashed = call(&mut daemon, A_ADMIN, "GET", "/api/v1/hosts", "");
    assert_eq!(hashed.status, 429, "{hashed}");
    // The login form is throttled too, and lets the written token in.
    let api = daemon.api();
    let origin = format!("http://{api}");
    let form = http_request(
        api,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
        ],
        "token=guess&next=/",
    )
    .expect("answers");
    assert_eq!(form.status, 429, "{form}");
    let login = http_request(
        api,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
        ],
        &format!("token={PLATFORM}&next=/"),
    )
    .expect("answers");
    assert_eq!(login.status, 303, "{login}");
}
