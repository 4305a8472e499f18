//! The flowstate plugin protocol (SPEC §11), shared by the daemon and by plugins written in
//! Rust. See docs/plugins.md for the protocol with a transcript.

pub mod protocol;

pub use protocol::{
    Answer, CheckAnswer, CheckRequest, Hello, NotifyAnswer, NotifyRequest, PluginKind, Request,
    Status, PROTOCOL,
};
