//! One host at run time: its configuration and the state machine that turns check results
//! into a status.
//!
//! Pure: no actors, no I/O and no clock. Every time it needs comes in as an argument (a
//! result's `at`, or the `now` of whoever calls), so each transition is unit-tested here with
//! exact times. The StateRegistry keeps one [`Host`] per label and drives it; stored rows
//! ([`crate::store::StoredHost`]) and API views ([`crate::api::types`]) derive from it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use flowstate_config::HostConfiguration;
use serde::{Deserialize, Serialize};

use super::flapping::{FlapChange, FlapRecord, FlapThresholds};
use super::reachability::{self, Verdict};
use super::{CheckResult, Status};

/// A tracked host: what the user configured, and what happened to it.
#[derive(Debug, Clone)]
pub struct Host {
    /// The configuration tracked now: the host's label and check type. A reload replaces it
    /// and keeps the state.
    config: Arc<HostConfiguration>,
    /// The configuration the newest result of this run was checked with: whom a removal
    /// while down is announced to. `None` until a result arrives in this run (then the
    /// configuration tracked now says whom).
    last_checked_with: Option<Arc<HostConfiguration>>,
    state: HostState,
    /// What `depends_on` needs to know of this run, kept apart from the saved state.
    dependency: DependencyState,
}

/// A host's standing as a parent and as a child, this run only: after a restart every host is
/// judged afresh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DependencyState {
    /// When the current failing streak began (the first failed result of it).
    pub failing_since: Option<SystemTime>,
    /// When the host last left `down` or `unreachable`: results of its children made before
    /// then were made while it was down.
    pub problem_ended_at: Option<SystemTime>,
    /// A failing host waits for a parent's verdict until then, instead of going down.
    pub waiting_until: Option<SystemTime>,
    /// The parent (or redundancy group) that is down, while the host is unreachable.
    pub unreachable_via: Option<Arc<str>>,
}

/// Everything that happened to one host: the facts the store saves and the API shows.
///
/// Only [`Host`] changes it; outside the model it is read, or built from a stored row.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    pub status: Status,
    /// When the host entered its current status (start of tracking for `unknown`).
    pub since: SystemTime,
    pub counters: HostCounters,
    /// The newest results, oldest first, at most `state.history`.
    pub history: VecDeque<CheckResult>,
}

/// A host's counters: streaks and totals.
///
/// The one place a per-host count is declared: the store saves the struct whole (one JSON
/// column) and the API flattens it into the host's view, so a new counter is a field here and
/// nothing else. `#[serde(default)]` lets a row saved before a counter existed load as zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostCounters {
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// Consecutive passes slower than `max_response_time` (or impaired), and not: degraded is
    /// decided with the same thresholds as down, so one slow answer is no alert either.
    pub consecutive_slow: u32,
    pub consecutive_fast: u32,
    pub checks: u64,
    pub failures: u64,
    pub transitions: u64,
    /// HostActor restarts after crashes.
    pub restarts: u64,
    /// The recent pass/fail pattern flapping is judged by, and whether the host flaps. Left
    /// out of the JSON while empty (flapping not configured).
    #[serde(skip_serializing_if = "FlapRecord::is_empty")]
    pub flap: FlapRecord,
}

impl HostCounters {
    /// Counts one result: `ok` passed, `slow` passed but degraded.
    fn count(&mut self, ok: bool, slow: bool) {
        self.checks += 1;
        if ok {
            self.consecutive_failures = 0;
            self.consecutive_successes += 1;
            if slow {
                self.consecutive_slow += 1;
                self.consecutive_fast = 0;
            } else {
                self.consecutive_fast += 1;
                self.consecutive_slow = 0;
            }
        } else {
            self.failures += 1;
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
            self.consecutive_slow = 0;
            self.consecutive_fast = 0;
        }
    }
}

/// A change of a host's status, as the model decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub previous: Status,
    pub status: Status,
    /// When it was decided: the deciding result's verdict (see [`CheckResult::at`]), or when
    /// the host was removed.
    pub at: SystemTime,
    /// Why, in words for people: what alerts and the log say.
    pub reason: String,
}

/// What recording one result changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    pub transition: Option<Transition>,
    /// Flapping began or ended with this result.
    pub flapping: Option<FlapChange>,
}

/// What a host removed from the configuration while down is announced with.
const REMOVED_REASON: &str = "removed from the configuration";

impl HostState {
    /// The newest result's detail (`status 503, expected 200`); empty before the first.
    pub fn latest_detail(&self) -> String {
        self.history
            .back()
            .map(|r| r.detail.clone())
            .unwrap_or_default()
    }

    /// A host seen for the first time at `now`: unknown until enough results decide.
    pub fn new(now: SystemTime) -> Self {
        HostState {
            status: Status::Unknown,
            since: now,
            counters: HostCounters::default(),
            history: VecDeque::new(),
        }
    }
}

impl Host {
    /// A host tracked for the first time at `now`, with nothing known about it.
    pub fn new(config: Arc<HostConfiguration>, now: SystemTime) -> Self {
        Host::restore(config, HostState::new(now))
    }

    /// A host whose state was saved by an earlier run: status, counters and history carry on.
    pub fn restore(config: Arc<HostConfiguration>, state: HostState) -> Self {
        Host {
            config,
            last_checked_with: None,
            state,
            dependency: DependencyState::default(),
        }
    }

    pub fn label(&self) -> &Arc<str> {
        &self.config.label
    }

    /// The check type, as the configuration says now (a reload may change it); a plugin's
    /// type is its name.
    pub fn kind(&self) -> &str {
        self.config.check.type_name()
    }

    pub fn config(&self) -> &Arc<HostConfiguration> {
        &self.config
    }

    pub fn state(&self) -> &HostState {
        &self.state
    }

    /// The configuration changed (a reload): the state stays, and later results are judged by
    /// the thresholds they come with.
    pub fn reconfigure(&mut self, config: Arc<HostConfiguration>) {
        self.config = config;
    }

    /// Records one result and returns the transition it caused, if any, for a host whose
    /// parents (if any) are all up. See [`Host::record_judged`].
    pub fn record(
        &mut self,
        result: &CheckResult,
        checked_with: &Arc<HostConfiguration>,
        history_limit: usize,
    ) -> Option<Transition> {
        self.record_judged(result, checked_with, history_limit, |_, _| {
            Verdict::Reachable
        })
        .transition
    }

    /// Records one result and returns what it changed. The result is judged by
    /// `checked_with`, the configuration its check ran with: a result of the previous
    /// configuration that arrives just after a reload keeps the thresholds it was made for.
    /// A transition dates from the result's `at`: when that check's verdict was in.
    ///
    /// When the thresholds call for `down`, `parents` says whether a parent explains it
    /// (given when the failing streak began and the result's time): `unreachable` then, or
    /// no decision yet while a parent's verdict is awaited ([`Host::rejudge`] decides later).
    pub fn record_judged(
        &mut self,
        result: &CheckResult,
        checked_with: &Arc<HostConfiguration>,
        history_limit: usize,
        parents: impl FnOnce(SystemTime, SystemTime) -> Verdict,
    ) -> Recorded {
        self.last_checked_with = Some(checked_with.clone());
        let state = &mut self.state;
        let slow = result.ok && result.status_for(checked_with) == Status::Degraded;
        state.counters.count(result.ok, slow);
        while state.history.len() >= history_limit.max(1) {
            state.history.pop_front();
        }
        // Performance data and phases are kept for the latest result only: a host's memory
        // does not grow with its history's length times its plugin's values.
        if let Some(previous) = state.history.back_mut() {
            if !previous.perfdata.is_empty() {
                previous.perfdata = Vec::new();
            }
            if !previous.phases.is_empty() {
                previous.phases = Vec::new();
            }
        }
        state.history.push_back(result.clone());
        let flapping = state
            .counters
            .flap
            .record(!result.ok, thresholds(checked_with));
        if result.ok {
            self.dependency.failing_since = None;
        } else if self.dependency.failing_since.is_none() {
            self.dependency.failing_since = Some(result.at);
        }

        let wanted = self.state.decide(result, checked_with);
        let next = if wanted == Status::Down {
            self.with_parents(parents(self.failing_since(result.at), result.at), result.at)
        } else {
            self.dependency.waiting_until = None;
            Some(wanted)
        };
        let transition = next
            .and_then(|next| self.enter(next, result.at, || reason(next, result, checked_with)));
        Recorded {
            transition,
            flapping,
        }
    }

    /// Decides again a host that waits for a parent's verdict (`waiting_until` is set), at
    /// `now`, with what `parents` says now: the parent's result came in, or the wait is over.
    pub fn rejudge(
        &mut self,
        now: SystemTime,
        parents: impl FnOnce(SystemTime, SystemTime) -> Verdict,
    ) -> Option<Transition> {
        let until = self.dependency.waiting_until?;
        let latest = self.state.history.back()?.clone();
        let verdict = match parents(self.failing_since(latest.at), latest.at) {
            Verdict::Wait { .. } if now >= until => Verdict::Reachable,
            verdict => verdict,
        };
        let next = self.with_parents(verdict, now)?;
        let checked_with = self
            .last_checked_with
            .clone()
            .unwrap_or(self.config.clone());
        let at = now.max(latest.at);
        self.enter(next, at, || reason(next, &latest, &checked_with))
    }

    /// What a host the thresholds call `down` is, by its parents' `verdict`; `None` to wait.
    fn with_parents(&mut self, verdict: Verdict, at: SystemTime) -> Option<Status> {
        let dependency = &mut self.dependency;
        match verdict {
            Verdict::Reachable => {
                dependency.waiting_until = None;
                dependency.unreachable_via = None;
                Some(Status::Down)
            }
            Verdict::Unreachable { parent } => {
                dependency.waiting_until = None;
                dependency.unreachable_via = Some(parent);
                Some(Status::Unreachable)
            }
            Verdict::Wait { until } => {
                dependency.waiting_until = Some(until.max(at));
                None
            }
        }
    }

    /// Enters `next` at `at` unless the host is already in it; `why` says why in words.
    fn enter(
        &mut self,
        next: Status,
        at: SystemTime,
        why: impl FnOnce() -> String,
    ) -> Option<Transition> {
        let state = &mut self.state;
        let previous = state.status;
        if next == previous {
            return None;
        }
        if matches!(previous, Status::Down | Status::Unreachable)
            && !matches!(next, Status::Down | Status::Unreachable)
        {
            self.dependency.problem_ended_at = Some(at);
        }
        if next != Status::Unreachable {
            self.dependency.unreachable_via = None;
        }
        state.status = next;
        state.since = at;
        state.counters.transitions += 1;
        let reason = match (&self.dependency.unreachable_via, next) {
            (Some(parent), Status::Unreachable) => reachability::unreachable_reason(parent, &why()),
            _ => why(),
        };
        Some(Transition {
            previous,
            status: next,
            at,
            reason,
        })
    }

    /// When the current failing streak began; `at` when it begins now.
    fn failing_since(&self, at: SystemTime) -> SystemTime {
        self.dependency.failing_since.unwrap_or(at)
    }

    /// This run's dependency standing: the API shows `unreachable_via`, the registry reads
    /// the rest when it judges this host's children.
    pub fn dependency(&self) -> &DependencyState {
        &self.dependency
    }

    /// Its HostActor crashed and was started again.
    pub fn record_restart(&mut self) {
        self.state.counters.restarts += 1;
    }

    /// Drops the oldest results beyond `limit` (`state.history` was lowered by a reload).
    pub fn trim_history(&mut self, limit: usize) {
        while self.state.history.len() > limit {
            self.state.history.pop_front();
        }
    }

    /// Each kept result with its check number: the newest is check number `checks`, older
    /// ones count down. The store keys history rows by it.
    pub fn numbered_history(&self) -> impl Iterator<Item = (u64, &CheckResult)> {
        let newest = self.state.history.len() as u64;
        self.state
            .history
            .iter()
            .enumerate()
            .map(move |(index, result)| {
                let older_by = newest - 1 - index as u64;
                (self.state.counters.checks.saturating_sub(older_by), result)
            })
    }

    /// The host left the configuration at `at`. One that was down gets a last transition,
    /// to `unknown`, so an incident tool can close what would otherwise stay open forever;
    /// with it comes the configuration that says whom to tell. That includes a host down as
    /// restored from the store and removed before its first check of this run: its receivers
    /// were told `down` by the earlier run (the router's restored tracks say who was). Others
    /// leave quietly.
    pub fn removal(&self, at: SystemTime) -> Option<(Arc<HostConfiguration>, Transition)> {
        let checked_with = self.last_checked_with.as_ref().unwrap_or(&self.config);
        (self.state.status.is_failing()).then(|| {
            let transition = Transition {
                previous: self.state.status,
                status: Status::Unknown,
                at,
                reason: REMOVED_REASON.to_string(),
            };
            (checked_with.clone(), transition)
        })
    }
}

impl HostState {
    /// The status the counters call for after `result`, with `host`'s thresholds.
    fn decide(&self, result: &CheckResult, host: &HostConfiguration) -> Status {
        let latest = result.status_for(host);
        let counters = &self.counters;
        match self.status {
            _ if !result.ok => {
                if counters.consecutive_failures >= host.failure_threshold {
                    Status::Down
                } else {
                    self.status
                }
            }
            Status::Unknown | Status::Down | Status::Unreachable => {
                if counters.consecutive_successes >= host.success_threshold {
                    latest
                } else {
                    self.status
                }
            }
            Status::Up if counters.consecutive_slow >= host.failure_threshold => Status::Degraded,
            Status::Degraded if counters.consecutive_fast >= host.success_threshold => Status::Up,
            current => current,
        }
    }
}

/// The flapping thresholds `host` is judged by, if flapping is configured for it.
fn thresholds(host: &HostConfiguration) -> Option<FlapThresholds> {
    host.flapping.map(|settings| FlapThresholds {
        window: settings.window,
        high: settings.high,
        low: settings.low,
    })
}

/// Why a host entered `status` with `result`: an impaired pass says what impaired it, a slow
/// one how slow it was against the limit; anything else is the result's own detail.
fn reason(status: Status, result: &CheckResult, host: &HostConfiguration) -> String {
    match status {
        Status::Degraded if result.degraded => result.detail.clone(),
        Status::Degraded => format!(
            "responded in {:.1} ms, slower than {}",
            result.latency_ms(),
            host.max_response_time
                .map(|d| humantime::format_duration(d).to_string())
                .unwrap_or_default()
        ),
        _ => result.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// A fixed start: every time in these tests is this plus a number of seconds.
    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn config(extra: &str) -> Arc<HostConfiguration> {
        let yaml = format!("hosts:\n  - {{ label: api, url: 'http://127.0.0.1:1/', {extra} }}\n");
        let config = flowstate_config::load_str("t.yaml", &yaml, &|_| None)
            .expect("the test configuration is valid");
        config.hosts()[0].clone()
    }

    /// One result: `ok`, answering in `latency_ms`, with its verdict in at `at(second)`.
    fn result(second: u64, ok: bool, latency_ms: u64) -> CheckResult {
        CheckResult {
            at: at(second),
            ok,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_millis(latency_ms),
            detail: if ok {
                "status 200"
            } else {
                "status 503, expected 2xx"
            }
            .into(),
            perfdata: Vec::new(),
            phases: Vec::new(),
            trace: None,
            status_code: None,
        }
    }

    fn pass(second: u64) -> CheckResult {
        result(second, true, 5)
    }

    fn fail(second: u64) -> CheckResult {
        result(second, false, 5)
    }

    fn slow(second: u64) -> CheckResult {
        result(second, true, 500)
    }

    /// A pass the probe found impaired (a certificate near expiry, a script's WARNING).
    fn impaired(second: u64) -> CheckResult {
        CheckResult {
            degraded: true,
            detail: "certificate expires in 3 days".into(),
            ..pass(second)
        }
    }

    /// Records `results` with the host's own configuration and returns the statuses entered.
    fn feed(host: &mut Host, results: &[CheckResult]) -> Vec<Status> {
        let config = host.config().clone();
        results
            .iter()
            .filter_map(|r| host.record(r, &config, 100))
            .map(|t| t.status)
            .collect()
    }

    #[test]
    fn only_the_latest_result_keeps_its_performance_data() {
        let mut host = Host::new(config(""), at(0));
        let measured = |second: u64| CheckResult {
            perfdata: vec![super::super::PerfValue {
                label: "time".into(),
                value: 0.25,
                unit: super::super::PerfUnit::Seconds,
                warn: None,
                crit: None,
                min: None,
                max: None,
            }],
            phases: Vec::new(),
            trace: None,
            status_code: None,
            ..pass(second)
        };
        feed(&mut host, &[measured(1), measured(2)]);
        let history = &host.state().history;
        assert!(history[0].perfdata.is_empty());
        assert_eq!(history[1].perfdata.len(), 1);
    }

    #[test]
    fn a_new_host_is_unknown_since_it_was_tracked() {
        let host = Host::new(config(""), at(0));
        assert_eq!(host.state().status, Status::Unknown);
        assert_eq!(host.state().since, at(0));
        assert_eq!(host.label().as_ref(), "api");
        assert_eq!(host.kind(), "http");
    }

    #[test]
    fn unknown_to_up_after_success_threshold_passes_dated_from_the_deciding_result() {
        let mut host = Host::new(config("success_threshold: 2"), at(0));
        assert!(feed(&mut host, &[pass(1)]).is_empty());
        let config = host.config().clone();
        let transition = host.record(&pass(2), &config, 100);
        assert_eq!(
            transition,
            Some(Transition {
                previous: Status::Unknown,
                status: Status::Up,
                at: at(2),
                reason: "status 200".into(),
            })
        );
        assert_eq!(host.state().since, at(2));
        assert_eq!(host.state().counters.transitions, 1);
    }

    #[test]
    fn unknown_to_down_after_failure_threshold_failures() {
        let mut host = Host::new(config("failure_threshold: 2"), at(0));
        assert!(feed(&mut host, &[fail(1)]).is_empty());
        assert_eq!(host.state().status, Status::Unknown);
        assert_eq!(feed(&mut host, &[fail(2)]), [Status::Down]);
        assert_eq!(host.state().since, at(2));
    }

    #[test]
    fn up_to_down_after_exactly_failure_threshold_failures() {
        let mut host = Host::new(config("failure_threshold: 3"), at(0));
        assert_eq!(feed(&mut host, &[pass(1)]), [Status::Up]);
        assert!(feed(&mut host, &[fail(2), fail(3)]).is_empty());
        let config = host.config().clone();
        let down = host.record(&fail(4), &config, 100).expect("a transition");
        assert_eq!(
            (down.previous, down.status, down.at),
            (Status::Up, Status::Down, at(4))
        );
        assert_eq!(down.reason, "status 503, expected 2xx");
        assert!(
            feed(&mut host, &[fail(5), fail(6)]).is_empty(),
            "no repeats"
        );
        let state = host.state();
        assert_eq!(state.counters.consecutive_failures, 5);
        assert_eq!(
            (
                state.counters.checks,
                state.counters.failures,
                state.counters.transitions
            ),
            (6, 5, 2)
        );
        assert_eq!(state.since, at(4), "since stays at the transition");
    }

    #[test]
    fn down_to_up_after_success_threshold_passes() {
        let mut host = Host::new(config("failure_threshold: 1, success_threshold: 2"), at(0));
        assert_eq!(feed(&mut host, &[fail(1)]), [Status::Down]);
        assert!(feed(&mut host, &[pass(2)]).is_empty());
        assert_eq!(host.state().status, Status::Down);
        assert_eq!(feed(&mut host, &[pass(3)]), [Status::Up]);
        assert_eq!(host.state().since, at(3));
        assert_eq!(host.state().counters.consecutive_successes, 2);
    }

    #[test]
    fn a_blip_below_the_threshold_changes_nothing() {
        let mut host = Host::new(config("failure_threshold: 2"), at(0));
        let changes = feed(&mut host, &[pass(1), fail(2), pass(3), fail(4), pass(5)]);
        assert_eq!(changes, [Status::Up]);
        assert_eq!(host.state().counters.failures, 2);
        assert_eq!(host.state().counters.consecutive_failures, 0);
    }

    #[test]
    fn slow_passes_degrade_with_the_same_patience_as_failures() {
        let mut host = Host::new(
            config("failure_threshold: 2, max_response_time: 100ms"),
            at(0),
        );
        assert_eq!(feed(&mut host, &[pass(1)]), [Status::Up]);
        assert!(
            feed(&mut host, &[slow(2)]).is_empty(),
            "one slow answer is a blip"
        );
        let config = host.config().clone();
        let degraded = host.record(&slow(3), &config, 100).expect("a transition");
        assert_eq!(degraded.status, Status::Degraded);
        assert_eq!(degraded.reason, "responded in 500.0 ms, slower than 100ms");
    }

    #[test]
    fn impaired_passes_degrade_and_say_why() {
        let mut host = Host::new(config("failure_threshold: 2"), at(0));
        assert_eq!(feed(&mut host, &[pass(1), impaired(2)]), [Status::Up]);
        let config = host.config().clone();
        let degraded = host
            .record(&impaired(3), &config, 100)
            .expect("a transition");
        assert_eq!(degraded.status, Status::Degraded);
        assert_eq!(degraded.reason, "certificate expires in 3 days");
    }

    #[test]
    fn degraded_to_up_after_success_threshold_fast_passes() {
        let config = config("failure_threshold: 1, success_threshold: 2, max_response_time: 100ms");
        let mut host = Host::new(config, at(0));
        assert_eq!(
            feed(&mut host, &[pass(1), pass(2), slow(3)]),
            [Status::Up, Status::Degraded]
        );
        assert!(
            feed(&mut host, &[pass(4)]).is_empty(),
            "one fast answer is a blip"
        );
        assert_eq!(feed(&mut host, &[pass(5)]), [Status::Up]);
        assert_eq!(host.state().since, at(5));
    }

    #[test]
    fn a_degraded_host_that_fails_goes_down() {
        let config = config("failure_threshold: 1, max_response_time: 100ms");
        let mut host = Host::new(config, at(0));
        assert_eq!(
            feed(&mut host, &[slow(1), fail(2)]),
            [Status::Degraded, Status::Down]
        );
    }

    #[test]
    fn a_slow_first_decision_is_degraded() {
        let mut host = Host::new(config("max_response_time: 100ms"), at(0));
        assert_eq!(feed(&mut host, &[slow(1)]), [Status::Degraded]);
    }

    #[test]
    fn a_restored_host_carries_on_from_its_saved_state() {
        let saved = HostState {
            status: Status::Down,
            since: at(0),
            counters: HostCounters {
                consecutive_failures: 4,
                checks: 10,
                failures: 6,
                transitions: 3,
                restarts: 1,
                ..HostCounters::default()
            },
            history: VecDeque::from([fail(0)]),
        };
        let mut host = Host::restore(config("success_threshold: 2"), saved.clone());
        assert_eq!(host.state(), &saved, "restored as saved");
        assert!(
            feed(&mut host, &[fail(5)]).is_empty(),
            "still down: no repeat"
        );
        assert_eq!(host.state().counters.consecutive_failures, 5);
        assert_eq!(host.state().since, at(0), "down since the saved time");
        assert!(feed(&mut host, &[pass(6)]).is_empty());
        assert_eq!(feed(&mut host, &[pass(7)]), [Status::Up]);
        let state = host.state();
        assert_eq!(
            (
                state.counters.checks,
                state.counters.failures,
                state.counters.transitions
            ),
            (13, 7, 4)
        );
        assert_eq!(state.counters.restarts, 1);
        assert_eq!(state.history.len(), 4);
    }

    #[test]
    fn history_is_bounded_and_newest_last() {
        let mut host = Host::new(config(""), at(0));
        let config = host.config().clone();
        for i in 0..10 {
            host.record(&result(i, true, i), &config, 4);
        }
        let latencies: Vec<u128> = host
            .state()
            .history
            .iter()
            .map(|r| r.latency.as_millis())
            .collect();
        assert_eq!(latencies, [6, 7, 8, 9]);
        assert_eq!(host.state().counters.checks, 10);
        host.trim_history(2);
        let kept: Vec<u64> = host.numbered_history().map(|(seq, _)| seq).collect();
        assert_eq!(kept, [9, 10], "numbered by check, the newest is `checks`");
    }

    #[test]
    fn a_config_change_of_thresholds_keeps_the_state() {
        let mut host = Host::new(config("failure_threshold: 3"), at(0));
        assert_eq!(feed(&mut host, &[pass(1), fail(2)]), [Status::Up]);
        host.reconfigure(config("failure_threshold: 2"));
        assert_eq!(
            host.state().counters.consecutive_failures,
            1,
            "the count carries on"
        );
        assert_eq!(host.state().since, at(1));
        assert_eq!(
            feed(&mut host, &[fail(3)]),
            [Status::Down],
            "the second failure reaches the new threshold"
        );
        assert_eq!(host.state().counters.checks, 3);
    }

    #[test]
    fn a_result_is_judged_by_the_configuration_it_was_checked_with() {
        let mut host = Host::new(config("failure_threshold: 1"), at(0));
        let patient = config("failure_threshold: 5");
        assert!(host.record(&fail(1), &patient, 100).is_none());
    }

    #[test]
    fn a_restart_is_counted_and_changes_no_status() {
        let mut host = Host::new(config(""), at(0));
        host.record_restart();
        assert_eq!(host.state().counters.restarts, 1);
        assert_eq!(host.state().status, Status::Unknown);
    }

    #[test]
    fn only_a_down_host_is_announced_when_removed() {
        let config = config("failure_threshold: 1");
        let mut up = Host::new(config.clone(), at(0));
        feed(&mut up, &[pass(1)]);
        assert!(up.removal(at(9)).is_none(), "an up host leaves quietly");

        let restored_down = Host::restore(
            config.clone(),
            HostState {
                status: Status::Down,
                ..HostState::new(at(0))
            },
        );
        let (told, removal) = restored_down
            .removal(at(9))
            .expect("down as restored: its receivers heard of it in the earlier run");
        assert_eq!(&*told.label, "api");
        assert_eq!(removal.previous, Status::Down);

        let mut down = Host::new(config, at(0));
        feed(&mut down, &[fail(1)]);
        let (told, removal) = down.removal(at(9)).expect("a down host is announced");
        assert_eq!(&*told.label, "api");
        assert_eq!(
            removal,
            Transition {
                previous: Status::Down,
                status: Status::Unknown,
                at: at(9),
                reason: "removed from the configuration".into(),
            }
        );
        assert_eq!(down.state().since, at(1), "since stays for the event");
    }

    /// A parent's verdict, as the registry would hand it in.
    fn parent_says(verdict: Verdict) -> impl FnOnce(SystemTime, SystemTime) -> Verdict {
        move |_, _| verdict
    }

    #[test]
    fn a_failing_host_behind_a_down_parent_is_unreachable_naming_it() {
        let config = config("failure_threshold: 2");
        let mut host = Host::new(config.clone(), at(0));
        assert_eq!(feed(&mut host, &[pass(1)]), [Status::Up]);
        host.record(&fail(2), &config, 100);
        let recorded = host.record_judged(
            &fail(3),
            &config,
            100,
            parent_says(Verdict::Unreachable {
                parent: Arc::from("router"),
            }),
        );
        let transition = recorded.transition.expect("a transition");
        assert_eq!(transition.status, Status::Unreachable);
        assert_eq!(
            transition.reason,
            "parent router is down (status 503, expected 2xx)"
        );
        assert_eq!(host.dependency().unreachable_via.as_deref(), Some("router"));
    }

    #[test]
    fn a_host_waiting_for_its_parent_keeps_its_status_until_rejudged() {
        let config = config("failure_threshold: 1");
        let mut host = Host::new(config.clone(), at(0));
        feed(&mut host, &[pass(1)]);
        let recorded = host.record_judged(
            &fail(2),
            &config,
            100,
            parent_says(Verdict::Wait { until: at(5) }),
        );
        assert_eq!(recorded.transition, None);
        assert_eq!(host.state().status, Status::Up);
        assert_eq!(host.dependency().waiting_until, Some(at(5)));
        // The parent's verdict is still out at 3; at the deadline the host is down on its own.
        assert_eq!(
            host.rejudge(at(3), parent_says(Verdict::Wait { until: at(5) })),
            None
        );
        let down = host
            .rejudge(at(5), parent_says(Verdict::Wait { until: at(5) }))
            .expect("down at the deadline");
        assert_eq!((down.status, down.at), (Status::Down, at(5)));
        assert_eq!(host.dependency().waiting_until, None);
    }

    #[test]
    fn a_parent_going_down_while_the_child_waits_makes_it_unreachable() {
        let config = config("failure_threshold: 1");
        let mut host = Host::new(config.clone(), at(0));
        feed(&mut host, &[pass(1)]);
        host.record_judged(
            &fail(2),
            &config,
            100,
            parent_says(Verdict::Wait { until: at(5) }),
        );
        let transition = host
            .rejudge(
                at(3),
                parent_says(Verdict::Unreachable {
                    parent: Arc::from("router"),
                }),
            )
            .expect("a transition");
        assert_eq!(transition.status, Status::Unreachable);
        // Passing again: up, and its problem ended then (for its own children's results).
        let config = host.config().clone();
        let up = host.record(&pass(4), &config, 100).expect("up");
        assert_eq!(up.previous, Status::Unreachable);
        assert_eq!(host.dependency().problem_ended_at, Some(at(4)));
        assert_eq!(host.dependency().unreachable_via, None);
    }
    #[test]
    fn flapping_starts_once_with_a_result_and_is_saved_with_the_counters() {
        let config = config("failure_threshold: 1, flapping: { window: 6 }");
        let mut host = Host::new(config.clone(), at(0));
        let mut started = 0;
        for second in 1..=12 {
            let result = if second % 2 == 0 {
                pass(second)
            } else {
                fail(second)
            };
            let recorded = host.record_judged(&result, &config, 100, |_, _| Verdict::Reachable);
            if matches!(recorded.flapping, Some(FlapChange::Started { .. })) {
                started += 1;
            }
        }
        assert_eq!(started, 1);
        assert!(host.state().counters.flap.flapping);
    }
}
