//! The orders of the dashboard's host list, which `s` cycles through.
//!
//! Every order ends on the label, so hosts that tie (all `up`, equally fast) keep one stable
//! place from refresh to refresh instead of shuffling. Labels compare naturally: `web-2`
//! before `web-10`, case only breaking ties.

use std::cmp::Ordering;

use flowstate_actors::model::Status;

use crate::present;

/// How the host list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Most urgent first: down, degraded, unknown, up (`present::urgency`).
    #[default]
    Status,
    Label,
    /// Slowest last check first; hosts not checked yet at the end.
    Latency,
}

impl SortKey {
    /// The order `s` switches to.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Status => SortKey::Label,
            SortKey::Label => SortKey::Latency,
            SortKey::Latency => SortKey::Status,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Status => "status",
            SortKey::Label => "label",
            SortKey::Latency => "latency",
        }
    }
}

/// What an order looks at of one host.
pub struct SortFields<'a> {
    pub label: &'a str,
    pub status: Status,
    pub latency_ms: Option<f64>,
}

/// Compares two hosts in the order `key`.
pub fn compare(key: SortKey, a: &SortFields, b: &SortFields) -> Ordering {
    let first = match key {
        SortKey::Status => present::urgency(a.status).cmp(&present::urgency(b.status)),
        SortKey::Label => Ordering::Equal,
        SortKey::Latency => match (a.latency_ms, b.latency_ms) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    first.then_with(|| natural(a.label, b.label))
}

/// Natural order: runs of digits compare by their value (`web-2` < `web-10`), letters without
/// regard to case; what still ties is decided by the plain bytes, so the order is total.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) if p.is_ascii_digit() && q.is_ascii_digit() => {
                let (dx, dy) = (digits(x), digits(y));
                let (nx, ny) = (trim_zeros(&x[..dx]), trim_zeros(&y[..dy]));
                let order = nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny));
                if order != Ordering::Equal {
                    return order;
                }
                x = &x[dx..];
                y = &y[dy..];
            }
            (Some(p), Some(q)) => {
                let order = p.to_ascii_lowercase().cmp(&q.to_ascii_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    &digits[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut labels: Vec<&str>) -> Vec<&str> {
        labels.sort_by(|a, b| natural(a, b));
        labels
    }

    #[test]
    fn numbers_in_labels_sort_by_value() {
        assert_eq!(
            sorted(vec!["web-10", "web-2", "web-1", "db", "web-02"]),
            ["db", "web-1", "web-02", "web-2", "web-10"]
        );
        assert_eq!(sorted(vec!["b", "A", "a", "B"]), ["A", "a", "B", "b"]);
        assert_eq!(sorted(vec!["x1y", "x1", "x"]), ["x", "x1", "x1y"]);
    }

    #[test]
    fn sort_keys_cycle_through_all_three() {
        let mut key = SortKey::default();
        let mut seen = vec![key.name()];
        for _ in 0..3 {
            key = key.next();
            seen.push(key.name());
        }
        assert_eq!(seen, ["status", "label", "latency", "status"]);
    }

    #[test]
    fn latency_order_puts_slowest_first_and_unchecked_last() {
        let host = |label, latency_ms| SortFields {
            label,
            status: Status::Up,
            latency_ms,
        };
        let (slow, fast, none) = (host("a", Some(90.0)), host("b", Some(1.0)), host("c", None));
        assert_eq!(compare(SortKey::Latency, &slow, &fast), Ordering::Less);
        assert_eq!(compare(SortKey::Latency, &none, &fast), Ordering::Greater);
        assert_eq!(compare(SortKey::Latency, &none, &none), Ordering::Equal);
    }
}
