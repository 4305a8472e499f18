//! The web pages the daemon serves beside its API (SPEC §8): the dashboard, a page per host
//! and the public status page, rendered on the server so every page is complete without
//! scripts.
//!
//! - [`charts`]: inline SVG charts (sparklines, latency over a window, daily availability).
//! - [`status_page`]: the public status page and its announcements' Atom feed.

pub mod charts;
pub mod status_page;
