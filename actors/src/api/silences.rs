//! The silence routes: alerts of some hosts muted until a time, set by people.
//!
//! - `GET /api/v1/silences`: the active silences, oldest first, as `{"silences": [...]}`.
//! - `POST /api/v1/silences` `{hosts, until | duration, comment}`: a new one (201 `{"id"}`).
//! - `DELETE /api/v1/silences/{id}`: ended early (204), or 404 for an id not active.
//!
//! The body is read by hand rather than by serde's derive, so that every refusal is a JSON
//! `{"error", "field"}` naming the field and what to send instead. With a state store a change
//! is written there before it takes effect: a store that refuses it answers 503 and nothing
//! changes, so nobody believes a host is silenced when a restart would unmute it (or the
//! reverse). Silences that have ended are dropped from the book and the store as these routes
//! pass by; the AlertRouter ignores them meanwhile.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use flowstate_config::tenant::belongs_to;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::access::{Access, Need};
use super::{admitted, unavailable, written_first, ApiState, ACTOR_DEADLINE};
use crate::messages::GetRunningConfig;
use crate::model::rfc3339;
use crate::silences::{HostPattern, Silence, SilenceBook, ENDED_KEPT};
use crate::store::{DeleteSilence, SaveSilence};

/// What the silence routes work on.
#[derive(Clone)]
pub struct SilencesApi {
    /// The book the AlertRouter consults too (one book, shared).
    pub book: SilenceBook,
    /// The store's writer; `None` without a store (silences then last until a restart).
    pub save: Option<Recipient<SaveSilence>>,
    pub delete: Option<Recipient<DeleteSilence>>,
}

/// The answer to `GET /api/v1/silences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceList {
    /// The active silences, oldest first.
    pub silences: Vec<Silence>,
}

/// The answer to `POST /api/v1/silences` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceCreated {
    pub id: String,
}

/// The furthest a silence may reach: humantime's `1y` (365.25 days), so `"duration": "1y"` is
/// accepted. A mute meant to last longer belongs in the configuration, where it is reviewed.
pub const MAX_AHEAD: Duration = Duration::from_secs(31_557_600);

/// Most entries in `hosts`: a longer list is better written as a glob.
const MAX_HOSTS: usize = 1000;

/// Longest comment: a line or two saying why, not a document.
const MAX_COMMENT: usize = 1000;

/// The fields of `POST /api/v1/silences`.
const FIELDS: [&str; 4] = ["hosts", "until", "duration", "comment"];

/// An example body, for messages that say what to send.
const EXAMPLE: &str = r#"{"hosts": ["api", "db-*"], "duration": "2h", "comment": "deploy"}"#;

/// Why a `POST /api/v1/silences` was refused; each says which field and what to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("the body is not JSON ({0}); send e.g. {EXAMPLE}")]
    NotJson(String),
    #[error("the body must be a JSON object such as {EXAMPLE}")]
    NotAnObject,
    #[error("{field}: not a field of a silence{}; the fields are hosts, until, duration and comment", did_you_mean(.suggestion))]
    UnknownField {
        field: String,
        suggestion: Option<String>,
    },
    #[error(
        "hosts: missing or empty; list the labels or globs to silence, e.g. [\"api\", \"db-*\"]"
    )]
    NoHosts,
    #[error("hosts: must be a list of labels or globs, e.g. [\"api\", \"db-*\"]")]
    HostsNotAList,
    #[error("hosts: {0} entries; keep it to {MAX_HOSTS} (a glob such as \"db-*\" covers many)")]
    TooManyHosts(usize),
    #[error("hosts[{0}]: must be a label or a glob, as a string")]
    HostNotText(usize),
    #[error("hosts[{0}]: empty; give a label or a glob such as \"db-*\"")]
    EmptyHost(usize),
    #[error("hosts[{index}]: no host is labelled {given:?}{}", match .suggestion {
        Some(label) => format!("; did you mean {label:?}?"),
        None => "; GET /api/v1/hosts lists the labels".to_string(),
    })]
    UnknownHost {
        index: usize,
        given: String,
        suggestion: Option<String>,
    },
    #[error("hosts[{index}]: {given:?} is not a valid glob: {reason}")]
    BadGlob {
        index: usize,
        given: String,
        reason: String,
    },
    #[error("until or duration: missing; say when the silence ends, with until (an RFC 3339 time such as \"2026-12-08T10:00:00Z\") or duration (such as \"2h\")")]
    NoEnd,
    #[error("until and duration: both given; give one of them (until: an RFC 3339 time, duration: such as \"2h\")")]
    BothEnds,
    #[error("until: {0} is not an RFC 3339 time; use e.g. \"2026-12-08T10:00:00Z\" or \"2026-12-08T11:00:00+01:00\"")]
    BadUntil(String),
    #[error(
        "until: {given} is not in the future (it is now {now}); a silence must end later than now"
    )]
    PastUntil { given: String, now: String },
    #[error("{field}: {given} is more than a year ahead (the latest is {latest}); a longer mute belongs in the configuration")]
    TooFar {
        field: &'static str,
        given: String,
        latest: String,
    },
    #[error("duration: {0} is not a duration; use e.g. \"30m\", \"2h\" or \"7d\"")]
    BadDuration(String),
    #[error("duration: must be longer than zero, e.g. \"2h\"")]
    ZeroDuration,
    #[error("comment: must be a string")]
    CommentNotText,
    #[error("comment: {0} characters long; keep it to {MAX_COMMENT}")]
    LongComment(usize),
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

impl SilenceError {
    /// The field the refusal is about, for scripts (`null` when it is the whole body).
    pub fn field(&self) -> Option<&str> {
        match self {
            SilenceError::NotJson(_) | SilenceError::NotAnObject => None,
            SilenceError::UnknownField { field, .. } => Some(field),
            SilenceError::NoHosts
            | SilenceError::HostsNotAList
            | SilenceError::TooManyHosts(_)
            | SilenceError::HostNotText(_)
            | SilenceError::EmptyHost(_)
            | SilenceError::UnknownHost { .. }
            | SilenceError::BadGlob { .. } => Some("hosts"),
            SilenceError::NoEnd | SilenceError::BothEnds => Some("until"),
            SilenceError::BadUntil(_) | SilenceError::PastUntil { .. } => Some("until"),
            SilenceError::TooFar { field, .. } => Some(field),
            SilenceError::BadDuration(_) | SilenceError::ZeroDuration => Some("duration"),
            SilenceError::CommentNotText | SilenceError::LongComment(_) => Some("comment"),
        }
    }
}

/// A JSON value as it may be quoted in a message: a string as written, anything else as JSON.
fn quoted(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

/// A field that is present and not `null` (a template that leaves one empty means absent).
fn given<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    body.get(field).filter(|v| !v.is_null())
}

/// The silence a `POST /api/v1/silences` body asks for, made at `now`; `labels` are the
/// configured hosts' labels, which a plain label must be one of (a glob may match none).
/// For a tenant's token (`tenant`), each entry of `hosts` is taken within the tenant: `api`
/// and `db-*` mean `team-a/api` and `team-a/db-*` (written so, they are kept), so its
/// silence can mute nothing of another tenant's.
pub fn silence(
    body: &[u8],
    labels: &HashSet<&str>,
    tenant: Option<&str>,
    now: SystemTime,
) -> Result<Silence, SilenceError> {
    let body: Value =
        serde_json::from_slice(body).map_err(|e| SilenceError::NotJson(e.to_string()))?;
    let Value::Object(body) = body else {
        return Err(SilenceError::NotAnObject);
    };
    if let Some(field) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(SilenceError::UnknownField {
            field: field.clone(),
            suggestion: flowstate_config::error::closest(field, FIELDS).map(str::to_string),
        });
    }
    let hosts = hosts(given(&body, "hosts"), labels, tenant)?;
    let until = until(given(&body, "until"), given(&body, "duration"), now)?;
    let comment = match given(&body, "comment") {
        None => String::new(),
        Some(Value::String(text)) => {
            let count = text.chars().count();
            if count > MAX_COMMENT {
                return Err(SilenceError::LongComment(count));
            }
            text.trim().to_string()
        }
        Some(_) => return Err(SilenceError::CommentNotText),
    };
    Ok(Silence::new(hosts, until, comment, now))
}

/// `hosts`: labels of configured hosts or valid globs, trimmed, each once, in the order given.
fn hosts(
    given: Option<&Value>,
    labels: &HashSet<&str>,
    tenant: Option<&str>,
) -> Result<Vec<String>, SilenceError> {
    let list = match given {
        None => return Err(SilenceError::NoHosts),
        Some(Value::Array(list)) if list.is_empty() => return Err(SilenceError::NoHosts),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(SilenceError::HostsNotAList),
    };
    if list.len() > MAX_HOSTS {
        return Err(SilenceError::TooManyHosts(list.len()));
    }
    let mut hosts: Vec<String> = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let Value::String(text) = entry else {
            return Err(SilenceError::HostNotText(index));
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(SilenceError::EmptyHost(index));
        }
        let within;
        let text = match tenant {
            Some(tenant) if !belongs_to(text, tenant) => {
                within = format!("{tenant}/{text}");
                within.as_str()
            }
            _ => text,
        };
        if !labels.contains(text) {
            if HostPattern::is_glob(text) {
                HostPattern::parse(text).map_err(|e| SilenceError::BadGlob {
                    index,
                    given: text.to_string(),
                    reason: e.msg.to_string(),
                })?;
            } else {
                return Err(SilenceError::UnknownHost {
                    index,
                    given: text.to_string(),
                    suggestion: flowstate_config::error::closest(text, labels.iter().copied())
                        .map(str::to_string),
                });
            }
        }
        if !hosts.iter().any(|h| h == text) {
            hosts.push(text.to_string());
        }
    }
    Ok(hosts)
}

/// When the silence ends: exactly one of `until` (an RFC 3339 time after `now`) and
/// `duration` (from `now`), at most [`MAX_AHEAD`] from `now`.
fn until(
    until: Option<&Value>,
    duration: Option<&Value>,
    now: SystemTime,
) -> Result<SystemTime, SilenceError> {
    let latest = crate::clock::system_after(now, MAX_AHEAD);
    let too_far = |field, given: &Value| SilenceError::TooFar {
        field,
        given: quoted(given),
        latest: rfc3339(latest),
    };
    match (until, duration) {
        (Some(_), Some(_)) => Err(SilenceError::BothEnds),
        (None, None) => Err(SilenceError::NoEnd),
        (Some(value), None) => {
            let at = value
                .as_str()
                .and_then(|text| super::history::parse_time("until", text).ok())
                .ok_or_else(|| SilenceError::BadUntil(quoted(value)))?;
            if at <= now {
                return Err(SilenceError::PastUntil {
                    given: quoted(value),
                    now: rfc3339(now),
                });
            }
            if at > latest {
                return Err(too_far("until", value));
            }
            Ok(at)
        }
        (None, Some(value)) => {
            let length = value
                .as_str()
                .and_then(|text| humantime::parse_duration(text.trim()).ok())
                .ok_or_else(|| SilenceError::BadDuration(quoted(value)))?;
            if length.is_zero() {
                return Err(SilenceError::ZeroDuration);
            }
            if length > MAX_AHEAD {
                return Err(too_far("duration", value));
            }
            Ok(crate::clock::system_after(now, length))
        }
    }
}

fn bad_request(error: &SilenceError) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error.to_string(), "field": error.field() }))
}

fn not_found(id: &str) -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": format!("no active silence with id {id:?}; GET /api/v1/silences lists them") }))
}

/// Drops the silences that ended more than [`ENDED_KEPT`] ago from the book and, best
/// effort, from the store (a row left there mutes nothing and is deleted at the next start).
fn forget_ended(api: &SilencesApi, now: SystemTime) {
    let cutoff = now
        .checked_sub(ENDED_KEPT)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for ended in api.book.drop_ended_before(cutoff) {
        log::debug!(id = ended.id.as_str(); "silence ended");
        if let Some(delete) = &api.delete {
            delete.do_send(DeleteSilence(ended.id));
        }
    }
}

/// Writes `silence` to the store (when there is one), then puts it in the book.
async fn add(api: &SilencesApi, silence: Silence) -> Result<Silence, HttpResponse> {
    written_first(api.save.as_ref(), SaveSilence(silence.clone()), "silence").await?;
    api.book.insert(silence.clone());
    Ok(silence)
}

/// Ends `silence` at `now`: saved so (when there is a store), then so in the book. It is
/// kept, ended, for availability (the time it covered stays left out).
async fn end(api: &SilencesApi, mut silence: Silence, now: SystemTime) -> Result<(), HttpResponse> {
    silence.until = now;
    add(api, silence).await.map(|_| ())
}

/// Whether `access` sees `silence`: every one of its hosts is within the scope. A tenant's
/// silences are so by construction; the platform's that reach further are not the tenant's
/// to see or end.
fn sees(access: &Access, silence: &Silence) -> bool {
    silence.hosts.iter().all(|host| access.sees(host))
}

pub async fn list(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let now = SystemTime::now();
    forget_ended(&state.silences, now);
    let mut silences = state.silences.book.list(now);
    silences.retain(|silence| sees(&access, silence));
    HttpResponse::Ok().json(SilenceList { silences })
}

pub async fn create(
    request: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Bytes,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Respond).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let config = match state
        .running_config
        .send(GetRunningConfig)
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(config) => config,
        Err(_) => return unavailable("the supervisor"),
    };
    // A tenant is told of (and offered as "did you mean") its own hosts only.
    let labels: HashSet<&str> = config
        .hosts()
        .iter()
        .map(|h| &*h.label)
        .filter(|label| access.sees(label))
        .collect();
    let now = SystemTime::now();
    let made = match silence(&body, &labels, access.tenant(), now) {
        Ok(made) => made,
        Err(e) => return bad_request(&e),
    };
    forget_ended(&state.silences, now);
    match add(&state.silences, made).await {
        Ok(added) => {
            let hosts = added.hosts.join(",");
            let until = rfc3339(added.until);
            log::info!(id = added.id.as_str(), hosts = hosts.as_str(), until = until.as_str(), comment = added.comment.as_str(); "silence added");
            HttpResponse::Created().json(SilenceCreated { id: added.id })
        }
        Err(refused) => refused,
    }
}

pub async fn delete(
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Respond).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let now = SystemTime::now();
    forget_ended(&state.silences, now);
    let Some(silence) = state
        .silences
        .book
        .get(&id, now)
        .filter(|silence| sees(&access, silence))
    else {
        return not_found(&id);
    };
    match end(&state.silences, silence, now).await {
        Ok(()) => {
            log::info!(id = id.as_str(); "silence ended");
            HttpResponse::NoContent().finish()
        }
        Err(refused) => refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn labels() -> HashSet<&'static str> {
        ["api", "www", "db-primary"].into_iter().collect()
    }

    fn made(body: Value) -> Result<Silence, SilenceError> {
        silence(body.to_string().as_bytes(), &labels(), None, now())
    }

    fn refused(body: Value) -> (String, Option<String>) {
        let error = made(body).expect_err("refused");
        (error.to_string(), error.field().map(str::to_string))
    }

    #[test]
    fn a_silence_ends_at_until_or_after_duration() {
        let by_duration = made(
            json!({"hosts": [" api ", "db-*", "api"], "duration": "2h", "comment": " deploy "}),
        )
        .unwrap();
        assert_eq!(by_duration.hosts, ["api", "db-*"], "trimmed, each once");
        assert_eq!(by_duration.until, now() + Duration::from_secs(7200));
        assert_eq!(by_duration.comment, "deploy");
        assert_eq!(by_duration.created_at, now());
        let by_until =
            made(json!({"hosts": ["www"], "until": "2027-01-15T10:00:00+01:00", "duration": null}))
                .unwrap();
        assert_eq!(by_until.until, now() + Duration::from_secs(3600));
        assert_eq!(by_until.comment, "");
        let a_year = made(json!({"hosts": ["nothing-yet-*"], "duration": "1y"})).unwrap();
        assert_eq!(a_year.until, now() + MAX_AHEAD, "a glob may match no host");
    }

    #[test]
    fn an_unknown_label_is_refused_with_the_closest_one() {
        let (error, field) = refused(json!({"hosts": ["api", "db-primray"], "duration": "1h"}));
        assert_eq!(
            error,
            "hosts[1]: no host is labelled \"db-primray\"; did you mean \"db-primary\"?"
        );
        assert_eq!(field.as_deref(), Some("hosts"));
        let (error, _) = refused(json!({"hosts": ["zzzzzz"], "duration": "1h"}));
        assert!(
            error.contains("GET /api/v1/hosts lists the labels"),
            "{error}"
        );
        let (error, _) = refused(json!({"hosts": ["db-["], "duration": "1h"}));
        assert!(
            error.starts_with("hosts[0]: \"db-[\" is not a valid glob"),
            "{error}"
        );
    }

    #[test]
    fn the_end_must_be_given_once_in_the_future_and_within_a_year() {
        let (error, field) =
            refused(json!({"hosts": ["api"], "until": "2027-01-15T09:00:00Z", "duration": "2h"}));
        assert!(
            error.starts_with("until and duration: both given"),
            "{error}"
        );
        assert_eq!(field.as_deref(), Some("until"));
        let (error, _) = refused(json!({"hosts": ["api"]}));
        assert!(error.starts_with("until or duration: missing"), "{error}");
        let (error, field) = refused(json!({"hosts": ["api"], "until": "2027-01-15T07:00:00Z"}));
        assert_eq!(
            error,
            "until: \"2027-01-15T07:00:00Z\" is not in the future (it is now 2027-01-15T08:00:00.000Z); a silence must end later than now"
        );
        assert_eq!(field.as_deref(), Some("until"));
        let (error, _) = refused(json!({"hosts": ["api"], "until": "tomorrow"}));
        assert!(
            error.starts_with("until: \"tomorrow\" is not an RFC 3339 time"),
            "{error}"
        );
        let (error, field) = refused(json!({"hosts": ["api"], "until": "2030-01-01T00:00:00Z"}));
        assert!(error.contains("more than a year ahead"), "{error}");
        assert_eq!(field.as_deref(), Some("until"));
        let (error, field) = refused(json!({"hosts": ["api"], "duration": "2y"}));
        assert!(
            error.starts_with("duration: \"2y\" is more than a year ahead"),
            "{error}"
        );
        assert_eq!(field.as_deref(), Some("duration"));
        let (error, _) = refused(json!({"hosts": ["api"], "duration": "0s"}));
        assert!(
            error.starts_with("duration: must be longer than zero"),
            "{error}"
        );
        let (error, _) = refused(json!({"hosts": ["api"], "duration": 7200}));
        assert!(
            error.starts_with("duration: 7200 is not a duration"),
            "{error}"
        );
    }

    #[test]
    fn other_mistakes_name_their_field() {
        let cases = [
            (json!({"hosts": [], "duration": "1h"}), "hosts"),
            (json!({"hosts": "api", "duration": "1h"}), "hosts"),
            (json!({"hosts": [1], "duration": "1h"}), "hosts"),
            (json!({"hosts": [" "], "duration": "1h"}), "hosts"),
            (
                json!({"hosts": ["api"], "duration": "1h", "comment": 5}),
                "comment",
            ),
            (
                json!({"hosts": ["api"], "duration": "1h", "comment": "x".repeat(1001)}),
                "comment",
            ),
            (json!({"hosts": ["api"], "durations": "1h"}), "durations"),
        ];
        for (body, field) in cases {
            let (error, named) = refused(body.clone());
            assert_eq!(named.as_deref(), Some(field), "{body}: {error}");
            assert!(error.starts_with(field), "{body}: {error}");
        }
        let (error, _) = refused(json!({"hosts": ["api"], "durations": "1h"}));
        assert!(error.contains("did you mean \"duration\"?"), "{error}");
        let not_json = silence(b"hosts=api", &labels(), None, now()).unwrap_err();
        assert!(not_json.to_string().contains("is not JSON"), "{not_json}");
        assert_eq!(not_json.field(), None);
        assert_eq!(
            silence(b"[]", &labels(), None, now()).unwrap_err(),
            SilenceError::NotAnObject
        );
    }

    /// A store whose every write fails.
    struct BrokenStore;

    impl Actor for BrokenStore {
        type Context = Context<Self>;
    }

    impl Handler<SaveSilence> for BrokenStore {
        type Result = Result<(), StoreError>;

        fn handle(&mut self, _: SaveSilence, _: &mut Context<Self>) -> Self::Result {
            Err(StoreError::Unavailable {
                place: "state.db".into(),
            })
        }
    }

    impl Handler<DeleteSilence> for BrokenStore {
        type Result = Result<(), StoreError>;

        fn handle(&mut self, _: DeleteSilence, _: &mut Context<Self>) -> Self::Result {
            Err(StoreError::Unavailable {
                place: "state.db".into(),
            })
        }
    }

    #[actix_rt::test]
    async fn a_store_that_refuses_the_write_changes_nothing() {
        let store = BrokenStore.start();
        let kept = made(json!({"hosts": ["api"], "duration": "1h"})).unwrap();
        let api = SilencesApi {
            book: SilenceBook::new(vec![kept.clone()]),
            save: Some(store.clone().recipient()),
            delete: Some(store.recipient()),
        };
        let new = made(json!({"hosts": ["www"], "duration": "1h"})).unwrap();
        let answer = add(&api, new).await.expect_err("refused");
        assert_eq!(answer.status(), 503);
        let answer = end(&api, kept.clone(), now()).await.expect_err("refused");
        assert_eq!(answer.status(), 503);
        assert_eq!(api.book.list(now()), [kept], "neither added nor removed");
    }

    #[actix_rt::test]
    async fn without_a_store_silences_live_in_memory() {
        let api = SilencesApi {
            book: SilenceBook::default(),
            save: None,
            delete: None,
        };
        let new = made(json!({"hosts": ["www"], "duration": "1h"})).unwrap();
        add(&api, new.clone()).await.expect("added");
        assert!(api.book.active_for("www", now()).is_some());
        end(&api, new.clone(), now()).await.expect("ended");
        assert!(api.book.list(now()).is_empty());
    }
}
