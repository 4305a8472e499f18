//! `flowstate check --diff`: what a reload of local files would change on a running daemon,
//! compared by fingerprints so no secret crosses the wire or reaches the output.

use crate::common::server::{Response, TestServer};
use crate::common::Sandbox;

fn config(listen: &str, hosts: &str) -> String {
    format!("server: {{ listen: {listen}, token: s3cret-token }}\ndefaults: {{ interval: 1h }}\nhosts:\n{hosts}")
}

#[test]
fn check_diff_names_added_removed_and_changed_keys_without_secrets() {
    let target = TestServer::always(Response::ok("fine"));
    let running = Sandbox::new();
    running.write(
        "flowstate.yaml",
        &config(
            "\"127.0.0.1:0\"",
            &format!(
                "  - {{ label: api, url: '{0}', headers: {{ Authorization: 'Bearer old-secret' }} }}\n  - {{ label: old, url: '{0}' }}\n  - {{ label: same, url: '{0}' }}\n",
                target.url("/")
            ),
        ),
    );
    let mut daemon = running.daemon("flowstate.yaml").start();
    let api = format!("http://{}", daemon.api());

    let local = Sandbox::new();
    local.write(
        "flowstate.yaml",
        &config(
            "\"127.0.0.1:0\"",
            &format!(
                "  - {{ label: api, url: '{0}', interval: 5m, headers: {{ Authorization: 'Bearer new-secret' }} }}\n  - {{ label: new, url: '{0}' }}\n  - {{ label: same, url: '{0}' }}\n",
                target.url("/")
            ),
        ),
    );
    let outcome = local.run(&["check", "--diff", "--api", &api, "--token", "s3cret-token"]);
    outcome.expect_code(0);
    assert!(
        outcome
            .stdout
            .contains("~ changed   api: headers, interval"),
        "{outcome}"
    );
    assert!(outcome.stdout.contains("+ added     new"), "{outcome}");
    assert!(outcome.stdout.contains("- removed   old"), "{outcome}");
    assert!(outcome.stdout.contains("= 1 unchanged"), "{outcome}");
    for secret in ["old-secret", "new-secret", "s3cret-token"] {
        assert!(
            !outcome.stdout.contains(secret) && !outcome.stderr.contains(secret),
            "{secret} leaked: {outcome}"
        );
    }

    let refused = local.run(&["check", "--diff", "--api", &api]);
    refused.expect_code(2);
    assert!(refused.stderr.contains("401"), "{refused}");
    drop(daemon);
}

#[test]
fn check_diff_against_no_daemon_exits_2_naming_the_address() {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", "hosts: []\n");
    let port = crate::common::server::closed_port();
    let api = format!("http://127.0.0.1:{port}");
    let outcome = sandbox.run(&["check", "--diff", "--api", &api]);
    outcome.expect_code(2);
    assert!(outcome.stderr.contains(&api), "{outcome}");
}

#[test]
fn check_diff_names_maintenance_windows_added_removed_and_changed() {
    let target = TestServer::always(Response::ok("fine"));
    let windows = |list: &str| {
        format!(
            "{}maintenance:\n{list}",
            config(
                "\"127.0.0.1:0\"",
                &format!("  - {{ label: db-1, url: '{}' }}\n", target.url("/"))
            )
        )
    };
    let running = Sandbox::new();
    running.write(
        "flowstate.yaml",
        &windows(
            "  - { name: weekly, schedule: '0 3 * * SUN', duration: 2h }\n\
             \x20 - { name: gone, schedule: '0 4 * * *', duration: 1h }\n\
             \x20 - { name: same, schedule: '0 5 * * *', duration: 1h }\n",
        ),
    );
    let mut daemon = running.daemon("flowstate.yaml").start();
    let api = format!("http://{}", daemon.api());
    let local = Sandbox::new();
    local.write(
        "flowstate.yaml",
        &windows(
            "  - { name: weekly, schedule: '0 3 * * SUN', duration: 3h, timezone: Europe/Berlin }\n\
             \x20 - { name: new, start: '2026-12-12T22:00:00Z', end: '2026-12-13T04:00:00Z' }\n\
             \x20 - { name: same, schedule: '0 5 * * *', duration: 1h }\n",
        ),
    );
    let outcome = local.run(&["check", "--diff", "--api", &api, "--token", "s3cret-token"]);
    outcome.expect_code(0);
    for expected in [
        "~ changed   maintenance weekly: duration, timezone",
        "+ added     maintenance new",
        "- removed   maintenance gone",
    ] {
        assert!(outcome.stdout.contains(expected), "{expected:?}: {outcome}");
    }
    assert!(!outcome.stdout.contains("maintenance same"), "{outcome}");
    drop(daemon);
}
