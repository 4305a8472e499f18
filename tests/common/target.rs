//! Targets a daemon checks whose answers the test changes while it runs.
//!
//! [`switchable`] is a [`TestServer`] whose status the test flips (an `AtomicU16` read by the
//! handler), so a host goes down and up for real.

use std::sync::atomic::{AtomicU16, Ordering::SeqCst};
use std::sync::Arc;

use super::{Response, TestServer};

/// A target whose answer's status the test changes while the daemon runs: store a status in
/// the returned `AtomicU16` and every later request gets it (with the body `hi`).
pub fn switchable(status: u16) -> (Arc<AtomicU16>, TestServer) {
    let current = Arc::new(AtomicU16::new(status));
    let answer = current.clone();
    let server = TestServer::start(move |_, _| Response::status(answer.load(SeqCst)).body("hi"));
    (current, server)
}
