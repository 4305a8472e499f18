//! The `cluster` section and hosts' `locations` through the public API: what a valid section
//! means, this agent's location from the file, `${VAR}` or the command line, the database
//! password never shown, and every mistake at its line and column with the fix.

use std::sync::Arc;
use std::time::Duration;

use flowstate_config::fingerprint::FingerprintKey;
use flowstate_config::host::Secrets;
use flowstate_config::{ClusterSettings, ConfigDiff};

mod common;

use common::{error, errors, load};

/// A cluster section with the given lines (each indented under `cluster:`).
fn cluster(lines: &str) -> String {
    let mut yaml =
        String::from("cluster:\n  url: postgres://flowstate:${PG_PASSWORD}@db:5432/flowstate\n");
    for line in lines.lines() {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

/// A file with a cluster in location `eu` and the given `hosts` lines.
fn with_hosts(hosts: &str) -> String {
    format!("{}hosts:\n{hosts}", cluster("location: eu"))
}

fn names(list: &[&str]) -> Option<Vec<Arc<str>>> {
    Some(list.iter().map(|l| Arc::from(*l)).collect())
}

/// The cluster settings of a valid file.
fn settings(yaml: &str) -> ClusterSettings {
    load(yaml).cluster.expect("a cluster section")
}

// ---------------------------------------------------------------------------------------------
// What a valid section means
// ---------------------------------------------------------------------------------------------

#[test]
fn without_cluster_the_agent_works_alone() {
    let config = load("hosts:\n  - { label: api, url: 'http://api/' }\n");
    assert!(config.cluster.is_none());
    assert!(config.locations().is_empty());
    // Nothing to settle: the command line's location is ignored.
    let config = config.with_location(Some("eu")).unwrap();
    assert!(config.cluster.is_none());
}

#[test]
fn every_key_is_read() {
    let c = settings(&cluster(
        "location: eu\nquorum: 1\nlease: 30s\nheartbeat: 10s\nagent_id: flowstate-eu-0",
    ));
    assert_eq!(
        c.url.expose(),
        "postgres://flowstate:pg-s3cret-pass@db:5432/flowstate"
    );
    assert_eq!(c.location.as_deref(), Some("eu"));
    assert_eq!(c.quorum, 1);
    assert_eq!(c.lease, Duration::from_secs(30));
    assert_eq!(c.heartbeat, Duration::from_secs(10));
    assert_eq!(c.agent_id.as_deref(), Some("flowstate-eu-0"));
}

#[test]
fn only_url_and_location_are_needed() {
    let c = settings(&cluster("location: eu"));
    assert_eq!(c.quorum, 1);
    assert_eq!(c.lease, Duration::from_secs(15));
    assert_eq!(c.heartbeat, Duration::from_secs(5));
    assert_eq!(c.agent_id, None);
    assert_eq!(ClusterSettings::DEFAULT_LEASE, c.lease);
}

#[test]
fn the_location_comes_from_an_environment_variable() {
    let config = load(&cluster(
        "location: ${FLOWSTATE_LOCATION}\nagent_id: ${POD_NAME}",
    ));
    let c = config.cluster.as_ref().unwrap();
    assert_eq!(c.location.as_deref(), Some("eu-west"));
    assert_eq!(c.agent_id.as_deref(), Some("flowstate-eu-west-0"));
    assert!(config.locations().contains("eu-west"));
    // Identities, like labels: shown everywhere, so not hidden from printed text either.
    assert_eq!(
        config.env_values.redact("eu-west flowstate-eu-west-0"),
        "eu-west flowstate-eu-west-0"
    );
    // The password is still hidden wherever it appears.
    assert_eq!(config.env_values.redact("pg-s3cret-pass"), "***");
}

// ---------------------------------------------------------------------------------------------
// The database password is never shown
// ---------------------------------------------------------------------------------------------

#[test]
fn the_password_is_never_shown() {
    for (yaml, password) in [
        (cluster("location: eu"), "pg-s3cret-pass"),
        (
            "cluster:\n  url: postgres://flowstate:hunter2-written@db/flowstate\n  location: eu\n"
                .to_string(),
            "hunter2-written",
        ),
    ] {
        let config = load(&yaml);
        let c = config.cluster.as_ref().unwrap();
        assert!(
            c.url.expose().contains(password),
            "it is there to connect with"
        );
        for shown in [
            c.to_string(),
            format!("{c:?}"),
            format!("{config:?}"),
            c.url.shown().to_string(),
        ] {
            assert!(!shown.contains(password), "{shown}");
            assert!(shown.contains("postgres://flowstate:***@db"), "{shown}");
        }
    }
}

#[test]
fn the_summary_says_what_the_agent_will_do() {
    let c = settings(&cluster("location: eu\nagent_id: a-1"));
    assert_eq!(
        c.to_string(),
        "postgres://flowstate:***@db:5432/flowstate, location eu, quorum 1, lease 15s, heartbeat 5s, agent_id a-1"
    );
    let c = settings(&cluster("location: ''"));
    assert_eq!(
        c.to_string(),
        "postgres://flowstate:***@db:5432/flowstate, location not set (--location or $FLOWSTATE_LOCATION), quorum 1, lease 15s, heartbeat 5s"
    );
}

#[test]
fn a_url_that_is_not_postgresql_is_refused_without_its_password() {
    assert_eq!(
        error("cluster:\n  url: mysql://flowstate:hunter2@db/flowstate\n  location: eu\n"),
        "flowstate.yaml:2:8: cluster.url: `mysql://flowstate:***@db/flowstate` is not a PostgreSQL URL; write it as postgres://user:password@host:5432/database"
    );
    assert_eq!(
        error("cluster:\n  location: eu\n"),
        "flowstate.yaml:2:3: cluster: missing `url`: the PostgreSQL database the agents share, e.g. `url: postgres://flowstate:${PG_PASSWORD}@db:5432/flowstate`"
    );
}

#[test]
fn the_cluster_database_cannot_also_be_an_agents_state_store() {
    let shared = "postgres://flowstate:hunter2@db:5432/flowstate";
    let message = error(&format!(
        "state:\n  url: {shared}\ncluster:\n  url: {shared}\n  location: eu\n"
    ));
    assert_eq!(
        message,
        "flowstate.yaml:4:8: cluster.url: cluster.url is also state.url: each agent's state store holds its own location's results and must be its own; give state.url a database of its own per agent, or use state.path"
    );
    assert!(!message.contains("hunter2"));
    // A database of its own is fine.
    load(&format!(
        "state:\n  url: postgres://flowstate:hunter2@db:5432/agent_eu\ncluster:\n  url: {shared}\n  location: eu\n"
    ));
}

// ---------------------------------------------------------------------------------------------
// This agent's location: the file, or the command line
// ---------------------------------------------------------------------------------------------

#[test]
fn without_a_location_the_file_loads_and_the_command_line_must_give_one() {
    let config = load(&cluster("quorum: 1"));
    assert_eq!(config.cluster.as_ref().unwrap().location, None);
    let e = config.clone().with_location(None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "flowstate.yaml:1:1: cluster: this agent's location is not set; give it as `cluster.location`, with `--location`, or in `$FLOWSTATE_LOCATION` (a name such as `eu`)"
    );
    // An empty value (an empty $FLOWSTATE_LOCATION) is no location either.
    assert!(config.clone().with_location(Some("")).is_err());
    let settled = config.with_location(Some("us")).unwrap();
    assert_eq!(
        settled.cluster.as_ref().unwrap().location.as_deref(),
        Some("us")
    );
    assert!(settled.locations().contains("us"));
}

#[test]
fn an_empty_variable_leaves_the_location_to_the_command_line() {
    let config = load(&cluster("location: ${UNSET_LOCATION:-}"));
    assert_eq!(config.cluster.as_ref().unwrap().location, None);
    let config = config.with_location(Some("ap")).unwrap();
    assert_eq!(config.cluster.unwrap().location.as_deref(), Some("ap"));
}

#[test]
fn the_command_line_wins_over_the_file() {
    let config = load(&cluster("location: eu"))
        .with_location(Some("us"))
        .unwrap();
    assert_eq!(
        config.cluster.as_ref().unwrap().location.as_deref(),
        Some("us")
    );
    let kept = load(&cluster("location: eu")).with_location(None).unwrap();
    assert_eq!(kept.cluster.unwrap().location.as_deref(), Some("eu"));
}

#[test]
fn a_bad_location_from_the_command_line_says_where_it_came_from() {
    let e = load(&cluster(""))
        .with_location(Some("US"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "flowstate.yaml: cluster.location: `US` (from --location or $FLOWSTATE_LOCATION) is not a location name: use 1 to 32 lowercase letters, digits and `-`, e.g. `eu-west`; did you mean `us`?"
    );
}

#[test]
fn location_names_are_short_lowercase_words() {
    assert_eq!(
        error(&cluster("location: EU")),
        "flowstate.yaml:3:13: cluster.location: `EU` is not a location name: use 1 to 32 lowercase letters, digits and `-`, e.g. `eu-west`; did you mean `eu`?"
    );
    assert_eq!(
        error(&cluster("location: eu west")),
        "flowstate.yaml:3:13: cluster.location: `eu west` is not a location name: use 1 to 32 lowercase letters, digits and `-`, e.g. `eu-west`"
    );
    let long = "x".repeat(33);
    assert!(error(&cluster(&format!("location: {long}"))).contains("is not a location name"));
    // A value from the environment is not repeated, nor guessed at.
    assert_eq!(
        error(&cluster("location: ${LOUD_LOCATION}")),
        "flowstate.yaml:3:13: cluster.location: the value of its environment variable is not a location name: use 1 to 32 lowercase letters, digits and `-`, e.g. `eu-west`"
    );
}

// ---------------------------------------------------------------------------------------------
// quorum, lease, heartbeat, agent_id
// ---------------------------------------------------------------------------------------------

#[test]
fn quorum_is_a_whole_number_of_at_least_one() {
    assert_eq!(
        error(&cluster("location: eu\nquorum: 0")),
        "flowstate.yaml:4:11: cluster.quorum: must be at least 1, found 0"
    );
    assert_eq!(
        error(&cluster("location: eu\nquorum: two")),
        "flowstate.yaml:4:11: cluster.quorum: expected a whole number of at least 1, such as `quorum: 3`, found the string \"two\""
    );
}

#[test]
fn quorum_cannot_exceed_the_locations_known() {
    assert_eq!(
        error(&cluster("location: eu\nquorum: 2")),
        "flowstate.yaml:4:11: cluster.quorum: quorum (2) is more than the number of locations (1: eu), so no host could be seen failing in 2 locations; lower quorum, or name the locations in `locations` (in `defaults` for every host)"
    );
    // Without this agent's location, it may still add one.
    assert_eq!(
        error(&cluster("quorum: 2")),
        "flowstate.yaml:3:11: cluster.quorum: quorum (2) is more than the number of locations (at most 1: this agent's own), so no host could be seen failing in 2 locations; lower quorum, or name the locations in `locations` (in `defaults` for every host)"
    );
}

#[test]
fn the_lease_is_3s_to_5m() {
    assert_eq!(
        error(&cluster("location: eu\nlease: 2s")),
        "flowstate.yaml:4:10: cluster.lease: lease must be between 3s and 5m, found `2s`: it is how long a leader that stops renewing its lease stays leader before another agent takes over"
    );
    assert!(error(&cluster("location: eu\nlease: 6m")).contains("found `6m`"));
    let c = settings(&cluster("location: eu\nlease: 5m\nheartbeat: 1m"));
    assert_eq!(c.lease, Duration::from_secs(300));
    assert_eq!(
        error(&cluster("location: eu\nlease: 15")),
        "flowstate.yaml:4:10: cluster.lease: expected a duration with a unit, found the number 15; write it as 15s or 15ms"
    );
}

#[test]
fn the_heartbeat_is_less_than_half_the_lease() {
    assert_eq!(
        error(&cluster("location: eu\nheartbeat: 8s")),
        "flowstate.yaml:4:14: cluster.heartbeat: heartbeat (8s) must be less than half of lease (15s), so a leader that misses one heartbeat still holds its lease; lower heartbeat, or raise lease to more than 16s"
    );
    // With the heartbeat inherited, the lease written is what is too short.
    assert_eq!(
        error(&cluster("location: eu\nlease: 10s")),
        "flowstate.yaml:4:10: cluster.lease: heartbeat (5s) must be less than half of lease (10s), so a leader that misses one heartbeat still holds its lease; lower heartbeat, or raise lease to more than 10s"
    );
    assert_eq!(
        error(&cluster("location: eu\nheartbeat: 500ms")),
        "flowstate.yaml:4:14: cluster.heartbeat: heartbeat must be at least 1s, found `500ms`: every heartbeat of every agent is a write to the database"
    );
    let c = settings(&cluster("location: eu\nlease: 3s\nheartbeat: 1s"));
    assert_eq!(c.heartbeat, Duration::from_secs(1));
}

#[test]
fn an_agent_id_has_no_spaces_and_an_empty_one_is_derived() {
    assert_eq!(
        error(&cluster("location: eu\nagent_id: agent one")),
        "flowstate.yaml:4:13: cluster.agent_id: an agent id is 1 to 253 characters without spaces or control characters, e.g. `agent_id: ${HOSTNAME}`; remove agent_id to derive it from the host name"
    );
    let c = settings(&cluster("location: eu\nagent_id: ${UNSET_ID:-}"));
    assert_eq!(c.agent_id, None);
}

#[test]
fn every_mistake_in_the_section_is_reported_at_once() {
    assert_eq!(
        errors("cluster:\n  quorom: 2\n  location: EU\n  lease: 1s\n  agent_id: 'a b'\n"),
        [
            "flowstate.yaml:2:3: cluster.quorom: unknown key `quorom`; did you mean `quorum`?",
            "flowstate.yaml:2:3: cluster: missing `url`: the PostgreSQL database the agents share, e.g. `url: postgres://flowstate:${PG_PASSWORD}@db:5432/flowstate`",
            "flowstate.yaml:3:13: cluster.location: `EU` is not a location name: use 1 to 32 lowercase letters, digits and `-`, e.g. `eu-west`; did you mean `eu`?",
            "flowstate.yaml:4:10: cluster.lease: lease must be between 3s and 5m, found `1s`: it is how long a leader that stops renewing its lease stays leader before another agent takes over",
            "flowstate.yaml:5:13: cluster.agent_id: an agent id is 1 to 253 characters without spaces or control characters, e.g. `agent_id: ${HOSTNAME}`; remove agent_id to derive it from the host name",
        ]
    );
}

#[test]
fn cluster_is_set_in_one_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let section = "cluster:\n  url: postgres://f:p@db/f\n  location: eu\n";
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, section).unwrap();
    std::fs::write(&b, section).unwrap();
    let e = flowstate_config::load_with_env(&[a.clone(), b.clone()], &common::env).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:1:1: cluster: `cluster` is already set in {}:1:1; keep it in one file",
            b.display(),
            a.display()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Hosts' locations
// ---------------------------------------------------------------------------------------------

#[test]
fn a_host_without_locations_is_checked_everywhere() {
    let config = load(&with_hosts("  - { label: api, url: 'http://api/' }\n"));
    let api = config.host("api").unwrap();
    assert_eq!(api.locations, None);
    assert!(api.checked_in("eu") && api.checked_in("somewhere-else"));
    assert_eq!(
        config.locations().into_iter().collect::<Vec<_>>(),
        names(&["eu"]).unwrap()
    );
}

#[test]
fn hosts_override_the_locations_of_defaults() {
    let yaml = format!(
        "{}defaults:\n  locations: [us, eu]\nhosts:\n  - {{ label: a, url: 'http://a/' }}\n  - {{ label: b, url: 'http://b/', locations: [ap] }}\n  - {{ label: c, url: 'http://c/', locations: '${{FLOWSTATE_LOCATION}}' }}\n",
        cluster("location: eu\nquorum: 2")
    );
    let config = load(&yaml);
    assert_eq!(config.defaults.locations, names(&["eu", "us"]), "sorted");
    let (a, b, c) = (
        config.host("a").unwrap(),
        config.host("b").unwrap(),
        config.host("c").unwrap(),
    );
    assert_eq!(a.locations, names(&["eu", "us"]));
    assert_eq!(b.locations, names(&["ap"]));
    assert_eq!(c.locations, names(&["eu-west"]));
    assert!(a.checked_in("us") && a.checked_in("eu") && !a.checked_in("ap"));
    assert!(b.checked_in("ap") && !b.checked_in("eu"));
    assert!(c.checked_in("eu-west") && !c.checked_in("eu"));
    let all: Vec<Arc<str>> = config.locations().into_iter().collect();
    assert_eq!(Some(all), names(&["ap", "eu", "eu-west", "us"]));
    assert!(a.settings().contains(&("locations", "eu, us".to_string())));
    assert!(a.describe().contains(&("locations", "eu, us".to_string())));
}

#[test]
fn locations_are_location_names_each_once() {
    assert_eq!(
        errors(&with_hosts(
            "  - { label: a, url: 'http://a/', locations: [] }\n  - { label: b, url: 'http://b/', locations: [eu, EU, eu] }\n"
        )),
        [
            r#"flowstate.yaml:5:46: hosts[0] (label "a").locations: the list is empty; name the locations that check the host, e.g. `locations: [eu, us]`, or remove `locations` to check it in every location"#,
            r#"flowstate.yaml:6:51: hosts[1] (label "b").locations[1]: `EU` is not a location name: use 1 to 32 lowercase letters, digits and `-`, e.g. `eu-west`; did you mean `eu`?"#,
            r#"flowstate.yaml:6:55: hosts[1] (label "b").locations[2]: `eu` is listed twice; list each location once"#,
        ]
    );
    assert_eq!(
        error(&format!(
            "{}defaults:\n  locations: [eu, eu]\n",
            cluster("location: eu")
        )),
        "flowstate.yaml:5:19: defaults.locations[1]: `eu` is listed twice; list each location once"
    );
}

#[test]
fn locations_need_a_cluster() {
    assert_eq!(
        errors(
            "defaults:\n  locations: [eu]\nhosts:\n  - { label: a, url: 'http://a/', locations: [us] }\n"
        ),
        [
            "flowstate.yaml:2:3: defaults.locations: `locations` needs a top-level `cluster:` section (agents in several locations sharing one database); add `cluster:` with its `url` and `location`, or remove `locations`: one flowstate alone checks every host itself",
            r#"flowstate.yaml:4:35: hosts[0] (label "a").locations: `locations` needs a top-level `cluster:` section (agents in several locations sharing one database); add `cluster:` with its `url` and `location`, or remove `locations`: one flowstate alone checks every host itself"#,
        ]
    );
    // A cluster section with errors of its own is there all the same: only its error shows.
    assert_eq!(
        errors(
            "cluster:\n  location: eu\nhosts:\n  - { label: a, url: 'http://a/', locations: [eu] }\n"
        ),
        ["flowstate.yaml:2:3: cluster: missing `url`: the PostgreSQL database the agents share, e.g. `url: postgres://flowstate:${PG_PASSWORD}@db:5432/flowstate`"]
    );
}

#[test]
fn quorum_counts_the_locations_hosts_name() {
    let three = "  - { label: api, url: 'http://api/', locations: [eu, us, ap] }\n";
    let yaml = format!("{}hosts:\n{three}", cluster("location: eu\nquorum: 3"));
    assert_eq!(load(&yaml).cluster.unwrap().quorum, 3);
    assert_eq!(
        error(&format!("{}hosts:\n{three}", cluster("location: eu\nquorum: 4"))),
        "flowstate.yaml:4:11: cluster.quorum: quorum (4) is more than the number of locations (3: ap, eu, us), so no host could be seen failing in 4 locations; lower quorum, or name the locations in `locations` (in `defaults` for every host)"
    );
    // A host with an error of its own still names its locations: no second, false error.
    let broken = "  - { label: api, url: 'ftp://api/', locations: [eu, us, ap] }\n";
    let all = errors(&format!(
        "{}hosts:\n{broken}",
        cluster("location: eu\nquorum: 3")
    ));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].contains("is not an http or https URL"), "{all:#?}");
}

#[test]
fn quorum_is_checked_again_once_the_command_line_gives_the_location() {
    let yaml = format!("{}defaults:\n  locations: [eu, us]\n", cluster("quorum: 3"));
    // This agent's location may be a third one: the file is valid.
    let config = load(&yaml);
    assert!(config.clone().with_location(Some("ap")).is_ok());
    assert_eq!(
        config.with_location(Some("eu")).unwrap_err().to_string(),
        "flowstate.yaml:3:11: cluster.quorum: quorum (3) is more than the number of locations (2: eu, us), so no host could be seen failing in 3 locations; lower quorum, or name the locations in `locations` (in `defaults` for every host)"
    );
    assert!(error(&format!(
        "{}defaults:\n  locations: [eu, us]\n",
        cluster("quorum: 4")
    ))
    .contains("(at most 3: eu, us and this agent's own)"));
}

#[test]
fn locations_are_a_host_setting_a_reload_and_check_diff_compare() {
    let host = |locations: &str| {
        with_hosts(&format!(
            "  - {{ label: api, url: 'http://api/'{locations} }}\n"
        ))
    };
    let everywhere = load(&host(""));
    let two = load(&host(", locations: [eu, us]"));
    let diff = ConfigDiff::between(&everywhere, &two);
    assert_eq!(diff.changed.len(), 1);
    assert_eq!(diff.changed[0].keys, ["locations"]);
    // The order they are written in is no change.
    let reordered = load(&host(", locations: [us, eu]"));
    assert!(ConfigDiff::between(&two, &reordered).is_empty());

    let key = FingerprintKey::random().unwrap();
    let fingerprint = |config: &flowstate_config::Config| {
        config
            .host("api")
            .unwrap()
            .fingerprints(&key, Secrets::Hidden)
            .into_iter()
            .find(|(name, _)| *name == "locations")
            .map(|(_, fingerprint)| fingerprint)
            .expect("locations are fingerprinted")
    };
    assert_ne!(fingerprint(&everywhere), fingerprint(&two));
    assert_eq!(fingerprint(&two), fingerprint(&reordered));
}

#[test]
fn a_change_of_the_locations_in_defaults_changes_the_hosts_that_inherit_them() {
    let with_defaults = |locations: &str| {
        format!(
            "{}defaults:\n  locations: {locations}\nhosts:\n  - {{ label: a, url: 'http://a/' }}\n  - {{ label: b, url: 'http://b/', locations: [eu] }}\n",
            cluster("location: eu")
        )
    };
    let diff = ConfigDiff::between(
        &load(&with_defaults("[eu]")),
        &load(&with_defaults("[eu, us]")),
    );
    let changed: Vec<&str> = diff.changed.iter().map(|c| &*c.label).collect();
    assert_eq!(changed, ["a"]);
    assert_eq!(diff.unchanged, [Arc::from("b")]);
}

// ---------------------------------------------------------------------------------------------
// Reloads
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reload_that_changes_cluster_is_told_to_need_a_restart() {
    let hosts = "hosts:\n  - { label: api, url: 'http://api/' }\n";
    let before = load(&format!("{}{hosts}", cluster("location: eu")));
    let after = load(&format!(
        "cluster:\n  url: postgres://flowstate:other-password@db2:5432/flowstate\n  location: us\n  heartbeat: 2s\n{hosts}"
    ));
    let diff = ConfigDiff::between(&before, &after);
    assert_eq!(
        diff.needs_restart,
        ["cluster.url", "cluster.location", "cluster.heartbeat"]
    );
    assert_eq!(diff.unchanged, [Arc::from("api")], "hosts are not touched");
    // The location the command line gave is no change when a reload gives it again.
    let given = |yaml: &str| load(yaml).with_location(Some("ap")).unwrap();
    let file = format!("{}{hosts}", cluster(""));
    assert!(ConfigDiff::between(&given(&file), &given(&file))
        .needs_restart
        .is_empty());
}
