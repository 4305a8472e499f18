//! Quiet time: when a host's alerts were held by plan (a maintenance window or a silence).
//!
//! One shared record, read by the AlertRouter (is the host held now?) and by the store's
//! readers (availability leaves the planned time out, SPEC §9 with §7), and changed by a reload
//! (the windows) and the silences API (the book, shared with it).

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use flowstate_config::maintenance::{self, MaintenanceWindow};

use crate::history::Interval;
use crate::silences::SilenceBook;

/// Occurrences looked at per window and question: a window every minute over 30 days is
/// 43 200 of them, and merged they are the same quiet time; past this many the rest of the
/// question's span counts as covered.
const MAX_OCCURRENCES: usize = 5_000;

#[derive(Debug, Default)]
pub struct QuietTime {
    maintenance: RwLock<Vec<Arc<MaintenanceWindow>>>,
    silences: SilenceBook,
}

impl QuietTime {
    pub fn new(maintenance: Vec<Arc<MaintenanceWindow>>, silences: SilenceBook) -> Arc<Self> {
        Arc::new(QuietTime {
            maintenance: RwLock::new(maintenance),
            silences,
        })
    }

    /// A reload changed the windows.
    pub fn set_maintenance(&self, windows: Vec<Arc<MaintenanceWindow>>) {
        if let Ok(mut current) = self.maintenance.write() {
            *current = windows;
        }
    }

    pub fn silences(&self) -> &SilenceBook {
        &self.silences
    }

    /// The window covering `label` open at `now` and when it ends; of several, the one that
    /// ends last.
    pub fn maintenance_at(
        &self,
        label: &str,
        now: SystemTime,
    ) -> Option<(Arc<MaintenanceWindow>, SystemTime)> {
        let windows = self.maintenance.read().ok()?;
        maintenance::window_at(&windows, label, now).map(|(window, end)| (window.clone(), end))
    }

    /// Every window's occurrences and every silence over `span`, worked out once for the
    /// questions about many hosts that follow.
    pub fn plan(&self, span: Interval) -> QuietPlan {
        let windows = self
            .maintenance
            .read()
            .map(|windows| {
                windows
                    .iter()
                    .map(|w| (w.clone(), occurrences(w, span)))
                    .filter(|(_, times)| !times.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        QuietPlan {
            span,
            windows,
            silences: self.silences.clone(),
        }
    }
}

/// The quiet time of every host over one span.
pub struct QuietPlan {
    span: Interval,
    windows: Vec<(Arc<MaintenanceWindow>, Vec<Interval>)>,
    silences: SilenceBook,
}

impl QuietPlan {
    /// When `label` was in maintenance or silenced within the span (may overlap).
    pub fn for_host(&self, label: &str) -> Vec<Interval> {
        let mut quiet: Vec<Interval> = self
            .windows
            .iter()
            .filter(|(w, _)| w.covers(label))
            .flat_map(|(_, times)| times.iter().copied())
            .collect();
        quiet.extend(
            self.silences
                .periods_for(label, self.span.from, self.span.to)
                .into_iter()
                .map(|(from, to)| Interval { from, to }),
        );
        quiet
    }
}

/// `window`'s occurrences that overlap `span`, cut to it, oldest first; overlapping ones
/// merged by walking from the end of each.
fn occurrences(window: &MaintenanceWindow, span: Interval) -> Vec<Interval> {
    let mut found: Vec<Interval> = Vec::new();
    let mut at = span.from;
    while at < span.to {
        if found.len() >= MAX_OCCURRENCES {
            found.push(Interval {
                from: at,
                to: span.to,
            });
            break;
        }
        match window.occurrence_at(at) {
            Some((_, end)) if end > at => {
                let to = end.min(span.to);
                match found.last_mut() {
                    Some(last) if last.to >= at => last.to = to,
                    _ => found.push(Interval { from: at, to }),
                }
                at = end;
            }
            _ => match window.next_start_after(at) {
                Some(start) if start < span.to => at = start,
                _ => break,
            },
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::silences::Silence;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn windows(yaml: &str) -> Vec<Arc<MaintenanceWindow>> {
        let document = format!(
            "hosts:\n  - {{ label: db-1, url: 'http://127.0.0.1:1/' }}\n  - {{ label: api, url: 'http://127.0.0.1:1/' }}\nmaintenance:\n{yaml}"
        );
        flowstate_config::load_str("t.yaml", &document, &|_| None)
            .expect("the test configuration is valid")
            .maintenance
    }

    fn span(from: u64, to: u64) -> Interval {
        Interval {
            from: at(from),
            to: at(to),
        }
    }

    #[test]
    fn a_daily_window_is_quiet_once_a_day_for_the_hosts_it_covers() {
        // 2027-01-15 08:00 UTC is at(0); the window opens at 09:00 for 30 minutes.
        let quiet = QuietTime::new(
            windows(
                "  - { name: backup, hosts: ['db-*'], schedule: '0 9 * * *', duration: 30m }\n",
            ),
            SilenceBook::default(),
        );
        let plan = quiet.plan(span(0, 2 * 86_400));
        assert_eq!(
            plan.for_host("db-1"),
            [span(3600, 5400), span(86_400 + 3600, 86_400 + 5400)]
        );
        assert!(plan.for_host("api").is_empty());
        let (window, end) = quiet.maintenance_at("db-1", at(3700)).expect("open");
        assert_eq!((&*window.name, end), ("backup", at(5400)));
        assert!(quiet.maintenance_at("api", at(3700)).is_none());
    }

    #[test]
    fn back_to_back_occurrences_merge_and_a_busy_schedule_is_bounded() {
        let quiet = QuietTime::new(
            windows("  - { name: always, schedule: '* * * * *', duration: 2m }\n"),
            SilenceBook::default(),
        );
        let plan = quiet.plan(span(0, 30 * 86_400));
        assert_eq!(plan.for_host("api"), [span(0, 30 * 86_400)]);
    }

    #[test]
    fn silences_count_while_they_lasted_ended_ones_too() {
        let book = SilenceBook::new(vec![Silence::new(
            vec!["api".into()],
            at(600),
            String::new(),
            at(300),
        )]);
        let quiet = QuietTime::new(Vec::new(), book);
        assert_eq!(quiet.plan(span(0, 3600)).for_host("api"), [span(300, 600)]);
        assert!(quiet.plan(span(0, 3600)).for_host("db-1").is_empty());
    }
}
