//! `flowstate migrate -c FILE [--write]`: brings configuration files written for an older
//! config version to the current one (docs/upgrading.md), keeping their comments and layout,
//! and writes `version:` into them so each says which shape it is in.
//!
//! Without `--write` it only says what it would do. With it, each changed file is replaced
//! atomically (a temporary file beside it, renamed over it) after a copy of the original is
//! kept as `FILE.bak`; then the migrated files are validated as `check` would, so a step that
//! needs a hand edit is reported at once. Included files are migrated when named with `-c`
//! too: a file is one unit of text, whatever includes it.

use std::path::Path;
use std::process::ExitCode;

use flowstate_config::version::{migrate_text, Migrated, CURRENT_VERSION, MIGRATIONS};

use super::{exit, load_config, BadInput};
use crate::cli::MigrateArgs;
use crate::output;

pub fn run(args: &MigrateArgs) -> Result<ExitCode, BadInput> {
    let mut planned = Vec::new();
    for file in &args.config.files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| BadInput(format!("{}: cannot read it: {e}", file.display())))?;
        let migrated = migrate_text(&text, MIGRATIONS)
            .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
        planned.push((file, text, migrated));
    }
    for (file, text, migrated) in &planned {
        output::print_line(&describe(file, migrated, text, args.write))?;
        if args.write && migrated.text != *text {
            write_keeping_backup(file, &migrated.text)?;
        }
    }
    if !args.write {
        if planned.iter().any(|(_, text, m)| m.text != *text) {
            output::print_line("nothing written; run again with --write to rewrite the files (each original kept as FILE.bak)")?;
        }
        return Ok(exit::success());
    }
    // The migrated files must load as they are now: a step that needs a hand edit shows here.
    load_config(&args.config).map_err(|e| {
        BadInput(format!(
            "the migrated files do not load yet; fix what follows by hand (originals kept as FILE.bak):\n{e}"
        ))
    })?;
    output::print_line(&format!(
        "the configuration is at version {CURRENT_VERSION} and valid"
    ))?;
    Ok(exit::success())
}

/// One line per file: its version, the steps, and whether `version:` was added.
fn describe(file: &Path, migrated: &Migrated, before: &str, written: bool) -> String {
    let verb = if written { "" } else { "would be " };
    let mut line = format!("{}: config version {}", file.display(), migrated.from);
    if migrated.text == *before {
        line.push_str(" (current); nothing to migrate");
        return line;
    }
    if migrated.from == CURRENT_VERSION {
        line.push_str(&format!(" (current); {verb}changed:"));
    } else {
        line.push_str(&format!(" → {CURRENT_VERSION}; {verb}changed:"));
    }
    for step in &migrated.steps {
        line.push_str(&format!("\n  - {step}"));
    }
    if migrated.version_added {
        line.push_str(&format!(
            "\n  - `version: {CURRENT_VERSION}` {verb}added, after the comments that open the file"
        ));
    }
    line
}

fn write_keeping_backup(file: &Path, after: &str) -> Result<(), BadInput> {
    let shown = file.display();
    let backup = file.with_file_name(format!(
        "{}.bak",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    // A copy, not a write of `before`: it keeps the original's permissions (a config file
    // holding secrets is often 0600, and its copy must not be readable by more people).
    std::fs::copy(file, &backup).map_err(|e| {
        BadInput(format!(
            "{shown}: cannot keep a copy as {}: {e}",
            backup.display()
        ))
    })?;
    let temporary = file.with_file_name(format!(
        ".{}.migrating",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&temporary, after)
        .and_then(|()| {
            // Keep the original's permissions: a config file may hold secrets (0600).
            if let Ok(metadata) = std::fs::metadata(file) {
                std::fs::set_permissions(&temporary, metadata.permissions())?;
            }
            std::fs::rename(&temporary, file)
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            BadInput(format!("{shown}: cannot rewrite it: {e}; it is unchanged"))
        })
}
