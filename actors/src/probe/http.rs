//! The HTTP(S) probe: one request (following redirects when asked), judged by status and body.
//!
//! Every check opens a fresh connection (`Connection: close`), so a server that stops
//! accepting connections is seen as down rather than hidden behind a pooled one. awc's own
//! timeouts stop at the response headers and its connector defaults to 5 s, so they are set
//! out of the way and [`super::run_check`] bounds the whole check instead. The body is read
//! only when a regex needs it, and only up to `max_body_bytes`.

use std::sync::Arc;
use std::time::Duration;

use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header::{CONTENT_LENGTH, LOCATION, USER_AGENT};
use awc::http::Method;
use flowstate_config::secret::redact_url;
use flowstate_config::{Check, HostConfiguration, HttpCheck};
use futures_util::StreamExt;
use url::Url;

use super::{Probe, ProbeFuture, ProbeOutcome};

/// Longer than any check's timeout: the real bound is [`super::run_check`]'s.
const OUT_OF_THE_WAY: Duration = Duration::from_secs(24 * 3600);

const USER_AGENT_VALUE: &str = concat!("flowstate/", env!("CARGO_PKG_VERSION"));

pub struct HttpProbe {
    client: awc::Client,
}

impl HttpProbe {
    pub fn new() -> Self {
        let tls = crate::tls::webpki_client_config();
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
        HttpProbe { client }
    }
}

impl Default for HttpProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe for HttpProbe {
    fn probe(&self, host: &Arc<HostConfiguration>) -> ProbeFuture {
        let client = self.client.clone();
        let host = host.clone();
        Box::pin(async move {
            match &host.check {
                Check::Http(check) => check_http(&client, check).await,
                other => ProbeOutcome::failed(format!("not an HTTP check: {}", other.kind())),
            }
        })
    }
}

/// Runs the request chain and judges the final answer.
async fn check_http(client: &awc::Client, check: &HttpCheck) -> ProbeOutcome {
    let mut url = check.url.clone();
    let mut method = match Method::from_bytes(check.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return ProbeOutcome::failed(format!("invalid method {}", check.method)),
    };
    let mut body = check.body.clone();
    let mut redirects = 0;
    loop {
        let response = send(client, check, &url, &method, body.clone()).await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return ProbeOutcome::failed(describe_send_error(&e, &url)),
        };
        let code = response.status().as_u16();
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
                return ProbeOutcome::failed(format!(
                    "too many redirects (more than {}), last to {}",
                    check.max_redirects,
                    redact_url(&next)
                ));
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
            return ProbeOutcome::failed(reason);
        }
        let Some(regex) = &check.regex else {
            return ProbeOutcome::passed(format!("status {code}"));
        };
        let declared_length = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = match read_body(&mut response, check.max_body_bytes).await {
            Ok(b) => b,
            Err(reason) => return ProbeOutcome::failed(reason),
        };
        let truncated = body.len() >= check.max_body_bytes;
        if let Some(expected) = declared_length {
            // awc returns a body cut short by a closed connection as if it were complete.
            if !truncated && body.len() < expected {
                return ProbeOutcome::failed(format!(
                    "body ended after {} of {expected} bytes",
                    body.len()
                ));
            }
        }
        let text = String::from_utf8_lossy(&body);
        return if regex.is_match(&text) {
            ProbeOutcome::passed(format!("status {code}, body matches"))
        } else if truncated {
            ProbeOutcome::failed(format!(
                "body does not match /{}/ (first {} bytes read)",
                regex.as_str(),
                check.max_body_bytes
            ))
        } else {
            ProbeOutcome::failed(format!("body does not match /{}/", regex.as_str()))
        };
    }
}

fn send(
    client: &awc::Client,
    check: &HttpCheck,
    url: &Url,
    method: &Method,
    body: Option<String>,
) -> awc::SendClientRequest {
    let same_origin = url.origin() == check.url.origin();
    let mut target = url.clone();
    let credentials = (!url.username().is_empty()).then(|| {
        (
            url.username().to_string(),
            url.password().map(str::to_string),
        )
    });
    // Userinfo becomes Basic auth and never goes on the wire as part of the URL.
    let _ = target.set_username("");
    let _ = target.set_password(None);
    let mut request = client
        .request(method.clone(), target.as_str())
        .force_close()
        .timeout(OUT_OF_THE_WAY)
        .insert_header((USER_AGENT, USER_AGENT_VALUE));
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
    match body {
        Some(b) => request.send_body(b),
        None => request.send(),
    }
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
fn describe_send_error(error: &SendRequestError, url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match error {
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
