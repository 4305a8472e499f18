//! `grpc` checks: the real binary against real tonic servers on loopback.
//!
//! [`GrpcServer`] runs a tonic server on a thread and tokio runtime of its own, so it shares
//! nothing with the daemon under test but the wire. It serves `grpc.health.v1` with the
//! server overall SERVING, `ok.v1.Svc` SERVING and `sick.v1.Svc` NOT_SERVING, and the test
//! can change a status while a daemon watches; or it serves no service at all (every call is
//! UNIMPLEMENTED); or its health service answers every call with one fixed error status; and
//! it can speak TLS with a certificate from a test CA made by rcgen.
//! `flowstate once --json` shows single outcomes; daemon tests show a host going down (and
//! alerting) when its service stops serving, a fresh connection per check, and a TLS host's
//! certificate expiry in the metrics. Every wait has a deadline; nothing is asserted after a
//! sleep, and timeouts are tripped by servers that never answer at all.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Status};
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::common::configs::{document_serving, item, ALERTS};
use crate::common::events::events;
use crate::common::once::{assert_verdict, once, once_in, once_with, verdict};
use crate::common::wait::wait_for;
use crate::common::{closed_port, start, Response, Sandbox, TestServer, DEADLINE};

/// What a [`GrpcServer`] serves.
#[derive(Clone, Copy, PartialEq)]
enum Serves {
    /// `grpc.health.v1.Health` with the statuses of the module doc.
    Health,
    /// No service: the router answers every call UNIMPLEMENTED.
    Nothing,
    /// `grpc.health.v1.Health` answering every call with this status.
    Fails(Code, &'static str),
}

/// A health service that fails every call with one status, as a server's own limits do (a
/// tonic server whose `timeout` expires answers CANCELLED "Timeout expired").
struct Failing(Code, &'static str);

// The generated trait is an `async_trait` one: the impl must be too.
#[tonic::async_trait]
impl Health for Failing {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, Status> {
        Err(Status::new(self.0, self.1))
    }

    type WatchStream = futures_util::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, Status> {
        Err(Status::new(self.0, self.1))
    }
}

/// A tonic server on `127.0.0.1:0`, on a thread and runtime of its own. Stops when dropped.
struct GrpcServer {
    addr: SocketAddr,
    reporter: HealthReporter,
    runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
}

impl GrpcServer {
    fn health() -> Self {
        Self::start(Serves::Health, None)
    }

    fn start(serves: Serves, tls: Option<Identity>) -> Self {
        // Bound here, so the port is known (and listening) before the thread runs.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener for tokio");
        let addr = listener.local_addr().expect("local address");
        let (ready, started) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        thread::Builder::new()
            .name("grpc-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the gRPC server");
                runtime.block_on(async move {
                    let (reporter, health) = tonic_health::server::health_reporter();
                    reporter
                        .set_service_status("ok.v1.Svc", ServingStatus::Serving)
                        .await;
                    reporter
                        .set_service_status("sick.v1.Svc", ServingStatus::NotServing)
                        .await;
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("register the listener with tokio");
                    let mut builder = Server::builder();
                    if let Some(identity) = tls {
                        builder = builder
                            .tls_config(ServerTlsConfig::new().identity(identity))
                            .expect("the server's TLS settings");
                    }
                    let router = match serves {
                        Serves::Health => builder.add_service(health),
                        Serves::Nothing => builder.add_routes(Routes::default()),
                        Serves::Fails(code, message) => {
                            builder.add_service(HealthServer::new(Failing(code, message)))
                        }
                    };
                    let _ = ready.send((reporter, tokio::runtime::Handle::current()));
                    let incoming = TcpIncoming::from(listener).inspect(move |connection| {
                        if connection.is_ok() {
                            counter.fetch_add(1, SeqCst);
                        }
                    });
                    router
                        .serve_with_incoming_shutdown(incoming, async {
                            let _ = stopped.await;
                        })
                        .await
                        .expect("the gRPC server failed");
                });
            })
            .expect("spawn the gRPC server thread");
        let (reporter, runtime) = started
            .recv_timeout(DEADLINE)
            .expect("the gRPC server did not start");
        GrpcServer {
            addr,
            reporter,
            runtime,
            stop: Some(stop),
            accepted,
        }
    }

    fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Changes what the health service says about `service` ("" is the server overall).
    fn set(&self, service: &str, status: ServingStatus) {
        self.runtime
            .block_on(self.reporter.set_service_status(service, status));
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        // Closes the listening socket at once; the thread ends when its connections do, and
        // is not joined, so a connection some client left open cannot hang the test.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every `once` run here gives each check 5 s.
const TIMEOUT: &str = "timeout: 5s";

/// One `type: grpc` host list item; `extra` holds more `key: value` lines.
fn grpc_host(label: &str, address: &str, service: &str, extra: &str) -> String {
    let service = if service.is_empty() {
        String::new()
    } else {
        format!("service: {service}\n")
    };
    item(
        label,
        &format!("type: grpc\naddress: '{address}'\n{service}{extra}"),
    )
}

// --- Health answers -----------------------------------------------------------------------

#[test]
fn serving_server_and_services_are_up() {
    let server = GrpcServer::health();
    let outcome = once_with(
        TIMEOUT,
        &[
            grpc_host("overall", &server.address(), "", ""),
            grpc_host("ok", &server.address(), "ok.v1.Svc", ""),
        ],
    );
    outcome.expect_code(0);
    assert_verdict(&outcome, "overall", "up", "SERVING");
    assert_verdict(&outcome, "ok", "up", "SERVING (service ok.v1.Svc)");
}

#[test]
fn not_serving_and_unknown_services_are_down_with_the_reason() {
    let server = GrpcServer::health();
    server.set("unsure.v1.Svc", ServingStatus::Unknown);
    let outcome = once_with(
        TIMEOUT,
        &[
            grpc_host("sick", &server.address(), "sick.v1.Svc", ""),
            grpc_host("unsure", &server.address(), "unsure.v1.Svc", ""),
            grpc_host("missing", &server.address(), "missing.v1.Svc", ""),
            grpc_host("ok", &server.address(), "ok.v1.Svc", ""),
        ],
    );
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "sick",
        "down",
        "NOT_SERVING (service sick.v1.Svc)",
    );
    assert_verdict(
        &outcome,
        "unsure",
        "down",
        "UNKNOWN (service unsure.v1.Svc)",
    );
    assert_verdict(
        &outcome,
        "missing",
        "down",
        "service \"missing.v1.Svc\" not found",
    );
    assert_verdict(&outcome, "ok", "up", "SERVING (service ok.v1.Svc)");
}

#[test]
fn overall_status_not_serving_is_down() {
    let server = GrpcServer::health();
    server.set("", ServingStatus::NotServing);
    let outcome = once_with(TIMEOUT, &[grpc_host("overall", &server.address(), "", "")]);
    outcome.expect_code(1);
    assert_verdict(&outcome, "overall", "down", "NOT_SERVING");
}

#[test]
fn server_without_the_health_service_is_down_as_unimplemented() {
    let server = GrpcServer::start(Serves::Nothing, None);
    let outcome = once_with(TIMEOUT, &[grpc_host("plain", &server.address(), "", "")]);
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "plain",
        "down",
        "unimplemented: the server has no grpc.health.v1 service",
    );
}

// --- Unreachable servers ------------------------------------------------------------------

#[test]
fn closed_port_is_down_as_connection_refused() {
    let address = format!("127.0.0.1:{}", closed_port());
    let outcome = once_with(TIMEOUT, &[grpc_host("gone", &address, "", "")]);
    outcome.expect_code(1);
    assert_verdict(&outcome, "gone", "down", "connection refused");
}

#[test]
fn unresolvable_host_is_down_as_cannot_resolve() {
    // `.invalid` never resolves (RFC 2606).
    let outcome = once_with(
        TIMEOUT,
        &[grpc_host("nowhere", "no-such-host.invalid:50051", "", "")],
    );
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "nowhere");
    assert_eq!(status, "down", "{outcome}");
    assert!(
        detail.starts_with("cannot resolve no-such-host.invalid"),
        "{outcome}"
    );
}

#[test]
fn http1_server_is_down_with_a_protocol_reason() {
    let server = TestServer::always(Response::ok("not gRPC"));
    let outcome = once_with(
        TIMEOUT,
        &[grpc_host("web", &server.addr().to_string(), "", "")],
    );
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "web");
    assert_eq!(status, "down", "{outcome}");
    // The server answers the HTTP/2 preface in HTTP/1.1 and hangs up: the client sees
    // either the hang-up or the answer as a bad frame first, depending on timing.
    assert!(
        detail == "connection closed by the server" || detail.contains("http2 error"),
        "{outcome}"
    );
}

#[test]
fn server_errors_keep_the_servers_words_even_about_timeouts() {
    // A server's own limit is its answer, not the check running out of time: it must not
    // read as `timed out after …`, however tonic words it.
    let limited = GrpcServer::start(Serves::Fails(Code::Cancelled, "Timeout expired"), None);
    let late = GrpcServer::start(
        Serves::Fails(Code::DeadlineExceeded, "Deadline Exceeded"),
        None,
    );
    let busy = GrpcServer::start(Serves::Fails(Code::Unavailable, "overloaded"), None);
    let outcome = once_with(
        TIMEOUT,
        &[
            grpc_host("limited", &limited.address(), "", ""),
            grpc_host("late", &late.address(), "", ""),
            grpc_host("busy", &busy.address(), "", ""),
        ],
    );
    outcome.expect_code(1);
    assert_verdict(&outcome, "limited", "down", "CANCELLED: Timeout expired");
    assert_verdict(
        &outcome,
        "late",
        "down",
        "DEADLINE_EXCEEDED: Deadline Exceeded",
    );
    assert_verdict(&outcome, "busy", "down", "UNAVAILABLE: overloaded");
}

#[test]
fn silent_server_times_out() {
    // Listening, so the kernel accepts connections, but nobody ever answers. The check's
    // timeout is the only timer on the call (tonic gets none of its own), so the reason is
    // run_check's every time; it used to race a tonic timer of the same length and read
    // "CANCELLED: Timeout expired" whenever both expired in the same tick.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = silent.local_addr().expect("local address").to_string();
    let outcome = once(&[grpc_host("mute", &address, "", "timeout: 500ms")]);
    outcome.expect_code(1);
    assert_verdict(&outcome, "mute", "down", "timed out after 500ms");
}

// --- TLS ----------------------------------------------------------------------------------

/// A test CA and a server certificate it signed for `127.0.0.1`, in PEM.
struct Certificates {
    ca: String,
    server: Identity,
}

/// A CA and a server certificate valid until `not_after` (a date: year, month, day).
fn certificates(not_after: (i32, u8, u8)) -> Certificates {
    let mut ca = CertificateParams::new(Vec::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "flowstate test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server parameters");
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let leaf_key = KeyPair::generate().expect("a server key");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");
    Certificates {
        ca: ca_cert.pem(),
        server: Identity::from_pem(leaf_cert.pem(), leaf_key.serialize_pem()),
    }
}

/// The civil date (UTC) `days` days from today (before it, if negative): for certificates
/// that expire soon or expired.
fn date_in(days: i64) -> (i32, u8, u8) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    let z = (now.as_secs() / 86_400) as i64 + days + 719_468;
    // Howard Hinnant's days-to-civil algorithm.
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Far from expiry: the default 14-day warning does not apply.
const LONG_VALID: (i32, u8, u8) = (2100, 1, 1);

#[test]
fn tls_server_trusted_through_ca_file_is_up() {
    let certs = certificates(LONG_VALID);
    let server = GrpcServer::start(Serves::Health, Some(certs.server));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &certs.ca);
    let outcome = once_in(
        &sandbox,
        TIMEOUT,
        &[grpc_host(
            "secure",
            &server.address(),
            "ok.v1.Svc",
            "tls: { ca_file: ca.pem }",
        )],
    );
    outcome.expect_code(0);
    assert_verdict(&outcome, "secure", "up", "SERVING (service ok.v1.Svc)");
}

#[test]
fn tls_server_with_an_untrusted_certificate_is_down_unless_insecure() {
    let certs = certificates(LONG_VALID);
    let server = GrpcServer::start(Serves::Health, Some(certs.server));
    let outcome = once_with(
        TIMEOUT,
        &[
            grpc_host("untrusted", &server.address(), "", "tls: {}"),
            grpc_host("lab", &server.address(), "", "tls: { insecure: true }"),
        ],
    );
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "untrusted",
        "down",
        "TLS certificate rejected: unknown issuer (not signed by a trusted CA; see tls.ca_file)",
    );
    assert_verdict(&outcome, "lab", "up", "SERVING");
}

#[test]
fn certificate_near_expiry_degrades_a_serving_host() {
    let expires = date_in(3);
    let certs = certificates(expires);
    let server = GrpcServer::start(Serves::Health, Some(certs.server));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &certs.ca);
    let outcome = once_in(
        &sandbox,
        TIMEOUT,
        &[
            grpc_host("soon", &server.address(), "", "tls: { ca_file: ca.pem }"),
            grpc_host(
                "relaxed",
                &server.address(),
                "",
                "tls: { ca_file: ca.pem, expiry_warning: 1d }",
            ),
        ],
    );
    let (status, detail) = verdict(&outcome, "soon");
    assert_eq!(status, "degraded", "{outcome}");
    let date = format!("{:04}-{:02}-{:02}", expires.0, expires.1, expires.2);
    // Midnight (UTC) three days from today is two whole days and some hours away.
    assert_eq!(
        detail,
        format!("SERVING; certificate expires on {date} (in 2 days)"),
        "{outcome}"
    );
    assert_verdict(&outcome, "relaxed", "up", "SERVING");
}

#[test]
fn expired_certificate_is_down_and_degrades_an_insecure_check() {
    let expired = date_in(-2);
    let certs = certificates(expired);
    let server = GrpcServer::start(Serves::Health, Some(certs.server));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &certs.ca);
    let outcome = once_in(
        &sandbox,
        TIMEOUT,
        &[
            grpc_host("strict", &server.address(), "", "tls: { ca_file: ca.pem }"),
            grpc_host("lab", &server.address(), "", "tls: { insecure: true }"),
        ],
    );
    let date = format!("{:04}-{:02}-{:02}", expired.0, expired.1, expired.2);
    assert_verdict(
        &outcome,
        "strict",
        "down",
        &format!("TLS certificate rejected: expired on {date}"),
    );
    // `insecure` accepts the certificate, but its expiry is still news.
    assert_verdict(
        &outcome,
        "lab",
        "degraded",
        &format!("SERVING; certificate expired on {date}"),
    );
}

#[test]
fn tls_check_against_a_plaintext_server_is_down() {
    let server = GrpcServer::health();
    let outcome = once_with(
        TIMEOUT,
        &[grpc_host(
            "mismatch",
            &server.address(),
            "",
            "tls: { insecure: true }",
        )],
    );
    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "mismatch");
    assert_eq!(status, "down", "{outcome}");
    assert!(detail.starts_with("TLS handshake failed: "), "{outcome}");
}

// --- The daemon ---------------------------------------------------------------------------

#[test]
fn daemon_marks_a_grpc_host_down_when_its_service_stops_serving_and_alerts() {
    let server = GrpcServer::health();
    server.set("flip.v1.Svc", ServingStatus::Serving);
    let (sandbox, mut daemon) = start(&document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 200ms, timeout: 200ms, failure_threshold: 2",
        &[grpc_host("orders", &server.address(), "flip.v1.Svc", "")],
    ));
    let up = daemon.wait_for_status("orders", "up");
    assert_eq!(up["type"], "grpc", "{up}");
    assert_eq!(
        up["last_check"]["detail"], "SERVING (service flip.v1.Svc)",
        "{up}"
    );

    server.set("flip.v1.Svc", ServingStatus::NotServing);
    let down = daemon.wait_for_status("orders", "down");
    assert_eq!(
        down["last_check"]["detail"], "NOT_SERVING (service flip.v1.Svc)",
        "{down}"
    );
    let sent = wait_for(DEADLINE, &format!("a down event is in {ALERTS}"), || {
        events(&sandbox).into_iter().find(|e| e["event"] == "down")
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    assert_eq!(sent["host"], "orders", "{sent}");
    assert_eq!(sent["previous"], "up", "{sent}");
    assert_eq!(
        sent["reason"], "NOT_SERVING (service flip.v1.Svc)",
        "{sent}"
    );
    assert_eq!(sent["consecutive_failures"], 2, "{sent}");
}

#[test]
fn daemon_opens_a_fresh_connection_for_every_check_and_sees_a_stopped_server_down() {
    let server = GrpcServer::health();
    let (_sandbox, mut daemon) = start(&document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 200ms, timeout: 200ms, failure_threshold: 2",
        &[grpc_host("billing", &server.address(), "ok.v1.Svc", "")],
    ));
    let checked = daemon.wait_for_checks("billing", 3);
    assert_eq!(checked["status"], "up", "{checked}");
    // Read after the checks: every check counted there was accepted before it.
    let checks = checked["checks"].as_u64().unwrap_or_default();
    let accepted = server.accepted.load(SeqCst) as u64;
    assert!(
        accepted >= checks,
        "{checks} checks over {accepted} connections: a connection was reused\n{daemon}"
    );

    // The listening socket closes: new connections are refused, whatever was open before.
    drop(server);
    let down = daemon.wait_for_status("billing", "down");
    assert_eq!(down["last_check"]["detail"], "connection refused", "{down}");
}

#[test]
fn daemon_checks_a_tls_grpc_host_and_exports_its_certificate_expiry() {
    let certs = certificates(LONG_VALID);
    let server = GrpcServer::start(Serves::Health, Some(certs.server));
    let sandbox = Sandbox::new();
    sandbox.write("ca.pem", &certs.ca);
    sandbox.write(
        "flowstate.yaml",
        &document_serving(
            "listen: \"127.0.0.1:0\"",
            "",
            "interval: 500ms, timeout: 500ms",
            &[grpc_host(
                "vault",
                &server.address(),
                "ok.v1.Svc",
                "tls: { ca_file: ca.pem }",
            )],
        ),
    );
    let mut daemon = sandbox.daemon("flowstate.yaml").start();
    let up = daemon.wait_for_status("vault", "up");
    assert_eq!(
        up["last_check"]["detail"], "SERVING (service ok.v1.Svc)",
        "{up}"
    );

    let series = "flowstate_tls_cert_not_after_timestamp_seconds{host=\"vault\"}";
    let metrics = daemon.get("/metrics").body;
    let exported = metrics
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{metrics}"));
    // 2100-01-01T00:00:00Z, the certificate's notAfter.
    assert_eq!(exported, 4_102_444_800.0, "{series}");
}
