//! Reachability: whether a failing host is down itself or cut off by a parent that is down
//! (`depends_on`, SPEC §9).
//!
//! Pure: the registry hands in what it knows of each parent ([`ParentState`]) and the time of
//! the child's deciding result, and [`judge`] answers. Two races are decided here rather than
//! left to the order in which results arrive:
//!
//! - A parent and its child fail in the same second. If the child's result comes first, its
//!   parent may not have been checked since the child began failing: the child waits for the
//!   parent's next result (at most the parent's interval and timeout), so the router's outage
//!   pages once, for the router.
//! - A parent recovers. A child's failing result dated before the recovery was made while the
//!   parent was still down: it says nothing about the child, which stays unreachable until a
//!   result of its own after the recovery judges it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flowstate_config::dependencies::Dependency;

use super::Status;

/// What the registry knows of one parent when a child is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentState {
    pub label: Arc<str>,
    pub status: Status,
    /// The parent's newest result this run: when its verdict was in, and whether it passed.
    pub latest: Option<(SystemTime, bool)>,
    /// When the parent last left `down` or `unreachable`: a child's result older than this was
    /// made while the parent was still down.
    pub problem_ended_at: Option<SystemTime>,
    /// How long the parent's next result may take: its interval plus its timeout.
    pub patience: Duration,
}

impl ParentState {
    /// Down, or cut off itself: either way its children cannot be reached through it.
    fn is_down(&self) -> bool {
        matches!(self.status, Status::Down | Status::Unreachable)
    }

    /// Down at the moment `at` (a child's result), as far as is known.
    fn was_down_at(&self, at: SystemTime) -> bool {
        self.is_down() || self.problem_ended_at.is_some_and(|ended| ended > at)
    }

    /// When the parent's verdict on a child failing since `failing_since` can be expected, if
    /// it is still to come: its newest result failed without deciding it down yet, or it has
    /// not been checked since the child began failing.
    fn pending_until(&self, failing_since: SystemTime) -> Option<SystemTime> {
        if self.is_down() {
            return None;
        }
        match self.latest {
            Some((at, false)) => Some(crate::clock::system_after(at, self.patience)),
            Some((at, true)) if at >= failing_since => None,
            Some(_) | None => Some(crate::clock::system_after(failing_since, self.patience)),
        }
    }
}

/// What a failing child is, given its parents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Down on its own: no parent explains it.
    Reachable,
    /// Cut off: `parent` (a label, or the members of a redundancy group) is down.
    Unreachable { parent: Arc<str> },
    /// A parent's verdict for the same moment is not in yet: decide again when it is, or at
    /// `until` at the latest.
    Wait { until: SystemTime },
}

/// Judges a child whose failing streak began at `failing_since` and whose deciding result is
/// dated `at`, by its `depends_on` entries; `parent` finds what is known of a label (a label
/// no longer tracked counts as up: it cannot explain anything).
pub fn judge<'a>(
    depends_on: &[Dependency],
    parent: impl Fn(&str) -> Option<&'a ParentState>,
    failing_since: SystemTime,
    at: SystemTime,
) -> Verdict {
    let mut wait: Option<SystemTime> = None;
    for entry in depends_on {
        let members: Vec<&ParentState> = entry.labels().iter().filter_map(|l| parent(l)).collect();
        if members.is_empty() {
            continue;
        }
        let all_down =
            members.len() == entry.labels().len() && members.iter().all(|p| p.was_down_at(at));
        if all_down {
            return Verdict::Unreachable {
                parent: entry_name(entry),
            };
        }
        // A member known up at the child's failure: this entry cannot cut the child off.
        let pending: Vec<SystemTime> = members
            .iter()
            .filter(|p| !p.was_down_at(at))
            .map(|p| p.pending_until(failing_since))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        if let Some(latest) = pending.into_iter().max() {
            wait = Some(wait.map_or(latest, |w| w.max(latest)));
        }
    }
    match wait {
        Some(until) if until > at => Verdict::Wait { until },
        _ => Verdict::Reachable,
    }
}

/// How an entry is named in reasons: `router`, or `isp-a and isp-b` for a redundancy group.
fn entry_name(entry: &Dependency) -> Arc<str> {
    match entry {
        Dependency::Host(label) => label.clone(),
        Dependency::AnyOf(labels) => {
            let names: Vec<&str> = labels.iter().map(|l| &**l).collect();
            Arc::from(names.join(" and "))
        }
    }
}

/// Why a host is unreachable, in words for people.
pub fn unreachable_reason(parent: &str, detail: &str) -> String {
    format!("parent {parent} is down ({detail})")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn parent(label: &str, status: Status, latest: Option<(u64, bool)>) -> ParentState {
        ParentState {
            label: Arc::from(label),
            status,
            latest: latest.map(|(s, ok)| (at(s), ok)),
            problem_ended_at: None,
            patience: Duration::from_secs(5),
        }
    }

    fn judge_with(
        depends_on: &[Dependency],
        parents: &[ParentState],
        failing_since: u64,
        now: u64,
    ) -> Verdict {
        let known: HashMap<&str, &ParentState> = parents.iter().map(|p| (&*p.label, p)).collect();
        judge(
            depends_on,
            |label| known.get(label).copied(),
            at(failing_since),
            at(now),
        )
    }

    fn host(label: &str) -> Dependency {
        Dependency::Host(Arc::from(label))
    }

    fn any(labels: &[&str]) -> Dependency {
        Dependency::AnyOf(labels.iter().map(|l| Arc::from(*l)).collect())
    }

    #[test]
    fn a_parent_that_is_down_makes_the_child_unreachable_naming_it() {
        let verdict = judge_with(
            &[host("router")],
            &[parent("router", Status::Down, Some((9, false)))],
            8,
            10,
        );
        assert_eq!(
            verdict,
            Verdict::Unreachable {
                parent: Arc::from("router")
            }
        );
    }

    #[test]
    fn an_unreachable_parent_cuts_the_child_off_too() {
        let verdict = judge_with(
            &[host("switch")],
            &[parent("switch", Status::Unreachable, Some((9, false)))],
            8,
            10,
        );
        assert!(matches!(verdict, Verdict::Unreachable { .. }));
    }

    #[test]
    fn a_parent_checked_up_since_the_child_began_failing_leaves_the_child_down_on_its_own() {
        let verdict = judge_with(
            &[host("router")],
            &[parent("router", Status::Up, Some((9, true)))],
            8,
            10,
        );
        assert_eq!(verdict, Verdict::Reachable);
    }

    #[test]
    fn a_parent_not_checked_since_the_child_began_failing_is_waited_for() {
        let verdict = judge_with(
            &[host("router")],
            &[parent("router", Status::Up, Some((7, true)))],
            8,
            10,
        );
        assert_eq!(verdict, Verdict::Wait { until: at(13) });
    }

    #[test]
    fn a_parent_failing_but_not_yet_down_is_waited_for_from_its_newest_result() {
        let verdict = judge_with(
            &[host("router")],
            &[parent("router", Status::Up, Some((9, false)))],
            8,
            10,
        );
        assert_eq!(verdict, Verdict::Wait { until: at(14) });
    }

    #[test]
    fn the_wait_ends_at_its_deadline_and_the_child_is_down() {
        let verdict = judge_with(
            &[host("router")],
            &[parent("router", Status::Up, Some((7, true)))],
            8,
            13,
        );
        assert_eq!(verdict, Verdict::Reachable);
    }

    #[test]
    fn a_result_from_before_the_parent_recovered_keeps_the_child_unreachable() {
        let mut router = parent("router", Status::Up, Some((12, true)));
        router.problem_ended_at = Some(at(12));
        let verdict = judge_with(&[host("router")], &[router.clone()], 1, 11);
        assert!(matches!(verdict, Verdict::Unreachable { .. }));
        let verdict = judge_with(&[host("router")], &[router], 1, 13);
        assert_eq!(verdict, Verdict::Reachable, "a result after the recovery");
    }

    #[test]
    fn a_redundancy_group_cuts_the_child_off_only_when_every_member_is_down() {
        let group = [any(&["isp-a", "isp-b"])];
        let one_down = [
            parent("isp-a", Status::Down, Some((9, false))),
            parent("isp-b", Status::Up, Some((9, true))),
        ];
        assert_eq!(judge_with(&group, &one_down, 8, 10), Verdict::Reachable);
        let both_down = [
            parent("isp-a", Status::Down, Some((9, false))),
            parent("isp-b", Status::Down, Some((9, false))),
        ];
        assert_eq!(
            judge_with(&group, &both_down, 8, 10),
            Verdict::Unreachable {
                parent: Arc::from("isp-a and isp-b")
            }
        );
    }

    #[test]
    fn a_redundancy_group_with_one_member_down_and_one_undecided_waits() {
        let group = [any(&["isp-a", "isp-b"])];
        let parents = [
            parent("isp-a", Status::Down, Some((9, false))),
            parent("isp-b", Status::Up, Some((9, false))),
        ];
        assert_eq!(
            judge_with(&group, &parents, 8, 10),
            Verdict::Wait { until: at(14) }
        );
    }

    #[test]
    fn any_parent_down_among_several_entries_cuts_the_child_off() {
        let verdict = judge_with(
            &[host("router"), host("dns")],
            &[
                parent("router", Status::Up, Some((9, true))),
                parent("dns", Status::Down, Some((9, false))),
            ],
            8,
            10,
        );
        assert_eq!(
            verdict,
            Verdict::Unreachable {
                parent: Arc::from("dns")
            }
        );
    }

    #[test]
    fn a_parent_no_longer_tracked_explains_nothing() {
        assert_eq!(judge_with(&[host("gone")], &[], 8, 10), Verdict::Reachable);
    }
}
