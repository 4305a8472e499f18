//! AlertRouter: turns status changes into events, decides who hears them and when, and sees
//! every event delivered or accounted for.
//!
//! Who hears about a host is its `alerts` list (the config crate already fell back to the
//! defaults'). [`crate::alert_policy`] applies `cooldown`, `remind_every` and `send_resolved`
//! per notifier and host; [`crate::outbox`] keeps what is not delivered yet and times its
//! retries; the state store (when `state.path` is set) mirrors both, so a crash or restart
//! loses no event and no cooldown. Every attempt is a future on this actor's arbiter, so a slow
//! receiver holds up nothing else.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use flowstate_config::notifier::GroupKey;
use flowstate_config::NotifierConfig;

use crate::alert_policy::{self, Decision, Track};
use crate::event::{AlertEvent, EventKind};
use crate::messages::{
    FlushNotifiers, GetAlertHolds, HostFlappingChanged, HostRestored, HostStatusChanged,
    UseMaintenance, UseNotifiers,
};
use crate::metrics::{AlertResult, Metrics};
use crate::model::Status;
use crate::notify::{self, DeliveryError, EventGroup, Notifier};
use crate::outbox::{AfterFailure, Attempt, DropReason, Outbox, Pending};
use crate::quiet_time::QuietTime;
use crate::status_stream::StatusStream;
use crate::store::{
    AlertLogEntry, AlertOutcome, AwaitStoreWrites, LogAlerts, Restored, SaveAlertState, Store,
    StoreRecreated, StoredDelivery, StoredTrack, SubscribeToStore,
};
use crate::suppression::{self, Hold, Suppressed};
use crate::unsaved::{self, Unsaved};

mod alert_log;
mod leading;
use alert_log::AlertLogQueue;
use leading::ClusterRole;

/// How long shutdown waits for attempts in flight before it stops the system.
const FLUSH_GRACE: Duration = Duration::from_secs(2);

/// How soon a batch for the state store that failed is tried again (the store itself opens a
/// broken file at most every 10 s).
const WRITE_RETRY: Duration = Duration::from_secs(2);

/// How long shutdown waits, after killing the programs still running (command notifiers,
/// script checks), for their runs to reap them. SIGKILL is not refused; this only bounds a
/// process stuck in the kernel.
const END_GRACE: Duration = Duration::from_secs(2);

pub struct AlertRouter {
    notifiers: HashMap<Arc<str>, Route>,
    /// What each notifier was told about each host: the memory of cooldowns and reminders.
    tracks: HashMap<(Arc<str>, String), Track>,
    /// Each host as the router last heard of it: whether a held event is still true, what its
    /// receivers are told when a hold ends, and its holds.
    hosts: HashMap<String, HostNow>,
    /// Hosts with a problem held back by maintenance, a silence or flapping: settled with
    /// their receivers once nothing holds them any more.
    unsettled: BTreeSet<String>,
    /// Each host's last event that was not sent, and why (`GET /api/v1/hosts/{label}`).
    last_suppressed: HashMap<String, Suppressed>,
    /// When each track wakes next (a held event's cooldown end or the next reminder), and the
    /// same ordered by time. One actix timer serves them all: actix polls every spawned
    /// future of an actor on each message, so a timer per track would cost O(tracks) per event.
    track_wakes: HashMap<TrackKey, SystemTime>,
    wake_order: BTreeSet<(SystemTime, TrackKey)>,
    /// The timer for the earliest track wake-up, and when it fires.
    wake_timer: Option<(SystemTime, SpawnHandle)>,
    outbox: Outbox,
    /// The wake-up for the earliest retry, and when it fires.
    retry_timer: Option<(Instant, SpawnHandle)>,
    /// Attempts running now; shared with the shutdown flush, which waits for them.
    in_flight: Rc<Cell<usize>>,
    /// Set by the shutdown flush once its grace is over: what fails now was cut short, not
    /// refused, and stays queued; no new attempt starts.
    ending: Rc<Cell<bool>>,
    store: Option<Addr<Store>>,
    /// Where the outbox and the tracks are kept: the state store, or in a cluster the
    /// cluster's database (written only while this agent leads).
    alert_state: Option<Recipient<SaveAlertState>>,
    /// In a cluster: whether this agent leads, and how it makes sure before each delivery.
    cluster: Option<ClusterRole>,
    /// Changed whenever the router starts or stops leading: answers to what was started
    /// under another leadership are ignored.
    generation: u64,
    /// What the store does not have yet (see [`crate::unsaved`]), the one batch of it being
    /// written, and the timer that tries a failed batch again.
    unsaved: Unsaved,
    writing: bool,
    write_retry: Option<SpawnHandle>,
    /// Alert log lines for the store, sent one batch at a time (see [`alert_log`]).
    alert_log: AlertLogQueue,
    metrics: Arc<Metrics>,
    /// `/api/v1/stream`'s feed: every transition, published with the id notifiers see.
    stream: Option<StatusStream>,
    /// Maintenance windows (a reload replaces them) and silences (the API's): shared with
    /// the store's readers, which leave this time out of availability.
    quiet: Arc<QuietTime>,
}

/// One host as the router last heard of it.
#[derive(Default)]
struct HostNow {
    status: Status,
    /// Its newest change this run: its configuration (whom to tell), reason and `since`.
    /// `None` for a host as restored from the store until its first change.
    change: Option<HostStatusChanged>,
    flapping: bool,
    /// Known from the store only (no change this run): a receiver with no record of it is
    /// left alone when it is settled, as before the restart.
    restored: bool,
    /// In a cluster: failing in fewer locations than the quorum (`status` is `up` then).
    partial: bool,
}

/// The group of a host with no `group`, for a notifier that groups by it.
const NO_GROUP: &str = "(no group)";

/// How often hosts whose alerts were held are looked at for a hold that ended (a maintenance
/// window closing, a silence expiring or deleted).
const SETTLE_TICK: Duration = Duration::from_secs(1);

struct Route {
    config: Arc<NotifierConfig>,
    notifier: Box<dyn Notifier>,
}

type TrackKey = unsaved::TrackKey;

/// A notifier, a host and an event id: where an event waits in the outbox.
type QueuedEvent = (Arc<str>, String, String);

impl AlertRouter {
    /// A router for `configs`; `store` mirrors the outbox and tracks when `state.path` is set,
    /// and `restored` is what it held at start.
    pub fn new(
        configs: &[Arc<NotifierConfig>],
        metrics: Arc<Metrics>,
        store: Option<Addr<Store>>,
        restored: Option<&Restored>,
    ) -> Self {
        let mut router = AlertRouter {
            notifiers: HashMap::new(),
            tracks: HashMap::new(),
            hosts: HashMap::new(),
            unsettled: BTreeSet::new(),
            last_suppressed: HashMap::new(),
            track_wakes: HashMap::new(),
            wake_order: BTreeSet::new(),
            wake_timer: None,
            outbox: Outbox::default(),
            retry_timer: None,
            in_flight: Rc::new(Cell::new(0)),
            ending: Rc::new(Cell::new(false)),
            alert_state: store.clone().map(Addr::recipient),
            store,
            cluster: None,
            generation: 0,
            unsaved: Unsaved::default(),
            writing: false,
            write_retry: None,
            alert_log: AlertLogQueue::default(),
            metrics,
            stream: None,
            quiet: Arc::default(),
        };
        router.use_notifiers(configs);
        if let Some(restored) = restored {
            router.restore(restored);
        }
        router
    }

    /// Publishes every transition to `stream` (what `/api/v1/stream` serves).
    pub fn with_stream(mut self, stream: StatusStream) -> Self {
        self.stream = Some(stream);
        self
    }

    /// Holds problems of the hosts a maintenance window or a silence of `quiet` covers.
    pub fn with_quiet_time(mut self, quiet: Arc<QuietTime>) -> Self {
        self.quiet = quiet;
        self
    }

    /// Takes back the outbox, the tracks and the hosts' statuses from the state store.
    fn restore(&mut self, restored: &Restored) {
        for host in &restored.hosts {
            self.hosts.insert(
                host.label.to_string(),
                HostNow {
                    status: host.status,
                    // A host flapping when flowstate stopped still is: its down/up stay held.
                    flapping: host.counters.flap.flapping,
                    ..HostNow::default()
                },
            );
        }
        for (notifier, host, json) in &restored.tracks {
            if !self.notifiers.contains_key(notifier) {
                continue;
            }
            match serde_json::from_str::<Track>(json) {
                Ok(track) => {
                    self.tracks.insert((notifier.clone(), host.clone()), track);
                }
                Err(e) => {
                    log::warn!(notifier = &**notifier, host = host.as_str(), error = e.to_string().as_str(); "a stored alert track cannot be read; starting it afresh")
                }
            }
        }
        let mut resumed = 0;
        for delivery in &restored.outbox {
            if !self.notifiers.contains_key(&delivery.notifier) {
                log::warn!(notifier = &*delivery.notifier, id = delivery.event.id.as_str(), host = delivery.event.host.as_str(); "an undelivered event is for a notifier no longer configured; dropping it");
                self.forget_stored(&delivery.notifier, &delivery.event.id);
                continue;
            }
            let max_age = self
                .notifiers
                .get(&delivery.notifier)
                .map(|r| r.config.retry.max_age);
            let age = SystemTime::now()
                .duration_since(delivery.created)
                .unwrap_or_default();
            if max_age.is_some_and(|max_age| age >= max_age) {
                self.metrics
                    .record_alert_dropped(&delivery.notifier, DropReason::Expired);
                log::error!(notifier = &*delivery.notifier, id = delivery.event.id.as_str(), host = delivery.event.host.as_str(), reason = DropReason::Expired.as_str(); "alert delivery given up: it grew older than max_age while flowstate was stopped");
                self.forget_stored(&delivery.notifier, &delivery.event.id);
                continue;
            }
            // Restored events of a grouped notifier go out together at once: they waited.
            let pending = Pending::new(delivery.event.clone(), delivery.created, true);
            let pending = self.grouped(&delivery.notifier, pending, None);
            self.queue(&delivery.notifier.clone(), pending);
            resumed += 1;
        }
        if resumed > 0 {
            log::info!(events = resumed; "resuming delivery of events left undelivered before the restart");
        }
    }

    /// Hands each of `names` the last `down` it was told of for every host it has not been
    /// told the end of ([`notify::Notifier::resume`]): after a restart, or when a reload
    /// rebuilt it.
    fn resume_notifiers(&mut self, names: &[Arc<str>]) {
        for ((name, _), track) in &self.tracks {
            if !names.contains(name) || track.told != Some(Status::Down) {
                continue;
            }
            if let (Some(last), Some(route)) = (&track.last_down, self.notifiers.get_mut(name)) {
                route.notifier.resume(last);
            }
        }
    }

    /// Keeps notifiers whose settings did not change (and their open files), replaces the rest;
    /// waiting events of a changed notifier go to its new settings.
    fn use_notifiers(&mut self, configs: &[Arc<NotifierConfig>]) {
        let mut next = HashMap::with_capacity(configs.len());
        let mut rebuilt = Vec::new();
        for config in configs {
            self.metrics
                .add_notifier(&config.name, config.tenant.as_deref());
            let route = match self.notifiers.remove(&config.name) {
                Some(route) if route.config.settings() == config.settings() => route,
                _ => {
                    rebuilt.push(config.name.clone());
                    Route {
                        config: config.clone(),
                        notifier: notify::build(config),
                    }
                }
            };
            next.insert(config.name.clone(), route);
        }
        let removed: Vec<(Arc<str>, Route)> = self.notifiers.drain().collect();
        for (name, mut old) in removed {
            self.metrics.remove_notifier(&name);
            if let Err(e) = old.notifier.flush() {
                log::error!(notifier = &*name, error = e.as_str(); "flushing a removed notifier failed");
            }
            let dropped = self.outbox.remove_notifier(&name);
            if !dropped.is_empty() {
                log::warn!(notifier = &*name, events = dropped.len(); "the notifier was removed from the configuration; its undelivered events are dropped");
            }
            for pending in dropped {
                self.forget_stored(&name, &pending.event.id);
            }
        }
        self.notifiers = next;
        let notifiers = &self.notifiers;
        self.tracks.retain(|(n, _), _| notifiers.contains_key(n));
        self.track_wakes
            .retain(|(n, _), _| notifiers.contains_key(n));
        self.wake_order
            .retain(|(_, (n, _))| notifiers.contains_key(n));
        // Empty when called from `new` (no tracks yet: restored ones are taken up in
        // `started`, on the arbiter); on a reload, a rebuilt notifier takes up its hosts.
        self.resume_notifiers(&rebuilt);
    }

    /// One event for one notifier, through the policy.
    fn route(&mut self, name: &Arc<str>, event: &AlertEvent, ctx: &mut Context<Self>) {
        let Some(route) = self.notifiers.get(name) else {
            log::error!(notifier = &**name, host = event.host.as_str(); "host alerts a notifier that does not exist");
            return;
        };
        let config = route.config.clone();
        let key = (name.clone(), event.host.clone());
        let track = self.tracks.entry(key.clone()).or_default();
        let before = track.clone();
        let decision = alert_policy::decide(&config, track, event, SystemTime::now());
        let changed = *track != before;
        match decision {
            Decision::Send => self.dispatch(name, event.clone(), ctx),
            Decision::Suppress(why) => {
                // Counted and said, at the level transitions are logged: a receiver that hears
                // nothing of a real change must be explainable from the log alone.
                self.note_suppressed(event, Some(name), why.to_string(), None);
                self.metrics.record_alert(name, AlertResult::Suppressed);
                self.log_alert(name, event, AlertOutcome::Suppressed, why);
                log::info!(notifier = &**name, host = event.host.as_str(), event = event.event.as_str(), id = event.id.as_str(), reason = why; "alert suppressed");
            }
            Decision::Hold { until } => {
                self.note_suppressed(
                    event,
                    Some(name),
                    format!(
                        "held by the cooldown until {}",
                        crate::model::rfc3339(until)
                    ),
                    None,
                );
                self.metrics.record_alert(name, AlertResult::Suppressed);
                self.log_alert(
                    name,
                    event,
                    AlertOutcome::Suppressed,
                    "held by the cooldown",
                );
                log::info!(notifier = &**name, host = event.host.as_str(), event = event.event.as_str(), until = crate::model::rfc3339(until).as_str(); "alert held by the cooldown; sent when it ends if the host is still in this state");
            }
        }
        if changed {
            self.save_track(&key);
        }
        self.schedule_track(key, &config, ctx);
    }

    /// Adds what happened to `event` for notifier `name` to the stored alert log (what
    /// `/api/v1/events` lists), when there is a store. Best effort: the log is for people.
    /// The line goes with the next batch [`AlertRouter::write_store`] sends.
    fn log_alert(
        &mut self,
        name: &Arc<str>,
        event: &AlertEvent,
        outcome: AlertOutcome,
        detail: &str,
    ) {
        if self.store.is_some() {
            self.alert_log.push(AlertLogEntry {
                at: SystemTime::now(),
                host: event.host.clone(),
                notifier: name.clone(),
                event: event.event,
                event_id: event.id.clone(),
                outcome,
                detail: detail.to_string(),
            });
        }
    }

    /// Sends the alert log's next batch, unless one is with the store: its answer sends the
    /// rest. One message at a time, so another tenant's writes never queue behind thousands.
    fn send_alert_log(&mut self, ctx: &mut Context<Self>) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let Some(batch) = self.alert_log.take_batch() else {
            return;
        };
        ctx.spawn(
            store
                .send(LogAlerts(batch))
                .into_actor(self)
                .map(|answer, router, ctx| {
                    if let Err(e) = answer {
                        log::error!(error = e.to_string().as_str(); "could not reach the state store with alert log lines");
                    }
                    router.alert_log.answered();
                    router.send_alert_log(ctx);
                }),
        );
    }

    /// Sets the track's next wake-up: the end of a held event's cooldown or the next reminder.
    fn schedule_track(&mut self, key: TrackKey, config: &NotifierConfig, ctx: &mut Context<Self>) {
        self.unschedule_track(&key);
        let Some(track) = self.tracks.get(&key) else {
            return;
        };
        let held_until = match (&track.held, config.cooldown, track.last_problem_at) {
            (Some(_), Some(cooldown), Some(last)) => {
                Some(alert_policy::cooldown_end(last, cooldown))
            }
            (Some(_), _, _) => Some(SystemTime::now()),
            _ => None,
        };
        let wake = [held_until, alert_policy::next_reminder(config, track)]
            .into_iter()
            .flatten()
            .min();
        if let Some(wake) = wake {
            self.track_wakes.insert(key.clone(), wake);
            self.wake_order.insert((wake, key));
        }
        self.arm_wake_timer(ctx);
    }

    fn unschedule_track(&mut self, key: &TrackKey) {
        if let Some(wake) = self.track_wakes.remove(key) {
            self.wake_order.remove(&(wake, key.clone()));
        }
    }

    /// Keeps the one timer set for the earliest track wake-up.
    fn arm_wake_timer(&mut self, ctx: &mut Context<Self>) {
        let Some((earliest, _)) = self.wake_order.first() else {
            return;
        };
        let earliest = *earliest;
        if let Some((at, handle)) = self.wake_timer {
            if at <= earliest {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = alert_policy::until(earliest, SystemTime::now());
        let handle = ctx.run_later(delay, |router, ctx| {
            router.wake_timer = None;
            router.wake_due_tracks(ctx);
        });
        self.wake_timer = Some((earliest, handle));
    }

    /// Wakes every track whose time has come, then re-arms the timer.
    fn wake_due_tracks(&mut self, ctx: &mut Context<Self>) {
        let now = SystemTime::now();
        while let Some((at, key)) = self.wake_order.first().cloned() {
            if at > now {
                break;
            }
            self.unschedule_track(&key);
            self.wake_track(key, ctx);
        }
        self.arm_wake_timer(ctx);
    }

    /// A track's timer fired: release a held event that is still true, or send a reminder.
    fn wake_track(&mut self, key: TrackKey, ctx: &mut Context<Self>) {
        let Some(config) = self.notifiers.get(&key.0).map(|r| r.config.clone()) else {
            return;
        };
        let current = self.hosts.get(&key.1).map(|h| h.status).unwrap_or_default();
        let now = SystemTime::now();
        let holds = self.holds_for(&key.1, now);
        let Some(track) = self.tracks.get_mut(&key) else {
            return;
        };
        let cooldown_over = match (config.cooldown, track.last_problem_at) {
            (Some(cooldown), Some(last)) => alert_policy::cooldown_end(last, cooldown) <= now,
            _ => true,
        };
        let mut send = Vec::new();
        let mut held_back = Vec::new();
        if track.held.is_some() && cooldown_over {
            match track
                .held
                .as_ref()
                .map(|e| suppression::screen(e.event, &holds))
            {
                Some(Some(hold)) => {
                    // The cooldown ended inside a hold: the hold's end settles it instead.
                    if let Some(event) = track.held.take() {
                        held_back.push((event, hold.clone()));
                    }
                }
                _ => {
                    if let Some(event) = alert_policy::release_held(track, current, now) {
                        send.push(event);
                    }
                }
            }
        }
        if let (Some(due), Some(down)) = (
            alert_policy::next_reminder(&config, track),
            track.last_down.clone(),
        ) {
            if due <= now && current == Status::Down {
                let reminder = alert_policy::reminder(&down, now);
                if let Some(hold) = suppression::screen(EventKind::Reminder, &holds) {
                    // Counted from now, so the timer does not wake again at once.
                    track.last_reminder_at = Some(now);
                    held_back.push((reminder, hold.clone()));
                } else if alert_policy::decide(&config, track, &reminder, now) == Decision::Send {
                    send.push(reminder);
                }
            }
        }
        for (event, hold) in held_back {
            self.hold_back(std::slice::from_ref(&key.0), &event, &hold);
        }
        for event in send {
            self.dispatch(&key.0, event, ctx);
        }
        self.save_track(&key);
        self.schedule_track(key, &config, ctx);
        self.write_store(ctx);
    }

    /// Queues an event for delivery: stored first (when there is a store), then attempted.
    /// The caller sends the store's batch once it has also marked what the notifier was told,
    /// so both are on disk before the first attempt (a SIGKILL right after it then leaves a
    /// record that keeps the next start from alerting again).
    fn dispatch(&mut self, name: &Arc<str>, event: AlertEvent, ctx: &mut Context<Self>) {
        let created = SystemTime::now();
        let wait = self
            .notifiers
            .get(name)
            .filter(|r| r.config.is_grouped())
            .map(|r| r.config.group_wait);
        let pending = |stored: bool| {
            let pending = Pending::new(event.clone(), created, stored);
            match wait {
                Some(wait) => self.grouped(
                    name,
                    pending,
                    Some(crate::clock::instant_after(Instant::now(), wait)),
                ),
                None => pending,
            }
        };
        if self.alert_state.is_none() {
            let pending = pending(true);
            self.queue(name, pending);
            self.pump(ctx);
            return;
        }
        // While the store is failing, waiting for it would only delay the alert: it is
        // attempted at once and stored by a later batch.
        let failing = self.unsaved.failing();
        let pending = pending(failing);
        self.unsaved.delivery((name.clone(), event.id.clone()));
        self.queue(name, pending);
        if failing {
            self.pump(ctx);
        }
    }

    /// `pending` as its notifier `name` groups it (`group_by`), gathering others until
    /// `gather_until`; unchanged for a notifier that does not group.
    fn grouped(&self, name: &Arc<str>, pending: Pending, gather_until: Option<Instant>) -> Pending {
        let Some(config) = self.notifiers.get(name).map(|r| &r.config) else {
            return pending;
        };
        if !config.is_grouped() {
            return pending;
        }
        let key: Vec<String> = config
            .group_by
            .iter()
            .map(|key| match key {
                GroupKey::Group => pending
                    .event
                    .group
                    .clone()
                    .unwrap_or_else(|| NO_GROUP.to_string()),
                GroupKey::Host => pending.event.host.clone(),
            })
            .collect();
        pending.grouped(key.join("/"), gather_until)
    }

    /// Puts one event in the outbox; a full queue drops its oldest, loudly.
    fn queue(&mut self, name: &Arc<str>, pending: Pending) {
        if let Some(dropped) = self.outbox.push(name, pending) {
            self.metrics
                .record_alert_dropped(name, DropReason::Overflow);
            log::error!(notifier = &**name, id = dropped.event.id.as_str(), host = dropped.event.host.as_str(), event = dropped.event.event.as_str(); "the notifier's queue is full; dropping its oldest undelivered event");
            self.forget_stored(name, &dropped.event.id);
        }
        self.metrics
            .set_outbox_pending(name, self.outbox.pending(name));
    }

    /// Starts every attempt that may start now, and arms the timer for the next retry.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.ending.get() || self.is_follower() {
            return;
        }
        let ready = self.outbox.take_ready(Instant::now());
        if ready.is_empty() {
            self.arm_retry_timer(ctx);
            return;
        }
        match self.cluster.as_ref().map(|role| role.leading) {
            Some(Some(token)) => self.attempt_if_still_leading(token, ready, ctx),
            _ => self.start_attempts(ready, ctx),
        }
    }

    /// Starts `attempts`, taken from the outbox, and arms the timer for the next retry.
    fn start_attempts(&mut self, attempts: Vec<Attempt>, ctx: &mut Context<Self>) {
        let generation = self.generation;
        for Attempt {
            notifier: name,
            group,
            events,
        } in attempts
        {
            let Some(route) = self.notifiers.get_mut(&name) else {
                continue;
            };
            let attempt = match (group, events.as_slice()) {
                (None, [event]) => route.notifier.deliver(event),
                (group, _) => route.notifier.deliver_group(&EventGroup {
                    group: group.unwrap_or_default(),
                    events: events.clone(),
                }),
            };
            self.in_flight.set(self.in_flight.get() + 1);
            let started = SystemTime::now();
            let notifier_type = route.config.kind.kind();
            ctx.spawn(actix::fut::wrap_future::<_, Self>(attempt).map(
                move |result, router, ctx| {
                    router
                        .in_flight
                        .set(router.in_flight.get().saturating_sub(1));
                    if let Some(tracing) = crate::telemetry::current() {
                        tracing.delivery(&crate::telemetry::DeliveryAttempt {
                            notifier: &name,
                            notifier_type,
                            events: &events,
                            started,
                            outcome: result.as_ref().map(|_| ()).map_err(|e| e.message()),
                        });
                    }
                    if router.generation != generation {
                        // Started as a leader that has stepped down: the outbox it belonged
                        // to is the new leader's now.
                        return;
                    }
                    // A group succeeds or fails as one: each of its events with it.
                    for event in &events {
                        router.attempted(&name, event, result.clone(), ctx);
                    }
                },
            ));
        }
        self.arm_retry_timer(ctx);
    }

    fn arm_retry_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(due) = self.outbox.next_due() else {
            return;
        };
        if let Some((at, handle)) = self.retry_timer {
            if at <= due {
                return;
            }
            ctx.cancel_future(handle);
        }
        let handle = ctx.run_later(
            due.saturating_duration_since(Instant::now()),
            |router, ctx| {
                router.retry_timer = None;
                router.pump(ctx);
            },
        );
        self.retry_timer = Some((due, handle));
    }

    /// One attempt ended: done, retried later, or given up.
    fn attempted(
        &mut self,
        name: &Arc<str>,
        event: &AlertEvent,
        result: Result<(), DeliveryError>,
        ctx: &mut Context<Self>,
    ) {
        let host = event.host.as_str();
        if !self.notifiers.contains_key(name) {
            // Removed by a reload while this attempt ran: its queue and series are gone, and
            // nothing about it may come back.
            log::debug!(notifier = &**name, host, id = event.id.as_str(); "an attempt of a removed notifier ended");
            return;
        }
        if let (Err(error), true) = (&result, self.ending.get()) {
            // Ended by the shutdown (a command notifier's program killed with its group): not
            // the receiver's doing, so neither a failure nor a retry; the event stays queued,
            // and with a state store it is attempted again at the next start.
            self.outbox.release(name, host, &event.id);
            log::info!(notifier = &**name, host, event = event.event.as_str(), id = event.id.as_str(), error = error.message(); "alert attempt cut short by the shutdown; the event stays queued");
            return;
        }
        match result {
            Ok(()) => {
                let attempts = self
                    .outbox
                    .succeeded(name, host, &event.id)
                    .map_or(0, |p| p.attempts);
                self.metrics.record_alert(name, AlertResult::Sent);
                self.log_alert(name, event, AlertOutcome::Sent, "");
                log::debug!(notifier = &**name, host, event = event.event.as_str(), id = event.id.as_str(), retries = attempts; "alert delivered");
                if attempts > 0 {
                    log::info!(notifier = &**name, host, event = event.event.as_str(), id = event.id.as_str(), retries = attempts; "alert delivered after retries");
                }
                self.forget_stored(name, &event.id);
            }
            Err(error) => {
                self.metrics.record_alert(name, AlertResult::Failed);
                self.log_alert(name, event, AlertOutcome::Failed, error.message());
                let policy = match self.notifiers.get(name) {
                    Some(route) => route.config.retry,
                    None => return,
                };
                let now = (Instant::now(), SystemTime::now());
                match self.outbox.failed(name, event, &error, &policy, now) {
                    Some(AfterFailure::RetryAt(at)) => {
                        log::warn!(
                            notifier = &**name,
                            host,
                            event = event.event.as_str(),
                            id = event.id.as_str(),
                            error = error.message(),
                            retry_in_ms = at.saturating_duration_since(now.0).as_millis() as u64;
                            "alert delivery failed; retrying"
                        );
                    }
                    Some(AfterFailure::GaveUp(reason, pending)) => {
                        self.metrics.record_alert_dropped(name, reason);
                        self.log_alert(name, event, AlertOutcome::GivenUp, reason.as_str());
                        let why = match reason {
                            DropReason::Rejected => "the receiver rejected it",
                            // A failed attempt never overflows a queue; only its age is left.
                            DropReason::Expired | DropReason::Overflow => {
                                "it is older than max_age"
                            }
                        };
                        log::error!(
                            notifier = &**name,
                            host,
                            event = event.event.as_str(),
                            id = event.id.as_str(),
                            attempts = pending.attempts,
                            error = error.message(),
                            reason = reason.as_str();
                            "alert delivery given up: {why}"
                        );
                        self.forget_stored(name, &event.id);
                    }
                    None => {}
                }
            }
        }
        self.metrics
            .set_outbox_pending(name, self.outbox.pending(name));
        self.write_store(ctx);
        self.pump(ctx);
    }

    /// The event is done with: it leaves the store with the next batch.
    fn forget_stored(&mut self, name: &Arc<str>, id: &str) {
        if self.alert_state.is_some() {
            self.unsaved.forget((name.clone(), id.to_string()));
        }
    }

    /// What the notifier was told about the host changed: saved with the next batch.
    fn save_track(&mut self, key: &TrackKey) {
        if self.alert_state.is_some() {
            self.unsaved.track(key.clone());
        }
    }

    /// Sends what the store does not have yet, as one batch, unless one is being written
    /// (its answer sends the rest). A failed batch stays unsaved and is tried again after
    /// [`WRITE_RETRY`], so nothing a full disk refused is lost once it has room again.
    ///
    /// Every change ends here, so the alert log's lines go from here too.
    fn write_store(&mut self, ctx: &mut Context<Self>) {
        self.send_alert_log(ctx);
        let Some(store) = self.alert_state.clone() else {
            return;
        };
        if self.writing || self.unsaved.is_empty() || self.is_follower() {
            return;
        }
        // One tenant's keys at a time, taking turns: another tenant's event is not written
        // behind the thousands of a tenant whose hosts all went down at once.
        let batch = self.unsaved.fair_batch();
        let (batch, message, deliveries) = self.make_batch(batch);
        self.writing = true;
        let write = store.send(message);
        let generation = self.generation;
        ctx.spawn(write.into_actor(self).map(move |answer, router, ctx| {
            router.writing = false;
            if router.generation != generation {
                // Written (or refused) for a leadership that is over.
                router.write_store(ctx);
                return;
            }
            let saved = match answer {
                Ok(Ok(())) => true,
                // The store logged and counted its failure.
                Ok(Err(_)) => false,
                Err(e) => {
                    log::error!(error = e.to_string().as_str(); "could not reach the state store");
                    false
                }
            };
            // Stored or not, an event is attempted: a broken store must not stop alerts. One
            // that failed to store stays unsaved and is stored by a later batch.
            for (name, host, id) in deliveries {
                router.outbox.mark_stored(&name, &host, &id);
            }
            match router.unsaved.written(&batch, saved) {
                unsaved::Outcome::Recovered { failed_batches } => {
                    log::info!(failed_batches; "the state store takes writes again: what failed to save (events, what notifiers were told) is saved now");
                }
                unsaved::Outcome::Failed => router.arm_write_retry(ctx),
                unsaved::Outcome::Saved => {}
            }
            if saved {
                // What changed while this batch was out.
                router.write_store(ctx);
            }
            router.pump(ctx);
        }));
    }

    fn arm_write_retry(&mut self, ctx: &mut Context<Self>) {
        if self.write_retry.is_some() {
            return;
        }
        let handle = ctx.run_later(WRITE_RETRY, |router, ctx| {
            router.write_retry = None;
            router.write_store(ctx);
        });
        self.write_retry = Some(handle);
    }

    /// `batch` (of what is unsaved) as the store's message from memory, with the events in
    /// it (to be released for their first attempt once the store answered).
    fn make_batch(
        &self,
        batch: unsaved::Batch,
    ) -> (unsaved::Batch, SaveAlertState, Vec<QueuedEvent>) {
        let mut message = SaveAlertState::default();
        let mut deliveries = Vec::new();
        for ((name, id), _) in &batch.deliveries {
            // Not queued any more: it was forgotten too, which this batch writes.
            if let Some(pending) = self.outbox.find(name, id) {
                message.deliveries.push(StoredDelivery {
                    notifier: name.clone(),
                    event: pending.event.clone(),
                    created: pending.created,
                });
                deliveries.push((name.clone(), pending.event.host.clone(), id.clone()));
            }
        }
        message.forgotten = batch.forgotten.iter().map(|(key, _)| key.clone()).collect();
        message.tracks = batch
            .tracks
            .iter()
            .map(|((notifier, host), _)| StoredTrack {
                notifier: notifier.clone(),
                host: host.clone(),
                track: self
                    .tracks
                    .get(&(notifier.clone(), host.clone()))
                    .filter(|t| **t != Track::default())
                    .and_then(|t| serde_json::to_string(t).ok()),
            })
            .collect();
        (batch, message, deliveries)
    }
}

impl Actor for AlertRouter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(store) = &self.store {
            store.do_send(SubscribeToStore(ctx.address().recipient()));
        }
        // Events dropped while restoring leave the store now.
        self.write_store(ctx);
        ctx.run_interval(SETTLE_TICK, |router, ctx| router.settle_released(ctx));
        // Notifiers that repeat what is still active take up what they were told before the
        // restart (on this arbiter: they may start timers).
        let names: Vec<Arc<str>> = self.notifiers.keys().cloned().collect();
        self.resume_notifiers(&names);
        // Restored tracks may owe a reminder or a held event; restored events are due now.
        let keys: Vec<TrackKey> = self.tracks.keys().cloned().collect();
        for key in keys {
            if let Some(config) = self.notifiers.get(&key.0).map(|r| r.config.clone()) {
                self.schedule_track(key, &config, ctx);
            }
        }
        self.pump(ctx);
    }
}

impl Handler<HostStatusChanged> for AlertRouter {
    type Result = ();

    fn handle(&mut self, change: HostStatusChanged, ctx: &mut Context<Self>) {
        if self.cluster.is_some() {
            // This location's verdict: shown on the stream, alerted only by quorum.
            self.publish(&change, AlertEvent::from_change(&change).as_ref());
            return;
        }
        self.changed(change, ctx);
    }
}

impl AlertRouter {
    /// Shows `change` on the stream: every transition, alerting or not, under the id
    /// notifiers get (`alert`, the event it is worth, if any).
    fn publish(&self, change: &HostStatusChanged, alert: Option<&AlertEvent>) {
        if let Some(stream) = &self.stream {
            match alert {
                Some(event) => stream.publish(event),
                None => stream.publish(&crate::status_stream::silent_event(change)),
            }
        }
    }

    /// A host's status changed: every receiver hears of it through its policy, unless held.
    fn changed(&mut self, change: HostStatusChanged, ctx: &mut Context<Self>) {
        let label = change.host.label.to_string();
        if change.removed {
            self.hosts.remove(&label);
            self.unsettled.remove(&label);
        } else {
            let host = self.hosts.entry(label.clone()).or_default();
            host.status = change.status;
            host.change = Some(change.clone());
            host.restored = false;
        }
        let alert = AlertEvent::from_change(&change);
        self.publish(&change, alert.as_ref());
        let Some(event) = alert else {
            return;
        };
        self.route_unless_held(&change.host.alerts, &event, ctx);
        if event.event == EventKind::Removed {
            // The host is gone: nothing about it is worth remembering.
            self.last_suppressed.remove(&label);
            let keys: Vec<TrackKey> = self
                .tracks
                .keys()
                .filter(|(_, host)| *host == label)
                .cloned()
                .collect();
            for key in keys {
                self.tracks.remove(&key);
                self.unschedule_track(&key);
                self.save_track(&key);
            }
        }
        self.write_store(ctx);
    }
}

impl Handler<HostFlappingChanged> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: HostFlappingChanged, ctx: &mut Context<Self>) {
        if self.cluster.is_some() {
            // One location's flapping: the quorum's status is what is alerted.
            return;
        }
        let label = msg.host.label.to_string();
        let host = self.hosts.entry(label.clone()).or_default();
        host.flapping = msg.flapping;
        if !msg.flapping {
            // Receivers told otherwise hear the status it settled in. The registry sends this
            // after the change the same result made (held, as the host was still flapping),
            // so what the router knows of the host is already that status.
            self.unsettled.insert(label);
            self.settle_released(ctx);
            return;
        }
        let change = HostStatusChanged {
            host: msg.host.clone(),
            previous: msg.status,
            status: msg.status,
            at: msg.at,
            since: msg.since,
            reason: format!(
                "{:.0}% of its recent results changed; now {}: {}",
                msg.percent, msg.status, msg.reason
            ),
            consecutive_failures: msg.consecutive_failures,
            latency: Duration::ZERO,
            removed: false,
            unreachable_via: None,
            trace: None,
        };
        let event = AlertEvent::of_kind(&change, EventKind::Flapping);
        if let Some(stream) = &self.stream {
            stream.publish(&event);
        }
        // Down/up alerts from here on wait for it to settle.
        self.unsettled.insert(label.clone());
        self.route_unless_held(&msg.host.alerts, &event, ctx);
        self.write_store(ctx);
    }
}

impl Handler<HostRestored> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: HostRestored, ctx: &mut Context<Self>) {
        if self.cluster.is_some() {
            // In a cluster the leader takes the statuses over from the database instead.
            return;
        }
        let label = msg.host.label.to_string();
        let host = self.hosts.entry(label.clone()).or_default();
        host.status = msg.status;
        host.restored = true;
        host.change = Some(HostStatusChanged {
            host: msg.host,
            previous: msg.status,
            status: msg.status,
            at: msg.since,
            since: msg.since,
            reason: msg.reason,
            consecutive_failures: msg.consecutive_failures,
            latency: Duration::ZERO,
            removed: false,
            unreachable_via: None,
            trace: None,
        });
        self.unsettled.insert(label);
        self.settle_released(ctx);
    }
}

impl Handler<GetAlertHolds> for AlertRouter {
    type Result = MessageResult<GetAlertHolds>;

    fn handle(&mut self, msg: GetAlertHolds, _: &mut Context<Self>) -> Self::Result {
        let now = SystemTime::now();
        let labels: Vec<String> = match msg.label {
            Some(label) => vec![label],
            None => self.hosts.keys().cloned().collect(),
        };
        MessageResult(
            labels
                .into_iter()
                .map(|label| {
                    let holds = self.holds_for(&label, now);
                    let last_suppressed = self.last_suppressed.get(&label).cloned();
                    (
                        label,
                        crate::messages::AlertHolds {
                            holds,
                            last_suppressed,
                        },
                    )
                })
                .filter(|(_, h)| !h.holds.is_empty() || h.last_suppressed.is_some())
                .collect(),
        )
    }
}

impl AlertRouter {
    /// What keeps alerts about `label` back at `now`.
    fn holds_for(&self, label: &str, now: SystemTime) -> Vec<Hold> {
        let mut holds = Vec::new();
        if let Some((window, end)) = self.quiet.maintenance_at(label, now) {
            holds.push(Hold::maintenance(&window.name, end));
        }
        if let Some(silence) = self.quiet.silences().active_for(label, now) {
            holds.push(Hold::silence(&silence.id, silence.until));
        }
        let Some(host) = self.hosts.get(label) else {
            return holds;
        };
        if host.status == Status::Unreachable {
            let parent = host
                .change
                .as_ref()
                .and_then(|c| c.unreachable_via.as_deref())
                .unwrap_or("a parent");
            holds.push(Hold::Parent {
                parent: parent.to_string(),
            });
        }
        if host.flapping {
            holds.push(Hold::Flapping);
        }
        holds
    }

    /// `event` to each of `notifiers` through its policy, or to none of them while a hold of
    /// its host keeps events of its kind back.
    fn route_unless_held(
        &mut self,
        notifiers: &[Arc<str>],
        event: &AlertEvent,
        ctx: &mut Context<Self>,
    ) {
        let holds = self.holds_for(&event.host, SystemTime::now());
        match suppression::screen(event.event, &holds) {
            Some(hold) => {
                let hold = hold.clone();
                self.hold_back(notifiers, event, &hold);
            }
            None => {
                for name in notifiers {
                    self.route(name, event, ctx);
                }
            }
        }
    }

    /// `event` is kept from every one of `notifiers` by `hold`: counted, logged, explained.
    fn hold_back(&mut self, notifiers: &[Arc<str>], event: &AlertEvent, hold: &Hold) {
        let why = hold.describe();
        for name in notifiers {
            self.metrics.record_alert(name, AlertResult::Suppressed);
            self.log_alert(name, event, AlertOutcome::Suppressed, &why);
            // A receiver that heard nothing of the host still takes it for up: the recovery
            // of this problem, should it come inside the hold, is no news to it.
            let key = (name.clone(), event.host.clone());
            let told = self.tracks.get(&key).and_then(|t| t.told);
            if let Some(believed) = suppression::believed_when_held(told, event) {
                self.tracks.entry(key.clone()).or_default().told = Some(believed);
                self.save_track(&key);
            }
        }
        log::info!(host = event.host.as_str(), event = event.event.as_str(), id = event.id.as_str(), reason = why.as_str(); "alert held back");
        if hold.settles_when_over() {
            self.unsettled.insert(event.host.clone());
        }
        self.note_suppressed(event, None, why, Some(hold.clone()));
    }

    /// Remembers the host's last event that was not sent, for the API.
    fn note_suppressed(
        &mut self,
        event: &AlertEvent,
        notifier: Option<&Arc<str>>,
        reason: String,
        hold: Option<Hold>,
    ) {
        self.last_suppressed.insert(
            event.host.clone(),
            Suppressed {
                event: event.event,
                id: event.id.clone(),
                at: event.at.clone(),
                notifier: notifier.map(|n| n.to_string()),
                reason,
                hold,
            },
        );
    }

    /// Settles every unsettled host that nothing holds any more.
    fn settle_released(&mut self, ctx: &mut Context<Self>) {
        if self.unsettled.is_empty() {
            return;
        }
        let now = SystemTime::now();
        let released: Vec<String> = self
            .unsettled
            .iter()
            .filter(|label| {
                !self
                    .holds_for(label, now)
                    .iter()
                    .any(Hold::settles_when_over)
            })
            .cloned()
            .collect();
        for label in released {
            self.unsettled.remove(&label);
            self.settle(&label, now, ctx);
        }
        self.write_store(ctx);
    }

    /// Tells each receiver of `label` its status now, if it differs from what the receiver
    /// last heard: a host still down after a hold is alerted once, one that recovered while
    /// its receivers knew it down is told `up`.
    fn settle(&mut self, label: &str, now: SystemTime, ctx: &mut Context<Self>) {
        let Some(host) = self.hosts.get(label) else {
            return;
        };
        let Some(change) = host.change.clone() else {
            return;
        };
        let (base, partial, restored) = (host.status, host.partial, host.restored);
        for name in &change.host.alerts {
            let status = self.status_for(name, base, partial);
            let told = self
                .tracks
                .get(&(name.clone(), label.to_string()))
                .and_then(|t| t.told);
            if restored && told.is_none() {
                continue;
            }
            let kind = match status {
                Status::Down if told != Some(Status::Down) => EventKind::Down,
                Status::Degraded if told != Some(Status::Degraded) => EventKind::Degraded,
                Status::Up if matches!(told, Some(Status::Down | Status::Degraded)) => {
                    EventKind::Up
                }
                _ => continue,
            };
            let mut event = AlertEvent::of_kind(&change, kind);
            event.id = ulid::Ulid::from_datetime(now).to_string();
            event.at = crate::model::rfc3339(now);
            event.previous = told.unwrap_or(change.previous);
            event.status = status;
            self.route(name, &event, ctx);
        }
    }
}

impl Handler<StoreRecreated> for AlertRouter {
    type Result = ();

    /// The store's file was lost and a new one opened: every track and every queued event go
    /// into it, not just what changed.
    fn handle(&mut self, _: StoreRecreated, ctx: &mut Context<Self>) {
        let tracks: Vec<TrackKey> = self.tracks.keys().cloned().collect();
        let deliveries: Vec<unsaved::DeliveryKey> = self
            .outbox
            .all()
            .map(|(name, pending)| (name.clone(), pending.event.id.clone()))
            .collect();
        log::info!(tracks = tracks.len(), events = deliveries.len(); "writing every alert track and undelivered event into the new state store file");
        self.unsaved.everything(tracks, deliveries);
        self.write_store(ctx);
    }
}

impl Handler<UseMaintenance> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: UseMaintenance, ctx: &mut Context<Self>) {
        self.quiet.set_maintenance(msg.0);
        // A window removed by the reload ends now for the hosts it held.
        self.settle_released(ctx);
    }
}

impl Handler<UseNotifiers> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: UseNotifiers, ctx: &mut Context<Self>) {
        self.use_notifiers(&msg.0);
        // A changed cooldown or reminder interval applies to the timers already armed.
        let keys: Vec<TrackKey> = self.tracks.keys().cloned().collect();
        for key in keys {
            if let Some(config) = self.notifiers.get(&key.0).map(|r| r.config.clone()) {
                self.schedule_track(key, &config, ctx);
            }
        }
        self.pump(ctx);
    }
}

/// Kills every program still running and waits (up to [`END_GRACE`]) until each run has reaped
/// its own.
async fn end_programs() {
    let plugins = crate::plugin::end_all();
    if plugins > 0 {
        log::info!(plugins = plugins; "stopping: ended the plugins' processes with their process groups");
    }
    let ended = crate::process::end_all();
    if ended == 0 {
        return;
    }
    log::info!(programs = ended; "stopping: ending programs still running (command notifiers, script checks) with their process groups");
    let deadline = Instant::now() + END_GRACE;
    while crate::process::unfinished() > 0 && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let left = crate::process::unfinished();
    if left > 0 {
        log::warn!(programs = left; "programs killed at shutdown were not reaped in time; they end with the process");
    }
}

impl Handler<FlushNotifiers> for AlertRouter {
    type Result = ResponseActFuture<Self, ()>;

    /// Lets attempts in flight finish (up to [`FLUSH_GRACE`]), then syncs files. What is still
    /// waiting stays in the store for the next start; without a store it is logged as lost.
    fn handle(&mut self, _: FlushNotifiers, _: &mut Context<Self>) -> Self::Result {
        let in_flight = self.in_flight.clone();
        let ending = self.ending.clone();
        let grace = async move {
            let deadline = Instant::now() + FLUSH_GRACE;
            while in_flight.get() > 0 && Instant::now() < deadline {
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
            // Nothing flowstate started may outlive it: programs still running (command
            // notifiers here, script checks on the hosts' threads, which the Supervisor stopped
            // waiting for) are killed with their process groups, and reaped before the exit.
            ending.set(true);
            end_programs().await;
        };
        Box::pin(
            grace
                .into_actor(self)
                .then(|_, router, _| {
                    // The last batch: everything still unsaved (a batch in flight may hold
                    // part of it; this one has the newest versions, and writes are idempotent).
                    // Once the store answers `AwaitStoreWrites`, all of it is on disk.
                    let store = router.store.clone();
                    let last = (!router.unsaved.is_empty())
                        .then(|| router.make_batch(router.unsaved.batch()));
                    let log_lines = router.alert_log.take_all();
                    async move {
                        let store = store?;
                        if !log_lines.is_empty() {
                            store.do_send(LogAlerts(log_lines));
                        }
                        let saved = match last {
                            Some((batch, message, _)) => {
                                Some((batch, matches!(store.send(message).await, Ok(Ok(())))))
                            }
                            None => None,
                        };
                        if let Err(e) = store.send(AwaitStoreWrites).await {
                            log::error!(error = e.to_string().as_str(); "could not reach the state store at shutdown");
                        }
                        saved
                    }
                    .into_actor(router)
                })
                .map(|last, router, _| {
                    if let Some((batch, saved)) = last {
                        router.unsaved.written(&batch, saved);
                    }
                    if !router.unsaved.is_empty() {
                        let (tracks, events, deletions) = router.unsaved.counts();
                        log::error!(tracks, events, deletions; "the state store did not take the alert state at shutdown: after the next start a notifier may hear a change again, and an event may be sent twice");
                    }
                    router.flush_notifiers();
                }),
        )
    }
}

impl AlertRouter {
    /// Syncs the notifiers' files, and says what is left undelivered and where it is kept.
    fn flush_notifiers(&mut self) {
        for (name, route) in &mut self.notifiers {
            if let Err(e) = route.notifier.flush() {
                log::error!(notifier = &**name, error = e.as_str(); "flushing notifier failed");
            }
        }
        let waiting: Vec<(Arc<str>, String, String)> = self
            .outbox
            .all()
            .map(|(n, p)| (n.clone(), p.event.id.clone(), p.event.host.clone()))
            .collect();
        if waiting.is_empty() {
            return;
        }
        if self.cluster.is_some() {
            log::info!(events = waiting.len(); "undelivered alert events are kept in the cluster's database for the next leader");
        } else if self.store.is_some() {
            log::info!(events = waiting.len(); "undelivered alert events are kept in the state store for the next start");
        } else {
            for (notifier, id, host) in &waiting {
                log::error!(notifier = &**notifier, id = id.as_str(), host = host.as_str(); "alert event lost at shutdown: undelivered and no state.path to keep it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> flowstate_config::Config {
        let yaml = "notifiers:\n  n: { type: file, path: /dev/null }\n\
                    hosts:\n  - { label: api, url: 'http://127.0.0.1:1/', alerts: [n] }\n";
        flowstate_config::load_str("t.yaml", yaml, &|_| None).expect("a valid configuration")
    }

    fn change(
        config: &flowstate_config::Config,
        previous: Status,
        status: Status,
    ) -> HostStatusChanged {
        HostStatusChanged {
            host: config.hosts()[0].clone(),
            previous,
            status,
            at: SystemTime::now(),
            since: SystemTime::now(),
            reason: "status 503, expected 2xx".into(),
            consecutive_failures: 2,
            latency: Duration::from_millis(3),
            removed: false,
            unreachable_via: None,
            trace: None,
        }
    }

    #[actix_rt::test]
    async fn an_outage_held_from_start_to_end_by_maintenance_is_not_recovered_to_anyone() {
        let now = SystemTime::now();
        let yaml = format!(
            "notifiers:\n  n: {{ type: file, path: /dev/null }}\n\
             hosts:\n  - {{ label: api, url: 'http://127.0.0.1:1/', alerts: [n] }}\n\
             maintenance:\n  - {{ name: deploy, start: '{}', end: '{}' }}\n",
            crate::model::rfc3339(now - Duration::from_secs(60)),
            crate::model::rfc3339(now + Duration::from_secs(3600)),
        );
        let config =
            flowstate_config::load_str("t.yaml", &yaml, &|_| None).expect("a valid configuration");
        let metrics = Arc::new(Metrics::new());
        let router = AlertRouter::new(&config.notifiers, metrics.clone(), None, None)
            .with_quiet_time(QuietTime::new(
                config.maintenance.clone(),
                crate::silences::SilenceBook::default(),
            ))
            .start();
        for (previous, status) in [(Status::Up, Status::Down), (Status::Down, Status::Up)] {
            router
                .send(change(&config, previous, status))
                .await
                .expect("the router is alive");
        }
        let holds = router
            .send(GetAlertHolds { label: None })
            .await
            .expect("the router answers");
        let suppressed = holds["api"]
            .last_suppressed
            .clone()
            .expect("the recovery was not sent");
        assert_eq!(suppressed.event, EventKind::Up);
        assert_eq!(suppressed.notifier.as_deref(), Some("n"));
        assert_eq!(suppressed.reason, "the notifier never heard of the problem");
        assert!(
            metrics
                .render()
                .contains("flowstate_alerts_total{notifier=\"n\",result=\"suppressed\"} 2"),
            "{}",
            metrics.render()
        );
    }

    #[actix_rt::test]
    async fn flapping_that_ends_with_a_change_of_status_is_told_once_by_that_change() {
        let path = std::env::temp_dir().join(format!(
            "flowstate-flap-settle-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let yaml = format!(
            "notifiers:\n  n: {{ type: file, path: '{}' }}\n\
             hosts:\n  - {{ label: api, url: 'http://127.0.0.1:1/', alerts: [n] }}\n",
            path.display()
        );
        let config =
            flowstate_config::load_str("t.yaml", &yaml, &|_| None).expect("a valid configuration");
        let router =
            AlertRouter::new(&config.notifiers, Arc::new(Metrics::new()), None, None).start();
        let flapping = |flapping: bool, status: Status| HostFlappingChanged {
            host: config.hosts()[0].clone(),
            flapping,
            percent: if flapping { 100.0 } else { 20.0 },
            at: SystemTime::now(),
            status,
            since: SystemTime::now(),
            reason: "status 503, expected 2xx".into(),
            consecutive_failures: 2,
        };
        // As the registry sends them: a fresh host comes up and flaps without going down; the
        // failure that takes it down also ends flapping, and the change comes first (held:
        // the host still flaps), the end of flapping right behind it.
        router
            .send(change(&config, Status::Unknown, Status::Up))
            .await
            .expect("the router is alive");
        router
            .send(flapping(true, Status::Up))
            .await
            .expect("the router is alive");
        router
            .send(change(&config, Status::Up, Status::Down))
            .await
            .expect("the router is alive");
        router
            .send(flapping(false, Status::Down))
            .await
            .expect("the router is alive");
        // The file notifier writes as its attempt is made, within the handling of the
        // message that sent the event. (Not `FlushNotifiers`: it ends every program this test
        // process runs, the command notifier's tests' included.)
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        let events: Vec<AlertEvent> = written
            .lines()
            .map(|line| serde_json::from_str(line).expect("an event"))
            .collect();
        let told: Vec<(EventKind, Status, Status)> = events
            .iter()
            .map(|e| (e.event, e.status, e.previous))
            .collect();
        assert_eq!(
            told,
            [
                (EventKind::Flapping, Status::Up, Status::Up),
                (EventKind::Down, Status::Down, Status::Up),
            ],
            "{written}"
        );
    }

    #[actix_rt::test]
    async fn durations_too_long_for_the_clock_do_not_kill_the_router() {
        let config = config();
        let mut notifier = (**config.notifier("n").expect("the notifier")).clone();
        notifier.cooldown = Some(Duration::MAX);
        notifier.remind_every = Some(Duration::MAX);
        notifier.retry.backoff = Duration::MAX;
        notifier.retry.max_backoff = Duration::MAX;
        notifier.retry.max_age = Duration::MAX;
        let notifiers = vec![Arc::new(notifier)];
        let router = AlertRouter::new(&notifiers, Arc::new(Metrics::new()), None, None).start();
        for (previous, status) in [
            (Status::Up, Status::Down),
            (Status::Down, Status::Up),
            (Status::Up, Status::Down),
        ] {
            router
                .send(change(&config, previous, status))
                .await
                .expect("the router is alive");
        }
        router
            .send(UseNotifiers(notifiers))
            .await
            .expect("the router still answers");
    }
}
