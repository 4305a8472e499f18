//! One tracing pipeline: the settings it was built from, the sampler, and the queue to its
//! exporter thread. Checks, the AlertRouter and the Supervisor call it from their own
//! threads; nothing here waits.

use std::time::{Duration, Instant, SystemTime};

use flowstate_config::telemetry::TelemetrySettings;
use flowstate_config::HostConfiguration;
use opentelemetry::trace::{SamplingDecision, SpanKind, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, Sampler, ShouldSample};
use opentelemetry_sdk::Resource;

use super::export::SpanQueue;
use super::spans::{self, SpanIdentity};
use super::{DeliveryAttempt, ReloadTraced, TelemetryError};
use crate::model::CheckResult;
use crate::probe::{CheckContext, TraceParent};

pub struct Tracing {
    settings: TelemetrySettings,
    sampler: Sampler,
    ids: RandomIdGenerator,
    scope: InstrumentationScope,
    queue: SpanQueue,
}

impl Tracing {
    pub(super) fn start(settings: &TelemetrySettings) -> Result<Self, TelemetryError> {
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes(
                std::iter::once(KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))).chain(
                    settings
                        .resource
                        .iter()
                        .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
                ),
            )
            .build();
        let queue = SpanQueue::start(&settings.otlp, resource)?;
        Ok(Tracing {
            settings: settings.clone(),
            sampler: Sampler::TraceIdRatioBased(settings.sample_ratio),
            ids: RandomIdGenerator::default(),
            scope: InstrumentationScope::builder("flowstate")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            queue,
        })
    }

    pub(super) fn settings(&self) -> &TelemetrySettings {
        &self.settings
    }

    /// A new trace for a check about to start, sampled or not by `sample_ratio`.
    pub fn begin_check(&self) -> CheckContext {
        let trace_id = self.ids.new_trace_id();
        let sampled = self
            .sampler
            .should_sample(
                None,
                trace_id,
                "flowstate.check",
                &SpanKind::Client,
                &[],
                &[],
            )
            .decision
            == SamplingDecision::RecordAndSample;
        CheckContext {
            started: Instant::now(),
            trace: Some(TraceParent {
                trace_id: trace_id.to_bytes(),
                span_id: self.ids.new_span_id().to_bytes(),
                sampled,
            }),
        }
    }

    /// Exports the check's spans when its trace is kept (sampled, or the check failed), and
    /// otherwise takes the trace off `result`, so nothing links to a trace that was not sent.
    pub fn finish_check(
        &self,
        host: &HostConfiguration,
        context: &CheckContext,
        result: &mut CheckResult,
    ) {
        let Some(trace) = context.trace else {
            return;
        };
        if !trace.sampled && result.ok {
            result.trace = None;
            return;
        }
        let took = context.started.elapsed();
        self.queue
            .submit(spans::check_spans(host, trace, took, result, &self.scope));
    }

    /// One delivery attempt's span, under the check that caused its first event when that
    /// check's trace was kept, else a trace of its own.
    pub fn delivery(&self, attempt: &DeliveryAttempt<'_>) {
        let parent = attempt.events.iter().find_map(|event| event.trace_parent());
        let identity = match parent {
            Some((trace_id, span_id)) => SpanIdentity {
                trace_id,
                span_id: self.ids.new_span_id().to_bytes(),
                parent: Some(span_id),
            },
            None => self.root_identity(),
        };
        let hosts: Vec<&str> = attempt.events.iter().map(|e| e.host.as_str()).collect();
        let kinds: Vec<&str> = attempt.events.iter().map(|e| e.event.as_str()).collect();
        self.queue.submit(vec![spans::delivery_span(
            identity,
            attempt.notifier,
            attempt.notifier_type,
            &hosts,
            &kinds,
            (attempt.started, SystemTime::now()),
            attempt.outcome,
            &self.scope,
        )]);
    }

    /// A reload's span, a trace of its own.
    pub fn reload(&self, reload: &ReloadTraced<'_>) {
        let identity = self.root_identity();
        self.queue.submit(vec![spans::reload_span(
            identity,
            reload,
            SystemTime::now(),
            &self.scope,
        )]);
    }

    fn root_identity(&self) -> SpanIdentity {
        let trace_id: TraceId = self.ids.new_trace_id();
        SpanIdentity {
            trace_id: trace_id.to_bytes(),
            span_id: self.ids.new_span_id().to_bytes(),
            parent: None,
        }
    }

    pub(super) fn flush(&self, within: Duration) {
        self.queue.flush(within);
    }
}
