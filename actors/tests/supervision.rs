//! The actor system in-process, with probes injected through the library API: a panicking
//! probe is isolated and its HostActor restarted; a stalled check ends at its timeout without
//! delaying other hosts or overlapping itself.

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowstate_actors::api::types::HostView;
use flowstate_actors::daemon::Daemon;
use flowstate_actors::messages::{GetHosts, Shutdown};
use flowstate_actors::model::Status;
use flowstate_actors::probe::{CheckContext, Probe, ProbeFactory, ProbeFuture, ProbeOutcome};
use flowstate_config::HostConfiguration;

/// Counters shared by every thread's probe.
#[derive(Default)]
struct Counters {
    crashes_left: AtomicUsize,
    stalled_in_flight: AtomicUsize,
    stalled_max_in_flight: AtomicUsize,
}

/// Behaves by label: `crashy` panics while starting its first checks, `async-panic` panics
/// inside its future, `stalled` never answers, anything else passes.
struct ScriptedProbe(Arc<Counters>);

impl Probe for ScriptedProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, _context: &CheckContext) -> ProbeFuture {
        let counters = self.0.clone();
        match &*host.label {
            "crashy" => {
                let left = counters.crashes_left.load(Ordering::SeqCst);
                if left > 0 {
                    counters.crashes_left.store(left - 1, Ordering::SeqCst);
                    panic!("injected crash before the check");
                }
                Box::pin(async { ProbeOutcome::passed("fine now") })
            }
            "async-panic" => Box::pin(async { panic!("injected crash inside the check") }),
            "stalled" => {
                let now = counters.stalled_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                counters
                    .stalled_max_in_flight
                    .fetch_max(now, Ordering::SeqCst);
                Box::pin(async move {
                    // Decrements when the timeout drops this future.
                    let _guard = InFlight(counters);
                    std::future::pending::<()>().await;
                    ProbeOutcome::passed("unreachable")
                })
            }
            _ => Box::pin(async { ProbeOutcome::passed("ok") }),
        }
    }
}

struct InFlight(Arc<Counters>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.stalled_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn config(hosts: &[&str]) -> Arc<flowstate_config::Config> {
    let mut yaml = String::from(
        "defaults: { interval: 100ms, timeout: 80ms, failure_threshold: 2 }\nhosts:\n",
    );
    for label in hosts {
        yaml.push_str(&format!(
            "  - {{ label: {label}, url: 'http://127.0.0.1:1/' }}\n"
        ));
    }
    Arc::new(flowstate_config::load_str("test.yaml", &yaml, &|_| None).expect("valid test config"))
}

/// Runs `daemon` until `done` holds for the hosts' views (or the deadline passes), then shuts
/// it down and returns the last views with the metrics text of that moment.
fn run_until(
    hosts: &[&str],
    counters: Arc<Counters>,
    done: impl Fn(&[HostView]) -> bool + 'static,
) -> (Vec<HostView>, String) {
    let system = actix_rt::System::new();
    let config = config(hosts);
    let hosts_tracked = hosts.len();
    system.block_on(async move {
        let factory: ProbeFactory =
            Arc::new(move || Rc::new(ScriptedProbe(counters.clone())) as Rc<dyn Probe>);
        let daemon = Daemon::start(config, vec![], factory);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut views = Vec::new();
        while Instant::now() < deadline {
            views = daemon
                .registry
                .send(GetHosts)
                .await
                .expect("registry answers");
            if views.len() == hosts_tracked && done(&views) {
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        let metrics = daemon.metrics.render();
        let _ = daemon.supervisor.send(Shutdown).await;
        (views, metrics)
    })
}

fn view<'a>(views: &'a [HostView], label: &str) -> &'a HostView {
    views
        .iter()
        .find(|v| v.label == label)
        .expect("host is tracked")
}

#[test]
fn a_crashing_host_actor_is_restarted_and_keeps_its_state() {
    let counters = Arc::new(Counters::default());
    counters.crashes_left.store(2, Ordering::SeqCst);
    let (views, metrics) = run_until(&["crashy", "steady"], counters, |views| {
        let crashy = view(views, "crashy");
        crashy.counters.restarts >= 2
            && crashy.status == Status::Up
            && view(views, "steady").counters.checks >= 10
    });
    let crashy = view(&views, "crashy");
    assert_eq!(crashy.counters.restarts, 2, "{crashy:?}");
    // One owner counts a restart: the metric says what the host's total says.
    assert!(
        metrics.contains(r#"flowstate_host_restarts_total{host="crashy"} 2"#),
        "{metrics}"
    );
    assert_eq!(crashy.status, Status::Up, "{crashy:?}");
    assert!(
        view(&views, "steady").counters.checks >= 10,
        "the other host kept being checked"
    );
}

#[test]
fn a_panic_inside_a_check_is_a_failed_result() {
    let (views, _) = run_until(&["async-panic", "steady"], Arc::default(), |views| {
        view(views, "async-panic").status == Status::Down
    });
    let host = view(&views, "async-panic");
    assert_eq!(host.status, Status::Down, "{host:?}");
    assert_eq!(host.counters.restarts, 0, "the actor itself survived");
    let detail = &host.last_check.as_ref().expect("checked").detail;
    assert!(
        detail.contains("probe panicked: injected crash inside the check"),
        "{detail}"
    );
}

#[test]
fn a_stalled_check_ends_at_its_timeout_and_never_overlaps() {
    let counters = Arc::new(Counters::default());
    let (views, _) = run_until(&["stalled", "steady"], counters.clone(), |views| {
        view(views, "stalled").counters.checks >= 5
    });
    let stalled = view(&views, "stalled");
    assert!(stalled.counters.checks >= 5, "{stalled:?}");
    assert_eq!(stalled.status, Status::Down);
    let detail = &stalled.last_check.as_ref().expect("checked").detail;
    assert_eq!(detail, "timed out after 80ms");
    assert_eq!(
        counters.stalled_max_in_flight.load(Ordering::SeqCst),
        1,
        "never two checks at once"
    );
    // Both hosts run at the same interval; the stalled one must not hold the other back.
    assert!(
        view(&views, "steady").counters.checks + 1 >= stalled.counters.checks,
        "{views:?}"
    );
}
