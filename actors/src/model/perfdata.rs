//! Performance data: the measurements a Nagios plugin reports after `|`
//! (`time=0.000123s;;;0.000000;10.000000`), normalised to one unit per kind. Parsed by
//! [`crate::probe::script`]; shown in the API's `last_check` and as
//! `flowstate_check_perfdata`.

use std::fmt;

/// One measurement, in its normalised unit: seconds, bytes, percent, a counter or a count.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfValue {
    /// As the plugin wrote it, without quotes (`''` read as `'`).
    pub label: Box<str>,
    pub value: f64,
    pub unit: PerfUnit,
    /// The warning and critical ranges, in the value's (normalised) unit.
    pub warn: Option<PerfRange>,
    pub crit: Option<PerfRange>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// A unit of measurement after normalisation: `ms` and `us` became seconds, `KB` to `TB`
/// became bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerfUnit {
    /// No unit: a number of things (users, processes, a load average).
    None,
    Seconds,
    Bytes,
    Percent,
    /// `c`: a continuous counter (bytes sent on an interface).
    Counter,
    /// A unit the guidelines do not name (`dBm`, `V`), kept as written; the value is not scaled.
    Other(Box<str>),
}

impl PerfUnit {
    /// The unit's symbol (`s`, `B`, `%`, `c`, as written for others); `None` for none.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            PerfUnit::None => None,
            PerfUnit::Seconds => Some("s"),
            PerfUnit::Bytes => Some("B"),
            PerfUnit::Percent => Some("%"),
            PerfUnit::Counter => Some("c"),
            PerfUnit::Other(unit) => Some(unit),
        }
    }
}

/// A threshold in the plugins' range format, `[@][start:][end]`: an alert when the value is
/// outside `start..=end` (inside with `@`). `start` is `-inf` for `~`, `end` is `inf` when
/// left out; a bare `10` is `0:10`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerfRange {
    pub start: f64,
    pub end: f64,
    /// `@`: the alert is for a value inside the range.
    pub inside: bool,
}

/// Written back in the range format, with the normalised numbers: `10`, `10:`, `~:10`,
/// `@10:20`.
impl fmt::Display for PerfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        if self.start == f64::NEG_INFINITY {
            f.write_str("~:")?;
        } else if self.start != 0.0 || self.end == f64::INFINITY {
            write!(f, "{}:", self.start)?;
        }
        if self.end != f64::INFINITY {
            write!(f, "{}", self.end)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_written_in_the_plugin_format() {
        let range = |start, end, inside| PerfRange { start, end, inside }.to_string();
        assert_eq!(range(0.0, 10.0, false), "10");
        assert_eq!(range(10.0, f64::INFINITY, false), "10:");
        assert_eq!(range(0.0, f64::INFINITY, false), "0:");
        assert_eq!(range(f64::NEG_INFINITY, 0.5, false), "~:0.5");
        assert_eq!(range(10.0, 20.0, true), "@10:20");
    }
}
