//! History: what the stored past of a host says. Pure arithmetic over values the store and
//! the API hand in; no actors, no I/O, and no clock: every time is an argument, so every
//! answer can be tested with explicit times.
//!
//! - [`sketch`]: [`LatencySketch`], latencies in a few bytes, mergeable exactly, quantiles
//!   within 1 %; the latency column of every rollup row.
//! - [`rollup`]: a host's results summed into epoch-aligned rows ([`Bucket`]) by a
//!   [`Rollup`], and rows merged into chart points by [`series`].
//! - [`availability`](mod@availability): availability over a window from the host's status
//!   timeline, counting time flowstate was not running as unknown, and the [`incidents`] in
//!   it.

pub mod availability;
pub mod rollup;
pub mod sketch;

pub use availability::{
    availability, incidents, Availability, Incident, Interval, Run, StatusChange, Timeline,
};
pub use rollup::{bucket_start, series, Bucket, Rollup, SeriesPoint, ZeroResolution};
pub use sketch::{LatencySketch, SketchError};
