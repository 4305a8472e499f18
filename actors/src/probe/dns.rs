//! The `dns` check: one query for `name` and `record`, judged by the answer.
//!
//! The host is up when the answer holds at least one record of the asked type and every
//! `expect` value is among them. Values are compared normalised: names without case or trailing
//! dot, addresses as parsed (`::1` is `0:0:0:0:0:0:0:1`), MX as `10 mail.example.com` or just
//! the exchange, TXT as the record's strings joined. Reasons say what the server said:
//! `NXDOMAIN: example.invalid does not exist`, `SERVFAIL from 127.0.0.1:53 for A example.com`,
//! `no A records for example.com`, `expected 10.0.0.9, got 10.0.0.1, 10.0.0.2`,
//! `no answer from 127.0.0.1:5353`.
//!
//! A check must really ask, every time, exactly what it says, so the resolver is set up unlike
//! an application's (DESIGN, Known pitfalls):
//! - no cache: a record that vanished is seen at the next check, not after its TTL;
//! - no hosts file and no search domains: `name` is asked as an absolute name, never answered
//!   from `/etc/hosts` nor tried as `name.corp.example`;
//! - no retries (`attempts: 0`): a SERVFAIL is reported as it came, and the host timeout is the
//!   only budget; UDP retransmissions inside it, and TCP after a truncated answer, still happen;
//! - the servers are `resolver` when set, else those of `/etc/resolv.conf`
//!   (`ResolverConfig::default()` would have none), re-read every [`SYSTEM_CONFIG_MAX_AGE`].
//!
//! Resolvers are built once per server per arbiter thread (the probe itself is built once per
//! thread) and reused: they hold no answers, only sockets' bookkeeping and round-trip times.
//! A server that never answers is reported by the probe's own deadline, just inside the host's
//! timeout, so the reason names the server instead of a bare `timed out`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowstate_config::{Check, DnsCheck, DnsRecord, HostConfiguration};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

use super::{CheckContext, Probe, ProbeFuture, ProbeOutcome};

/// How long a resolver built from `/etc/resolv.conf` is used before the file is read again, so
/// a changed system configuration (a DHCP lease, a container's DNS) is picked up while running.
const SYSTEM_CONFIG_MAX_AGE: Duration = Duration::from_secs(30);

/// The resolver's own timeout, out of the way: the probe's deadline ([`answer_budget`]) decides
/// when a server has not answered, and the resolver's would only cut a long host timeout short.
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(3600);

/// The most answer values a detail or reason lists; the rest are counted.
const SHOWN_VALUES: usize = 5;

/// The longest value (a TXT record, typically) shown in a detail, in characters.
const VALUE_LIMIT: usize = 80;

pub struct DnsProbe {
    /// One resolver per server asked (`None`: the system's), built on first use. Not shared
    /// across threads: a resolver's background tasks run on the runtime that built it.
    resolvers: RefCell<HashMap<Option<SocketAddr>, Upstream>>,
}

impl DnsProbe {
    pub fn new() -> Self {
        DnsProbe {
            resolvers: RefCell::new(HashMap::new()),
        }
    }

    /// The resolver for `server`, built (or, for the system's, rebuilt when stale) as needed.
    fn upstream(&self, server: Option<SocketAddr>) -> Result<Upstream, String> {
        let mut resolvers = self.resolvers.borrow_mut();
        if let Some(upstream) = resolvers.get(&server) {
            let fresh = upstream
                .read_at
                .is_none_or(|at| at.elapsed() < SYSTEM_CONFIG_MAX_AGE);
            if fresh {
                return Ok(upstream.clone());
            }
        }
        let upstream = match build_upstream(server) {
            Ok(upstream) => upstream,
            Err(reason) => {
                // A broken system configuration is reported at every check until it is fixed.
                resolvers.remove(&server);
                return Err(reason);
            }
        };
        resolvers.insert(server, upstream.clone());
        Ok(upstream)
    }
}

impl Default for DnsProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe for DnsProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, _context: &CheckContext) -> ProbeFuture {
        let host = host.clone();
        let upstream = match &host.check {
            Check::Dns(check) => Some(self.upstream(check.resolver)),
            _ => None,
        };
        Box::pin(async move {
            let (Check::Dns(check), Some(upstream)) = (&host.check, upstream) else {
                return ProbeOutcome::failed(format!("not a DNS check: {}", host.check.kind()));
            };
            match upstream {
                Ok(upstream) => check_dns(&upstream, check, answer_budget(host.timeout)).await,
                Err(reason) => ProbeOutcome::failed(reason),
            }
        })
    }
}

/// A resolver and what failure reasons call its servers.
#[derive(Clone)]
struct Upstream {
    resolver: TokioResolver,
    /// The servers asked, as reasons name them: `127.0.0.1:5353`, `10.0.0.53:53, 10.0.0.54:53`.
    servers: Arc<str>,
    /// When `/etc/resolv.conf` was read; `None` for an explicit `resolver`, never re-read.
    read_at: Option<Instant>,
}

/// A resolver for `server`, or for the system's servers, set up to really ask (see the module
/// documentation).
fn build_upstream(server: Option<SocketAddr>) -> Result<Upstream, String> {
    let (name_servers, mut options, read_at) = match server {
        Some(address) => {
            let mut name_server = NameServerConfig::udp_and_tcp(address.ip());
            for connection in &mut name_server.connections {
                connection.port = address.port();
            }
            (vec![name_server], ResolverOpts::default(), None)
        }
        None => {
            let (config, options) =
                hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                    format!("cannot use the system's DNS servers (/etc/resolv.conf): {e}")
                })?;
            // Only the servers and options: search domains would ask other names than `name`.
            (
                config.name_servers().to_vec(),
                options,
                Some(Instant::now()),
            )
        }
    };
    let servers = name_servers
        .iter()
        .map(|ns| {
            let port = ns.connections.first().map_or(53, |c| c.port);
            SocketAddr::new(ns.ip, port).to_string()
        })
        .collect::<Vec<_>>()
        .join(", ");
    options.cache_size = 0;
    // Belt and braces: even an entry the cache kept would be stale at once.
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options.attempts = 0;
    options.timeout = RESOLVER_TIMEOUT;
    options.use_hosts_file = ResolveHosts::Never;
    let config = ResolverConfig::from_name_servers(name_servers);
    let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options)
        .build()
        .map_err(|e| format!("cannot set up a DNS resolver for {servers}: {e}"))?;
    Ok(Upstream {
        resolver,
        servers: servers.into(),
        read_at,
    })
}

/// How long the probe waits for an answer: a little less than the host's timeout, so that a
/// silent server is reported by name rather than by [`super::run_check`]'s generic timeout.
fn answer_budget(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(Duration::from_millis(250)))
}

/// Asks, then judges the answer.
async fn check_dns(upstream: &Upstream, check: &DnsCheck, budget: Duration) -> ProbeOutcome {
    let shown_name = check.name.trim_end_matches('.');
    let record_type = record_type(check.record);
    // Absolute: the name is asked as written, never with a search domain appended.
    let name = match Name::from_utf8(format!("{shown_name}.")) {
        Ok(name) => name,
        Err(e) => {
            return ProbeOutcome::failed(format!("`{}` is not a domain name: {e}", check.name))
        }
    };
    let lookup = actix_rt::time::timeout(budget, upstream.resolver.lookup(name, record_type)).await;
    let lookup = match lookup {
        Ok(Ok(lookup)) => lookup,
        Ok(Err(error)) => {
            return ProbeOutcome::failed(describe_error(
                &error,
                check.record,
                shown_name,
                &upstream.servers,
            ))
        }
        Err(_elapsed) => {
            return ProbeOutcome::failed(format!("no answer from {}", upstream.servers))
        }
    };
    let answers = answer_values(lookup.answers(), check.record);
    judge(check.record, shown_name, &answers, &check.expect)
}

fn record_type(record: DnsRecord) -> RecordType {
    match record {
        DnsRecord::A => RecordType::A,
        DnsRecord::Aaaa => RecordType::AAAA,
        DnsRecord::Cname => RecordType::CNAME,
        DnsRecord::Mx => RecordType::MX,
        DnsRecord::Txt => RecordType::TXT,
        DnsRecord::Ns => RecordType::NS,
    }
}

/// A failure reason a person understands at a glance.
fn describe_error(error: &NetError, record: DnsRecord, name: &str, servers: &str) -> String {
    let record = record.name();
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => format!("NXDOMAIN: {name} does not exist"),
                ResponseCode::NoError => format!("no {record} records for {name}"),
                code => format!("{} from {servers} for {record} {name}", rcode_name(code)),
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            format!("{} from {servers} for {record} {name}", rcode_name(*code))
        }
        NetError::Timeout => format!("no answer from {servers}"),
        NetError::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("connection refused by {servers}"),
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                format!("no route to {servers}")
            }
            _ => format!("cannot reach {servers}: {e}"),
        },
        NetError::Truncated => {
            format!("the answer from {servers} was truncated and TCP gave none")
        }
        NetError::Busy => format!("too many queries to {servers} at once; none was sent"),
        NetError::NoConnections => format!("no connection to {servers}"),
        NetError::Proto(e) => format!("invalid answer from {servers}: {e}"),
        NetError::QueryCaseMismatch | NetError::ForeignClassRecord { .. } => {
            format!("suspicious answer from {servers} ignored: {error}")
        }
        other => format!("asking {servers} failed: {other}"),
    }
}

/// The mnemonic operators know a response code by (RFC 1035, 2136, 6891).
fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS => "BADVERS",
        other => return format!("response code {}", u16::from(other)),
    };
    name.to_string()
}

/// How [`check_dns`] judges the records of an answer: the outcome, and each answer value as
/// shown in details and as compared (normalised). For the fuzz target `dns_answer` (fuzz/),
/// which builds records from arbitrary DNS messages; no lookup runs here.
#[doc(hidden)]
pub fn judge_records(
    records: &[Record],
    record: DnsRecord,
    name: &str,
    expect: &[String],
) -> (ProbeOutcome, Vec<(String, String)>) {
    let answers = answer_values(records, record);
    let outcome = judge(record, name, &answers, expect);
    let values = answers.into_iter().map(|a| (a.shown, a.normal)).collect();
    (outcome, values)
}

/// One value of the answer, ready to show and to compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct AnswerValue {
    /// Sorts answers the natural way: addresses numerically, MX by preference. Round-robin
    /// servers rotate their answers; sorted, the detail stays the same from check to check.
    order: Order,
    /// Normalised (see [`normalise`]); what expected values are compared with.
    normal: String,
    /// MX only: the normalised exchange, which an expected value without preference matches.
    exchange: Option<String>,
    /// As shown in details: `10.0.0.1`, `10 mail.example.com`, `"v=spf1 -all"`.
    shown: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Order {
    Address(IpAddr),
    Preference(u16, String),
    Text(String),
}

/// The records of the asked type among `records` (an answer may also hold the CNAMEs that led
/// to them), sorted and without duplicates.
fn answer_values(records: &[Record], record: DnsRecord) -> Vec<AnswerValue> {
    let mut values: Vec<AnswerValue> = records
        .iter()
        .filter_map(|r| match (&r.data, record) {
            (RData::A(a), DnsRecord::A) => Some(address_value(IpAddr::V4(a.0))),
            (RData::AAAA(aaaa), DnsRecord::Aaaa) => Some(address_value(IpAddr::V6(aaaa.0))),
            (RData::CNAME(target), DnsRecord::Cname) => Some(name_value(&target.0)),
            (RData::NS(server), DnsRecord::Ns) => Some(name_value(&server.0)),
            (RData::MX(mx), DnsRecord::Mx) => {
                let exchange = plain_name(&mx.exchange.to_ascii()).to_string();
                let normal_exchange = exchange.to_ascii_lowercase();
                Some(AnswerValue {
                    order: Order::Preference(mx.preference, normal_exchange.clone()),
                    normal: format!("{} {normal_exchange}", mx.preference),
                    exchange: Some(normal_exchange),
                    shown: format!("{} {exchange}", mx.preference),
                })
            }
            (RData::TXT(txt), DnsRecord::Txt) => {
                let text: String = txt
                    .txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect();
                Some(AnswerValue {
                    order: Order::Text(text.clone()),
                    shown: format!("{text:?}"),
                    normal: text,
                    exchange: None,
                })
            }
            _ => None,
        })
        .collect();
    values.sort();
    values.dedup_by(|a, b| a.normal == b.normal);
    values
}

fn address_value(address: IpAddr) -> AnswerValue {
    AnswerValue {
        order: Order::Address(address),
        normal: address.to_string(),
        exchange: None,
        shown: address.to_string(),
    }
}

fn name_value(name: &Name) -> AnswerValue {
    let shown = plain_name(&name.to_ascii()).to_string();
    let normal = shown.to_ascii_lowercase();
    AnswerValue {
        order: Order::Text(normal.clone()),
        normal,
        exchange: None,
        shown,
    }
}

/// A name as people write it: without the root's trailing dot.
fn plain_name(name: &str) -> &str {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() {
        // The root itself.
        "."
    } else {
        trimmed
    }
}

/// A domain name for comparison: ASCII (punycode for international names), lower case,
/// without trailing dot.
fn normal_name(text: &str) -> String {
    let text = text.trim();
    // `\` escapes are how an answer's raw bytes are shown (`examp\310e.com` for a byte 200):
    // such a name is compared as written, since IDNA would read the escape as the character
    // `È` and punycode it, and no expected value could then match the answer it was copied
    // from (found by the `dns_answer` fuzz target).
    if text.contains('\\') {
        return plain_name(text).to_ascii_lowercase();
    }
    let ascii = Name::from_utf8(text)
        .map(|n| n.to_ascii())
        .unwrap_or_else(|_| text.to_string());
    plain_name(&ascii).to_ascii_lowercase()
}

/// An expected value, normalised the way answers of `record` are.
fn normalise(record: DnsRecord, expected: &str) -> Expected {
    let text = expected.trim();
    match record {
        DnsRecord::A | DnsRecord::Aaaa => {
            let bare = text.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(address) => Expected::Value(address.to_string()),
                Err(_) => Expected::Value(text.to_ascii_lowercase()),
            }
        }
        DnsRecord::Cname | DnsRecord::Ns => Expected::Value(normal_name(text)),
        DnsRecord::Mx => match text.split_once(char::is_whitespace) {
            Some((preference, exchange)) => match preference.parse::<u16>() {
                Ok(preference) => {
                    Expected::Value(format!("{preference} {}", normal_name(exchange)))
                }
                Err(_) => Expected::Exchange(normal_name(text)),
            },
            None => Expected::Exchange(normal_name(text)),
        },
        // Text is data: compared exactly, case and spaces included.
        DnsRecord::Txt => Expected::Value(expected.to_string()),
    }
}

/// A normalised expected value.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// Must equal an answer's normalised value.
    Value(String),
    /// MX written without preference: must equal an answer's exchange.
    Exchange(String),
}

impl Expected {
    fn matches(&self, answer: &AnswerValue) -> bool {
        match self {
            Expected::Value(value) => answer.normal == *value,
            Expected::Exchange(exchange) => answer.exchange.as_deref() == Some(exchange.as_str()),
        }
    }
}

/// Up when there is an answer holding every expected value.
fn judge(
    record: DnsRecord,
    name: &str,
    answers: &[AnswerValue],
    expect: &[String],
) -> ProbeOutcome {
    if answers.is_empty() {
        return ProbeOutcome::failed(format!("no {} records for {name}", record.name()));
    }
    let missing: Vec<&str> = expect
        .iter()
        .filter(|e| {
            let expected = normalise(record, e);
            !answers.iter().any(|a| expected.matches(a))
        })
        .map(|e| e.trim())
        .collect();
    if missing.is_empty() {
        ProbeOutcome::passed(format!("{} {name}: {}", record.name(), show(answers)))
    } else {
        ProbeOutcome::failed(format!(
            "expected {}, got {}",
            and_list(&missing),
            show(answers)
        ))
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The first [`SHOWN_VALUES`] answers, each cut at [`VALUE_LIMIT`], and how many more.
fn show(answers: &[AnswerValue]) -> String {
    let shown: Vec<String> = answers
        .iter()
        .take(SHOWN_VALUES)
        .map(|a| cut(&a.shown))
        .collect();
    let mut shown = shown.join(", ");
    let more = answers.len().saturating_sub(SHOWN_VALUES);
    if more > 0 {
        shown.push_str(&format!(" and {more} more"));
    }
    shown
}

fn cut(text: &str) -> String {
    if text.chars().count() <= VALUE_LIMIT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(VALUE_LIMIT - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, TXT};

    fn record(data: RData) -> Record {
        Record::from_rdata(Name::from_ascii("example.com.").unwrap(), 300, data)
    }

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn outcome(record_kind: DnsRecord, records: Vec<RData>, expect: &[&str]) -> ProbeOutcome {
        let records: Vec<Record> = records.into_iter().map(record).collect();
        let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        judge(
            record_kind,
            "example.com",
            &answer_values(&records, record_kind),
            &expect,
        )
    }

    /// Found by the `dns_answer` fuzz target: a name holding a byte that is no ASCII is shown
    /// escaped (`examp\310e.com`); expecting it as shown must match, not be punycoded.
    #[test]
    fn a_name_with_raw_bytes_matches_as_shown() {
        let raw = Name::from_labels([&b"examp\xc8e"[..], b"com"]).unwrap();
        let answer = outcome(DnsRecord::Cname, vec![RData::CNAME(CNAME(raw))], &[]);
        assert_eq!(answer.detail, "CNAME example.com: examp\\310e.com");
        let expected = outcome(
            DnsRecord::Cname,
            vec![RData::CNAME(CNAME(
                Name::from_labels([&b"examp\xc8e"[..], b"com"]).unwrap(),
            ))],
            &["examp\\310e.com"],
        );
        assert!(expected.ok, "{}", expected.detail);
        // International names written as people write them still compare as punycode.
        assert_eq!(normal_name("Bücher.Example."), "xn--bcher-kva.example");
    }

    fn a(text: &str) -> RData {
        RData::A(A(text.parse().unwrap()))
    }

    #[test]
    fn addresses_are_sorted_deduplicated_and_shown() {
        let result = outcome(
            DnsRecord::A,
            vec![a("10.0.0.10"), a("10.0.0.2"), a("10.0.0.2")],
            &[],
        );
        assert_eq!(
            result,
            ProbeOutcome::passed("A example.com: 10.0.0.2, 10.0.0.10")
        );
    }

    #[test]
    fn other_record_types_in_the_answer_do_not_count() {
        let cname = RData::CNAME(CNAME(name("alias.example.net.")));
        assert_eq!(
            outcome(DnsRecord::A, vec![cname.clone(), a("10.0.0.1")], &[]),
            ProbeOutcome::passed("A example.com: 10.0.0.1")
        );
        assert_eq!(
            outcome(DnsRecord::A, vec![cname], &[]),
            ProbeOutcome::failed("no A records for example.com")
        );
    }

    #[test]
    fn missing_expected_values_are_named_with_what_came() {
        assert_eq!(
            outcome(
                DnsRecord::A,
                vec![a("10.0.0.1"), a("10.0.0.2")],
                &["10.0.0.9"]
            ),
            ProbeOutcome::failed("expected 10.0.0.9, got 10.0.0.1, 10.0.0.2")
        );
        assert_eq!(
            outcome(
                DnsRecord::A,
                vec![a("10.0.0.1")],
                &["10.0.0.1", "10.0.0.8", " 10.0.0.9 "]
            ),
            ProbeOutcome::failed("expected 10.0.0.8 and 10.0.0.9, got 10.0.0.1")
        );
    }

    #[test]
    fn addresses_compare_as_parsed() {
        let aaaa = RData::AAAA(AAAA("::1".parse().unwrap()));
        assert!(outcome(DnsRecord::Aaaa, vec![aaaa.clone()], &["0:0:0:0:0:0:0:1"]).ok);
        assert!(outcome(DnsRecord::Aaaa, vec![aaaa], &["[::1]"]).ok);
        assert!(!outcome(DnsRecord::A, vec![a("10.0.0.1")], &["10.0.0.10"]).ok);
    }

    #[test]
    fn names_compare_without_case_and_trailing_dot() {
        let ns = RData::NS(NS(name("NS1.Example.com.")));
        let result = outcome(DnsRecord::Ns, vec![ns], &["ns1.example.COM."]);
        assert_eq!(
            result,
            ProbeOutcome::passed("NS example.com: NS1.Example.com")
        );
        let cname = RData::CNAME(CNAME(name("target.example.net.")));
        assert!(
            outcome(
                DnsRecord::Cname,
                vec![cname.clone()],
                &["Target.Example.NET"]
            )
            .ok
        );
        assert!(!outcome(DnsRecord::Cname, vec![cname], &["other.example.net"]).ok);
    }

    #[test]
    fn mx_matches_with_or_without_preference() {
        let records = || {
            vec![
                RData::MX(MX::new(20, name("backup.example.com."))),
                RData::MX(MX::new(10, name("Mail.example.com."))),
            ]
        };
        assert_eq!(
            outcome(
                DnsRecord::Mx,
                records(),
                &["10 mail.example.com.", "backup.example.com"]
            ),
            ProbeOutcome::passed("MX example.com: 10 Mail.example.com, 20 backup.example.com")
        );
        assert_eq!(
            outcome(DnsRecord::Mx, records(), &["20 mail.example.com"]),
            ProbeOutcome::failed(
                "expected 20 mail.example.com, got 10 Mail.example.com, 20 backup.example.com"
            )
        );
    }

    #[test]
    fn txt_is_the_joined_text_compared_exactly() {
        let txt = RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()]));
        assert_eq!(
            outcome(DnsRecord::Txt, vec![txt.clone()], &["v=spf1 -all"]),
            ProbeOutcome::passed(r#"TXT example.com: "v=spf1 -all""#)
        );
        assert!(!outcome(DnsRecord::Txt, vec![txt], &["V=SPF1 -ALL"]).ok);
    }

    #[test]
    fn long_lists_and_long_values_are_cut() {
        let many: Vec<RData> = (1..=8).map(|i| a(&format!("10.0.0.{i}"))).collect();
        assert_eq!(
            outcome(DnsRecord::A, many, &[]).detail,
            "A example.com: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5 and 3 more"
        );
        let long = RData::TXT(TXT::new(vec!["x".repeat(300)]));
        let detail = outcome(DnsRecord::Txt, vec![long], &[]).detail;
        assert!(detail.ends_with('…'), "{detail}");
        assert_eq!(
            detail.chars().count(),
            "TXT example.com: ".len() + VALUE_LIMIT
        );
    }

    #[test]
    fn errors_read_as_the_server_said() {
        let query = hickory_resolver::proto::op::Query::query(name("example.com."), RecordType::A);
        let nx = NetError::from(NoRecords::new(query.clone(), ResponseCode::NXDomain));
        let empty = NetError::from(NoRecords::new(query, ResponseCode::NoError));
        let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        let refused = NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused));
        let describe =
            |e: &NetError| describe_error(e, DnsRecord::A, "example.com", "10.0.0.53:53");
        assert_eq!(describe(&nx), "NXDOMAIN: example.com does not exist");
        assert_eq!(describe(&empty), "no A records for example.com");
        assert_eq!(
            describe(&servfail),
            "SERVFAIL from 10.0.0.53:53 for A example.com"
        );
        assert_eq!(
            describe(&refused),
            "REFUSED from 10.0.0.53:53 for A example.com"
        );
        assert_eq!(describe(&NetError::Timeout), "no answer from 10.0.0.53:53");
    }

    #[test]
    fn the_budget_leaves_room_inside_the_host_timeout() {
        assert_eq!(
            answer_budget(Duration::from_secs(10)),
            Duration::from_millis(9750)
        );
        assert_eq!(
            answer_budget(Duration::from_secs(1)),
            Duration::from_millis(900)
        );
        assert_eq!(answer_budget(Duration::ZERO), Duration::ZERO);
    }
}
