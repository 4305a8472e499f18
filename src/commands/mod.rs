//! One file per subcommand. Each returns the process exit code, or an error for bad input.

pub mod announce;
pub mod check;
pub mod graph;
pub mod hash_token;
pub mod health;
pub mod migrate;
pub mod once;
mod plugin_settings;
pub mod report;
pub mod run;
pub mod silence;
pub mod status;
mod systemd;
pub mod tui;

use std::process::ExitCode;

use flowstate_config::{Config, ConfigError};

use crate::cli::ConfigArgs;

/// Input the user must fix (exit code 2): the message is printed as is, every line of it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl From<ConfigError> for BadInput {
    fn from(e: ConfigError) -> Self {
        BadInput(e.to_string())
    }
}

/// Loads the configuration named on the command line, or explains why it cannot; on the
/// daemon's loader thread, so `check` and a reload judge a file with the same stack.
pub fn load_config(args: &ConfigArgs) -> Result<Config, BadInput> {
    Ok(flowstate_actors::config_load::load_blocking(&args.files)?)
}

/// Exit codes of SPEC §1.
pub mod exit {
    use super::ExitCode;

    pub fn success() -> ExitCode {
        ExitCode::SUCCESS
    }

    /// `once`: at least one host is not up.
    pub fn not_all_up() -> ExitCode {
        ExitCode::from(1)
    }

    /// Unreadable or invalid configuration, bad flags.
    pub fn bad_input() -> ExitCode {
        ExitCode::from(2)
    }
}
