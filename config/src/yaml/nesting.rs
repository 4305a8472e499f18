//! A cheap, linear bound on how deeply a YAML text nests, checked before it is parsed.
//!
//! libyaml (behind `serde_yaml`) spends time proportional to the flow nesting depth on every
//! token, so `[[[[...` 160 000 deep (156 KiB) took 32 s to be refused: a stalled daemon. This
//! pass finds the depth without building anything, in one walk over the bytes, and refuses a
//! text deeper than [`MAX_DEPTH`] with the line and column where it gets too deep.
//!
//! It follows libyaml's tokenizer closely enough to agree on the structure of any text libyaml
//! parses: flow collections (`[`, `{`) count wherever a token may start; quoted scalars, plain
//! scalars (also over several lines), block scalars (`|`, `>`), comments, anchors, tags and
//! aliases are skipped; block collections count by their indentation, as libyaml's indentation
//! stack does. Text libyaml rejects anyway may be judged either way: it fails to parse quickly.

use crate::error::Position;

/// The deepest nesting of lists and mappings (block and flow together) a file may have. Real
/// configurations stay under 10; serde_yaml itself stops at 128.
pub const MAX_DEPTH: usize = 64;

/// Where the text first nests deeper than [`MAX_DEPTH`], if it does.
pub fn too_deep(text: &str) -> Option<Position> {
    let mut scan = Scan::new(text.as_bytes());
    scan.run().map(|offset| position_of(text, offset))
}

/// The 1-based line and column (in characters) of a byte offset.
fn position_of(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// What the bytes at the start of the next line belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Carry {
    /// Nothing open: the line starts with its indentation.
    Nothing,
    /// A double- or single-quoted scalar continues.
    Quoted(u8),
    /// A plain scalar may continue on lines indented at least this much.
    Plain(usize),
    /// A block scalar's lines: at least `min` indentation, or exactly `indent` once known.
    BlockScalar { min: usize, indent: Option<usize> },
}

struct Scan<'t> {
    bytes: &'t [u8],
    /// Columns of the open block collections, innermost last (libyaml's indentation stack).
    indents: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// The column where the outermost open flow collection started (it may become a key).
    flow_start: usize,
    carry: Carry,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'t> Scan<'t> {
    fn new(bytes: &'t [u8]) -> Self {
        Scan {
            bytes,
            indents: Vec::new(),
            flow: 0,
            flow_start: 0,
            carry: Carry::Nothing,
        }
    }

    fn depth(&self) -> usize {
        self.indents.len() + self.flow
    }

    /// The column a block scalar's or a plain scalar's lines must reach (libyaml: the current
    /// indentation plus one).
    fn inner_indent(&self) -> usize {
        self.indents.last().map_or(0, |top| top + 1)
    }

    /// A block collection starts at `column` unless one is already open there or further in.
    fn roll(&mut self, column: usize) {
        if self.flow == 0 && self.indents.last().is_none_or(|&top| column > top) {
            self.indents.push(column);
        }
    }

    /// Scans every line; the byte offset where the depth first exceeds the limit, if ever.
    fn run(&mut self) -> Option<usize> {
        let mut start = 0;
        // A byte order mark is not indentation.
        if self.bytes.starts_with("\u{feff}".as_bytes()) {
            start = 3;
        }
        while start <= self.bytes.len() {
            let end = self.bytes[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.bytes.len(), |i| start + i);
            if let Some(offset) = self.line(start, end) {
                return Some(offset);
            }
            start = end + 1;
        }
        None
    }

    /// One line, `bytes[start..end]` without its `\n`.
    fn line(&mut self, start: usize, end: usize) -> Option<usize> {
        let line = &self.bytes[start..end];
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let blank = line[indent..].iter().all(|&b| is_blank(b));
        let mut i = 0;
        // Whether the line's first bytes continue something (a quoted or plain scalar).
        let mut continued = false;
        let mut in_plain = false;
        match self.carry {
            Carry::Quoted(quote) => {
                continued = true;
                match self.quoted(line, 0, quote) {
                    Some(after) => {
                        self.carry = Carry::Nothing;
                        i = after;
                    }
                    None => return None,
                }
            }
            Carry::BlockScalar { min, indent: known } => {
                if blank {
                    return None;
                }
                let content = match known {
                    Some(k) => indent >= k,
                    None => indent >= min,
                };
                if content {
                    self.carry = Carry::BlockScalar {
                        min,
                        indent: Some(known.unwrap_or(indent)),
                    };
                    return None;
                }
                self.carry = Carry::Nothing;
            }
            Carry::Plain(min) => {
                if blank {
                    return None;
                }
                self.carry = Carry::Nothing;
                // Inside flow collections indentation does not matter; in block context a
                // plain scalar goes on while its lines are indented enough. A comment line
                // ends it.
                if (self.flow > 0 || indent >= min) && line[indent] != b'#' {
                    continued = true;
                    in_plain = true;
                    i = indent;
                }
            }
            Carry::Nothing => {}
        }
        if !continued && self.flow == 0 {
            if blank {
                return None;
            }
            // Directives and document markers.
            if line.first() == Some(&b'%') {
                return None;
            }
            if (line.starts_with(b"---") || line.starts_with(b"..."))
                && line.get(3).is_none_or(|&b| is_blank(b))
            {
                self.indents.clear();
                i = 3;
            } else {
                // libyaml closes every block collection indented further than this line.
                while self.indents.last().is_some_and(|&top| top > indent) {
                    self.indents.pop();
                }
                i = indent;
            }
        }
        self.tokens(start, line, i, in_plain)
    }

    /// The tokens of a line from byte `i`; `in_plain` when a plain scalar continues there.
    fn tokens(
        &mut self,
        start: usize,
        line: &[u8],
        mut i: usize,
        mut in_plain: bool,
    ) -> Option<usize> {
        // Where the current plain or quoted scalar (a possible key) started.
        let mut key_column = i;
        // The line's plain scalar's continuation indentation, fixed where it started.
        let mut plain_min = self.inner_indent();
        let mut after_blank = true;
        while i < line.len() {
            let b = line[i];
            let next = line.get(i + 1).copied();
            let next_blank = next.is_none_or(is_blank);
            if is_blank(b) {
                after_blank = true;
                i += 1;
                continue;
            }
            if in_plain {
                // libyaml ends a plain scalar at ` #`, at `: `, and in flow context at a flow
                // indicator or at `:` before one; everything else is part of it.
                let ends = (b == b'#' && after_blank)
                    || (b == b':'
                        && (next_blank || (self.flow > 0 && next.is_some_and(is_flow_indicator))))
                    || (self.flow > 0 && is_flow_indicator(b));
                if !ends {
                    after_blank = false;
                    i += 1;
                    continue;
                }
                in_plain = false;
            }
            after_blank = false;
            match b {
                b'#' => return None,
                b'"' | b'\'' => {
                    key_column = i;
                    match self.quoted(line, i + 1, b) {
                        Some(after) => i = after,
                        None => {
                            self.carry = Carry::Quoted(b);
                            return None;
                        }
                    }
                    continue;
                }
                b'[' | b'{' => {
                    if self.flow == 0 {
                        self.flow_start = i;
                    }
                    self.flow += 1;
                    if self.depth() > MAX_DEPTH {
                        return Some(start + i);
                    }
                }
                b']' | b'}' => {
                    if self.flow > 0 {
                        self.flow -= 1;
                        if self.flow == 0 {
                            key_column = self.flow_start;
                        }
                    }
                }
                b',' => {}
                b':' if self.flow > 0 || next_blank => {
                    // A value indicator: in block context the key before it opens a mapping.
                    self.roll(key_column);
                    if self.depth() > MAX_DEPTH {
                        return Some(start + key_column);
                    }
                }
                b'-' | b'?' if next_blank => {
                    self.roll(i);
                    if self.depth() > MAX_DEPTH {
                        return Some(start + i);
                    }
                }
                b'|' | b'>' if self.flow == 0 => {
                    // A block scalar: its header (indicators, comment) ends the line.
                    let min = self.inner_indent().max(1);
                    let explicit = line[i + 1..]
                        .iter()
                        .take_while(|&&c| !is_blank(c))
                        .find(|c| c.is_ascii_digit())
                        .map(|&c| usize::from(c - b'0'));
                    let base = self.indents.last().copied();
                    self.carry = Carry::BlockScalar {
                        min,
                        indent: explicit.map(|m| base.map_or(m, |top| top + m)),
                    };
                    return None;
                }
                b'&' | b'!' | b'*' => {
                    // Anchors, tags and aliases: skip the name. Only an alias is a node.
                    if b == b'*' {
                        key_column = i;
                    }
                    i += 1;
                    while i < line.len()
                        && !is_blank(line[i])
                        && !(self.flow > 0 && is_flow_indicator(line[i]))
                    {
                        i += 1;
                    }
                    continue;
                }
                _ => {
                    key_column = i;
                    plain_min = self.inner_indent();
                    in_plain = true;
                }
            }
            i += 1;
        }
        if in_plain {
            self.carry = Carry::Plain(plain_min);
        }
        None
    }

    /// From `i`, inside a scalar quoted with `quote`: the offset just after its closing quote,
    /// or `None` when it goes on past this line.
    fn quoted(&self, line: &[u8], mut i: usize, quote: u8) -> Option<usize> {
        while i < line.len() {
            let b = line[i];
            if quote == b'"' && b == b'\\' {
                i += 2;
                continue;
            }
            if b == quote {
                // `''` is an escaped quote inside single quotes.
                if quote == b'\'' && line.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return Some(i + 1);
            }
            i += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str) -> bool {
        too_deep(text).is_none()
    }

    fn nested_flow(depth: usize) -> String {
        format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn flow_nesting_is_bounded_at_the_opening_bracket() {
        // `a: ` opens one block mapping, so 63 brackets are the limit.
        assert!(depth_ok(&nested_flow(MAX_DEPTH - 1)));
        assert_eq!(
            too_deep(&nested_flow(MAX_DEPTH)),
            Some(Position {
                line: 1,
                column: 3 + MAX_DEPTH
            })
        );
        assert_eq!(
            too_deep(&format!("x: 1\nb:\n  - {}", "{a: ".repeat(200))),
            Some(Position {
                line: 3,
                column: 5 + 4 * (MAX_DEPTH - 2)
            })
        );
    }

    #[test]
    fn block_nesting_counts_too() {
        let mut text = String::new();
        for level in 0..MAX_DEPTH + 1 {
            text.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert_eq!(too_deep(&text).map(|p| p.line), Some(MAX_DEPTH + 1));
        assert_eq!(
            too_deep(&format!("a: {}x\n", "- ".repeat(MAX_DEPTH + 5))).map(|p| p.line),
            Some(1)
        );
        assert!(depth_ok(&format!("a: {}x\n", "- ".repeat(MAX_DEPTH - 2))));
    }

    #[test]
    fn brackets_inside_scalars_and_comments_do_not_count() {
        let many = "[".repeat(200);
        for text in [
            format!("a: '{many}'\n"),
            format!("a: \"{many}\\\"{many}\"\n"),
            format!("a: 'it''s {many}'\n"),
            format!("a: x{many}\n"),
            format!("a: x # {many}\n"),
            format!("# {many}\n"),
            format!("a: |\n  {many}\n  {many}\n\n  {many}\nb: 1\n"),
            format!("- a: >-\n    {many}\n  b: 1\n"),
            format!("a: plain text\n  continued {many}\n  \"still plain {many}\n"),
            format!("a: \"two\n  lines {many}\"\n"),
            format!("a: [x, 'y{many}', \"{many}\"] # {many}\n"),
            "a: [don't{, b]\n".to_string(),
            format!("a: !tag{many} x\n"),
        ] {
            assert!(depth_ok(&text), "{text}");
        }
    }

    #[test]
    fn structure_after_scalars_still_counts() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        for text in [
            // A block scalar ends where its indentation does.
            format!("- a: |\n    text\n  b: {deep}\n"),
            // A quoted key, then flow.
            format!("\"a\": {deep}\n"),
            // Anchors and tags before a flow collection.
            format!("a: &x !!seq {deep}\n"),
            // A plain scalar ends at a line indented no further than its mapping.
            format!("a: plain\nb: {deep}\n"),
            // `:` right after a quoted key in flow context.
            format!("a: {{\"k\":{deep}\n"),
            // A comment ends a plain scalar; the next line is structure.
            format!("a:\n  - x # c\n  - {deep}\n"),
        ] {
            assert!(too_deep(&text).is_some(), "{text}");
        }
    }

    #[test]
    fn positions_count_characters() {
        let text = format!("x: 1\nä: [\"é\", {}\n", "[".repeat(MAX_DEPTH));
        assert_eq!(
            too_deep(&text),
            Some(Position {
                line: 2,
                column: 9 + MAX_DEPTH - 1
            })
        );
    }
}
