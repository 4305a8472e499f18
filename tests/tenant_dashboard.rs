//! Tenants in the dashboard, in a real browser (headless Chromium over WebDriver): a tenant's
//! login sees its own hosts live and nothing of another tenant's, not even a switcher naming
//! them; the platform's login gets the tenant switcher, which scopes the page.
//!
//! Every wait polls the page's DOM with a deadline. Screenshots go to `target/screenshots/`.

use serde_json::Value;

use crate::common::browser::Browser;
use crate::common::repo::root;
use crate::common::{closed_port, switchable, Daemon, Sandbox};

const PLATFORM: &str = "platform-dash-token";
const A_TOKEN: &str = "a-dash-token";

/// The labels of the rows shown now, comma-separated.
const SHOWN: &str = "return Array.from(document.querySelectorAll('#hosts tbody tr'))\
    .filter(r => !r.hidden).map(r => r.dataset.label).sort().join(',');";

fn daemon(a_url: &str) -> (Sandbox, Daemon) {
    let sandbox = Sandbox::new();
    let down = closed_port();
    sandbox.write(
        "a.yaml",
        &format!("hosts:\n  - {{ label: api, url: '{a_url}', interval: 200ms }}\n"),
    );
    sandbox.write(
        "b.yaml",
        &format!(
            "hosts:\n  - {{ label: secret-db, type: tcp, address: '127.0.0.1:{down}', interval: 200ms }}\n"
        ),
    );
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "server: {{ listen: '127.0.0.1:0', token: {PLATFORM} }}\n\
             hosts:\n  - {{ label: platform-api, url: '{a_url}', interval: 200ms }}\n\
             tenants:\n\
             \x20 team-a: {{ config: a.yaml, tokens: [{{ token: {A_TOKEN}, role: viewer }}] }}\n\
             \x20 team-b: {{ config: b.yaml, tokens: [b-dash-token] }}\n"
        ),
    );
    let daemon = sandbox.daemon("flowstate.yaml").start();
    (sandbox, daemon)
}

fn log_in(browser: &Browser, base: &str, token: &str) {
    browser.goto(&format!("{base}/"));
    browser.wait_for(
        "the login form",
        "return !!document.getElementById('token')",
    );
    browser.type_into("#token", token);
    browser.click("form.login button[type=submit]");
    browser.wait_for(
        "the dashboard after the login",
        "return !!document.getElementById('hosts')",
    );
}

fn save(browser: &Browser, name: &str) {
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(name), png).expect("save the screenshot");
}

#[test]
fn a_tenant_sees_its_own_hosts_live_and_the_platform_switches_tenants() {
    let (status, target) = switchable(200);
    let (_sandbox, mut daemon) = daemon(&target.url("/"));
    let base = format!("http://{}", daemon.api());
    let browser = Browser::start(1100, 700);

    // Team A's login: its host only, no switcher, nothing of B anywhere in the page.
    log_in(&browser, &base, A_TOKEN);
    browser.wait_for(
        "team-a/api is up",
        "const r = document.querySelector('tr[data-label=\"team-a/api\"]'); return r && r.dataset.status === 'up';",
    );
    assert_eq!(browser.run(SHOWN, vec![]), "team-a/api");
    assert_eq!(
        browser.run("return !!document.getElementById('tenant')", vec![]),
        Value::Bool(false)
    );
    let html = browser.run("return document.documentElement.outerHTML", vec![]);
    let html = html.as_str().unwrap_or_default();
    for other in ["team-b", "secret-db", "platform-api"] {
        assert!(!html.contains(other), "{other} in team A's dashboard");
    }
    // Live, over the stream with the tenant's session.
    browser.wait_for(
        "the stream is connected",
        "return document.getElementById('live').dataset.state === 'live'",
    );
    status.store(500, std::sync::atomic::Ordering::SeqCst);
    browser.wait_for(
        "team-a/api turns down without a reload",
        "const r = document.querySelector('tr[data-label=\"team-a/api\"]'); return r && r.dataset.status === 'down';",
    );
    save(&browser, "tenant-dashboard.png");
    // B's host page is a host that does not exist.
    browser.goto(&format!("{base}/hosts/team-b/secret-db"));
    browser.wait_for(
        "the page says there is no such host",
        "return document.querySelector('h1') && document.querySelector('h1').textContent === 'No such host'",
    );
    browser.goto(&format!("{base}/hosts/team-a/api"));
    browser.wait_for(
        "A's own host page",
        "return document.querySelector('h1') && document.querySelector('h1').textContent === 'team-a/api'",
    );

    // The platform's login: the switcher, which scopes the page to one tenant.
    browser.goto(&format!("{base}/"));
    browser.click("header.top form button");
    browser.wait_for("logged out", "return !!document.getElementById('token')");
    log_in(&browser, &base, PLATFORM);
    browser.wait_for(
        "every host is listed",
        "return document.querySelectorAll('#hosts tbody tr').length === 3",
    );
    let options = browser.run(
        "return Array.from(document.querySelectorAll('#tenant option')).map(o => o.value).join(',')",
        vec![],
    );
    assert_eq!(options, ",-,team-a,team-b");
    browser.run(
        "const s = document.getElementById('tenant'); s.value = 'team-b'; s.dispatchEvent(new Event('change'));",
        vec![],
    );
    browser.wait_for(
        "the page is team B's",
        "return location.search.includes('tenant=team-b') && document.querySelectorAll('#hosts tbody tr').length === 1",
    );
    assert_eq!(browser.run(SHOWN, vec![]), "team-b/secret-db");
    let counts = browser.run(
        "return document.querySelector('#counts [data-count=\"down\"]').textContent",
        vec![],
    );
    assert!(
        counts.as_str().unwrap_or_default().contains("1 down"),
        "{counts}"
    );
    save(&browser, "tenant-switcher.png");
    browser.run(
        "const s = document.getElementById('tenant'); s.value = '-'; s.dispatchEvent(new Event('change'));",
        vec![],
    );
    browser.wait_for(
        "the page is the platform's own hosts",
        "return location.search.includes('tenant=-') && document.querySelectorAll('#hosts tbody tr').length === 1",
    );
    assert_eq!(browser.run(SHOWN, vec![]), "platform-api");
}
