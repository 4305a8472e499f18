//! Write flowstate plugins in Rust. A plugin adds a check type or a notifier type to
//! flowstate without rebuilding it: a long-lived process speaking JSON lines on stdin and
//! stdout (SPEC §11; docs/plugins.md has the protocol with a transcript). This crate holds
//! the protocol's messages, shared with the daemon so the two cannot drift apart, and a
//! runner that does everything but the check itself:
//!
//! ```no_run
//! use std::net::TcpStream;
//! use std::process::ExitCode;
//!
//! use flowstate_plugin::{json, CheckAnswer, CheckRequest, HandlerError, Plugin};
//!
//! fn check(request: &CheckRequest) -> Result<CheckAnswer, HandlerError> {
//!     let address = request.settings["address"].as_str().unwrap_or_default();
//!     let target = address.parse()?;
//!     TcpStream::connect_timeout(&target, request.timeout())?;
//!     Ok(CheckAnswer::up("connected"))
//! }
//!
//! fn main() -> ExitCode {
//!     let schema = json!({"type": "object", "required": ["address"]});
//!     Plugin::check(schema, check).run()
//! }
//! ```
//!
//! # Layout
//!
//! - [`protocol`]: the messages on the wire, one type per kind of line.
//! - `answers`: conveniences on them (`CheckAnswer::down(..)`, `request.timeout()`).
//! - [`Plugin`] (`plugin`): the author's part: kind, settings schema, handler; errors and
//!   panics of the handler become answers.
//! - `runner`: [`Plugin::serve`] over any reader and writer, [`Plugin::run`] on stdin and
//!   stdout: `hello`, requests on threads of their own, bad lines skipped, EOF drains.
//! - `in_flight`: the bound on requests handled at once.
//! - `output`: answers written as whole lines under one lock.

#![forbid(unsafe_code)]

mod answers;
mod in_flight;
mod output;
mod plugin;
pub mod protocol;
mod runner;

pub use plugin::{HandlerError, Plugin};
pub use protocol::{
    Answer, CheckAnswer, CheckRequest, Hello, NotifyAnswer, NotifyRequest, PluginKind, Request,
    Status, PROTOCOL,
};
/// Re-exported for writing settings schemas (`json!({...})`) without a dependency of one's own.
pub use serde_json::{self, json, Value};
