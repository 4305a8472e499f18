//! The `grpc` probe: the standard `grpc.health.v1.Health/Check`, judged by its serving status.
//!
//! Every check builds its own [`Endpoint`] and connects afresh, as the HTTP probe does: a
//! server that stops accepting connections is down, not hidden behind a pooled channel. The
//! channel is dropped when the check ends, which closes its connection.
//!
//! With `tls`, the certificate is checked by our own [`RecordingVerifier`] instead of tonic's
//! root settings, for three reasons: tonic cannot express `insecure` (accept any certificate),
//! the verdict is needed to say *why* a handshake failed (tonic's error says little), and the
//! leaf certificate is needed for its expiry. Unlike the HTTP probe (awc hides the peer
//! certificate), the expiry comes with every check's own handshake at no extra cost, so
//! `expiry_check_every` has nothing to space out here. It is judged as the HTTP probe judges
//! it (same words, same metric through `cert_not_after`).
//!
//! Nothing from the server's metadata is ever put in a detail; a status message is shown
//! shortened and stripped of control characters, since it becomes alert text.
//!
//! The check's time is [`super::run_check`]'s, over the whole check. tonic gets no request
//! timeout of its own: one of the same length only raced run_check's, and when both expired in
//! the same timer tick tonic's won (run_check polls the probe before its own timer) with its
//! own words, `CANCELLED: Timeout expired`. The connection attempt keeps a bound of its own
//! (`connect_timeout`, the check's timeout), because the connector shares it out among the
//! addresses of a name: one that never answers leaves time to try the next. Whenever a timer of
//! ours expires once the check's time is up, the reason is run_check's ([`TimedOut`]), whichever
//! timer noticed first. A status the server sent keeps its own words, even a `CANCELLED` with
//! tonic's `Timeout expired` (a tonic server's own limit): only errors made on this side carry
//! the timer types that are judged here.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flowstate_config::{Check, GrpcCheck, HostConfiguration, TlsSettings};
use rustls::{CertificateError, RootCertStore};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::cert_expiry::{day, degrade_if_expiring, not_after_of};
use super::{CheckContext, Probe, ProbeFuture, ProbeOutcome};
use crate::tls::RecordingVerifier;

const USER_AGENT: &str = concat!("flowstate/", env!("CARGO_PKG_VERSION"));

/// The longest part of a server's status message shown in a detail: it ends up in alerts.
const MAX_MESSAGE_CHARS: usize = 200;

/// Stateless: each check builds its own endpoint, so there is nothing to share per thread.
#[derive(Default)]
pub struct GrpcProbe;

impl GrpcProbe {
    pub fn new() -> Self {
        GrpcProbe
    }
}

impl Probe for GrpcProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, _context: &CheckContext) -> ProbeFuture {
        let host = host.clone();
        Box::pin(async move {
            match &host.check {
                Check::Grpc(check) => check_grpc(check, host.timeout).await,
                other => ProbeOutcome::failed(format!("not a gRPC check: {}", other.kind())),
            }
        })
    }
}

/// A check that ran out of its time, in the words [`super::run_check`] uses for its own
/// timeout, so that the reason does not depend on which timer noticed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimedOut(Duration);

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {}", humantime::format_duration(self.0))
    }
}

impl Error for TimedOut {}

/// The check's time: how long it has, and since when. Started when the probe first runs,
/// which is after run_check armed its own timer of the same length: once this one is spent,
/// so is run_check's.
#[derive(Debug, Clone, Copy)]
struct Budget {
    timeout: Duration,
    started: Instant,
}

impl Budget {
    fn start(timeout: Duration) -> Self {
        Budget {
            timeout,
            started: Instant::now(),
        }
    }

    /// Whether the check's time is up. No timer fires early (tokio rounds deadlines up), so
    /// a timer of the check's length, armed after `started`, has always spent it when it fires.
    fn spent(&self) -> bool {
        self.started.elapsed() >= self.timeout
    }
}

/// Sets up TLS, asks, and adds what the certificate said to the outcome.
async fn check_grpc(check: &GrpcCheck, timeout: Duration) -> ProbeOutcome {
    let budget = Budget::start(timeout);
    let verifier = match &check.tls {
        None => None,
        Some(tls) => match build_verifier(tls).await {
            Ok(v) => Some(v),
            Err(reason) => return ProbeOutcome::failed(reason),
        },
    };
    let outcome = ask(check, budget, &verifier).await;
    match (&verifier, &check.tls) {
        (Some(v), Some(tls)) => judge_certificate(outcome, v, tls),
        _ => outcome,
    }
}

/// Connects afresh and asks `Health/Check` once; judges the answer.
async fn ask(
    check: &GrpcCheck,
    budget: Budget,
    verifier: &Option<Arc<RecordingVerifier>>,
) -> ProbeOutcome {
    let authority = authority(&check.address);
    let scheme = if check.tls.is_some() { "https" } else { "http" };
    let endpoint = match Endpoint::from_shared(format!("{scheme}://{authority}/")) {
        Ok(e) => e,
        Err(_) => return ProbeOutcome::failed(format!("invalid address {}", check.address)),
    };
    let endpoint = match endpoint.user_agent(USER_AGENT) {
        Ok(e) => e,
        Err(e) => return ProbeOutcome::failed(format!("invalid endpoint: {e}")),
    }
    // No `.timeout()`: run_check bounds the call, and a second timer of the same length only
    // raced it (see the module doc). The connect keeps one, shared out among the addresses.
    .connect_timeout(budget.timeout);

    let endpoint = match verifier {
        None => endpoint,
        Some(v) => match endpoint.tls_config_with_verifier(ClientTlsConfig::new(), v.clone()) {
            Ok(e) => e,
            Err(e) => return ProbeOutcome::failed(format!("TLS setup failed: {}", chain(&e))),
        },
    };

    let channel: Channel = match endpoint.connect().await {
        Ok(c) => c,
        Err(e) => {
            return ProbeOutcome::failed(
                match ran_out_of_time(&e, budget.timeout, budget.spent()) {
                    Some(timed_out) => timed_out.to_string(),
                    None => describe_connect_error(&e, &authority, verifier),
                },
            )
        }
    };
    let request = HealthCheckRequest {
        service: check.service.clone(),
    };
    let answer = HealthClient::new(channel).check(request).await;
    let status = match answer {
        Ok(response) => response.into_inner().status,
        Err(status) => {
            return ProbeOutcome::failed(describe_call_error(
                &status,
                &check.service,
                &authority,
                budget.timeout,
                budget.spent(),
            ))
        }
    };
    let about = if check.service.is_empty() {
        String::new()
    } else {
        format!(" (service {})", check.service)
    };
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Serving) => ProbeOutcome::passed(format!("SERVING{about}")),
        Ok(other) => ProbeOutcome::failed(format!("{}{about}", other.as_str_name())),
        Err(_) => ProbeOutcome::failed(format!("unknown serving status {status}{about}")),
    }
}

/// Why the `Health/Check` call failed; `spent`: the check's time was up when it did.
fn describe_call_error(
    status: &tonic::Status,
    service: &str,
    authority: &str,
    timeout: Duration,
    spent: bool,
) -> String {
    if let Some(timed_out) = ran_out_of_time(status, timeout, spent) {
        return timed_out.to_string();
    }
    match status.source() {
        // A status tonic made of a failed connection says only "transport error": the cause
        // is in its source.
        Some(cause) => describe_transport_error(cause, authority)
            .unwrap_or_else(|| format!("{}: {}", code_name(status.code()), chain(cause))),
        // The server's own answer.
        None => describe_status(status, service),
    }
}

/// [`TimedOut`] when `error` is a timer of ours expiring after the check's time was `spent`:
/// the check ran out of its time, whichever timer noticed. A timer that fired earlier (the
/// connector's share for one of several addresses) keeps its own words.
fn ran_out_of_time(
    error: &(dyn Error + 'static),
    timeout: Duration,
    spent: bool,
) -> Option<TimedOut> {
    (spent && is_own_timer(error)).then_some(TimedOut(timeout))
}

/// Whether `error` or one of its causes is a timer on this side expiring: tonic's request
/// timeout ([`tonic::TimeoutExpired`], which tonic keeps as the source of the `CANCELLED`
/// status it makes of it) or a tokio timeout (the connector's connect timeout, which it wraps
/// in an io error of kind `TimedOut`). Matched by type, never by code or text: a status that
/// came over the wire has no source, whatever it says.
fn is_own_timer(error: &(dyn Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<tonic::TimeoutExpired>() || e.is::<tokio::time::error::Elapsed>() {
            return true;
        }
        // io::Error's `source()` skips the error it wraps: look inside.
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(inner) = wrapped {
            if is_own_timer(inner) {
                return true;
            }
        }
        source = e.source();
    }
    false
}

/// `host:port` as a URI authority: a bare IPv6 address (`::1:50051`) gets its brackets.
fn authority(address: &str) -> String {
    match address.rsplit_once(':') {
        Some((host, port)) if host.contains(':') && !host.starts_with('[') => {
            format!("[{host}]:{port}")
        }
        _ => address.to_string(),
    }
}

/// Adds the certificate's expiry to the outcome (for the metric) and, on a passed check,
/// degrades it when the certificate expires within `expiry_warning` or has expired (which
/// only `insecure` lets through): in the HTTP probe's words.
fn judge_certificate(
    mut outcome: ProbeOutcome,
    verifier: &RecordingVerifier,
    tls: &TlsSettings,
) -> ProbeOutcome {
    let Some(not_after) = verifier.leaf().and_then(|leaf| not_after_of(&leaf).ok()) else {
        return outcome;
    };
    outcome.cert_not_after = Some(not_after);
    degrade_if_expiring(
        &mut outcome,
        not_after,
        tls.expiry_warning,
        SystemTime::now(),
    );
    outcome
}

/// Why connecting failed, from the innermost cause a person can act on.
fn describe_connect_error(
    error: &tonic::transport::Error,
    authority: &str,
    verifier: &Option<Arc<RecordingVerifier>>,
) -> String {
    // Our verifier saw the certificate and rejected it: that is the reason, whatever the
    // layers above made of it.
    if let Some(Err(rejected)) = verifier.as_ref().and_then(|v| v.rejection()) {
        return format!(
            "TLS certificate rejected: {}",
            describe_tls_error(&rejected)
        );
    }
    let reason = describe_transport_error(error, authority)
        .unwrap_or_else(|| format!("connect failed: {}", chain(error)));
    // Closed before any certificate arrived: the TLS handshake is what the server cut short
    // (a plaintext server often just hangs up on a ClientHello).
    let closed = ["connection closed by the server", "connection reset"];
    match verifier {
        Some(v) if v.rejection().is_none() && closed.contains(&reason.as_str()) => {
            format!("TLS handshake failed: {reason}")
        }
        _ => reason,
    }
}

/// A transport failure (connecting, or the connection failing under a call) by its cause,
/// when the cause is one a person knows by name; `None` for the rest.
fn describe_transport_error(
    error: &(dyn std::error::Error + 'static),
    authority: &str,
) -> Option<String> {
    let host = authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority);
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(reason) = describe_io_error(io) {
                return Some(reason);
            }
            // tokio-rustls wraps the rustls error in the io error, and io::Error's `source()`
            // skips the wrapped error itself: look inside.
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(format!("TLS handshake failed: {}", describe_tls_error(tls)));
            }
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(format!("TLS handshake failed: {}", describe_tls_error(tls)));
        }
        let text = e.to_string();
        // hyper-util's connector names the step that failed ("dns error"), in two layers
        // (tonic wraps it); the resolver's own words are at the bottom of the chain.
        if text == "dns error" {
            let cause = innermost(e).to_string();
            let cause = cause
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&cause);
            return Some(format!("cannot resolve {host}: {cause}"));
        }
        if text == "HTTP/2 was not negotiated." {
            return Some("TLS handshake failed: the server did not offer HTTP/2 (ALPN h2)".into());
        }
        source = e.source();
    }
    None
}

/// The last error of a chain of causes.
fn innermost<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last
}

/// The io errors that have a short, well-known name; `None` for the rest.
fn describe_io_error(error: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind::*;
    let reason = match error.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset",
        ConnectionAborted | BrokenPipe | UnexpectedEof => "connection closed by the server",
        TimedOut => "connect timed out",
        HostUnreachable | NetworkUnreachable => "no route to host",
        AddrNotAvailable => "address not available",
        _ => return None,
    };
    Some(reason.to_string())
}

/// A rustls error as a person reads it; certificate problems get their own words. Shared
/// with the HTTP/3 probe, whose QUIC handshake fails with the same errors.
pub(super) fn describe_tls_error(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "unknown issuer (not signed by a trusted CA; see tls.ca_file)".to_string()
            }
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "expired on {}",
                day(UNIX_EPOCH + Duration::from_secs(not_after.as_secs()))
            ),
            CertificateError::Expired => "expired".to_string(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not valid yet".to_string()
            }
            CertificateError::BadSignature => "bad signature".to_string(),
            other => other.to_string(),
        },
        // The first bytes back were not a TLS record.
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "the server did not answer in TLS (a plaintext server?)".to_string()
        }
        other => other.to_string(),
    }
}

/// A failed `Health/Check` call, by its status code.
fn describe_status(status: &tonic::Status, service: &str) -> String {
    match status.code() {
        Code::Unimplemented => {
            "unimplemented: the server has no grpc.health.v1 service".to_string()
        }
        Code::NotFound if !service.is_empty() => format!("service {service:?} not found"),
        code => {
            let message = clean_message(status.message());
            if message.is_empty() {
                code_name(code).to_string()
            } else {
                format!("{}: {message}", code_name(code))
            }
        }
    }
}

/// A server's status message fit for an alert: one line, no control characters, bounded.
fn clean_message(message: &str) -> String {
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > MAX_MESSAGE_CHARS {
        let cut: String = trimmed.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
    } else {
        trimmed.to_string()
    }
}

/// The canonical name of a gRPC status code, as the gRPC documentation writes it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and its causes, `: `-joined, without repeats (layers often echo their cause)
/// and without tonic's bare "transport error", which says nothing its causes do not.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if text != "transport error" && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

/// The verifier for a check's `tls`: the WebPKI roots plus `ca_file`, read off the arbiter
/// (file I/O). With `insecure` the file is not read, as for HTTP checks: nothing would trust it.
async fn build_verifier(tls: &TlsSettings) -> Result<Arc<RecordingVerifier>, String> {
    let roots = match (&tls.ca_file, tls.insecure) {
        (Some(path), false) => {
            let path = path.clone();
            actix_rt::task::spawn_blocking(move || crate::tls::roots(Some(&path)))
                .await
                .map_err(|_| "reading the CA file failed".to_string())??
        }
        _ => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    RecordingVerifier::new(roots, tls.insecure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ipv6_addresses_get_brackets() {
        assert_eq!(authority("::1:50051"), "[::1]:50051");
        assert_eq!(authority("[::1]:50051"), "[::1]:50051");
        assert_eq!(authority("127.0.0.1:50051"), "127.0.0.1:50051");
        assert_eq!(authority("grpc.internal:443"), "grpc.internal:443");
    }

    #[test]
    fn status_codes_are_named_and_messages_cleaned() {
        let status = tonic::Status::deadline_exceeded("too\nslow");
        assert_eq!(describe_status(&status, ""), "DEADLINE_EXCEEDED: too slow");
        let status = tonic::Status::not_found("service not registered");
        assert_eq!(
            describe_status(&status, "x.v1.Y"),
            "service \"x.v1.Y\" not found"
        );
        let status = tonic::Status::unimplemented("");
        assert_eq!(
            describe_status(&status, ""),
            "unimplemented: the server has no grpc.health.v1 service"
        );
        let status = tonic::Status::unavailable("");
        assert_eq!(describe_status(&status, ""), "UNAVAILABLE");
        let long = "x".repeat(500);
        assert_eq!(
            clean_message(&long).chars().count(),
            MAX_MESSAGE_CHARS + 1,
            "cut, with an ellipsis"
        );
    }

    const HALF_A_SECOND: Duration = Duration::from_millis(500);

    /// Every gRPC status code.
    const CODES: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// Stands for the layers tonic wraps an error in on its way up (`transport error`).
    #[derive(Debug)]
    struct Layer(Box<dyn Error + Send + Sync>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("transport error")
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    /// What tonic's client makes of its own request timeout expiring, as it makes it.
    fn tonics_timeout() -> tonic::Status {
        tonic::Status::from_error(Box::new(Layer(Box::new(tonic::TimeoutExpired(())))))
    }

    #[test]
    fn tonics_own_timeout_once_the_time_is_up_reads_as_run_checks() {
        let status = tonics_timeout();
        // The cause of the flaky reason: the status reads CANCELLED "Timeout expired" and keeps
        // the expiry as its source, so a match on "no source" never saw it.
        assert_eq!(status.code(), Code::Cancelled);
        assert_eq!(status.message(), "Timeout expired");
        assert!(status.source().is_some());
        assert_eq!(
            describe_call_error(&status, "", "127.0.0.1:1", HALF_A_SECOND, true),
            "timed out after 500ms"
        );
        let bare = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(
            describe_call_error(&bare, "", "127.0.0.1:1", HALF_A_SECOND, true),
            "timed out after 500ms"
        );
        // Before the check's time is up it was some shorter timer, not the check's.
        assert_eq!(
            describe_call_error(&status, "", "127.0.0.1:1", HALF_A_SECOND, false),
            "CANCELLED: Timeout expired"
        );
    }

    #[test]
    fn no_status_from_the_server_is_taken_for_our_timeout() {
        // A tonic server's own limit answers CANCELLED "Timeout expired" on the wire: that is
        // the server's answer, in its words, even when it arrives as the check's time runs out.
        for code in CODES {
            for message in ["Timeout expired", "Deadline Exceeded", ""] {
                let status = tonic::Status::new(code, message);
                let reason =
                    describe_call_error(&status, "x.v1.Y", "127.0.0.1:1", HALF_A_SECOND, true);
                assert_eq!(
                    reason,
                    describe_status(&status, "x.v1.Y"),
                    "{code:?} {message:?}"
                );
                assert!(
                    !reason.starts_with("timed out"),
                    "{code:?} {message:?}: {reason}"
                );
            }
        }
        let status = tonic::Status::cancelled("Timeout expired");
        assert_eq!(
            describe_call_error(&status, "", "127.0.0.1:1", HALF_A_SECOND, true),
            "CANCELLED: Timeout expired"
        );
        let status = tonic::Status::deadline_exceeded("Deadline Exceeded");
        assert_eq!(
            describe_call_error(&status, "", "127.0.0.1:1", HALF_A_SECOND, true),
            "DEADLINE_EXCEEDED: Deadline Exceeded"
        );
    }

    #[actix_rt::test]
    async fn the_connect_timeout_once_the_time_is_up_reads_as_run_checks() {
        let elapsed = tokio::time::timeout(Duration::ZERO, std::future::pending::<()>())
            .await
            .expect_err("a zero timeout on a pending future expires");
        // As hyper-util's connector reports its connect timeout, under tonic's layers.
        let connect = Layer(Box::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            elapsed,
        )));
        assert_eq!(
            ran_out_of_time(&connect, HALF_A_SECOND, true),
            Some(TimedOut(HALF_A_SECOND))
        );
        // The connector's share for one of several addresses: its own words stay.
        assert_eq!(ran_out_of_time(&connect, HALF_A_SECOND, false), None);
        // The kernel giving up on the SYN is no timer of ours.
        let kernel = Layer(Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)));
        assert_eq!(ran_out_of_time(&kernel, HALF_A_SECOND, true), None);
        let refused = Layer(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(ran_out_of_time(&refused, HALF_A_SECOND, true), None);
    }

    /// A gRPC host with `timeout`, at `address`.
    fn host(address: &str, timeout: &str) -> Arc<HostConfiguration> {
        let yaml = format!(
            "hosts:\n  - {{ label: g, type: grpc, address: '{address}', timeout: {timeout} }}\n"
        );
        let config = flowstate_config::load_str("t.yaml", &yaml, &|_| None).expect("valid");
        config.hosts()[0].clone()
    }

    /// Never answers.
    struct Mute;

    impl Probe for Mute {
        fn probe(&self, _: &Arc<HostConfiguration>, _: &CheckContext) -> ProbeFuture {
            Box::pin(std::future::pending())
        }
    }

    #[actix_rt::test]
    async fn the_words_are_run_checks_own() {
        let host = host("127.0.0.1:1", "50ms");
        let result = super::super::run_check(&Mute, &host, CheckContext::untraced()).await;
        assert_eq!(result.detail, TimedOut(host.timeout).to_string());
    }

    #[actix_rt::test]
    async fn a_server_that_never_answers_always_times_out_in_run_checks_words() {
        // Listening, so the kernel accepts the connection, but nobody ever answers. Each
        // round used to be a coin toss between tonic's timer and run_check's.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = silent.local_addr().expect("local address").to_string();
        let host = host(&address, "100ms");
        for round in 0..10 {
            let result = super::super::run_check(&GrpcProbe, &host, CheckContext::untraced()).await;
            assert_eq!(result.detail, "timed out after 100ms", "round {round}");
        }
    }
}
