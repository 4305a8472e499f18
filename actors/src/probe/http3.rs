//! HTTP/3 requests for HTTP checks (`http_version: 3`, and the second half of `alt-svc`):
//! QUIC with quinn, HTTP/3 framing with h3, TLS with rustls on ring, as every other check.
//!
//! Every check makes a fresh QUIC connection and closes it when done (the `Connection: close`
//! of HTTP/1), so a server that stops accepting is seen at once. The UDP socket is not fresh:
//! one quinn [`Endpoint`] per thread and address family serves every check on that thread,
//! as awc's client does for TCP. Trust roots are read once per `tls.ca_file`; the rustls
//! config itself is made per handshake, because its [`RecordingVerifier`] keeps what that
//! handshake saw: the reason a certificate was refused (reasons in the gRPC probe's words)
//! and the server's certificate, whose expiry comes with every check at no extra cost (unlike
//! awc, the handshake's certificate is at hand, so `expiry_check_every` spaces nothing here).
//!
//! The QUIC handshake has a deadline of its own, a share of the check's timeout, so that a
//! blocked UDP path reads as such (`QUIC handshake with 127.0.0.1:4433 timed out after 2s (no
//! UDP answer)`) instead of [`super::run_check`]'s plain "timed out", which still bounds the
//! whole check. A server that answered some of the handshake and then stalled is told apart.
//! ICMP "port unreachable" is not reported by quinn's sockets, so a closed port also reads as
//! "no UDP answer".
//!
//! Redirects, status, body, headers, `auth` and URL userinfo follow the HTTP probe's rules
//! (`http.rs`): 303 (and 301/302 after a POST) become a GET, credentials go to the configured
//! origin only. A redirect to an `http://` URL cannot be followed over QUIC and fails.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::{Buf, Bytes};
use flowstate_config::host::HttpAuth;
use flowstate_config::secret::redact_url;
use flowstate_config::HttpCheck;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, LOCATION, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ConnectionError, Endpoint, IdleTimeout, TransportConfig};
use rustls::RootCertStore;
use url::Url;

use super::cert_expiry::{degrade_if_expiring, not_after_of};
use super::grpc::describe_tls_error;
use super::http::USER_AGENT_VALUE;
use super::resolve::lookup;
use super::{CheckContext, Phase, PhaseKind, ProbeOutcome};
use crate::tls::RecordingVerifier;

/// The QUIC handshake gets this fraction of the check's timeout (1/2): enough for a slow
/// server, and the rest is left for the request.
pub const HANDSHAKE_SHARE: u32 = 2;

/// TLS alert `no_application_protocol`, as QUIC carries it (0x100 + the alert).
const NO_APPLICATION_PROTOCOL: u64 = 0x100 + 120;

/// A QUIC connection that is closed normally (HTTP/3's `H3_NO_ERROR`).
const H3_NO_ERROR: u32 = 0x100;

/// The HTTP/3 side of one probe thread: its UDP endpoints and trust roots. Cheap to clone:
/// a check's future keeps a clone.
#[derive(Clone, Default)]
pub struct Http3Client {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bound on first use (inside the thread's runtime), one per address family: a `[::]`
    /// socket would fail on hosts without IPv6.
    v4: RefCell<Option<Endpoint>>,
    v6: RefCell<Option<Endpoint>>,
    /// The WebPKI roots plus each `tls.ca_file`, read once per file.
    roots: RefCell<HashMap<Option<PathBuf>, Arc<RootCertStore>>>,
}

/// How an HTTP/3 attempt ended, for what `alt-svc` makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The server answered over HTTP/3, whatever the verdict on the answer.
    Answered,
    /// Nothing answered the QUIC handshake within its time: UDP blocked, or nothing there.
    NoUdpAnswer(Duration),
    /// The attempt failed otherwise (TLS, the server closing, a stream error, resolving).
    Failed,
}

/// The QUIC handshake's and the request's times of the answer that was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub handshake: Duration,
    /// From sending the request to its response headers.
    pub first_byte: Duration,
}

impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "handshake {} ms, first byte {} ms",
            self.handshake.as_millis(),
            self.first_byte.as_millis()
        )
    }
}

/// An HTTP/3 check's outcome, and how far it got.
#[derive(Debug)]
pub struct Http3Result {
    pub outcome: ProbeOutcome,
    pub reach: Reach,
    pub timings: Option<Timings>,
}

/// Where requests to one origin go instead of its own host and port: an alternative service
/// (`Alt-Svc: h3="alt.example:4433"`). The TLS name stays the origin's (RFC 7838 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub origin: url::Origin,
    /// `None`: the origin's own host (`h3=":4433"`).
    pub host: Option<String>,
    pub port: u16,
}

/// A request that could not be exchanged, with how far it got.
struct Failure {
    reason: String,
    reach: Reach,
}

impl Failure {
    fn failed(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            reach: Reach::Failed,
        }
    }
}

/// One QUIC connection and its HTTP/3 driver; dropping it closes the connection at once, also
/// when the check's future is dropped by its timeout.
struct Session {
    connection: quinn::Connection,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.connection.close(H3_NO_ERROR.into(), b"");
        self.driver.abort();
    }
}

/// The response headers of one request, and the stream its body comes on.
struct Answer {
    status: u16,
    headers: HeaderMap,
    stream: h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    timings: Timings,
    leaf: Option<Vec<u8>>,
    _session: Session,
}

impl Http3Client {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `check` over HTTP/3: the request chain, judged as the HTTP probe judges it, with
    /// the certificate of the judged answer's handshake. `handshake_limit` bounds each QUIC
    /// handshake; `alternative` redirects connections to its origin.
    pub async fn check(
        &self,
        check: &HttpCheck,
        context: &CheckContext,
        handshake_limit: Duration,
        alternative: Option<&Alternative>,
    ) -> Http3Result {
        let mut phases = Vec::new();
        let mut result = self
            .chain(check, context, handshake_limit, alternative, &mut phases)
            .await;
        result.outcome.phases = phases;
        result
    }

    async fn chain(
        &self,
        check: &HttpCheck,
        context: &CheckContext,
        handshake_limit: Duration,
        alternative: Option<&Alternative>,
        phases: &mut Vec<Phase>,
    ) -> Http3Result {
        let failed = |failure: Failure| Http3Result {
            outcome: ProbeOutcome::failed(failure.reason),
            reach: failure.reach,
            timings: None,
        };
        let Ok(mut method) = Method::from_bytes(check.method.as_bytes()) else {
            return failed(Failure::failed(format!("invalid method {}", check.method)));
        };
        let traceparent = context.traceparent();
        let mut url = check.url.clone();
        let mut body = check.body.clone();
        let mut redirects = 0;
        loop {
            let exchange = Exchange {
                check,
                url: &url,
                method: &method,
                body: body.clone(),
                traceparent: traceparent.as_deref(),
                alternative: alternative.filter(|a| a.origin == url.origin()),
                handshake_limit,
            };
            let mut answer = match self.exchange(&exchange, context, phases).await {
                Ok(answer) => answer,
                Err(failure) => return failed(failure),
            };
            let code = answer.status;
            let location = answer
                .headers
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok());
            let is_redirect = (300..400).contains(&code);
            if let (true, true, Some(next)) = (check.follow_redirects, is_redirect, &location) {
                redirects += 1;
                if redirects > check.max_redirects {
                    return failed(Failure::failed(format!(
                        "too many redirects (more than {}), last to {}",
                        check.max_redirects,
                        redact_url(next)
                    )));
                }
                if next.scheme() != "https" {
                    return failed(Failure::failed(format!(
                        "redirect to {} cannot be followed over HTTP/3 (not https)",
                        redact_url(next)
                    )));
                }
                // As browsers do: 303, and 301/302 after a POST, become a GET without a body.
                if code == 303 || ((code == 301 || code == 302) && method == Method::POST) {
                    method = Method::GET;
                    body = None;
                }
                url = next.clone();
                continue;
            }
            let timings = answer.timings;
            let mut outcome = judge_answer(check, &mut answer, context, phases, location).await;
            outcome.status_code = Some(code);
            if let Some(not_after) = answer.leaf.as_deref().and_then(|l| not_after_of(l).ok()) {
                outcome.cert_not_after = Some(not_after);
                degrade_if_expiring(
                    &mut outcome,
                    not_after,
                    check.tls.expiry_warning,
                    SystemTime::now(),
                );
            }
            return Http3Result {
                outcome,
                reach: Reach::Answered,
                timings: Some(timings),
            };
        }
    }

    /// Resolves, connects and sends one request; returns its response headers.
    async fn exchange(
        &self,
        exchange: &Exchange<'_>,
        context: &CheckContext,
        phases: &mut Vec<Phase>,
    ) -> Result<Answer, Failure> {
        let url = exchange.url;
        let origin_host = url
            .host_str()
            .ok_or_else(|| Failure::failed(format!("{} has no host", redact_url(url))))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let (host, port) = match exchange.alternative {
            Some(alt) => (alt.host.clone().unwrap_or(origin_host.clone()), alt.port),
            None => (
                origin_host.clone(),
                url.port_or_known_default().unwrap_or(443),
            ),
        };

        let resolving = Instant::now();
        let addresses = lookup(&host, port).await;
        phases.push(context.phase_since(PhaseKind::Resolve, resolving));
        // QUIC has no connect to fail fast on: the first address is the one tried.
        let peer = addresses.map_err(Failure::failed)?[0];

        let roots = self
            .roots(exchange.check)
            .map_err(|e| Failure::failed(format!("cannot use tls.ca_file: {e}")))?;
        let verifier = RecordingVerifier::with_roots(roots, exchange.check.tls.insecure)
            .map_err(Failure::failed)?;
        let config =
            client_config(verifier.clone(), exchange.handshake_limit).map_err(Failure::failed)?;
        let endpoint = self
            .endpoint(peer)
            .map_err(|e| Failure::failed(format!("cannot open a UDP socket for QUIC: {e}")))?;

        let shaking = Instant::now();
        let connection = handshake(
            &endpoint,
            config,
            peer,
            &origin_host,
            exchange.handshake_limit,
            &verifier,
        )
        .await;
        phases.push(context.phase_since(PhaseKind::Handshake, shaking));
        let connection = connection?;
        let handshake_took = shaking.elapsed();

        let (mut driver, mut sender) =
            h3::client::new(h3_quinn::Connection::new(connection.clone()))
                .await
                .map_err(|e| Failure::failed(format!("HTTP/3 setup failed: {e}")))?;
        // The driver reads the server's control streams (SETTINGS, GOAWAY) while the request
        // runs; the session aborts it and closes the connection when the check is done.
        let driver = actix_rt::spawn(async move {
            let _ = poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let session = Session { connection, driver };

        let request = build_request(exchange)?;
        let sending = Instant::now();
        let response = async {
            let mut stream = sender.send_request(request).await?;
            if let Some(body) = &exchange.body {
                stream.send_data(Bytes::from(body.clone())).await?;
            }
            stream.finish().await?;
            let response = stream.recv_response().await?;
            Ok::<_, h3::error::StreamError>((response, stream))
        }
        .await;
        phases.push(context.phase_since(PhaseKind::Request, sending));
        let (response, stream) =
            response.map_err(|e| Failure::failed(format!("HTTP/3 request failed: {e}")))?;
        Ok(Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            stream,
            timings: Timings {
                handshake: handshake_took,
                first_byte: sending.elapsed(),
            },
            leaf: verifier.leaf(),
            _session: session,
        })
    }

    /// The thread's endpoint for `peer`'s address family, bound on first use.
    fn endpoint(&self, peer: SocketAddr) -> std::io::Result<Endpoint> {
        let (slot, any) = if peer.is_ipv6() {
            (&self.inner.v6, SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))
        } else {
            (&self.inner.v4, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        };
        if let Some(endpoint) = slot.borrow().as_ref() {
            return Ok(endpoint.clone());
        }
        let endpoint = Endpoint::client(any)?;
        *slot.borrow_mut() = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// The WebPKI roots plus `tls.ca_file`'s certificates; a file that cannot be read is read
    /// again next time (it may be fixed), as the HTTP probe does.
    fn roots(&self, check: &HttpCheck) -> Result<Arc<RootCertStore>, String> {
        let key = check.tls.ca_file.clone();
        if let Some(roots) = self.inner.roots.borrow().get(&key) {
            return Ok(roots.clone());
        }
        let roots = Arc::new(crate::tls::roots(key.as_deref())?);
        self.inner.roots.borrow_mut().insert(key, roots.clone());
        Ok(roots)
    }
}

/// One request of a chain, and where it goes.
struct Exchange<'a> {
    check: &'a HttpCheck,
    url: &'a Url,
    method: &'a Method,
    body: Option<String>,
    traceparent: Option<&'a str>,
    alternative: Option<&'a Alternative>,
    handshake_limit: Duration,
}

/// QUIC's TLS: 1.3 only, ALPN `h3`, our recording verifier.
fn client_config(
    verifier: Arc<RecordingVerifier>,
    idle: Duration,
) -> Result<quinn::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|e| format!("QUIC setup failed: {e}"))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    // A server that goes silent after the handshake ends the connection within the check's
    // time rather than quinn's 30 s default; the check's timeout still bounds the request.
    let mut transport = TransportConfig::default();
    transport.max_idle_timeout(IdleTimeout::try_from(idle.max(Duration::from_millis(100))).ok());
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// The QUIC handshake with `peer`, bounded by `limit`: first until the server's first
/// handshake flight (telling "no UDP answer" apart), then until it completes.
async fn handshake(
    endpoint: &Endpoint,
    config: quinn::ClientConfig,
    peer: SocketAddr,
    server_name: &str,
    limit: Duration,
    verifier: &RecordingVerifier,
) -> Result<quinn::Connection, Failure> {
    let began = Instant::now();
    let mut connecting = endpoint
        .connect_with(config, peer, server_name)
        .map_err(|e| Failure::failed(format!("cannot start QUIC with {peer}: {e}")))?;
    match tokio::time::timeout(limit, connecting.handshake_data()).await {
        Err(_) => {
            return Err(Failure {
                reason: no_udp_answer(peer, limit),
                reach: Reach::NoUdpAnswer(limit),
            })
        }
        Ok(Err(e)) => {
            return Err(Failure::failed(describe_handshake_error(
                &e,
                peer,
                verifier.rejection(),
            )))
        }
        Ok(Ok(_)) => {}
    }
    let rest = limit.saturating_sub(began.elapsed());
    match tokio::time::timeout(rest, connecting).await {
        Err(_) => Err(Failure::failed(format!(
            "QUIC handshake with {peer} did not complete within {} (the server answered, then went silent)",
            humantime::format_duration(limit)
        ))),
        Ok(Err(e)) => Err(Failure::failed(describe_handshake_error(
            &e,
            peer,
            verifier.rejection(),
        ))),
        Ok(Ok(connection)) => Ok(connection),
    }
}

/// The reason for a handshake nothing answered.
pub fn no_udp_answer(peer: SocketAddr, limit: Duration) -> String {
    format!(
        "QUIC handshake with {peer} timed out after {} (no UDP answer)",
        humantime::format_duration(limit)
    )
}

/// Why a QUIC handshake failed; a certificate our verifier refused is the reason, whatever
/// the transport made of it.
fn describe_handshake_error(
    error: &ConnectionError,
    peer: SocketAddr,
    verdict: Option<Result<(), rustls::Error>>,
) -> String {
    if let Some(Err(rejected)) = verdict {
        return format!(
            "TLS certificate rejected: {}",
            describe_tls_error(&rejected)
        );
    }
    match error {
        ConnectionError::VersionMismatch => format!(
            "QUIC handshake with {peer} failed: the server speaks no QUIC version we do (version negotiation failed)"
        ),
        ConnectionError::ConnectionClosed(close)
            if u64::from(close.error_code) == NO_APPLICATION_PROTOCOL =>
        {
            "the server does not offer HTTP/3 (ALPN h3)".to_string()
        }
        ConnectionError::ConnectionClosed(close)
            if (0x100..0x200).contains(&u64::from(close.error_code)) =>
        {
            format!("TLS handshake failed: the server refused it ({close})")
        }
        // Our own TLS stack ended the handshake (the reason is rustls's).
        ConnectionError::TransportError(e) if (0x100..0x200).contains(&u64::from(e.code)) => {
            format!("TLS handshake failed: {}", e.reason)
        }
        ConnectionError::ConnectionClosed(close) => {
            format!("QUIC handshake with {peer} failed: closed by the server ({close})")
        }
        ConnectionError::Reset => format!("QUIC handshake with {peer} failed: reset by the server"),
        ConnectionError::TimedOut => format!("QUIC handshake with {peer} timed out"),
        other => format!("QUIC handshake with {peer} failed: {other}"),
    }
}

/// The request's headers, as the HTTP probe sends them (`send` in `http.rs`).
fn build_request(exchange: &Exchange<'_>) -> Result<Request<()>, Failure> {
    let url = exchange.url;
    let check = exchange.check;
    let same_origin = url.origin() == check.url.origin();
    let (target, credentials) = super::http::split_userinfo(url);
    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    if let Some(traceparent) = exchange.traceparent {
        insert(&mut headers, "traceparent", traceparent)?;
    }
    for header in &check.headers {
        // Credentials are not handed to another origin a redirect points at.
        if header.sensitive && !same_origin {
            continue;
        }
        insert(&mut headers, &header.name, &header.value)?;
    }
    // As written in the URL, as the HTTP probe (awc) sends it.
    if let (Some((user, password)), true) = (credentials, same_origin) {
        let value = basic(&user, &password.unwrap_or_default());
        insert(&mut headers, AUTHORIZATION.as_str(), &value)?;
    }
    // `auth` goes to the configured origin only, like credential headers.
    match (&check.auth, same_origin) {
        (Some(HttpAuth::Basic { username, password }), true) => {
            let value = basic(username, password.expose());
            insert(&mut headers, AUTHORIZATION.as_str(), &value)?;
        }
        (Some(HttpAuth::Bearer(token)), true) => {
            let value = format!("Bearer {}", token.expose());
            insert(&mut headers, AUTHORIZATION.as_str(), &value)?;
        }
        _ => {}
    }
    let mut request = Request::builder()
        .method(exchange.method.clone())
        .uri(target.as_str())
        .body(())
        .map_err(|e| Failure::failed(format!("invalid request: {e}")))?;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Sets a header, replacing one of the same name (as awc's `insert_header` does).
fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), Failure> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Failure::failed(format!("invalid header name {name}")))?;
    // The value is not shown: it may be a credential.
    let value = HeaderValue::from_str(value)
        .map_err(|_| Failure::failed(format!("invalid value for header {name}")))?;
    headers.insert(name, value);
    Ok(())
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// Judges the final answer: status, then the body against `regex`.
async fn judge_answer(
    check: &HttpCheck,
    answer: &mut Answer,
    context: &CheckContext,
    phases: &mut Vec<Phase>,
    location: Option<Url>,
) -> ProbeOutcome {
    let code = answer.status;
    let timings = answer.timings;
    if !check.status.accepts(code) {
        let mut reason = format!("status {code} over HTTP/3, expected {}", check.status);
        if let (true, Some(next)) = ((300..400).contains(&code), location) {
            reason.push_str(&format!(" (redirect to {})", redact_url(&next)));
        }
        return ProbeOutcome::failed(reason);
    }
    let Some(_) = &check.regex else {
        return ProbeOutcome::passed(format!("status {code} over HTTP/3 ({timings})"));
    };
    let declared_length = answer
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let reading = Instant::now();
    let body = read_body(&mut answer.stream, check.max_body_bytes).await;
    phases.push(context.phase_since(PhaseKind::Body, reading));
    let body = match body {
        Ok(b) => b,
        Err(reason) => return ProbeOutcome::failed(reason),
    };
    let truncated = body.len() >= check.max_body_bytes;
    if let Some(expected) = declared_length {
        if !truncated && body.len() < expected {
            return ProbeOutcome::failed(format!(
                "body ended after {} of {expected} bytes",
                body.len()
            ));
        }
    }
    super::http::judge_body(check, &body, truncated).unwrap_or_else(|| {
        ProbeOutcome::passed(format!(
            "status {code} over HTTP/3, body matches ({timings})"
        ))
    })
}

/// Reads at most `limit` bytes of the body.
async fn read_body(
    stream: &mut h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while body.len() < limit {
        let chunk = stream
            .recv_data()
            .await
            .map_err(|e| format!("reading the body failed after {} bytes: {e}", body.len()))?;
        let Some(mut chunk) = chunk else { break };
        while chunk.has_remaining() && body.len() < limit {
            let part = chunk.chunk();
            let take = part.len().min(limit - body.len());
            body.extend_from_slice(&part[..take]);
            chunk.advance(take);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_read_in_milliseconds() {
        let timings = Timings {
            handshake: Duration::from_micros(3_400),
            first_byte: Duration::from_micros(5_900),
        };
        assert_eq!(timings.to_string(), "handshake 3 ms, first byte 5 ms");
    }

    #[test]
    fn a_silent_handshake_names_the_peer_and_the_missing_answer() {
        let peer: SocketAddr = "127.0.0.1:4433".parse().expect("an address");
        assert_eq!(
            no_udp_answer(peer, Duration::from_secs(2)),
            "QUIC handshake with 127.0.0.1:4433 timed out after 2s (no UDP answer)"
        );
    }

    #[test]
    fn handshake_failures_keep_their_own_words() {
        let peer: SocketAddr = "127.0.0.1:4433".parse().expect("an address");
        let rejected = Some(Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )));
        assert_eq!(
            describe_handshake_error(&ConnectionError::TimedOut, peer, rejected),
            "TLS certificate rejected: unknown issuer (not signed by a trusted CA; see tls.ca_file)"
        );
        assert_eq!(
            describe_handshake_error(&ConnectionError::VersionMismatch, peer, None),
            "QUIC handshake with 127.0.0.1:4433 failed: the server speaks no QUIC version we do (version negotiation failed)"
        );
        assert_eq!(
            describe_handshake_error(&ConnectionError::Reset, peer, Some(Ok(()))),
            "QUIC handshake with 127.0.0.1:4433 failed: reset by the server"
        );
    }

    #[test]
    fn basic_auth_is_the_standard_encoding() {
        // `printf %s monitor:p@ss | base64`
        assert_eq!(basic("monitor", "p@ss"), "Basic bW9uaXRvcjpwQHNz");
    }

    /// A UDP socket that never answers: the probe gives up after its handshake share, well
    /// before the check's own timeout, with the phases it went through.
    #[actix_rt::test]
    async fn a_port_that_never_answers_fails_the_handshake_in_its_own_time() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        let port = silent.local_addr().expect("its address").port();
        let yaml = format!(
            "hosts:\n  - {{ label: edge, url: 'https://127.0.0.1:{port}/', http_version: 3 }}\n"
        );
        let config = flowstate_config::load_str("t.yaml", &yaml, &|_| None).expect("valid");
        let flowstate_config::Check::Http(check) = &config.hosts()[0].check else {
            panic!("an HTTP check");
        };
        let context = CheckContext::untraced();
        let limit = Duration::from_millis(300);
        let result = Http3Client::new().check(check, &context, limit, None).await;
        assert_eq!(result.reach, Reach::NoUdpAnswer(limit));
        assert_eq!(
            result.outcome.detail,
            format!("QUIC handshake with 127.0.0.1:{port} timed out after 300ms (no UDP answer)")
        );
        let kinds: Vec<PhaseKind> = result.outcome.phases.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [PhaseKind::Resolve, PhaseKind::Handshake]);
        assert!(result.outcome.phases[1].took >= limit);
        drop(silent);
    }
}
