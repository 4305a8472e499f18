//! What became of the spans flowstate made: exported, or dropped and why. Process-wide, so
//! the counts carry on across a pipeline replaced by a reload; `/metrics` reads them.

use std::sync::atomic::{AtomicU64, Ordering};

static EXPORTED: AtomicU64 = AtomicU64::new(0);
static DROPPED_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
static DROPPED_EXPORT_FAILED: AtomicU64 = AtomicU64::new(0);
static EXPORT_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Why a span never reached the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue to the exporter was full: the collector is slower than the checks.
    QueueFull,
    /// The export of its batch failed (collector down, refused, timed out).
    ExportFailed,
}

impl DropReason {
    pub const ALL: [DropReason; 2] = [DropReason::QueueFull, DropReason::ExportFailed];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::ExportFailed => "export_failed",
        }
    }
}

/// A snapshot of the counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanCounts {
    pub exported: u64,
    pub dropped_queue_full: u64,
    pub dropped_export_failed: u64,
    pub export_failures: u64,
}

impl SpanCounts {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::QueueFull => self.dropped_queue_full,
            DropReason::ExportFailed => self.dropped_export_failed,
        }
    }
}

pub fn counts() -> SpanCounts {
    SpanCounts {
        exported: EXPORTED.load(Ordering::Relaxed),
        dropped_queue_full: DROPPED_QUEUE_FULL.load(Ordering::Relaxed),
        dropped_export_failed: DROPPED_EXPORT_FAILED.load(Ordering::Relaxed),
        export_failures: EXPORT_FAILURES.load(Ordering::Relaxed),
    }
}

pub(crate) fn exported(spans: usize) {
    EXPORTED.fetch_add(spans as u64, Ordering::Relaxed);
}

pub(crate) fn dropped(reason: DropReason, spans: usize) {
    let counter = match reason {
        DropReason::QueueFull => &DROPPED_QUEUE_FULL,
        DropReason::ExportFailed => {
            EXPORT_FAILURES.fetch_add(1, Ordering::Relaxed);
            &DROPPED_EXPORT_FAILED
        }
    };
    counter.fetch_add(spans as u64, Ordering::Relaxed);
}
