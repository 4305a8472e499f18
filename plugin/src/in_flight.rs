//! The bound on requests handled at once: a counting semaphore on a mutex and a condvar
//! (std has none). The runner takes a slot before it starts a request's thread and the
//! thread gives it back when its answer is written, even if the handler panicked.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Free places for requests in flight.
pub(crate) struct Slots {
    free: Mutex<usize>,
    /// Signalled when a slot is given back, to wake the reader waiting for one.
    given_back: Condvar,
}

impl Slots {
    pub(crate) fn new(count: usize) -> Self {
        Slots {
            free: Mutex::new(count.max(1)),
            given_back: Condvar::new(),
        }
    }

    /// Waits for a free slot and takes it; dropping the [`Slot`] gives it back.
    pub(crate) fn acquire(&self) -> Slot<'_> {
        let mut free = self.lock();
        while *free == 0 {
            free = self
                .given_back
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot { slots: self }
    }

    // The count stays right whatever panicked while holding the lock (nothing can between
    // reading and writing it), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One request's place; given back on drop.
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.slots.lock() += 1;
        self.slots.given_back.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;
    use std::time::Duration;

    #[test]
    fn a_full_set_waits_until_a_slot_is_given_back() {
        let slots = Slots::new(1);
        let released = AtomicBool::new(false);
        thread::scope(|scope| {
            let first = slots.acquire();
            scope.spawn(|| {
                thread::sleep(Duration::from_millis(50));
                released.store(true, Ordering::SeqCst);
                drop(first);
            });
            let _second = slots.acquire();
            assert!(
                released.load(Ordering::SeqCst),
                "took a slot that was not free"
            );
        });
    }
}
