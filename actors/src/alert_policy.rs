//! Alert policy: which events a notifier hears, decided per notifier and host.
//!
//! A [`Track`] remembers what one notifier was last told about one host. From it follow the
//! rules of `cooldown`, `remind_every` and `send_resolved`:
//!
//! - `down`/`degraded`: at most one per cooldown. One that comes within the cooldown is
//!   *held*, not lost: if the host is still in that state when the cooldown ends it is sent
//!   then, so a receiver is never left believing a host is up while it is down.
//! - A problem the receiver already knows of (`down` again after a held `degraded`) is not
//!   repeated.
//! - `up`: sent at once, never held by a cooldown; not when `send_resolved` is false, and not
//!   when the receiver never heard of the problem (it was held and the host recovered first).
//! - `reminder`: every `remind_every` while the receiver knows the host is down.
//! - `up` after `unreachable`: only to a receiver that was told of a problem before the parent
//!   went down (a recovery is never suppressed, and never news to anyone else).
//!
//! Pure logic with explicit time: the router drives it and owns the timers.

use std::time::{Duration, SystemTime};

use flowstate_config::NotifierConfig;
use serde::{Deserialize, Serialize};

use crate::event::{AlertEvent, EventKind};
use crate::model::Status;

/// What one notifier was told about one host, and when. Persisted, so cooldowns and
/// reminders carry on across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// The status the receiver was last told (`up`, `down`, `degraded`); `None`: nothing yet.
    pub told: Option<Status>,
    /// When the last `down`/`degraded` went out: the cooldown counts from here.
    pub last_problem_at: Option<SystemTime>,
    /// When the last `down` or `reminder` went out: the next reminder counts from here.
    pub last_reminder_at: Option<SystemTime>,
    /// The last `down` sent: reminders repeat its reason and `since`.
    pub last_down: Option<AlertEvent>,
    /// A problem event held back by the cooldown, sent when it ends if still true.
    pub held: Option<AlertEvent>,
}

/// What to do with one event for one notifier.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Deliver it now.
    Send,
    /// Do not deliver it; the reason is logged (info) with the host and notifier.
    Suppress(&'static str),
    /// The cooldown holds it until then; [`release_held`] decides at that time.
    Hold { until: SystemTime },
}

/// Decides what `notifier` does with `event`, updating `track` as if the decision is carried
/// out.
pub fn decide(
    notifier: &NotifierConfig,
    track: &mut Track,
    event: &AlertEvent,
    now: SystemTime,
) -> Decision {
    match event.event {
        EventKind::Down | EventKind::Degraded => {
            // Back to what the receiver already believes (down -> held degraded -> down). Not
            // after an `up`: a receiver told of the recovery would have been told `up`, so a
            // record saying otherwise is stale (a write the store lost, state restored without
            // its record), and a real outage is worth a duplicate rather than silence.
            if track.told == Some(event.status) && event.previous != Status::Up {
                track.held = None;
                return Decision::Suppress("the notifier already knows this status");
            }
            if let (Some(cooldown), Some(last)) = (notifier.cooldown, track.last_problem_at) {
                let until = cooldown_end(last, cooldown);
                if now < until {
                    track.held = Some(event.clone());
                    return Decision::Hold { until };
                }
            }
            mark_problem_sent(track, event, now);
            Decision::Send
        }
        EventKind::Up | EventKind::Removed => {
            track.held = None;
            // A removed host has nothing left to remember; a recovered one is known as up.
            let told = if event.event == EventKind::Up {
                track.told.replace(Status::Up)
            } else {
                track.told.take()
            };
            if !notifier.send_resolved {
                return Decision::Suppress("send_resolved is false");
            }
            // An unreachable host's outage was never the receiver's news (its parent's was),
            // so only a receiver told of a problem before hears that it ended.
            let heard = match event.previous {
                Status::Unreachable => matches!(told, Some(Status::Down | Status::Degraded)),
                _ => told != Some(Status::Up),
            };
            if !heard {
                return Decision::Suppress("the notifier never heard of the problem");
            }
            Decision::Send
        }
        // The router holds these back before the policy sees them; were one to get here, the
        // parent's outage is still the one the receiver hears of.
        EventKind::Unreachable => Decision::Suppress("a parent is down"),
        // Said once when it starts; what the receiver believes of the status is unchanged.
        EventKind::Flapping => Decision::Send,
        EventKind::Reminder => {
            if track.told != Some(Status::Down) {
                return Decision::Suppress("the notifier does not know the host as down");
            }
            track.last_reminder_at = Some(now);
            Decision::Send
        }
    }
}

/// The cooldown that held an event ended: the event to send now, if the host is still in the
/// status it reports (`current`). Updates `track` as if it is sent.
pub fn release_held(track: &mut Track, current: Status, now: SystemTime) -> Option<AlertEvent> {
    let held = track.held.take()?;
    if held.status != current || track.told == Some(held.status) {
        return None;
    }
    mark_problem_sent(track, &held, now);
    Some(held)
}

/// When the next reminder is due, if one is: the receiver knows the host as down and
/// `remind_every` is set.
pub fn next_reminder(notifier: &NotifierConfig, track: &Track) -> Option<SystemTime> {
    let every = notifier.remind_every?;
    if track.told != Some(Status::Down) {
        return None;
    }
    Some(crate::clock::system_after(track.last_reminder_at?, every))
}

/// When a cooldown that began at `last` ends; one too long for the clock never does.
pub fn cooldown_end(last: SystemTime, cooldown: Duration) -> SystemTime {
    crate::clock::system_after(last, cooldown)
}

/// A reminder of `down`: the same host, reason and `since`, a new `id` and `at`.
pub fn reminder(down: &AlertEvent, now: SystemTime) -> AlertEvent {
    AlertEvent {
        id: ulid::Ulid::from_datetime(now).to_string(),
        event: EventKind::Reminder,
        previous: Status::Down,
        status: Status::Down,
        at: crate::model::rfc3339(now),
        ..down.clone()
    }
}

fn mark_problem_sent(track: &mut Track, event: &AlertEvent, now: SystemTime) {
    track.told = Some(event.status);
    track.last_problem_at = Some(now);
    track.held = None;
    if event.status == Status::Down {
        track.last_reminder_at = Some(now);
        track.last_down = Some(event.clone());
    }
}

/// How long until `at`, zero if it passed.
pub fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn notifier(extra: &str) -> Arc<NotifierConfig> {
        let yaml = format!("notifiers:\n  n: {{ type: stdout, {extra} }}\n");
        let config = flowstate_config::load_str("t.yaml", &yaml, &|_| None).unwrap();
        config.notifier("n").unwrap().clone()
    }

    fn event(kind: EventKind, status: Status, previous: Status) -> AlertEvent {
        AlertEvent {
            id: ulid::Ulid::new().to_string(),
            event: kind,
            host: "api".into(),
            group: None,
            status,
            previous,
            at: "2026-11-28T16:03:37.123Z".into(),
            since: "2026-11-28T16:03:37.123Z".into(),
            reason: "status 503, expected 200".into(),
            consecutive_failures: 3,
            latency_ms: 1.0,
            trace: None,
        }
    }

    fn down() -> AlertEvent {
        event(EventKind::Down, Status::Down, Status::Up)
    }
    fn up() -> AlertEvent {
        event(EventKind::Up, Status::Up, Status::Down)
    }
    fn degraded() -> AlertEvent {
        event(EventKind::Degraded, Status::Degraded, Status::Up)
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn without_cooldown_every_change_is_sent() {
        let n = notifier("");
        let mut track = Track::default();
        assert_eq!(decide(&n, &mut track, &down(), at(0)), Decision::Send);
        assert_eq!(decide(&n, &mut track, &up(), at(1)), Decision::Send);
        assert_eq!(decide(&n, &mut track, &down(), at(2)), Decision::Send);
    }

    #[test]
    fn cooldown_holds_a_second_down_and_never_holds_the_recovery() {
        let n = notifier("cooldown: 5m");
        let mut track = Track::default();
        assert_eq!(decide(&n, &mut track, &down(), at(0)), Decision::Send);
        assert_eq!(decide(&n, &mut track, &up(), at(10)), Decision::Send);
        assert_eq!(
            decide(&n, &mut track, &down(), at(20)),
            Decision::Hold { until: at(300) }
        );
        // Still down when the cooldown ends: the held event goes out then.
        let released = release_held(&mut track, Status::Down, at(300)).unwrap();
        assert_eq!(released.event, EventKind::Down);
        assert_eq!(track.told, Some(Status::Down));
        assert_eq!(decide(&n, &mut track, &up(), at(301)), Decision::Send);
    }

    #[test]
    fn a_held_down_that_recovered_is_forgotten_with_its_recovery() {
        let n = notifier("cooldown: 5m");
        let mut track = Track::default();
        decide(&n, &mut track, &down(), at(0));
        decide(&n, &mut track, &up(), at(10));
        assert!(matches!(
            decide(&n, &mut track, &down(), at(20)),
            Decision::Hold { .. }
        ));
        assert_eq!(
            decide(&n, &mut track, &up(), at(30)),
            Decision::Suppress("the notifier never heard of the problem")
        );
        assert_eq!(release_held(&mut track, Status::Up, at(300)), None);
    }

    #[test]
    fn the_cooldown_ends_after_its_duration() {
        let n = notifier("cooldown: 1m");
        let mut track = Track::default();
        decide(&n, &mut track, &down(), at(0));
        decide(&n, &mut track, &up(), at(10));
        assert_eq!(decide(&n, &mut track, &down(), at(60)), Decision::Send);
    }

    #[test]
    fn down_and_degraded_share_the_cooldown() {
        let n = notifier("cooldown: 5m");
        let mut track = Track::default();
        assert_eq!(decide(&n, &mut track, &degraded(), at(0)), Decision::Send);
        assert!(matches!(
            decide(
                &n,
                &mut track,
                &event(EventKind::Down, Status::Down, Status::Degraded),
                at(5)
            ),
            Decision::Hold { .. }
        ));
        // Back to degraded before the cooldown ends: the receiver already knows.
        assert_eq!(
            decide(
                &n,
                &mut track,
                &event(EventKind::Degraded, Status::Degraded, Status::Down),
                at(6)
            ),
            Decision::Suppress("the notifier already knows this status")
        );
        assert_eq!(track.held, None);
    }

    #[test]
    fn a_stale_record_of_a_down_never_silences_the_next_outage() {
        // What a restart found: told `down`, though the receiver heard the `up` (the store
        // failed to save it) or the host's recovery was never an event (restored as unknown).
        let n = notifier("");
        let mut track = Track {
            told: Some(Status::Down),
            ..Track::default()
        };
        assert_eq!(decide(&n, &mut track, &down(), at(0)), Decision::Send);
        assert_eq!(track.told, Some(Status::Down));
    }

    #[test]
    fn send_resolved_false_keeps_recoveries_but_the_next_down_is_sent() {
        let n = notifier("send_resolved: false");
        let mut track = Track::default();
        assert_eq!(decide(&n, &mut track, &down(), at(0)), Decision::Send);
        assert_eq!(
            decide(&n, &mut track, &up(), at(1)),
            Decision::Suppress("send_resolved is false")
        );
        assert_eq!(decide(&n, &mut track, &down(), at(2)), Decision::Send);
    }

    #[test]
    fn a_recovery_with_no_record_is_sent() {
        // After a restart without a track (no state store), tell rather than stay silent.
        let n = notifier("");
        assert_eq!(
            decide(&n, &mut Track::default(), &up(), at(0)),
            Decision::Send
        );
    }

    #[test]
    fn reminders_follow_the_last_down_or_reminder() {
        let n = notifier("remind_every: 1h");
        let mut track = Track::default();
        assert_eq!(next_reminder(&n, &track), None);
        decide(&n, &mut track, &down(), at(0));
        assert_eq!(next_reminder(&n, &track), Some(at(3600)));
        let reminder = reminder(track.last_down.as_ref().unwrap(), at(3600));
        assert_eq!(reminder.event, EventKind::Reminder);
        assert_eq!(reminder.reason, "status 503, expected 200");
        assert_eq!(decide(&n, &mut track, &reminder, at(3600)), Decision::Send);
        assert_eq!(next_reminder(&n, &track), Some(at(7200)));
        decide(&n, &mut track, &up(), at(4000));
        assert_eq!(next_reminder(&n, &track), None);
        assert_eq!(
            decide(&n, &mut track, &reminder, at(7200)),
            Decision::Suppress("the notifier does not know the host as down")
        );
    }

    #[test]
    fn no_reminders_for_degraded() {
        let n = notifier("remind_every: 1h");
        let mut track = Track::default();
        decide(&n, &mut track, &degraded(), at(0));
        assert_eq!(next_reminder(&n, &track), None);
    }

    #[test]
    fn durations_too_long_for_the_clock_mean_never_and_never_panic() {
        let mut n = (*notifier("")).clone();
        n.cooldown = Some(Duration::MAX);
        n.remind_every = Some(Duration::MAX);
        let mut track = Track::default();
        assert_eq!(decide(&n, &mut track, &down(), at(0)), Decision::Send);
        assert_eq!(next_reminder(&n, &track), Some(crate::clock::far_future()));
        assert_eq!(decide(&n, &mut track, &up(), at(1)), Decision::Send);
        assert_eq!(
            decide(&n, &mut track, &down(), at(2)),
            Decision::Hold {
                until: crate::clock::far_future()
            }
        );
    }

    #[test]
    fn the_track_survives_a_json_round_trip() {
        let n = notifier("cooldown: 5m");
        let mut track = Track::default();
        decide(&n, &mut track, &down(), at(0));
        let json = serde_json::to_string(&track).unwrap();
        let back: Track = serde_json::from_str(&json).unwrap();
        assert_eq!(back, track);
    }
}
