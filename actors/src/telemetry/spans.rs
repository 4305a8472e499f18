//! Span records for what flowstate does, built after the fact from what was measured: a
//! check and the phases its probe timed, one delivery attempt, one reload.
//!
//! Attribute names follow OpenTelemetry's semantic conventions where one applies
//! (`http.response.status_code`, `url.full`, `server.address`, `error.type`) and SPEC §13's
//! `flowstate.*` names otherwise. URLs are redacted as the logs show them.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use flowstate_config::secret::redact_url;
use flowstate_config::{Check, HostConfiguration};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status as SpanStatus, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::model::CheckResult;
use crate::probe::TraceParent;

/// The span of one check and its phases' spans, children of it.
pub(super) fn check_spans(
    host: &HostConfiguration,
    trace: TraceParent,
    took: Duration,
    result: &CheckResult,
    scope: &InstrumentationScope,
) -> Vec<SpanData> {
    let end = result.at;
    let start = end.checked_sub(took).unwrap_or(end);
    let status = result.status_for(host);
    let mut attributes = Vec::with_capacity(10);
    attributes.push(KeyValue::new("flowstate.host", host.label.clone()));
    attributes.push(KeyValue::new("flowstate.check.type", host.check.kind()));
    attributes.push(KeyValue::new("flowstate.result", status.as_str()));
    if let Some(tenant) = &host.tenant {
        attributes.push(KeyValue::new("flowstate.tenant", tenant.clone()));
    }
    target_attributes(&host.check, &mut attributes);
    if let Some(code) = result.status_code {
        attributes.push(KeyValue::new("http.response.status_code", i64::from(code)));
    }
    let span_status = if result.ok {
        SpanStatus::Unset
    } else {
        attributes.push(KeyValue::new("error.type", error_type(result)));
        SpanStatus::error(result.detail.clone())
    };
    let mut spans = Vec::with_capacity(1 + result.phases.len());
    spans.push(span(
        SpanIdentity {
            trace_id: trace.trace_id,
            span_id: trace.span_id,
            parent: None,
        },
        "flowstate.check",
        SpanKind::Client,
        (start, end),
        attributes,
        span_status,
        scope,
    ));
    for (index, phase) in result.phases.iter().enumerate() {
        let began = start + phase.began;
        spans.push(span(
            SpanIdentity {
                trace_id: trace.trace_id,
                span_id: phase_span_id(trace.span_id, index),
                parent: Some(trace.span_id),
            },
            phase.kind.name(),
            SpanKind::Internal,
            (began, began + phase.took),
            vec![KeyValue::new("flowstate.host", host.label.clone())],
            SpanStatus::Unset,
            scope,
        ));
    }
    spans
}

/// A phase's span id: derived from its check's, so no random numbers are spent on it, and
/// never zero (an invalid id) nor equal to the check's.
fn phase_span_id(check: [u8; 8], index: usize) -> [u8; 8] {
    let base = u64::from_be_bytes(check);
    let id = base.wrapping_add(index as u64 + 1);
    let id = if id == 0 || id == base {
        base ^ 0x8000_0000_0000_0001
    } else {
        id
    };
    id.to_be_bytes()
}

fn target_attributes(check: &Check, attributes: &mut Vec<KeyValue>) {
    match check {
        Check::Http(http) => {
            attributes.push(KeyValue::new("url.full", redact_url(&http.url)));
            attributes.push(KeyValue::new("http.request.method", http.method.clone()));
            if let Some(server) = http.url.host_str() {
                attributes.push(KeyValue::new("server.address", server.to_string()));
            }
            if let Some(port) = http.url.port_or_known_default() {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        Check::Tcp(tcp) => server_of(&tcp.address, attributes),
        Check::Grpc(grpc) => server_of(&grpc.address, attributes),
        Check::Icmp(icmp) => {
            attributes.push(KeyValue::new("server.address", icmp.address.clone()));
        }
        Check::Dns(dns) => {
            attributes.push(KeyValue::new("dns.question.name", dns.name.clone()));
        }
        Check::Script(_) | Check::Plugin(_) => {}
    }
}

/// `server.address` and `server.port` of a `host:port` (or `[v6]:port`) address.
fn server_of(address: &str, attributes: &mut Vec<KeyValue>) {
    match address.rsplit_once(':') {
        Some((server, port)) if port.parse::<u16>().is_ok() => {
            let server = server.trim_start_matches('[').trim_end_matches(']');
            attributes.push(KeyValue::new("server.address", server.to_string()));
            if let Ok(port) = port.parse::<u16>() {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        _ => attributes.push(KeyValue::new("server.address", address.to_string())),
    }
}

/// `error.type`: a class of failure with few values, as the conventions ask, so traces can
/// be grouped by it. An HTTP status failure is its status code, as for HTTP client spans.
pub(super) fn error_type(result: &CheckResult) -> Cow<'static, str> {
    let detail = result.detail.as_str();
    if let (Some(code), true) = (result.status_code, detail.starts_with("status ")) {
        return Cow::Owned(code.to_string());
    }
    let lower = detail.to_ascii_lowercase();
    let class = if lower.contains("timed out") {
        "timeout"
    } else if lower.contains("refused") {
        "connection_refused"
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        "tls"
    } else if lower.contains("resolve") || lower.contains("no such host") || lower.contains("dns") {
        "dns"
    } else if lower.contains("body") || lower.contains("expect") || lower.contains("does not match")
    {
        "assertion"
    } else {
        "_OTHER"
    };
    Cow::Borrowed(class)
}

/// One delivery attempt: a child of the check that caused its (first) event, when that
/// check was traced.
#[allow(clippy::too_many_arguments)]
pub(super) fn delivery_span(
    identity: SpanIdentity,
    notifier: &str,
    notifier_type: &str,
    hosts: &[&str],
    events: &[&str],
    (start, end): (SystemTime, SystemTime),
    outcome: Result<(), &str>,
    scope: &InstrumentationScope,
) -> SpanData {
    let mut attributes = vec![
        KeyValue::new("flowstate.notifier", notifier.to_string()),
        KeyValue::new("flowstate.notifier.type", notifier_type.to_string()),
        KeyValue::new("flowstate.events", events.len() as i64),
    ];
    if let [host] = hosts {
        attributes.push(KeyValue::new("flowstate.host", host.to_string()));
    }
    if let [event] = events {
        attributes.push(KeyValue::new("flowstate.event", event.to_string()));
    }
    let status = match outcome {
        Ok(()) => SpanStatus::Unset,
        Err(reason) => {
            attributes.push(KeyValue::new("error.type", "delivery_failed"));
            SpanStatus::error(reason.to_string())
        }
    };
    span(
        identity,
        "flowstate.deliver",
        SpanKind::Client,
        (start, end),
        attributes,
        status,
        scope,
    )
}

/// One reload: a trace of its own.
pub(super) fn reload_span(
    identity: SpanIdentity,
    reload: &super::ReloadTraced<'_>,
    end: SystemTime,
    scope: &InstrumentationScope,
) -> SpanData {
    let mut attributes = vec![
        KeyValue::new("flowstate.reload.trigger", reload.trigger.to_string()),
        KeyValue::new("flowstate.reload.added", reload.added as i64),
        KeyValue::new("flowstate.reload.changed", reload.changed as i64),
        KeyValue::new("flowstate.reload.removed", reload.removed as i64),
    ];
    let status = match reload.outcome {
        Ok(()) => SpanStatus::Unset,
        Err(reason) => {
            attributes.push(KeyValue::new("error.type", "config_invalid"));
            SpanStatus::error(reason.to_string())
        }
    };
    span(
        identity,
        "flowstate.reload",
        SpanKind::Internal,
        (reload.started, end),
        attributes,
        status,
        scope,
    )
}

/// Where a span sits: its trace, its own id, its parent's.
pub(super) struct SpanIdentity {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
}

fn span(
    identity: SpanIdentity,
    name: &'static str,
    kind: SpanKind,
    (start, end): (SystemTime, SystemTime),
    attributes: Vec<KeyValue>,
    status: SpanStatus,
    scope: &InstrumentationScope,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(identity.trace_id),
            SpanId::from_bytes(identity.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: identity.parent.map_or(SpanId::INVALID, SpanId::from_bytes),
        parent_span_is_remote: false,
        span_kind: kind,
        name: Cow::Borrowed(name),
        start_time: start,
        end_time: end.max(start),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(detail: &str, status_code: Option<u16>) -> CheckResult {
        CheckResult {
            at: SystemTime::now(),
            ok: false,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_millis(5),
            detail: detail.to_string(),
            perfdata: Vec::new(),
            phases: Vec::new(),
            trace: None,
            status_code,
        }
    }

    #[test]
    fn error_types_are_few_and_an_http_status_is_its_code() {
        assert_eq!(
            error_type(&failed("status 503, expected 2xx", Some(503))),
            "503"
        );
        assert_eq!(error_type(&failed("timed out after 2s", None)), "timeout");
        assert_eq!(
            error_type(&failed("connection refused", None)),
            "connection_refused"
        );
        assert_eq!(
            error_type(&failed("certificate expired on 2026-01-01", None)),
            "tls"
        );
        assert_eq!(
            error_type(&failed("body does not match /ok/", Some(200))),
            "assertion"
        );
        assert_eq!(error_type(&failed("exit status 2", None)), "_OTHER");
    }

    #[test]
    fn phase_ids_differ_from_the_check_and_each_other_and_are_never_zero() {
        for check in [[0u8; 8], [0xff; 8], [1, 2, 3, 4, 5, 6, 7, 8]] {
            let ids: Vec<_> = (0..5).map(|i| phase_span_id(check, i)).collect();
            for (i, id) in ids.iter().enumerate() {
                assert_ne!(*id, check);
                assert_ne!(*id, [0u8; 8]);
                assert!(!ids[..i].contains(id));
            }
        }
    }

    #[test]
    fn a_failing_check_span_carries_the_reason_and_the_conventions_attributes() {
        let yaml = "hosts:\n  - { label: api, url: 'http://user:secret@127.0.0.1:8080/health' }\n";
        let config = flowstate_config::load_str("t.yaml", yaml, &|_| None).expect("valid");
        let host = &config.hosts()[0];
        let mut result = failed("status 503, expected 2xx", Some(503));
        result.phases = vec![crate::probe::Phase {
            kind: crate::probe::PhaseKind::Request,
            began: Duration::from_millis(1),
            took: Duration::from_millis(3),
        }];
        let trace = TraceParent {
            trace_id: [7; 16],
            span_id: [9; 8],
            sampled: true,
        };
        let scope = InstrumentationScope::builder("flowstate").build();
        let spans = check_spans(host, trace, Duration::from_millis(5), &result, &scope);
        assert_eq!(spans.len(), 2);
        let check = &spans[0];
        assert_eq!(check.name, "flowstate.check");
        assert_eq!(check.status, SpanStatus::error("status 503, expected 2xx"));
        let attribute = |span: &SpanData, key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(attribute(check, "flowstate.host").as_deref(), Some("api"));
        assert_eq!(
            attribute(check, "flowstate.result").as_deref(),
            Some("down")
        );
        assert_eq!(
            attribute(check, "http.response.status_code").as_deref(),
            Some("503")
        );
        let url = attribute(check, "url.full").unwrap_or_default();
        assert!(!url.contains("secret"), "{url}");
        let phase = &spans[1];
        assert_eq!(phase.name, "request");
        assert_eq!(phase.parent_span_id, SpanId::from_bytes([9; 8]));
        assert_eq!(phase.span_context.trace_id(), TraceId::from_bytes([7; 16]));
        assert!(phase.start_time >= check.start_time && phase.end_time <= check.end_time);
    }
}
