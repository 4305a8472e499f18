//! OpenTelemetry traces of checks, alert deliveries and reloads (SPEC §13).
//!
//! Spans are built after the fact, from what a check measured (its start, its phases, its
//! verdict), as plain OTLP span records: nothing is held open across a check, and a check that
//! is not traced costs one atomic load. They go into a bounded queue that one exporter thread
//! drains in batches ([`export`]); a full queue or a failed export drops spans and counts them
//! ([`counters`]), so a dead collector never slows or blocks a check.
//!
//! Which checks are kept: `sample_ratio` of the passing ones (decided from the trace id, as
//! OpenTelemetry's ratio sampler does, and sent in `traceparent` so the target agrees), and
//! every failing one, since that is the trace an alert links to. A result or event carries a
//! trace id only when its trace was exported.
//!
//! The pipeline in use is process-wide: the Supervisor applies `telemetry` at start and on
//! every reload ([`apply`]), and a changed section replaces the pipeline whole (the old one
//! sends what it holds and ends).

#[cfg(feature = "otlp")]
mod export;
#[cfg(feature = "otlp")]
mod pipeline;
#[cfg(feature = "otlp")]
mod spans;

pub mod counters;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use flowstate_config::telemetry::TelemetrySettings;

#[cfg(feature = "otlp")]
pub use pipeline::Tracing;

/// Why `telemetry` could not be put to use.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("this build of flowstate has no OTLP exporter; remove `telemetry` or use a build with the `otlp` feature (the release and Docker builds have it)")]
    NotBuiltIn,
    #[error("cannot use telemetry.otlp.ca_file: {0}")]
    CaFile(String),
    #[error("cannot set up the OTLP exporter for {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
}

/// A build without the `otlp` feature: nothing is ever traced.
#[cfg(not(feature = "otlp"))]
pub enum Tracing {}

#[cfg(not(feature = "otlp"))]
impl Tracing {
    pub fn begin_check(&self) -> crate::probe::CheckContext {
        match *self {}
    }

    pub fn finish_check(
        &self,
        _: &flowstate_config::HostConfiguration,
        _: &crate::probe::CheckContext,
        _: &mut crate::model::CheckResult,
    ) {
        match *self {}
    }

    pub fn delivery(&self, _: &DeliveryAttempt<'_>) {
        match *self {}
    }

    pub fn reload(&self, _: &ReloadTraced<'_>) {
        match *self {}
    }
}

/// One delivery attempt of a notifier, as its span tells it.
pub struct DeliveryAttempt<'a> {
    pub notifier: &'a str,
    pub notifier_type: &'a str,
    /// The events it carried (one, or a group's).
    pub events: &'a [crate::event::AlertEvent],
    pub started: std::time::SystemTime,
    /// `Err` with the failure as the receiver or the network said it.
    pub outcome: Result<(), &'a str>,
}

/// One reload, as its span tells it.
pub struct ReloadTraced<'a> {
    pub started: std::time::SystemTime,
    /// What asked for it: `file`, `signal`, `api`, `cluster`.
    pub trigger: &'a str,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    /// `Err` with the first error when the configuration was refused.
    pub outcome: Result<(), &'a str>,
}

static ON: AtomicBool = AtomicBool::new(false);
static CURRENT: RwLock<Option<Arc<Tracing>>> = RwLock::new(None);

/// The pipeline in use, if tracing is on. One relaxed load when it is off.
pub fn current() -> Option<Arc<Tracing>> {
    if !ON.load(Ordering::Relaxed) {
        return None;
    }
    CURRENT.read().ok()?.clone()
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Unchanged,
    Started,
    Replaced,
    Stopped,
}

/// Puts `settings` to use: starts, replaces or stops the pipeline. Unchanged settings keep
/// the running pipeline (and what it has queued). On an error the previous pipeline, if any,
/// keeps running: a bad edit does not stop tracing.
pub fn apply(settings: Option<&TelemetrySettings>) -> Result<Applied, TelemetryError> {
    let running = CURRENT.read().ok().and_then(|current| current.clone());
    match (settings, running) {
        (None, None) => Ok(Applied::Unchanged),
        (None, Some(_)) => {
            install(None);
            Ok(Applied::Stopped)
        }
        (Some(settings), running) => {
            #[cfg(feature = "otlp")]
            {
                if let Some(running) = &running {
                    if running.settings() == settings {
                        return Ok(Applied::Unchanged);
                    }
                }
                let started = Tracing::start(settings)?;
                install(Some(Arc::new(started)));
                Ok(if running.is_some() {
                    Applied::Replaced
                } else {
                    Applied::Started
                })
            }
            #[cfg(not(feature = "otlp"))]
            {
                let _ = (settings, running);
                Err(TelemetryError::NotBuiltIn)
            }
        }
    }
}

fn install(tracing: Option<Arc<Tracing>>) {
    let on = tracing.is_some();
    let previous = match CURRENT.write() {
        Ok(mut current) => std::mem::replace(&mut *current, tracing),
        Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), tracing),
    };
    ON.store(on, Ordering::Relaxed);
    // The old pipeline ends when its last user (a check in flight) lets go of it: its
    // exporter thread sends what is queued, then stops.
    drop(previous);
}

/// At shutdown: stops tracing and waits up to `within` for queued spans to reach the
/// collector.
pub fn shut_down(within: Duration) {
    let running = CURRENT.read().ok().and_then(|current| current.clone());
    install(None);
    #[cfg(feature = "otlp")]
    if let Some(running) = running {
        running.flush(within);
    }
    #[cfg(not(feature = "otlp"))]
    let _ = (running, within);
}
