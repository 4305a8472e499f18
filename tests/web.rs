//! The dashboard over HTTP (SPEC §8), on the real daemon: the pages list the hosts as the API
//! does, everything a host says is escaped, no secret of a host's configuration reaches its
//! page, the login's cookie and CSRF rules hold, and `/api/v1/stream` delivers transitions
//! with the alert events' ids and replays what a reconnecting client missed.
//!
//! The browser's side (scripts, live rows, screenshots) is in `tests/browser.rs`.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use serde_json::Value;

use crate::common::configs::{document_serving, host, item, ALERTS};
use crate::common::daemon::{http_get, http_request, Answer};
use crate::common::events::{id, wait_for_event};
use crate::common::stream::Stream;
use crate::common::{closed_port, start, switchable, Daemon, Sandbox, DEADLINE};

const TOKEN: &str = "web-test-token";

/// What a page says where history would be, without a store.
const NO_STORE: &str = "history needs a state store (state.path or state.url)";

/// A config with the API on a free port, checks every 300 ms, down after one failure; `top`
/// holds more top-level lines (`state:`), `server` more of the server mapping.
fn config(server: &str, top: &str, hosts: &[String]) -> String {
    document_serving(
        &format!("listen: \"127.0.0.1:0\"{server}"),
        top,
        "interval: 300ms, timeout: 250ms, failure_threshold: 1, success_threshold: 1",
        hosts,
    )
}

/// `GET path` that must answer 200 with HTML; its body.
#[track_caller]
fn page(daemon: &mut Daemon, path: &str) -> String {
    let answer = daemon.get(path);
    assert_eq!(answer.status, 200, "GET {path}: {answer}\n{daemon}");
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{path}"
    );
    answer.body
}

/// The first `src`/`href` in `html` that starts with `prefix`.
fn asset_path(html: &str, prefix: &str) -> String {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in the page:\n{html}"));
    let rest = &html[start..];
    rest[..rest.find('"').expect("the attribute ends")].to_string()
}

#[test]
fn the_dashboard_lists_every_host_with_its_status_reason_and_group() {
    let (_up, target) = switchable(200);
    let down = format!("http://127.0.0.1:{}/", closed_port());
    let (_sandbox, mut daemon) = start(&config(
        "",
        "",
        &[
            host("api", &target.url("/"), "group: payments"),
            host("db-proxy", &down, ""),
        ],
    ));
    daemon.wait_for_status("api", "up");
    daemon.wait_for_status("db-proxy", "down");
    let html = page(&mut daemon, "/");
    assert!(
        html.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{html}"
    );
    for expected in [
        r#"<a href="/hosts/api">api</a>"#,
        r#"<a href="/hosts/db-proxy">db-proxy</a>"#,
        r#"<td class="status up">✓ up</td>"#,
        r#"<td class="status down">✕ down</td>"#,
        r#"<span class="status up">✓ 1 up</span>"#,
        r#"<span class="status down">✕ 1 down</span>"#,
        "status 200",
        "connection refused",
        r#"<option value="payments">payments</option>"#,
        "2 of 2 hosts shown",
        // Without a store the page says why availability is missing.
        NO_STORE,
        r#"<svg class="spark""#,
    ] {
        assert!(html.contains(expected), "{expected:?} is not in:\n{html}");
    }

    // The filter and the sort work as a form the server answers (no script needed).
    let filtered = page(&mut daemon, "/?q=REFUSED&status=&sort=-label");
    assert!(filtered.contains("1 of 2 hosts shown"), "{filtered}");
    assert!(
        filtered.contains(r#"<tr data-label="api" data-status="up" data-group="payments""#)
            && filtered.contains(" hidden>"),
        "{filtered}"
    );
    let api_row = filtered.find(r#"data-label="api""#).expect("api's row");
    let db_row = filtered
        .find(r#"data-label="db-proxy""#)
        .expect("db-proxy's row");
    assert!(db_row < api_row, "sorted by label, descending");
    assert!(filtered.contains(r#"aria-sort="descending""#), "{filtered}");

    // The assets are in the binary under hashed names, cached for good.
    for prefix in ["/assets/style.", "/assets/app."] {
        let path = asset_path(&html, prefix);
        let asset = daemon.get(&path);
        assert_eq!(asset.status, 200, "{path}: {asset}");
        assert_eq!(
            asset.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert!(!asset.body.is_empty());
    }
    assert_eq!(daemon.get("/assets/app.0000000000000000.js").status, 404);

    // A host's page, and a host that does not exist.
    let api = page(&mut daemon, "/hosts/api");
    assert!(
        api.contains("<h1>api</h1>")
            && api.contains(r#"<dd id="host-status"><span class="status up">"#),
        "{api}"
    );
    assert!(
        api.contains("Recent checks") && api.contains("✓ passed"),
        "{api}"
    );
    assert!(api.contains(NO_STORE), "{api}");
    let missing = daemon.get("/hosts/nope");
    assert_eq!(missing.status, 404, "{missing}");
    assert!(missing.body.contains("No such host"), "{missing}");
}

#[test]
fn labels_and_reasons_are_shown_escaped() {
    let hostile = "<script>alert(1)</script>";
    let script = item(
        hostile,
        "type: script\n\
         command: [sh, -c, \"echo '<img src=x onerror=alert(2)>'; exit 2\"]",
    );
    let (_sandbox, mut daemon) = start(&config("", "", &[script]));
    let api = daemon.api();
    // The label is no path as it is: wait on the dashboard itself.
    let dashboard = crate::common::wait::wait_for(DEADLINE, "the host is down", || {
        let answer = http_get(api, "/").ok()?;
        answer.body.contains("✕ 1 down").then_some(answer.body)
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    let encoded = "%3Cscript%3Ealert%281%29%3C%2Fscript%3E";
    let host = page(&mut daemon, &format!("/hosts/{encoded}"));
    for html in [&dashboard, &host] {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{html}"
        );
    }
    assert!(dashboard.contains(&format!(r#"href="/hosts/{encoded}""#)));
    // The pages allow no inline script at all.
    let answer = daemon.get("/");
    let policy = answer.header("content-security-policy").unwrap_or("");
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
}

#[test]
fn a_host_page_never_shows_a_secret_of_its_configuration() {
    let (_up, target) = switchable(200);
    let secrets = [
        "userinfo-secret-1",
        "bearer-secret-2",
        "api-token-secret-3",
        "basic-secret-4",
        "env-secret-5",
    ];
    let userinfo = format!("http://monitor:{}@{}/health", secrets[0], target.addr());
    let hosts = [
        host(
            "userinfo",
            &userinfo,
            &format!(
                "headers: {{ Authorization: \"Bearer {}\", X-Api-Token: {} }}",
                secrets[1], secrets[2]
            ),
        ),
        host(
            "basic",
            &target.url("/"),
            &format!(
                "auth: {{ basic: {{ username: monitor, password: {} }} }}\n\
                 headers: {{ X-Trace: \"${{TRACE_KEY}}\" }}",
                secrets[3]
            ),
        ),
    ];
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", &config("", "", &hosts));
    let mut daemon = sandbox
        .daemon("flowstate.yaml")
        .env("TRACE_KEY", secrets[4])
        .start();
    daemon.wait_for_checks("userinfo", 1);
    daemon.wait_for_checks("basic", 1);
    for label in ["userinfo", "basic"] {
        let html = page(&mut daemon, &format!("/hosts/{label}"));
        for secret in secrets {
            assert!(
                !html.contains(secret),
                "{label}'s page shows {secret}:\n{html}"
            );
        }
        assert!(
            html.contains("***"),
            "{label}: nothing shown as redacted:\n{html}"
        );
        assert!(html.contains("Configuration"), "{html}");
    }
    let userinfo = page(&mut daemon, "/hosts/userinfo");
    assert!(userinfo.contains("Authorization: ***"), "{userinfo}");
    assert!(userinfo.contains("monitor:***@"), "{userinfo}");
    let basic = page(&mut daemon, "/hosts/basic");
    assert!(basic.contains("basic monitor:***"), "{basic}");
}

#[test]
fn with_a_store_a_host_page_draws_its_latency_and_days() {
    let (_up, target) = switchable(200);
    let (_sandbox, mut daemon) = start(&config(
        "",
        "state: { path: state.db }\n",
        &[host("api", &target.url("/"), "")],
    ));
    daemon.wait_for_checks("api", 3);
    let api = daemon.api();
    // Results reach the store with the next save, about a second later.
    let html = crate::common::wait::wait_for(DEADLINE, "the chart has a point", || {
        let answer = http_get(api, "/hosts/api?window=1h").ok()?;
        (answer.status == 200 && answer.body.contains(r#"<svg class="chart""#))
            .then_some(answer.body)
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    assert!(html.contains(r#"<svg class="days""#), "{html}");
    assert!(html.matches("<rect class=").count() >= 90, "{html}");
    assert!(html.contains(r#"aria-current="page">1h</a>"#), "{html}");
    assert!(!html.contains(NO_STORE), "{html}");
}

/// `METHOD path` with headers and a form body.
#[track_caller]
fn send(
    daemon: &mut Daemon,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let api = daemon.api();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if !body.is_empty() {
        all.push(("Content-Type", "application/x-www-form-urlencoded"));
    }
    http_request(api, method, path, &all, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{daemon}"))
}

/// The `name=value` of a `Set-Cookie` header.
fn session_cookie(answer: &Answer) -> String {
    let set = answer
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {answer:?}"));
    set.split(';').next().unwrap_or_default().to_string()
}

#[test]
fn with_a_token_pages_need_a_login_whose_cookie_is_http_only_and_strict() {
    let (_up, target) = switchable(200);
    let (_sandbox, mut daemon) = start(&config(
        &format!(", token: {TOKEN}"),
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let origin = format!("http://{}", daemon.api());
    let origin = origin.as_str();

    // Pages go to the login, coming back after; the status stream and the API say 401.
    let refused = daemon.get("/hosts/api?window=7d");
    assert_eq!(refused.status, 303, "{refused}");
    assert_eq!(
        refused.header("location"),
        Some("/login?next=%2Fhosts%2Fapi%3Fwindow%3D7d")
    );
    assert_eq!(daemon.get("/api/v1/stream").status, 401);
    assert_eq!(daemon.get("/api/v1/hosts").status, 401);
    // The assets need no login (the login page uses them).
    let form = page(&mut daemon, "/login?next=/hosts/api");
    assert!(
        form.contains(r#"<input id="token" type="password" name="token""#)
            && form.contains(r#"<label for="token">"#)
            && form.contains(r#"name="next" value="/hosts/api""#),
        "{form}"
    );
    let css = asset_path(&form, "/assets/style.");
    assert_eq!(daemon.get(&css).status, 200);

    // A wrong token: the form again, no cookie.
    let wrong = send(
        &mut daemon,
        "POST",
        "/login",
        &[("Origin", origin)],
        "token=nope&next=%2F",
    );
    assert_eq!(wrong.status, 401, "{wrong}");
    assert!(wrong.header("set-cookie").is_none());
    assert!(wrong.body.contains("That token is not right"), "{wrong}");

    // The right one: a session cookie, HttpOnly, SameSite=Strict, not Secure over plain HTTP.
    let body = format!("token={TOKEN}&next=%2Fhosts%2Fapi");
    let login = send(&mut daemon, "POST", "/login", &[("Origin", origin)], &body);
    assert_eq!(login.status, 303, "{login}");
    assert_eq!(login.header("location"), Some("/hosts/api"));
    let set = login.header("set-cookie").unwrap_or_default().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    assert!(!set.contains(TOKEN), "{set}");
    let cookie = session_cookie(&login);
    let with_cookie = [("Cookie", cookie.as_str())];
    let dashboard = send(&mut daemon, "GET", "/", &with_cookie, "");
    assert_eq!(dashboard.status, 200, "{dashboard}");
    assert!(dashboard.body.contains("Log out"), "{dashboard}");
    // The page's script calls the API with the cookie.
    assert_eq!(
        send(&mut daemon, "GET", "/api/v1/hosts", &with_cookie, "").status,
        200
    );
    // The bearer header still works, and a wrong one is not saved by nothing.
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        send(&mut daemon, "GET", "/", &[("Authorization", &bearer)], "").status,
        200
    );

    // Behind a TLS proxy the cookie is Secure; `next` never leaves this daemon.
    let tls_origin = format!("https://{}", daemon.api());
    let proxied = send(
        &mut daemon,
        "POST",
        "/login",
        &[("Origin", &tls_origin), ("X-Forwarded-Proto", "https")],
        &format!("token={TOKEN}&next=%2F%2Fevil.example"),
    );
    assert_eq!(proxied.status, 303, "{proxied}");
    assert_eq!(proxied.header("location"), Some("/"));
    assert!(proxied
        .header("set-cookie")
        .unwrap_or_default()
        .contains("; Secure"));

    // Logging out ends the session and takes the cookie away.
    let logout = send(
        &mut daemon,
        "POST",
        "/logout",
        &[("Origin", origin), ("Cookie", &cookie)],
        "",
    );
    assert_eq!(logout.status, 303, "{logout}");
    assert!(logout
        .header("set-cookie")
        .unwrap_or_default()
        .contains("Max-Age=0"));
    let after = send(&mut daemon, "GET", "/", &with_cookie, "");
    assert_eq!(after.status, 303, "{after}");
    assert_eq!(
        send(&mut daemon, "GET", "/api/v1/hosts", &with_cookie, "").status,
        401
    );
}

#[test]
fn posts_from_another_site_or_from_nowhere_are_refused() {
    let (_sandbox, mut daemon) = start(&config(&format!(", token: {TOKEN}"), "", &[]));
    let origin = format!("http://{}", daemon.api());
    let body = format!("token={TOKEN}");
    // Without Origin or Referer, or from elsewhere: 403, and no session.
    for headers in [
        vec![],
        vec![("Origin", "http://evil.example")],
        vec![("Referer", "http://evil.example/page")],
        vec![("Origin", "null")],
    ] {
        let answer = send(&mut daemon, "POST", "/login", &headers, &body);
        assert_eq!(answer.status, 403, "{headers:?}: {answer}");
        assert!(answer.header("set-cookie").is_none());
    }
    // A Referer of this daemon will do where a browser sends no Origin.
    let referer = format!("{origin}/login");
    let login = send(
        &mut daemon,
        "POST",
        "/login",
        &[("Referer", &referer)],
        &body,
    );
    assert_eq!(login.status, 303, "{login}");
    let cookie = session_cookie(&login);
    // With the session, a cross-site POST changes nothing: not a logout, not a reload.
    let evil = [
        ("Origin", "http://evil.example"),
        ("Cookie", cookie.as_str()),
    ];
    assert_eq!(send(&mut daemon, "POST", "/logout", &evil, "").status, 403);
    assert_eq!(
        send(&mut daemon, "POST", "/-/reload", &evil, "").status,
        403
    );
    assert_eq!(
        send(&mut daemon, "GET", "/", &[("Cookie", &cookie)], "").status,
        200
    );
    let same = [("Origin", origin.as_str()), ("Cookie", cookie.as_str())];
    assert_eq!(
        send(&mut daemon, "POST", "/-/reload", &same, "").status,
        200
    );
}

#[test]
fn the_stream_sends_each_transition_with_the_alert_id_and_replays_after_last_event_id() {
    let (status, target) = switchable(200);
    let (sandbox, mut daemon) = start(&config("", "", &[host("api", &target.url("/"), "")]));
    daemon.wait_for_status("api", "up");
    let api = daemon.api();

    // A client that last saw something older than every kept event gets them all: the first
    // verdict too, which alerts no one (unknown -> up) but is a transition all the same.
    let mut replayed = Stream::open(api, Some("0"), &[]);
    let first = replayed.next();
    assert_eq!(first.kind, "status");
    assert_eq!(
        (
            &first.data["host"],
            &first.data["event"],
            &first.data["status"],
            &first.data["previous"]
        ),
        (
            &Value::from("api"),
            &Value::from("up"),
            &Value::from("up"),
            &Value::from("unknown")
        )
    );
    assert_eq!(first.id, first.data["id"].as_str().unwrap_or_default());

    // Live: a client without an id gets only what happens from now on.
    let mut live = Stream::open(api, None, &[]);
    status.store(503, SeqCst);
    let down = live.next();
    assert_eq!(
        (down.kind.as_str(), &down.data["status"]),
        ("status", &Value::from("down"))
    );
    assert_eq!(down.data["reason"], "status 503, expected 2xx");
    // The id is the one notifiers got for the same change.
    let alerted = wait_for_event(&sandbox, &daemon, "down", "api");
    assert_eq!(down.id, id(&alerted), "{ALERTS}: {alerted}");
    status.store(200, SeqCst);
    let up = live.next();
    assert_eq!(
        (&up.data["event"], &up.data["previous"]),
        (&Value::from("up"), &Value::from("down"))
    );
    assert!(
        up.id > down.id,
        "ids are ULIDs, ordered by time: {} then {}",
        down.id,
        up.id
    );

    // Reconnecting after `down`: only `up` is replayed, then nothing more.
    // (A check that times out on a busy machine may add transitions after `up`: those are
    // news, and come after it.)
    let mut again = Stream::open(api, Some(&down.id), &[]);
    let missed = again.ids_within(Duration::from_millis(500));
    assert_eq!(missed.first(), Some(&up.id), "{missed:?}");
    let mut caught_up = Stream::open(api, Some(&up.id), &[]);
    let replayed = caught_up.ids_within(Duration::from_millis(500));
    assert!(
        replayed.iter().all(|id| *id > up.id),
        "replayed what was seen: {replayed:?}"
    );
}

#[test]
fn a_new_token_ends_the_sessions_opened_with_the_old_one() {
    let before = config(&format!(", token: {TOKEN}"), "", &[]);
    let (sandbox, mut daemon) = start(&before);
    let origin = format!("http://{}", daemon.api());
    let login = |daemon: &mut Daemon, token: &str| {
        let answer = send(
            daemon,
            "POST",
            "/login",
            &[("Origin", &origin)],
            &format!("token={token}"),
        );
        assert_eq!(answer.status, 303, "{answer}");
        session_cookie(&answer)
    };
    let cookie = login(&mut daemon, TOKEN);
    assert_eq!(
        send(&mut daemon, "GET", "/", &[("Cookie", &cookie)], "").status,
        200
    );
    // The edit is applied by the file watcher (the reload route would need the token).
    sandbox.write(
        crate::common::daemon::CONFIG,
        &before.replace(TOKEN, "rotated-token"),
    );
    let api = daemon.api();
    crate::common::wait::wait_until(DEADLINE, "the old session is refused", || {
        http_request(api, "GET", "/", &[("Cookie", &cookie)], "")
            .is_ok_and(|answer| answer.status == 303)
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    let fresh = login(&mut daemon, "rotated-token");
    assert_eq!(
        send(&mut daemon, "GET", "/", &[("Cookie", &fresh)], "").status,
        200
    );
}
