//! What every page shares: the document around its content (language, viewport, the hashed
//! assets, a skip link, the header with the logout button when logged in), the security
//! headers of an HTML answer, and how a status, a time and an availability are written.

use std::time::{Duration, SystemTime};

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::assets::{CSS, JS};
use crate::model::Status;

/// What the header shows besides the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chrome {
    /// No login in play (no `server.token`, or the bearer header was used).
    Plain,
    /// Logged in with a session: the header offers to log out.
    LoggedIn,
}

/// A whole page: `title` (the part before "· flowstate"), `main` its content inside `<main>`,
/// with `host` set on a host's page (the script follows that host).
pub fn page(title: &str, chrome: Chrome, host: Option<&str>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · flowstate" }
                link rel="stylesheet" href=(CSS.path);
                script src=(JS.path) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "flowstate" }
                    nav aria-label="main" {
                        a href="/" { "Dashboard" }
                        @if chrome == Chrome::LoggedIn {
                            form method="post" action="/logout" {
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main #main data-host=[host] { (main) }
            }
        }
    }
}

/// An HTML answer with the headers every page carries: no caching of live data, no framing,
/// and a content policy that allows only the daemon's own files (no inline script at all).
pub fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
        .body(markup.into_string())
}

/// A status as a word with its symbol, coloured by its class: never colour alone.
pub fn status_badge(status: Status) -> Markup {
    html! { span class={ "status " (status.as_str()) } { (symbol(status)) " " (status.as_str()) } }
}

/// The symbol that goes with a status word (the script uses the same).
pub fn symbol(status: Status) -> &'static str {
    match status {
        Status::Up => "✓",
        Status::Degraded => "!",
        Status::Down => "✕",
        Status::Unreachable => "⊘",
        Status::Unknown => "?",
    }
}

/// Worst first: how the status column sorts.
pub fn rank(status: Status) -> u8 {
    match status {
        Status::Down => 0,
        Status::Unreachable => 1,
        Status::Degraded => 2,
        Status::Unknown => 3,
        Status::Up => 4,
    }
}

/// An RFC 3339 time as people read it: `2026-12-07 14:52:14 UTC` (the text as given when it
/// is not one).
pub fn readable_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// How long ago, in at most two units: `3d 4h`, `5m 2s`, `0s`.
pub fn ago(then: SystemTime, now: SystemTime) -> String {
    short_duration(now.duration_since(then).unwrap_or_default())
}

/// A duration in at most two units: `3d 4h`, `5m 2s`, `0s`.
pub fn short_duration(duration: Duration) -> String {
    let mut left = duration.as_secs();
    let mut parts = Vec::new();
    for (unit, length) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if left >= length || (unit == "s" && parts.is_empty()) {
            parts.push(format!("{}{unit}", left / length));
            left %= length;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// A label as one segment of a path: everything but unreserved characters percent-encoded,
/// so `/` `?` `#` and spaces in a label cannot change where a link goes.
pub fn path_segment(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for byte in label.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The link to a host's page.
pub fn host_href(label: &str) -> String {
    format!("/hosts/{}", path_segment(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_two_units() {
        assert_eq!(short_duration(Duration::ZERO), "0s");
        assert_eq!(short_duration(Duration::from_secs(62)), "1m 2s");
        assert_eq!(
            short_duration(Duration::from_secs(3 * 86_400 + 4 * 3600 + 5)),
            "3d 4h"
        );
        assert_eq!(short_duration(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn times_read_as_date_time_utc() {
        assert_eq!(
            readable_time("2026-12-07T14:52:14.549Z"),
            "2026-12-07 14:52:14 UTC"
        );
        assert_eq!(readable_time("soon"), "soon");
    }

    #[test]
    fn labels_stay_one_path_segment() {
        assert_eq!(host_href("api"), "/hosts/api");
        assert_eq!(host_href("a/b c?#"), "/hosts/a%2Fb%20c%3F%23");
        assert_eq!(host_href("é"), "/hosts/%C3%A9");
    }

    #[test]
    fn a_status_is_a_word_and_a_symbol() {
        let badge = status_badge(Status::Down).into_string();
        assert_eq!(badge, r#"<span class="status down">✕ down</span>"#);
    }
}
