//! Fetching from the daemon on a thread of its own, so a slow or unreachable daemon never
//! freezes the keyboard: the screen keeps answering while a request waits for its timeout.
//!
//! The thread asks for `GET /api/v1/hosts` every [`Fetcher::start`] period, and for
//! `GET /api/v1/hosts/{label}` of the selected host only: after each list, and at once when the
//! selection changes (several quick moves are merged into one request). Results go back as
//! [`Update`]s on a channel that the screen's loop drains. Dropping the [`Fetcher`] ends the
//! thread after its current request.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use flowstate_actors::api::types::{HostDetail, HostView};

use crate::api_client::{path_segment, ApiClient, ApiError};

/// What the daemon answered.
pub enum Update {
    Hosts(Result<Vec<HostView>, ApiError>),
    Detail {
        label: String,
        /// Boxed: a host's detail is several times the size of the other answers.
        result: Box<Result<HostDetail, ApiError>>,
    },
}

enum Request {
    /// The host whose history to fetch from now on.
    Select(Option<String>),
    /// Fetch everything now rather than at the next tick.
    Refresh,
}

/// The fetching thread's end of the conversation: requests go in, updates come out.
pub struct Fetcher {
    requests: Sender<Request>,
    updates: Receiver<Update>,
    /// The API address as the client uses it, for the header.
    base: String,
}

/// The fetching thread is gone (it panicked): no more updates will come.
#[derive(Debug)]
pub struct Stopped;

impl Fetcher {
    /// Starts the thread; it fetches the host list at once, then every `period`.
    pub fn start(api: &str, token: Option<String>, period: Duration) -> Fetcher {
        let (requests, incoming) = mpsc::channel();
        let (outgoing, updates) = mpsc::channel();
        let (base_out, base_in) = mpsc::channel();
        let api = api.to_string();
        thread::Builder::new()
            .name("tui-fetch".into())
            .spawn(move || {
                // The client (an actix runtime) is not `Send`: it is made on its thread.
                let client = ApiClient::new(&api, token);
                let _ = base_out.send(client.base().to_string());
                fetch_loop(&client, period, &incoming, &outgoing);
            })
            .expect("spawn the fetching thread");
        let base = base_in.recv().unwrap_or_default();
        Fetcher {
            requests,
            updates,
            base,
        }
    }

    /// The API address, as requests use it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// From now on, fetch the history of this host (`None`: of no host).
    pub fn select(&self, label: Option<String>) {
        let _ = self.requests.send(Request::Select(label));
    }

    /// Fetch now.
    pub fn refresh(&self) {
        let _ = self.requests.send(Request::Refresh);
    }

    /// Waits for the next update; `None` if the thread is gone.
    pub fn wait(&self) -> Option<Update> {
        self.updates.recv().ok()
    }

    /// The next update if one is waiting.
    pub fn try_next(&self) -> Result<Option<Update>, Stopped> {
        match self.updates.try_recv() {
            Ok(update) => Ok(Some(update)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(Stopped),
        }
    }
}

/// Runs until the [`Fetcher`] is dropped.
fn fetch_loop(
    client: &ApiClient,
    period: Duration,
    requests: &Receiver<Request>,
    updates: &Sender<Update>,
) {
    let mut selected: Option<String> = None;
    let mut due = Instant::now();
    loop {
        if Instant::now() >= due {
            let hosts = client.get::<Vec<HostView>>("/api/v1/hosts");
            let reachable = hosts.is_ok();
            if updates.send(Update::Hosts(hosts)).is_err() {
                return;
            }
            if reachable && !send_detail(client, selected.as_deref(), updates) {
                return;
            }
            // The next tick counts from the end of this one: a slow daemon is not hammered.
            due = Instant::now() + period;
        }
        let first = match requests.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(request) => request,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut changed = false;
        for request in std::iter::once(first).chain(requests.try_iter()) {
            match request {
                Request::Select(label) => {
                    changed |= label != selected;
                    selected = label;
                }
                Request::Refresh => due = Instant::now(),
            }
        }
        // A refresh that is due fetches the detail anyway.
        if changed && Instant::now() < due && !send_detail(client, selected.as_deref(), updates) {
            return;
        }
    }
}

/// Fetches and sends the history of `label`; false once nobody listens any more.
fn send_detail(client: &ApiClient, label: Option<&str>, updates: &Sender<Update>) -> bool {
    let Some(label) = label else {
        return true;
    };
    let result = client.get::<HostDetail>(&format!("/api/v1/hosts/{}", path_segment(label)));
    updates
        .send(Update::Detail {
            label: label.to_string(),
            result: Box::new(result),
        })
        .is_ok()
}
