//! HostActor: checks one host on its schedule and reports every result.
//!
//! It owns only what may be lost on a restart: the schedule and the probe. Everything that must
//! survive (status, counters, history) lives in the StateRegistry, so the Supervisor can replace
//! a HostActor at any time — on a config change or after a crash — without losing state.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use flowstate_config::host::stable_hash;
use flowstate_config::HostConfiguration;
use tokio::sync::oneshot;

use crate::clock::instant_after;
use crate::messages::{CheckCompleted, HostActorDied, StopChecking};
use crate::probe::{run_check, CheckContext, Probe};

pub struct HostActor {
    host: Arc<HostConfiguration>,
    probe: Rc<dyn Probe>,
    registry: Recipient<CheckCompleted>,
    schedule: Schedule,
    /// Never two checks of one host at once: a tick that finds one running is skipped.
    in_flight: bool,
    /// Set by `StopChecking`: no new checks, stop once the one in flight ends.
    stopping: bool,
    /// Who waits for the check in flight to end before the actor stops.
    stop_waiters: Vec<oneshot::Sender<()>>,
    /// Ticks skipped (previous check still running, or the thread stalled) since the last
    /// report to the registry.
    skipped: u64,
    /// Tells the Supervisor if this actor vanishes without being asked to (a panic).
    death_notice: DeathNotice,
}

impl HostActor {
    pub fn new(
        host: Arc<HostConfiguration>,
        probe: Rc<dyn Probe>,
        registry: Recipient<CheckCompleted>,
        supervisor: Recipient<HostActorDied>,
        generation: u64,
        epoch: Instant,
    ) -> Self {
        let schedule = Schedule::new(epoch, host.interval, &host.label);
        HostActor {
            death_notice: DeathNotice {
                label: host.label.clone(),
                generation,
                supervisor: Some(supervisor),
            },
            host,
            probe,
            registry,
            schedule,
            in_flight: false,
            stopping: false,
            stop_waiters: Vec::new(),
            skipped: 0,
        }
    }

    fn schedule_next(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let (due, missed) = self.schedule.advance(now);
        if missed > 0 {
            // The thread stalled past whole intervals: skip them rather than fire a burst.
            // Counted, and visible in the scheduler stats; a log line per host would flood the
            // log exactly when the machine is already overloaded.
            self.skipped += missed;
            log::debug!(host = &*self.host.label, missed = missed; "check schedule fell behind; skipped missed checks");
        }
        ctx.run_later(due.saturating_duration_since(now), move |act, ctx| {
            act.tick(due, ctx)
        });
    }

    fn tick(&mut self, due: Instant, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        if self.in_flight {
            self.skipped += 1;
            log::debug!(host = &*self.host.label, skipped = self.skipped; "previous check still running; tick skipped");
        } else {
            self.start_check(due, ctx);
        }
        self.schedule_next(ctx);
    }

    fn start_check(&mut self, due: Instant, ctx: &mut Context<Self>) {
        self.in_flight = true;
        let lag = Instant::now().saturating_duration_since(due);
        let probe = self.probe.clone();
        let host = self.host.clone();
        // Tracing off costs one atomic load here.
        let tracing = crate::telemetry::current();
        let context = tracing
            .as_ref()
            .map_or_else(CheckContext::untraced, |tracing| tracing.begin_check());
        let check = async move {
            let mut result = run_check(&*probe, &host, context).await;
            if let Some(tracing) = tracing {
                tracing.finish_check(&host, &context, &mut result);
            }
            result
        };
        ctx.spawn(check.into_actor(self).map(move |result, act, ctx| {
            act.in_flight = false;
            if log::log_enabled!(log::Level::Debug) {
                let trace_id = result.trace.map(|trace| trace.trace_id_hex());
                log::debug!(
                    host = &*act.host.label,
                    ok = result.ok,
                    latency_ms = result.latency_ms(),
                    detail = result.detail.as_str(),
                    trace_id = trace_id.as_deref();
                    "check completed"
                );
            }
            act.registry.do_send(CheckCompleted {
                result,
                host: act.host.clone(),
                lag,
                skipped: std::mem::take(&mut act.skipped),
            });
            if act.stopping {
                act.finish_stopping(ctx);
            }
        }));
    }

    fn finish_stopping(&mut self, ctx: &mut Context<Self>) {
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
        ctx.stop();
    }
}

impl Actor for HostActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.schedule_next(ctx);
    }

    /// A HostActor stops when its host is removed or changed (a new one starts with the new
    /// configuration, maybe on another thread) or at shutdown: the probe forgets the host, so
    /// its thread's caches hold only hosts it checks.
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.probe.forget(&self.host.label);
    }
}

impl Handler<StopChecking> for HostActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: StopChecking, ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        self.death_notice.disarm();
        // Stopping the actor drops the check's future, which closes its connection.
        if !self.in_flight || !msg.finish_in_flight {
            self.finish_stopping(ctx);
            return Box::pin(async {});
        }
        let (done, wait) = oneshot::channel();
        self.stop_waiters.push(done);
        Box::pin(async move {
            let _ = wait.await;
        })
    }
}

/// Sends `HostActorDied` when dropped while armed: the actor was dropped without being told to
/// stop, which in actix means a panic in one of its handlers.
struct DeathNotice {
    label: Arc<str>,
    generation: u64,
    supervisor: Option<Recipient<HostActorDied>>,
}

impl DeathNotice {
    fn disarm(&mut self) {
        self.supervisor = None;
    }
}

impl Drop for DeathNotice {
    fn drop(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.do_send(HostActorDied {
                label: self.label.clone(),
                generation: self.generation,
            });
        }
    }
}

/// When a host's checks are due: every `interval`, at a phase derived from its label.
///
/// The phase spreads 10 000 hosts over the interval instead of firing them in one millisecond,
/// and because it depends only on the label and a process-wide epoch, a restarted or reloaded
/// HostActor keeps its slot.
#[derive(Debug, Clone)]
pub struct Schedule {
    epoch: Instant,
    interval: Duration,
    phase: Duration,
    next_due: Option<Instant>,
}

impl Schedule {
    pub fn new(epoch: Instant, interval: Duration, label: &str) -> Self {
        let interval_nanos = interval.as_nanos().max(1);
        let phase = Duration::from_nanos((u128::from(stable_hash(label)) % interval_nanos) as u64);
        Schedule {
            epoch,
            interval,
            phase,
            next_due: None,
        }
    }

    /// The first slot at or after `at`. An interval too long for the clock puts the next slot
    /// a century away (see [`crate::clock`]) rather than panicking.
    pub fn slot_at_or_after(&self, at: Instant) -> Instant {
        let first = instant_after(self.epoch, self.phase);
        if at <= first {
            return first;
        }
        let elapsed = (at - first).as_nanos();
        let interval = self.interval.as_nanos().max(1);
        let periods = elapsed.div_ceil(interval);
        let offset = periods
            .checked_mul(interval)
            .and_then(|nanos| u64::try_from(nanos).ok())
            .map_or(Duration::MAX, Duration::from_nanos);
        instant_after(first, offset)
    }

    /// Moves to the next slot after the last one and returns it, with how many slots were
    /// already in the past (missed) and have been skipped.
    pub fn advance(&mut self, now: Instant) -> (Instant, u64) {
        let Some(last) = self.next_due else {
            let first = self.slot_at_or_after(now);
            self.next_due = Some(first);
            return (first, 0);
        };
        let mut next = instant_after(last, self.interval);
        let mut missed = 0;
        if next < now {
            let caught_up = self.slot_at_or_after(now);
            missed = ((caught_up - next).as_nanos() / self.interval.as_nanos().max(1)) as u64;
            next = caught_up;
        }
        self.next_due = Some(next);
        (next, missed)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::probe::{ProbeFuture, ProbeOutcome};

    /// Takes results and death notices, and does nothing with them.
    struct Sink;

    impl Actor for Sink {
        type Context = Context<Self>;
    }

    impl Handler<CheckCompleted> for Sink {
        type Result = ();
        fn handle(&mut self, _: CheckCompleted, _: &mut Context<Self>) {}
    }

    impl Handler<HostActorDied> for Sink {
        type Result = ();
        fn handle(&mut self, _: HostActorDied, _: &mut Context<Self>) {}
    }

    /// Fails every check and notes which hosts it was told to forget.
    struct Forgetting(Rc<RefCell<Vec<String>>>);

    impl Probe for Forgetting {
        fn probe(&self, _: &Arc<HostConfiguration>, _: &CheckContext) -> ProbeFuture {
            Box::pin(async { ProbeOutcome::failed("refused") })
        }

        fn forget(&self, label: &str) {
            self.0.borrow_mut().push(label.to_string());
        }
    }

    #[actix_rt::test]
    async fn a_stopped_host_actor_makes_its_probe_forget_the_host() {
        let yaml = "hosts:\n  - { label: api, url: 'http://127.0.0.1:1/', interval: 1h }\n";
        let config = flowstate_config::load_str("t.yaml", yaml, &|_| None).expect("valid");
        let forgotten = Rc::new(RefCell::new(Vec::new()));
        let sink = Sink.start();
        let actor = HostActor::new(
            config.hosts()[0].clone(),
            Rc::new(Forgetting(forgotten.clone())),
            sink.clone().recipient(),
            sink.recipient(),
            0,
            Instant::now(),
        )
        .start();
        actor
            .send(StopChecking {
                finish_in_flight: false,
            })
            .await
            .expect("the host actor answers");
        // `stopped` runs once the actor's context winds down, after the answer above.
        let deadline = Instant::now() + Duration::from_secs(5);
        while forgotten.borrow().is_empty() && Instant::now() < deadline {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*forgotten.borrow(), ["api"]);
    }

    #[test]
    fn phase_depends_on_the_label_only() {
        let epoch = Instant::now();
        let a = Schedule::new(epoch, Duration::from_secs(10), "api");
        let b = Schedule::new(epoch, Duration::from_secs(10), "api");
        let c = Schedule::new(epoch, Duration::from_secs(10), "web");
        assert_eq!(a.phase, b.phase);
        assert_ne!(a.phase, c.phase);
        assert!(a.phase < Duration::from_secs(10));
    }

    #[test]
    fn slots_are_a_fixed_grid() {
        let epoch = Instant::now();
        let mut s = Schedule::new(epoch, Duration::from_secs(1), "api");
        let (first, missed) = s.advance(epoch);
        assert_eq!(first, epoch + s.phase);
        assert_eq!(missed, 0);
        let (second, _) = s.advance(first);
        assert_eq!(second, first + Duration::from_secs(1));
        // A restarted actor (new Schedule) lands on the same grid.
        let mut restarted = Schedule::new(epoch, Duration::from_secs(1), "api");
        let (slot, _) = restarted.advance(first + Duration::from_millis(1));
        assert_eq!(slot, second);
    }

    #[test]
    fn a_stall_skips_missed_slots_instead_of_bursting() {
        let epoch = Instant::now();
        let mut s = Schedule::new(epoch, Duration::from_secs(1), "api");
        let (first, _) = s.advance(epoch);
        let (next, missed) = s.advance(first + Duration::from_millis(3500));
        assert_eq!(missed, 3);
        assert_eq!(next, first + Duration::from_secs(4));
    }

    #[test]
    fn an_interval_too_long_for_the_clock_never_panics() {
        let epoch = Instant::now();
        let mut s = Schedule::new(epoch, Duration::MAX, "api");
        let (first, _) = s.advance(epoch);
        assert!(first >= epoch);
        // The next slot is as good as never, and computing it (or catching up) does not panic.
        let (second, _) = s.advance(first);
        assert!(second >= first + crate::clock::FOREVER / 2, "{second:?}");
        let (third, _) = s.advance(first + Duration::from_secs(5));
        assert!(third >= second);
        assert!(s.slot_at_or_after(epoch + Duration::from_secs(1)) >= epoch);
    }

    #[test]
    fn hosts_spread_over_the_interval() {
        let epoch = Instant::now();
        let interval = Duration::from_secs(1);
        let mut buckets = [0usize; 10];
        for i in 0..10_000 {
            let s = Schedule::new(epoch, interval, &format!("host-{i}"));
            buckets[(s.phase.as_millis() / 100) as usize] += 1;
        }
        // Each tenth of the interval gets roughly a tenth of the hosts.
        assert!(
            buckets.iter().all(|&n| (700..1300).contains(&n)),
            "{buckets:?}"
        );
    }
}
