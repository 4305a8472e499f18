//! Reading a plugin's performance data (Nagios plugin guidelines, "Performance data"):
//!
//! ```text
//! DISK OK - free space: / 3326 MB (56%) | /=2643MB;5948;5958;0;5968
//! / 15272 MB (77%);
//! /boot 68 MB (69%); | /boot=68MB;88;93;0;98
//! /home=69357MB;253404;253409;0;253414
//! ```
//!
//! - Where: after the first `|` of the status line (the first non-blank line), and after the
//!   first `|` of the long output that follows it, to the end (every later line is data).
//! - An item is `label=value[UOM][;warn[;crit[;min[;max]]]]`; items are separated by
//!   whitespace. A label with spaces or `=` is single-quoted, `''` being a quote inside it.
//! - The value is a number (`-1`, `0.5`, `1e-05`) directly followed by its unit: `s`, `ms`,
//!   `us` (read as seconds), `B`, `KB`, `MB`, `GB`, `TB` (bytes, 1024-based, as the plugins
//!   compute them), `%`, `c` (a counter), none (a count), or another word of letters (kept as
//!   written, not scaled). `warn` and `crit` are ranges (`10`, `10:`, `~:10`, `10:20`,
//!   `@10:20`); they and `min`/`max` are scaled like the value. Empty fields are absent.
//! - Never a failed check: an item whose label or value cannot be read (`U`, `0,5`, a word
//!   without `=`, `5s]`) is skipped, and so is an unreadable threshold, min or max alone. A
//!   second item with the same label, items beyond [`MAX_VALUES`] and labels longer than
//!   [`MAX_LABEL`] bytes are skipped too (each becomes a metric series). When the output was
//!   cut at the capture limit, its last word is dropped: it may be cut short.

use crate::model::{PerfRange, PerfUnit, PerfValue};

/// At most this many values per check: each is a metric series.
pub const MAX_VALUES: usize = 64;

/// Longer labels are skipped.
pub const MAX_LABEL: usize = 200;

/// Longer units are not units: the item is skipped.
const MAX_UNIT: usize = 8;

/// The performance data in a plugin's stdout; `truncated` when the output was cut at the
/// capture limit. Empty (no allocation) when there is none.
pub fn parse(stdout: &str, truncated: bool) -> Vec<PerfValue> {
    let stdout = if truncated {
        // The last word may be cut in the middle of a number: `time=0.12` of `0.123456s`.
        stdout
            .rfind(char::is_whitespace)
            .map_or("", |end| &stdout[..end])
    } else {
        stdout
    };
    let mut values = Vec::new();
    // The status line is the first non-blank one, as for the check's detail.
    let mut read = 0;
    let Some(status_line) = stdout.split_inclusive('\n').find(|line| {
        read += line.len();
        !line.trim().is_empty()
    }) else {
        return values;
    };
    let long_output = &stdout[read..];
    if let Some((_, data)) = status_line.split_once('|') {
        read_items(data, &mut values);
    }
    if let Some((_, data)) = long_output.split_once('|') {
        read_items(data, &mut values);
    }
    values
}

/// Reads the whitespace-separated items of `text` into `values`.
fn read_items(mut rest: &str, values: &mut Vec<PerfValue>) {
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return;
        }
        let (label, after) = match rest.strip_prefix('\'') {
            Some(quoted) => match quoted_label(quoted) {
                Some(read) => read,
                // An unterminated quote: nothing after it can be told apart.
                None => return,
            },
            None => {
                let end = rest
                    .find(|c: char| c == '=' || c.is_whitespace())
                    .unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            }
        };
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let (data, next) = after.split_at(end);
        rest = next;
        // A word without `=` (`'a b' c`, stray text) is no item.
        let Some(data) = data.strip_prefix('=') else {
            continue;
        };
        if values.len() >= MAX_VALUES
            || label.is_empty()
            || label.len() > MAX_LABEL
            || values.iter().any(|v| *v.label == *label)
        {
            continue;
        }
        if let Some(value) = item(label, data) {
            values.push(value);
        }
    }
}

/// A quoted label's text (after its opening quote) and what follows its closing quote;
/// `''` is a quote in the label. `None` when the quote is never closed.
fn quoted_label(text: &str) -> Option<(String, &str)> {
    let mut label = String::new();
    let mut rest = text;
    loop {
        let quote = rest.find('\'')?;
        label.push_str(&rest[..quote]);
        rest = &rest[quote + 1..];
        match rest.strip_prefix('\'') {
            Some(after) => {
                label.push('\'');
                rest = after;
            }
            None => return Some((label, rest)),
        }
    }
}

/// `value[UOM];warn;crit;min;max`, or `None` when the value cannot be read.
fn item(label: String, data: &str) -> Option<PerfValue> {
    let mut fields = data.split(';');
    let (value, unit_text) = number_prefix(fields.next()?)?;
    let (unit, scale) = unit(unit_text)?;
    let warn = fields.next().and_then(|text| range(text, unit_text, scale));
    let crit = fields.next().and_then(|text| range(text, unit_text, scale));
    let min = fields.next().and_then(|text| bound(text, unit_text, scale));
    let max = fields.next().and_then(|text| bound(text, unit_text, scale));
    Some(PerfValue {
        label: label.into_boxed_str(),
        value: scale.apply(value)?,
        unit,
        warn,
        crit,
        min,
        max,
    })
}

/// How a unit's numbers become the normalised unit's.
#[derive(Debug, Clone, Copy)]
enum Scale {
    Times(f64),
    /// Divided rather than multiplied by the inverse, so `123ms` is exactly `0.123`.
    Over(f64),
}

impl Scale {
    /// `None` when scaling overflows: `1e308TB` is a finite number but no finite count of
    /// bytes, and an infinite value reached the API's JSON as `null` and the metrics as
    /// `+Inf` (found by the `perfdata` fuzz target). Such an item is unreadable, like `U`.
    fn apply(self, number: f64) -> Option<f64> {
        let scaled = match self {
            Scale::Times(factor) => number * factor,
            Scale::Over(divisor) => number / divisor,
        };
        scaled.is_finite().then_some(scaled)
    }
}

/// The normalised unit and scale of a unit as written; `None` when it is no unit.
fn unit(text: &str) -> Option<(PerfUnit, Scale)> {
    const KIB: f64 = 1024.0;
    let one = Scale::Times(1.0);
    Some(match text {
        "" => (PerfUnit::None, one),
        "s" => (PerfUnit::Seconds, one),
        "ms" => (PerfUnit::Seconds, Scale::Over(1e3)),
        "us" => (PerfUnit::Seconds, Scale::Over(1e6)),
        "%" => (PerfUnit::Percent, one),
        "B" => (PerfUnit::Bytes, one),
        "KB" => (PerfUnit::Bytes, Scale::Times(KIB)),
        "MB" => (PerfUnit::Bytes, Scale::Times(KIB * KIB)),
        "GB" => (PerfUnit::Bytes, Scale::Times(KIB * KIB * KIB)),
        "TB" => (PerfUnit::Bytes, Scale::Times(KIB * KIB * KIB * KIB)),
        "c" => (PerfUnit::Counter, one),
        other if other.len() <= MAX_UNIT && other.bytes().all(|b| b.is_ascii_alphabetic()) => {
            (PerfUnit::Other(other.into()), one)
        }
        _ => return None,
    })
}

/// A number at the start of `text` (`-1`, `.5`, `2.`, `1e-05`) and what follows it.
fn number_prefix(text: &str) -> Option<(f64, &str)> {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut end = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let integer = digits_from(end);
    let mut digits = integer - end;
    end = integer;
    if bytes.get(end) == Some(&b'.') {
        let fraction = digits_from(end + 1);
        digits += fraction - end - 1;
        end = fraction;
    }
    if digits == 0 {
        return None;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'-' | b'+')));
        let exponent = digits_from(end + 1 + sign);
        if exponent > end + 1 + sign {
            end = exponent;
        }
    }
    let number: f64 = text[..end].parse().ok()?;
    number.is_finite().then_some((number, &text[end..]))
}

/// A min or max: a number, bare or with the value's unit; `None` when empty or unreadable.
fn bound(text: &str, unit_text: &str, scale: Scale) -> Option<f64> {
    match number_prefix(text)? {
        (number, rest) if rest.is_empty() || rest == unit_text => scale.apply(number),
        _ => None,
    }
}

/// A threshold, `[@][start:][end]` (`~` for no start); `None` when empty or unreadable.
fn range(text: &str, unit_text: &str, scale: Scale) -> Option<PerfRange> {
    let (inside, text) = match text.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if text.is_empty() {
        return None;
    }
    let (start, end) = match text.split_once(':') {
        Some(("~", end)) => (f64::NEG_INFINITY, end),
        Some(("", end)) => (0.0, end),
        Some((start, end)) => (bound(start, unit_text, scale)?, end),
        None => (0.0, text),
    };
    let end = if end.is_empty() {
        f64::INFINITY
    } else {
        bound(end, unit_text, scale)?
    };
    Some(PerfRange { start, end, inside })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(label: &str, value: f64, unit: PerfUnit) -> PerfValue {
        PerfValue {
            label: label.into(),
            value,
            unit,
            warn: None,
            crit: None,
            min: None,
            max: None,
        }
    }

    fn labels(values: &[PerfValue]) -> Vec<&str> {
        values.iter().map(|v| &*v.label).collect()
    }

    #[test]
    fn check_tcp_output_is_read_in_seconds() {
        let values = parse(
            "TCP OK - 0.000 second response time on 127.0.0.1 port 80|time=0.000259s;;;0.000000;10.000000\n",
            false,
        );
        assert_eq!(
            values,
            vec![PerfValue {
                min: Some(0.0),
                max: Some(10.0),
                ..value("time", 0.000259, PerfUnit::Seconds)
            }]
        );
    }

    /// Found by the `perfdata` fuzz target (its seed `huge`): a finite number whose unit
    /// scales it past `f64::MAX` was kept as `inf`.
    #[test]
    fn a_value_that_overflows_its_unit_is_skipped() {
        let values = parse(
            "OK | big=1e308TB;1e308;;1e308TB;1e308TB ok=1KB;1e308TB",
            false,
        );
        assert_eq!(values.len(), 1);
        assert_eq!(&*values[0].label, "ok");
        assert_eq!(values[0].value, 1024.0);
        assert_eq!(values[0].warn, None);
    }

    #[test]
    fn units_are_normalised() {
        let values = parse(
            "OK | a=123ms b=5us c=2KB d=1.5MB e=1GB f=1TB g=40% h=1234c i=3 j=7dBm k=10B l=2s",
            false,
        );
        let got: Vec<(&str, f64, Option<&str>)> = values
            .iter()
            .map(|v| (&*v.label, v.value, v.unit.symbol()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", 0.123, Some("s")),
                ("b", 0.000005, Some("s")),
                ("c", 2048.0, Some("B")),
                ("d", 1.5 * 1024.0 * 1024.0, Some("B")),
                ("e", 1024.0 * 1024.0 * 1024.0, Some("B")),
                ("f", 1024.0 * 1024.0 * 1024.0 * 1024.0, Some("B")),
                ("g", 40.0, Some("%")),
                ("h", 1234.0, Some("c")),
                ("i", 3.0, None),
                ("j", 7.0, Some("dBm")),
                ("k", 10.0, Some("B")),
                ("l", 2.0, Some("s")),
            ]
        );
    }

    #[test]
    fn thresholds_min_and_max_are_scaled_like_the_value() {
        let values = parse(
            "DISK OK | /=2643MB;5948;5958;0;5968 rt=250ms;@100:200;~:500;0ms;",
            false,
        );
        let mib = 1024.0 * 1024.0;
        assert_eq!(
            values,
            vec![
                PerfValue {
                    warn: Some(PerfRange {
                        start: 0.0,
                        end: 5948.0 * mib,
                        inside: false
                    }),
                    crit: Some(PerfRange {
                        start: 0.0,
                        end: 5958.0 * mib,
                        inside: false
                    }),
                    min: Some(0.0),
                    max: Some(5968.0 * mib),
                    ..value("/", 2643.0 * mib, PerfUnit::Bytes)
                },
                PerfValue {
                    warn: Some(PerfRange {
                        start: 0.1,
                        end: 0.2,
                        inside: true
                    }),
                    crit: Some(PerfRange {
                        start: f64::NEG_INFINITY,
                        end: 0.5,
                        inside: false
                    }),
                    min: Some(0.0),
                    ..value("rt", 0.25, PerfUnit::Seconds)
                },
            ]
        );
        assert_eq!(
            values[1].warn.map(|r| r.to_string()).as_deref(),
            Some("@0.1:0.2")
        );
    }

    #[test]
    fn missing_fields_are_absent() {
        let values = parse("OK | a=1;;;; b=2;10: c=3;;5 d=4;;;;;extra", false);
        assert_eq!(labels(&values), ["a", "b", "c", "d"]);
        assert_eq!(values[0], value("a", 1.0, PerfUnit::None));
        assert_eq!(
            values[1].warn,
            Some(PerfRange {
                start: 10.0,
                end: f64::INFINITY,
                inside: false
            })
        );
        assert_eq!((values[1].crit, values[1].min), (None, None));
        assert_eq!(values[2].warn, None);
        assert_eq!(values[2].crit.map(|r| r.end), Some(5.0));
        assert_eq!(values[3], value("d", 4.0, PerfUnit::None));
    }

    #[test]
    fn quoted_labels_may_hold_spaces_equals_and_quotes() {
        let values = parse(
            "OK | 'C:\\ Label'=5B 'it''s'=1 'a=b'=2 ''''=3 plain=4",
            false,
        );
        assert_eq!(labels(&values), ["C:\\ Label", "it's", "a=b", "'", "plain"]);
        // An unterminated quote ends the data: nothing after it can be told apart.
        let values = parse("OK | a=1 'broken=2 b=3", false);
        assert_eq!(labels(&values), ["a"]);
    }

    #[test]
    fn garbage_is_skipped_and_the_rest_kept() {
        let values = parse(
            "OK | a=U b=0,5 c=5s] d= =3 e f=abc g=1;x;y;z;w h=nan i=inf j=-2.5e-3s k=1 k=2 '' l=1 m=.5",
            false,
        );
        assert_eq!(labels(&values), ["g", "j", "k", "l", "m"]);
        // Unreadable thresholds, min and max are dropped; the value stays.
        assert_eq!(values[0], value("g", 1.0, PerfUnit::None));
        assert_eq!(values[1].value, -0.0025);
        // The first of two items with one label wins.
        assert_eq!(values[2].value, 1.0);
        assert_eq!(values[4].value, 0.5);
        assert!(parse("OK - no data here\nat all\n", false).is_empty());
        assert!(parse("", false).is_empty());
        assert!(parse("OK |", false).is_empty());
    }

    #[test]
    fn long_output_lines_after_a_bar_are_data() {
        let stdout = "\nDISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n\
                      / 15272 MB (77%);\n\
                      /boot 68 MB (69%); | /boot=68MB;88;93;0;98\n\
                      /home=69357MB;253404;253409;0;253414\n\
                      'x y'=1\n";
        let values = parse(stdout, false);
        assert_eq!(labels(&values), ["/", "/boot", "/home", "x y"]);
        // Long output without a bar carries none; a second bar in the data is garbage.
        let values = parse("OK | a=1\nmore text\nb=2\n", false);
        assert_eq!(labels(&values), ["a"]);
        let values = parse("OK\nlong | a=1 | b=2\n", false);
        assert_eq!(labels(&values), ["a", "b"]);
    }

    #[test]
    fn a_cut_output_loses_its_last_word() {
        assert_eq!(labels(&parse("OK | a=1 b=0.12", true)), ["a"]);
        assert_eq!(labels(&parse("OK | a=1 b=0.12", false)), ["a", "b"]);
        assert!(parse("OK|a=1", true).is_empty());
    }

    #[test]
    fn values_are_bounded() {
        let many: Vec<String> = (0..100).map(|i| format!("v{i}=1")).collect();
        let values = parse(&format!("OK | {}", many.join(" ")), false);
        assert_eq!(values.len(), MAX_VALUES);
        let long = "x".repeat(MAX_LABEL + 1);
        assert!(parse(&format!("OK | {long}=1"), false).is_empty());
    }

    #[test]
    fn no_data_allocates_nothing() {
        assert_eq!(parse("TCP OK - 0.1 ms\n", false).capacity(), 0);
    }
}
