//! Silences: alerts of some hosts muted until a time, made at run time by people (API or
//! `flowstate silence`) for what the configuration cannot foresee: a deploy, a host being
//! rebuilt, a known outage of a supplier.
//!
//! A silence names hosts by label or by glob (`db-*`) and ends at `until`. The
//! [`SilenceBook`] holds them in memory, shared by the API (which changes it) and the
//! AlertRouter (which asks [`SilenceBook::active_for`] about every alert event). With a state
//! store every change is written there first, so a restart keeps them and a change the store
//! refused is refused to its author too. A silence that has ended is simply not active: it is
//! dropped from the book and the store when next convenient, never relied on to be gone.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use glob::{MatchOptions, Pattern, PatternError};
use serde::{Deserialize, Serialize};

/// A mute of the alerts of `hosts` until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// A ULID: unique, and sortable by creation.
    pub id: String,
    /// Labels, or globs such as `db-*` (which may match no host, or hosts added later).
    pub hosts: Vec<String>,
    /// When it ends; from then on it mutes nothing.
    #[serde(with = "crate::model::rfc3339_serde")]
    pub until: SystemTime,
    /// Why, for whoever wonders later why an outage went unannounced.
    pub comment: String,
    #[serde(with = "crate::model::rfc3339_serde")]
    pub created_at: SystemTime,
}

impl Silence {
    /// A new silence made at `now`.
    pub fn new(hosts: Vec<String>, until: SystemTime, comment: String, now: SystemTime) -> Self {
        Silence {
            id: ulid::Ulid::from_datetime(now).to_string(),
            hosts,
            until,
            comment,
            created_at: now,
        }
    }

    /// Whether it still mutes at `now`: it ends at `until`, exclusive.
    pub fn is_active(&self, now: SystemTime) -> bool {
        now < self.until
    }
}

/// How globs match labels: `*` also crosses `/` (so `team-a/*` is a whole tenant) and a
/// leading dot, and case counts, as it does for labels everywhere else.
const MATCHING: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// One entry of a silence's `hosts`, ready to match labels.
#[derive(Debug, Clone)]
pub struct HostPattern {
    text: String,
    /// `None` for a plain label. A label may itself contain `*`: the text is also compared
    /// as it is, so such a host is matched by its own label.
    glob: Option<Pattern>,
}

impl HostPattern {
    /// Whether `text` is meant as a glob rather than a label.
    pub fn is_glob(text: &str) -> bool {
        text.contains(['*', '?', '['])
    }

    /// `text` as a label or, when it has glob characters, a glob; a glob that does not parse
    /// is refused with the reason.
    pub fn parse(text: &str) -> Result<HostPattern, PatternError> {
        let glob = if Self::is_glob(text) {
            Some(Pattern::new(text)?)
        } else {
            None
        };
        Ok(HostPattern {
            text: text.to_string(),
            glob,
        })
    }

    /// `text` as [`HostPattern::parse`] reads it, or as a plain label when it is not a valid
    /// glob: for what the store held, which must not stop a silence from muting its labels.
    fn lenient(text: &str) -> HostPattern {
        HostPattern::parse(text).unwrap_or_else(|_| HostPattern {
            text: text.to_string(),
            glob: None,
        })
    }

    pub fn matches(&self, label: &str) -> bool {
        self.text == label
            || self
                .glob
                .as_ref()
                .is_some_and(|glob| glob.matches_with(label, MATCHING))
    }
}

/// A silence with its hosts compiled once, since they are matched on every alert event.
#[derive(Debug, Clone)]
struct Entry {
    silence: Silence,
    patterns: Vec<HostPattern>,
}

impl Entry {
    fn new(silence: Silence) -> Entry {
        let patterns = silence
            .hosts
            .iter()
            .map(|h| HostPattern::lenient(h))
            .collect();
        Entry { silence, patterns }
    }

    fn matches(&self, label: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(label))
    }
}

/// Every silence, oldest first, shared by the API and the AlertRouter. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct SilenceBook(Arc<RwLock<Vec<Entry>>>);

impl SilenceBook {
    /// A book holding `restored` (as the store kept them; ended ones are harmless).
    pub fn new(restored: Vec<Silence>) -> Self {
        let mut entries: Vec<Entry> = restored.into_iter().map(Entry::new).collect();
        entries.sort_by(|a, b| a.silence.id.cmp(&b.silence.id));
        SilenceBook(Arc::new(RwLock::new(entries)))
    }

    /// The silences still active at `now`, oldest first.
    pub fn list(&self, now: SystemTime) -> Vec<Silence> {
        self.0
            .read()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.silence.is_active(now))
                    .map(|e| e.silence.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The silence `id` if it is still active at `now`.
    pub fn get(&self, id: &str, now: SystemTime) -> Option<Silence> {
        self.0.read().ok().and_then(|entries| {
            entries
                .iter()
                .find(|e| e.silence.id == id && e.silence.is_active(now))
                .map(|e| e.silence.clone())
        })
    }

    /// A silence active at `now` that mutes host `label`; of several, the one that ends last
    /// (what an alert suppressed by it should name). Called for every alert event: a read
    /// lock and a walk over the few silences there are, with their globs compiled.
    pub fn active_for(&self, label: &str, now: SystemTime) -> Option<Silence> {
        let entries = self.0.read().ok()?;
        entries
            .iter()
            .filter(|e| e.silence.is_active(now) && e.matches(label))
            .max_by_key(|e| e.silence.until)
            .map(|e| e.silence.clone())
    }

    /// Adds `silence`, or replaces the one with its id.
    pub fn insert(&self, silence: Silence) {
        if let Ok(mut entries) = self.0.write() {
            let entry = Entry::new(silence);
            match entries
                .iter_mut()
                .find(|e| e.silence.id == entry.silence.id)
            {
                Some(existing) => *existing = entry,
                None => {
                    entries.push(entry);
                    entries.sort_by(|a, b| a.silence.id.cmp(&b.silence.id));
                }
            }
        }
    }

    /// Removes the silence `id`; whether it was there (active or not).
    pub fn remove(&self, id: &str) -> bool {
        match self.0.write() {
            Ok(mut entries) => {
                let before = entries.len();
                entries.retain(|e| e.silence.id != id);
                entries.len() != before
            }
            Err(_) => false,
        }
    }

    /// Removes the silences that ended before `cutoff` and returns them, so their caller can
    /// delete them from the store too. Ended silences are kept until then: the time they
    /// covered is left out of availability.
    pub fn drop_ended_before(&self, cutoff: SystemTime) -> Vec<Silence> {
        let Ok(mut entries) = self.0.write() else {
            return Vec::new();
        };
        if entries.iter().all(|e| e.silence.until >= cutoff) {
            return Vec::new();
        }
        let (kept, ended): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut *entries)
            .into_iter()
            .partition(|e| e.silence.until >= cutoff);
        *entries = kept;
        ended.into_iter().map(|e| e.silence).collect()
    }

    /// When silences muted host `label` within `[from, to)`, ended ones included.
    pub fn periods_for(
        &self,
        label: &str,
        from: SystemTime,
        to: SystemTime,
    ) -> Vec<(SystemTime, SystemTime)> {
        let Ok(entries) = self.0.read() else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|e| e.silence.created_at < to && e.silence.until > from && e.matches(label))
            .map(|e| (e.silence.created_at.max(from), e.silence.until.min(to)))
            .collect()
    }
}

/// How long a silence is kept after it ended: the longest availability window it can be left
/// out of (a year), after which it is deleted.
pub const ENDED_KEPT: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn silence(hosts: &[&str], made: u64, until: u64) -> Silence {
        Silence::new(
            hosts.iter().map(|h| h.to_string()).collect(),
            at(until),
            "deploy".into(),
            at(made),
        )
    }

    #[test]
    fn labels_match_exactly_and_globs_by_pattern() {
        let label = HostPattern::parse("api").unwrap();
        assert!(label.matches("api"));
        assert!(!label.matches("api-2"));
        let glob = HostPattern::parse("db-*").unwrap();
        assert!(glob.matches("db-primary") && glob.matches("db-"));
        assert!(!glob.matches("DB-primary"), "case counts, as for labels");
        assert!(HostPattern::parse("team-a/*")
            .unwrap()
            .matches("team-a/db-1"));
        assert!(HostPattern::parse("db-[").is_err());
        // A host whose label has glob characters is matched by its label.
        assert!(HostPattern::parse("a[1]").unwrap().matches("a[1]"));
    }

    #[test]
    fn a_silence_mutes_its_hosts_until_it_ends() {
        let book = SilenceBook::new(vec![silence(&["api", "db-*"], 0, 100)]);
        assert!(book.active_for("api", at(50)).is_some());
        assert!(book.active_for("db-primary", at(99)).is_some());
        assert!(book.active_for("www", at(50)).is_none());
        assert!(book.active_for("api", at(100)).is_none(), "ended at until");
        assert!(book.list(at(100)).is_empty());
    }

    #[test]
    fn of_several_silences_the_one_ending_last_is_named() {
        let short = silence(&["api"], 0, 100);
        let long = silence(&["*"], 1, 500);
        let book = SilenceBook::new(vec![long.clone(), short.clone()]);
        assert_eq!(book.active_for("api", at(10)), Some(long.clone()));
        let ids: Vec<String> = book.list(at(10)).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, [short.id.clone(), long.id.clone()], "oldest first");
        assert_eq!(book.get(&short.id, at(10)), Some(short.clone()));
        assert_eq!(book.get(&short.id, at(200)), None, "ended");
    }

    #[test]
    fn ended_silences_are_kept_for_availability_then_dropped_and_handed_back() {
        let ended = silence(&["api"], 0, 100);
        let active = silence(&["db"], 1, 500);
        let book = SilenceBook::new(vec![ended.clone(), active.clone()]);
        assert_eq!(
            book.periods_for("api", at(50), at(1000)),
            [(at(50), at(100))]
        );
        assert!(book.periods_for("www", at(0), at(1000)).is_empty());
        assert_eq!(book.drop_ended_before(at(200)), vec![ended.clone()]);
        assert!(book.drop_ended_before(at(200)).is_empty());
        assert!(!book.remove(&ended.id), "already gone");
        assert!(book.remove(&active.id));
        assert!(book.list(at(0)).is_empty());
    }

    #[test]
    fn insert_adds_or_replaces_by_id() {
        let book = SilenceBook::default();
        let mut first = silence(&["api"], 0, 100);
        book.insert(first.clone());
        first.hosts = vec!["www".into()];
        book.insert(first.clone());
        assert_eq!(book.list(at(1)), [first]);
        assert!(book.active_for("api", at(1)).is_none());
        assert!(book.active_for("www", at(1)).is_some());
    }

    #[test]
    fn a_silence_is_json_with_rfc3339_times() {
        let made = silence(&["api"], 0, 7200);
        let json = serde_json::to_value(&made).unwrap();
        assert_eq!(json["until"], "2027-01-15T10:00:00.000Z");
        assert_eq!(json["created_at"], "2027-01-15T08:00:00.000Z");
        assert_eq!(json["hosts"], serde_json::json!(["api"]));
        assert_eq!(serde_json::from_value::<Silence>(json).unwrap(), made);
    }
}
