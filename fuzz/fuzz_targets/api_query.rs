//! The API's query strings, decoded as actix-web's `Query` decodes them and checked as the
//! history routes check them: `/uptime` (`UptimeQuery::parse`), `/series`
//! (`SeriesQuery::parse`) and `/api/v1/events` (`parse_events`, RFC 3339 times with
//! offsets).
//!
//! The input is one query string, given to all three. Invariants: no panic; an accepted
//! window is longer than 0, at most the retention, and what its text says; an accepted
//! series has `from < to` and a step of at least 1 s; when a series has too many points, the
//! step the error suggests is accepted for the same range (the message promises it); an
//! accepted event limit is 1..=1000; an accepted `since`, written back in RFC 3339, reads
//! back to the same instant.
#![no_main]

use std::time::{Duration, SystemTime};

use flowstate_actors::api::history::{parse_events, QueryError, SeriesQuery, UptimeQuery};
use libfuzzer_sys::fuzz_target;

/// A fixed "now", so runs are reproducible: 2027-01-15T08:00:00Z.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_799_999_200)
}

const RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// `query` with its `step` replaced by `step`.
fn with_step(query: &str, step: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "step" {
            out.append_pair(&key, &value);
        }
    }
    out.append_pair("step", step);
    out.finish()
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(uptime) = UptimeQuery::parse(query, RETENTION) {
        assert!(!uptime.window.is_zero() && uptime.window <= RETENTION);
        assert_eq!(
            humantime::parse_duration(&uptime.window_text).ok(),
            Some(uptime.window)
        );
    }
    match SeriesQuery::parse(query, now()) {
        Ok(series) => {
            assert!(series.from < series.to, "{series:?}");
            assert!(series.step >= Duration::from_secs(1));
        }
        Err(QueryError::TooManyPoints { shortest, .. }) => {
            let again = with_step(query, &shortest);
            // Only when the rewritten query decodes to the same keys (a key written twice,
            // or one the decoder refuses, is another question).
            let first = SeriesQuery::parse(&with_step(query, "1h"), now());
            if first.is_ok() || matches!(first, Err(QueryError::TooManyPoints { .. })) {
                let answer = SeriesQuery::parse(&again, now());
                assert!(
                    answer.is_ok(),
                    "{query:?}: step={shortest} suggested, {answer:?}"
                );
            }
        }
        Err(_) => {}
    }
    if let Ok(events) = parse_events(query) {
        assert!((1..=1000).contains(&events.limit), "{events:?}");
        if let Some(since) = events.since {
            let written = humantime::format_rfc3339_nanos(since).to_string();
            let back = parse_events(&format!("since={written}")).expect("written back");
            assert_eq!(back.since, Some(since), "{written}");
        }
    }
});
