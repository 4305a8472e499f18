//! Helpers shared by every integration test, here and in later daemon tests.
//!
//! - [`browser`]: headless Chromium driven over WebDriver (chromedriver started and killed).
//! - [`certs`]: a private CA and the server certificates it signs, for TLS targets.
//! - [`cli`]: config files in a temporary directory and runs of the real binary.
//! - [`configs`]: config documents and host list items.
//! - [`daemon`]: `flowstate run` as a child process: its output, its API, signals, its exit;
//!   [`start`] one on a config, `POST /-/reload` after an edit.
//! - [`events`]: alert events the file notifier wrote, and their SPEC §3 shape.
//! - [`h3_server`]: a loopback HTTP/3 (QUIC) target answering like [`server`], and a UDP port
//!   that never answers.
//! - [`hosts`]: a host as the API shows it; its checks as a clock.
//! - [`once`]: `flowstate once` on a config, and each host's verdict.
//! - [`postgres`]: a throwaway PostgreSQL server (`initdb` in a temporary directory).
//! - [`processes`]: whether a started program still runs; killing what a test left.
//! - [`receiver`]: a webhook receiver recording every post, answering as the test says.
//! - [`repo`]: files of the repository itself (docs, examples, deployment files).
//! - [`scrape`]: `/metrics` parsed, scraped, waited for; single series by name.
//! - [`server`]: a loopback HTTP target whose answers the test controls, recording requests.
//! - [`stream`]: `/api/v1/stream` read event by event.
//! - [`target`]: targets whose answers the test changes while the daemon runs ([`switchable`]),
//!   or that never answer.
//! - [`wait`]: waiting for a condition with a deadline.

pub mod browser;
pub mod certs;
pub mod cli;
pub mod collector;
pub mod configs;
pub mod daemon;
pub mod events;
#[cfg(feature = "http3")]
pub mod h3_server;
pub mod hosts;
pub mod once;
// A throwaway PostgreSQL cluster; shared with the actors crate's backend suite.
#[path = "../../actors/tests/common/postgres.rs"]
pub mod postgres;
// Shared with the actors crate's tests, which cannot import this directory.
#[path = "../../actors/tests/common/processes.rs"]
pub mod processes;
pub mod receiver;
pub mod repo;
pub mod scrape;
pub mod server;
pub mod stream;
pub mod target;
pub mod wait;

pub use cli::{Outcome, Sandbox};
pub use daemon::{start, start_located, Daemon, DEADLINE};
pub use server::{closed_port, Request, Response, TestServer};
pub use target::switchable;
