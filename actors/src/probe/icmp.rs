//! The `icmp` check: `count` echo requests to one address, judged by the share of lost replies.
//!
//! Sockets: an unprivileged ICMP datagram socket where the kernel allows one (the process's
//! groups are in `net.ipv4.ping_group_range`, which also governs ICMPv6), a raw socket
//! otherwise (needs `CAP_NET_RAW`). surge-ping tries them in that order; which one it got is
//! decided once per [`IcmpProbe`] (one per arbiter thread), for IPv4 and IPv6 separately, and
//! kept. When neither can be opened, every check of that family is down with a reason naming
//! the missing permission, and the warning is logged once per thread rather than per check.
//!
//! Matching replies: with a raw socket every socket on the machine sees every echo reply, and in
//! a container every flowstate is PID 1, so the identifier is random per check (not the PID)
//! and surge-ping routes a reply by (address, identifier, sequence). Sequence numbers come from
//! one counter per thread, so concurrent checks of the same address on one socket never wait
//! for the same reply. (A datagram socket gets replies for its own identifier only: the kernel
//! picks the identifier and demultiplexes.)
//!
//! Timing: surge-ping measures from a point after the send until its receive task saw the
//! reply, which comes out as 0 on loopback, so each round trip is timed here around the whole
//! call. The whole series fits inside the host's timeout with a margin, so an address that
//! never answers is reported as `100% loss`, not as a timed-out check: requests go out a little
//! apart (at most [`MAX_SPACING`]) and every one waits for its reply until the same deadline.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowstate_config::{Check, HostConfiguration, IcmpCheck};
use futures_util::FutureExt;
use surge_ping::{Client, Config, IcmpPacket, PingIdentifier, PingSequence, SurgeError, ICMP};

use super::{CheckContext, Probe, ProbeFuture, ProbeOutcome};

/// The longest gap between two echo requests of one check (shorter when the timeout is short).
const MAX_SPACING: Duration = Duration::from_millis(200);

/// How much of the host's timeout is kept back so the series ends, and says why, before
/// [`super::run_check`]'s timeout cuts it off: a tenth of it, at most this much.
const MAX_MARGIN: Duration = Duration::from_millis(500);

/// The echo payload: 56 bytes, as ping(8) sends, saying who sent it to anyone capturing it.
const PAYLOAD: [u8; 56] = {
    let tag = b"flowstate icmp check";
    let mut payload = [0u8; 56];
    let mut i = 0;
    while i < tag.len() {
        payload[i] = tag[i];
        i += 1;
    }
    payload
};

/// Where the kernel says who may open unprivileged ICMP sockets (IPv4 and IPv6 alike).
const PING_GROUP_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

pub struct IcmpProbe {
    sockets: Rc<Sockets>,
}

impl IcmpProbe {
    pub fn new() -> Self {
        IcmpProbe {
            sockets: Rc::new(Sockets {
                v4: Family::new(ICMP::V4),
                v6: Family::new(ICMP::V6),
                next_sequence: Cell::new(fastrand::u16(..)),
            }),
        }
    }
}

impl Default for IcmpProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe for IcmpProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, _context: &CheckContext) -> ProbeFuture {
        let sockets = self.sockets.clone();
        let host = host.clone();
        Box::pin(async move {
            let deadline = crate::clock::instant_after(Instant::now(), series_budget(host.timeout));
            match &host.check {
                Check::Icmp(check) => check_icmp(&sockets, check, deadline).await,
                other => ProbeOutcome::failed(format!("not an ICMP check: {}", other.kind())),
            }
        })
    }
}

/// The part of `timeout` the ping series may use.
fn series_budget(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(MAX_MARGIN))
}

/// This thread's ICMP sockets and sequence numbers, shared by every check on it.
struct Sockets {
    v4: Family,
    v6: Family,
    /// The next free sequence number. Starts random so a restarted daemon does not reuse the
    /// numbers of the one before while their replies may still be on the way.
    next_sequence: Cell<u16>,
}

impl Sockets {
    fn family(&self, ip: IpAddr) -> &Family {
        match ip {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => &self.v6,
        }
    }

    /// `count` consecutive sequence numbers (wrapping), the first of them returned.
    fn take_sequences(&self, count: u16) -> u16 {
        let first = self.next_sequence.get();
        self.next_sequence.set(first.wrapping_add(count));
        first
    }
}

/// The socket of one address family, opened on first use.
struct Family {
    kind: ICMP,
    /// `None` until first needed. `Err` holds a permanent refusal (missing permission), so it
    /// is neither retried nor logged again; other failures are not kept.
    opened: RefCell<Option<Result<Client, String>>>,
}

impl Family {
    fn new(kind: ICMP) -> Self {
        Family {
            kind,
            opened: RefCell::new(None),
        }
    }

    fn name(&self) -> &'static str {
        match self.kind {
            ICMP::V4 => "ICMP",
            ICMP::V6 => "ICMPv6",
        }
    }

    /// This family's client: opened now if it was not yet, the kept one (or refusal) otherwise.
    /// Needs a tokio runtime (surge-ping spawns its receive task), so it is called from inside
    /// a check, never from [`IcmpProbe::new`].
    fn client(&self) -> Result<Client, String> {
        if let Some(kept) = &*self.opened.borrow() {
            return kept.clone();
        }
        // surge-ping's default is a datagram socket, falling back to a raw one on any error.
        let config = Config::builder().kind(self.kind).build();
        let opened = match Client::new(&config) {
            Ok(client) => {
                log::debug!(
                    family = self.name(),
                    socket = if is_raw(&client) { "raw" } else { "datagram (unprivileged)" };
                    "ICMP socket opened"
                );
                Ok(client)
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let reason = format!(
                    "cannot open an {} socket: {} and raw sockets need CAP_NET_RAW",
                    self.name(),
                    unprivileged_icmp_refusal(std::fs::read_to_string(PING_GROUP_RANGE).ok())
                );
                log::warn!(family = self.name(); "{reason}; ICMP checks of this family are down");
                Err(reason)
            }
            // Not a question of permission (out of file descriptors, no IPv6 in this kernel):
            // possibly passing, so tried again next check.
            Err(e) => return Err(format!("cannot open an {} socket: {e}", self.name())),
        };
        *self.opened.borrow_mut() = Some(opened.clone());
        opened
    }
}

/// Whether `client` uses a raw socket: then the identifier is ours to choose and surge-ping
/// matches replies by it (a Linux datagram socket leaves both to the kernel).
fn is_raw(client: &Client) -> bool {
    // `pinger` is an async fn without a single await, so it is ready at once.
    client
        .pinger(IpAddr::V4(Ipv4Addr::LOCALHOST), PingIdentifier(0))
        .now_or_never()
        .is_some_and(|pinger| pinger.ident.is_some())
}

/// Why the kernel refused an unprivileged ICMP socket, from the contents of
/// `net.ipv4.ping_group_range` (`None`: not readable, e.g. not Linux).
fn unprivileged_icmp_refusal(ping_group_range: Option<String>) -> String {
    let Some(text) = ping_group_range else {
        return "unprivileged ICMP is not allowed".to_string();
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let range: Vec<u64> = text
        .split(' ')
        .filter_map(|n| n.parse::<u64>().ok())
        .collect();
    match range[..] {
        // "1 0", the default: an empty range, nobody (not even root) is in it.
        [low, high] if low > high => {
            format!("unprivileged ICMP is off (net.ipv4.ping_group_range = \"{text}\")")
        }
        _ => format!(
            "unprivileged ICMP is off for this process's groups (net.ipv4.ping_group_range = \"{text}\")"
        ),
    }
}

/// Resolves the address, opens a socket for its family, sends the series and judges it.
async fn check_icmp(sockets: &Sockets, check: &IcmpCheck, deadline: Instant) -> ProbeOutcome {
    let candidates = match resolve(&check.address).await {
        Ok(c) => c,
        Err(reason) => return ProbeOutcome::failed(reason),
    };
    // A lookup that used up the budget would otherwise read as `100% loss`.
    if Instant::now() >= deadline {
        return ProbeOutcome::failed(format!("resolving {} left no time to ping", check.address));
    }
    // The first address whose family has a socket: a name with A and AAAA records still works
    // where only one family can be pinged.
    let mut first_error = None;
    let mut target = None;
    for ip in candidates {
        match sockets.family(ip).client() {
            Ok(client) => {
                target = Some((ip, client));
                break;
            }
            Err(reason) => {
                first_error.get_or_insert(reason);
            }
        }
    }
    let Some((ip, client)) = target else {
        return ProbeOutcome::failed(first_error.unwrap_or_else(|| "no address".to_string()));
    };
    // Config validation keeps `count` within 1..=100.
    let count = u16::try_from(check.count).unwrap_or(u16::MAX);
    let echoes = ping_series(
        &client,
        ip,
        PingIdentifier(fastrand::u16(..)),
        sockets.take_sequences(count),
        count,
        deadline,
    )
    .await;
    let rtts: Vec<Duration> = echoes.iter().filter_map(Echo::rtt).collect();
    let problem = echoes.iter().find_map(|e| match e {
        Echo::Lost(Some(why)) => Some(why.as_str()),
        _ => None,
    });
    verdict(check.count, &rtts, check.max_loss, problem)
}

/// The address to ping, in preference order: an IP literal as written; for a name, the first
/// address of each family the resolver returned, in its order (`[v6]` brackets allowed).
async fn resolve(address: &str) -> Result<Vec<IpAddr>, String> {
    let found = super::resolve::lookup(address, 0).await?;
    let mut candidates: Vec<IpAddr> = Vec::new();
    for ip in found.iter().map(std::net::SocketAddr::ip) {
        if !candidates.iter().any(|c| c.is_ipv4() == ip.is_ipv4()) {
            candidates.push(ip);
        }
    }
    Ok(candidates)
}

/// What became of one echo request.
#[derive(Debug, Clone, PartialEq)]
enum Echo {
    /// Answered by an echo reply; `rtt` timed here, around the whole call.
    Reply {
        rtt: Duration,
        identifier: u16,
        sequence: u16,
    },
    /// No reply before the deadline; with why, when something said so (an ICMP error, a send
    /// error).
    Lost(Option<String>),
}

impl Echo {
    fn rtt(&self) -> Option<Duration> {
        match self {
            Echo::Reply { rtt, .. } => Some(*rtt),
            Echo::Lost(_) => None,
        }
    }
}

/// Sends `count` echo requests (sequence numbers from `first_sequence` on) a little apart, and
/// waits for each reply until `deadline`. The results are in sending order.
async fn ping_series(
    client: &Client,
    ip: IpAddr,
    identifier: PingIdentifier,
    first_sequence: u16,
    count: u16,
    deadline: Instant,
) -> Vec<Echo> {
    let start = Instant::now();
    let remaining = deadline.saturating_duration_since(start);
    // The last request still leaves a good part of the budget for its reply.
    let spacing = MAX_SPACING.min(remaining / (u32::from(count) + 1));
    let echoes = (0..count).map(|i| {
        let send_at = start + spacing * u32::from(i);
        let sequence = PingSequence(first_sequence.wrapping_add(i));
        async move {
            actix_rt::time::sleep(send_at.saturating_duration_since(Instant::now())).await;
            echo(client, ip, identifier, sequence, deadline).await
        }
    });
    futures_util::future::join_all(echoes).await
}

/// One echo request and its reply.
async fn echo(
    client: &Client,
    ip: IpAddr,
    identifier: PingIdentifier,
    sequence: PingSequence,
    deadline: Instant,
) -> Echo {
    let mut pinger = client.pinger(ip, identifier).await;
    pinger.timeout(deadline.saturating_duration_since(Instant::now()));
    let sent = Instant::now();
    match pinger.ping(sequence, &PAYLOAD).await {
        Ok((packet, _)) => {
            let rtt = sent.elapsed();
            // surge-ping also hands over an ICMP error quoting our request as its answer.
            match icmp_error(&packet) {
                None => Echo::Reply {
                    rtt,
                    identifier: packet.get_identifier().0,
                    sequence: packet.get_sequence().0,
                },
                Some(error) => Echo::Lost(Some(error)),
            }
        }
        Err(SurgeError::Timeout { .. }) => Echo::Lost(None),
        Err(SurgeError::IOError(e)) => Echo::Lost(Some(describe_io(&e))),
        Err(e) => Echo::Lost(Some(e.to_string())),
    }
}

/// `None` for an echo reply; otherwise what the ICMP message says, and who sent it.
fn icmp_error(packet: &IcmpPacket) -> Option<String> {
    let (what, from) = match packet {
        IcmpPacket::V4(p) => {
            let (kind, code) = (p.get_icmp_type().0, p.get_icmp_code().0);
            let what = match (kind, code) {
                (0, _) => return None,
                (3, 0) => "network unreachable".to_string(),
                (3, 1) => "host unreachable".to_string(),
                (3, 2) => "protocol unreachable".to_string(),
                (3, 3) => "port unreachable".to_string(),
                (3, 4) => "fragmentation needed".to_string(),
                (3, 9 | 10 | 13) => "administratively prohibited".to_string(),
                (3, code) => format!("destination unreachable (code {code})"),
                (5, _) => "redirected".to_string(),
                (11, _) => "TTL exceeded in transit".to_string(),
                (12, _) => "parameter problem".to_string(),
                (kind, code) => format!("ICMP type {kind} code {code}"),
            };
            (what, IpAddr::V4(p.get_source()))
        }
        IcmpPacket::V6(p) => {
            let (kind, code) = (p.get_icmpv6_type().0, p.get_icmpv6_code().0);
            let what = match (kind, code) {
                (129, _) => return None,
                (1, 0) => "no route to destination".to_string(),
                (1, 1) => "administratively prohibited".to_string(),
                (1, 3) => "address unreachable".to_string(),
                (1, 4) => "port unreachable".to_string(),
                (1, code) => format!("destination unreachable (code {code})"),
                (2, _) => "packet too big".to_string(),
                (3, _) => "hop limit exceeded in transit".to_string(),
                (4, _) => "parameter problem".to_string(),
                (kind, code) => format!("ICMPv6 type {kind} code {code}"),
            };
            (what, IpAddr::V6(p.get_source()))
        }
    };
    Some(format!("{what} (from {from})"))
}

/// An I/O error in the words of the rest of the probes: `network is unreachable`.
fn describe_io(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "send failed".to_string(),
    }
}

/// The check's outcome from how many requests were sent, the round trips of the replies, the
/// loss allowed (percent) and, when something explained a loss, what.
fn verdict(sent: u32, rtts: &[Duration], max_loss: f64, problem: Option<&str>) -> ProbeOutcome {
    let received = rtts.len() as u32;
    let loss = if sent == 0 {
        100.0
    } else {
        f64::from(sent.saturating_sub(received)) * 100.0 / f64::from(sent)
    };
    let replies = format!("{received}/{sent} replies");
    if loss <= max_loss {
        let mut detail = replies;
        if received < sent {
            detail.push_str(&format!(" ({loss:.0}% loss)"));
        }
        let summary = RttSummary::of(rtts);
        if let Some(rtt) = &summary {
            detail.push_str(&format!(
                ", rtt avg {} ms (min {}, max {})",
                ms(rtt.avg),
                ms(rtt.min),
                ms(rtt.max)
            ));
        }
        let mut outcome = ProbeOutcome::passed(detail);
        // The series includes the spacing between requests: the latency that matters (and
        // that `max_response_time` judges) is the average round trip.
        outcome.latency = summary.map(|rtt| rtt.avg);
        return outcome;
    }
    let mut detail = if max_loss == 0.0 || received == 0 {
        format!("{}% loss ({replies})", shown_loss(loss, max_loss))
    } else {
        format!(
            "{}% loss, more than {max_loss}% allowed ({replies})",
            shown_loss(loss, max_loss)
        )
    };
    if let Some(problem) = problem {
        detail.push_str(": ");
        detail.push_str(problem);
    }
    ProbeOutcome::failed(detail)
}

/// `loss` (which is more than `max_loss`) rounded to whole percents, unless that would show it
/// as not more than the allowance (33.3% against 33%): then with as many decimals as it takes.
fn shown_loss(loss: f64, max_loss: f64) -> String {
    for decimals in 0..3 {
        let text = format!("{loss:.decimals$}");
        if text.parse::<f64>().is_ok_and(|shown| shown > max_loss) {
            return text;
        }
    }
    format!("{loss:.3}")
}

/// Milliseconds with two decimals.
fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

struct RttSummary {
    min: Duration,
    avg: Duration,
    max: Duration,
}

impl RttSummary {
    fn of(rtts: &[Duration]) -> Option<Self> {
        let min = *rtts.iter().min()?;
        let max = *rtts.iter().max()?;
        let avg = rtts.iter().sum::<Duration>() / rtts.len() as u32;
        Some(RttSummary { min, avg, max })
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ms_list(values: &[f64]) -> Vec<Duration> {
        values
            .iter()
            .map(|v| Duration::from_secs_f64(v / 1000.0))
            .collect()
    }

    #[test]
    fn every_reply_is_up_with_the_round_trips() {
        let outcome = verdict(3, &ms_list(&[0.04, 0.05, 0.06]), 0.0, None);
        assert_eq!(
            (outcome.ok, outcome.detail.as_str()),
            (true, "3/3 replies, rtt avg 0.05 ms (min 0.04, max 0.06)")
        );
        // The reported latency is the average round trip, not the spaced-out series.
        assert_eq!(outcome.latency, Some(Duration::from_secs_f64(0.00005)));
    }

    #[test]
    fn no_reply_is_down_with_total_loss() {
        assert_eq!(
            verdict(3, &[], 0.0, None),
            ProbeOutcome::failed("100% loss (0/3 replies)")
        );
        // An allowance does not change how total loss reads, and a known cause is added.
        assert_eq!(
            verdict(3, &[], 50.0, Some("host unreachable (from 192.0.2.2)")),
            ProbeOutcome::failed("100% loss (0/3 replies): host unreachable (from 192.0.2.2)")
        );
    }

    #[test]
    fn loss_over_the_allowance_is_down_and_says_the_allowance() {
        assert_eq!(
            verdict(3, &ms_list(&[1.0]), 20.0, None),
            ProbeOutcome::failed("67% loss, more than 20% allowed (1/3 replies)")
        );
        assert_eq!(
            verdict(3, &ms_list(&[1.0, 2.0]), 0.0, None),
            ProbeOutcome::failed("33% loss (2/3 replies)")
        );
        // Rounding must not make the loss look within the allowance.
        assert_eq!(
            verdict(3, &ms_list(&[1.0, 2.0]), 33.0, None),
            ProbeOutcome::failed("33.3% loss, more than 33% allowed (2/3 replies)")
        );
        assert_eq!(
            verdict(10, &ms_list(&[1.0; 9]), 0.5, None),
            ProbeOutcome::failed("10% loss, more than 0.5% allowed (9/10 replies)")
        );
    }

    #[test]
    fn loss_within_the_allowance_is_up_and_shows_the_loss() {
        let outcome = verdict(3, &ms_list(&[1.0, 3.0]), 50.0, None);
        assert_eq!(
            (outcome.ok, outcome.detail.as_str()),
            (
                true,
                "2/3 replies (33% loss), rtt avg 2.00 ms (min 1.00, max 3.00)"
            )
        );
        // Exactly the allowance is still up.
        let outcome = verdict(4, &ms_list(&[1.0, 1.0, 1.0]), 25.0, None);
        assert_eq!(
            (outcome.ok, outcome.detail.as_str()),
            (
                true,
                "3/4 replies (25% loss), rtt avg 1.00 ms (min 1.00, max 1.00)"
            )
        );
        // `max_loss: 100%` accepts silence.
        assert_eq!(
            verdict(3, &[], 100.0, None),
            ProbeOutcome::passed("0/3 replies (100% loss)")
        );
    }

    #[test]
    fn the_refusal_names_the_sysctl_and_its_value() {
        assert_eq!(
            unprivileged_icmp_refusal(Some("1\t0\n".to_string())),
            "unprivileged ICMP is off (net.ipv4.ping_group_range = \"1 0\")"
        );
        assert_eq!(
            unprivileged_icmp_refusal(Some("100 200\n".to_string())),
            "unprivileged ICMP is off for this process's groups \
             (net.ipv4.ping_group_range = \"100 200\")"
        );
        assert_eq!(
            unprivileged_icmp_refusal(None),
            "unprivileged ICMP is not allowed"
        );
    }

    #[test]
    fn the_budget_leaves_a_margin_before_the_timeout() {
        assert_eq!(
            series_budget(Duration::from_secs(1)),
            Duration::from_millis(900)
        );
        assert_eq!(
            series_budget(Duration::from_secs(10)),
            Duration::from_millis(9500)
        );
    }

    #[test]
    fn io_errors_read_like_the_other_probes() {
        let e = io::Error::from_raw_os_error(101);
        assert_eq!(describe_io(&e), "network is unreachable");
    }

    #[actix_rt::test]
    async fn literals_are_used_as_written_and_names_resolved() {
        assert_eq!(
            resolve("127.0.0.1").await,
            Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
        );
        assert_eq!(
            resolve("[::1]").await,
            Ok(vec![IpAddr::V6(Ipv6Addr::LOCALHOST)])
        );
        let localhost = resolve("localhost").await.expect("localhost resolves");
        assert!(localhost.iter().all(IpAddr::is_loopback), "{localhost:?}");
        let missing = resolve("no-such-host.invalid").await.unwrap_err();
        assert!(
            missing.starts_with("cannot resolve no-such-host.invalid: "),
            "{missing}"
        );
    }

    /// A client of its own (one socket each, as two daemons on one machine would have), or
    /// `None` when this machine allows no ICMP socket at all.
    fn own_client(family: ICMP) -> Option<Client> {
        match Client::new(&Config::builder().kind(family).build()) {
            Ok(client) => Some(client),
            Err(e) => {
                eprintln!("SKIPPED: cannot open an ICMP socket here ({e})");
                None
            }
        }
    }

    /// Two pingers with their own sockets and identifiers, the same target and the same
    /// sequence numbers, at the same time: with raw sockets each socket sees both sets of
    /// replies, and each must still count exactly its own.
    #[actix_rt::test]
    async fn concurrent_pingers_each_get_exactly_their_own_replies() {
        let (Some(first), Some(second)) = (own_client(ICMP::V4), own_client(ICMP::V4)) else {
            return;
        };
        let target = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let deadline = Instant::now() + Duration::from_secs(5);
        let (ours, theirs) = futures_util::join!(
            ping_series(&first, target, PingIdentifier(0x1111), 7, 5, deadline),
            ping_series(&second, target, PingIdentifier(0x2222), 7, 5, deadline),
        );
        for (echoes, identifier) in [(&ours, 0x1111), (&theirs, 0x2222)] {
            assert_eq!(echoes.len(), 5);
            for (i, echo) in echoes.iter().enumerate() {
                let Echo::Reply {
                    rtt,
                    identifier: got,
                    sequence,
                } = echo
                else {
                    panic!("echo {i} was lost: {echoes:?}");
                };
                assert_eq!(*sequence, 7 + i as u16, "{echoes:?}");
                assert!(*rtt > Duration::ZERO, "timed here, never 0: {echoes:?}");
                // A datagram socket's identifier is the kernel's choice, and the kernel only
                // hands that socket its own replies; a raw one's is ours and must match.
                if is_raw(&first) {
                    assert_eq!(*got, identifier, "someone else's reply: {echoes:?}");
                }
            }
        }
    }

    /// Checks of the same address on one thread share its socket: their sequence numbers
    /// differ, so neither is refused as a duplicate nor gets the other's replies.
    #[actix_rt::test]
    async fn concurrent_checks_on_one_probe_share_the_socket() {
        let probe = IcmpProbe::new();
        if let Err(reason) = probe.sockets.v4.client() {
            eprintln!("SKIPPED: {reason}");
            return;
        }
        let check = IcmpCheck {
            address: "127.0.0.1".to_string(),
            count: 3,
            max_loss: 0.0,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let (a, b) = futures_util::join!(
            check_icmp(&probe.sockets, &check, deadline),
            check_icmp(&probe.sockets, &check, deadline),
        );
        for outcome in [a, b] {
            assert!(outcome.ok, "{outcome:?}");
            assert!(
                outcome.detail.starts_with("3/3 replies, rtt avg "),
                "{outcome:?}"
            );
        }
    }

    #[actix_rt::test]
    async fn v6_loopback_answers_when_the_machine_has_it() {
        if std::net::UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("SKIPPED: this machine has no ::1");
            return;
        }
        let probe = IcmpProbe::new();
        if let Err(reason) = probe.sockets.v6.client() {
            eprintln!("SKIPPED: {reason}");
            return;
        }
        let check = IcmpCheck {
            address: "::1".to_string(),
            count: 2,
            max_loss: 0.0,
        };
        let outcome = check_icmp(
            &probe.sockets,
            &check,
            Instant::now() + Duration::from_secs(5),
        )
        .await;
        assert!(outcome.ok, "{outcome:?}");
        assert!(outcome.detail.starts_with("2/2 replies"), "{outcome:?}");
    }
}
