//! Host assignment: which live agent of a location checks which host (SPEC §10).
//!
//! Rendezvous hashing (highest random weight, Thaler & Ravishankar 1996): every agent gets a
//! weight for every host, `weight(agent, host)`, and the host belongs to the agent with the
//! highest weight. Each agent computes this on its own from the same list of live agents, with
//! no coordination, so the answers must agree bit for bit across processes, machines and Rust
//! releases. That rules out `std`'s `DefaultHasher` (SipHash with keys and algorithm that may
//! change between releases) and any randomly seeded hasher.
//!
//! Why rendezvous rather than a hash ring: with a few agents per location it balances well
//! without virtual nodes, and it moves the minimum when membership changes. When an agent
//! joins, only the hosts it now wins move, all of them to it (about `1/n`); when an agent
//! leaves, only its hosts move, spread over the others. A host whose agents did not change
//! keeps its schedule.
//!
//! ## The weight, exactly
//!
//! So that another implementation (or a later version of this one) can reproduce it:
//!
//! 1. Take the bytes `agent ‖ 0xFF ‖ host` (UTF-8). `0xFF` never occurs in UTF-8, so the
//!    separator cannot be confused with a byte of either name: agent `a` with host `bc` and
//!    agent `ab` with host `c` hash different bytes.
//! 2. Hash them with 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime
//!    `0x100000001b3`).
//! 3. Finish with MurmurHash3's `fmix64`. FNV-1a alone diffuses the last bytes of its input
//!    into the low bits only, and host labels often differ only in their last bytes
//!    (`web-1`, `web-2`); rendezvous compares whole 64-bit values, so the high bits must
//!    depend on every byte. `fmix64` gives full avalanche.
//!
//! Both steps are public-domain, a dozen lines each and pinned by known values in the tests,
//! so no crate is needed (and none could change under us in an update).
//!
//! Ties in weight (possible, though not met in practice) go to the greater agent id in byte
//! order, so every agent picks the same owner whatever order its list of agents is in.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The identity of one agent, unique in the cluster (for example the pod name). Agents compare
/// ids to break ties, so two agents must never share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(Arc<str>);

impl AgentId {
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        AgentId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for AgentId {
    fn from(id: &str) -> Self {
        AgentId::new(id)
    }
}

impl From<Arc<str>> for AgentId {
    fn from(id: Arc<str>) -> Self {
        AgentId(id)
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The weight of `agent` for `host`: stable everywhere, see the module header.
pub fn weight(agent: &AgentId, host: &str) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    hash = fnv1a(hash, agent.as_str().as_bytes());
    hash = fnv1a(hash, &[SEPARATOR]);
    hash = fnv1a(hash, host.as_bytes());
    fmix64(hash)
}

/// The agent that checks `host`: the one with the highest [`weight`], ties to the greater id.
/// `None` when there is no live agent.
pub fn owner<'a>(host: &str, agents: &'a [AgentId]) -> Option<&'a AgentId> {
    highest(agents, |agent| weight(agent, host))
}

/// The hosts `me` checks, in the order given. Empty when `me` is not among `agents`: an agent
/// the others do not count as live must not check, or a host would be checked twice.
pub fn mine<'a, H>(
    me: &AgentId,
    hosts: impl IntoIterator<Item = &'a H>,
    agents: &[AgentId],
) -> Vec<&'a H>
where
    H: AsRef<str> + ?Sized + 'a,
{
    if !agents.contains(me) {
        return Vec::new();
    }
    hosts
        .into_iter()
        .filter(|host| owner(host.as_ref(), agents) == Some(me))
        .collect()
}

/// Every agent's hosts, in the order given; an agent that wins none is listed with none (the
/// API shows every agent). Empty when there is no agent.
pub fn assignment<'a, H>(
    hosts: impl IntoIterator<Item = &'a H>,
    agents: &[AgentId],
) -> HashMap<AgentId, Vec<&'a H>>
where
    H: AsRef<str> + ?Sized + 'a,
{
    let mut shares: HashMap<AgentId, Vec<&'a H>> = agents
        .iter()
        .map(|agent| (agent.clone(), Vec::new()))
        .collect();
    for host in hosts {
        if let Some(agent) = owner(host.as_ref(), agents) {
            shares.entry(agent.clone()).or_default().push(host);
        }
    }
    shares
}

/// The agent with the highest weight, ties to the greater id. Comparing `(weight, id)` pairs
/// makes the answer independent of the order of `agents`.
fn highest(agents: &[AgentId], weight: impl Fn(&AgentId) -> u64) -> Option<&AgentId> {
    agents
        .iter()
        .map(|agent| (weight(agent), agent))
        .max()
        .map(|(_, agent)| agent)
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Between agent and host; not a byte of any UTF-8 string.
const SEPARATOR: u8 = 0xFF;

/// 64-bit FNV-1a, continued from `hash` over `bytes`.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// MurmurHash3's 64-bit finaliser: every input bit flips each output bit with probability
/// about one half.
fn fmix64(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    hash
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn agents(n: usize) -> Vec<AgentId> {
        (0..n).map(|i| AgentId::new(format!("agent-{i}"))).collect()
    }

    fn hosts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("host-{i}")).collect()
    }

    fn owners<'a>(hosts: &[String], agents: &'a [AgentId]) -> Vec<&'a AgentId> {
        hosts
            .iter()
            .map(|host| owner(host, agents).expect("there are agents"))
            .collect()
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference (isthe.com/chongo/tech/comp/fnv), 64-bit FNV-1a.
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn fmix64_matches_murmur3() {
        // MurmurHash3's constants; values from a separate implementation.
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456bcfc34c2cb2c);
        assert_eq!(fmix64(u64::MAX), 0x64b5720b4b825f21);
    }

    #[test]
    fn weights_are_pinned() {
        // Agents running different builds compare answers: these values must never change.
        // Computed by a separate (Python) implementation of the algorithm in the module header.
        let cases = [
            ("agent-0", "host-0", 0xba45_52d4_9e2e_0706),
            ("agent-1", "host-0", 0xdfb8_7f93_b802_e148),
            ("eu-1", "api", 0x26da_c562_6ce9_798e),
            ("", "", 0x1bbd_5c81_3c69_a8d7),
        ];
        for (agent, host, expected) in cases {
            assert_eq!(
                weight(&AgentId::from(agent), host),
                expected,
                "weight({agent:?}, {host:?})"
            );
        }
    }

    #[test]
    fn the_separator_keeps_agent_and_host_apart() {
        assert_ne!(
            weight(&AgentId::from("a"), "bc"),
            weight(&AgentId::from("ab"), "c")
        );
        assert_ne!(
            weight(&AgentId::from("ab"), ""),
            weight(&AgentId::from("a"), "b")
        );
    }

    #[test]
    fn no_agents_means_no_owner() {
        assert_eq!(owner("api", &[]), None);
        assert!(mine(&AgentId::from("a"), ["api", "db"], &[]).is_empty());
        assert!(assignment(["api", "db"], &[]).is_empty());
    }

    #[test]
    fn a_single_agent_owns_every_host() {
        let solo = agents(1);
        let hosts = hosts(100);
        assert!(owners(&hosts, &solo).iter().all(|a| **a == solo[0]));
        assert_eq!(mine(&solo[0], &hosts, &solo).len(), 100);
    }

    #[test]
    fn every_host_has_exactly_one_owner() {
        let hosts = hosts(2_000);
        for n in 1..=10 {
            let agents = agents(n);
            let shares = assignment(&hosts, &agents);
            let mut seen = HashSet::new();
            for share in shares.values() {
                for host in share {
                    assert!(seen.insert(host.as_str()), "{host} assigned twice");
                }
            }
            assert_eq!(seen.len(), hosts.len(), "{n} agents: some host unassigned");
            // And each agent's own view agrees with the whole assignment.
            for agent in &agents {
                assert_eq!(mine(agent, &hosts, &agents), shares[agent], "{agent}");
            }
        }
    }

    #[test]
    fn hosts_spread_evenly_within_15_percent() {
        let hosts = hosts(10_000);
        for n in 3..=10 {
            let agents = agents(n);
            let shares = assignment(&hosts, &agents);
            let fair = hosts.len() as f64 / n as f64;
            for (agent, share) in &shares {
                let off = (share.len() as f64 - fair).abs() / fair;
                assert!(
                    off <= 0.15,
                    "{n} agents: {agent} has {} hosts, fair share {fair:.0}",
                    share.len()
                );
            }
        }
    }

    #[test]
    fn a_joining_agent_takes_about_1_over_n_and_nothing_else_moves() {
        let hosts = hosts(10_000);
        for n in 2..=9 {
            let before = agents(n);
            let mut after = before.clone();
            let newcomer = AgentId::from("newcomer");
            after.push(newcomer.clone());

            let old = owners(&hosts, &before);
            let new = owners(&hosts, &after);
            let mut moved = 0;
            for ((host, from), to) in hosts.iter().zip(&old).zip(&new) {
                if from != to {
                    assert_eq!(*to, &newcomer, "{host} moved between old agents");
                    moved += 1;
                }
            }
            let fair = hosts.len() as f64 / (n + 1) as f64;
            let off = (moved as f64 - fair).abs() / fair;
            assert!(
                off <= 0.15,
                "{n}+1 agents: {moved} moved, expected ~{fair:.0}"
            );
        }
    }

    #[test]
    fn a_leaving_agent_hands_on_only_its_hosts() {
        let hosts = hosts(10_000);
        for n in 3..=10 {
            let before = agents(n);
            for leaving in 0..n {
                let mut after = before.clone();
                let gone = after.remove(leaving);

                let old = owners(&hosts, &before);
                let new = owners(&hosts, &after);
                let mut heirs = HashSet::new();
                for ((host, from), to) in hosts.iter().zip(&old).zip(&new) {
                    if **from == gone {
                        heirs.insert(*to);
                    } else {
                        assert_eq!(from, to, "{host} moved though {from} stayed");
                    }
                }
                // Its hosts are spread over the others, not dumped on one.
                assert_eq!(heirs.len(), n - 1, "{n} agents, {gone} left");
            }
        }
    }

    #[test]
    fn the_order_of_agents_does_not_matter() {
        let hosts = hosts(1_000);
        let agents = agents(7);
        let expected = owners(&hosts, &agents);

        let mut reversed = agents.clone();
        reversed.reverse();
        assert_eq!(owners(&hosts, &reversed), expected);

        for shift in 1..agents.len() {
            let mut rotated = agents.clone();
            rotated.rotate_left(shift);
            assert_eq!(owners(&hosts, &rotated), expected, "rotated by {shift}");
        }

        let mut sorted = agents.clone();
        sorted.sort_by_key(|agent| weight(agent, "shuffle"));
        assert_eq!(owners(&hosts, &sorted), expected);
    }

    #[test]
    fn equal_weights_go_to_the_greatest_id_in_any_order() {
        let ids = [AgentId::from("b"), AgentId::from("c"), AgentId::from("a")];
        let flat = |_: &AgentId| 7;
        assert_eq!(highest(&ids, flat), Some(&ids[1]));
        let mut reversed = ids.clone();
        reversed.reverse();
        assert_eq!(highest(&reversed, flat).map(AgentId::as_str), Some("c"));
    }

    #[test]
    fn an_agent_not_counted_live_checks_nothing() {
        let hosts = hosts(100);
        let live = agents(3);
        assert!(mine(&AgentId::from("stranger"), &hosts, &live).is_empty());
    }

    #[test]
    fn an_agent_without_hosts_is_still_listed() {
        let agents = agents(5);
        let shares = assignment(["only-host"], &agents);
        assert_eq!(shares.len(), 5);
        assert_eq!(shares.values().map(Vec::len).sum::<usize>(), 1);
    }

    #[test]
    fn mine_takes_labels_as_they_are_kept() {
        let labels: Vec<Arc<str>> = vec![Arc::from("api"), Arc::from("db")];
        let solo = agents(1);
        let picked: Vec<&Arc<str>> = mine(&solo[0], &labels, &solo);
        assert_eq!(picked, vec![&labels[0], &labels[1]]);
    }
}
