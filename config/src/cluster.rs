//! `cluster`: several flowstate agents, in one or more locations, sharing one PostgreSQL
//! database (SPEC §10). Each host is checked once per interval in each of its `locations`;
//! one agent, the leader, decides statuses by `quorum` over the locations and sends alerts.
//!
//! This file holds the settings, reads `cluster` and the `locations` lists of hosts and
//! `defaults`, and checks location names. The daemon does not act on any of it yet: the
//! agents themselves (membership, leases, host assignment) come with `actors/src/cluster/`.
//!
//! This agent's location may come from the command line (`--location`, `$FLOWSTATE_LOCATION`)
//! rather than from the file, so loading accepts a `cluster` without `location`;
//! [`Config::with_location`] applies the command line's value and requires one.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, Diagnostic, Position};
use crate::reader::{shown, Node, Reader};
use crate::settings::DatabaseUrl;
use crate::Config;

pub(crate) const CLUSTER_KEYS: &[&str] = &[
    "url",
    "location",
    "quorum",
    "lease",
    "heartbeat",
    "agent_id",
];

/// The longest location name: it is a label of every cluster metric and a column of the
/// database, and `eu-central-frankfurt-2` is already long.
pub const MAX_LOCATION_LEN: usize = 32;

/// The longest agent id: a DNS name's length, so a host name or a Kubernetes pod name fits.
pub const MAX_AGENT_ID_LEN: usize = 253;

/// How this agent takes part in a cluster of agents sharing one PostgreSQL database.
///
/// `Debug` and `Display` show [`DatabaseUrl::shown`]: never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The database the agents share: membership, the leader's lease, results and the
    /// outbox. Its password is for connecting only ([`DatabaseUrl::expose`]).
    pub url: DatabaseUrl,
    /// This agent's location (a location name, see [`is_location_name`]); `None` until given,
    /// by `cluster.location`, `--location` or `$FLOWSTATE_LOCATION`:
    /// [`Config::with_location`] requires it before the daemon runs.
    pub location: Option<Arc<str>>,
    /// How many locations must see a host failing before it is `down`; fewer make it
    /// `partial`. At least 1, at most the number of locations ([`Config::locations`]).
    pub quorum: u32,
    /// How long the leader's lease lasts unless renewed: a leader that stops renewing it
    /// (killed, cut off) is replaced this long after its last renewal. 3s to 5m.
    pub lease: Duration,
    /// How often an agent renews its membership, and the leader its lease. At least 1s and
    /// less than half of `lease`, so one missed heartbeat does not lose the lease.
    pub heartbeat: Duration,
    /// This agent's id among the agents; `None`: derived when the daemon starts (from the
    /// host name, which is the pod's name under Kubernetes).
    pub agent_id: Option<Arc<str>>,
}

impl ClusterSettings {
    pub const DEFAULT_QUORUM: u32 = 1;
    /// Far more locations than anyone runs; the real bound is the number of locations.
    pub const MAX_QUORUM: u32 = 1_000;
    /// Leader election as in Kubernetes' own (15s lease): a dead leader is replaced within
    /// seconds, and a database hiccup of a few seconds does not move the leadership.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);
    pub const MIN_LEASE: Duration = Duration::from_secs(3);
    pub const MAX_LEASE: Duration = Duration::from_secs(5 * 60);
    /// A third of the default lease: two heartbeats may be missed before it runs out.
    pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
    /// Every heartbeat of every agent is a write to the database.
    pub const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
}

impl fmt::Display for ClusterSettings {
    /// `postgres://flowstate:***@db/flowstate, location eu, quorum 2, lease 15s, heartbeat 5s`
    /// (then `, agent_id x` when one is set): what `flowstate check` may print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, ", self.url.shown())?;
        match &self.location {
            Some(location) => write!(f, "location {location}")?,
            None => f.write_str("location not set (--location or $FLOWSTATE_LOCATION)")?,
        }
        write!(
            f,
            ", quorum {}, lease {}, heartbeat {}",
            self.quorum,
            humantime::format_duration(self.lease),
            humantime::format_duration(self.heartbeat)
        )?;
        if let Some(id) = &self.agent_id {
            write!(f, ", agent_id {id}")?;
        }
        Ok(())
    }
}

/// Whether `name` may name a location: 1 to [`MAX_LOCATION_LEN`] lowercase ASCII letters,
/// digits and `-` (`eu`, `us-east-1`), so it is the same in a metric label, a URL and a
/// database row, and `EU` and `eu` are never two locations.
pub fn is_location_name(name: &str) -> bool {
    (1..=MAX_LOCATION_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What is wrong with a location name, `shown` as the message may quote it; with a
/// suggestion when lowercasing it would do.
fn location_name_error(name: &str, shown: &str, may_suggest: bool) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let hint = if may_suggest && lower != name && is_location_name(&lower) {
        format!("; did you mean `{lower}`?")
    } else {
        String::new()
    };
    format!(
        "{shown} is not a location name: use 1 to {MAX_LOCATION_LEN} lowercase letters, digits and `-`, e.g. `eu-west`{hint}"
    )
}

/// Where the `cluster` section is, for errors found after loading ([`Config::with_location`]).
#[derive(Debug, Clone)]
pub(crate) struct ClusterPlace {
    pub file: Arc<Path>,
    /// The `cluster` key and the `quorum` value; only looked up when `location` was not
    /// written (finding positions parses the file again: a large file is spared that).
    pub section: Option<Position>,
    pub quorum: Option<Position>,
}

/// Reads `cluster`; `None` after reporting its errors.
pub(crate) fn read_cluster(
    reader: &mut Reader,
    file: &Arc<Path>,
    node: &Node,
) -> Option<(ClusterSettings, ClusterPlace)> {
    let fields = reader.fields(node, CLUSTER_KEYS)?;
    // Every key is read before giving up, so each one's error is reported in the same pass.
    let url = match fields.get("url") {
        Some(n) => crate::validate::read_database_url(reader, &n),
        None => {
            reader.semantic_error(
                node,
                "missing `url`: the PostgreSQL database the agents share, e.g. `url: postgres://flowstate:${PG_PASSWORD}@db:5432/flowstate`",
            );
            None
        }
    };
    let location = match fields.get("location") {
        None => Some(None),
        Some(n) => read_own_location(reader, &n),
    };
    let quorum_node = fields.get("quorum");
    let quorum = match &quorum_node {
        None => Some(ClusterSettings::DEFAULT_QUORUM),
        Some(n) => reader
            .count(n, 1, u64::from(ClusterSettings::MAX_QUORUM))
            .map(|q| q as u32),
    };
    let lease_node = fields.get("lease");
    let lease = match &lease_node {
        None => Some(ClusterSettings::DEFAULT_LEASE),
        Some(n) => read_lease(reader, n),
    };
    let heartbeat_node = fields.get("heartbeat");
    let heartbeat = match &heartbeat_node {
        None => Some(ClusterSettings::DEFAULT_HEARTBEAT),
        Some(n) => read_heartbeat(reader, n),
    };
    let agent_id = match fields.get("agent_id") {
        None => Some(None),
        Some(n) => read_agent_id(reader, &n),
    };
    let (lease, heartbeat) = (lease?, heartbeat?);
    if heartbeat * 2 >= lease {
        // The defaults fit, so one of the two was written: point at the heartbeat if it was.
        if let Some(n) = heartbeat_node.as_ref().or(lease_node.as_ref()) {
            reader.semantic_error(
                n,
                format!(
                    "heartbeat ({}) must be less than half of lease ({}), so a leader that misses one heartbeat still holds its lease; lower heartbeat, or raise lease to more than {}",
                    humantime::format_duration(heartbeat),
                    humantime::format_duration(lease),
                    humantime::format_duration(heartbeat * 2)
                ),
            );
        }
        return None;
    }
    let location = location?;
    let place = ClusterPlace {
        file: file.clone(),
        section: location
            .is_none()
            .then(|| reader.key_position(node))
            .flatten(),
        quorum: match (&location, &quorum_node) {
            (None, Some(n)) => reader.value_position(n),
            _ => None,
        },
    };
    let settings = ClusterSettings {
        url: url?,
        location,
        quorum: quorum?,
        lease,
        heartbeat,
        agent_id: agent_id?,
    };
    Some((settings, place))
}

/// `cluster.location`: a location name, or nothing (an empty value, such as an unset
/// `${FLOWSTATE_LOCATION:-}`, leaves it to the command line).
fn read_own_location(reader: &mut Reader, node: &Node) -> Option<Option<Arc<str>>> {
    let text = reader.text(node)?;
    if text.value.is_empty() {
        return Some(None);
    }
    if !is_location_name(&text.value) {
        let message = location_name_error(&text.value, &shown(&text), !text.substituted);
        reader.semantic_error(node, message);
        return None;
    }
    Some(Some(Arc::from(text.value.as_str())))
}

fn read_lease(reader: &mut Reader, node: &Node) -> Option<Duration> {
    let lease = reader.duration(node)?;
    if (ClusterSettings::MIN_LEASE..=ClusterSettings::MAX_LEASE).contains(&lease) {
        return Some(lease);
    }
    let written = reader.text(node).map(|t| shown(&t)).unwrap_or_default();
    reader.semantic_error(
        node,
        format!(
            "lease must be between 3s and 5m, found {written}: it is how long a leader that stops renewing its lease stays leader before another agent takes over"
        ),
    );
    None
}

fn read_heartbeat(reader: &mut Reader, node: &Node) -> Option<Duration> {
    let heartbeat = reader.duration(node)?;
    if heartbeat >= ClusterSettings::MIN_HEARTBEAT {
        return Some(heartbeat);
    }
    let written = reader.text(node).map(|t| shown(&t)).unwrap_or_default();
    reader.semantic_error(
        node,
        format!(
            "heartbeat must be at least 1s, found {written}: every heartbeat of every agent is a write to the database"
        ),
    );
    None
}

/// `cluster.agent_id`: any name without spaces or control characters; empty means "derive it".
fn read_agent_id(reader: &mut Reader, node: &Node) -> Option<Option<Arc<str>>> {
    let id = reader.string(node)?;
    if id.is_empty() {
        return Some(None);
    }
    if id.chars().count() > MAX_AGENT_ID_LEN
        || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        reader.semantic_error(
            node,
            format!(
                "an agent id is 1 to {MAX_AGENT_ID_LEN} characters without spaces or control characters, e.g. `agent_id: ${{HOSTNAME}}`; remove agent_id to derive it from the host name"
            ),
        );
        return None;
    }
    Some(Some(Arc::from(id.as_str())))
}

/// `locations` of a host or of `defaults`: location names, each once, at least one (a single
/// name stands for a list of one). Sorted, so the order they are written in is no change.
pub(crate) fn read_locations(reader: &mut Reader, node: &Node) -> Option<Vec<Arc<str>>> {
    let items = reader.one_or_many(node);
    if items.is_empty() {
        reader.semantic_error(
            node,
            "the list is empty; name the locations that check the host, e.g. `locations: [eu, us]`, or remove `locations` to check it in every location",
        );
        return None;
    }
    let mut names: Vec<Arc<str>> = Vec::with_capacity(items.len());
    let mut all_read = true;
    for item in items {
        let Some(text) = reader.text(&item) else {
            all_read = false;
            continue;
        };
        if !is_location_name(&text.value) {
            let message = location_name_error(&text.value, &shown(&text), !text.substituted);
            reader.semantic_error(&item, message);
            all_read = false;
        } else if names.iter().any(|n| **n == *text.value) {
            reader.semantic_error(
                &item,
                format!("{} is listed twice; list each location once", shown(&text)),
            );
            all_read = false;
        } else {
            names.push(Arc::from(text.value.as_str()));
        }
    }
    names.sort();
    all_read.then_some(names)
}

/// Why `quorum` cannot be reached with the locations `known`, if it cannot; `own_unknown`
/// when this agent's location is still to come (it may add one).
pub(crate) fn quorum_error(
    quorum: u32,
    known: &BTreeSet<Arc<str>>,
    own_unknown: bool,
) -> Option<String> {
    let most = known.len() + usize::from(own_unknown);
    if quorum as usize <= most {
        return None;
    }
    let mut names: Vec<&str> = known.iter().map(|l| &**l).collect();
    if own_unknown {
        names.push("this agent's own");
    }
    let listed = match names.split_last() {
        None => String::new(),
        Some((last, [])) => format!(": {last}"),
        Some((last, rest)) if own_unknown => format!(": {} and {last}", rest.join(", ")),
        Some(_) => format!(": {}", names.join(", ")),
    };
    Some(format!(
        "quorum ({quorum}) is more than the number of locations ({}{most}{listed}), so no host could be seen failing in {quorum} locations; lower quorum, or name the locations in `locations` (in `defaults` for every host)",
        if own_unknown { "at most " } else { "" },
    ))
}

/// Every location in `defaults`, in `host_locations` and `own`.
pub(crate) fn known_locations<'a>(
    defaults: Option<&'a [Arc<str>]>,
    host_locations: impl IntoIterator<Item = &'a [Arc<str>]>,
    own: Option<&'a Arc<str>>,
) -> BTreeSet<Arc<str>> {
    defaults
        .into_iter()
        .chain(host_locations)
        .flatten()
        .chain(own)
        .cloned()
        .collect()
}

impl Config {
    /// Every location the configuration names: in the `locations` of hosts and `defaults`, and
    /// this agent's own (`cluster.location`). Empty without `cluster`. Hosts without
    /// `locations` are checked in these and in any other location an agent runs in.
    pub fn locations(&self) -> BTreeSet<Arc<str>> {
        let own = self.cluster.as_ref().and_then(|c| c.location.as_ref());
        known_locations(
            self.defaults.locations.as_deref(),
            self.hosts().iter().filter_map(|h| h.locations.as_deref()),
            own,
        )
    }

    /// This configuration with this agent's location settled: `location` (from `--location`,
    /// else `$FLOWSTATE_LOCATION`, as the command line resolved them; empty counts as not
    /// given) replaces `cluster.location`, and then a location is required and `quorum` is
    /// checked against the locations it makes. Without `cluster` the configuration is
    /// returned as it is, whatever `location` says.
    ///
    /// `flowstate run` calls this on every configuration it loads, reloads included: a
    /// reloaded configuration without the same location would differ from the running one
    /// in `cluster.location`, which cannot change while running.
    pub fn with_location(mut self, location: Option<&str>) -> Result<Config, ConfigError> {
        let (Some(cluster), Some(place)) = (&mut self.cluster, &self.cluster_place) else {
            return Ok(self);
        };
        let error = |path: &str, position: Option<Position>, message: String| ConfigError {
            diagnostics: vec![Diagnostic::new(&place.file, path, message).at(position)],
        };
        if let Some(given) = location.filter(|l| !l.is_empty()) {
            if !is_location_name(given) {
                let shown = format!("`{given}` (from --location or $FLOWSTATE_LOCATION)");
                return Err(error(
                    "cluster.location",
                    None,
                    location_name_error(given, &shown, true),
                ));
            }
            cluster.location = Some(Arc::from(given));
        }
        let Some(own) = &cluster.location else {
            return Err(error(
                "cluster",
                place.section,
                "this agent's location is not set; give it as `cluster.location`, with `--location`, or in `$FLOWSTATE_LOCATION` (a name such as `eu`)".to_string(),
            ));
        };
        let (quorum, own) = (cluster.quorum, own.clone());
        let known = known_locations(
            self.defaults.locations.as_deref(),
            self.hosts.iter().filter_map(|h| h.locations.as_deref()),
            Some(&own),
        );
        if let Some(message) = quorum_error(quorum, &known, false) {
            return Err(error("cluster.quorum", place.quorum, message));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_names_are_short_lowercase_words() {
        for good in ["eu", "us-east-1", "a", "0", &"x".repeat(MAX_LOCATION_LEN)] {
            assert!(is_location_name(good), "{good}");
        }
        for bad in [
            "",
            "EU",
            "eu west",
            "eu_west",
            "é",
            &"x".repeat(MAX_LOCATION_LEN + 1),
        ] {
            assert!(!is_location_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_quorum_error_names_both_numbers_and_the_locations() {
        let known: BTreeSet<Arc<str>> = ["eu", "us"].into_iter().map(Arc::from).collect();
        assert_eq!(quorum_error(2, &known, false), None);
        assert_eq!(quorum_error(3, &known, true), None);
        let message = quorum_error(3, &known, false).unwrap();
        assert!(
            message.starts_with("quorum (3) is more than the number of locations (2: eu, us)"),
            "{message}"
        );
        let message = quorum_error(4, &known, true).unwrap();
        assert!(
            message.contains("(at most 3: eu, us and this agent's own)"),
            "{message}"
        );
        let message = quorum_error(2, &BTreeSet::new(), true).unwrap();
        assert!(
            message.contains("(at most 1: this agent's own)"),
            "{message}"
        );
    }
}
