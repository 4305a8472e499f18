//! Duration parsing as the configuration reads it (`interval`, `timeout`, every duration key:
//! humantime with flowstate's bounds), and the printed form of what it accepts.
//!
//! The input is the text of a host's `interval`, written into a YAML file as a double-quoted
//! scalar and loaded with `flowstate_config::load_str`. Invariants: no panic; an accepted
//! interval is longer than 0 and at most `MAX_DURATION`, is what humantime reads from the
//! text (when no `${VAR}` was substituted), and prints (humantime) to a text that reads back
//! to the same duration. (Sizes have no parser of their own: the only units of bytes are
//! performance data's `KB`..`TB`, fuzzed by `perfdata`.)
#![no_main]

use flowstate_config::MAX_DURATION;
use libfuzzer_sys::fuzz_target;

fn env(name: &str) -> Option<String> {
    match name {
        "INTERVAL" => Some("30s".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // JSON's string syntax is YAML's double-quoted scalar: the text arrives as written.
    let Ok(quoted) = serde_json::to_string(text) else {
        return;
    };
    let yaml = format!(
        "hosts:\n  - label: a\n    type: tcp\n    address: 127.0.0.1:1\n    interval: {quoted}\n"
    );
    let Ok(config) = flowstate_config::load_str("duration.yaml", &yaml, &env) else {
        return;
    };
    let interval = config.hosts()[0].interval;
    assert!(
        !interval.is_zero() && interval <= MAX_DURATION,
        "{text:?}: {interval:?}"
    );
    if !text.contains('$') {
        assert_eq!(humantime::parse_duration(text.trim()).ok(), Some(interval));
    }
    let printed = humantime::format_duration(interval).to_string();
    assert_eq!(
        humantime::parse_duration(&printed).ok(),
        Some(interval),
        "{printed:?} does not read back"
    );
});
