//! `GET /api/v1/stream`: Server-Sent Events, one `event: status` per transition with the
//! alert event's JSON as `data` and its id as `id`, so a browser's `EventSource` (or `curl -N`)
//! follows changes live. A client that reconnects with `Last-Event-ID` first gets the
//! events it missed that are still kept (the last 1000); a comment every
//! [`KEEP_ALIVE`] keeps proxies from closing an idle connection.
//!
//! A listener so slow that 1000 events passed it has its stream ended: it reconnects with its
//! last id and replays, rather than the daemon buffering for it without bound.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::access::{Access, Need};
use super::{admitted, ApiState};
use crate::status_stream::StreamEvent;

/// How often an idle stream says something (a comment line).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a browser waits before reconnecting after the connection drops.
const RETRY_MS: u32 = 2000;

/// One event in the wire format.
fn frame(event: &StreamEvent) -> Bytes {
    // The JSON is one line (serde_json writes no newline), so one `data:` line carries it.
    Bytes::from(format!(
        "id: {}\nevent: status\ndata: {}\n\n",
        event.id, event.json
    ))
}

/// What the stream yields next: the replay, then live events, keep-alives in between.
struct Feed {
    replay: VecDeque<StreamEvent>,
    live: Receiver<StreamEvent>,
    /// The `retry:` line goes first, once.
    greeted: bool,
    /// Whose events the listener may see.
    access: Access,
}

async fn next(mut feed: Feed) -> Option<(Result<Bytes, actix_web::Error>, Feed)> {
    if !feed.greeted {
        feed.greeted = true;
        // Some proxies hold the first bytes back; this comment and the retry go at once.
        let hello = Bytes::from(format!("retry: {RETRY_MS}\n: flowstate status stream\n\n"));
        return Some((Ok(hello), feed));
    }
    while let Some(event) = feed.replay.pop_front() {
        if feed.access.sees(&event.host) {
            return Some((Ok(frame(&event)), feed));
        }
    }
    // The keep-alive counts from the last thing sent, so other tenants' events (skipped)
    // neither reset it nor show through its timing.
    let deadline = tokio::time::Instant::now() + KEEP_ALIVE;
    loop {
        match tokio::time::timeout_at(deadline, feed.live.recv()).await {
            Ok(Ok(event)) if feed.access.sees(&event.host) => {
                return Some((Ok(frame(&event)), feed))
            }
            Ok(Ok(_)) => continue,
            Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), feed)),
            // Fell behind, or the daemon is stopping: end; the client reconnects and replays.
            Ok(Err(RecvError::Lagged(_) | RecvError::Closed)) => return None,
        }
    }
}

/// `GET /api/v1/stream`.
pub async fn stream(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let last_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let subscription = state.stream.subscribe(last_id);
    let feed = Feed {
        replay: subscription.replay.into(),
        live: subscription.live,
        greeted: false,
        access,
    };
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // nginx buffers responses unless told not to.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(futures_util::stream::unfold(feed, next))
}
