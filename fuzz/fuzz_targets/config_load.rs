//! Config loading: YAML, `include` globs, `${VAR}` interpolation and validation.
//!
//! The input is one YAML file, read with `flowstate_config::load_str` and a fixed environment.
//! When it holds the line `--- include ---`, what precedes it is written as `main.yaml` and
//! what follows as `conf.d/part.yaml` in a temporary directory, and the files are loaded with
//! `load_with_env`, so the include path (globs relative to the including file) runs too.
//!
//! Invariants: no panic; a configuration that loads is unchanged against itself (an empty
//! diff, nothing needing a restart); loading the same text twice gives the same
//! fingerprints (a daemon and `check --diff` must agree), and the fingerprint key
//! round-trips through its hex form.
#![no_main]

use flowstate_config::diff::ConfigDiff;
use flowstate_config::host::Secrets;
use flowstate_config::{Config, FingerprintKey};
use libfuzzer_sys::fuzz_target;

/// The line that splits the input into two files.
const SPLIT: &str = "\n--- include ---\n";

/// A fixed environment: a plain value, an empty one, and values that would be YAML (or another
/// variable) if interpolation ever re-parsed its output.
fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/flowstate".into()),
        "PORT" => Some("8080".into()),
        "TOKEN" => Some("s3cr3t".into()),
        "EMPTY" => Some(String::new()),
        "TRICKY" => Some("a: b\n- ${TOKEN} $$ {x: [1, 2]}".into()),
        _ => None,
    }
}

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn check(loaded: &Config, again: &Config) {
    let diff = ConfigDiff::between(loaded, loaded);
    assert!(diff.is_empty(), "a config differs from itself: {diff:?}");
    assert!(diff.needs_restart.is_empty(), "{diff:?}");
    let key = FingerprintKey::from_hex(KEY).expect("a valid key");
    assert_eq!(key.to_hex(), KEY);
    assert_eq!(loaded.hosts().len(), again.hosts().len());
    for (a, b) in loaded.hosts().iter().zip(again.hosts()) {
        assert_eq!(a.label, b.label);
        for secrets in [Secrets::Compared, Secrets::Hidden] {
            assert_eq!(a.fingerprints(&key, secrets), b.fingerprints(&key, secrets));
        }
    }
    assert!(ConfigDiff::between(loaded, again).is_empty());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.split_once(SPLIT) {
        None => {
            let first = flowstate_config::load_str("fuzz.yaml", text, &env);
            let second = flowstate_config::load_str("fuzz.yaml", text, &env);
            match (first, second) {
                (Ok(a), Ok(b)) => check(&a, &b),
                (Err(_), Err(_)) => {}
                _ => panic!("the same text loaded once and failed once"),
            }
        }
        Some((main, part)) => {
            let Ok(dir) = tempfile::tempdir() else {
                return;
            };
            let main_path = dir.path().join("main.yaml");
            let part_dir = dir.path().join("conf.d");
            if std::fs::create_dir(&part_dir).is_err()
                || std::fs::write(&main_path, main).is_err()
                || std::fs::write(part_dir.join("part.yaml"), part).is_err()
            {
                return;
            }
            let paths = [main_path];
            if let (Ok(a), Ok(b)) = (
                flowstate_config::load_with_env(&paths, &env),
                flowstate_config::load_with_env(&paths, &env),
            ) {
                check(&a, &b);
            }
        }
    }
});
