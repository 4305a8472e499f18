//! `flowstate health`: one request to a running daemon's `/healthz` (or `/readyz` with
//! `--ready`), for probes that can only run a program: Docker's `HEALTHCHECK`, Nomad, cron.
//!
//! Exit 0 when the daemon answers 200, 1 otherwise (refused, timed out, any other status), with
//! one line saying why: on stdout when healthy, on stderr when not. A URL that is not one is bad
//! input (2). `/healthz` and `/readyz` stay open when `server.token` is set, so no token.

use std::process::ExitCode;
use std::time::Duration;

use awc::http::Uri;

use super::{exit, BadInput};
use crate::cli::HealthArgs;
use crate::output;

/// The most of an answer's body that is read and shown: the daemon sends one short line.
const BODY_LIMIT: usize = 64 * 1024;

pub fn run(args: &HealthArgs) -> Result<ExitCode, BadInput> {
    let path = if args.ready { "/readyz" } else { "/healthz" };
    let url = probe_url(&args.api, path)?;
    match ask(&url, args.timeout) {
        Ok(line) => {
            output::print_line(&format!("healthy: {line}"))?;
            Ok(exit::success())
        }
        Err(line) => {
            eprintln!("unhealthy: {line}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `base` (`http://host:port`, maybe with a trailing `/`) joined with `path`, checked.
fn probe_url(base: &str, path: &str) -> Result<String, BadInput> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let uri: Uri = url.parse().map_err(|e| {
        BadInput(format!(
            "--api {base:?} is not a URL ({e}); expected e.g. http://127.0.0.1:9900"
        ))
    })?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(url),
        _ => Err(BadInput(format!(
            "--api {base:?} is not an http(s) URL; expected e.g. http://127.0.0.1:9900"
        ))),
    }
}

/// GETs `url` within `timeout` (connect, headers and body): what it answered when that is 200,
/// else why not, each as one line.
fn ask(url: &str, timeout: Duration) -> Result<String, String> {
    let runtime = actix_rt::System::new();
    runtime.block_on(async {
        let request = async {
            let client = awc::Client::builder().timeout(timeout).finish();
            let mut response = client.get(url).send().await.map_err(|e| {
                format!(
                    "cannot reach {url}: {e}; is `flowstate run` listening there? (set --api or $FLOWSTATE_API)"
                )
            })?;
            let status = response.status();
            let body = response
                .body()
                .limit(BODY_LIMIT)
                .await
                .map_err(|e| format!("{url} answered {}, then: {e}", status.as_u16()))?;
            let said = first_line(&body);
            if status.as_u16() == 200 {
                Ok(format!("{url} answered 200 {said}").trim_end().to_string())
            } else {
                Err(format!("{url} answered {}: {said}", status.as_u16())
                    .trim_end()
                    .to_string())
            }
        };
        actix_rt::time::timeout(timeout, request)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{url} did not answer within {}",
                    humantime::format_duration(timeout)
                ))
            })
    })
}

/// The first line of a body, trimmed and bounded, for a one-line reason.
fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_url_joins_base_and_path() {
        let url = probe_url("http://127.0.0.1:9900/", "/healthz").map_err(|e| e.0);
        assert_eq!(url, Ok("http://127.0.0.1:9900/healthz".to_string()));
    }

    #[test]
    fn probe_url_refuses_what_is_not_an_http_url() {
        for base in ["127.0.0.1:9900", "ftp://example.com", "not a url"] {
            assert!(probe_url(base, "/healthz").is_err(), "{base}");
        }
    }

    #[test]
    fn first_line_is_bounded() {
        assert_eq!(
            first_line(b"not ready: starting\nmore\n"),
            "not ready: starting"
        );
        assert_eq!(first_line(&[b'x'; 500]).len(), 200);
        assert_eq!(first_line(b""), "");
    }
}
