//! `http_version: alt-svc`: a check over HTTP/1.1 or 2 (as `auto`), then over the HTTP/3
//! endpoint its answer advertises in `Alt-Svc` (RFC 7838), with the same assertions.
//!
//! What browsers do with `Alt-Svc` is why this mode exists: a site that advertises HTTP/3 but
//! whose UDP path is blocked still works over TCP, only slower and after a failed attempt.
//! So a TCP failure is the check's failure as in `auto`, and everything short of two good
//! answers on a TCP answer that passed is `degraded`, never `down`:
//! - no `Alt-Svc` header, or one without `h3`: `degraded` too, since the mode asks that
//!   HTTP/3 be offered (use `auto` to check a site that may not offer it);
//! - no UDP answer to the QUIC handshake, a TLS refusal, a failing status or body over
//!   HTTP/3: `degraded`, with the HTTP/3 reason first and what TCP answered after it.
//!
//! Only the alternative for the configured URL's own origin is used (the first answer's
//! header); a redirect to another origin goes to that origin's own host and port.

use std::time::Duration;

use flowstate_config::HttpCheck;

use super::http::TcpAnswer;
use super::http3::{Alternative, Http3Client, Reach, HANDSHAKE_SHARE};
use super::{CheckContext, ProbeOutcome};

/// The longest part of a server's `Alt-Svc` value quoted in a reason: it ends up in alerts.
const MAX_QUOTED: usize = 80;

/// An `h3` alternative service: where (`host:port`, or `:port` on the origin's host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AltAuthority {
    pub host: Option<String>,
    pub port: u16,
}

impl std::fmt::Display for AltAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(host) if host.contains(':') => write!(f, "[{host}]:{}", self.port),
            Some(host) => write!(f, "{host}:{}", self.port),
            None => write!(f, ":{}", self.port),
        }
    }
}

/// The first `h3` alternative of an `Alt-Svc` value (`h3=":443"; ma=86400, h3-29=":443"`);
/// `None` for `clear`, for drafts only (`h3-29`), and for what cannot be read.
pub fn parse_alt_svc(value: &str) -> Option<AltAuthority> {
    for entry in split_outside_quotes(value, ',') {
        // Parameters (`ma`, `persist`) follow `;`; only the alternative itself matters.
        let alternative = split_outside_quotes(entry, ';').next().unwrap_or("");
        let Some((protocol, authority)) = alternative.split_once('=') else {
            continue;
        };
        if protocol.trim() != "h3" {
            continue;
        }
        let authority = authority.trim().trim_matches('"');
        let Some((host, port)) = authority.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        if port == 0 {
            continue;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = (!host.is_empty()).then(|| host.to_string());
        return Some(AltAuthority { host, port });
    }
    None
}

/// Parts of `text` between `separator`s that are not inside double quotes.
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().map(str::trim)
}

/// The check's verdict from the TCP outcome and, when that passed, the advertised HTTP/3
/// endpoint's: see the module doc for the rules.
pub async fn judge(
    tcp: ProbeOutcome,
    answer: TcpAnswer,
    client: &Http3Client,
    check: &HttpCheck,
    timeout: Duration,
    context: &CheckContext,
) -> ProbeOutcome {
    if !tcp.ok {
        return tcp;
    }
    let version = answer.version.unwrap_or("HTTP");
    let Some(header) = answer.alt_svc else {
        return degraded_beside(
            tcp,
            "no HTTP/3 advertised (the answer has no Alt-Svc header)",
            version,
        );
    };
    let Some(authority) = parse_alt_svc(&header) else {
        let reason = format!(
            "no HTTP/3 advertised (Alt-Svc offers no h3: {})",
            quoted(&header)
        );
        return degraded_beside(tcp, &reason, version);
    };
    // The HTTP/3 attempt must end before run_check's timeout, or the TCP verdict is lost with
    // it: it gets what is left, less a tenth to spare.
    let left = timeout
        .saturating_sub(context.started.elapsed())
        .saturating_sub(timeout / 10);
    if left.is_zero() {
        let reason = format!("HTTP/3 advertised at {authority} but no time left to check it");
        return degraded_beside(tcp, &reason, version);
    }
    let handshake = (timeout / HANDSHAKE_SHARE).min(left);
    let alternative = Alternative {
        origin: check.url.origin(),
        host: authority.host.clone(),
        port: authority.port,
    };
    let attempt = client.check(check, context, handshake, Some(&alternative));
    let Ok(h3) = tokio::time::timeout(left, attempt).await else {
        let reason = format!(
            "HTTP/3 at {authority} did not answer within {}",
            humantime::format_duration(left)
        );
        return degraded_beside(tcp, &reason, version);
    };
    let mut phases = tcp.phases.clone();
    phases.extend(h3.outcome.phases.iter().copied());
    let mut outcome = match h3.reach {
        Reach::NoUdpAnswer(waited) => {
            let reason = format!(
                "HTTP/3 advertised at {authority} but no UDP answer within {}",
                humantime::format_duration(waited)
            );
            degraded_beside(tcp, &reason, version)
        }
        _ if !h3.outcome.ok || h3.outcome.degraded => {
            let reason = format!("HTTP/3 at {authority}: {}", h3.outcome.detail);
            degraded_beside(tcp, &reason, version)
        }
        _ => {
            let timings = h3.timings.map(|t| format!(": {t}")).unwrap_or_default();
            ProbeOutcome {
                detail: format!(
                    "{} over {version} and HTTP/3 (HTTP/3 at {authority}{timings})",
                    tcp.detail
                ),
                ..tcp
            }
        }
    };
    outcome.phases = phases;
    outcome
}

/// `degraded` with `reason` first and what TCP answered after it; the TCP outcome's
/// certificate date and phases are kept.
fn degraded_beside(tcp: ProbeOutcome, reason: &str, version: &str) -> ProbeOutcome {
    ProbeOutcome {
        ok: true,
        degraded: true,
        detail: format!("{reason}; {version} answered {}", tcp.detail),
        ..tcp
    }
}

/// A header value fit for a reason: one line, bounded.
fn quoted(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > MAX_QUOTED {
        let cut: String = clean.chars().take(MAX_QUOTED).collect();
        format!("{cut}…")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(host: Option<&str>, port: u16) -> Option<AltAuthority> {
        Some(AltAuthority {
            host: host.map(str::to_string),
            port,
        })
    }

    #[test]
    fn the_first_h3_alternative_is_read_with_or_without_a_host() {
        assert_eq!(
            parse_alt_svc(r#"h3=":443"; ma=86400, h3-29=":443""#),
            at(None, 443)
        );
        assert_eq!(
            parse_alt_svc(r#"h2="alt.example:443", h3="edge.example:8443"; ma=3600; persist=1"#),
            at(Some("edge.example"), 8443)
        );
        assert_eq!(parse_alt_svc(r#"h3="[::1]:4433""#), at(Some("::1"), 4433));
        // A quoted parameter may hold the separators.
        assert_eq!(
            parse_alt_svc(r#"h3=":4433"; note="a, b; c=d", h3=":9""#),
            at(None, 4433)
        );
    }

    #[test]
    fn no_usable_h3_alternative_reads_as_none() {
        for value in [
            "clear",
            r#"h3-29=":443""#,
            r#"h2=":443""#,
            r#"h3="no-port""#,
            r#"h3=":0""#,
            r#"h3=":99999""#,
            "",
        ] {
            assert_eq!(parse_alt_svc(value), None, "{value}");
        }
    }

    #[test]
    fn an_authority_prints_as_it_is_advertised() {
        assert_eq!(
            at(None, 4433).map(|a| a.to_string()).as_deref(),
            Some(":4433")
        );
        assert_eq!(
            at(Some("::1"), 4433).map(|a| a.to_string()).as_deref(),
            Some("[::1]:4433")
        );
    }

    #[test]
    fn a_degraded_reason_names_http3_first_then_what_tcp_answered() {
        let mut tcp = ProbeOutcome::passed("status 200");
        tcp.cert_not_after = Some(std::time::UNIX_EPOCH);
        let outcome = degraded_beside(
            tcp,
            "HTTP/3 advertised at :4433 but no UDP answer within 2s",
            "HTTP/2",
        );
        assert!(outcome.ok && outcome.degraded);
        assert_eq!(
            outcome.detail,
            "HTTP/3 advertised at :4433 but no UDP answer within 2s; HTTP/2 answered status 200"
        );
        assert_eq!(outcome.cert_not_after, Some(std::time::UNIX_EPOCH));
    }

    #[actix_rt::test]
    async fn a_failed_tcp_check_is_the_verdict_and_no_header_is_degraded() {
        let yaml =
            "hosts:\n  - { label: edge, url: 'https://127.0.0.1:1/', http_version: alt-svc }\n";
        let config = flowstate_config::load_str("t.yaml", yaml, &|_| None).expect("valid");
        let flowstate_config::Check::Http(check) = &config.hosts()[0].check else {
            panic!("an HTTP check");
        };
        let client = Http3Client::new();
        let context = CheckContext::untraced();
        let timeout = Duration::from_secs(5);
        let down = ProbeOutcome::failed("connection refused");
        let outcome = judge(
            down.clone(),
            TcpAnswer::default(),
            &client,
            check,
            timeout,
            &context,
        )
        .await;
        assert_eq!(outcome, down);
        let answer = TcpAnswer {
            version: Some("HTTP/1.1"),
            alt_svc: None,
            status_code: Some(200),
        };
        let up = ProbeOutcome::passed("status 200");
        let outcome = judge(up, answer, &client, check, timeout, &context).await;
        assert!(outcome.degraded, "{outcome:?}");
        assert_eq!(
            outcome.detail,
            "no HTTP/3 advertised (the answer has no Alt-Svc header); HTTP/1.1 answered status 200"
        );
    }
}
