//! The `tcp` check: a connection to `host:port`, optionally a line protocol exchange.
//!
//! The host is up when a connection opens. With `send`, that text is written once connected;
//! with `expect`, the first bytes the peer sends (up to [`EXPECT_LIMIT`]) must match the regex:
//! reading stops as soon as they do, when the peer closes, or when the limit is reached. The
//! timeout is [`super::run_check`]'s, over the whole check (lookup, connect, exchange): dropping
//! the future closes the socket, so nothing is left behind.
//!
//! A host name is resolved with the system resolver (`getaddrinfo`, as every other client on
//! the machine sees it), and each of its addresses is tried in turn until one connects.
//! Reasons name what went wrong the way an operator says it: `connection refused`,
//! `no route to host`, `cannot resolve db.internal: ...`, `expect did not match: got "..."`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_rt::net::TcpStream;
use flowstate_config::{Check, HostConfiguration, TcpCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::resolve::lookup;
use super::{CheckContext, Phase, PhaseKind, Probe, ProbeFuture, ProbeOutcome};
use crate::process::describe_io_error;

/// How much of the peer's first bytes `expect` is matched against: a banner or a short reply,
/// not a stream.
const EXPECT_LIMIT: usize = 4096;

/// The longest quote of what the peer sent in a reason, in characters after escaping: enough
/// to recognise a banner, short enough for an alert.
const QUOTE_LIMIT: usize = 100;

#[derive(Default)]
pub struct TcpProbe;

impl TcpProbe {
    pub fn new() -> Self {
        TcpProbe
    }
}

impl Probe for TcpProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, context: &CheckContext) -> ProbeFuture {
        let host = host.clone();
        let context = *context;
        Box::pin(async move {
            match &host.check {
                Check::Tcp(check) => {
                    let mut phases = Vec::with_capacity(2);
                    let mut outcome = check_tcp(check, &context, &mut phases).await;
                    outcome.phases = phases;
                    outcome
                }
                other => ProbeOutcome::failed(format!("not a TCP check: {}", other.kind())),
            }
        })
    }
}

/// Connects, then exchanges `send` and `expect` if set.
async fn check_tcp(
    check: &TcpCheck,
    context: &CheckContext,
    phases: &mut Vec<Phase>,
) -> ProbeOutcome {
    let Some((name, port)) = split_address(&check.address) else {
        // Validation rejects these; this only guards a hand-built config.
        return ProbeOutcome::failed(format!("`{}` is not host:port", check.address));
    };
    let resolving = Instant::now();
    let addresses = lookup(name, port).await;
    phases.push(context.phase_since(PhaseKind::Resolve, resolving));
    let addresses = match addresses {
        Ok(addresses) => addresses,
        Err(reason) => return ProbeOutcome::failed(reason),
    };
    let connecting = Instant::now();
    let connected = connect(&addresses).await;
    phases.push(context.phase_since(PhaseKind::Connect, connecting));
    let (mut stream, connected_in) = match connected {
        Ok(connected) => connected,
        Err(reason) => return ProbeOutcome::failed(reason),
    };
    let connected = format!("connected in {}", milliseconds(connected_in));

    if let Some(send) = &check.send {
        if let Err(e) = stream.write_all(send.as_bytes()).await {
            return ProbeOutcome::failed(format!("{connected}, cannot send: {}", describe(&e)));
        }
    }
    let Some(expect) = &check.expect else {
        return ProbeOutcome::passed(match &check.send {
            Some(send) => format!("{connected}, sent {} bytes", send.len()),
            None => connected,
        });
    };

    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let room = (EXPECT_LIMIT - received.len()).min(chunk.len());
        let read = stream.read(&mut chunk[..room]).await;
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                let mut reason = format!("{} while waiting for expect", describe(&e));
                if !received.is_empty() {
                    reason.push_str(&format!(" (got {})", quote(&received)));
                }
                return ProbeOutcome::failed(reason);
            }
        };
        received.extend_from_slice(&chunk[..n]);
        // Matched against the text with invalid UTF-8 replaced (U+FFFD): binary bytes, or a
        // multi-byte character cut in two by a read, do not stop a match in the text around.
        if expect.is_match(&String::from_utf8_lossy(&received)) {
            return ProbeOutcome::passed(format!("{connected}, expect matched"));
        }
        if n == 0 {
            return ProbeOutcome::failed(if received.is_empty() {
                "expect did not match: the connection closed with nothing received".to_string()
            } else {
                format!("expect did not match: got {}", quote(&received))
            });
        }
        if received.len() >= EXPECT_LIMIT {
            return ProbeOutcome::failed(format!(
                "expect did not match: got {} (first {EXPECT_LIMIT} bytes read)",
                quote(&received)
            ));
        }
    }
}

/// `host:port` or `[v6]:port` split into the host (without brackets) and the port.
fn split_address(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.trim().rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port.parse().ok()?;
    (!host.is_empty()).then_some((host, port))
}

/// Tries each address in turn; the first connection wins, with how long it took to open.
///
/// When every address fails the same way the reason is that one (`connection refused`);
/// otherwise each address says how it failed, so a half-broken dual-stack host is visible.
async fn connect(addresses: &[SocketAddr]) -> Result<(TcpStream, Duration), String> {
    let mut failures: Vec<(SocketAddr, String)> = Vec::new();
    for address in addresses {
        let started = Instant::now();
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok((stream, started.elapsed())),
            Err(e) => failures.push((*address, describe(&e))),
        }
    }
    let first = failures.first().map(|(_, reason)| reason.clone());
    match first {
        Some(reason) if failures.iter().all(|(_, r)| *r == reason) => Err(reason),
        _ => Err(failures
            .iter()
            .map(|(address, reason)| format!("{address}: {reason}"))
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// A socket error in an operator's words.
fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        // The kernel gave up on the SYN (ETIMEDOUT), before the check's own timeout did.
        io::ErrorKind::TimedOut => "timed out".to_string(),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            "no route to host".to_string()
        }
        io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
        _ => {
            // `Broken pipe` → `broken pipe`, to read like the others.
            let text = describe_io_error(error);
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

/// `0.4 ms`: a latency as the other probes print it.
fn milliseconds(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// What the peer sent, for a reason: double-quoted, escaped like a Rust string (`\r\n`, `\"`,
/// `\u{1b}`), and cut to [`QUOTE_LIMIT`] characters, with `…` after the quote when cut.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut quoted = String::from("\"");
    let mut cut = false;
    for c in text.chars() {
        let escaped: String = c.escape_debug().collect();
        // An escape is kept whole or not at all.
        if quoted.chars().count() + escaped.chars().count() > QUOTE_LIMIT {
            cut = true;
            break;
        }
        quoted.push_str(&escaped);
    }
    quoted.push('"');
    if cut {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(
            split_address("db.internal:5432"),
            Some(("db.internal", 5432))
        );
        assert_eq!(split_address("[::1]:443"), Some(("::1", 443)));
        assert_eq!(split_address("127.0.0.1:22"), Some(("127.0.0.1", 22)));
        assert_eq!(split_address("db.internal"), None);
        assert_eq!(split_address(":80"), None);
        assert_eq!(split_address("db:http"), None);
    }

    #[test]
    fn quotes_escape_control_characters_and_quotes() {
        assert_eq!(
            quote(b"SSH-2.0-OpenSSH_9.6\r\n"),
            r#""SSH-2.0-OpenSSH_9.6\r\n""#
        );
        assert_eq!(quote(b"say \"hi\"\x1b"), r#""say \"hi\"\u{1b}""#);
        assert_eq!(quote(b"caf\xc3\xa9 \xff"), "\"café \u{fffd}\"");
    }

    #[test]
    fn long_quotes_are_cut_without_splitting_an_escape() {
        let long = quote(&[b'x'; 500]);
        assert_eq!(long, format!("\"{}\"…", "x".repeat(QUOTE_LIMIT - 1)));
        // 98 characters and then `\n` (two): the escape does not fit, so it is left out whole.
        let mut bytes = vec![b'y'; QUOTE_LIMIT - 2];
        bytes.extend_from_slice(b"\n\n");
        assert_eq!(
            quote(&bytes),
            format!("\"{}\"…", "y".repeat(QUOTE_LIMIT - 2))
        );
    }

    #[test]
    fn socket_errors_read_as_words() {
        let os = |errno: rustix::io::Errno| io::Error::from_raw_os_error(errno.raw_os_error());
        use rustix::io::Errno;
        assert_eq!(describe(&os(Errno::CONNREFUSED)), "connection refused");
        assert_eq!(describe(&os(Errno::TIMEDOUT)), "timed out");
        assert_eq!(describe(&os(Errno::HOSTUNREACH)), "no route to host");
        assert_eq!(describe(&os(Errno::NETUNREACH)), "no route to host");
        assert_eq!(describe(&os(Errno::PIPE)), "broken pipe");
    }

    #[actix_rt::test]
    async fn an_ip_literal_is_not_looked_up() {
        assert_eq!(
            lookup("::1", 80).await,
            Ok(vec!["[::1]:80".parse().expect("an address")])
        );
    }

    #[actix_rt::test]
    async fn every_address_is_tried_until_one_connects() {
        let listener = actix_rt::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("address");
        let closed = {
            let spare = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            spare.local_addr().expect("address")
        };
        let (_, took) = connect(&[closed, open]).await.expect("the second connects");
        assert!(took < Duration::from_secs(5), "{took:?}");
        let error = connect(&[closed, closed]).await.expect_err("both refused");
        assert_eq!(error, "connection refused");
    }
}
