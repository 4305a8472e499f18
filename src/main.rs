//! # flowstate: the binary
//!
//! Thin on purpose: parse the command line, set up logging, hand over to one of `commands/`,
//! and turn the outcome into an exit code. What flowstate knows lives in `flowstate-config`
//! (the configuration) and `flowstate-actors` (the running system).

mod api_client;
mod cli;
mod commands;
mod logging;
mod output;
mod present;
mod table;
mod tui;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use commands::exit;

/// actix-web announces its workers and notify its watch bookkeeping at info: noise in a
/// daemon's log.
const DAEMON_LOG_FILTER: &str = "info,actix_server=warn,actix_web=warn,notify=warn";

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon tells its lifecycle and transitions at info; one-shot commands only problems.
    match &cli.command {
        Command::Run(args) => logging::init(args.log_format, DAEMON_LOG_FILTER),
        _ => logging::init(logging::LogFormat::Text, "warn"),
    }
    let outcome = match &cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Once(args) => commands::once::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Announce(args) => commands::announce::run(args),
        Command::Silence(args) => commands::silence::run(args),
        Command::Tui(args) => commands::tui::run(args),
        Command::Health(args) => commands::health::run(args),
        Command::Migrate(args) => commands::migrate::run(args),
        Command::HashToken => commands::hash_token::run(),
    };
    match outcome {
        Ok(code) => code,
        Err(bad_input) => {
            // Not `eprintln!`: it panics when stderr is closed, and the exit code says enough.
            let _ = writeln!(std::io::stderr(), "{bad_input}");
            exit::bad_input()
        }
    }
}
