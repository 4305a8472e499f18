//! The history routes (SPEC §7), answered from the state store by the
//! [`StoreReader`](crate::store::reader::StoreReader), never by the registry:
//!
//! - `GET /api/v1/hosts/{label}/uptime?window=24h`: availability and incidents over a window.
//! - `GET /api/v1/hosts/{label}/series?from=&to=&step=1m`: checks, failures and latency.
//! - `GET /api/v1/events?host=&since=&limit=`: transitions and alert events, newest first.
//!
//! Query strings are parsed here by pure functions, so every refusal (a 400 naming the
//! parameter and what to write instead) is unit-tested without a server.

use std::time::{Duration, SystemTime};

use actix::prelude::*;
use actix_web::error::QueryPayloadError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::access::Need;
use super::types::{EventView, PointView, SeriesView, UptimeView};
use super::{admitted, unavailable, ApiState};
use crate::availability_cache::AvailabilityCache;
use crate::history::bucket_start;
use crate::messages::GetHost;
use crate::model::rfc3339;
use crate::store::reader::{
    GetDailyAvailability, GetEvents, GetSeries, GetUptime, ReadError, MAX_POINTS,
};
use crate::store::EventQuery;

/// What the history routes answer from, present only when a state store is configured.
#[derive(Clone)]
pub struct HistoryApi {
    /// `/uptime` (the StoreReader).
    pub uptime: Recipient<GetUptime>,
    /// `/series` (the StoreReader).
    pub series: Recipient<GetSeries>,
    /// `/api/v1/events` (the StoreReader).
    pub events: Recipient<GetEvents>,
    /// The status page's and the host pages' daily bars (the StoreReader).
    pub daily: Recipient<GetDailyAvailability>,
    /// Every host's availability over 24 h, 7 d and 30 d, for `/api/v1/hosts`.
    pub availability: AvailabilityCache,
    /// `state.retention`: the longest window anything is kept for.
    pub retention: Duration,
}

/// The answer of every history route when no store is configured.
pub const NO_STORE: &str =
    "history needs a state store: set state.path (SQLite) or state.url (PostgreSQL)";

/// How long a history question may take: longer than the registry's deadline, since a month
/// of a busy host is read from disk.
const HISTORY_DEADLINE: Duration = Duration::from_secs(10);

/// `/uptime` without `window`.
pub const DEFAULT_WINDOW: &str = "24h";
/// `/series` without `from`: this long before `to`.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(3600);
/// `/series` without `step`.
pub const DEFAULT_STEP: Duration = Duration::from_secs(60);
/// The shortest `step`: results are stored to the millisecond, but a point per check is
/// what `step=1s` already gives at the shortest sensible interval.
pub const MIN_STEP: Duration = Duration::from_secs(1);
/// `/api/v1/events` without `limit`, and the most it may ask for.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// Why a query string was refused: each says which parameter and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("bad query string: {reason}; this endpoint takes {takes}")]
    Malformed { reason: String, takes: &'static str },
    #[error("window {given:?} is not a duration; use e.g. window=24h, window=7d or window=90m")]
    BadWindow { given: String },
    #[error("window must be longer than zero; use e.g. window=24h")]
    ZeroWindow,
    #[error("window {given:?} is longer than state.retention ({retention}), the longest anything is kept; ask for at most window={retention}, or raise state.retention")]
    WindowTooLong { given: String, retention: String },
    #[error("{name} {given:?} is not an RFC 3339 time; use e.g. {name}=2026-11-28T16:00:00Z (an offset such as +01:00 goes in a URL as %2B01:00)")]
    BadTime { name: &'static str, given: String },
    #[error("step {given:?} is not a duration; use e.g. step=1m, step=10s or step=1h")]
    BadStep { given: String },
    #[error("step {given:?} is shorter than 1s; use step=1s or longer")]
    StepTooShort { given: String },
    #[error("from ({from}) must be before to ({to})")]
    EmptyRange { from: String, to: String },
    #[error("from..to at step={step} is {points} points, more than {MAX_POINTS}; use step={shortest} or longer, or a shorter from..to")]
    TooManyPoints {
        step: String,
        points: u64,
        shortest: String,
    },
    #[error("limit {given:?} is not a whole number from 1 to {MAX_LIMIT}; use e.g. limit={DEFAULT_LIMIT}")]
    BadLimit { given: String },
}

/// A parsed `/uptime` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UptimeQuery {
    /// As asked, for the answer's `window`.
    pub window_text: String,
    pub window: Duration,
}

/// A parsed `/series` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesQuery {
    pub from: SystemTime,
    pub to: SystemTime,
    pub step: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUptime {
    window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    host: Option<String>,
    since: Option<String>,
    limit: Option<String>,
}

/// The query string decoded into `T`, or why not. Empty values (`?since=&limit=`) count as
/// absent, so a URL template filled in part still works.
fn decode<T: serde::de::DeserializeOwned>(
    query: &str,
    takes: &'static str,
) -> Result<T, QueryError> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| QueryError::Malformed {
            reason: match e {
                QueryPayloadError::Deserialize(inner) => inner.to_string(),
                other => other.to_string(),
            },
            takes,
        })
}

fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl UptimeQuery {
    /// `window` (default 24 h), at most `retention`.
    pub fn parse(query: &str, retention: Duration) -> Result<UptimeQuery, QueryError> {
        let raw: RawUptime = decode(query, "window")?;
        let window_text = given(raw.window).unwrap_or_else(|| DEFAULT_WINDOW.to_string());
        let window_text = window_text.trim().to_string();
        let window =
            humantime::parse_duration(&window_text).map_err(|_| QueryError::BadWindow {
                given: window_text.clone(),
            })?;
        if window.is_zero() {
            return Err(QueryError::ZeroWindow);
        }
        if window > retention {
            return Err(QueryError::WindowTooLong {
                given: window_text,
                retention: compact(retention),
            });
        }
        Ok(UptimeQuery {
            window_text,
            window,
        })
    }
}

impl SeriesQuery {
    /// `from` and `to` (RFC 3339; default the last hour before `now`) and `step` (default
    /// 1 m, at least 1 s), for at most [`MAX_POINTS`] points.
    pub fn parse(query: &str, now: SystemTime) -> Result<SeriesQuery, QueryError> {
        let raw: RawSeries = decode(query, "from, to and step")?;
        let to = match given(raw.to) {
            Some(text) => parse_time("to", &text)?,
            None => now,
        };
        let from = match given(raw.from) {
            Some(text) => parse_time("from", &text)?,
            None => to
                .checked_sub(DEFAULT_RANGE)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        };
        let step = match given(raw.step) {
            Some(text) => {
                let text = text.trim().to_string();
                let step = humantime::parse_duration(&text).map_err(|_| QueryError::BadStep {
                    given: text.clone(),
                })?;
                if step < MIN_STEP {
                    return Err(QueryError::StepTooShort { given: text });
                }
                step
            }
            None => DEFAULT_STEP,
        };
        if from >= to {
            return Err(QueryError::EmptyRange {
                from: rfc3339(from),
                to: rfc3339(to),
            });
        }
        let points = points(from, to, step);
        if points > MAX_POINTS {
            // Whole seconds, rounded up, so the suggestion itself is accepted.
            let span = to.duration_since(from).unwrap_or_default();
            let shortest = Duration::from_secs(span.as_secs().div_ceil(MAX_POINTS - 1).max(1));
            return Err(QueryError::TooManyPoints {
                step: compact(step),
                points,
                shortest: compact(shortest),
            });
        }
        Ok(SeriesQuery { from, to, step })
    }
}

/// A duration as one would write it in a query: `90d`, `36h`, `5m`, `7s`, `1500ms`.
/// (humantime writes 90 days as `2months 29days 3h 1m 48s`.)
fn compact(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if duration.subsec_nanos() != 0 || seconds == 0 {
        return format!("{}ms", duration.as_millis());
    }
    for (unit, length) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds.is_multiple_of(length) {
            return format!("{}{unit}", seconds / length);
        }
    }
    format!("{seconds}s")
}

/// How many steps of `step`, aligned to the epoch as the points are, `[from, to)` touches.
fn points(from: SystemTime, to: SystemTime, step: Duration) -> u64 {
    let aligned = bucket_start(from, step);
    let span = to.duration_since(aligned).unwrap_or_default().as_nanos();
    let step = step.as_nanos().max(1);
    u64::try_from(span.div_ceil(step)).unwrap_or(u64::MAX)
}

/// `/api/v1/events`' `host`, `since` and `limit` (default 100, at most 1000).
pub fn parse_events(query: &str) -> Result<EventQuery, QueryError> {
    let raw: RawEvents = decode(query, "host, since and limit")?;
    let since = given(raw.since)
        .map(|text| parse_time("since", &text))
        .transpose()?;
    let limit = match given(raw.limit) {
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or(QueryError::BadLimit { given: text })?,
        None => DEFAULT_LIMIT,
    };
    Ok(EventQuery {
        host: given(raw.host),
        prefix: None,
        since,
        limit,
    })
}

/// An RFC 3339 time: `Z` or an offset (`+01:00`; a `+` that a form decoder turned into a
/// space is taken as `+`), any fraction of a second.
pub(crate) fn parse_time(name: &'static str, text: &str) -> Result<SystemTime, QueryError> {
    let bad = || QueryError::BadTime {
        name,
        given: text.to_string(),
    };
    let text = text.trim();
    if let Some(utc) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return humantime::parse_rfc3339(&format!("{utc}Z")).map_err(|_| bad());
    }
    // `±HH:MM` at the end: six bytes, all ASCII when well formed.
    let split = text.len().checked_sub(6).ok_or_else(bad)?;
    let (local, offset) = (
        text.get(..split).ok_or_else(bad)?,
        text.get(split..).ok_or_else(bad)?,
    );
    let offset = offset.as_bytes();
    let digit = |i: usize| {
        offset
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u64::from(b - b'0'))
    };
    let (Some(h1), Some(h2), Some(m1), Some(m2)) = (digit(1), digit(2), digit(4), digit(5)) else {
        return Err(bad());
    };
    if offset[3] != b':' || h1 * 10 + h2 > 23 || m1 * 10 + m2 > 59 {
        return Err(bad());
    }
    let shift = Duration::from_secs((h1 * 10 + h2) * 3600 + (m1 * 10 + m2) * 60);
    let local = humantime::parse_rfc3339(&format!("{local}Z")).map_err(|_| bad())?;
    // The local time is `shift` ahead of UTC for `+`, behind for `-`.
    match offset[0] {
        b'+' | b' ' => local.checked_sub(shift).ok_or_else(bad),
        b'-' => local.checked_add(shift).ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn no_store() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": NO_STORE }))
}

fn bad_query(error: &QueryError) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error.to_string() }))
}

/// 503 with what the store said (its place is a path or a URL without its password).
fn store_failed(error: &ReadError) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(json!({ "error": format!("state store: {error}") }))
}

/// The 404 (or 503) answer when the registry does not track `label`; `None` when it does.
/// History of a host no longer configured stays in the store until retention, but these
/// routes name hosts as `/api/v1/hosts/{label}` does.
async fn unknown_host(state: &ApiState, label: &str) -> Option<HttpResponse> {
    match state
        .host
        .send(GetHost {
            label: label.to_string(),
        })
        .timeout(super::ACTOR_DEADLINE)
        .await
    {
        Ok(Some(_)) => None,
        Ok(None) => Some(super::no_such_host(label)),
        Err(_) => Some(unavailable("the state registry")),
    }
}

/// `GET /api/v1/hosts/{label}/uptime?window=24h`.
pub async fn uptime(
    request: HttpRequest,
    state: web::Data<ApiState>,
    label: web::Path<String>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    // Another tenant's host is one that does not exist, before anything else is said.
    if !access.sees(&label) {
        return super::no_such_host(&label);
    }
    let Some(history) = &state.history else {
        return no_store();
    };
    let query = match UptimeQuery::parse(request.query_string(), history.retention) {
        Ok(query) => query,
        Err(e) => return bad_query(&e),
    };
    let label = label.into_inner();
    if let Some(missing) = unknown_host(&state, &label).await {
        return missing;
    }
    let asked = history
        .uptime
        .send(GetUptime {
            label,
            window: query.window,
            now: SystemTime::now(),
        })
        .timeout(HISTORY_DEADLINE)
        .await;
    match asked {
        Ok(Ok(uptime)) => HttpResponse::Ok().json(UptimeView::new(&query.window_text, &uptime)),
        Ok(Err(e)) => store_failed(&e),
        Err(_) => unavailable("the state store"),
    }
}

/// `GET /api/v1/hosts/{label}/series?from=&to=&step=1m`.
pub async fn series(
    request: HttpRequest,
    state: web::Data<ApiState>,
    label: web::Path<String>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    // Another tenant's host is one that does not exist, before anything else is said.
    if !access.sees(&label) {
        return super::no_such_host(&label);
    }
    let Some(history) = &state.history else {
        return no_store();
    };
    let now = SystemTime::now();
    let query = match SeriesQuery::parse(request.query_string(), now) {
        Ok(query) => query,
        Err(e) => return bad_query(&e),
    };
    let label = label.into_inner();
    if let Some(missing) = unknown_host(&state, &label).await {
        return missing;
    }
    let asked = history
        .series
        .send(GetSeries {
            label,
            from: query.from,
            to: query.to,
            step: query.step,
            now,
        })
        .timeout(HISTORY_DEADLINE)
        .await;
    match asked {
        Ok(Ok(points)) => HttpResponse::Ok().json(SeriesView {
            from: rfc3339(query.from),
            to: rfc3339(query.to),
            step_s: query.step.as_secs_f64(),
            points: points.iter().map(PointView::from).collect(),
        }),
        Ok(Err(e)) => store_failed(&e),
        Err(_) => unavailable("the state store"),
    }
}

/// `GET /api/v1/events?host=&since=&limit=`: a JSON array, newest first. A `host` no longer
/// configured is not refused: its events stay listed until retention.
pub async fn events(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let Some(history) = &state.history else {
        return no_store();
    };
    let mut query = match parse_events(request.query_string()) {
        Ok(query) => query,
        Err(e) => return bad_query(&e),
    };
    // The store leaves out other tenants' events, so `limit` counts the tenant's own. Another
    // tenant's host asked for by name has, as far as this token goes, no events.
    query.prefix = access.tenant().map(|tenant| format!("{tenant}/"));
    match history
        .events
        .send(GetEvents(query))
        .timeout(HISTORY_DEADLINE)
        .await
    {
        Ok(Ok(events)) => {
            HttpResponse::Ok().json(events.iter().map(EventView::from).collect::<Vec<_>>())
        }
        Ok(Err(e)) => store_failed(&e),
        Err(_) => unavailable("the state store"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).expect("a test time")
    }

    #[test]
    fn a_window_defaults_to_a_day_and_stays_within_retention() {
        let retention = 90 * DAY;
        assert_eq!(
            UptimeQuery::parse("", retention),
            Ok(UptimeQuery {
                window_text: "24h".into(),
                window: DAY
            })
        );
        assert_eq!(
            UptimeQuery::parse("window=60s", retention).map(|q| q.window),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            UptimeQuery::parse("window=", retention).map(|q| q.window),
            Ok(DAY)
        );
        assert_eq!(
            UptimeQuery::parse("window=90d", retention).map(|q| q.window),
            Ok(retention)
        );
        let long = UptimeQuery::parse("window=91d", retention).unwrap_err();
        assert_eq!(
            long.to_string(),
            "window \"91d\" is longer than state.retention (90d), the longest anything is kept; ask for at most window=90d, or raise state.retention"
        );
        let bad = UptimeQuery::parse("window=a%20day", retention).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "window \"a day\" is not a duration; use e.g. window=24h, window=7d or window=90m"
        );
        assert_eq!(
            UptimeQuery::parse("window=0s", retention),
            Err(QueryError::ZeroWindow)
        );
        let unknown = UptimeQuery::parse("windw=1h", retention).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `windw`")
                && unknown.to_string().contains("takes window"),
            "{unknown}"
        );
    }

    #[test]
    fn a_series_defaults_to_the_last_hour_by_minute() {
        let now = at("2026-11-28T16:03:37.123Z");
        assert_eq!(
            SeriesQuery::parse("", now),
            Ok(SeriesQuery {
                from: at("2026-11-28T15:03:37.123Z"),
                to: now,
                step: Duration::from_secs(60),
            })
        );
        assert_eq!(
            SeriesQuery::parse(
                "from=2026-11-28T10:00:00Z&to=2026-11-28T12:00:00.5Z&step=5m",
                now
            ),
            Ok(SeriesQuery {
                from: at("2026-11-28T10:00:00Z"),
                to: at("2026-11-28T12:00:00.5Z"),
                step: Duration::from_secs(300),
            })
        );
        // Only `to`: the hour before it.
        assert_eq!(
            SeriesQuery::parse("to=2026-11-28T12:00:00Z", now).map(|q| q.from),
            Ok(at("2026-11-28T11:00:00Z"))
        );
    }

    #[test]
    fn a_series_refuses_what_it_cannot_answer_naming_the_parameter() {
        let now = at("2026-11-28T16:00:00Z");
        let refused = |query: &str| SeriesQuery::parse(query, now).expect_err(query).to_string();
        assert!(refused("from=yesterday").starts_with("from \"yesterday\" is not an RFC 3339 time"));
        assert!(refused("to=2026-13-01T00:00:00Z").starts_with("to \"2026-13-01T00:00:00Z\""));
        assert!(refused("step=often").starts_with("step \"often\" is not a duration"));
        assert_eq!(
            refused("step=500ms"),
            "step \"500ms\" is shorter than 1s; use step=1s or longer"
        );
        assert_eq!(
            refused("from=2026-11-28T16:00:00Z&to=2026-11-28T15:00:00Z"),
            "from (2026-11-28T16:00:00.000Z) must be before to (2026-11-28T15:00:00.000Z)"
        );
        // A day at one second is 86 400 points.
        let many = refused("from=2026-11-27T16:00:00Z&step=1s");
        assert_eq!(
            many,
            format!("from..to at step=1s is 86400 points, more than {MAX_POINTS}; use step=5s or longer, or a shorter from..to")
        );
        // The suggestion is accepted.
        assert!(SeriesQuery::parse("from=2026-11-27T16:00:00Z&step=5s", now).is_ok());
    }

    #[test]
    fn points_count_the_steps_touched_as_they_align_to_the_epoch() {
        let minute = Duration::from_secs(60);
        let from = at("2026-11-28T16:00:30Z");
        assert_eq!(points(from, at("2026-11-28T16:01:00Z"), minute), 1);
        assert_eq!(points(from, at("2026-11-28T16:01:00.001Z"), minute), 2);
        assert_eq!(
            points(
                at("2026-11-28T16:00:00Z"),
                at("2026-11-28T17:00:00Z"),
                minute
            ),
            60
        );
    }

    #[test]
    fn durations_are_written_as_a_query_takes_them() {
        assert_eq!(compact(90 * DAY), "90d");
        assert_eq!(compact(Duration::from_secs(36 * 3600)), "36h");
        assert_eq!(compact(Duration::from_secs(300)), "5m");
        assert_eq!(compact(Duration::from_secs(61)), "61s");
        assert_eq!(compact(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn times_take_z_or_an_offset() {
        let utc = at("2026-11-28T15:00:00Z");
        for text in [
            "2026-11-28T15:00:00Z",
            "2026-11-28T15:00:00z",
            "2026-11-28T15:00:00.000Z",
            "2026-11-28T16:00:00+01:00",
            // `+` decoded from a query string as a space.
            "2026-11-28T16:00:00 01:00",
            "2026-11-28T10:30:00-04:30",
            "2026-11-28T15:00:00+00:00",
        ] {
            assert_eq!(parse_time("from", text), Ok(utc), "{text}");
        }
        for text in [
            "",
            "now",
            "2026-11-28T15:00:00",
            "2026-11-28T15:00:00+1:00",
            "2026-11-28T15:00:00+24:00",
            "2026-11-28T15:00:00+01-00",
            "2026-11-28T15:00:00€01:00",
        ] {
            assert!(parse_time("from", text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn events_default_to_the_newest_hundred() {
        assert_eq!(
            parse_events(""),
            Ok(EventQuery {
                host: None,
                prefix: None,
                since: None,
                limit: 100
            })
        );
        assert_eq!(
            parse_events("host=api&since=2026-11-28T15:00:00Z&limit=1000"),
            Ok(EventQuery {
                host: Some("api".into()),
                prefix: None,
                since: Some(at("2026-11-28T15:00:00Z")),
                limit: 1000
            })
        );
        // A template filled in part.
        assert_eq!(
            parse_events("host=&since=&limit=").map(|q| q.limit),
            Ok(100)
        );
        for limit in ["0", "1001", "-1", "many"] {
            assert_eq!(
                parse_events(&format!("limit={limit}")),
                Err(QueryError::BadLimit {
                    given: limit.into()
                })
            );
        }
        assert_eq!(
            QueryError::BadLimit { given: "0".into() }.to_string(),
            "limit \"0\" is not a whole number from 1 to 1000; use e.g. limit=100"
        );
    }
}
