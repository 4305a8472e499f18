//! The files an `include` glob names: a walk that follows each directory once.
//!
//! The `glob` crate follows directory symlinks every time it meets them, so `**/*.yaml` in a
//! tree with `up -> ..` walked `up/up/up/...` until paths grew too long: 20 s and 350 MB, and
//! growing. This walk matches the same patterns (per path component, `**` for any number of
//! directories, `*` matching names that start with a dot too) but reads each directory at
//! most once per pattern component, keyed by its canonical path, so a symlink loop ends and a
//! directory reached twice is read once. It is also bounded in size.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use glob::{MatchOptions, Pattern, PatternError};

/// The most directories one include glob may walk: a glob that reaches this many was almost
/// certainly not meant (`/**/*.yaml`), and a reload must not take minutes.
pub const MAX_DIRECTORIES: usize = 100_000;

/// Why an include glob could not be expanded.
#[derive(Debug, thiserror::Error)]
pub enum IncludeError {
    #[error("is not a valid glob: {0}")]
    Pattern(#[from] PatternError),
    #[error("walks more than {MAX_DIRECTORIES} directories; name the directory that holds the files (e.g. `hosts.d/*.yaml`)")]
    TooManyDirectories,
}

/// One component of a glob after its fixed directory.
enum Part {
    /// `**`: any number of directories, none included.
    AnyDirectories,
    Name(Pattern),
}

/// The files (not directories) that `pattern` matches, sorted. A pattern without wildcards
/// names at most itself.
pub fn include_files(pattern: &Path) -> Result<Vec<PathBuf>, IncludeError> {
    let mut base = PathBuf::new();
    let mut parts = Vec::new();
    for component in pattern.components() {
        let text = component.as_os_str().to_string_lossy();
        let is_glob = matches!(component, Component::Normal(_)) && text.contains(['*', '?', '[']);
        if parts.is_empty() && !is_glob {
            base.push(component);
        } else if text == "**" {
            parts.push(Part::AnyDirectories);
        } else {
            parts.push(Part::Name(Pattern::new(&text)?));
        }
    }
    if parts.is_empty() {
        return Ok(if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let mut walk = Walk {
        parts,
        visited: HashSet::new(),
        files: Vec::new(),
    };
    walk.directory(&base, 0)?;
    let mut files = walk.files;
    files.sort();
    files.dedup();
    Ok(files)
}

struct Walk {
    parts: Vec<Part>,
    /// (canonical directory, index of the part matched against its entries): each is read
    /// once. The index matters: with `**/conf/*.yaml` a directory `conf` is walked both as a
    /// step of `**` and as the `conf` component, and both find different files.
    visited: HashSet<(PathBuf, usize)>,
    files: Vec<PathBuf>,
}

/// How glob names match: `*` does not cross `/` (names are matched one by one anyway) and
/// matches a leading dot, as the `glob` crate's default did.
const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Walk {
    /// Matches the entries of `dir` (shown as written, `""` for the current directory)
    /// against `self.parts[index..]`.
    fn directory(&mut self, dir: &Path, index: usize) -> Result<(), IncludeError> {
        let on_disk = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        // Unreadable or vanished directories match nothing, as with the `glob` crate.
        let Ok(canonical) = std::fs::canonicalize(on_disk) else {
            return Ok(());
        };
        if !self.visited.insert((canonical, index)) {
            return Ok(());
        }
        if self.visited.len() > MAX_DIRECTORIES {
            return Err(IncludeError::TooManyDirectories);
        }
        let Ok(entries) = std::fs::read_dir(on_disk) else {
            return Ok(());
        };
        let mut entries: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = dir.join(entry.file_name());
                (name, path)
            })
            .collect();
        entries.sort();
        match &self.parts[index] {
            Part::AnyDirectories => {
                // None: the rest of the pattern applies right here ...
                if index + 1 == self.parts.len() {
                    // A trailing `**` matches every file below.
                    for (_, path) in &entries {
                        if path.is_file() {
                            self.files.push(path.clone());
                        }
                    }
                } else {
                    self.directory(dir, index + 1)?;
                }
                // ... or one more directory, and `**` again.
                for (_, path) in entries {
                    if path.is_dir() {
                        self.directory(&path, index)?;
                    }
                }
            }
            Part::Name(pattern) => {
                let last = index + 1 == self.parts.len();
                let matching: Vec<PathBuf> = entries
                    .into_iter()
                    .filter(|(name, _)| pattern.matches_with(name, OPTIONS))
                    .map(|(_, path)| path)
                    .collect();
                for path in matching {
                    if last {
                        if path.is_file() {
                            self.files.push(path);
                        }
                    } else if path.is_dir() {
                        self.directory(&path, index + 1)?;
                    }
                }
            }
        }
        Ok(())
    }
}
