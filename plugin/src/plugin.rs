//! A plugin as its author describes it: what it is (a check or a notifier type), the JSON
//! Schema its `settings` must satisfy, and the one function that handles a request. The
//! runner ([`crate::runner`]) does everything else.
//!
//! Whatever the handler does, the request gets an answer: an error becomes a `down` check
//! (or a notification to retry) with the error as the detail, and so does a panic. A bug in
//! one check must fail that check, not take down the process every host of this type shares.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use serde_json::Value;

use crate::protocol::{
    Answer, CheckAnswer, CheckRequest, Hello, NotifyAnswer, NotifyRequest, PluginKind, PROTOCOL,
};

/// What a handler's `?` turns any error into; its message becomes the answer's detail.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

type CheckHandler = dyn Fn(&CheckRequest) -> Result<CheckAnswer, HandlerError> + Send + Sync;
type NotifyHandler = dyn Fn(&NotifyRequest) -> Result<NotifyAnswer, HandlerError> + Send + Sync;

/// The user's code: one of the two kinds, so a plugin cannot claim a kind it cannot answer.
enum Handler {
    Check(Box<CheckHandler>),
    Notify(Box<NotifyHandler>),
}

/// A plugin: its kind, its settings schema and its handler. Build one with
/// [`Plugin::check`] or [`Plugin::notifier`], then [`Plugin::run`] it.
pub struct Plugin {
    /// Sent in the `hello` answer; `flowstate check` validates every host's (or notifier's)
    /// `settings` against it, so the handler can rely on their shape.
    settings_schema: Value,
    handler: Handler,
    /// Requests handled at once, each on a thread of its own. A bound, so a daemon that
    /// sends thousands of requests to a stuck plugin does not make it spawn thousands of
    /// threads: the runner stops reading until one finishes.
    pub(crate) max_in_flight: usize,
}

impl Plugin {
    /// The default bound on requests handled at once.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

    /// A check type: `handler` judges one host from its request (`host`, `settings`,
    /// `timeout_ms`). It runs on a thread of its own, so blocking I/O is fine.
    pub fn check<F>(settings_schema: Value, handler: F) -> Self
    where
        F: Fn(&CheckRequest) -> Result<CheckAnswer, HandlerError> + Send + Sync + 'static,
    {
        Plugin {
            settings_schema,
            handler: Handler::Check(Box::new(handler)),
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// A notifier type: `handler` delivers one event (or group of events) from its request.
    pub fn notifier<F>(settings_schema: Value, handler: F) -> Self
    where
        F: Fn(&NotifyRequest) -> Result<NotifyAnswer, HandlerError> + Send + Sync + 'static,
    {
        Plugin {
            settings_schema,
            handler: Handler::Notify(Box::new(handler)),
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// At most `requests` handled at once (at least 1); the default is
    /// [`Plugin::DEFAULT_MAX_IN_FLIGHT`].
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Which requests this plugin answers.
    pub fn kind(&self) -> PluginKind {
        match self.handler {
            Handler::Check(_) => PluginKind::Check,
            Handler::Notify(_) => PluginKind::Notifier,
        }
    }

    /// The answer to `hello`.
    pub fn hello(&self) -> Hello {
        Hello {
            protocol: PROTOCOL,
            kind: self.kind(),
            settings_schema: self.settings_schema.clone(),
        }
    }

    /// Runs the handler on a check request and always returns its answer, with the
    /// request's id: an error or a panic is a `down` with the message as the detail.
    pub fn answer_check(&self, request: &CheckRequest) -> CheckAnswer {
        let mut answer = match &self.handler {
            Handler::Check(handler) => {
                match panic::catch_unwind(AssertUnwindSafe(|| handler(request))) {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(error)) => CheckAnswer::down(error.to_string()),
                    Err(panic) => {
                        CheckAnswer::down(format!("the check panicked: {}", panic_message(&*panic)))
                    }
                }
            }
            // Answered all the same, so flowstate does not wait out the timeout to learn it.
            Handler::Notify(_) => {
                CheckAnswer::down("this plugin is a notifier: it cannot answer a check")
            }
        };
        answer.id = request.id;
        answer
    }

    /// Runs the handler on a notify request and always returns its answer, with the
    /// request's id: an error or a panic asks flowstate to retry, with the message as the
    /// detail (a panic may be a passing condition; flowstate's backoff bounds the retries).
    pub fn answer_notify(&self, request: &NotifyRequest) -> NotifyAnswer {
        let mut answer = match &self.handler {
            Handler::Notify(handler) => {
                match panic::catch_unwind(AssertUnwindSafe(|| handler(request))) {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(error)) => NotifyAnswer::retry(error.to_string()),
                    Err(panic) => NotifyAnswer::retry(format!(
                        "the notifier panicked: {}",
                        panic_message(&*panic)
                    )),
                }
            }
            // Retrying a request sent to the wrong kind of plugin can never succeed.
            Handler::Check(_) => {
                NotifyAnswer::give_up("this plugin is a check: it cannot answer a notify")
            }
        };
        answer.id = request.id;
        answer
    }

    /// Either answer, for the runner.
    pub(crate) fn answer(&self, request: &Job) -> Answer {
        match request {
            Job::Check(request) => Answer::Check(self.answer_check(request)),
            Job::Notify(request) => Answer::Notify(self.answer_notify(request)),
        }
    }
}

/// A request that goes to the handler (everything but `hello`).
pub(crate) enum Job {
    Check(CheckRequest),
    Notify(NotifyRequest),
}

impl Job {
    pub(crate) fn id(&self) -> u64 {
        match self {
            Job::Check(request) => request.id,
            Job::Notify(request) => request.id,
        }
    }

    /// Which kind of plugin answers this request.
    pub(crate) fn kind(&self) -> PluginKind {
        match self {
            Job::Check(_) => PluginKind::Check,
            Job::Notify(_) => PluginKind::Notifier,
        }
    }
}

/// The answer to request `id` of `kind` when its handler cannot even be started (no thread
/// to run it on): failed, and for a notification worth retrying.
pub(crate) fn not_started(kind: PluginKind, id: u64, detail: String) -> Answer {
    match kind {
        PluginKind::Check => Answer::Check(CheckAnswer {
            id,
            ..CheckAnswer::down(detail)
        }),
        PluginKind::Notifier => Answer::Notify(NotifyAnswer {
            id,
            ..NotifyAnswer::retry(detail)
        }),
    }
}

/// The text of a panic: `panic!` gives a `&str` or a `String`; anything else is unnamed.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Status;
    use serde_json::json;

    fn request(id: u64) -> CheckRequest {
        CheckRequest {
            id,
            host: "cache".into(),
            settings: json!({}),
            timeout_ms: 1000,
        }
    }

    #[test]
    fn answers_carry_the_requests_id_whatever_the_handler_wrote() {
        let plugin = Plugin::check(json!(true), |_| {
            Ok(CheckAnswer {
                id: 99,
                ..CheckAnswer::up("fine")
            })
        });
        assert_eq!(plugin.answer_check(&request(7)).id, 7);
    }

    #[test]
    fn errors_and_panics_are_down_with_their_message() {
        let plugin = Plugin::check(json!(true), |request| match request.id {
            1 => Err("connection refused".into()),
            2 => panic!("index out of bounds"),
            _ => panic!("{} is not a port", request.host),
        });
        let error = plugin.answer_check(&request(1));
        assert_eq!(
            (error.status, error.detail.as_str()),
            (Status::Down, "connection refused")
        );
        let panic = plugin.answer_check(&request(2));
        assert_eq!(panic.status, Status::Down);
        assert_eq!(panic.detail, "the check panicked: index out of bounds");
        let formatted = plugin.answer_check(&request(3));
        assert_eq!(formatted.detail, "the check panicked: cache is not a port");
    }

    #[test]
    fn a_failing_notifier_asks_to_be_retried() {
        let plugin = Plugin::notifier(json!(true), |request| match request.id {
            1 => Err("HTTP 503".into()),
            _ => panic!("boom"),
        });
        let notify = |id| NotifyRequest {
            id,
            event: Some(json!({"event": "down"})),
            group: None,
            settings: json!({}),
            timeout_ms: 1000,
        };
        let error = plugin.answer_notify(&notify(1));
        assert_eq!((error.id, error.ok, error.retry), (1, false, true));
        assert_eq!(error.detail, "HTTP 503");
        let panic = plugin.answer_notify(&notify(2));
        assert_eq!((panic.id, panic.ok, panic.retry), (2, false, true));
        assert_eq!(panic.detail, "the notifier panicked: boom");
    }

    #[test]
    fn a_request_of_the_other_kind_is_answered_not_ignored() {
        let check = Plugin::check(json!(true), |_| Ok(CheckAnswer::up("")));
        let refused = check.answer_notify(&NotifyRequest {
            id: 4,
            event: None,
            group: None,
            settings: json!({}),
            timeout_ms: 1000,
        });
        assert_eq!((refused.id, refused.ok, refused.retry), (4, false, false));
        let notifier = Plugin::notifier(json!(true), |_| Ok(NotifyAnswer::ok()));
        let refused = notifier.answer_check(&request(5));
        assert_eq!((refused.id, refused.status), (5, Status::Down));
    }

    #[test]
    fn hello_names_the_kind_and_the_schema() {
        let schema = json!({"type": "object", "required": ["address"]});
        let plugin = Plugin::check(schema.clone(), |_| Ok(CheckAnswer::up("")));
        let hello = plugin.hello();
        assert_eq!((hello.protocol, hello.kind), (PROTOCOL, PluginKind::Check));
        assert_eq!(hello.settings_schema, schema);
        let notifier = Plugin::notifier(json!(true), |_| Ok(NotifyAnswer::ok()));
        assert_eq!(notifier.hello().kind, PluginKind::Notifier);
        assert_eq!(notifier.max_in_flight(0).max_in_flight, 1);
    }
}
