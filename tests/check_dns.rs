//! `type: dns` checks, through the real binary, against a DNS server of the test's own.
//!
//! [`DnsServer`] is a `std::net::UdpSocket` on a loopback port served by a thread: it decodes
//! each query with `hickory_proto`, answers from a table the test sets per name (records of
//! every type, NXDOMAIN, SERVFAIL, REFUSED, an empty NOERROR, or silence), and logs every query
//! it got, so a test can show which name and type were asked, and how often. Hosts point at it
//! with `resolver: 127.0.0.1:PORT`. Single outcomes go through `flowstate once --json`; one
//! daemon test shows a DNS host going down (and back up) when its name disappears, which only
//! works because every check really asks: nothing is cached between checks.
//!
//! Nothing is asserted after a sleep: waits poll with a deadline, and the silent server never
//! answers at all rather than "a bit later than the timeout".

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::common::configs::{document_serving, item};
use crate::common::events::wait_for_event;
use crate::common::once::{assert_verdict, once, verdict};
use crate::common::start;

// --- The DNS server ----------------------------------------------------------------------

/// What the test server answers for one name.
#[derive(Debug, Clone)]
enum Zone {
    /// These records; a query for a type none of them has gets an empty NOERROR answer.
    Records(Vec<RData>),
    /// This response code, without records (NXDOMAIN, SERVFAIL, REFUSED).
    Code(ResponseCode),
    /// No answer at all: the query is dropped.
    Silent,
}

/// The server's table and its log, shared with the serving thread.
#[derive(Default)]
struct State {
    /// Keyed by [`key`]. A name not here is answered NXDOMAIN.
    zones: HashMap<String, Zone>,
    /// Every query received, in order: `(name as asked, type)`.
    queries: Vec<(String, RecordType)>,
}

/// A UDP DNS server on `127.0.0.1:0`, stopped when dropped.
struct DnsServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the serving thread looks at the stop flag when no query comes.
const POLL: Duration = Duration::from_millis(20);

impl DnsServer {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP port");
        let address = socket.local_addr().expect("local address");
        socket.set_read_timeout(Some(POLL)).expect("a read timeout");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            thread::Builder::new()
                .name("dns-server".into())
                .spawn(move || serve(&socket, &state, &stop))
                .expect("spawn the DNS server")
        };
        DnsServer {
            address,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Answers `name` from now on as `zone`.
    fn set(&self, name: &str, zone: Zone) {
        self.state.lock().unwrap().zones.insert(key(name), zone);
    }

    /// Every query received so far.
    fn queries(&self) -> Vec<(String, RecordType)> {
        self.state.lock().unwrap().queries.clone()
    }

    /// How many queries for `name` (any type) came so far.
    fn count(&self, name: &str) -> usize {
        let name = key(name);
        self.queries()
            .iter()
            .filter(|(n, _)| key(n) == name)
            .count()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A name as the table keys it: lower case, without trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Answers queries until `stop` is set; ignores what does not decode as a query.
fn serve(socket: &UdpSocket, state: &Mutex<State>, stop: &AtomicBool) {
    let mut buffer = [0u8; 4096];
    while !stop.load(SeqCst) {
        let Ok((length, peer)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buffer[..length]) else {
            continue;
        };
        let Some(question) = query.queries.first().cloned() else {
            continue;
        };
        let zone = {
            let mut state = state.lock().unwrap();
            state
                .queries
                .push((question.name.to_ascii(), question.query_type));
            state
                .zones
                .get(&key(&question.name.to_ascii()))
                .cloned()
                .unwrap_or(Zone::Code(ResponseCode::NXDomain))
        };
        let mut response = Message::response(query.metadata.id, query.metadata.op_code);
        response.metadata.recursion_desired = query.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.add_query(question.clone());
        match zone {
            Zone::Silent => continue,
            Zone::Code(code) => response.metadata.response_code = code,
            Zone::Records(records) => {
                for data in records
                    .into_iter()
                    .filter(|d| d.record_type() == question.query_type)
                {
                    response.add_answer(Record::from_rdata(question.name.clone(), 300, data));
                }
            }
        }
        let bytes = response.to_vec().expect("encode the answer");
        let _ = socket.send_to(&bytes, peer);
    }
}

// --- Records -----------------------------------------------------------------------------

fn a(address: &str) -> RData {
    RData::A(A(address.parse().expect("an IPv4 address")))
}

fn aaaa(address: &str) -> RData {
    RData::AAAA(AAAA(address.parse().expect("an IPv6 address")))
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("a domain name")
}

fn cname(target: &str) -> RData {
    RData::CNAME(CNAME(name(target)))
}

fn ns(server: &str) -> RData {
    RData::NS(NS(name(server)))
}

fn mx(preference: u16, exchange: &str) -> RData {
    RData::MX(MX::new(preference, name(exchange)))
}

fn txt(parts: &[&str]) -> RData {
    RData::TXT(TXT::new(parts.iter().map(|p| p.to_string()).collect()))
}

// --- Running checks ----------------------------------------------------------------------

/// A `type: dns` host list item asking `server`; `extra` holds more `key: value` lines.
fn dns_host(label: &str, server: &DnsServer, name: &str, record: &str, extra: &str) -> String {
    item(
        label,
        &format!(
            "type: dns\nname: '{name}'\nrecord: {record}\nresolver: '{}'\n{extra}",
            server.address
        ),
    )
}

// --- Answers -----------------------------------------------------------------------------

#[test]
fn a_records_make_the_host_up_with_the_addresses() {
    let server = DnsServer::start();
    server.set(
        "example.com",
        Zone::Records(vec![a("10.0.0.2"), a("10.0.0.1")]),
    );
    let outcome = once(&[dns_host("web", &server, "example.com", "A", "")]);
    outcome.expect_code(0);
    assert_verdict(&outcome, "web", "up", "A example.com: 10.0.0.1, 10.0.0.2");
    // Asked as written: one absolute name, no search domain appended, no hosts file.
    assert_eq!(
        server.queries(),
        [("example.com.".to_string(), RecordType::A)],
        "{outcome}"
    );
}

#[test]
fn every_record_type_is_asked_for_and_shown() {
    let server = DnsServer::start();
    server.set(
        "example.com",
        Zone::Records(vec![
            aaaa("2001:db8::1"),
            mx(20, "backup.example.com."),
            mx(10, "mail.example.com."),
            txt(&["v=spf1 -all"]),
            ns("ns1.example.com."),
            ns("ns2.example.com."),
        ]),
    );
    server.set(
        "www.example.com",
        Zone::Records(vec![cname("web.example.net.")]),
    );
    let hosts = [
        dns_host("v6", &server, "example.com", "AAAA", ""),
        dns_host("alias", &server, "www.example.com", "CNAME", ""),
        dns_host("mail", &server, "example.com", "MX", ""),
        dns_host("text", &server, "example.com", "TXT", ""),
        dns_host("servers", &server, "example.com", "NS", ""),
    ];
    let outcome = once(&hosts);
    outcome.expect_code(0);
    assert_verdict(&outcome, "v6", "up", "AAAA example.com: 2001:db8::1");
    assert_verdict(
        &outcome,
        "alias",
        "up",
        "CNAME www.example.com: web.example.net",
    );
    assert_verdict(
        &outcome,
        "mail",
        "up",
        "MX example.com: 10 mail.example.com, 20 backup.example.com",
    );
    assert_verdict(&outcome, "text", "up", r#"TXT example.com: "v=spf1 -all""#);
    assert_verdict(
        &outcome,
        "servers",
        "up",
        "NS example.com: ns1.example.com, ns2.example.com",
    );
    let mut asked: Vec<(String, RecordType)> = server.queries();
    asked.sort_by_key(|(name, kind)| (name.clone(), u16::from(*kind)));
    asked.dedup();
    let mut expected = vec![
        ("example.com.".to_string(), RecordType::AAAA),
        ("www.example.com.".to_string(), RecordType::CNAME),
        ("example.com.".to_string(), RecordType::MX),
        ("example.com.".to_string(), RecordType::TXT),
        ("example.com.".to_string(), RecordType::NS),
    ];
    expected.sort_by_key(|(name, kind)| (name.clone(), u16::from(*kind)));
    assert_eq!(asked, expected, "{outcome}");
}

#[test]
fn a_long_answer_is_shown_in_part() {
    let server = DnsServer::start();
    let addresses: Vec<RData> = (1..=9).map(|i| a(&format!("10.0.0.{i}"))).collect();
    server.set("pool.example.com", Zone::Records(addresses));
    let outcome = once(&[dns_host("pool", &server, "pool.example.com", "A", "")]);
    assert_verdict(
        &outcome,
        "pool",
        "up",
        "A pool.example.com: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5 and 4 more",
    );
}

// --- Expected values ---------------------------------------------------------------------

#[test]
fn every_expected_value_present_is_up() {
    let server = DnsServer::start();
    server.set(
        "example.com",
        Zone::Records(vec![a("10.0.0.1"), a("10.0.0.2"), a("10.0.0.3")]),
    );
    let outcome = once(&[dns_host(
        "web",
        &server,
        "example.com",
        "A",
        "expect: [10.0.0.3, 10.0.0.1]",
    )]);
    outcome.expect_code(0);
    assert_verdict(
        &outcome,
        "web",
        "up",
        "A example.com: 10.0.0.1, 10.0.0.2, 10.0.0.3",
    );
}

#[test]
fn a_missing_expected_value_is_down_with_what_came() {
    let server = DnsServer::start();
    server.set(
        "example.com",
        Zone::Records(vec![a("10.0.0.1"), a("10.0.0.2")]),
    );
    let outcome = once(&[dns_host(
        "web",
        &server,
        "example.com",
        "A",
        "expect: [10.0.0.1, 10.0.0.9]",
    )]);
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "web",
        "down",
        "expected 10.0.0.9, got 10.0.0.1, 10.0.0.2",
    );
}

#[test]
fn expected_values_are_compared_normalised() {
    let server = DnsServer::start();
    server.set(
        "example.com",
        Zone::Records(vec![
            aaaa("::1"),
            mx(10, "Mail.Example.com."),
            ns("NS1.example.COM."),
            // One TXT record in two strings: compared as the joined text.
            txt(&["v=spf1 include:_spf.example.com ", "-all"]),
        ]),
    );
    server.set(
        "www.example.com",
        Zone::Records(vec![cname("Web.Example.NET.")]),
    );
    let hosts = [
        dns_host(
            "v6",
            &server,
            "example.com",
            "AAAA",
            "expect: ['0:0:0:0:0:0:0:1']",
        ),
        dns_host(
            "alias",
            &server,
            "WWW.Example.com.",
            "cname",
            "expect: [web.example.net.]",
        ),
        dns_host(
            "mail",
            &server,
            "example.com",
            "MX",
            "expect: ['10 mail.example.com', MAIL.example.com.]",
        ),
        dns_host(
            "servers",
            &server,
            "example.com",
            "NS",
            "expect: [ns1.example.com]",
        ),
        dns_host(
            "text",
            &server,
            "example.com",
            "TXT",
            "expect: ['v=spf1 include:_spf.example.com -all']",
        ),
    ];
    let outcome = once(&hosts);
    for label in ["v6", "alias", "mail", "servers", "text"] {
        assert_eq!(verdict(&outcome, label).0, "up", "{label}: {outcome}");
    }
    outcome.expect_code(0);
    // What is shown is what came (without trailing dot), not the normalised form.
    assert_verdict(
        &outcome,
        "mail",
        "up",
        "MX example.com: 10 Mail.Example.com",
    );
}

#[test]
fn normalisation_does_not_blur_real_differences() {
    let server = DnsServer::start();
    server.set(
        "example.com",
        Zone::Records(vec![mx(10, "mail.example.com."), txt(&["v=spf1 -all"])]),
    );
    let hosts = [
        dns_host(
            "preference",
            &server,
            "example.com",
            "MX",
            "expect: ['20 mail.example.com']",
        ),
        dns_host(
            "text-case",
            &server,
            "example.com",
            "TXT",
            "expect: ['V=SPF1 -ALL']",
        ),
    ];
    let outcome = once(&hosts);
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "preference",
        "down",
        "expected 20 mail.example.com, got 10 mail.example.com",
    );
    assert_verdict(
        &outcome,
        "text-case",
        "down",
        r#"expected V=SPF1 -ALL, got "v=spf1 -all""#,
    );
}

// --- Down reasons ------------------------------------------------------------------------

#[test]
fn nxdomain_is_down_saying_the_name_does_not_exist() {
    let server = DnsServer::start();
    server.set("gone.example.com", Zone::Code(ResponseCode::NXDomain));
    let outcome = once(&[dns_host("gone", &server, "gone.example.com", "A", "")]);
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "gone",
        "down",
        "NXDOMAIN: gone.example.com does not exist",
    );
    assert_eq!(server.count("gone.example.com"), 1, "{outcome}");
}

#[test]
fn servfail_and_refused_are_down_naming_the_code() {
    let server = DnsServer::start();
    server.set("broken.example.com", Zone::Code(ResponseCode::ServFail));
    server.set("private.example.com", Zone::Code(ResponseCode::Refused));
    let hosts = [
        dns_host("broken", &server, "broken.example.com", "A", ""),
        dns_host("private", &server, "private.example.com", "MX", ""),
    ];
    let outcome = once(&hosts);
    outcome.expect_code(1);
    let at = server.address;
    assert_verdict(
        &outcome,
        "broken",
        "down",
        &format!("SERVFAIL from {at} for A broken.example.com"),
    );
    assert_verdict(
        &outcome,
        "private",
        "down",
        &format!("REFUSED from {at} for MX private.example.com"),
    );
    // Reported as it came: not asked again within the check.
    assert_eq!(server.count("broken.example.com"), 1, "{outcome}");
    assert_eq!(server.count("private.example.com"), 1, "{outcome}");
}

#[test]
fn an_empty_answer_is_down() {
    let server = DnsServer::start();
    // The name exists (it has a TXT record) but has no address.
    server.set("example.com", Zone::Records(vec![txt(&["hello"])]));
    let outcome = once(&[dns_host("web", &server, "example.com", "A", "")]);
    outcome.expect_code(1);
    assert_verdict(&outcome, "web", "down", "no A records for example.com");
}

#[test]
fn a_silent_server_is_down_with_no_answer() {
    let server = DnsServer::start();
    server.set("example.com", Zone::Silent);
    let outcome = once(&[dns_host("web", &server, "example.com", "A", "timeout: 1s")]);
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "web",
        "down",
        &format!("no answer from {}", server.address),
    );
    // The right server was asked; it just never said anything.
    assert!(server.count("example.com") >= 1, "{outcome}");
}

// --- No cache ----------------------------------------------------------------------------

#[test]
fn each_once_run_asks_the_server() {
    let server = DnsServer::start();
    server.set("example.com", Zone::Records(vec![a("10.0.0.1")]));
    let host = [dns_host("web", &server, "example.com", "A", "")];
    once(&host).expect_code(0);
    let after_one = server.count("example.com");
    assert!(after_one >= 1, "the first run asked");
    server.set("example.com", Zone::Records(vec![a("10.0.0.7")]));
    let outcome = once(&host);
    assert_verdict(&outcome, "web", "up", "A example.com: 10.0.0.7");
    assert!(server.count("example.com") > after_one, "{outcome}");
}

// --- The daemon --------------------------------------------------------------------------

#[test]
fn a_dns_host_goes_down_in_the_daemon_when_its_name_disappears() {
    let server = DnsServer::start();
    server.set("www.example.com", Zone::Records(vec![a("10.0.0.1")]));
    let config = document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 300ms, failure_threshold: 2",
        &[dns_host(
            "web",
            &server,
            "www.example.com",
            "A",
            "expect: [10.0.0.1]",
        )],
    );
    let (sandbox, mut daemon) = start(&config);

    let up = daemon.wait_for_status("web", "up");
    assert_eq!(up["type"], "dns", "{up}\n{daemon}");
    assert_eq!(
        up["last_check"]["detail"], "A www.example.com: 10.0.0.1",
        "{up}\n{daemon}"
    );

    // Every check asks again (the answer's TTL is 300 s): with a cache there would be one.
    let checked = daemon.wait_for_checks("web", 3);
    let checks = checked["checks"].as_u64().unwrap_or(0) as usize;
    assert!(
        server.count("www.example.com") >= checks,
        "{} queries for {checks} checks\n{daemon}",
        server.count("www.example.com")
    );

    server.set("www.example.com", Zone::Code(ResponseCode::NXDomain));
    let down = daemon.wait_for_status("web", "down");
    assert_eq!(
        down["last_check"]["detail"], "NXDOMAIN: www.example.com does not exist",
        "{down}\n{daemon}"
    );
    let event = wait_for_event(&sandbox, &daemon, "down", "web");
    assert_eq!(event["previous"], "up", "{event}");
    assert_eq!(
        event["reason"], "NXDOMAIN: www.example.com does not exist",
        "{event}"
    );
    daemon.wait_for_stdout("the console prints the DOWN alert", |line| {
        line.contains("DOWN web: NXDOMAIN: www.example.com does not exist")
    });

    // Negative answers are not cached either: the name coming back is seen at once.
    server.set("www.example.com", Zone::Records(vec![a("10.0.0.1")]));
    daemon.wait_for_status("web", "up");
    wait_for_event(&sandbox, &daemon, "up", "web");
    let exit = daemon.stop("TERM");
    assert_eq!(exit.code, Some(0), "{daemon}");
}
