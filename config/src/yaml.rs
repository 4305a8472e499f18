//! The one place that parses YAML: text in, a value tree and the position of every node out.
//!
//! `serde_yaml` gives the tree and precise syntax errors but forgets where each node came from,
//! and a validator that reports every error needs that. So the same text is also walked as
//! events by `yaml-rust2`, recording the line and column of every key and value by path
//! (`hosts[3].regex`). Keeping both behind this module means a switch to a maintained
//! `serde_yaml` fork stays a one-line change.

use std::collections::HashMap;
use std::sync::OnceLock;

mod nesting;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub use serde_yaml::Value;

use crate::error::Position;

/// A parsed YAML document with the positions of its nodes.
///
/// Positions are only needed to report errors, so the second parse that finds them runs on
/// the first lookup: a valid 10 000-host file loads without it.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Value,
    text: String,
    marks: OnceLock<HashMap<String, NodeMarks>>,
}

#[derive(Debug, Clone, Copy)]
struct NodeMarks {
    key: Option<Position>,
    value: Position,
    /// Whether the value is a quoted scalar (`"3"`, `'3'`): the tree no longer tells.
    quoted: bool,
}

impl Document {
    /// Where the value at `path` starts (`hosts[0].url`). A path the text does not have (the
    /// `alerts[0]` of `alerts: ops`, written as one value) falls back to the nearest node that
    /// encloses it, so an error always gets a line and column.
    pub fn value_position(&self, path: &str) -> Option<Position> {
        self.nearest(path).map(|m| m.value)
    }

    /// Whether the value at `path` was written in quotes, so a message may suggest removing
    /// them only when there are quotes to remove.
    pub fn is_quoted(&self, path: &str) -> bool {
        self.marks().get(path).is_some_and(|m| m.quoted)
    }

    /// Where the key of the entry at `path` starts, falling back to its value (and, like
    /// [`Self::value_position`], to an enclosing node).
    pub fn key_position(&self, path: &str) -> Option<Position> {
        self.nearest(path).map(|m| m.key.unwrap_or(m.value))
    }

    /// The marks of `path`, or of the closest node enclosing it.
    fn nearest(&self, path: &str) -> Option<&NodeMarks> {
        let marks = self.marks();
        let mut path = path;
        loop {
            if let Some(found) = marks.get(path) {
                return Some(found);
            }
            if path.is_empty() {
                return None;
            }
            // `a.b[3]` → `a.b` → `a` → `` (the document).
            path = match path.rfind(['.', '[']) {
                Some(cut) => &path[..cut],
                None => "",
            };
        }
    }

    /// Lets go of the value tree once it has been read: only the text is needed to find
    /// positions, and a loaded file's tree can be large.
    pub fn forget_tree(&mut self) {
        self.root = Value::Null;
    }

    fn marks(&self) -> &HashMap<String, NodeMarks> {
        self.marks.get_or_init(|| {
            let mut recorder = MarkRecorder::default();
            // The tree is already known to be valid YAML; should the second parser still
            // disagree, we only lose positions, never the document.
            let _ = Parser::new_from_str(&self.text).load(&mut recorder, false);
            recorder.marks
        })
    }
}

/// A syntax error: where (when the parser knows) and what.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub position: Option<Position>,
    pub message: String,
}

/// Parses one YAML document. An empty text is an empty document (`null`).
///
/// A text nested deeper than [`nesting::MAX_DEPTH`] is refused before the parser sees it:
/// libyaml's time grows with the square of the depth.
pub fn parse(text: &str) -> Result<Document, SyntaxError> {
    if let Some(position) = nesting::too_deep(text) {
        return Err(SyntaxError {
            position: Some(position),
            message: format!(
                "lists and mappings are nested more than {} levels deep here; flowstate accepts at most {}: flatten this part of the file",
                nesting::MAX_DEPTH,
                nesting::MAX_DEPTH
            ),
        });
    }
    let mut root: Value = serde_yaml::from_str(text).map_err(|e| SyntaxError {
        position: e.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        }),
        message: strip_location(&e.to_string()),
    })?;
    // `<<: *anchor` merge keys are common in hand-written configs with shared settings.
    root.apply_merge().map_err(|e| SyntaxError {
        position: e.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        }),
        message: strip_location(&e.to_string()),
    })?;
    Ok(Document {
        root,
        text: text.to_string(),
        marks: OnceLock::new(),
    })
}

/// serde_yaml appends "at line X column Y" to its messages; the position is printed in front.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(start) => {
            let rest = &message[start + " at line ".len()..];
            let end = rest
                .find(',')
                .map(|i| start + " at line ".len() + i)
                .unwrap_or(message.len());
            format!("{}{}", &message[..start], &message[end..])
        }
        None => message.to_string(),
    }
}

/// Builds the path → position table from the parser's events.
#[derive(Default)]
struct MarkRecorder {
    stack: Vec<Frame>,
    marks: HashMap<String, NodeMarks>,
}

enum Frame {
    Mapping {
        path: String,
        expecting_key: bool,
        key: Option<(String, Position)>,
    },
    Sequence {
        path: String,
        next_index: usize,
    },
}

fn position(mark: &Marker) -> Position {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

impl MarkRecorder {
    /// The path of a node starting now, or `None` when it is a mapping key.
    fn start_node(&mut self, scalar_key: Option<&str>, mark: &Marker) -> Option<String> {
        let pos = position(mark);
        let (path, key_pos) = match self.stack.last_mut() {
            None => (String::new(), None),
            Some(Frame::Mapping {
                path,
                expecting_key,
                key,
            }) => {
                if *expecting_key {
                    // yaml-rust2 marks a block mapping's start at its first `:`, not its first
                    // key: a mapping starts no later than its first key.
                    if key.is_none() {
                        if let Some(marks) = self.marks.get_mut(path.as_str()) {
                            marks.value = marks.value.min(pos);
                        }
                    }
                    *key = Some((scalar_key.unwrap_or("?").to_string(), pos));
                    return None;
                }
                let (name, key_pos) = key.clone().unwrap_or_else(|| ("?".to_string(), pos));
                (join_key(path, &name), Some(key_pos))
            }
            Some(Frame::Sequence { path, next_index }) => (format!("{path}[{next_index}]"), None),
        };
        self.marks.insert(
            path.clone(),
            NodeMarks {
                key: key_pos,
                value: pos,
                quoted: false,
            },
        );
        Some(path)
    }

    /// Tells the enclosing collection that one of its nodes is complete.
    fn end_node(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { expecting_key, .. }) => *expecting_key = !*expecting_key,
            Some(Frame::Sequence { next_index, .. }) => *next_index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for MarkRecorder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, ..) => {
                let path = self.start_node(Some(&text), &mark);
                let quoted = matches!(
                    style,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                );
                if let (true, Some(path)) = (quoted, path) {
                    if let Some(marks) = self.marks.get_mut(&path) {
                        marks.quoted = true;
                    }
                }
                self.end_node();
            }
            Event::Alias(_) => {
                self.start_node(None, &mark);
                self.end_node();
            }
            Event::MappingStart(..) => {
                let path = self.start_node(None, &mark).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Mapping {
                    path,
                    expecting_key: true,
                    key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.start_node(None, &mark).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Sequence {
                    path,
                    next_index: 0,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.end_node();
            }
            _ => {}
        }
    }
}

/// `parent.key`, or `key` at the root: the path syntax used in error messages.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions_of_nested_nodes() {
        let doc = parse("hosts:\n  - label: api\n    url: http://x\n  - label: b\n").unwrap();
        assert_eq!(
            doc.value_position("hosts[0].url"),
            Some(Position {
                line: 3,
                column: 10
            })
        );
        assert_eq!(
            doc.key_position("hosts[0].url"),
            Some(Position { line: 3, column: 5 })
        );
        assert_eq!(
            doc.value_position("hosts[1].label"),
            Some(Position {
                line: 4,
                column: 12
            })
        );
    }

    #[test]
    fn block_mappings_start_at_their_first_key() {
        let doc = parse("hosts:\n  label: api\nserver:\n  listen: x\n").unwrap();
        assert_eq!(
            doc.value_position("hosts"),
            Some(Position { line: 2, column: 3 })
        );
        assert_eq!(
            doc.value_position("server"),
            Some(Position { line: 4, column: 3 })
        );
        assert_eq!(
            doc.value_position(""),
            Some(Position { line: 1, column: 1 })
        );
    }

    #[test]
    fn flow_collections_are_indexed_too() {
        let doc = parse("a: {b: [1, {c: 2}]}\n").unwrap();
        assert_eq!(
            doc.value_position("a.b[1].c"),
            Some(Position {
                line: 1,
                column: 16
            })
        );
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("hosts:\n  - label: a\n   url: b\n").unwrap_err();
        let pos = err.position.unwrap();
        assert_eq!(pos.line, 3);
        assert!(
            err.message.starts_with("did not find expected"),
            "{}",
            err.message
        );
    }

    #[test]
    fn empty_text_is_an_empty_document() {
        assert_eq!(parse("").unwrap().root, Value::Null);
    }
}
