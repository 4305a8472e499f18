//! The leader's verdict on a host, by quorum over the verdicts of its locations (SPEC §10).
//!
//! Each location judged the host already, with the host's own thresholds, and sent its latest
//! verdict with the time it was made. The leader combines them here; it decides no thresholds
//! itself, so a location is never counted twice over, once in its verdict and again here.
//!
//! ## What a location counts as
//!
//! Only the host's expected locations count; a verdict from any other location (one the host
//! no longer lists after a reload, say) is ignored. Each expected location is one of:
//!
//! - **failing**: a fresh `down` or `unreachable` (either way the host does not answer from
//!   there; whether a parent is to blame is decided after the quorum, on the cluster's status);
//! - **degraded**: a fresh `degraded`;
//! - **up**: a fresh `up`;
//! - **unknown**: no verdict, a verdict that is not fresh (see [`is_fresh`]), or a fresh
//!   `unknown`. An unknown location is never counted as failing: an agent that died or lost
//!   its network must not make a host look down.
//!
//! ## The rule
//!
//! With `n` expected locations, `F` failing, `D` degraded and `U` up, and `q` the quorum cut
//! to `1..=n` (a host checked from fewer locations than the quorum must still be able to go
//! down, and a quorum of 0 would make a host with no verdicts at all down), the first row that
//! matches decides:
//!
//! | row | condition                 | status     | why                                          |
//! |-----|---------------------------|------------|----------------------------------------------|
//! | 1   | `n = 0`                   | `unknown`  | nowhere to check from                        |
//! | 2   | `F ≥ q`                   | `down`     | quorum sees it failing, whatever others say  |
//! | 3   | `0 < F < q`               | `partial`  | failing somewhere: shown, not alerted        |
//! | 4   | `F = 0`, `D ≥ q`          | `degraded` | a problem needs a quorum, as `down` does     |
//! | 5   | `F = 0`, `D < q ≤ U + D`  | `up`       | a quorum answers, too few of them slowly     |
//! | 6   | `F = 0`, `U + D < q`      | `unknown`  | too few locations know to vouch for it       |
//!
//! So a failing location outranks any number of healthy ones short of the quorum (row 3 before
//! 4 and 5): one location that cannot reach the host is worth showing. Examples with three
//! locations and quorum 2 (`?` = unknown, `stale down` = a `down` older than `fresh_for`):
//!
//! | verdicts                            | status     | row |
//! |-------------------------------------|------------|-----|
//! | up, up, up                          | `up`       | 5   |
//! | up, up, ?                           | `up`       | 5   |
//! | up, ?, ?                            | `unknown`  | 6   |
//! | ?, ?, ?                             | `unknown`  | 6   |
//! | down, up, up                        | `partial`  | 3   |
//! | down, up, ?                         | `partial`  | 3   |
//! | down, ?, ?                          | `partial`  | 3   |
//! | down, down, up                      | `down`     | 2   |
//! | down, down, ?                       | `down`     | 2   |
//! | down, unreachable, up               | `down`     | 2   |
//! | degraded, degraded, up              | `degraded` | 4   |
//! | degraded, degraded, down            | `partial`  | 3   |
//! | degraded, up, up                    | `up`       | 5   |
//! | degraded, up, ?                     | `up`       | 5   |
//! | degraded, ?, ?                      | `unknown`  | 6   |
//! | stale down, up, up                  | `up`       | 5   |
//! | stale down, stale down, up          | `unknown`  | 6   |
//!
//! The verdict is a snapshot: holding a status (one blip does not alert) is the model's job,
//! on top of this.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::Status;

/// One location's latest verdict on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationVerdict {
    pub status: Status,
    /// When the location's agent made it: the leader ignores a verdict too old to trust.
    pub at: SystemTime,
    /// Why, in the location's words (`connection refused`, `status 503`): the leader's reason
    /// quotes it.
    pub reason: String,
}

/// A host's status in the cluster: [`Status`]'s up, degraded, down and unknown, and `partial`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterStatus {
    /// Too few locations have a fresh verdict to say.
    #[default]
    Unknown,
    Up,
    Degraded,
    Down,
    /// Failing in some locations, fewer than the quorum: shown, not alerted by default.
    Partial,
}

impl ClusterStatus {
    /// Every status, in the order counts are listed.
    pub const ALL: [ClusterStatus; 5] = [
        ClusterStatus::Unknown,
        ClusterStatus::Up,
        ClusterStatus::Degraded,
        ClusterStatus::Down,
        ClusterStatus::Partial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Unknown => "unknown",
            ClusterStatus::Up => "up",
            ClusterStatus::Degraded => "degraded",
            ClusterStatus::Down => "down",
            ClusterStatus::Partial => "partial",
        }
    }
}

impl fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The leader's verdict on one host. The lists hold expected locations only, sorted, whatever
/// the status: a `partial` host's page shows where it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterVerdict {
    pub status: ClusterStatus,
    /// Locations with a fresh `down` or `unreachable`.
    pub failing: Vec<Arc<str>>,
    /// Locations with a fresh `degraded`.
    pub degraded: Vec<Arc<str>>,
    /// Locations with no fresh verdict, or a fresh `unknown`.
    pub unknown: Vec<Arc<str>>,
    /// For people: `down in eu, us: connection refused; status 503 (up in ap)`.
    pub reason: String,
}

/// Whether a verdict made `at` is fresh at `now`: no more than `fresh_for` old (exactly
/// `fresh_for` old is still fresh).
///
/// Agents' clocks differ, so a verdict may be dated after `now`. Up to `fresh_for` ahead it is
/// as good as new; further ahead its clock cannot be trusted, and neither can its age, so it
/// is not fresh (a location counts as unknown rather than a wrong clock keeping a verdict
/// alive forever).
pub fn is_fresh(at: SystemTime, now: SystemTime, fresh_for: Duration) -> bool {
    let distance = match now.duration_since(at) {
        Ok(age) => age,
        Err(ahead) => ahead.duration(),
    };
    distance <= fresh_for
}

/// The host's status by quorum over the latest verdict of each of its `expected` locations,
/// by the rule in the module header. `verdicts` may hold locations not expected (ignored) and
/// miss expected ones (unknown).
pub fn decide(
    expected: &BTreeSet<Arc<str>>,
    verdicts: &HashMap<Arc<str>, LocationVerdict>,
    quorum: u32,
    fresh_for: Duration,
    now: SystemTime,
) -> ClusterVerdict {
    let n = expected.len();
    if n == 0 {
        return ClusterVerdict {
            status: ClusterStatus::Unknown,
            failing: Vec::new(),
            degraded: Vec::new(),
            unknown: Vec::new(),
            reason: "no locations to check from".to_owned(),
        };
    }
    let mut seen = Seen::default();
    for location in expected {
        let verdict = verdicts
            .get(location)
            .filter(|verdict| is_fresh(verdict.at, now, fresh_for));
        seen.add(location, verdict);
    }
    // A u32 always fits in usize where flowstate runs; if not, a quorum above n is cut anyway.
    let q = usize::try_from(quorum).unwrap_or(usize::MAX).clamp(1, n);
    let (failing, degraded, up) = (seen.failing.len(), seen.degraded.len(), seen.up.len());

    let status = if failing >= q {
        ClusterStatus::Down
    } else if failing > 0 {
        ClusterStatus::Partial
    } else if degraded >= q {
        ClusterStatus::Degraded
    } else if up + degraded >= q {
        ClusterStatus::Up
    } else {
        ClusterStatus::Unknown
    };
    let reason = seen.reason(status, q);
    ClusterVerdict {
        status,
        failing: seen.failing.into_iter().map(|(l, _)| l.clone()).collect(),
        degraded: seen.degraded.into_iter().map(|(l, _)| l.clone()).collect(),
        unknown: seen.unknown.into_iter().cloned().collect(),
        reason,
    }
}

/// The expected locations sorted by what they count as, each in location order (`expected`
/// is sorted), with the reason of each failing or degraded one.
#[derive(Default)]
struct Seen<'a> {
    failing: Vec<(&'a Arc<str>, &'a str)>,
    degraded: Vec<(&'a Arc<str>, &'a str)>,
    up: Vec<&'a Arc<str>>,
    unknown: Vec<&'a Arc<str>>,
}

impl<'a> Seen<'a> {
    /// Counts `location` by its fresh verdict, if it has one.
    fn add(&mut self, location: &'a Arc<str>, fresh: Option<&'a LocationVerdict>) {
        let Some(verdict) = fresh else {
            self.unknown.push(location);
            return;
        };
        // No wildcard: a new `Status` must be placed here on purpose.
        match verdict.status {
            Status::Down | Status::Unreachable => self.failing.push((location, &verdict.reason)),
            Status::Degraded => self.degraded.push((location, &verdict.reason)),
            Status::Up => self.up.push(location),
            Status::Unknown => self.unknown.push(location),
        }
    }

    /// The clause that explains `status` first, then the rest in brackets:
    /// `down in eu: connection refused (below quorum 2; up in us; unknown in ap)`.
    fn reason(&self, status: ClusterStatus, quorum: usize) -> String {
        let down = (!self.failing.is_empty()).then(|| clause("down", &self.failing));
        let degraded = (!self.degraded.is_empty()).then(|| clause("degraded", &self.degraded));
        let up = (!self.up.is_empty()).then(|| names("up", &self.up));
        let unknown = (!self.unknown.is_empty()).then(|| names("unknown", &self.unknown));

        let (lead, note) = match status {
            ClusterStatus::Down => (down.clone(), None),
            ClusterStatus::Partial => (down.clone(), Some(format!("below quorum {quorum}"))),
            ClusterStatus::Degraded => (degraded.clone(), None),
            ClusterStatus::Up => (up.clone(), None),
            ClusterStatus::Unknown => (
                unknown.clone(),
                Some(format!("fewer than quorum {quorum} known")),
            ),
        };
        let rest: Vec<String> = note
            .into_iter()
            .chain([down, degraded, up, unknown].into_iter().flatten())
            .filter(|part| Some(part) != lead.as_ref())
            .collect();
        match (lead, rest.is_empty()) {
            (Some(lead), true) => lead,
            (Some(lead), false) => format!("{lead} ({})", rest.join("; ")),
            // Every status leads with a list that is not empty (see the rule); should that
            // ever change, the reason still says everything known.
            (None, _) => rest.join("; "),
        }
    }
}

/// `down in eu, us: connection refused; status 503`: the locations, then their reasons, each
/// reason once and empty ones left out.
fn clause(word: &str, located: &[(&Arc<str>, &str)]) -> String {
    let locations: Vec<&str> = located.iter().map(|(location, _)| &***location).collect();
    let mut reasons: Vec<&str> = Vec::new();
    for (_, reason) in located {
        let reason = reason.trim();
        if !reason.is_empty() && !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    let mut text = format!("{word} in {}", locations.join(", "));
    if !reasons.is_empty() {
        text.push_str(": ");
        text.push_str(&reasons.join("; "));
    }
    text
}

/// `up in ap, eu`: the locations alone.
fn names(word: &str, locations: &[&Arc<str>]) -> String {
    let locations: Vec<&str> = locations.iter().map(|location| &***location).collect();
    format!("{word} in {}", locations.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRESH_FOR: Duration = Duration::from_secs(120);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    /// What a test says about one location.
    #[derive(Clone, Copy)]
    enum Said {
        /// A verdict made 10 s ago.
        Fresh(Status, &'static str),
        /// A verdict made well over `FRESH_FOR` ago.
        Stale(Status),
        /// No verdict at all.
        Nothing,
    }
    use Said::*;

    fn up() -> Said {
        Fresh(Status::Up, "status 200")
    }
    fn down(reason: &'static str) -> Said {
        Fresh(Status::Down, reason)
    }
    fn degraded(reason: &'static str) -> Said {
        Fresh(Status::Degraded, reason)
    }
    fn unknown() -> Said {
        Nothing
    }

    /// Decides over locations named as given, each with what it said.
    fn decide_over(said: &[(&str, Said)], quorum: u32) -> ClusterVerdict {
        let expected: BTreeSet<Arc<str>> = said.iter().map(|(l, _)| Arc::from(*l)).collect();
        let verdicts = said
            .iter()
            .filter_map(|(location, said)| {
                let (status, at, reason) = match *said {
                    Fresh(status, reason) => (status, now() - Duration::from_secs(10), reason),
                    Stale(status) => (status, now() - FRESH_FOR * 3, "old news"),
                    Nothing => return None,
                };
                let verdict = LocationVerdict {
                    status,
                    at,
                    reason: reason.to_owned(),
                };
                Some((Arc::from(*location), verdict))
            })
            .collect();
        decide(&expected, &verdicts, quorum, FRESH_FOR, now())
    }

    /// Three locations, quorum 2: the examples of the module header.
    fn three(a: Said, b: Said, c: Said) -> ClusterStatus {
        decide_over(&[("ap", a), ("eu", b), ("us", c)], 2).status
    }

    fn list(locations: &[&str]) -> Vec<Arc<str>> {
        locations.iter().map(|l| Arc::from(*l)).collect()
    }

    // Rows of the rule.

    #[test]
    fn row_1_no_expected_location_is_unknown() {
        let verdict = decide_over(&[], 2);
        assert_eq!(verdict.status, ClusterStatus::Unknown);
        assert_eq!(verdict.reason, "no locations to check from");
        assert!(verdict.failing.is_empty() && verdict.unknown.is_empty());
    }

    #[test]
    fn row_2_quorum_failing_is_down_whatever_the_others_say() {
        let said = [
            ("a", down("refused")),
            ("b", down("refused")),
            ("c", up()),
            ("d", up()),
            ("e", up()),
        ];
        assert_eq!(decide_over(&said, 2).status, ClusterStatus::Down);
    }

    #[test]
    fn row_3_failing_below_quorum_is_partial() {
        for quorum in 2..=3 {
            let said = [("a", down("refused")), ("b", up()), ("c", up())];
            assert_eq!(decide_over(&said, quorum).status, ClusterStatus::Partial);
        }
        let said = [("a", down("x")), ("b", down("x")), ("c", up())];
        assert_eq!(decide_over(&said, 3).status, ClusterStatus::Partial);
    }

    #[test]
    fn row_4_quorum_degraded_without_failing_is_degraded() {
        let said = [
            ("a", degraded("slow")),
            ("b", degraded("slow")),
            ("c", up()),
        ];
        assert_eq!(decide_over(&said, 2).status, ClusterStatus::Degraded);
    }

    #[test]
    fn row_5_a_quorum_answering_with_too_few_degraded_is_up() {
        let said = [("a", degraded("slow")), ("b", up()), ("c", unknown())];
        assert_eq!(decide_over(&said, 2).status, ClusterStatus::Up);
        let said = [("a", up()), ("b", up()), ("c", up())];
        assert_eq!(decide_over(&said, 3).status, ClusterStatus::Up);
    }

    #[test]
    fn row_6_fewer_than_quorum_known_is_unknown() {
        let said = [("a", up()), ("b", unknown()), ("c", unknown())];
        let verdict = decide_over(&said, 2);
        assert_eq!(verdict.status, ClusterStatus::Unknown);
        assert_eq!(verdict.unknown, list(&["b", "c"]));
    }

    #[test]
    fn every_example_in_the_header_holds() {
        use ClusterStatus as C;
        let stale_down = Stale(Status::Down);
        let unreachable = Fresh(Status::Unreachable, "parent isp down");
        let (d, g) = (down("refused"), degraded("slow"));
        let (u, q) = (up(), unknown());
        let examples = [
            ("up, up, up", (u, u, u), C::Up),
            ("up, up, ?", (u, u, q), C::Up),
            ("up, ?, ?", (u, q, q), C::Unknown),
            ("?, ?, ?", (q, q, q), C::Unknown),
            ("down, up, up", (d, u, u), C::Partial),
            ("down, up, ?", (d, u, q), C::Partial),
            ("down, ?, ?", (d, q, q), C::Partial),
            ("down, down, up", (d, d, u), C::Down),
            ("down, down, ?", (d, d, q), C::Down),
            ("down, unreachable, up", (d, unreachable, u), C::Down),
            ("degraded, degraded, up", (g, g, u), C::Degraded),
            ("degraded, degraded, down", (g, g, d), C::Partial),
            ("degraded, up, up", (g, u, u), C::Up),
            ("degraded, up, ?", (g, u, q), C::Up),
            ("degraded, ?, ?", (g, q, q), C::Unknown),
            ("stale down, up, up", (stale_down, u, u), C::Up),
            (
                "stale down, stale down, up",
                (stale_down, stale_down, u),
                C::Unknown,
            ),
        ];
        for (name, (a, b, c), expected) in examples {
            assert_eq!(three(a, b, c), expected, "{name}");
            // The order of the locations does not matter.
            assert_eq!(three(c, a, b), expected, "{name}, rotated");
            assert_eq!(three(b, c, a), expected, "{name}, rotated twice");
        }
    }

    // What a location counts as.

    #[test]
    fn a_stale_down_is_unknown_never_down() {
        let said = [("eu", Stale(Status::Down)), ("us", Stale(Status::Down))];
        let verdict = decide_over(&said, 1);
        assert_eq!(verdict.status, ClusterStatus::Unknown);
        assert!(verdict.failing.is_empty());
        assert_eq!(verdict.unknown, list(&["eu", "us"]));
    }

    #[test]
    fn a_fresh_unknown_counts_as_unknown() {
        let said = [("eu", Fresh(Status::Unknown, "starting")), ("us", up())];
        let verdict = decide_over(&said, 2);
        assert_eq!(verdict.status, ClusterStatus::Unknown);
        assert_eq!(verdict.unknown, list(&["eu"]));
    }

    #[test]
    fn unreachable_counts_as_failing() {
        let said = [
            ("eu", Fresh(Status::Unreachable, "parent isp is down")),
            ("us", Fresh(Status::Unreachable, "parent isp is down")),
        ];
        let verdict = decide_over(&said, 2);
        assert_eq!(verdict.status, ClusterStatus::Down);
        assert_eq!(verdict.failing, list(&["eu", "us"]));
    }

    #[test]
    fn verdicts_of_locations_not_expected_are_ignored() {
        let expected: BTreeSet<Arc<str>> = list(&["eu", "us"]).into_iter().collect();
        let at = now() - Duration::from_secs(5);
        let verdict = |status| LocationVerdict {
            status,
            at,
            reason: "refused".to_owned(),
        };
        let verdicts = HashMap::from([
            (Arc::from("eu"), verdict(Status::Up)),
            (Arc::from("us"), verdict(Status::Up)),
            (Arc::from("ap"), verdict(Status::Down)),
            (Arc::from("sa"), verdict(Status::Down)),
        ]);
        let decided = decide(&expected, &verdicts, 2, FRESH_FOR, now());
        assert_eq!(decided.status, ClusterStatus::Up);
        assert!(decided.failing.is_empty());
    }

    // The quorum cut to the locations there are.

    #[test]
    fn a_quorum_above_the_locations_is_cut_to_them() {
        let said = [("eu", down("refused"))];
        assert_eq!(decide_over(&said, 2).status, ClusterStatus::Down);
        let said = [("eu", down("refused")), ("us", down("refused"))];
        assert_eq!(decide_over(&said, 5).status, ClusterStatus::Down);
        let said = [("eu", down("refused")), ("us", up())];
        assert_eq!(decide_over(&said, u32::MAX).status, ClusterStatus::Partial);
    }

    #[test]
    fn a_quorum_of_zero_counts_as_one() {
        let said = [("eu", down("refused")), ("us", up()), ("ap", up())];
        assert_eq!(decide_over(&said, 0).status, ClusterStatus::Down);
        let nothing = [("eu", unknown()), ("us", unknown())];
        assert_eq!(decide_over(&nothing, 0).status, ClusterStatus::Unknown);
    }

    // Freshness.

    #[test]
    fn freshness_ends_after_exactly_fresh_for() {
        let t = now();
        assert!(is_fresh(t, t, FRESH_FOR));
        assert!(is_fresh(t - FRESH_FOR, t, FRESH_FOR));
        assert!(!is_fresh(
            t - FRESH_FOR - Duration::from_millis(1),
            t,
            FRESH_FOR
        ));
        assert!(is_fresh(t, t, Duration::ZERO));
        assert!(!is_fresh(t - Duration::from_nanos(1), t, Duration::ZERO));
    }

    #[test]
    fn a_verdict_from_a_clock_slightly_ahead_is_fresh_far_ahead_is_not() {
        let t = now();
        assert!(is_fresh(t + Duration::from_secs(3), t, FRESH_FOR));
        assert!(is_fresh(t + FRESH_FOR, t, FRESH_FOR));
        assert!(!is_fresh(t + FRESH_FOR * 2, t, FRESH_FOR));
    }

    #[test]
    fn a_verdict_turns_unknown_as_time_passes() {
        let expected: BTreeSet<Arc<str>> = list(&["eu"]).into_iter().collect();
        let made = now();
        let verdicts = HashMap::from([(
            Arc::from("eu"),
            LocationVerdict {
                status: Status::Down,
                at: made,
                reason: "refused".to_owned(),
            },
        )]);
        let at = |later| decide(&expected, &verdicts, 1, FRESH_FOR, made + later).status;
        assert_eq!(at(Duration::ZERO), ClusterStatus::Down);
        assert_eq!(at(FRESH_FOR), ClusterStatus::Down);
        assert_eq!(
            at(FRESH_FOR + Duration::from_secs(1)),
            ClusterStatus::Unknown
        );
    }

    // Lists and reasons.

    #[test]
    fn lists_are_sorted_by_location_whatever_the_status() {
        let said = [
            ("us", down("refused")),
            ("ap", degraded("slow")),
            ("eu", down("status 503")),
            ("sa", unknown()),
            ("jp", up()),
        ];
        let verdict = decide_over(&said, 3);
        assert_eq!(verdict.status, ClusterStatus::Partial);
        assert_eq!(verdict.failing, list(&["eu", "us"]));
        assert_eq!(verdict.degraded, list(&["ap"]));
        assert_eq!(verdict.unknown, list(&["sa"]));
    }

    #[test]
    fn reason_names_the_failing_locations_and_their_reasons() {
        let said = [
            ("eu", down("connection refused")),
            ("us", down("status 503")),
        ];
        assert_eq!(
            decide_over(&said, 2).reason,
            "down in eu, us: connection refused; status 503"
        );
    }

    #[test]
    fn reason_gives_the_rest_in_brackets() {
        let said = [
            ("ap", unknown()),
            ("eu", down("connection refused")),
            ("us", down("status 503")),
            ("jp", up()),
        ];
        assert_eq!(
            decide_over(&said, 2).reason,
            "down in eu, us: connection refused; status 503 (up in jp; unknown in ap)"
        );
    }

    #[test]
    fn reason_of_partial_says_it_is_below_quorum() {
        let said = [("ap", unknown()), ("eu", down("refused")), ("us", up())];
        assert_eq!(
            decide_over(&said, 2).reason,
            "down in eu: refused (below quorum 2; up in us; unknown in ap)"
        );
    }

    #[test]
    fn reason_of_degraded_quotes_the_degraded_locations() {
        let said = [
            ("eu", degraded("slow: 2.1 s")),
            ("us", degraded("slow: 1.8 s")),
            ("ap", up()),
        ];
        assert_eq!(
            decide_over(&said, 2).reason,
            "degraded in eu, us: slow: 2.1 s; slow: 1.8 s (up in ap)"
        );
    }

    #[test]
    fn reason_of_up_names_where_it_answers() {
        let said = [("eu", up()), ("us", up()), ("ap", degraded("slow"))];
        assert_eq!(
            decide_over(&said, 2).reason,
            "up in eu, us (degraded in ap: slow)"
        );
    }

    #[test]
    fn reason_of_unknown_says_too_few_know() {
        let said = [("eu", up()), ("us", unknown()), ("ap", Stale(Status::Down))];
        assert_eq!(
            decide_over(&said, 2).reason,
            "unknown in ap, us (fewer than quorum 2 known; up in eu)"
        );
    }

    #[test]
    fn reason_says_each_reason_once_and_skips_empty_ones() {
        let said = [
            ("ap", down("connection refused")),
            ("eu", down("")),
            ("us", down("connection refused")),
        ];
        assert_eq!(
            decide_over(&said, 2).reason,
            "down in ap, eu, us: connection refused"
        );
        let silent = [("eu", down(" ")), ("us", down(""))];
        assert_eq!(decide_over(&silent, 2).reason, "down in eu, us");
    }

    #[test]
    fn cluster_status_is_written_in_lowercase() {
        for status in ClusterStatus::ALL {
            let json = serde_json::to_string(&status).expect("a unit variant serialises");
            assert_eq!(json, format!("\"{status}\""));
        }
    }
}
