//! A webhook receiver's answer: its status, `Retry-After` and body, judged as every notifier
//! that posts JSON over HTTP judges them (`notify::webhook::{retry_after_value, quote, judge}`).
//!
//! Input: two bytes of status, one byte giving the length of the `Retry-After` value, that
//! value, then the body. Invariants: no panic; `Retry-After` is whole seconds as written
//! (digits, around blanks); the quoted body is one line (the log's) of at most the quoted
//! length; 408, 429, 3xx and 5xx are retried with the receiver's wait, other statuses given
//! up without one; the message names the status.
#![no_main]

use awc::http::header::HeaderValue;
use awc::http::StatusCode;
use flowstate_actors::notify::webhook::{judge, quote, retry_after_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [s1, s2, length, rest @ ..] = data else {
        return;
    };
    let Ok(status) = StatusCode::from_u16(u16::from_be_bytes([*s1, *s2]) % 1000) else {
        return;
    };
    let (value, body) = rest.split_at(usize::from(*length).min(rest.len()));
    let retry_after = HeaderValue::from_bytes(value)
        .ok()
        .and_then(|value| retry_after_value(&value));
    if let Some(wait) = retry_after {
        let text = std::str::from_utf8(value)
            .expect("a read value is text")
            .trim();
        let digits = text.strip_prefix('+').unwrap_or(text);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
        assert_eq!(digits.parse::<u64>().ok(), Some(wait.as_secs()));
    }
    let quoted = quote(body);
    assert!(!quoted.contains(['\n', '\r']), "{quoted:?}");
    assert!(quoted.len() <= 3 * body.len().min(200), "{quoted:?}");
    let error = judge(status, retry_after, "https://hooks.example.com", &quoted);
    let retried = status.is_server_error()
        || status.is_redirection()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT;
    assert_eq!(error.is_retryable(), retried, "{status}");
    assert_eq!(error.retry_after(), retry_after.filter(|_| retried));
    assert!(error
        .message()
        .contains(&format!("status {}", status.as_u16())));
});
