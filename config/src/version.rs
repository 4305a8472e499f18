//! `version`: the shape of configuration a file is written in, and the steps that bring a
//! file from an older shape to the current one (`flowstate migrate`).
//!
//! Absent means 1. A file written for a newer flowstate is refused with the version it names,
//! not misread. A file of an older version is refused by `check` and the daemon naming the
//! command that migrates it, so a breaking change never silently changes what runs.
//!
//! Migrations edit the text line by line rather than re-serialising the YAML: the YAML
//! library keeps no comments, and a migrated file must keep its owner's comments and layout.

use crate::reader::{Node, Reader};

/// The configuration version this flowstate reads and writes.
pub const CURRENT_VERSION: u64 = 1;

/// One step from `from` to `from + 1`.
pub struct Migration {
    pub from: u64,
    /// What changed, as `flowstate migrate` and docs/upgrading.md say it.
    pub summary: &'static str,
    /// Rewrites a file's text; `Err` says what could not be rewritten automatically.
    pub apply: fn(&str) -> Result<String, String>,
}

/// Every step so far, oldest first. Version 1 is the first versioned shape, so there are none
/// yet; a breaking change adds its step here, its section to docs/upgrading.md, and bumps
/// [`CURRENT_VERSION`].
pub const MIGRATIONS: &[Migration] = &[];

/// Reads `version:` at the top of a file. `Some` only for a version this flowstate reads.
pub(crate) fn read_version(reader: &mut Reader, node: &Node) -> Option<u64> {
    let written = match node.value {
        serde_yaml::Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match written {
        Some(CURRENT_VERSION) => Some(CURRENT_VERSION),
        Some(newer) if newer > CURRENT_VERSION => {
            reader.semantic_error(
                node,
                format!(
                    "this file is written for config version {newer}, and this flowstate reads version {CURRENT_VERSION}; upgrade flowstate (docs/upgrading.md)"
                ),
            );
            None
        }
        Some(older) if older >= 1 => {
            reader.semantic_error(
                node,
                format!(
                    "this file is written for config version {older}, older than this flowstate's {CURRENT_VERSION}; run `flowstate migrate -c FILE --write` to rewrite it (docs/upgrading.md)"
                ),
            );
            None
        }
        _ => {
            reader.semantic_error(
                node,
                format!("expected a config version number like `version: {CURRENT_VERSION}`"),
            );
            None
        }
    }
}

/// Why a file's text could not be migrated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "not YAML flowstate can read ({0}); fix the syntax first (`flowstate check` shows where)"
    )]
    Unreadable(String),
    #[error("`version: {0}` is not a config version; versions are whole numbers from 1")]
    NotAVersion(String),
    #[error("written for config version {0}, newer than this flowstate's {CURRENT_VERSION}; upgrade flowstate instead")]
    Newer(u64),
    #[error("the step from version {from} cannot be made automatically: {reason}")]
    Step { from: u64, reason: String },
}

/// A file's text brought to the current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub from: u64,
    pub text: String,
    /// What each applied step changed, in order.
    pub steps: Vec<&'static str>,
    /// `version:` was absent and has been written.
    pub version_added: bool,
}

/// The version a file's text declares (absent: 1).
pub fn written_version(text: &str) -> Result<u64, MigrationError> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| MigrationError::Unreadable(e.to_string()))?;
    match value.get("version") {
        None | Some(serde_yaml::Value::Null) => Ok(1),
        Some(serde_yaml::Value::Number(n)) => match n.as_u64() {
            Some(v) if v >= 1 => Ok(v),
            _ => Err(MigrationError::NotAVersion(n.to_string())),
        },
        Some(other) => Err(MigrationError::NotAVersion(
            serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        )),
    }
}

/// Brings `text` to [`CURRENT_VERSION`] with `steps`, and writes `version:` so the file says
/// which shape it is in.
pub fn migrate_text(text: &str, steps: &[Migration]) -> Result<Migrated, MigrationError> {
    let from = written_version(text)?;
    if from > CURRENT_VERSION {
        return Err(MigrationError::Newer(from));
    }
    let mut current = text.to_string();
    let mut applied = Vec::new();
    for step in steps.iter().filter(|step| step.from >= from) {
        current = (step.apply)(&current).map_err(|reason| MigrationError::Step {
            from: step.from,
            reason,
        })?;
        applied.push(step.summary);
    }
    let (text, version_added) = with_version_line(&current, CURRENT_VERSION);
    Ok(Migrated {
        from,
        text,
        steps: applied,
        version_added,
    })
}

/// `text` with its top-level `version:` set to `version`: the line rewritten in place, or,
/// when there is none, added after the comments that open the file.
fn with_version_line(text: &str, version: u64) -> (String, bool) {
    let line = format!("version: {version}");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(existing) = lines.iter_mut().find(|l| is_version_line(l)) {
        let comment = existing
            .find(" #")
            .map(|at| existing[at..].to_string())
            .unwrap_or_default();
        *existing = format!("{line}{comment}");
        return (join(&lines, text), false);
    }
    let at = lines
        .iter()
        .position(|l| {
            let t = l.trim();
            !(t.is_empty() || t.starts_with('#') || t == "---")
        })
        .unwrap_or(lines.len());
    lines.insert(at, line);
    (join(&lines, text), true)
}

fn is_version_line(line: &str) -> bool {
    line.strip_prefix("version:")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Lines joined as `original` ended: with a final newline when it had one.
fn join(lines: &[String], original: &str) -> String {
    let mut text = lines.join("\n");
    if original.ends_with('\n') || original.is_empty() {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "# ops monitoring\n# owner: team x\nhosts:\n  - { label: api, url: \"http://127.0.0.1:1/\" } # the API\n";

    #[test]
    fn an_unversioned_file_is_version_one_and_gains_the_line_after_its_opening_comments() {
        assert_eq!(written_version(V1), Ok(1));
        let migrated = migrate_text(V1, MIGRATIONS).expect("migrates");
        assert_eq!(migrated.from, 1);
        assert!(migrated.steps.is_empty());
        assert!(migrated.version_added);
        assert_eq!(
            migrated.text,
            "# ops monitoring\n# owner: team x\nversion: 1\nhosts:\n  - { label: api, url: \"http://127.0.0.1:1/\" } # the API\n"
        );
        // Again: nothing more changes.
        let again = migrate_text(&migrated.text, MIGRATIONS).expect("migrates");
        assert_eq!(again.text, migrated.text);
        assert!(!again.version_added);
    }

    #[test]
    fn a_newer_or_malformed_version_is_refused() {
        assert_eq!(
            migrate_text("version: 7\nhosts: []\n", MIGRATIONS),
            Err(MigrationError::Newer(7))
        );
        assert!(matches!(
            written_version("version: one\n"),
            Err(MigrationError::NotAVersion(_))
        ));
        assert!(matches!(
            written_version("version: 0\n"),
            Err(MigrationError::NotAVersion(_))
        ));
        assert!(matches!(
            written_version("hosts: [\n"),
            Err(MigrationError::Unreadable(_))
        ));
    }

    /// The machinery with steps of its own: what a future breaking change plugs into.
    #[test]
    fn steps_apply_in_order_from_the_files_version_and_keep_comments() {
        fn rename_interval(text: &str) -> Result<String, String> {
            Ok(text.replace("every:", "interval:"))
        }
        fn refuse(_: &str) -> Result<String, String> {
            Err("`checks:` lists must be split by hand".into())
        }
        let steps = [Migration {
            from: 1,
            summary: "`every` is now `interval`",
            apply: rename_interval,
        }];
        let text = "# keep me\nversion: 1 # old\nhosts:\n  - { label: a, url: \"http://127.0.0.1:1/\", every: 5s }\n";
        let migrated = migrate_text(text, &steps).expect("migrates");
        assert_eq!(migrated.steps, vec!["`every` is now `interval`"]);
        assert!(migrated.text.contains("interval: 5s"));
        assert!(migrated.text.starts_with("# keep me\nversion: 1 # old\n"));
        let failing = [Migration {
            from: 1,
            summary: "split checks",
            apply: refuse,
        }];
        assert_eq!(
            migrate_text(text, &failing),
            Err(MigrationError::Step {
                from: 1,
                reason: "`checks:` lists must be split by hand".into()
            })
        );
    }
}
