//! `flapping`: when a host changes state so often that alerting on each change is noise
//! (SPEC §9), as Nagios detects it.
//!
//! The running system keeps a host's last `window` results and computes their percent state
//! change: how many consecutive pairs differ, newer pairs weighted more (linearly, from 0.8
//! for the oldest to 1.2 for the newest; Nagios's code uses 0.75 to 1.25). Above `high` the
//! host is flapping; it stops flapping only below `low`, so a host hovering around one
//! threshold does not start and stop every check. This file holds the settings and reads
//! them; the computation belongs to the running system (`actors/src/model/flapping.rs`).

use std::fmt;

use crate::reader::{describe, shown, Node, Reader};

/// A host's flapping detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlappingSettings {
    /// How many of the latest results are looked at, 3 to 64.
    pub window: u32,
    /// Percent state change above which the host is flapping, at most 100.
    pub high: f64,
    /// Percent state change below which a flapping host stops flapping: more than 0, below
    /// `high`.
    pub low: f64,
}

// Validation only lets finite numbers through, so equality is total.
impl Eq for FlappingSettings {}

impl FlappingSettings {
    /// SPEC §9's values, close to Nagios's (which looks at 21 results, 20 possible changes);
    /// thresholds as Nagios's defaults, 50% and 25%.
    pub const DEFAULT: FlappingSettings = FlappingSettings {
        window: 20,
        high: 50.0,
        low: 25.0,
    };
    pub const MIN_WINDOW: u64 = 3;
    pub const MAX_WINDOW: u64 = 64;
}

impl fmt::Display for FlappingSettings {
    /// `window 20, high 50%, low 25%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "window {}, high {}%, low {}%",
            self.window, self.high, self.low
        )
    }
}

/// `flapping` as written in `defaults` or on a host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PartialFlapping {
    /// `flapping: false`: no detection, whatever `defaults` says.
    Off,
    /// A block (or `true`); an unset key comes from `defaults`, else from the built-in values.
    On {
        window: Option<u32>,
        high: Option<f64>,
        low: Option<f64>,
    },
}

/// Which setting of a block an error is about, to point at it when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlappingKey {
    High,
    Low,
}

impl FlappingKey {
    pub fn name(self) -> &'static str {
        match self {
            FlappingKey::High => "high",
            FlappingKey::Low => "low",
        }
    }
}

impl PartialFlapping {
    /// `flapping: true` (every key inherited) or `flapping: false`.
    fn switched(on: bool) -> Self {
        match on {
            false => PartialFlapping::Off,
            true => PartialFlapping::On {
                window: None,
                high: None,
                low: None,
            },
        }
    }

    /// The effective settings, unset keys taken from `base` (what `defaults` gives, or the
    /// built-in values); `None` when off. An error names the key to point at and says why:
    /// `low` must stay below `high`, which may come from different places.
    pub fn over(
        self,
        base: FlappingSettings,
    ) -> Result<Option<FlappingSettings>, (FlappingKey, String)> {
        let PartialFlapping::On { window, high, low } = self else {
            return Ok(None);
        };
        let settings = FlappingSettings {
            window: window.unwrap_or(base.window),
            high: high.unwrap_or(base.high),
            low: low.unwrap_or(base.low),
        };
        if settings.low >= settings.high {
            // Point at what this block wrote; when it wrote neither, `defaults` is to blame.
            let key = match (low, high) {
                (None, Some(_)) => FlappingKey::High,
                _ => FlappingKey::Low,
            };
            let shown = |value: f64, written: Option<f64>| match written {
                Some(_) => format!("{value}%"),
                None => format!("{value}%, inherited"),
            };
            return Err((
                key,
                format!(
                    "low ({}) must be below high ({}): a host starts flapping above high and stops below low; lower low or raise high",
                    shown(settings.low, low),
                    shown(settings.high, high),
                ),
            ));
        }
        Ok(Some(settings))
    }
}

const EXAMPLE: &str = "`flapping: { window: 20, high: 50%, low: 25% }`, or `flapping: false`";

/// Reads `flapping`: a block of `window`, `high` and `low` (each optional), `true` (the
/// defaults' or built-in values) or `false` (off).
pub(crate) fn read_flapping(reader: &mut Reader, node: &Node) -> Option<PartialFlapping> {
    match node.value {
        serde_yaml::Value::Mapping(_) | serde_yaml::Value::Null => {}
        serde_yaml::Value::Bool(on) => return Some(PartialFlapping::switched(*on)),
        serde_yaml::Value::String(_) => {
            // `${FLAPPING}` gives text: `true` or `false` from a variable is a switch.
            let text = reader.text(node)?;
            return match (text.substituted, text.value.trim()) {
                (true, "true") => Some(PartialFlapping::switched(true)),
                (true, "false") => Some(PartialFlapping::switched(false)),
                _ => {
                    reader.type_error(node, format!("expected {EXAMPLE}, found {}", shown(&text)));
                    None
                }
            };
        }
        other => {
            reader.type_error(
                node,
                format!("expected {EXAMPLE}, found {}", describe(other)),
            );
            return None;
        }
    }
    let fields = reader.fields(node, FLAPPING_KEYS)?;
    let window = fields.get("window").map(|n| {
        reader
            .count(
                &n,
                FlappingSettings::MIN_WINDOW,
                FlappingSettings::MAX_WINDOW,
            )
            .map(|w| w as u32)
    });
    let high = fields.get("high").map(|n| read_percent(reader, &n));
    let low = fields.get("low").map(|n| {
        let low = read_percent(reader, &n)?;
        if low <= 0.0 {
            reader.semantic_error(
                &n,
                "low must be more than 0%: a host stops flapping below it; e.g. `low: 25%`",
            );
            return None;
        }
        Some(low)
    });
    // Each key is read (and its error reported) before giving up on any.
    Some(PartialFlapping::On {
        window: transpose(window)?,
        high: transpose(high)?,
        low: transpose(low)?,
    })
}

pub(crate) const FLAPPING_KEYS: &[&str] = &["window", "high", "low"];

/// `50%` or `50`, through the reader the ICMP `max_loss` uses.
fn read_percent(reader: &mut Reader, node: &Node) -> Option<f64> {
    crate::read_check::read_percent(reader, node)
}

/// A key that was not written is fine (`Some(None)`); one written wrong is not (`None`).
fn transpose<T>(value: Option<Option<T>>) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(Some(v)) => Some(Some(v)),
        Some(None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_keys_come_from_the_base_and_false_turns_it_off() {
        let on = PartialFlapping::On {
            window: None,
            high: Some(60.0),
            low: None,
        };
        assert_eq!(
            on.over(FlappingSettings::DEFAULT),
            Ok(Some(FlappingSettings {
                window: 20,
                high: 60.0,
                low: 25.0
            }))
        );
        assert_eq!(
            PartialFlapping::Off.over(FlappingSettings::DEFAULT),
            Ok(None)
        );
        assert_eq!(
            FlappingSettings::DEFAULT.to_string(),
            "window 20, high 50%, low 25%"
        );
    }

    #[test]
    fn low_must_stay_below_high_wherever_each_comes_from() {
        let written_low = PartialFlapping::On {
            window: None,
            high: None,
            low: Some(60.0),
        };
        let (key, message) = written_low.over(FlappingSettings::DEFAULT).unwrap_err();
        assert_eq!(key, FlappingKey::Low);
        assert!(
            message.starts_with("low (60%) must be below high (50%, inherited): "),
            "{message}"
        );
        let written_high = PartialFlapping::On {
            window: None,
            high: Some(20.0),
            low: None,
        };
        assert_eq!(
            written_high.over(FlappingSettings::DEFAULT).unwrap_err().0,
            FlappingKey::High
        );
    }
}
