//! # flowstate: the binary
//!
//! Thin on purpose: parse the command line, set up logging, hand over to one of `commands/`,
//! and turn the outcome into an exit code. What flowstate knows lives in `flowstate-config`
//! (the configuration) and `flowstate-actors` (the running system).

mod cli;
mod commands;
mod table;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use commands::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let outcome = match &cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Once(args) => commands::once::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(bad_input) => {
            eprintln!("{bad_input}");
            exit::bad_input()
        }
    }
}
