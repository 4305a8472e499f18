//! Config versions and `flowstate migrate` (docs/upgrading.md): a newer version is refused,
//! naming the fix; `migrate` says what it would do without `--write`, and with it rewrites the
//! file keeping its comments, a same-permission backup, and a configuration that loads.

use std::os::unix::fs::PermissionsExt;

use crate::common::Sandbox;

const COMMENTED: &str = "# Production checks.\n# Owner: platform team.\n\nhosts:\n  - { label: api, url: \"http://127.0.0.1:1/\" } # the public API\n";

#[test]
fn a_file_for_a_newer_version_is_refused_with_its_place_and_the_fix() {
    let sandbox = Sandbox::new();
    sandbox.write("new.yaml", "version: 2\nhosts: []\n");
    let outcome = sandbox.run(&["check", "-c", "new.yaml"]);
    outcome.expect_code(2);
    let output = outcome.all_output();
    assert!(output.contains("new.yaml:1:10: version:"), "{output}");
    assert!(output.contains("config version 2"), "{output}");
    assert!(output.contains("upgrade flowstate"), "{output}");
    sandbox.write("word.yaml", "version: one\nhosts: []\n");
    let outcome = sandbox.run(&["check", "-c", "word.yaml"]);
    outcome.expect_code(2);
    assert!(outcome.all_output().contains("`version: 1`"), "{outcome}");
    sandbox.write("one.yaml", "version: 1\nhosts: []\n");
    sandbox.run(&["check", "-c", "one.yaml"]).expect_code(0);
}

#[test]
fn migrate_without_write_only_says_what_it_would_do() {
    let sandbox = Sandbox::new();
    let path = sandbox.write("flowstate.yaml", COMMENTED);
    let outcome = sandbox.run(&["migrate", "-c", "flowstate.yaml"]);
    outcome.expect_code(0);
    assert!(
        outcome.stdout.contains("`version: 1` would be added"),
        "{outcome}"
    );
    assert!(outcome.stdout.contains("nothing written"), "{outcome}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), COMMENTED);
    assert!(!sandbox.path().join("flowstate.yaml.bak").exists());
}

#[test]
fn migrate_write_keeps_comments_and_a_private_backup_then_validates() {
    let sandbox = Sandbox::new();
    let path = sandbox.write("flowstate.yaml", COMMENTED);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let outcome = sandbox.run(&["migrate", "-c", "flowstate.yaml", "--write"]);
    outcome.expect_code(0);
    assert!(
        outcome.stdout.contains("at version 1 and valid"),
        "{outcome}"
    );
    let migrated = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        migrated,
        "# Production checks.\n# Owner: platform team.\n\nversion: 1\nhosts:\n  - { label: api, url: \"http://127.0.0.1:1/\" } # the public API\n"
    );
    let backup = sandbox.path().join("flowstate.yaml.bak");
    assert_eq!(std::fs::read_to_string(&backup).expect("backup"), COMMENTED);
    for file in [&path, &backup] {
        let mode = std::fs::metadata(file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    sandbox
        .run(&["check", "-c", "flowstate.yaml"])
        .expect_code(0);
    // Once more: nothing left to do, nothing written.
    let again = sandbox.run(&["migrate", "-c", "flowstate.yaml", "--write"]);
    again.expect_code(0);
    assert!(again.stdout.contains("nothing to migrate"), "{again}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), migrated);
}

#[test]
fn migrate_refuses_what_it_cannot_migrate_and_reports_what_does_not_load() {
    let sandbox = Sandbox::new();
    let newer = sandbox.write("newer.yaml", "version: 9\nhosts: []\n");
    let outcome = sandbox.run(&["migrate", "-c", "newer.yaml", "--write"]);
    outcome.expect_code(2);
    assert!(
        outcome
            .all_output()
            .contains("newer.yaml: written for config version 9"),
        "{outcome}"
    );
    assert_eq!(
        std::fs::read_to_string(&newer).expect("read"),
        "version: 9\nhosts: []\n"
    );
    sandbox.write("broken.yaml", "hosts: [\n");
    let outcome = sandbox.run(&["migrate", "-c", "broken.yaml"]);
    outcome.expect_code(2);
    assert!(
        outcome.all_output().contains("fix the syntax first"),
        "{outcome}"
    );
    // Migrated, but wrong for another reason: said so, with the place and the backup kept.
    sandbox.write(
        "typo.yaml",
        "hosts:\n  - { label: api, url: \"http://127.0.0.1:1/\", intervall: 5s }\n",
    );
    let outcome = sandbox.run(&["migrate", "-c", "typo.yaml", "--write"]);
    outcome.expect_code(2);
    let output = outcome.all_output();
    assert!(output.contains("do not load yet"), "{output}");
    assert!(output.contains("intervall"), "{output}");
    assert!(sandbox.path().join("typo.yaml.bak").exists());
}
