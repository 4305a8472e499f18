//! A loopback HTTP/1.1 target whose every answer the test decides.
//!
//! [`TestServer`] listens on `127.0.0.1:0` and serves each connection on a thread of its own,
//! plain `std::net`, so it shares nothing with the code under test. A handler (a closure, or a
//! [`TestServer::routes`] table) turns each [`Request`] into a [`Response`], which can be slow
//! before its headers, stall in the middle of its body, lie about its `Content-Length`, or
//! redirect. Every request is recorded for assertions, and [`Traffic`] counts requests in
//! flight so a handler can wait until several are open at once: proof of concurrency that
//! needs no timing assertion. Every answer closes its connection. Dropping the server stops it.
//! [`TestServer::start_tls`] serves the same over TLS with a rustls `ServerConfig` of the
//! test's choosing; the HTTP/3 server (`h3_server.rs`) answers with the same [`Response`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a connection may stay silent before the server gives up on it.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// In arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The path without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The first value of a header, its name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the server answers, and how.
#[derive(Debug, Clone)]
pub struct Response {
    // Read by the HTTP/3 server too.
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) delay_before_headers: Duration,
    stall_mid_body: Duration,
    declared_length: Option<usize>,
}

impl Response {
    /// An empty answer with this status.
    pub fn status(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay_before_headers: Duration::ZERO,
            stall_mid_body: Duration::ZERO,
            declared_length: None,
        }
    }

    /// The status this answer has.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// `200` with this body.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Response::status(200).body(body)
    }

    /// A redirect: `status` (301, 302, 303, 307, 308) with a `Location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Response::status(status).header("Location", location)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Waits this long after reading the request before sending anything.
    pub fn delay_headers(mut self, delay: Duration) -> Self {
        self.delay_before_headers = delay;
        self
    }

    /// Sends the headers and the first half of the body at once, then waits this long before
    /// the rest: a server that answers fast but streams slowly.
    pub fn stall_mid_body(mut self, delay: Duration) -> Self {
        self.stall_mid_body = delay;
        self
    }

    /// Declares this `Content-Length` whatever the body is, then closes the connection after
    /// the body: with a longer length, a body cut short.
    pub fn declare_length(mut self, length: usize) -> Self {
        self.declared_length = Some(length);
        self
    }
}

/// Requests in flight: received in full and not yet completely answered.
#[derive(Default)]
pub struct Traffic {
    counts: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    in_flight: usize,
    peak: usize,
}

impl Traffic {
    pub fn in_flight(&self) -> usize {
        self.counts.lock().unwrap().in_flight
    }

    /// The most requests that were ever in flight at the same time.
    pub fn peak_in_flight(&self) -> usize {
        self.counts.lock().unwrap().peak
    }

    /// Blocks until at least `n` requests have been in flight at the same time (now or
    /// earlier), or `within` has passed. Returns whether that happened. Meant for handlers:
    /// each of `n` concurrent requests waits for the others, and sequential requests never
    /// get there.
    pub fn wait_for_in_flight(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut counts = self.counts.lock().unwrap();
        while counts.peak < n {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            counts = self.changed.wait_timeout(counts, deadline - now).unwrap().0;
        }
        true
    }

    fn enter(self: &Arc<Self>) -> InFlight {
        let mut counts = self.counts.lock().unwrap();
        counts.in_flight += 1;
        counts.peak = counts.peak.max(counts.in_flight);
        self.changed.notify_all();
        InFlight(self.clone())
    }
}

/// Counts one request in flight until dropped, whatever happens to its answer.
struct InFlight(Arc<Traffic>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.0.counts.lock().unwrap();
        counts.in_flight -= 1;
        self.0.changed.notify_all();
    }
}

type Handler = dyn Fn(&Request, &Traffic) -> Response + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    /// `None`: plain HTTP.
    tls: Option<Arc<rustls::ServerConfig>>,
    requests: Mutex<Vec<Request>>,
    traffic: Arc<Traffic>,
    stopping: AtomicBool,
}

/// The server. Stops accepting, and cuts short any delay in progress, when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Answers every request with what `handler` returns. The handler may block (up to its
    /// own deadline), e.g. in [`Traffic::wait_for_in_flight`].
    pub fn start(handler: impl Fn(&Request, &Traffic) -> Response + Send + Sync + 'static) -> Self {
        Self::serving(None, Box::new(handler))
    }

    /// [`TestServer::start`] over TLS: the handshake with `tls`, then one request.
    // The `alt-svc` tests' TCP side, built only with HTTP/3.
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    pub fn start_tls(
        tls: rustls::ServerConfig,
        handler: impl Fn(&Request, &Traffic) -> Response + Send + Sync + 'static,
    ) -> Self {
        Self::serving(Some(Arc::new(tls)), Box::new(handler))
    }

    fn serving(tls: Option<Arc<rustls::ServerConfig>>, handler: Box<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            handler,
            tls,
            requests: Mutex::new(Vec::new()),
            traffic: Arc::default(),
            stopping: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name(format!("test-server-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn the accept thread")
        };
        TestServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Answers every request the same way.
    pub fn always(response: Response) -> Self {
        TestServer::start(move |_, _| response.clone())
    }

    /// Answers by path (query ignored); any other path gets `404 no route`.
    pub fn routes<'a>(routes: impl IntoIterator<Item = (&'a str, Response)>) -> Self {
        let table: HashMap<String, Response> = routes
            .into_iter()
            .map(|(path, response)| (path.to_string(), response))
            .collect();
        TestServer::start(move |request, _| {
            table
                .get(request.path())
                .cloned()
                .unwrap_or_else(|| Response::status(404).body("no route"))
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` followed by `path` (`https` over TLS).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The only request received; fails the test if there were none or several.
    #[track_caller]
    pub fn single_request(&self) -> Request {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request to {}, got {requests:#?}",
            self.addr
        );
        requests.into_iter().next().unwrap()
    }

    pub fn traffic(&self) -> &Traffic {
        &self.shared.traffic
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let shared = shared.clone();
        let _ = thread::Builder::new()
            .name("test-server-connection".into())
            .spawn(move || serve(stream, &shared));
    }
}

/// Serves one request on one connection, then closes it.
fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    match &shared.tls {
        None => {
            let Ok(reader) = stream.try_clone() else {
                return;
            };
            let Some((response, _in_flight)) = answer(&mut BufReader::new(reader), shared) else {
                return;
            };
            let _ = write_response(&mut &stream, &response, &shared.stopping);
            // The request was read in full, so closing sends a clean end of stream, not a reset.
            let _ = stream.shutdown(Shutdown::Write);
        }
        Some(config) => {
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(connection, stream);
            let Some((response, _in_flight)) = answer(&mut BufReader::new(&mut tls), shared) else {
                return;
            };
            let _ = write_response(&mut tls, &response, &shared.stopping);
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tls.sock.shutdown(Shutdown::Write);
        }
    }
}

/// Reads one request, records it and asks the handler; `None` for a closed or garbled
/// connection (or the wake-up from Drop): nothing to answer.
fn answer(reader: &mut impl BufRead, shared: &Shared) -> Option<(Response, InFlight)> {
    let request = read_request(reader).ok()??;
    shared.requests.lock().unwrap().push(request.clone());
    let in_flight = shared.traffic.enter();
    let response = catch_unwind(AssertUnwindSafe(|| {
        (shared.handler)(&request, &shared.traffic)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Response::status(500).body(format!("test handler panicked: {message}"))
    });
    Some((response, in_flight))
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("Transfer-Encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("Content-Length") {
        let length: usize = length.parse().unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

fn write_response(
    stream: &mut impl Write,
    response: &Response,
    stopping: &AtomicBool,
) -> std::io::Result<()> {
    if !pause(response.delay_before_headers, stopping) {
        return Ok(());
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    let has = |name: &str| {
        response
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has("Content-Length") && !has("Transfer-Encoding") {
        let length = response.declared_length.unwrap_or(response.body.len());
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    if !has("Connection") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if response.stall_mid_body.is_zero() {
        stream.write_all(&response.body)?;
    } else {
        let half = response.body.len().div_ceil(2);
        stream.write_all(&response.body[..half])?;
        stream.flush()?;
        if !pause(response.stall_mid_body, stopping) {
            return Ok(());
        }
        stream.write_all(&response.body[half..])?;
    }
    stream.flush()
}

/// Sleeps in short slices so a dropped server does not leave threads sleeping for long.
/// Returns false when the server is stopping.
pub(super) fn pause(delay: Duration, stopping: &AtomicBool) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        if stopping.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// A loopback port free now, for a daemon to listen on: bound, then released (a test that
/// uses it tries another should something else take it first).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A loopback port nothing listens on: connecting to it is refused. The port stays bound (but
/// never listened on) for the rest of the test run, so no other test's server is given it.
/// It is taken below the kernel's ephemeral range (`ip_local_port_range`, 32768 and up by
/// default), which is where `bind(0)` finds free ports: held there, it could be the very port
/// another test found free a moment ago and is about to give its daemon.
pub fn closed_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    use std::sync::atomic::{AtomicU16, Ordering};
    static HELD: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    // Test processes running at once start at different places.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let offset = ((u32::from(start) + u32::from(n)) % u32::from(SPAN)) as u16;
        let port = FIRST + offset;
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        if socket.bind(&address.into()).is_ok() {
            HELD.lock().unwrap_or_else(|p| p.into_inner()).push(socket);
            return port;
        }
    }
    panic!("no loopback port free between {FIRST} and {}", FIRST + SPAN);
}

#[cfg(test)]
mod tests {
    //! The server's own behaviour, seen by a raw std client: if these fail, fix the harness
    //! before believing any other failure.

    use super::*;
    use crate::common::wait::wait_until;

    /// Sends raw bytes, returns everything the server sends back until it closes.
    fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(raw).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[test]
    fn server_answers_by_route_and_records_requests() {
        let server = TestServer::routes([("/hello", Response::ok("hi").header("X-A", "1"))]);
        let answer = exchange(
            server.addr(),
            b"POST /hello?x=1 HTTP/1.1\r\nHost: t\r\nX-Test: yes\r\nContent-Length: 4\r\n\r\nping",
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("X-A: 1\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nhi"), "{answer}");
        let missing = exchange(server.addr(), b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].target, "/hello?x=1");
        assert_eq!(requests[0].path(), "/hello");
        assert_eq!(requests[0].header("x-test"), Some("yes"));
        assert_eq!(requests[0].body_text(), "ping");
        assert_eq!(requests[1].path(), "/nope");
    }

    #[test]
    fn server_reads_chunked_request_bodies() {
        let server = TestServer::always(Response::status(204));
        exchange(
            server.addr(),
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(server.single_request().body_text(), "abcde");
    }

    #[test]
    fn server_can_declare_a_longer_body_than_it_sends() {
        let server = TestServer::always(Response::ok("short").declare_length(100));
        let answer = exchange(server.addr(), b"GET / HTTP/1.1\r\n\r\n");
        assert!(answer.contains("Content-Length: 100\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nshort"), "{answer}");
    }

    #[test]
    fn server_counts_requests_in_flight() {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(released);
        let server = TestServer::start(move |_, _| {
            let _ = released
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
            Response::status(204)
        });
        let addr = server.addr();
        let clients: Vec<_> = (0..2)
            .map(|_| thread::spawn(move || exchange(addr, b"GET / HTTP/1.1\r\n\r\n")))
            .collect();
        wait_until(
            Duration::from_secs(10),
            "two requests are in flight",
            || server.traffic().in_flight() == 2,
        )
        .unwrap();
        assert!(server.traffic().wait_for_in_flight(2, Duration::ZERO));
        assert!(!server
            .traffic()
            .wait_for_in_flight(3, Duration::from_millis(1)));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for client in clients {
            assert!(client.join().unwrap().starts_with("HTTP/1.1 204"));
        }
        wait_until(Duration::from_secs(10), "no request is in flight", || {
            server.traffic().in_flight() == 0
        })
        .unwrap();
        assert_eq!(server.traffic().peak_in_flight(), 2);
    }

    #[test]
    fn dropped_server_stops_listening_and_cuts_delays_short() {
        let server =
            TestServer::always(Response::ok("late").delay_headers(Duration::from_secs(60)));
        let addr = server.addr();
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        wait_until(Duration::from_secs(10), "the slow request arrived", || {
            server.traffic().in_flight() == 1
        })
        .unwrap();
        drop(server);
        // The delayed answer is abandoned: the connection closes instead of waiting a minute.
        slow.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut rest = Vec::new();
        slow.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
        let refused = TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn closed_port_refuses_connections() {
        let refused = TcpStream::connect(("127.0.0.1", closed_port())).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
