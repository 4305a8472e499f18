//! Every host's availability over 24 h, 7 d and 30 d, kept in memory for `/api/v1/hosts`.
//!
//! Computing it reads 30 days of transitions of every host: far too much for each request of
//! a dashboard that polls 10 000 hosts every few seconds. So a task asks the
//! [`StoreReader`](crate::store::reader::StoreReader) at start and then every
//! [`REFRESH_EVERY`], and the API only reads the last answer. A figure over a day does not
//! move visibly in 30 s.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use actix::prelude::*;

use crate::store::reader::{Availabilities, GetAvailabilities};

/// How often the figures are computed again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Every host's availabilities by label, as last computed.
pub type AvailabilityMap = HashMap<Arc<str>, Availabilities>;

/// The last computed figures, shared by the refreshing task (which replaces them whole) and
/// the API (which reads them).
#[derive(Clone, Default)]
pub struct AvailabilityCache {
    /// Replaced whole under a write lock held for one pointer swap; a reader clones the `Arc`
    /// and lets go at once, so a request never waits behind a computation.
    current: Arc<RwLock<Arc<AvailabilityMap>>>,
}

impl AvailabilityCache {
    /// The figures as last computed (empty before the first answer).
    pub fn snapshot(&self) -> Arc<AvailabilityMap> {
        // Only a pointer swap is done under the lock: a poisoned one still holds a whole map.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, figures: AvailabilityMap) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(figures);
    }
}

/// Fills `cache` from `reader` at once and then every [`REFRESH_EVERY`], from a task on
/// `arbiter`. One question at a time: a slow store delays the next instead of piling them up.
pub fn start_refresher(
    reader: Recipient<GetAvailabilities>,
    cache: AvailabilityCache,
    arbiter: &ArbiterHandle,
) {
    arbiter.spawn(async move {
        let mut ticks = actix_rt::time::interval(REFRESH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Said once when the store stops answering and once when it answers again, not every
        // 30 s in between.
        let mut failing = false;
        loop {
            ticks.tick().await;
            if !reader.connected() {
                break;
            }
            let asked = reader
                .send(GetAvailabilities {
                    now: SystemTime::now(),
                })
                .await;
            match asked {
                Ok(Ok(figures)) => {
                    cache.replace(figures);
                    if std::mem::take(&mut failing) {
                        log::info!("availability figures are computed again");
                    }
                }
                Ok(Err(e)) => {
                    if !std::mem::replace(&mut failing, true) {
                        log::warn!(error = e.to_string().as_str(); "cannot compute availability for /api/v1/hosts; showing the last figures and trying again every 30s");
                    }
                }
                // The reader is gone: the system is stopping.
                Err(_) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_keeps_the_figures_it_was_taken_with() {
        let cache = AvailabilityCache::default();
        assert!(cache.snapshot().is_empty());
        let label: Arc<str> = Arc::from("api");
        cache.replace(HashMap::from([(label.clone(), [Some(1.0), None, None])]));
        let before = cache.snapshot();
        cache.replace(HashMap::new());
        assert_eq!(before.get("api"), Some(&[Some(1.0), None, None]));
        assert!(cache.snapshot().is_empty());
    }
}
