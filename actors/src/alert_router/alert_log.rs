//! The alert log's lines on their way to the state store: one message with the store at a
//! time, however many lines wait.
//!
//! Every attempt adds a line (sent, failed, given up). Sent as one message each, a tenant whose
//! receiver refuses connections filled the store's mailbox with thousands of one-row
//! transactions a second, and another tenant's event, which is stored before its first
//! attempt, waited behind all of them. Lines now wait here while one batch is with the store
//! and go together when it answered, at most [`MAX_BATCH`] at once so that no single
//! transaction holds the store for long either. The log is for people: a line may be late by
//! one batch, never an alert.

use std::collections::VecDeque;

use crate::store::AlertLogEntry;

/// The most lines one message to the store carries.
pub const MAX_BATCH: usize = 500;

/// Lines not written yet, and whether a batch of them is with the store.
#[derive(Debug, Default)]
pub struct AlertLogQueue {
    waiting: VecDeque<AlertLogEntry>,
    sending: bool,
}

impl AlertLogQueue {
    pub fn push(&mut self, entry: AlertLogEntry) {
        self.waiting.push_back(entry);
    }

    /// The next batch to send, oldest first, unless one is with the store or none waits.
    /// The caller sends it and calls [`AlertLogQueue::answered`] when the store answered.
    pub fn take_batch(&mut self) -> Option<Vec<AlertLogEntry>> {
        if self.sending || self.waiting.is_empty() {
            return None;
        }
        self.sending = true;
        let n = self.waiting.len().min(MAX_BATCH);
        Some(self.waiting.drain(..n).collect())
    }

    /// The store answered the batch it had (written or not: the store logged a failure).
    pub fn answered(&mut self) {
        self.sending = false;
    }

    /// Every line still waiting, for the last message at shutdown.
    pub fn take_all(&mut self) -> Vec<AlertLogEntry> {
        self.waiting.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;
    use crate::event::EventKind;
    use crate::store::AlertOutcome;

    fn line(n: usize) -> AlertLogEntry {
        AlertLogEntry {
            at: SystemTime::UNIX_EPOCH,
            host: format!("h{n}"),
            notifier: Arc::from("hook"),
            event: EventKind::Down,
            event_id: n.to_string(),
            outcome: AlertOutcome::Failed,
            detail: "connection refused".into(),
        }
    }

    #[test]
    fn one_batch_at_a_time_of_at_most_max_batch_lines_oldest_first() {
        let mut queue = AlertLogQueue::default();
        assert_eq!(queue.take_batch(), None, "nothing waits");
        for n in 0..MAX_BATCH + 2 {
            queue.push(line(n));
        }
        let first = queue.take_batch().expect("a batch");
        assert_eq!(first.len(), MAX_BATCH);
        assert_eq!(first[0].event_id, "0");
        queue.push(line(9999));
        assert_eq!(queue.take_batch(), None, "the first is with the store");
        queue.answered();
        let second = queue.take_batch().expect("the rest");
        let ids: Vec<&str> = second.iter().map(|l| l.event_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                &*MAX_BATCH.to_string(),
                &*(MAX_BATCH + 1).to_string(),
                "9999"
            ]
        );
        queue.answered();
        assert_eq!(queue.take_batch(), None);
    }

    #[test]
    fn at_shutdown_every_waiting_line_is_taken_even_with_a_batch_out() {
        let mut queue = AlertLogQueue::default();
        queue.push(line(0));
        assert!(queue.take_batch().is_some());
        queue.push(line(1));
        queue.push(line(2));
        assert_eq!(queue.take_all().len(), 2);
        assert!(queue.take_all().is_empty());
    }
}
