//! Probes: one file per check type, behind one trait.
//!
//! A [`Probe`] only runs the check and says what it saw. [`run_check`] adds what every check
//! type needs the same way: the timeout bounding the whole check, latency measurement, and
//! turning a panic into a failed result instead of a dead actor.

#[cfg(feature = "http3")]
pub mod alt_svc;
pub mod cert_expiry;
pub mod context;
pub mod dns;
pub mod grpc;
pub mod http;
#[cfg(feature = "http3")]
pub mod http3;
pub mod icmp;
pub mod plugin;
pub mod resolve;
pub mod script;
pub mod tcp;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use flowstate_config::{Check, HostConfiguration};
use futures_util::FutureExt;

use crate::model::{CheckResult, PerfValue};
pub use context::{CheckContext, Phase, PhaseKind, TraceParent};

/// A check's future. Not `Send`: probes run on the arbiter that owns their client.
pub type ProbeFuture = Pin<Box<dyn Future<Output = ProbeOutcome>>>;

/// What a probe saw, before timing and panics are accounted for.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    pub ok: bool,
    /// Passed but impaired (certificate near expiry, a script's WARNING): `degraded`.
    pub degraded: bool,
    pub detail: String,
    /// The server certificate's expiry, when the check read it (TLS checks).
    pub cert_not_after: Option<SystemTime>,
    /// The latency to report instead of the check's duration, for probes whose duration is
    /// mostly waiting by design (ICMP spaces its echo requests).
    pub latency: Option<std::time::Duration>,
    /// A script's performance data; empty (no allocation) for the other check types.
    pub perfdata: Vec<PerfValue>,
    /// The parts of the check the probe timed (resolve, connect, ...), in order; empty when
    /// it timed none. They become the check span's children and show on the host's result.
    pub phases: Vec<Phase>,
    /// The HTTP status of the last answer, when the probe got one.
    pub status_code: Option<u16>,
}

impl ProbeOutcome {
    pub fn passed(detail: impl Into<String>) -> Self {
        ProbeOutcome {
            ok: true,
            degraded: false,
            detail: detail.into(),
            cert_not_after: None,
            latency: None,
            perfdata: Vec::new(),
            phases: Vec::new(),
            status_code: None,
        }
    }

    pub fn failed(detail: impl Into<String>) -> Self {
        ProbeOutcome {
            ok: false,
            degraded: false,
            detail: detail.into(),
            cert_not_after: None,
            latency: None,
            perfdata: Vec::new(),
            phases: Vec::new(),
            status_code: None,
        }
    }

    /// Passed, but impaired; `detail` says how (it becomes the `degraded` event's reason).
    pub fn degraded(detail: impl Into<String>) -> Self {
        ProbeOutcome {
            ok: true,
            degraded: true,
            detail: detail.into(),
            cert_not_after: None,
            latency: None,
            perfdata: Vec::new(),
            phases: Vec::new(),
            status_code: None,
        }
    }
}

/// Runs checks of some kind. Implementations may assume `host.check` is theirs.
pub trait Probe {
    fn probe(&self, host: &Arc<HostConfiguration>, context: &CheckContext) -> ProbeFuture;

    /// Drops whatever the probe keeps about `label` between checks (a certificate's expiry
    /// reading): the host left this thread, or its configuration changed, so what was read
    /// may be stale and must not pile up across reloads.
    fn forget(&self, _label: &str) {}
}

/// Every check type's probe, built once per arbiter thread (HTTP clients are not `Send`).
pub struct Probes {
    http: http::HttpProbe,
    tcp: tcp::TcpProbe,
    dns: dns::DnsProbe,
    icmp: icmp::IcmpProbe,
    script: script::ScriptProbe,
    grpc: grpc::GrpcProbe,
    plugin: plugin::PluginProbe,
}

impl Probes {
    pub fn new() -> Self {
        Probes {
            http: http::HttpProbe::new(),
            tcp: tcp::TcpProbe::new(),
            dns: dns::DnsProbe::new(),
            icmp: icmp::IcmpProbe::new(),
            script: script::ScriptProbe::new(),
            grpc: grpc::GrpcProbe::new(),
            plugin: plugin::PluginProbe,
        }
    }
}

impl Default for Probes {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe for Probes {
    fn probe(&self, host: &Arc<HostConfiguration>, context: &CheckContext) -> ProbeFuture {
        match &host.check {
            Check::Http(_) => self.http.probe(host, context),
            Check::Tcp(_) => self.tcp.probe(host, context),
            Check::Dns(_) => self.dns.probe(host, context),
            Check::Icmp(_) => self.icmp.probe(host, context),
            Check::Script(_) => self.script.probe(host, context),
            Check::Grpc(_) => self.grpc.probe(host, context),
            Check::Plugin(_) => self.plugin.probe(host, context),
        }
    }

    fn forget(&self, label: &str) {
        self.http.forget(label);
    }
}

/// Runs one check with everything a check needs around it: the host's timeout over the whole
/// check, the latency, a panic in the probe turned into a failed result, and the time of the
/// verdict.
pub async fn run_check(
    probe: &dyn Probe,
    host: &Arc<HostConfiguration>,
    context: CheckContext,
) -> CheckResult {
    let started = context.started;
    let future = AssertUnwindSafe(probe.probe(host, &context)).catch_unwind();
    let outcome = match actix_rt::time::timeout(host.timeout, future).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::error!(host = &*host.label, panic = message.as_str(); "probe panicked");
            ProbeOutcome::failed(format!("probe panicked: {message}"))
        }
        Err(_) => ProbeOutcome::failed(format!(
            "timed out after {}",
            humantime::format_duration(host.timeout)
        )),
    };
    CheckResult {
        // Dated when the verdict is in, not when the check began: a 10 s timeout must not
        // date the `down` it decides 10 s before anyone could know it.
        at: SystemTime::now(),
        ok: outcome.ok,
        degraded: outcome.degraded,
        cert_not_after: outcome.cert_not_after,
        latency: outcome.latency.unwrap_or_else(|| started.elapsed()),
        detail: outcome.detail,
        perfdata: outcome.perfdata,
        phases: outcome.phases,
        trace: context.trace,
        status_code: outcome.status_code,
    }
}

/// Makes the probe for HostActors on the calling thread. Called on each arbiter thread, since
/// HTTP clients are not `Send`; a test can plug in its own probe here.
pub type ProbeFactory = Arc<dyn Fn() -> std::rc::Rc<dyn Probe> + Send + Sync>;

thread_local! {
    /// One set of probes (one HTTP client and its connector) per arbiter thread, shared by
    /// every HostActor on it.
    static THREAD_PROBES: std::rc::Rc<dyn Probe> = std::rc::Rc::new(Probes::new());
}

/// The real probes, one set per thread.
pub fn default_probe_factory() -> ProbeFactory {
    Arc::new(|| THREAD_PROBES.with(|probes| probes.clone()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Answers after a while.
    struct Slow(Duration);

    impl Probe for Slow {
        fn probe(&self, _: &Arc<HostConfiguration>, _: &CheckContext) -> ProbeFuture {
            let delay = self.0;
            Box::pin(async move {
                actix_rt::time::sleep(delay).await;
                ProbeOutcome::failed("status 503, expected 2xx")
            })
        }
    }

    #[actix_rt::test]
    async fn a_result_is_dated_when_its_verdict_is_in_not_when_the_check_began() {
        let yaml = "hosts:\n  - { label: api, url: 'http://127.0.0.1:1/', timeout: 5s }\n";
        let config = flowstate_config::load_str("t.yaml", yaml, &|_| None).expect("valid");
        let began = SystemTime::now();
        let result = run_check(
            &Slow(Duration::from_millis(300)),
            &config.hosts()[0],
            CheckContext::untraced(),
        )
        .await;
        assert!(
            result.at >= began + Duration::from_millis(300),
            "dated {:?} after the start",
            result.at.duration_since(began)
        );
        assert!(result.latency >= Duration::from_millis(300));
    }
}
