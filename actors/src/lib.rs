//! # flowstate-actors: the running system
//!
//! The mutable half of flowstate: probes that check hosts and, around them, the actors that
//! schedule checks, keep state and route alerts. It takes a validated
//! [`flowstate_config::Config`] and never parses YAML itself.
//!
//! ## Layout
//! - [`model`]: runtime state types (`Status`, `CheckResult`), never part of the configuration.
//! - [`probe`]: one file per check type behind the [`probe::Probe`] trait, and
//!   [`probe::run_check`], which bounds every check by its timeout and turns panics into
//!   failed results.

#![forbid(unsafe_code)]

pub mod model;
pub mod probe;
