//! Silences on the real daemon: made with `flowstate silence` and the API, kept across a
//! restart by the SQLite state store until removed, bad requests refused with a message that
//! names the field and what to send, and the same token as the rest of the API.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::configs::host;
use crate::common::daemon::{http_request, Answer, CONFIG};
use crate::common::{switchable, Daemon, Outcome, Sandbox};

const TOKEN: &str = "silences-token";

/// Hosts `api`, `www` and `db-primary` (all answering 200); `server` is more of the inside of
/// the `server` flow mapping, `top` more top-level lines (e.g. `state`).
fn config(url: &str, server: &str, top: &str) -> String {
    format!(
        "server: {{ listen: \"127.0.0.1:0\"{server} }}\n\
         {top}\
         defaults: {{ interval: 1s, timeout: 500ms }}\n\
         hosts:\n{}{}{}",
        host("api", url, ""),
        host("www", url, ""),
        host("db-primary", url, ""),
    )
}

/// `flowstate silence ARGS` against the daemon, with the token when one is given.
fn silence(sandbox: &Sandbox, daemon: &mut Daemon, token: Option<&str>, args: &[&str]) -> Outcome {
    let api = format!("http://{}", daemon.api());
    let mut all = vec!["silence", "--api", api.as_str()];
    if let Some(token) = token {
        all.extend_from_slice(&["--token", token]);
    }
    all.extend_from_slice(args);
    sandbox.run(&all)
}

/// `METHOD path` on the daemon's API with a JSON `body`, with the token when one is given.
fn request(
    daemon: &mut Daemon,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    let api = daemon.api();
    http_request(api, method, path, &headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} failed: {e}\n{daemon}"))
}

/// `GET /api/v1/silences`: the active silences.
#[track_caller]
fn listed(daemon: &mut Daemon, token: Option<&str>) -> Vec<Value> {
    let answer = request(daemon, "GET", "/api/v1/silences", token, "");
    assert_eq!(answer.status, 200, "{answer}\n{daemon}");
    let body = answer.json().expect("JSON");
    match &body["silences"] {
        Value::Array(silences) => silences.clone(),
        _ => panic!("no silences list in {body}"),
    }
}

#[test]
fn a_silence_made_by_the_cli_survives_a_restart_until_removed() {
    let (_, target) = switchable(200);
    let sandbox = Sandbox::new();
    let text = config(
        &target.url("/"),
        &format!(", token: {TOKEN}"),
        "state: { path: state.db }\n",
    );
    sandbox.write(CONFIG, &text);
    let mut daemon = sandbox.daemon(CONFIG).start();
    let token = Some(TOKEN);

    let made = silence(
        &sandbox,
        &mut daemon,
        token,
        &[
            "add",
            "--host",
            "api",
            "--host",
            "db-*",
            "--for",
            "2h",
            "--comment",
            "deploy 142",
        ],
    );
    made.expect_code(0);
    let id = made.stdout.trim().to_string();
    assert_eq!(id.len(), 26, "a ULID: {made}");
    let tomorrow =
        humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(86_400))
            .to_string();
    let until = silence(
        &sandbox,
        &mut daemon,
        token,
        &["add", "--host", "www", "--until", &tomorrow],
    );
    until.expect_code(0);
    let www_id = until.stdout.trim().to_string();

    let shown = silence(&sandbox, &mut daemon, token, &["list", "--json"]);
    shown.expect_code(0);
    let shown: Value = serde_json::from_str(&shown.stdout).expect("JSON");
    let first = &shown["silences"][0];
    assert_eq!(first["id"], id.as_str(), "{shown}");
    assert_eq!(
        first["hosts"],
        serde_json::json!(["api", "db-*"]),
        "{shown}"
    );
    assert_eq!(first["comment"], "deploy 142", "{shown}");
    assert_eq!(
        shown["silences"][1]["id"],
        www_id.as_str(),
        "oldest first: {shown}"
    );
    let www_until = shown["silences"][1]["until"].as_str().unwrap_or_default();
    assert_eq!(
        humantime::parse_rfc3339(www_until).ok(),
        humantime::parse_rfc3339(&tomorrow).ok(),
        "{shown}"
    );

    // The store keeps them: a restarted daemon lists the same silences.
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    let mut daemon = sandbox.daemon(CONFIG).start();
    let table = silence(&sandbox, &mut daemon, token, &["list"]);
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("HOSTS"),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&id) && l.contains("api,db-*") && l.ends_with("deploy 142")),
        "{table}"
    );
    let after = listed(&mut daemon, token);
    let ids: Vec<&str> = after.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, [id.as_str(), www_id.as_str()]);
    assert_eq!(after[0]["until"], first["until"], "the same end");
    assert_eq!(after[0]["created_at"], first["created_at"]);

    silence(&sandbox, &mut daemon, token, &["rm", &id]).expect_code(0);
    let left = listed(&mut daemon, token);
    assert!(
        left.iter().all(|s| s["id"] != id.as_str()) && left.len() == 1,
        "{left:?}"
    );
    let again = silence(&sandbox, &mut daemon, token, &["rm", &id]);
    again.expect_code(2);
    assert!(
        again
            .stderr
            .contains("answered 404: no active silence with id"),
        "{again}"
    );

    // Removed from the store too: the next start does not bring it back.
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    let mut daemon = sandbox.daemon(CONFIG).start();
    let ids: Vec<String> = listed(&mut daemon, token)
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, [www_id]);
}

#[test]
fn bad_silences_are_refused_400_with_what_to_fix() {
    let (_, target) = switchable(200);
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, &config(&target.url("/"), "", ""));
    let mut daemon = sandbox.daemon(CONFIG).start();

    let refused = |daemon: &mut Daemon, body: &str| -> (String, Value) {
        let answer = request(daemon, "POST", "/api/v1/silences", None, body);
        assert_eq!(answer.status, 400, "{body}: {answer}");
        let json = answer.json().expect("a JSON error");
        let error = json["error"].as_str().unwrap_or_default().to_string();
        (error, json["field"].clone())
    };
    let (error, field) = refused(&mut daemon, r#"{"hosts": ["apx"], "duration": "1h"}"#);
    assert_eq!(
        error,
        "hosts[0]: no host is labelled \"apx\"; did you mean \"api\"?"
    );
    assert_eq!(field, "hosts");
    let (error, field) = refused(
        &mut daemon,
        r#"{"hosts": ["api"], "until": "2020-01-01T00:00:00Z", "comment": "too late"}"#,
    );
    assert!(
        error.starts_with("until: \"2020-01-01T00:00:00Z\" is not in the future"),
        "{error}"
    );
    assert_eq!(field, "until");
    let (error, field) = refused(
        &mut daemon,
        r#"{"hosts": ["api"], "until": "2099-01-01T00:00:00Z", "duration": "2h"}"#,
    );
    assert!(
        error.starts_with("until and duration: both given"),
        "{error}"
    );
    assert_eq!(field, "until");
    let (error, field) = refused(
        &mut daemon,
        r#"{"hosts": ["api"], "duration": "2h", "why": "x"}"#,
    );
    assert!(
        error.starts_with("why: not a field of a silence"),
        "{error}"
    );
    assert_eq!(field, "why");

    // The CLI prints the daemon's message, not its JSON, and exits 2.
    let cli = silence(
        &sandbox,
        &mut daemon,
        None,
        &["add", "--host", "db-primray", "--for", "1h"],
    );
    cli.expect_code(2);
    assert!(
        cli.stderr
            .contains("answered 400: hosts[0]: no host is labelled \"db-primray\"; did you mean \"db-primary\"?"),
        "{cli}"
    );
    let cli = silence(
        &sandbox,
        &mut daemon,
        None,
        &["add", "--host", "api", "--until", "2020-01-01T00:00:00Z"],
    );
    cli.expect_code(2);
    assert!(cli.stderr.contains("is not in the future"), "{cli}");

    // A glob may match nothing (hosts added later); nothing refused was made.
    let answer = request(
        &mut daemon,
        "POST",
        "/api/v1/silences",
        None,
        r#"{"hosts": ["cache-*"], "duration": "30m"}"#,
    );
    assert_eq!(answer.status, 201, "{answer}");
    let silences = listed(&mut daemon, None);
    assert_eq!(silences.len(), 1, "{silences:?}");
    assert_eq!(silences[0]["hosts"], serde_json::json!(["cache-*"]));
    let unknown = request(&mut daemon, "DELETE", "/api/v1/silences/nope", None, "");
    assert_eq!(unknown.status, 404, "{unknown}");
}

#[test]
fn with_a_token_silences_need_it() {
    let (_, target) = switchable(200);
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &config(&target.url("/"), &format!(", token: {TOKEN}"), ""),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    let body = r#"{"hosts": ["api"], "duration": "1h"}"#;

    for token in [None, Some("wrong-token")] {
        for (method, path, body) in [
            ("GET", "/api/v1/silences", ""),
            ("POST", "/api/v1/silences", body),
            ("DELETE", "/api/v1/silences/01JNOSUCHSILENCE0000000000", ""),
        ] {
            let answer = request(&mut daemon, method, path, token, body);
            assert_eq!(
                answer.status, 401,
                "{method} {path} with {token:?}: {answer}"
            );
        }
    }
    let cli = silence(&sandbox, &mut daemon, None, &["list"]);
    cli.expect_code(2);
    assert!(cli.stderr.contains("refused the token (401)"), "{cli}");

    // With the token (no state store: the silence lives in memory).
    let made = request(&mut daemon, "POST", "/api/v1/silences", Some(TOKEN), body);
    assert_eq!(made.status, 201, "{made}");
    let id = made.json().expect("JSON")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let table = silence(&sandbox, &mut daemon, Some(TOKEN), &["list"]);
    table.expect_code(0);
    assert!(table.stdout.contains(&id), "{table}");
    let removed = request(
        &mut daemon,
        "DELETE",
        &format!("/api/v1/silences/{id}"),
        Some(TOKEN),
        "",
    );
    assert_eq!(removed.status, 204, "{removed}");
    assert!(listed(&mut daemon, Some(TOKEN)).is_empty());
}
