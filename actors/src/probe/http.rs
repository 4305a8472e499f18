//! The HTTP(S) probe: one request (following redirects when asked), judged by status and body.
//!
//! Every check opens a fresh connection (`Connection: close`) unless `keepalive: true`, so a
//! server that stops accepting connections is seen as down rather than hidden behind a pooled
//! one. awc's own timeouts stop at the response headers and its connector defaults to 5 s, so
//! they are set out of the way and [`super::run_check`] bounds the whole check instead. The
//! body is read only when a regex needs it, and only up to `max_body_bytes`.
//!
//! TLS: one client per distinct (`tls.ca_file`, `tls.insecure`, `http_version`) on each
//! thread, since trust and ALPN live in the connector. The certificate's expiry is read by
//! [`super::cert_expiry`] (awc never shows the peer certificate) at most once per
//! `tls.expiry_check_every`; one expiring within `tls.expiry_warning` makes the host
//! `degraded`, and the date goes to `flowstate_tls_cert_not_after_timestamp_seconds`.
//!
//! `http_version: 3` goes to [`super::http3`] instead of awc, and `alt-svc` runs the awc
//! check and then hands its outcome to [`super::alt_svc`] (both with the `http3` feature).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix_web::error::ParseError;
use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header::{CONTENT_LENGTH, LOCATION, USER_AGENT};
use awc::http::Method;
use flowstate_config::host::{HttpAuth, HttpVersion};
use flowstate_config::secret::redact_url;
use flowstate_config::{Check, HostConfiguration, HttpCheck};
use futures_util::StreamExt;
use url::Url;

use super::cert_expiry::{day, degrade_if_expiring, ExpiryCache};
use super::{CheckContext, Phase, PhaseKind, Probe, ProbeFuture, ProbeOutcome};

/// Longer than any check's timeout: the real bound is [`super::run_check`]'s.
const OUT_OF_THE_WAY: Duration = Duration::from_secs(24 * 3600);

pub(super) const USER_AGENT_VALUE: &str = concat!("flowstate/", env!("CARGO_PKG_VERSION"));

pub struct HttpProbe {
    /// Clients by trust and protocol settings; most hosts share the default one.
    clients: RefCell<HashMap<ClientProfile, awc::Client>>,
    expiry: ExpiryCache,
    #[cfg(feature = "http3")]
    http3: super::http3::Http3Client,
}

/// What the answer over TCP told besides its verdict: its status (for the check's span) and
/// what an `alt-svc` check needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpAnswer {
    /// `HTTP/2`, `HTTP/1.1`: the version of the last answer.
    pub version: Option<&'static str>,
    /// The `Alt-Svc` header of the configured URL's own answer (before any redirect).
    pub alt_svc: Option<String>,
    /// The status of the last answer.
    pub status_code: Option<u16>,
}

/// What a client's connector is built from.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientProfile {
    ca_file: Option<PathBuf>,
    insecure: bool,
    version: HttpVersion,
}

impl HttpProbe {
    pub fn new() -> Self {
        HttpProbe {
            clients: RefCell::new(HashMap::new()),
            expiry: ExpiryCache::default(),
            #[cfg(feature = "http3")]
            http3: super::http3::Http3Client::new(),
        }
    }

    /// The client for `check`'s TLS and version settings, built on first use.
    fn client(&self, check: &HttpCheck) -> Result<awc::Client, String> {
        let profile = ClientProfile {
            ca_file: check.tls.ca_file.clone(),
            insecure: check.tls.insecure,
            // `alt-svc` speaks TCP as `auto` does (and `3` never comes here): one client.
            version: match check.http_version {
                HttpVersion::AltSvc | HttpVersion::Three => HttpVersion::Auto,
                other => other,
            },
        };
        if let Some(client) = self.clients.borrow().get(&profile) {
            return Ok(client.clone());
        }
        let alpn: &[&[u8]] = match profile.version {
            HttpVersion::Auto | HttpVersion::AltSvc | HttpVersion::Three => {
                crate::tls::ALPN_H2_AND_HTTP1
            }
            HttpVersion::One => &[b"http/1.1"],
            HttpVersion::Two => &[b"h2"],
        };
        let tls =
            crate::tls::check_client_config(profile.ca_file.as_deref(), profile.insecure, alpn)
                .map_err(|e| format!("cannot use tls.ca_file: {e}"))?;
        let connector = awc::Connector::new()
            .rustls_0_23(Arc::new(tls))
            // No connection limit: waiting for a pool slot would count against the timeout
            // and show up as false outages under load.
            .limit(0)
            .timeout(OUT_OF_THE_WAY)
            .handshake_timeout(OUT_OF_THE_WAY);
        let client = awc::Client::builder()
            .connector(connector)
            .disable_redirects()
            .timeout(OUT_OF_THE_WAY)
            .finish();
        self.clients.borrow_mut().insert(profile, client.clone());
        Ok(client)
    }
}

impl Default for HttpProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe for HttpProbe {
    fn forget(&self, label: &str) {
        self.expiry.forget(label);
    }

    fn probe(&self, host: &Arc<HostConfiguration>, context: &CheckContext) -> ProbeFuture {
        let host = host.clone();
        let Check::Http(check) = &host.check else {
            let kind = host.check.kind();
            return Box::pin(
                async move { ProbeOutcome::failed(format!("not an HTTP check: {kind}")) },
            );
        };
        if check.http_version.uses_http3() && !cfg!(feature = "http3") {
            // The config refuses it in such a build; this only keeps a bypass from panicking.
            return Box::pin(async move {
                ProbeOutcome::failed(
                    "this flowstate was built without HTTP/3 (cargo feature `http3`)",
                )
            });
        }
        #[cfg(feature = "http3")]
        if check.http_version == HttpVersion::Three {
            let http3 = self.http3.clone();
            let context = *context;
            return Box::pin(async move {
                let Check::Http(check) = &host.check else {
                    return ProbeOutcome::failed("not an HTTP check");
                };
                let handshake = host.timeout / super::http3::HANDSHAKE_SHARE;
                http3.check(check, &context, handshake, None).await.outcome
            });
        }
        let client = match self.client(check) {
            Ok(client) => client,
            Err(reason) => return Box::pin(async move { ProbeOutcome::failed(reason) }),
        };
        let expiry = self.expiry.clone();
        let context = *context;
        #[cfg(feature = "http3")]
        let http3 = self.http3.clone();
        Box::pin(async move {
            let Check::Http(check) = &host.check else {
                return ProbeOutcome::failed("not an HTTP check");
            };
            let mut answer = TcpAnswer::default();
            let (outcome, ended) = check_http(&client, check, &context, &mut answer).await;
            let outcome = judge_certificate(outcome, ended, &host, check, &expiry).await;
            #[cfg(feature = "http3")]
            if check.http_version == HttpVersion::AltSvc {
                return super::alt_svc::judge(
                    outcome,
                    answer,
                    &http3,
                    check,
                    host.timeout,
                    &context,
                )
                .await;
            }
            outcome
        })
    }
}

/// Adds what the certificate says to an HTTPS check's outcome: its expiry for the metric, a
/// warning when it is near, and the date when the request failed because it passed.
async fn judge_certificate(
    mut outcome: ProbeOutcome,
    ended: Ended,
    host: &Arc<HostConfiguration>,
    check: &HttpCheck,
    expiry: &ExpiryCache,
) -> ProbeOutcome {
    if check.url.scheme() != "https" {
        return outcome;
    }
    let (Some(server), Some(port)) = (check.url.host_str(), check.url.port_or_known_default())
    else {
        return outcome;
    };
    let server = server.trim_start_matches('[').trim_end_matches(']');
    let Some(not_after) = expiry
        .not_after(&host.label, server, port, check.tls.expiry_check_every)
        .await
    else {
        return outcome;
    };
    outcome.cert_not_after = Some(not_after);
    let now = SystemTime::now();
    if !outcome.ok {
        if not_after < now && ended == Ended::InTlsHandshake {
            outcome.detail = format!(
                "certificate expired on {} ({})",
                day(not_after),
                outcome.detail
            );
        }
        return outcome;
    }
    degrade_if_expiring(&mut outcome, not_after, check.tls.expiry_warning, now);
    outcome
}

/// Where a request chain ended, for what is added to its outcome afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// An answer was judged, or the request failed outside a TLS handshake.
    Otherwise,
    /// The TLS handshake failed (rustls refused the server or its certificate).
    InTlsHandshake,
}

/// Runs the request chain, and says whether it ended in a TLS handshake.
async fn check_http(
    client: &awc::Client,
    check: &HttpCheck,
    context: &CheckContext,
    answer: &mut TcpAnswer,
) -> (ProbeOutcome, Ended) {
    let mut phases = Vec::new();
    let chain = request_chain(client, check, context, &mut phases, answer).await;
    let (mut outcome, ended) = match chain {
        Ok(outcome) => (outcome, Ended::Otherwise),
        Err((error, url)) => {
            let ended = match tls_error(&error) {
                Some(_) => Ended::InTlsHandshake,
                None => Ended::Otherwise,
            };
            let outcome = ProbeOutcome::failed(describe_send_error(&error, &url, check));
            (outcome, ended)
        }
    };
    outcome.phases = phases;
    outcome.status_code = answer.status_code;
    (outcome, ended)
}

/// Runs the request chain and judges the final answer; a request that could not be sent
/// comes back with the URL it was sent to.
///
/// Each request's wait for its answer is a `request` phase (awc connects inside it, so
/// connect and TLS are not told apart) and each body read a `body` phase.
async fn request_chain(
    client: &awc::Client,
    check: &HttpCheck,
    context: &CheckContext,
    phases: &mut Vec<Phase>,
    answer: &mut TcpAnswer,
) -> Result<ProbeOutcome, (SendRequestError, Url)> {
    let traceparent = context.traceparent();
    let mut url = check.url.clone();
    let mut method = match Method::from_bytes(check.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            return Ok(ProbeOutcome::failed(format!(
                "invalid method {}",
                check.method
            )))
        }
    };
    let mut body = check.body.clone();
    let mut redirects = 0;
    loop {
        let sent = Instant::now();
        let response = send(
            client,
            check,
            &url,
            &method,
            body.clone(),
            traceparent.as_deref(),
        )
        .await;
        phases.push(context.phase_since(PhaseKind::Request, sent));
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return Err((e, url)),
        };
        let code = response.status().as_u16();
        answer.status_code = Some(code);
        answer.version = Some(version_name(response.version()));
        if redirects == 0 {
            answer.alt_svc = response
                .headers()
                .get("alt-svc")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
        }
        if check.http_version == HttpVersion::Two
            && response.version() != awc::http::Version::HTTP_2
        {
            return Ok(ProbeOutcome::failed(format!(
                "the server answered with {:?}, not HTTP/2 (http_version: \"2\")",
                response.version()
            )));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        if let (true, true, Some(next)) = (
            check.follow_redirects,
            response.status().is_redirection(),
            location.clone(),
        ) {
            redirects += 1;
            if redirects > check.max_redirects {
                return Ok(ProbeOutcome::failed(format!(
                    "too many redirects (more than {}), last to {}",
                    check.max_redirects,
                    redact_url(&next)
                )));
            }
            // As browsers do: 303, and 301/302 after a POST, become a GET without a body.
            if code == 303 || ((code == 301 || code == 302) && method == Method::POST) {
                method = Method::GET;
                body = None;
            }
            url = next;
            continue;
        }
        if !check.status.accepts(code) {
            let mut reason = format!("status {code}, expected {}", check.status);
            if let (true, Some(next)) = (response.status().is_redirection(), location) {
                reason.push_str(&format!(" (redirect to {})", redact_url(&next)));
            }
            return Ok(ProbeOutcome::failed(reason));
        }
        let Some(_) = &check.regex else {
            if check.keepalive {
                // awc returns a connection to its pool only once the body was read to its
                // end; an unread body would make every check open a new one.
                let reading = Instant::now();
                let _ = read_body(&mut response, check.max_body_bytes).await;
                phases.push(context.phase_since(PhaseKind::Body, reading));
            }
            return Ok(ProbeOutcome::passed(format!("status {code}")));
        };
        let declared_length = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let reading = Instant::now();
        let body = read_body(&mut response, check.max_body_bytes).await;
        phases.push(context.phase_since(PhaseKind::Body, reading));
        let body = match body {
            Ok(b) => b,
            Err(reason) => return Ok(ProbeOutcome::failed(reason)),
        };
        let truncated = body.len() >= check.max_body_bytes;
        if let Some(expected) = declared_length {
            // awc returns a body cut short by a closed connection as if it were complete.
            if !truncated && body.len() < expected {
                return Ok(ProbeOutcome::failed(format!(
                    "body ended after {} of {expected} bytes",
                    body.len()
                )));
            }
        }
        return Ok(judge_body(check, &body, truncated)
            .unwrap_or_else(|| ProbeOutcome::passed(format!("status {code}, body matches"))));
    }
}

fn send(
    client: &awc::Client,
    check: &HttpCheck,
    url: &Url,
    method: &Method,
    body: Option<String>,
    traceparent: Option<&str>,
) -> awc::SendClientRequest {
    let same_origin = url.origin() == check.url.origin();
    let (target, credentials) = split_userinfo(url);
    let mut request = client
        .request(method.clone(), target.as_str())
        .timeout(OUT_OF_THE_WAY)
        .insert_header((USER_AGENT, USER_AGENT_VALUE));
    if !check.keepalive {
        request = request.force_close();
    }
    if let Some(traceparent) = traceparent {
        request = request.insert_header(("traceparent", traceparent));
    }
    for header in &check.headers {
        // Credentials are not handed to another origin a redirect points at.
        if header.sensitive && !same_origin {
            continue;
        }
        request = request.insert_header((header.name.as_str(), header.value.as_str()));
    }
    if let (Some((user, password)), true) = (credentials, same_origin) {
        request = request.basic_auth(user, password.unwrap_or_default());
    }
    // `auth` goes to the configured origin only, like credential headers.
    match (&check.auth, same_origin) {
        (Some(HttpAuth::Basic { username, password }), true) => {
            request = request.basic_auth(username, password.expose());
        }
        (Some(HttpAuth::Bearer(token)), true) => {
            request = request.bearer_auth(token.expose());
        }
        _ => {}
    }
    match body {
        Some(b) => request.send_body(b),
        None => request.send(),
    }
}

/// An HTTP version as reasons name it.
fn version_name(version: awc::http::Version) -> &'static str {
    match version {
        awc::http::Version::HTTP_09 => "HTTP/0.9",
        awc::http::Version::HTTP_10 => "HTTP/1.0",
        awc::http::Version::HTTP_11 => "HTTP/1.1",
        awc::http::Version::HTTP_2 => "HTTP/2",
        awc::http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP",
    }
}

/// The failure of a body that `check.regex` does not match (`truncated`: only its first
/// `max_body_bytes` were read), or `None` when it matches; HTTP/1.1, 2 and 3 alike.
pub(super) fn judge_body(check: &HttpCheck, body: &[u8], truncated: bool) -> Option<ProbeOutcome> {
    let regex = check.regex.as_ref()?;
    if regex.is_match(&String::from_utf8_lossy(body)) {
        None
    } else if truncated {
        Some(ProbeOutcome::failed(format!(
            "body does not match /{}/ (first {} bytes read)",
            regex.as_str(),
            check.max_body_bytes
        )))
    } else {
        Some(ProbeOutcome::failed(format!(
            "body does not match /{}/",
            regex.as_str()
        )))
    }
}

/// `url` without its userinfo, and the user and password it held: userinfo becomes Basic
/// auth and never goes on the wire as part of the URL (HTTP/1.1, 2 and 3 alike).
pub(super) fn split_userinfo(url: &Url) -> (Url, Option<(String, Option<String>)>) {
    let credentials = (!url.username().is_empty()).then(|| {
        (
            url.username().to_string(),
            url.password().map(str::to_string),
        )
    });
    let mut target = url.clone();
    let _ = target.set_username("");
    let _ = target.set_password(None);
    (target, credentials)
}

/// Reads at most `limit` bytes of the body.
async fn read_body<S>(
    response: &mut awc::ClientResponse<S>,
    limit: usize,
) -> Result<Vec<u8>, String>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, PayloadError>> + Unpin,
{
    let mut body = Vec::new();
    while let Some(chunk) = response.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Incomplete(_) => format!("body ended early after {} bytes", body.len()),
            other => format!("reading the body failed: {other}"),
        })?;
        let chunk = chunk.as_ref();
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

/// A failure reason a person understands at a glance.
fn describe_send_error(error: &SendRequestError, url: &Url, check: &HttpCheck) -> String {
    if check.http_version == HttpVersion::Two
        && matches!(
            tls_error(error),
            Some(
                rustls::Error::NoApplicationProtocol
                    | rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
            )
        )
    {
        return "the server does not offer HTTP/2 (ALPN h2)".to_string();
    }
    describe_send_failure(error, url)
}

/// The rustls error that ended a request in its TLS handshake, if one did: rustls reports
/// through the I/O error of the connection, as its `InvalidData` source.
fn tls_error(error: &SendRequestError) -> Option<&rustls::Error> {
    let io = match error {
        SendRequestError::Connect(ConnectError::Io(e)) | SendRequestError::Send(e) => e,
        _ => return None,
    };
    if io.kind() != std::io::ErrorKind::InvalidData {
        return None;
    }
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What a server that hung up without answering reads as (curl: "Empty reply from server").
pub const CLOSED_BEFORE_RESPONSE: &str = "connection closed before any response";

fn describe_send_failure(error: &SendRequestError, url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match error {
        // awc reports the end of the stream while it waits for the response head as its
        // connector being "disconnected": the connection was made, the server hung up.
        SendRequestError::Connect(ConnectError::Disconnected) => CLOSED_BEFORE_RESPONSE.to_string(),
        // A server that closes at once gets our request after its close, and its kernel
        // answers that with a reset: whether the client then reads the end of the stream, a
        // reset, or fails to write depends only on timing, so all read the same.
        SendRequestError::Send(e) | SendRequestError::Response(ParseError::Io(e)) if hung_up(e) => {
            CLOSED_BEFORE_RESPONSE.to_string()
        }
        SendRequestError::Connect(ConnectError::Io(e)) => describe_io_error(e, url),
        SendRequestError::Connect(ConnectError::Resolver(e)) => {
            format!("cannot resolve {host}: {e}")
        }
        SendRequestError::Connect(ConnectError::NoRecords) => {
            format!("cannot resolve {host}: no addresses")
        }
        SendRequestError::Connect(ConnectError::Timeout) => "connect timed out".to_string(),
        SendRequestError::Connect(other) => format!("connect failed: {other}"),
        SendRequestError::Timeout => "timed out waiting for the response".to_string(),
        SendRequestError::Send(e) => describe_io_error(e, url),
        SendRequestError::Response(e) => format!("invalid HTTP response: {e}"),
        SendRequestError::H2(e) => format!("HTTP/2 error: {e}"),
        SendRequestError::Http(e) => format!("invalid request: {e}"),
        other => format!("request failed: {other}"),
    }
}

/// Whether an I/O error means the peer closed (or reset) the connection.
fn hung_up(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

fn describe_io_error(error: &std::io::Error, url: &Url) -> String {
    use std::io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused => "connection refused".to_string(),
        ConnectionReset => "connection reset".to_string(),
        ConnectionAborted | BrokenPipe | UnexpectedEof => {
            "connection closed by the server".to_string()
        }
        TimedOut => "connect timed out".to_string(),
        HostUnreachable | NetworkUnreachable => "no route to host".to_string(),
        AddrNotAvailable => "address not available".to_string(),
        // rustls reports certificate and handshake problems as invalid data.
        InvalidData if url.scheme() == "https" => format!("TLS handshake failed: {error}"),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:8080/health").expect("a valid URL")
    }

    #[test]
    fn a_server_hanging_up_before_answering_reads_as_such() {
        let cases = [
            SendRequestError::Connect(ConnectError::Disconnected),
            SendRequestError::Response(ParseError::Io(io::ErrorKind::ConnectionReset.into())),
            SendRequestError::Response(ParseError::Io(io::ErrorKind::UnexpectedEof.into())),
            SendRequestError::Send(io::ErrorKind::BrokenPipe.into()),
        ];
        for error in &cases {
            assert_eq!(
                describe_send_failure(error, &url()),
                CLOSED_BEFORE_RESPONSE,
                "{error:?}"
            );
        }
    }

    #[test]
    fn connect_failures_keep_their_own_words() {
        let refused =
            SendRequestError::Connect(ConnectError::Io(io::ErrorKind::ConnectionRefused.into()));
        assert_eq!(
            describe_send_failure(&refused, &url()),
            "connection refused"
        );
        let garbage = SendRequestError::Response(ParseError::Status);
        assert_eq!(
            describe_send_failure(&garbage, &url()),
            "invalid HTTP response: invalid status provided"
        );
    }
}
