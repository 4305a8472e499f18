//! `GET /api/v1/stream` read as a browser's `EventSource` would: event by event, each with a
//! deadline, over HTTP/1.0 so the body is plain bytes until the server closes it.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::DEADLINE;

/// A `GET /api/v1/stream` connection, read event by event.
pub struct Stream {
    reader: BufReader<TcpStream>,
}

/// One server-sent event.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

impl Stream {
    /// Opens the stream (HTTP/1.0, so the body is plain bytes until the server closes it);
    /// `last_id` is sent as `Last-Event-ID`, and `headers` (an `Authorization`) too.
    pub fn open(api: SocketAddr, last_id: Option<&str>, headers: &[(&str, &str)]) -> Stream {
        let mut socket = TcpStream::connect(api).expect("connect to the API");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("a read timeout");
        let mut last = last_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        for (name, value) in headers {
            last.push_str(&format!("{name}: {value}\r\n"));
        }
        write!(
            socket,
            "GET /api/v1/stream HTTP/1.0\r\nHost: {api}\r\nAccept: text/event-stream\r\n{last}\r\n"
        )
        .expect("send the request");
        let mut reader = BufReader::new(socket);
        let mut head = String::new();
        let deadline = Instant::now() + DEADLINE;
        while !head.ends_with("\r\n\r\n") {
            assert!(Instant::now() < deadline, "no answer head: {head:?}");
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => panic!("the stream closed before its head ended: {head:?}"),
                Ok(_) => head.push_str(&line),
                Err(_) => continue,
            }
        }
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{head}"
        );
        Stream { reader }
    }

    /// The next `event:` (comments and `retry:` skipped), waiting at most [`DEADLINE`].
    #[track_caller]
    pub fn next(&mut self) -> Event {
        self.next_within(DEADLINE)
            .unwrap_or_else(|| panic!("no event within {DEADLINE:?}"))
    }

    /// The next `event:`, or `None` when none comes within `within`.
    pub fn next_within(&mut self, within: Duration) -> Option<Event> {
        let deadline = Instant::now() + within;
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut line = String::new();
        loop {
            if Instant::now() >= deadline {
                return None;
            }
            // A timed-out read keeps what it read in `line`; the next read goes on from there.
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("the stream ended"),
                Ok(_) => {}
                Err(_) => continue,
            }
            let complete = std::mem::take(&mut line);
            let complete = complete.trim_end_matches(['\r', '\n']);
            if complete.is_empty() {
                if fields.iter().any(|(name, _)| name == "event") {
                    let get = |name: &str| {
                        fields
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    return Some(Event {
                        id: get("id"),
                        kind: get("event"),
                        data: serde_json::from_str(&get("data")).expect("data is JSON"),
                    });
                }
                fields.clear();
                continue;
            }
            if complete.starts_with(':') {
                continue;
            }
            if let Some((name, value)) = complete.split_once(": ") {
                fields.push((name.to_string(), value.to_string()));
            }
        }
    }

    /// The ids of every event that arrives within `within`.
    pub fn ids_within(&mut self, within: Duration) -> Vec<String> {
        let until = Instant::now() + within;
        let mut ids = Vec::new();
        while let Some(event) = self.next_within(until.saturating_duration_since(Instant::now())) {
            ids.push(event.id);
        }
        ids
    }
}
