//! The bridge between croner's cron search and jiff 1's zoned date-times.
//!
//! croner walks a cron pattern over the wall clock of any type that implements its
//! [`CronDateTime`] trait, and decides what a pattern means across daylight saving changes
//! (see `maintenance.rs`). It ships that trait for chrono and for jiff 0.2 only; jiff 1 is the
//! one this workspace already builds (env_logger uses it), so rather than compile a second
//! jiff for an adapter, this file is that adapter for jiff 1, written after croner's own.

use std::cmp::Ordering;

use croner::{CivilDate, CivilDateTime, CivilTime, CronDateTime, Resolution, Weekday};
use jiff::civil::DateTime;
use jiff::tz::AmbiguousOffset;
use jiff::{SignedDuration, ZonedDateTime};

/// A jiff 1 zoned date-time that croner can search from.
#[derive(Debug, Clone)]
pub(crate) struct CronTime(pub ZonedDateTime);

impl CronDateTime for CronTime {
    fn to_civil(&self) -> CivilDateTime {
        let dt = self.0.datetime();
        // jiff keeps every part in range, so croner may take them unchecked.
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(
                i32::from(dt.year()),
                dt.month() as u32,
                dt.day() as u32,
            ),
            CivilTime::from_parts_unchecked(
                dt.hour() as u32,
                dt.minute() as u32,
                dt.second() as u32,
            ),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        Weekday::from_days_from_sunday(self.0.weekday().to_sunday_zero_offset() as u32)
    }

    fn resolve_civil(
        &self,
        civil: CivilDateTime,
    ) -> Result<Resolution<Self>, croner::errors::CronError> {
        use croner::errors::CronError;
        // Out of jiff's range (years -9999 to 9999): croner stops its search with an error.
        let year = i16::try_from(civil.year()).map_err(|_| CronError::InvalidDate)?;
        let datetime = DateTime::new(
            year,
            civil.month() as i8,
            civil.day() as i8,
            civil.hour() as i8,
            civil.minute() as i8,
            civil.second() as i8,
            0,
        )
        .map_err(|_| CronError::InvalidDate)?;
        let ambiguous = self.0.time_zone().to_ambiguous_zoned_datetime(datetime);
        Ok(match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => Resolution::Single(CronTime(
                ambiguous
                    .unambiguous()
                    .map_err(|_| CronError::InvalidTime)?,
            )),
            AmbiguousOffset::Fold { .. } => {
                let earlier = ambiguous
                    .clone()
                    .earlier()
                    .map_err(|_| CronError::InvalidTime)?;
                let later = ambiguous.later().map_err(|_| CronError::InvalidTime)?;
                Resolution::Ambiguous(CronTime(earlier), CronTime(later))
            }
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()
            .map(CronTime)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        // The instant, not the wall clock: the two halves of a repeated hour differ.
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}
