//! Flapping settings through the public API: `defaults` and hosts, how a host overrides or
//! turns off what `defaults` says, and every mistake at its place with the fix.

use flowstate_config::FlappingSettings;

mod common;

use common::{error, errors, load};

fn flapping(window: u32, high: f64, low: f64) -> Option<FlappingSettings> {
    Some(FlappingSettings { window, high, low })
}

#[test]
fn flapping_is_off_unless_configured() {
    let config = load("hosts:\n  - { label: a, url: 'http://a/' }\n");
    assert_eq!(config.defaults.flapping, None);
    assert_eq!(config.host("a").unwrap().flapping, None);
}

#[test]
fn defaults_apply_to_every_host_and_percentages_read_with_or_without_the_sign() {
    let config = load(
        "defaults:\n  flapping: { window: 30, high: 60%, low: 20 }\nhosts:\n  - { label: a, url: 'http://a/' }\n",
    );
    assert_eq!(config.defaults.flapping, flapping(30, 60.0, 20.0));
    assert_eq!(config.host("a").unwrap().flapping, flapping(30, 60.0, 20.0));
}

#[test]
fn every_key_is_optional_with_nagios_like_defaults() {
    let config = load(
        "hosts:\n  - { label: a, url: 'http://a/', flapping: {} }\n  - { label: b, url: 'http://b/', flapping: true }\n  - { label: c, url: 'http://c/', flapping: { high: 70.5% } }\n",
    );
    assert_eq!(config.host("a").unwrap().flapping, flapping(20, 50.0, 25.0));
    assert_eq!(config.host("b").unwrap().flapping, flapping(20, 50.0, 25.0));
    assert_eq!(config.host("c").unwrap().flapping, flapping(20, 70.5, 25.0));
}

#[test]
fn a_host_overrides_defaults_key_by_key_and_false_turns_them_off() {
    let config = load(
        "defaults:\n  flapping: { window: 30, high: 60% }\nhosts:\n  - { label: a, url: 'http://a/', flapping: { low: 10% } }\n  - { label: b, url: 'http://b/', flapping: false }\n  - { label: c, url: 'http://c/' }\n",
    );
    assert_eq!(config.host("a").unwrap().flapping, flapping(30, 60.0, 10.0));
    assert_eq!(config.host("b").unwrap().flapping, None);
    assert_eq!(config.host("c").unwrap().flapping, flapping(30, 60.0, 25.0));
}

#[test]
fn flapping_is_a_host_setting_a_reload_compares() {
    let before = load("hosts:\n  - { label: a, url: 'http://a/' }\n");
    let after = load("hosts:\n  - { label: a, url: 'http://a/', flapping: { window: 10 } }\n");
    let diff = flowstate_config::ConfigDiff::between(&before, &after);
    assert_eq!(diff.changed.len(), 1);
    assert_eq!(diff.changed[0].keys, ["flapping"]);
    let settings = after.host("a").unwrap().settings();
    assert!(settings.contains(&("flapping", "window 10, high 50%, low 25%".to_string())));
}

#[test]
fn the_window_is_3_to_64_results() {
    assert_eq!(
        error("hosts:\n  - { label: a, url: 'http://a/', flapping: { window: 2 } }\n"),
        r#"flowstate.yaml:2:55: hosts[0] (label "a").flapping.window: must be at least 3, found 2"#
    );
    assert_eq!(
        error("defaults:\n  flapping: { window: 65 }\n"),
        "flowstate.yaml:2:23: defaults.flapping.window: must be at most 64, found 65"
    );
}

#[test]
fn percentages_are_checked_and_low_stays_below_high() {
    assert_eq!(
        error("defaults:\n  flapping: { high: 120% }\n"),
        "flowstate.yaml:2:21: defaults.flapping.high: expected a percentage from 0% to 100%, e.g. `20%`"
    );
    assert_eq!(
        error("defaults:\n  flapping: { low: 0% }\n"),
        "flowstate.yaml:2:20: defaults.flapping.low: low must be more than 0%: a host stops flapping below it; e.g. `low: 25%`"
    );
    assert_eq!(
        error("defaults:\n  flapping: { high: 30%, low: 40% }\n"),
        "flowstate.yaml:2:31: defaults.flapping.low: low (40%) must be below high (30%): a host starts flapping above high and stops below low; lower low or raise high"
    );
    // The other half may be inherited: the error names the key this block wrote.
    assert_eq!(
        error(
            "defaults:\n  flapping: { low: 40% }\nhosts:\n  - { label: a, url: 'http://a/', flapping: { high: 30% } }\n"
        ),
        r#"flowstate.yaml:4:53: hosts[0] (label "a").flapping.high: low (40%, inherited) must be below high (30%): a host starts flapping above high and stops below low; lower low or raise high"#
    );
}

#[test]
fn a_wrong_shape_or_key_says_what_to_write() {
    assert_eq!(
        error("hosts:\n  - { label: a, url: 'http://a/', flapping: 50% }\n"),
        r#"flowstate.yaml:2:45: hosts[0] (label "a").flapping: expected `flapping: { window: 20, high: 50%, low: 25% }`, or `flapping: false`, found `50%`"#
    );
    assert_eq!(
        error("hosts:\n  - { label: a, url: 'http://a/', flapping: [20] }\n"),
        r#"flowstate.yaml:2:45: hosts[0] (label "a").flapping: expected `flapping: { window: 20, high: 50%, low: 25% }`, or `flapping: false`, found a list"#
    );
    assert_eq!(
        errors("defaults:\n  flapping: { windw: 10 }\n"),
        ["flowstate.yaml:2:15: defaults.flapping.windw: unknown key `windw`; did you mean `window`?"]
    );
}
