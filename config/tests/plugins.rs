//! The `plugins` section and hosts and notifiers of a plugin's type (SPEC §11): settings are
//! taken as JSON with `${VAR}` substituted, a type that is neither built in nor a plugin is
//! one error naming both kinds of choice, and a plugin's own keys belong under `settings`.

use flowstate_config::{Check, NotifierKind};
use serde_json::json;

mod common;

use common::{error, errors, load};

const PLUGINS: &str = r#"
plugins:
  redis: { command: ["/usr/lib/flowstate/plugins/redis-check", "--fast"], env: { REDIS_PASSWORD: "${API_KEY}" } }
  pager: { command: [pager-plugin] }
"#;

#[test]
fn a_plugin_host_keeps_its_settings_as_json_with_variables_substituted() {
    let config = load(&format!(
        "{PLUGINS}
hosts:
  - label: cache
    type: redis
    interval: 5s
    settings: {{ address: \"127.0.0.1:6379\", db: 2, tls: false, password: \"${{API_KEY}}\", nodes: [a, b] }}
"
    ));
    let plugin = config.plugin("redis").expect("plugin redis");
    assert_eq!(
        plugin.argv,
        vec!["/usr/lib/flowstate/plugins/redis-check", "--fast"]
    );
    assert_eq!(
        plugin.env,
        vec![("REDIS_PASSWORD".to_string(), "env-api-key-789".to_string())]
    );
    let Check::Plugin(used) = &config.host("cache").expect("host").check else {
        panic!("not a plugin check");
    };
    assert_eq!(&*used.plugin, "redis");
    assert_eq!(
        used.settings,
        json!({"address": "127.0.0.1:6379", "db": 2, "tls": false, "password": "env-api-key-789", "nodes": ["a", "b"]})
    );
    let shown: Vec<_> = config.host("cache").expect("host").describe();
    let settings = &shown.iter().find(|(k, _)| *k == "settings").expect("row").1;
    assert!(!settings.contains("env-api-key-789"), "{settings}");
    assert!(settings.contains("password"), "{settings}");
    assert!(!format!("{plugin:?}").contains("env-api-key-789"));
}

#[test]
fn a_notifier_of_a_plugin_type_has_its_settings_and_timeout() {
    let config = load(&format!(
        "{PLUGINS}
notifiers:
  oncall: {{ type: pager, timeout: 3s, settings: {{ team: infra }} }}
hosts:
  - {{ label: a, url: http://127.0.0.1:1/, alerts: [oncall] }}
"
    ));
    let NotifierKind::Plugin(used, timeout) = &config.notifier("oncall").expect("n").kind else {
        panic!("not a plugin notifier");
    };
    assert_eq!(used.settings, json!({"team": "infra"}));
    assert_eq!(timeout.as_secs(), 3);
}

#[test]
fn a_type_that_is_no_plugin_names_the_built_in_types_and_the_plugins() {
    let message = error(&format!(
        "{PLUGINS}
hosts:
  - {{ label: cache, type: rediss, url: http://x/ }}
"
    ));
    assert!(message.contains("flowstate.yaml:"), "{message}");
    assert!(message.contains("hosts[0]"), "{message}");
    assert!(message.contains("unknown check type `rediss`"), "{message}");
    assert!(message.contains("did you mean `redis`"), "{message}");
    assert!(message.contains("http, tcp"), "{message}");
    // Without plugins, a mistyped built-in type is one error too, not one per HTTP key.
    let message = error(
        "hosts:
  - { label: api, type: htp, url: http://x/, status: 200 }
",
    );
    assert!(message.contains("did you mean `http`"), "{message}");
    assert!(message.contains("defined under `plugins:`"), "{message}");
}

#[test]
fn a_plugin_hosts_own_keys_belong_under_settings() {
    let all = errors(&format!(
        "{PLUGINS}
notifiers:
  oncall: {{ type: pager, url: http://x/ }}
hosts:
  - {{ label: cache, type: redis, address: \"127.0.0.1:6379\" }}
"
    ));
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all.iter()
            .any(|e| e.contains("hosts[0]") && e.contains("`address`") && e.contains("settings:")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|e| e.contains("notifiers.oncall.url") && e.contains("settings:")),
        "{all:#?}"
    );
}

#[test]
fn plugin_sections_are_checked_with_their_place() {
    let all = errors(
        "plugins:
  http: { command: [x] }
  \"bad name\": { command: [x] }
  nocommand: {}
  empty: { command: [] }
  extra: { command: [x], args: [y] }
",
    );
    let expect = [
        ("plugins.http", "built-in type"),
        ("plugins.bad name", "not a plugin name"),
        ("plugins.nocommand", "missing `command`"),
        ("plugins.empty.command", "the command is empty"),
        ("plugins.extra.args", "unknown key `args`"),
    ];
    for (place, text) in expect {
        assert!(
            all.iter().any(|e| e.contains(place) && e.contains(text)),
            "{place} {text} not in {all:#?}"
        );
    }
}

#[test]
fn a_plugin_may_run_as_a_small_pool() {
    let config = load(
        "plugins:
  one: { command: [x] }
  pool: { command: [x], processes: 4 }
",
    );
    assert_eq!(config.plugin("one").expect("one").processes, 1);
    assert_eq!(config.plugin("pool").expect("pool").processes, 4);
    for bad in ["0", "17", "two"] {
        let message = error(&format!(
            "plugins:\n  pool: {{ command: [x], processes: {bad} }}\n"
        ));
        assert!(message.contains("plugins.pool.processes"), "{message}");
    }
}

#[test]
fn settings_that_have_no_json_form_are_refused_at_their_place() {
    let message = error(&format!(
        "{PLUGINS}
hosts:
  - {{ label: cache, type: redis, settings: {{ address: !custom x }} }}
"
    ));
    assert!(message.contains("settings.address"), "{message}");
    assert!(message.contains("remove the tag"), "{message}");
    let message = error(&format!(
        "{PLUGINS}
hosts:
  - {{ label: cache, type: redis, settings: [a] }}
"
    ));
    assert!(
        message.contains("expected a mapping of the plugin's settings"),
        "{message}"
    );
}
