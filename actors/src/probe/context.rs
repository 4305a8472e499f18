//! What a probe is given besides its host's configuration: when the check began, and the W3C
//! trace context its requests carry when tracing is on.
//!
//! Probes record the phases they can time ([`Phase`]) against the check's start, so the check's
//! span and its children line up on one clock, and HTTP-speaking probes send `traceparent` so
//! the target's own traces join the check's.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Per-check facts a probe may use. `Copy`: a probe moves it into its future.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext {
    /// When the check began (before the probe was asked), the origin of every [`Phase`].
    pub started: Instant,
    /// The check span's identity, when this check is traced.
    pub trace: Option<TraceParent>,
}

impl CheckContext {
    /// A check without tracing, starting now.
    pub fn untraced() -> Self {
        CheckContext {
            started: Instant::now(),
            trace: None,
        }
    }

    /// A phase that began at `began` and ends now.
    pub fn phase_since(&self, kind: PhaseKind, began: Instant) -> Phase {
        Phase {
            kind,
            began: began.saturating_duration_since(self.started),
            took: began.elapsed(),
        }
    }

    /// The `traceparent` header's value, when this check is traced.
    pub fn traceparent(&self) -> Option<String> {
        self.trace.map(|trace| trace.header_value())
    }
}

/// A W3C trace context: the trace, the span a callee's spans hang under, and whether the
/// trace is recorded (the callee's sampler follows that flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceParent {
    /// `00-<trace id>-<span id>-<flags>`, as <https://www.w3.org/TR/trace-context/> spells it.
    pub fn header_value(&self) -> String {
        let mut value = String::with_capacity(55);
        value.push_str("00-");
        push_hex(&mut value, &self.trace_id);
        value.push('-');
        push_hex(&mut value, &self.span_id);
        value.push_str(if self.sampled { "-01" } else { "-00" });
        value
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        let mut value = String::with_capacity(16);
        push_hex(&mut value, &self.span_id);
        value
    }

    /// The trace id as 32 lowercase hex digits, as logs, events and collectors show it.
    pub fn trace_id_hex(&self) -> String {
        let mut value = String::with_capacity(32);
        push_hex(&mut value, &self.trace_id);
        value
    }
}

/// The bytes `hex` spells (lowercase or uppercase), when it spells exactly `N` of them.
pub fn from_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let digits = hex.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut bytes = [0u8; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(bytes)
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
}

/// A part of a check a probe timed on its own: these become the check span's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    pub kind: PhaseKind,
    /// After the check began.
    pub began: Duration,
    pub took: Duration,
}

/// The phases SPEC §13 names, plus QUIC's handshake (connect and TLS in one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// Turning the host name into addresses.
    Resolve,
    /// The TCP connection.
    Connect,
    /// The TLS handshake over TCP.
    Tls,
    /// The QUIC handshake (HTTP/3): transport and TLS together.
    Handshake,
    /// From sending the request to the first byte of the answer.
    Request,
    /// Reading the answer's body.
    Body,
}

impl PhaseKind {
    /// The child span's name.
    pub fn name(self) -> &'static str {
        match self {
            PhaseKind::Resolve => "resolve",
            PhaseKind::Connect => "connect",
            PhaseKind::Tls => "tls",
            PhaseKind::Handshake => "handshake",
            PhaseKind::Request => "request",
            PhaseKind::Body => "body",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_spelled_as_w3c_says() {
        let parent = TraceParent {
            trace_id: [
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36,
            ],
            span_id: [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
            sampled: true,
        };
        assert_eq!(
            parent.header_value(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let unsampled = TraceParent {
            sampled: false,
            ..parent
        };
        assert!(unsampled.header_value().ends_with("-00"));
        assert_eq!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            from_hex::<16>(&parent.trace_id_hex()),
            Some(parent.trace_id)
        );
        assert_eq!(from_hex::<8>(&parent.span_id_hex()), Some(parent.span_id));
        assert_eq!(from_hex::<8>("00f067aa0ba902"), None);
        assert_eq!(from_hex::<8>("00f067aa0ba902zz"), None);
    }
}
