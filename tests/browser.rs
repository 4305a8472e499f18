//! The dashboard in a real browser: headless Chromium driven over WebDriver, against the real
//! daemon checking real loopback targets. The page lists the hosts; a host whose target starts
//! failing turns down in the page without a reload (the stream); filter and sort act in place;
//! the login and logout work; the page fits a 375 px screen; the public status page shows only
//! public hosts, without logging in.
//!
//! Every wait polls the page's DOM with a deadline; nothing sleeps and then asserts. The
//! screenshots go to `target/screenshots/`, or, with `FLOWSTATE_SCREENSHOTS=docs`, to
//! `docs/screenshots/` after letting the daemon gather a few minutes of history (how the
//! committed ones were made: `FLOWSTATE_SCREENSHOTS=docs cargo test --test integration --
//! browser::`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::browser::Browser;
use crate::common::configs::{document_serving, host, item};
use crate::common::repo::root;
use crate::common::{
    closed_port, start, start_located, switchable, Daemon, Response, Sandbox, TestServer,
};

const TOKEN: &str = "browser-test-token";

/// A target answering 200 after a delay that wanders between `low` and `high` ms, so the
/// charts have something to draw.
fn slow_target(low: u64, high: u64) -> TestServer {
    let tick = Arc::new(AtomicU16::new(0));
    TestServer::start(move |_, _| {
        let n = u64::from(tick.fetch_add(1, SeqCst));
        let span = high - low;
        // A smooth wave with a spike every 17th answer.
        let wave = (n * 7 % (2 * span + 1)).abs_diff(span);
        let ms = if n % 17 == 0 { high * 2 } else { low + wave };
        Response::status(200)
            .body("ok")
            .delay_headers(Duration::from_millis(ms))
    })
}

/// Where screenshots go: the committed ones with `FLOWSTATE_SCREENSHOTS=docs`, else a
/// directory of the build.
fn screenshot_dir() -> (PathBuf, bool) {
    let docs = std::env::var("FLOWSTATE_SCREENSHOTS").is_ok_and(|v| v == "docs");
    let dir = if docs {
        root().join("docs/screenshots")
    } else {
        root().join("target/screenshots")
    };
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    (dir, docs)
}

fn save(browser: &Browser, dir: &std::path::Path, name: &str) {
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(name), png).expect("save the screenshot");
}

/// `status` of the row of `label`, as the page shows it (`null` when there is no such row).
fn row_status(label: &str) -> String {
    format!(
        "const row = document.querySelector('tr[data-label=\"{label}\"]'); \
         return row ? row.dataset.status + ' ' + row.cells[0].textContent : null;"
    )
}

/// The labels of the rows shown now, in order, comma-separated (a JavaScript expression).
const SHOWN_EXPR: &str = "Array.from(document.querySelectorAll('#hosts tbody tr'))\
    .filter(r => !r.hidden).map(r => r.dataset.label).join(',')";

/// A script returning [`SHOWN_EXPR`].
fn shown() -> String {
    format!("return {SHOWN_EXPR};")
}

/// A script that is true once the rows shown are `labels`.
fn shown_is(labels: &str) -> String {
    format!("return {SHOWN_EXPR} === '{labels}';")
}

#[test]
fn the_dashboard_follows_a_host_down_and_up_without_a_reload_and_filters_in_place() {
    let (api_status, api) = switchable(200);
    let checkout = slow_target(20, 60);
    let www = slow_target(5, 15);
    let (dir, docs) = screenshot_dir();
    let state = "state: { path: state.db }\n";
    let (_sandbox, mut daemon) = start(&document_serving(
        "listen: \"127.0.0.1:0\"",
        state,
        "interval: 500ms, timeout: 400ms, failure_threshold: 1, success_threshold: 1",
        &[
            host("api", &api.url("/health"), "group: payments"),
            host(
                "checkout",
                &checkout.url("/"),
                "group: payments\ntimeout: 450ms",
            ),
            host("www", &www.url("/"), "group: frontend"),
            item(
                "db-primary",
                &format!(
                    "type: tcp\naddress: '127.0.0.1:{}'\ngroup: data",
                    closed_port()
                ),
            ),
        ],
    ));
    for label in ["api", "checkout", "www"] {
        daemon.wait_for_status(label, "up");
    }
    daemon.wait_for_status("db-primary", "down");
    let base = format!("http://{}", daemon.api());
    let browser = Browser::start(1280, 760);
    browser.goto(&format!("{base}/"));
    let rows = browser.wait_for(
        "the dashboard lists the four hosts",
        "const rows = document.querySelectorAll('#hosts tbody tr'); return rows.length === 4 ? rows.length : 0;",
    );
    assert_eq!(rows, 4);
    assert_eq!(browser.run(&row_status("api"), vec![]), "up ✓ up");
    browser.wait_for(
        "the stream is connected",
        "return document.getElementById('live').dataset.state === 'live'",
    );
    // Anything set now is lost if the page reloads.
    browser.run("window.sameDocument = true; return true;", vec![]);

    api_status.store(503, SeqCst);
    browser.wait_for(
        "api turns down in the page",
        "const row = document.querySelector('tr[data-label=\"api\"]'); return row && row.dataset.status === 'down';",
    );
    assert_eq!(browser.run(&row_status("api"), vec![]), "down ✕ down");
    assert_eq!(
        browser.run("return window.sameDocument === true", vec![]),
        true,
        "the page was reloaded"
    );
    let down_count = browser.run(
        "return document.querySelector('#counts [data-count=\"down\"]').textContent",
        vec![],
    );
    assert_eq!(down_count, "✕ 2 down");
    let reason = browser.run(
        "return document.querySelector('tr[data-label=\"api\"]').cells[4].textContent",
        vec![],
    );
    assert_eq!(reason, "status 503, expected 2xx");
    api_status.store(200, SeqCst);
    browser.wait_for(
        "api is up again in the page",
        "const row = document.querySelector('tr[data-label=\"api\"]'); return row.dataset.status === 'up';",
    );
    assert_eq!(
        browser.run("return window.sameDocument === true", vec![]),
        true
    );

    // Filter by text, then by status, in place; the address remembers it.
    browser.type_into("#q", "pay");
    browser.wait_for("only payments hosts show", &shown_is("api,checkout"));
    assert!(browser.url().ends_with("/?q=pay"), "{}", browser.url());
    browser.run(
        "document.getElementById('q').value = ''; return true;",
        vec![],
    );
    browser.type_into("#q", " ");
    browser.type_into("#status", "down");
    browser.wait_for("only the down host shows", &shown_is("db-primary"));
    browser.run(
        "const s = document.getElementById('status'); s.value = ''; s.dispatchEvent(new Event('input')); \
         document.getElementById('q').value = ''; document.getElementById('q').dispatchEvent(new Event('input')); return true;",
        vec![],
    );
    // Sort by host, by keyboard: the header is a button.
    browser.click("th[data-sort=\"label\"] button");
    let order = browser.run(&shown(), vec![]);
    assert_eq!(order, "api,checkout,db-primary,www");
    browser.click("th[data-sort=\"label\"] button");
    assert_eq!(browser.run(&shown(), vec![]), "www,db-primary,checkout,api");
    assert_eq!(
        browser.run(
            "return document.querySelector('th[data-sort=\"label\"]').getAttribute('aria-sort')",
            vec![]
        ),
        "descending"
    );

    if docs {
        // A few minutes of history, so the charts have something to show.
        let until = Instant::now() + Duration::from_secs(200);
        while Instant::now() < until {
            daemon.wait_for_checks("api", 1);
            std::thread::sleep(Duration::from_secs(5));
        }
        api_status.store(503, SeqCst);
        daemon.wait_for_status("api", "down");
    }
    browser.goto(&format!("{base}/?sort=status"));
    browser.wait_for(
        "the rows are back",
        "return document.querySelectorAll('#hosts tbody tr').length === 4",
    );
    browser.wait_for(
        "the stream is connected",
        "return document.getElementById('live').dataset.state === 'live'",
    );
    save(&browser, &dir, "dashboard.png");

    // A host's page with its chart and bars.
    browser.resize(1280, 1900);
    browser.goto(&format!("{base}/hosts/checkout?window=1h"));
    browser.wait_for(
        "the page is checkout's",
        "return document.querySelector('h1').textContent === 'checkout'",
    );
    save(&browser, &dir, "host.png");

    // A phone: no sideways scrolling, the host and its status still there.
    browser.resize(375, 800);
    browser.goto(&format!("{base}/"));
    browser.wait_for(
        "the rows are there",
        "return document.querySelectorAll('#hosts tbody tr').length === 4",
    );
    let width = browser.run(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
        vec![],
    );
    let Value::Array(width) = width else {
        panic!("not an array: {width}");
    };
    assert!(
        width[0].as_u64() <= width[1].as_u64(),
        "scrolls sideways at 375 px: {width:?}"
    );
    save(&browser, &dir, "dashboard-375px.png");
    drop(browser);
    let _ = daemon.stop("TERM");
}

#[test]
fn logging_in_and_out_in_the_browser() {
    let (_status, target) = switchable(200);
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &document_serving(
            &format!("listen: \"127.0.0.1:0\", token: {TOKEN}"),
            "",
            "interval: 1s",
            &[host("api", &target.url("/"), "")],
        ),
    );
    let mut daemon: Daemon = sandbox.daemon("flowstate.yaml").start();
    let base = format!("http://{}", daemon.api());
    let browser = Browser::start(1024, 700);
    browser.goto(&format!("{base}/hosts/api"));
    assert!(
        browser.url().ends_with("/login?next=%2Fhosts%2Fapi"),
        "{}",
        browser.url()
    );
    browser.type_into("#token", "wrong");
    browser.click("form.login button[type=submit]");
    browser.wait_for(
        "the form says the token is wrong",
        "const e = document.querySelector('[role=alert]'); return e && e.textContent",
    );
    browser.type_into("#token", TOKEN);
    browser.click("form.login button[type=submit]");
    browser.wait_for(
        "api's page shows after the login",
        "return document.querySelector('h1') && document.querySelector('h1').textContent === 'api'",
    );
    assert!(browser.url().ends_with("/hosts/api"), "{}", browser.url());
    // The script reaches the API and the stream with the session cookie alone.
    browser.goto(&format!("{base}/"));
    browser.wait_for(
        "the stream is connected",
        "return document.getElementById('live').dataset.state === 'live'",
    );
    // The cookie is not readable by scripts.
    assert_eq!(browser.run("return document.cookie", vec![]), "");
    browser.click("header.top form button");
    browser.wait_for(
        "the login form is back",
        "return !!document.getElementById('token')",
    );
    browser.goto(&format!("{base}/"));
    assert!(browser.url().contains("/login?next="), "{}", browser.url());
}

#[test]
fn the_status_page_shows_only_public_hosts_in_a_browser_without_logging_in() {
    let (api_status, api) = switchable(200);
    let www = slow_target(5, 15);
    let (dir, _) = screenshot_dir();
    let (sandbox, mut daemon) = start(&format!(
        "server: {{ listen: \"127.0.0.1:0\", token: {TOKEN} }}\n\
         state: {{ path: state.db }}\n\
         defaults: {{ interval: 500ms, timeout: 400ms, failure_threshold: 1, success_threshold: 1 }}\n\
         status_page:\n  title: Acme status\n  groups:\n    - {{ name: Website, hosts: [www] }}\n    - {{ name: API, hosts: [api] }}\n\
         hosts:\n{}{}{}",
        host("www", &www.url("/"), "public: true"),
        host("api", &api.url("/health"), "public: true"),
        host("billing-internal", &www.url("/"), ""),
    ));
    daemon.wait_for_log("www is checked", |l| l.contains("host=www status=up"));
    api_status.store(503, SeqCst);
    daemon.wait_for_log("api goes down", |l| l.contains("host=api status=down"));
    let api_url = format!("http://{}", daemon.api());
    let made = sandbox.run(&[
        "announce",
        "--api",
        &api_url,
        "--token",
        TOKEN,
        "new",
        "Elevated API errors",
        "--state",
        "identified",
        "-m",
        "A bad deploy is being rolled back",
    ]);
    made.expect_code(0);

    let browser = Browser::start(1024, 900);
    browser.goto(&format!("{api_url}/status"));
    browser.wait_for(
        "the page shows the outage and the announcement",
        "return document.body.innerText.includes('Partial outage') \
            && document.body.innerText.includes('A bad deploy is being rolled back');",
    );
    assert!(
        !browser.url().contains("/login"),
        "the status page needs no login: {}",
        browser.url()
    );
    let text = browser.run("return document.body.innerText;", vec![]);
    let text = text.as_str().unwrap_or_default();
    assert!(
        text.contains("Acme status") && text.contains("Website") && text.contains("API"),
        "{text}"
    );
    assert!(
        text.contains("Operational") && text.contains("Outage"),
        "{text}"
    );
    assert!(
        !text.contains("billing-internal"),
        "a private host on the public page: {text}"
    );
    assert!(
        !text.contains("503") && !text.contains("127.0.0.1"),
        "no reasons, no addresses: {text}"
    );
    // The page is styled (its inline stylesheet applied): the banner has the outage colour.
    let banner = browser.run(
        "return getComputedStyle(document.querySelector('.banner')).color;",
        vec![],
    );
    assert_eq!(banner, "rgb(255, 255, 255)", "the banner is styled");
    save(&browser, &dir, "status.png");
}

#[test]
fn in_a_cluster_the_dashboard_shows_the_quorums_partial_not_this_locations_down() {
    let server = crate::common::postgres::Postgres::start();
    let url = server.database("dashboard_cluster");
    let (eu_status, eu_target) = switchable(200);
    let (us_status, us_target) = switchable(200);
    let document = document_serving(
        "listen: \"127.0.0.1:0\"",
        &format!(
            "cluster: {{ url: '{url}', location: '${{LOCATION}}', quorum: 2, lease: 3s, heartbeat: 1s }}\n"
        ),
        "interval: 200ms, timeout: 200ms, failure_threshold: 1, locations: [eu, us]",
        &[host("api", "http://127.0.0.1:${TARGET_PORT}/", "group: payments")],
    );
    let (_eu_sandbox, mut eu) = start_located(&document, "eu", eu_target.port());
    let (_us_sandbox, _us) = start_located(&document, "us", us_target.port());
    eu.wait_for_host("api", "up for the cluster", |h| {
        h["cluster"]["status"] == "up"
    });

    // The agent in eu, whose own checks are about to fail.
    let browser = Browser::start(1280, 600);
    browser.goto(&format!("http://{}/", eu.api()));
    browser.wait_for(
        "api is up in the page",
        "const row = document.querySelector('tr[data-label=\"api\"]'); return row && row.dataset.status === 'up';",
    );
    browser.wait_for(
        "the stream is connected",
        "return document.getElementById('live').dataset.state === 'live'",
    );
    browser.run("window.sameDocument = true; return true;", vec![]);

    // Down from eu only: eu's own verdict is down, the page says partial and where it fails.
    eu_status.store(503, SeqCst);
    eu.wait_for_host("api", "down in eu", |h| h["status"] == "down");
    browser.wait_for(
        "api turns partial in the page",
        "const row = document.querySelector('tr[data-label=\"api\"]'); return row && row.dataset.status === 'partial';",
    );
    let row = browser.run(
        "const row = document.querySelector('tr[data-label=\"api\"]'); \
         return row.cells[0].textContent + ' | ' + row.cells[4].textContent;",
        vec![],
    );
    let row = row.as_str().unwrap_or_default().to_string();
    assert!(row.starts_with("◒ partial | down in eu"), "{row}");
    assert!(row.contains("below quorum 2"), "{row}");
    let count = browser.run(
        "return document.querySelector('#counts [data-count=\"partial\"]').textContent;",
        vec![],
    );
    assert_eq!(count, "◒ 1 partial");
    let (dir, _) = screenshot_dir();
    save(&browser, &dir, "cluster-partial.png");

    // From both: down, still without a reload.
    us_status.store(503, SeqCst);
    browser.wait_for(
        "api turns down in the page",
        "const row = document.querySelector('tr[data-label=\"api\"]'); return row && row.dataset.status === 'down';",
    );
    assert_eq!(
        browser.run("return window.sameDocument === true", vec![]),
        true,
        "updated in place"
    );
}
