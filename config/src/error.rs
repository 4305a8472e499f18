//! Configuration errors: every problem found in the files, each with its file and place.
//!
//! Loading never stops at the first problem. Each one becomes a [`Diagnostic`] and all of them
//! are returned together as [`ConfigError`], so a user fixes a whole file in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

/// A line and column in a file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One problem in the configuration.
///
/// Rendered as `file:line:column: place: message`, at the value or key concerned, whether the
/// problem is its syntax, its type or what it means (a duplicate label, a regex that does not
/// compile); as `file: place: message` only when there is no position (an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub position: Option<Position>,
    /// Where in the document, e.g. `hosts[3] (label "api").regex`; empty for the whole file.
    pub place: String,
    /// What is wrong and, where we can tell, how to fix it.
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &Path, place: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            position: None,
            place: place.into(),
            message: message.into(),
        }
    }

    pub fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if !self.place.is_empty() {
            write!(f, ": {}", self.place)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything that was wrong with a configuration, by file (in the order read) and by line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Suggests the closest of `candidates` to a misspelt `word`, if one is close enough to be a
/// plausible typo (`intervall` → `interval`), so error messages can say "did you mean".
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// `, did you mean `x`?` when a close candidate exists, else nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["interval", "timeout", "url", "label"];
        assert_eq!(closest("intervall", keys), Some("interval"));
        assert_eq!(closest("timout", keys), Some("timeout"));
        assert_eq!(closest("URL", keys), Some("url"));
        assert_eq!(closest("banana", keys), None);
    }

    #[test]
    fn renders_positions_and_places() {
        let d = Diagnostic::new(Path::new("a.yaml"), "hosts[0] (label \"api\").regex", "bad")
            .at(Some(Position { line: 3, column: 7 }));
        assert_eq!(
            d.to_string(),
            "a.yaml:3:7: hosts[0] (label \"api\").regex: bad"
        );
        let d = Diagnostic::new(Path::new("a.yaml"), "", "cannot read");
        assert_eq!(d.to_string(), "a.yaml: cannot read");
    }
}
