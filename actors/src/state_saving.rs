//! Saving host state to the state store in batches: which hosts changed, which results are not
//! saved yet, which hosts to forget, and one batch in flight at a time.
//!
//! Writing each result on its own would cost a transaction per check; instead the registry
//! marks what changed and, every `SAVE_EVERY`, sends it all as one batch. A batch that fails
//! is merged back and saved with the next one, so a store that is down for a while loses
//! nothing but the oldest results beyond `MAX_UNSAVED_RESULTS`.
//!
//! A batch holds at most [`MAX_BATCH_ROWS`] results, as many transitions and as many hosts;
//! when more than that waits, the next batch goes as soon as the store answered. The store is one writer shared by every
//! tenant and by the alert outbox, which stores each event before its first attempt: one
//! transaction with the results of thousands of failing hosts held every other tenant's alert
//! behind it (100 to 200 ms on a busy machine), where a batch of this size holds it for a few.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::messages::SaveChangedState;
use crate::metrics::Metrics;
use crate::model::Transition;
use crate::model::{CheckResult, Host};
use crate::store::{
    HostStatesSaved, SaveHostStates, Store, StoreRecreated, StoredHost, StoredResult,
    StoredTransition, SubscribeToStore,
};

/// How often changed host state is written to the state store: one transaction per second
/// however many hosts there are.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The most results (and the most transitions, and hosts) one batch writes: a transaction
/// short enough that an alert waiting to be stored behind it is not held up noticeably.
pub const MAX_BATCH_ROWS: usize = 256;

/// Results waiting for the store are capped, so a store that stays down does not grow memory
/// without end (the counters and status are still saved once it is back).
const MAX_UNSAVED_RESULTS: usize = 200_000;

/// What of the hosts' state the store does not have yet.
pub struct StateSaving {
    /// Where state is saved (`state.path`).
    store: Addr<Store>,
    /// Hosts changed since the last save: their counters and status go in the next batch.
    dirty: HashSet<Arc<str>>,
    /// Results not yet saved, oldest first: appended to the hosts' stored history.
    unsaved_results: Vec<StoredResult>,
    /// Transitions not yet saved, oldest first: what availability is computed from, so they
    /// are never dropped (they are rare; results are capped).
    unsaved_transitions: Vec<StoredTransition>,
    metrics: Arc<Metrics>,
    /// Hosts that left the configuration: their rows are deleted.
    forgotten: Vec<Arc<str>>,
    /// A save is running: the next waits, so batches never pile up behind a slow disk.
    saving: bool,
}

impl StateSaving {
    pub fn new(store: Addr<Store>, metrics: Arc<Metrics>) -> Self {
        StateSaving {
            store,
            dirty: HashSet::new(),
            unsaved_results: Vec::new(),
            unsaved_transitions: Vec::new(),
            metrics,
            forgotten: Vec::new(),
            saving: false,
        }
    }

    /// Asks the store to tell `registry` when its file had to be recreated.
    pub fn subscribe(&self, registry: Recipient<StoreRecreated>) {
        self.store.do_send(SubscribeToStore(registry));
    }

    /// `host` recorded `result`: its counters and the result are saved with the next batch.
    pub fn checked(&mut self, host: &Host, result: &CheckResult) {
        self.dirty.insert(host.label().clone());
        if self.unsaved_results.len() < MAX_UNSAVED_RESULTS {
            self.unsaved_results.push(StoredResult {
                label: host.label().clone(),
                seq: host.state().counters.checks,
                result: result.clone(),
            });
        } else {
            self.metrics.record_store_dropped("result", 1);
        }
    }

    /// `label`'s status changed: the change goes with the next batch.
    pub fn transitioned(&mut self, label: &Arc<str>, transition: &Transition) {
        self.unsaved_transitions.push(StoredTransition {
            label: label.clone(),
            at: transition.at,
            status: transition.status,
            previous: transition.previous,
            reason: transition.reason.clone(),
        });
    }

    /// `label`'s counters changed without a result (a restart).
    pub fn changed(&mut self, label: &Arc<str>) {
        self.dirty.insert(label.clone());
    }

    /// `label` left the configuration (or was only in the store): its rows are deleted.
    pub fn forget(&mut self, label: Arc<str>) {
        self.dirty.remove(&label);
        self.forgotten.push(label);
    }

    /// Every host goes with the next batch, not just the changed ones (shutdown: a batch
    /// still out may yet fail).
    pub fn mark_all(&mut self, hosts: &HashMap<Arc<str>, Host>) {
        self.dirty.extend(hosts.keys().cloned());
    }

    /// The batch of changes since the last save, if anything changed: at most `rows`
    /// results, `rows` transitions (the oldest of each) and `rows` hosts; the rest stays for
    /// the next batch.
    pub fn take_batch(
        &mut self,
        hosts: &HashMap<Arc<str>, Host>,
        rows: usize,
    ) -> Option<SaveHostStates> {
        // Results may be left without a changed host: an earlier batch took the host but
        // not all of its results.
        if self.dirty.is_empty()
            && self.forgotten.is_empty()
            && self.unsaved_transitions.is_empty()
            && self.unsaved_results.is_empty()
        {
            return None;
        }
        let labels: Vec<Arc<str>> = self.dirty.iter().take(rows).cloned().collect();
        let hosts = labels
            .into_iter()
            .filter_map(|label| {
                self.dirty.remove(&label);
                hosts.get(&label).map(StoredHost::from)
            })
            .collect();
        let results = self
            .unsaved_results
            .drain(..rows.min(self.unsaved_results.len()))
            .collect();
        Some(SaveHostStates {
            hosts,
            results,
            transitions: self
                .unsaved_transitions
                .drain(..rows.min(self.unsaved_transitions.len()))
                .collect(),
            removed: std::mem::take(&mut self.forgotten),
            reply_to: None,
        })
    }

    /// Sends the next batch to the store unless one is still being written; the outcome comes
    /// back to `reply_to` ([`StateSaving::saved`]). With nothing to save, an empty batch still
    /// goes: the store checks on it that its file was not deleted.
    pub fn save(&mut self, hosts: &HashMap<Arc<str>, Host>, reply_to: Recipient<HostStatesSaved>) {
        if self.saving {
            return;
        }
        let mut batch = self.take_batch(hosts, MAX_BATCH_ROWS).unwrap_or_default();
        batch.reply_to = Some(reply_to);
        self.saving = true;
        self.store.do_send(batch);
    }

    /// The store answered a batch: a failed batch's hosts and results are saved again with
    /// the next one. True when a saved batch left more waiting than it could take, which is
    /// to be sent at once rather than at the next tick.
    pub fn saved(&mut self, outcome: HostStatesSaved) -> bool {
        self.saving = false;
        if outcome.saved {
            return self.unsaved_results.len() >= MAX_BATCH_ROWS
                || self.unsaved_transitions.len() >= MAX_BATCH_ROWS
                || self.dirty.len() >= MAX_BATCH_ROWS;
        }
        self.dirty.extend(outcome.hosts);
        self.forgotten.extend(outcome.removed);
        // Older than those gathered since: they go first, and the newest are kept at the cap.
        let mut results = outcome.results;
        results.append(&mut self.unsaved_results);
        let excess = results.len().saturating_sub(MAX_UNSAVED_RESULTS);
        results.drain(..excess);
        if excess > 0 {
            self.metrics.record_store_dropped("result", excess as u64);
        }
        self.unsaved_results = results;
        let mut transitions = outcome.transitions;
        transitions.append(&mut self.unsaved_transitions);
        self.unsaved_transitions = transitions;
        false
    }

    /// The store's file was lost and a new one opened: every host and its whole history go
    /// into it with the next save, not just what changed. Returns how many results that is.
    pub fn refill(&mut self, hosts: &HashMap<Arc<str>, Host>) -> usize {
        let mut results = Vec::new();
        for (label, host) in hosts {
            self.dirty.insert(label.clone());
            results.extend(host.numbered_history().map(|(seq, result)| StoredResult {
                label: label.clone(),
                seq,
                result: result.clone(),
            }));
        }
        let count = results.len();
        // The histories hold every unsaved result that is still kept. The transitions of
        // the lost file are gone with it; unsaved ones still go.
        self.unsaved_results = results;
        self.unsaved_results.truncate(MAX_UNSAVED_RESULTS);
        count
    }

    pub fn store(&self) -> &Addr<Store> {
        &self.store
    }
}

/// Asks `registry` to save what changed every `SAVE_EVERY`, from a task on `arbiter`: a
/// timer inside the registry would be polled with each of its thousands of messages a second.
pub fn start_save_ticker(registry: Recipient<SaveChangedState>, arbiter: &ArbiterHandle) {
    arbiter.spawn(async move {
        let mut ticks = actix_rt::time::interval(SAVE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if !registry.connected() {
                break;
            }
            registry.do_send(SaveChangedState);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::store::sqlite::SqliteBackend;
    use crate::store::temp_db::TempDb;
    use crate::store::Restored;

    fn hosts(n: usize) -> HashMap<Arc<str>, Host> {
        let yaml: String = (0..n)
            .map(|i| format!("  - {{ label: h{i}, url: 'http://127.0.0.1:1/' }}\n"))
            .collect();
        let config = flowstate_config::load_str("t.yaml", &format!("hosts:\n{yaml}"), &|_| None)
            .expect("the test configuration is valid");
        config
            .hosts()
            .iter()
            .map(|h| (h.label.clone(), Host::new(h.clone(), SystemTime::now())))
            .collect()
    }

    fn result() -> CheckResult {
        CheckResult {
            at: SystemTime::now(),
            ok: false,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_millis(1),
            detail: "connection refused".into(),
            perfdata: Vec::new(),
            phases: Vec::new(),
            trace: None,
            status_code: None,
        }
    }

    fn saved() -> HostStatesSaved {
        HostStatesSaved {
            saved: true,
            hosts: Vec::new(),
            removed: Vec::new(),
            results: Vec::new(),
            transitions: Vec::new(),
        }
    }

    /// State saving into a new SQLite store named `name` (kept while the `TempDb` lives).
    fn saving(name: &str) -> (TempDb, StateSaving) {
        let db = TempDb::new(name);
        let metrics = Arc::new(Metrics::new());
        let backend = Box::new(SqliteBackend::new(db.0.clone()));
        let store = Store::start(
            backend,
            &db.settings(),
            SystemTime::now(),
            &Restored::default(),
            metrics.clone(),
        );
        (db, StateSaving::new(store, metrics))
    }

    #[actix_rt::test]
    async fn batches_are_small_and_the_next_goes_at_once_while_more_than_one_waits() {
        let (_db, mut saving) = saving("state-saving-batches");
        let hosts = hosts(600);
        for host in hosts.values() {
            saving.checked(host, &result());
        }
        let first = saving.take_batch(&hosts, MAX_BATCH_ROWS).expect("a batch");
        assert_eq!(
            (first.hosts.len(), first.results.len()),
            (MAX_BATCH_ROWS, MAX_BATCH_ROWS)
        );
        assert!(saving.saved(saved()), "344 wait: the next goes at once");
        let second = saving.take_batch(&hosts, MAX_BATCH_ROWS).expect("a batch");
        assert_eq!(second.results.len(), MAX_BATCH_ROWS);
        assert!(
            !saving.saved(saved()),
            "88 wait: they go with the next tick"
        );
        let third = saving.take_batch(&hosts, MAX_BATCH_ROWS).expect("a batch");
        assert_eq!((third.hosts.len(), third.results.len()), (88, 88));
        assert!(saving.take_batch(&hosts, MAX_BATCH_ROWS).is_none());
    }

    #[actix_rt::test]
    async fn results_left_after_their_host_was_saved_still_go() {
        let (_db, mut saving) = saving("state-saving-left");
        let hosts = hosts(1);
        let host = hosts.values().next().expect("one host");
        saving.checked(host, &result());
        saving.checked(host, &result());
        let first = saving.take_batch(&hosts, 1).expect("a batch");
        assert_eq!((first.hosts.len(), first.results.len()), (1, 1));
        let rest = saving.take_batch(&hosts, 1).expect("the other result");
        assert_eq!((rest.hosts.len(), rest.results.len()), (0, 1));
        assert!(saving.take_batch(&hosts, 1).is_none());
    }
}
