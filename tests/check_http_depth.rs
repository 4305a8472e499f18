//! HTTP checks in depth: authentication, redirects, methods and bodies, TLS trust and
//! certificate expiry, HTTP/2 by ALPN and connection reuse, against the real binary.
//!
//! Three kinds of loopback server, none sharing code with the daemon but the wire:
//! - the common [`TestServer`] (plain HTTP/1.1, records every request, closes every
//!   connection): what arrives (the `Authorization` header, the method, the body) and where
//!   redirects lead;
//! - [`TinyServer`], a `std::net` HTTP/1.1 server, plain or behind a rustls `ServerConfig` of
//!   the test's choosing (certificate, ALPN), that keeps connections open and counts accepted
//!   connections, completed TLS handshakes and requests: trust, expiry, "no HTTP/2 here",
//!   how many certificate reads the daemon makes, and whether `keepalive` reuses a connection;
//! - [`H2Server`], an actix-web server (`listen_rustls_0_23`) on a thread and actix system
//!   of its own, which offers HTTP/2 by ALPN and answers with the HTTP version the
//!   request came in, so a body regex proves which protocol was used.
//!
//! Certificates come from a private CA made with rcgen ([`TestCa`], shared in
//! `common/certs.rs`): valid for years, near
//! expiry (3 days), expired, or for another name. `flowstate once --json` gives single
//! outcomes; `flowstate run` with its API, `/metrics` and a file notifier shows state,
//! alerts and connection counts over several checks. Every wait has a deadline; counts are
//! read only after the daemon has stopped and every connection it opened is closed, so no
//! assertion depends on a sleep.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::common::certs::{server_tls, unix_seconds, utc_date, TestCa, DAY};
use crate::common::configs::{document_serving, host};
use crate::common::daemon::http_get;
use crate::common::events::events;
use crate::common::once::{once, once_in, verdict};
use crate::common::scrape::find_sample;
use crate::common::wait::{wait_for, wait_until};
use crate::common::{Daemon, Response, Sandbox, TestServer, DEADLINE};

// --- Running the binary --------------------------------------------------------------------

/// A daemon config: the API on a free port, checks every 300 ms, alerts to `console` and the
/// `audit` file notifier.
fn daemon_config(failure_threshold: u32, hosts: &[String]) -> String {
    document_serving(
        "listen: 127.0.0.1:0",
        "",
        &format!("interval: 300ms, timeout: 300ms, failure_threshold: {failure_threshold}"),
        hosts,
    )
}

const HTTP1_ONLY: &[&[u8]] = &[b"http/1.1"];

// --- A keep-alive HTTP/1.1 server, plain or TLS ----------------------------------------------

/// What a [`TinyServer`] saw.
#[derive(Default)]
struct Counters {
    /// TCP connections accepted.
    accepted: AtomicUsize,
    /// TLS handshakes completed.
    handshakes: AtomicUsize,
    /// HTTP requests answered.
    requests: AtomicUsize,
    /// Connections accepted and not yet closed.
    open: AtomicUsize,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    accepted: usize,
    handshakes: usize,
    requests: usize,
}

/// HTTP/1.1 on `127.0.0.1:0`, one thread per connection, answering every request `200 ok`
/// and keeping the connection open unless the client sent `Connection: close`. With TLS, the
/// handshake completes before any request is read, and the certificate can be swapped for
/// later connections. Stops accepting when dropped.
struct TinyServer {
    addr: SocketAddr,
    /// What new connections are served with: `None` is plain HTTP.
    tls: Arc<Mutex<Option<Arc<ServerConfig>>>>,
    counters: Arc<Counters>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TinyServer {
    fn plain() -> Self {
        Self::start(None)
    }

    fn tls(config: ServerConfig) -> Self {
        Self::start(Some(Arc::new(config)))
    }

    fn start(tls: Option<Arc<ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let counters = Arc::new(Counters::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let tls = Arc::new(Mutex::new(tls));
        let acceptor = {
            let (counters, stopping, current) = (counters.clone(), stopping.clone(), tls.clone());
            thread::Builder::new()
                .name(format!("tiny-server-{}", addr.port()))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stopping.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        counters.accepted.fetch_add(1, Ordering::SeqCst);
                        counters.open.fetch_add(1, Ordering::SeqCst);
                        let tls = current.lock().unwrap().clone();
                        let counters = counters.clone();
                        let _ = thread::Builder::new()
                            .name("tiny-server-connection".into())
                            .spawn(move || {
                                serve_connection(stream, tls, &counters);
                                counters.open.fetch_sub(1, Ordering::SeqCst);
                            });
                    }
                })
                .expect("spawn the accept thread")
        };
        TinyServer {
            addr,
            tls,
            counters,
            stopping,
            acceptor: Some(acceptor),
        }
    }

    /// Serves connections accepted from now on with `config` (a TLS server stays TLS).
    fn set_tls(&self, config: ServerConfig) {
        *self.tls.lock().unwrap() = Some(Arc::new(config));
    }

    /// `http(s)://127.0.0.1:PORT/`.
    fn url(&self) -> String {
        let tls = self.tls.lock().unwrap().is_some();
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    fn seen(&self) -> Seen {
        Seen {
            accepted: self.counters.accepted.load(Ordering::SeqCst),
            handshakes: self.counters.handshakes.load(Ordering::SeqCst),
            requests: self.counters.requests.load(Ordering::SeqCst),
        }
    }

    /// What was seen once every connection is closed (after the client went away).
    #[track_caller]
    fn seen_when_all_closed(&self) -> Seen {
        wait_until(DEADLINE, "every connection to the server is closed", || {
            self.counters.open.load(Ordering::SeqCst) == 0
        })
        .unwrap_or_else(|e| panic!("{e}; seen so far: {:?}", self.seen()));
        self.seen()
    }
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve_connection(mut tcp: TcpStream, tls: Option<Arc<ServerConfig>>, counters: &Counters) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = tcp.set_nodelay(true);
    match tls {
        None => serve_requests(tcp, counters),
        Some(config) => {
            let Ok(mut connection) = ServerConnection::new(config) else {
                return;
            };
            while connection.is_handshaking() {
                if connection.complete_io(&mut tcp).is_err() {
                    return;
                }
            }
            counters.handshakes.fetch_add(1, Ordering::SeqCst);
            serve_requests(StreamOwned::new(connection, tcp), counters);
        }
    }
}

/// Answers requests on one connection until the client closes it or asks to.
fn serve_requests(stream: impl Read + Write, counters: &Counters) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => {}
        }
        let (mut length, mut close) = (0usize, false);
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end_matches(['\r', '\n']);
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim(), value.trim());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        counters.requests.fetch_add(1, Ordering::SeqCst);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{}\r\nok",
            if close { "Connection: close\r\n" } else { "" }
        );
        let stream = reader.get_mut();
        if stream.write_all(answer.as_bytes()).is_err() || stream.flush().is_err() || close {
            return;
        }
    }
}

// --- An HTTP/2 server ----------------------------------------------------------------------

/// actix-web over rustls on `127.0.0.1:0`, on a thread and actix system of its own: offers
/// `h2` and `http/1.1` by ALPN and answers every request with its HTTP version
/// (`HTTP/2.0`, `HTTP/1.1`). Stops when dropped.
struct H2Server {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

async fn answer_with_version(request: actix_web::HttpRequest) -> String {
    format!("{:?}", request.version())
}

impl H2Server {
    fn start(tls: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let (started, handle) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("h2-server-{}", addr.port()))
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let server = actix_web::HttpServer::new(|| {
                        actix_web::App::new()
                            .default_service(actix_web::web::to(answer_with_version))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen_rustls_0_23(listener, tls)
                    .expect("serve TLS on the listener")
                    .run();
                    let _ = started.send(server.handle());
                    let _ = server.await;
                })
            })
            .expect("spawn the HTTP/2 server thread");
        let handle = handle
            .recv_timeout(DEADLINE)
            .expect("the HTTP/2 server started");
        H2Server {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("https://{}/", self.addr)
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only waits for it.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// --- Authentication ------------------------------------------------------------------------

const PASSWORD: &str = "pa55-Basic-Secret";
const TOKEN: &str = "bearer-T0ken-xyzzy";
/// `printf %s monitor:pa55-Basic-Secret | base64`
const BASIC_CREDENTIALS: &str = "bW9uaXRvcjpwYTU1LUJhc2ljLVNlY3JldA==";

/// A `basic` host with the password written in the file and a `bearer` host whose token
/// comes from `$API_TOKEN`.
fn auth_hosts(basic_url: &str, bearer_url: &str) -> Vec<String> {
    vec![
        host(
            "basic",
            basic_url,
            &format!("auth: {{ basic: {{ username: monitor, password: '{PASSWORD}' }} }}"),
        ),
        host("bearer", bearer_url, "auth: { bearer: '${API_TOKEN}' }"),
    ]
}

#[test]
fn basic_and_bearer_auth_arrive_as_authorization_and_are_never_printed() {
    let server = TestServer::routes([
        ("/basic", Response::ok("fine")),
        ("/bearer", Response::ok("fine")),
    ]);
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "hosts:\n{}",
            auth_hosts(&server.url("/basic"), &server.url("/bearer")).concat()
        ),
    );

    let json = sandbox
        .flowstate()
        .args(&["once", "-c", "flowstate.yaml", "--json"])
        .env("API_TOKEN", TOKEN)
        .env("RUST_LOG", "debug")
        .output();
    json.expect_code(0);
    assert_eq!(verdict(&json, "basic").0, "up", "{json}");
    assert_eq!(verdict(&json, "bearer").0, "up", "{json}");

    let requests = server.requests();
    let authorization = |path: &str| {
        let matching: Vec<_> = requests.iter().filter(|r| r.path() == path).collect();
        assert_eq!(matching.len(), 1, "one request to {path}: {requests:#?}");
        matching[0].header("Authorization").map(str::to_string)
    };
    assert_eq!(
        authorization("/basic").as_deref(),
        Some(format!("Basic {BASIC_CREDENTIALS}").as_str())
    );
    assert_eq!(
        authorization("/bearer").as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    let table = sandbox
        .flowstate()
        .args(&["once", "-c", "flowstate.yaml"])
        .env("API_TOKEN", TOKEN)
        .env("RUST_LOG", "debug")
        .output();
    table.expect_code(0);
    let check = sandbox
        .flowstate()
        .args(&["check", "-c", "flowstate.yaml"])
        .env("API_TOKEN", TOKEN)
        .output();
    check.expect_code(0);
    assert!(
        check.stdout.contains("basic") && check.stdout.contains("bearer"),
        "{check}"
    );
    for outcome in [&json, &table, &check] {
        for secret in [PASSWORD, TOKEN, BASIC_CREDENTIALS] {
            assert!(
                !outcome.all_output().contains(secret),
                "{secret:?} was printed: {outcome}"
            );
        }
    }
}

#[test]
fn credentials_are_not_sent_to_another_origin_a_redirect_points_at() {
    let other = TestServer::always(Response::ok("landed"));
    let landing = other.url("/landing");
    let origin = TestServer::routes([
        ("/basic", Response::redirect(302, landing.clone())),
        ("/bearer", Response::redirect(307, landing.clone())),
    ]);
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "hosts:\n{}",
            auth_hosts(&origin.url("/basic"), &origin.url("/bearer")).concat()
        ),
    );
    let outcome = sandbox
        .flowstate()
        .args(&["once", "-c", "flowstate.yaml", "--json"])
        .env("API_TOKEN", TOKEN)
        .output();
    outcome.expect_code(0);

    // The configured origin got the credentials...
    let sent: Vec<(String, Option<String>)> = origin
        .requests()
        .iter()
        .map(|r| {
            (
                r.path().to_string(),
                r.header("Authorization").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.contains(&("/basic".into(), Some(format!("Basic {BASIC_CREDENTIALS}")))),
        "{sent:?}"
    );
    assert!(
        sent.contains(&("/bearer".into(), Some(format!("Bearer {TOKEN}")))),
        "{sent:?}"
    );
    // ...and the other origin, reached by both redirects, got none.
    let landed = other.requests();
    assert_eq!(landed.len(), 2, "{landed:#?}");
    for request in &landed {
        assert_eq!(request.path(), "/landing");
        assert_eq!(request.header("Authorization"), None, "{request:#?}");
    }
}

#[test]
fn credentials_follow_a_redirect_within_the_same_origin() {
    let server = TestServer::routes([
        ("/basic", Response::redirect(302, "/basic-next")),
        ("/bearer", Response::redirect(301, "/bearer-next")),
        ("/basic-next", Response::ok("fine")),
        ("/bearer-next", Response::ok("fine")),
    ]);
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "hosts:\n{}",
            auth_hosts(&server.url("/basic"), &server.url("/bearer")).concat()
        ),
    );
    let outcome = sandbox
        .flowstate()
        .args(&["once", "-c", "flowstate.yaml", "--json"])
        .env("API_TOKEN", TOKEN)
        .output();
    outcome.expect_code(0);
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    for request in &requests {
        let expected = if request.path().starts_with("/basic") {
            format!("Basic {BASIC_CREDENTIALS}")
        } else {
            format!("Bearer {TOKEN}")
        };
        assert_eq!(
            request.header("Authorization"),
            Some(expected.as_str()),
            "{request:#?}"
        );
    }
}

// --- Redirects, methods, bodies ------------------------------------------------------------

#[test]
fn redirects_are_followed_to_the_final_answer() {
    let server = TestServer::routes([
        ("/old", Response::redirect(301, "/older")),
        ("/older", Response::redirect(302, "/new")),
        ("/new", Response::ok("arrived")),
    ]);
    let outcome = once(&[host("moved", &server.url("/old"), "regex: arrived")]);
    outcome.expect_code(0);
    assert_eq!(
        verdict(&outcome, "moved"),
        ("up".into(), "status 200, body matches".into()),
        "{outcome}"
    );
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(paths, ["/old", "/older", "/new"]);
}

#[test]
fn refused_redirect_is_judged_as_its_own_status() {
    let server = TestServer::routes([
        ("/old", Response::redirect(302, "/new")),
        ("/new", Response::ok("arrived")),
    ]);
    let outcome = once(&[
        host("refused", &server.url("/old"), "follow_redirects: false"),
        host(
            "wanted",
            &server.url("/old"),
            "follow_redirects: false\nstatus: 302",
        ),
    ]);
    outcome.expect_code(1);
    assert_eq!(
        verdict(&outcome, "refused"),
        (
            "down".into(),
            format!(
                "status 302, expected 2xx (redirect to {})",
                server.url("/new")
            )
        ),
        "{outcome}"
    );
    assert_eq!(verdict(&outcome, "wanted").0, "up", "{outcome}");
    // Neither check went where the redirect pointed.
    assert!(
        server.requests().iter().all(|r| r.path() == "/old"),
        "{:#?}",
        server.requests()
    );
}

#[test]
fn redirect_loop_is_down_as_too_many_redirects() {
    let server = TestServer::routes([
        ("/loop", Response::redirect(302, "/loop")),
        ("/a", Response::redirect(302, "/b")),
        ("/b", Response::redirect(302, "/c")),
        ("/c", Response::ok("end of the chain")),
    ]);
    let outcome = once(&[
        host("loop", &server.url("/loop"), ""),
        host("short", &server.url("/a"), "max_redirects: 1"),
        host("enough", &server.url("/a"), "max_redirects: 2"),
    ]);
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "loop");
    assert_eq!(status, "down", "{outcome}");
    assert_eq!(
        detail,
        format!(
            "too many redirects (more than 10), last to {}",
            server.url("/loop")
        ),
        "{outcome}"
    );
    let (status, detail) = verdict(&outcome, "short");
    assert_eq!(status, "down", "{outcome}");
    assert!(
        detail.starts_with("too many redirects (more than 1)"),
        "{outcome}"
    );
    assert_eq!(verdict(&outcome, "enough").0, "up", "{outcome}");
    // The loop was followed exactly max_redirects times: 1 request + 10 redirects.
    let loops = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/loop")
        .count();
    assert_eq!(loops, 11);
}

#[test]
fn post_with_body_arrives_as_configured() {
    let server = TestServer::always(Response::status(201));
    let outcome = once(&[host(
        "hook",
        &server.url("/submit"),
        "method: POST\nbody: '{\"probe\": \"flowstate\"}'\nheaders: { Content-Type: application/json }\nstatus: 201",
    )]);
    outcome.expect_code(0);
    let request = server.single_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), "/submit");
    assert_eq!(request.body_text(), r#"{"probe": "flowstate"}"#);
    assert_eq!(request.header("Content-Type"), Some("application/json"));
}

// --- TLS trust -----------------------------------------------------------------------------

#[test]
fn certificate_trusted_through_ca_file_is_up() {
    let ca = TestCa::new();
    let server = TinyServer::tls(server_tls(&ca.long_valid(), HTTP1_ONLY));
    let sandbox = Sandbox::new();
    // ca_file is relative to the config file, not to the working directory.
    sandbox.write("conf/certs/ca.pem", &ca.pem);
    sandbox.write(
        "conf/flowstate.yaml",
        &format!(
            "hosts:\n{}",
            host("tls", &server.url(), "tls: { ca_file: certs/ca.pem }")
        ),
    );
    let outcome = sandbox.run(&["once", "-c", "conf/flowstate.yaml", "--json"]);
    outcome.expect_code(0);
    assert_eq!(
        verdict(&outcome, "tls"),
        ("up".into(), "status 200".into()),
        "{outcome}"
    );
}

#[test]
fn untrusted_certificate_is_down_unless_insecure() {
    let ca = TestCa::new();
    let server = TinyServer::tls(server_tls(&ca.long_valid(), HTTP1_ONLY));
    let outcome = once(&[
        host("untrusted", &server.url(), ""),
        host("lab", &server.url(), "tls: { insecure: true }"),
    ]);
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "untrusted");
    assert_eq!(status, "down", "{outcome}");
    assert!(detail.starts_with("TLS handshake failed"), "{outcome}");
    assert!(
        detail.to_lowercase().contains("certificate"),
        "the reason names the certificate: {outcome}"
    );
    assert_eq!(
        verdict(&outcome, "lab"),
        ("up".into(), "status 200".into()),
        "{outcome}"
    );
}

#[test]
fn certificate_for_another_name_is_down() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["other.test"], SystemTime::now() + 3650 * DAY);
    let server = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    let outcome = once_in(
        &sandbox,
        "",
        &[host("misnamed", &server.url(), "tls: { ca_file: ca.pem }")],
    );
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "misnamed");
    assert_eq!(status, "down", "{outcome}");
    assert!(detail.starts_with("TLS handshake failed"), "{outcome}");
    assert!(
        detail.to_lowercase().contains("certificate"),
        "the reason names the certificate: {outcome}"
    );
}

#[test]
fn expired_certificate_is_down_with_its_date() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"], SystemTime::now() - 2 * DAY);
    let server = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    let outcome = once_in(
        &sandbox,
        "",
        &[host("expired", &server.url(), "tls: { ca_file: ca.pem }")],
    );
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "expired");
    assert_eq!(status, "down", "{outcome}");
    let prefix = format!(
        "certificate expired on {} (TLS handshake failed",
        utc_date(leaf.not_after)
    );
    assert!(
        detail.starts_with(&prefix),
        "{prefix:?} expected: {outcome}"
    );
}

#[test]
fn insecure_still_reports_an_expired_certificate_as_degraded() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"], SystemTime::now() - 2 * DAY);
    let server = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let outcome = once(&[host("lab", &server.url(), "tls: { insecure: true }")]);
    outcome.expect_code(1);
    assert_eq!(
        verdict(&outcome, "lab"),
        (
            "degraded".into(),
            format!(
                "status 200; certificate expired on {}",
                utc_date(leaf.not_after)
            )
        ),
        "{outcome}"
    );
}

// --- Certificate expiry --------------------------------------------------------------------

#[test]
fn certificate_near_expiry_is_degraded() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"], SystemTime::now() + 3 * DAY);
    let server = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    let outcome = once_in(
        &sandbox,
        "",
        &[
            host("soon", &server.url(), "tls: { ca_file: ca.pem }"),
            host(
                "relaxed",
                &server.url(),
                "tls: { ca_file: ca.pem, expiry_warning: 2d }",
            ),
        ],
    );
    // degraded is not up: `once` exits 1.
    outcome.expect_code(1);
    let soon = outcome.result("soon");
    assert_eq!(soon["status"], "degraded", "{outcome}");
    assert_eq!(soon["ok"], true, "the check itself passed: {outcome}");
    // Whole days left, rounded down: 3 days minus the moments since the certificate was made.
    assert_eq!(
        soon["detail"],
        format!(
            "status 200; certificate expires on {} (in 2 days)",
            utc_date(leaf.not_after)
        ),
        "{outcome}"
    );
    assert_eq!(
        verdict(&outcome, "relaxed"),
        ("up".into(), "status 200".into()),
        "{outcome}"
    );
}

#[test]
fn daemon_degrades_a_host_whose_certificate_expires_soon_and_exports_the_date() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"], SystemTime::now() + 3 * DAY);
    let server = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    sandbox.write(
        "flowstate.yaml",
        &daemon_config(2, &[host("tls", &server.url(), "tls: { ca_file: ca.pem }")]),
    );
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    let suffix = format!(
        "; certificate expires on {} (in 2 days)",
        utc_date(leaf.not_after)
    );

    let state = daemon.wait_for_status("tls", "degraded");
    let detail = state["last_check"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.ends_with(&suffix),
        "{suffix:?} expected: {state}\n{daemon}"
    );

    let event = wait_for(
        DEADLINE,
        "the file notifier writes a degraded event",
        || {
            events(&sandbox)
                .into_iter()
                .find(|e| e["event"] == "degraded")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    assert_eq!(event["host"], "tls", "{event}");
    assert_eq!(event["status"], "degraded", "{event}");
    assert_eq!(event["previous"], "unknown", "{event}");
    assert!(
        event["reason"]
            .as_str()
            .is_some_and(|r| r.ends_with(&suffix)),
        "{suffix:?} expected: {event}"
    );

    let series = "flowstate_tls_cert_not_after_timestamp_seconds{host=\"tls\"}";
    let metrics = daemon.get("/metrics").body;
    let exported = find_sample(&metrics, series)
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{metrics}"));
    let expected = unix_seconds(leaf.not_after) as f64;
    assert!(
        (exported - expected).abs() <= 1.0,
        "{series} is {exported}, the certificate's notAfter is {expected}"
    );
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

#[test]
fn up_host_turns_degraded_after_failure_threshold_checks_of_a_certificate_near_expiry() {
    let ca = TestCa::new();
    let server = TinyServer::tls(server_tls(&ca.long_valid(), HTTP1_ONLY));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    sandbox.write(
        "flowstate.yaml",
        &daemon_config(
            2,
            &[host(
                "tls",
                &server.url(),
                "tls: { ca_file: ca.pem, expiry_check_every: 1ms }",
            )],
        ),
    );
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    daemon.wait_for_status("tls", "up");

    // The server renews... with a certificate that expires in 3 days.
    let leaf = ca.leaf(&["127.0.0.1"], SystemTime::now() + 3 * DAY);
    server.set_tls(server_tls(&leaf, HTTP1_ONLY));
    let state = daemon.wait_for_status("tls", "degraded");

    // The results since the last one that was not degraded: the host changed status with
    // the second of them, not the first.
    let history = state["history"].as_array().cloned().unwrap_or_default();
    let start = history
        .iter()
        .rposition(|r| r["degraded"] != true)
        .map_or(0, |i| i + 1);
    let run = &history[start..];
    assert!(run.len() >= 2, "two degraded results expected: {state}");
    assert_eq!(
        state["since"], run[1]["at"],
        "degraded with the second degraded check: {state}"
    );
    let event = wait_for(
        DEADLINE,
        "the file notifier writes a degraded event",
        || {
            events(&sandbox)
                .into_iter()
                .find(|e| e["event"] == "degraded")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    assert_eq!(event["previous"], "up", "{event}");

    // The exported expiry follows the new certificate.
    let series = "flowstate_tls_cert_not_after_timestamp_seconds{host=\"tls\"}";
    let expected = unix_seconds(leaf.not_after) as f64;
    let api = daemon.api();
    wait_until(DEADLINE, &format!("{series} is {expected}"), || {
        http_get(api, "/metrics")
            .ok()
            .and_then(|answer| find_sample(&answer.body, series))
            .is_some_and(|v| (v - expected).abs() <= 1.0)
    })
    .unwrap_or_else(|e| panic!("{e}\n{daemon}"));
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

/// Runs the daemon on one host checking `server` with `extra` settings until it has run
/// `checks` checks, stops it, and returns what the server saw once every connection closed.
fn seen_over_checks(server: &TinyServer, extra: &str, checks: u64) -> Seen {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &daemon_config(1, &[host("counted", &server.url(), extra)]),
    );
    let mut daemon: Daemon = sandbox.daemon("flowstate.yaml").start();
    let state = daemon.wait_for_checks("counted", checks);
    assert_eq!(state["status"], "up", "{state}\n{daemon}");
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    let seen = server.seen_when_all_closed();
    assert!(
        seen.requests >= checks as usize,
        "{seen:?} after {checks} checks\n{daemon}"
    );
    seen
}

#[test]
fn certificate_expiry_is_read_once_per_expiry_check_every_not_on_every_check() {
    let ca = TestCa::new();
    let leaf = ca.long_valid();

    let hourly = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let seen = seen_over_checks(
        &hourly,
        "keepalive: false\ntls: { insecure: true, expiry_check_every: 1h }",
        5,
    );
    // One connection and handshake per request, plus one for the single expiry reading.
    assert_eq!(seen.accepted, seen.requests + 1, "{seen:?}");
    assert_eq!(seen.handshakes, seen.accepted, "{seen:?}");

    // The counting sees expiry readings: read on every check, there are twice as many.
    let always = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    let seen = seen_over_checks(
        &always,
        "keepalive: false\ntls: { insecure: true, expiry_check_every: 1ms }",
        5,
    );
    assert_eq!(seen.accepted, 2 * seen.requests, "{seen:?}");
    assert_eq!(seen.handshakes, seen.accepted, "{seen:?}");
}

// --- HTTP/2 --------------------------------------------------------------------------------

#[test]
fn http2_required_and_offered_is_up() {
    let ca = TestCa::new();
    let server = H2Server::start(server_tls(&ca.long_valid(), &[]));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    let outcome = once_in(
        &sandbox,
        "",
        &[
            host(
                "two",
                &server.url(),
                "http_version: \"2\"\nregex: '^HTTP/2'\ntls: { ca_file: ca.pem }",
            ),
            host(
                "auto",
                &server.url(),
                "regex: '^HTTP/2'\ntls: { ca_file: ca.pem }",
            ),
            host(
                "one",
                &server.url(),
                "http_version: \"1.1\"\nregex: '^HTTP/1.1'\ntls: { ca_file: ca.pem }",
            ),
        ],
    );
    outcome.expect_code(0);
    for label in ["two", "auto", "one"] {
        assert_eq!(
            verdict(&outcome, label),
            ("up".into(), "status 200, body matches".into()),
            "{label}: {outcome}"
        );
    }
}

#[test]
fn http2_required_but_not_offered_is_down_with_the_reason() {
    let ca = TestCa::new();
    let leaf = ca.long_valid();
    // Offers only http/1.1 by ALPN: the handshake fails for a client that wants only h2.
    let http1_alpn = TinyServer::tls(server_tls(&leaf, HTTP1_ONLY));
    // Offers no ALPN at all: the handshake succeeds, and the server speaks HTTP/1.1.
    let no_alpn = TinyServer::tls(server_tls(&leaf, &[]));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &ca.pem);
    let extra = "http_version: \"2\"\ntls: { ca_file: ca.pem }";
    let outcome = once_in(
        &sandbox,
        "",
        &[
            host("alpn", &http1_alpn.url(), extra),
            host("silent", &no_alpn.url(), extra),
        ],
    );
    outcome.expect_code(1);
    assert_eq!(
        verdict(&outcome, "alpn"),
        (
            "down".into(),
            "the server does not offer HTTP/2 (ALPN h2)".into()
        ),
        "{outcome}"
    );
    let (status, detail) = verdict(&outcome, "silent");
    assert_eq!(status, "down", "{outcome}");
    assert!(
        detail.starts_with("the server answered with HTTP/1.1, not HTTP/2"),
        "{outcome}"
    );
}

#[test]
fn http2_with_a_plain_http_url_is_a_config_error() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!(
            "hosts:\n{}",
            host("plain", "http://127.0.0.1:9/", "http_version: \"2\"")
        ),
    );
    let outcome = sandbox.run(&["check", "-c", "flowstate.yaml"]);
    outcome.expect_code(2);
    assert!(
        outcome
            .stderr
            .contains("hosts[0] (label \"plain\").http_version"),
        "{outcome}"
    );
}

// --- Connection reuse ----------------------------------------------------------------------

#[test]
fn keepalive_reuses_one_connection_across_checks() {
    let server = TinyServer::plain();
    let seen = seen_over_checks(&server, "keepalive: true", 5);
    assert_eq!(seen.accepted, 1, "{seen:?}");

    // Over TLS too: one connection for the requests, one for the expiry reading.
    let ca = TestCa::new();
    let server = TinyServer::tls(server_tls(&ca.long_valid(), HTTP1_ONLY));
    let seen = seen_over_checks(&server, "keepalive: true\ntls: { insecure: true }", 5);
    assert_eq!(seen.accepted, 2, "{seen:?}");
    assert_eq!(seen.handshakes, 2, "{seen:?}");
}

#[test]
fn keepalive_reuses_one_connection_when_the_body_is_read() {
    // A regex makes the probe read each body to its end.
    let server = TinyServer::plain();
    let seen = seen_over_checks(&server, "keepalive: true\nregex: ok", 5);
    assert_eq!(seen.accepted, 1, "{seen:?}");

    let ca = TestCa::new();
    let server = TinyServer::tls(server_tls(&ca.long_valid(), HTTP1_ONLY));
    let seen = seen_over_checks(
        &server,
        "keepalive: true\nregex: ok\ntls: { insecure: true }",
        5,
    );
    assert_eq!(seen.accepted, 2, "{seen:?}");
    assert_eq!(seen.handshakes, 2, "{seen:?}");
}

#[test]
fn without_keepalive_every_check_opens_a_connection() {
    let server = TinyServer::plain();
    let seen = seen_over_checks(&server, "", 5);
    assert_eq!(seen.accepted, seen.requests, "{seen:?}");
}

#[test]
fn tiny_server_keeps_connections_open_and_counts_them() {
    // The harness itself: two requests on one connection, then one with `Connection: close`.
    let server = TinyServer::plain();
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = [0u8; 40];
    for _ in 0..2 {
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let expected = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        stream.read_exact(&mut answer[..expected.len()]).unwrap();
        assert_eq!(&answer[..expected.len()], expected);
    }
    stream
        .write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert!(rest.ends_with("Connection: close\r\n\r\nok"), "{rest:?}");
    assert_eq!(
        server.seen_when_all_closed(),
        Seen {
            accepted: 1,
            handshakes: 0,
            requests: 3
        }
    );
}
