//! A webhook receiver on loopback that records every post and answers as the test says.
//!
//! [`Receiver`] is a [`TestServer`] that records each request as a [`Post`]: the request
//! itself, when it arrived (wall clock, to compare with event timestamps, and a monotonic
//! instant, to measure the waits between retries) and the status it was answered with. It
//! answers `200 ok` ([`Receiver::accepting`]), any status the test sets and changes
//! ([`Receiver::answering`], [`Receiver::answer`]), 503 to the first posts
//! ([`Receiver::failing_first`]), a status chosen per event ([`Receiver::deciding`]), or one
//! fixed [`Response`] ([`Receiver::answering_with`]). A post's body must be JSON: reading one
//! that is not fails the test.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::wait::wait_for;
use super::{Daemon, Request, Response, TestServer, DEADLINE};

/// One post a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Post {
    /// When the handler saw it (wall clock, to compare with event timestamps).
    pub arrived: SystemTime,
    /// When the handler saw it (monotonic, to measure the time between posts).
    pub instant: Instant,
    pub request: Request,
    /// The status it was answered with.
    pub answered: u16,
}

impl Post {
    /// The body, which must be JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.request.body).unwrap_or_else(|e| {
            panic!(
                "a webhook body is not JSON ({e}): {:?}",
                self.request.body_text()
            )
        })
    }

    /// The `id` of the event in the body.
    #[track_caller]
    pub fn id(&self) -> String {
        let event = self.json();
        event["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in the event {event}"))
            .to_string()
    }

    /// The `Idempotency-Key` header.
    pub fn key(&self) -> Option<String> {
        self.request.header("Idempotency-Key").map(str::to_string)
    }
}

/// How a [`Receiver`] picks its answer: `(event, how many posts came before)` gives a status,
/// or `None` for the one the test set last.
type Decide = Box<dyn Fn(&Value, usize) -> Option<u16> + Send + Sync>;

/// A webhook receiver on loopback; see the module documentation.
pub struct Receiver {
    server: TestServer,
    answer: Arc<Mutex<Response>>,
    posts: Arc<Mutex<Vec<Post>>>,
}

/// `status` with the body `ok` (2xx) or `not now`.
fn reply(status: u16) -> Response {
    Response::status(status).body(if status < 300 { "ok" } else { "not now" })
}

impl Receiver {
    /// Accepts everything: `200 ok`.
    pub fn accepting() -> Self {
        Receiver::answering(200)
    }

    /// Answers every post with `status` (until [`Receiver::answer`] says otherwise).
    pub fn answering(status: u16) -> Self {
        Receiver::failing_first(0, status)
    }

    /// Answers 503 to the first `n` posts, then `then`.
    pub fn failing_first(n: usize, then: u16) -> Self {
        Receiver::deciding(move |_, count| (count < n).then_some(503), then)
    }

    /// `decide(event, how many posts came before)` picks a status, or `None` for the one the
    /// test set last (initially `then`). A body that is not JSON is decided on as `null`.
    pub fn deciding(
        decide: impl Fn(&Value, usize) -> Option<u16> + Send + Sync + 'static,
        then: u16,
    ) -> Self {
        Receiver::start(Box::new(decide), reply(then))
    }

    /// Answers every post with `response`, e.g. a refusal with a body the daemon must log.
    pub fn answering_with(response: Response) -> Self {
        Receiver::start(Box::new(|_, _| None), response)
    }

    fn start(decide: Decide, answer: Response) -> Self {
        let answer = Arc::new(Mutex::new(answer));
        let posts: Arc<Mutex<Vec<Post>>> = Arc::default();
        let seen = AtomicUsize::new(0);
        let server = TestServer::start({
            let answer = answer.clone();
            let posts = posts.clone();
            move |request, _| {
                let event = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let count = seen.fetch_add(1, SeqCst);
                let response = match decide(&event, count) {
                    Some(status) => reply(status),
                    None => answer.lock().unwrap().clone(),
                };
                posts.lock().unwrap().push(Post {
                    arrived: SystemTime::now(),
                    instant: Instant::now(),
                    request: request.clone(),
                    answered: response.status_code(),
                });
                response
            }
        });
        Receiver {
            server,
            answer,
            posts,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// From now on, answers `status` (after any first failures).
    pub fn answer(&self, status: u16) {
        *self.answer.lock().unwrap() = reply(status);
    }

    /// Every post so far, in arrival order.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The bodies received so far, parsed.
    #[track_caller]
    pub fn bodies(&self) -> Vec<Value> {
        self.posts().iter().map(Post::json).collect()
    }

    /// Waits until its posts satisfy `condition`, and returns them all.
    #[track_caller]
    pub fn wait_for_posts(
        &self,
        daemon: &Daemon,
        what: &str,
        condition: impl Fn(&[Post]) -> bool,
    ) -> Vec<Post> {
        wait_for(DEADLINE, what, || {
            let posts = self.posts();
            condition(&posts).then_some(posts)
        })
        .unwrap_or_else(|timed_out| {
            panic!("{timed_out}\nposts: {}\n{daemon}", shown(&self.posts()))
        })
    }

    /// Waits until at least `n` posts arrived, and returns them all.
    #[track_caller]
    pub fn wait_for_count(&self, daemon: &Daemon, n: usize) -> Vec<Post> {
        let what = format!("{n} requests arrived at {}", self.server.addr());
        self.wait_for_posts(daemon, &what, |posts| posts.len() >= n)
    }
}

/// Posts, one line each, for failure messages: status answered, key, path and body.
pub fn shown(posts: &[Post]) -> String {
    posts
        .iter()
        .map(|p| {
            format!(
                "\n  {} key={:?} {} {}",
                p.answered,
                p.key(),
                p.request.target,
                p.request.body_text()
            )
        })
        .collect()
}
