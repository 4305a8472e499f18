//! Saving host state to the state store in batches: which hosts changed, which results are not
//! saved yet, which hosts to forget, and one batch in flight at a time.
//!
//! Writing each result on its own would cost a transaction per check; instead the registry
//! marks what changed and, every `SAVE_EVERY`, sends it all as one batch. A batch that fails
//! is merged back and saved with the next one, so a store that is down for a while loses
//! nothing but the oldest results beyond `MAX_UNSAVED_RESULTS`.
//!
//! A batch holds at most [`MAX_BATCH_ROWS`] results and as many hosts; the rest goes in the
//! next batch, sent as soon as the store answered. The store is one writer shared by every
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

/// The most results (and the most transitions, and hosts) one batch writes: short enough a transaction that
/// an alert waiting to be stored behind it is not held up noticeably.
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
        if self.dirty.is_empty() && self.forgotten.is_empty() && self.unsaved_transitions.is_empty()
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
