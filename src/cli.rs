//! The command line: every subcommand and flag, as SPEC §1 fixes them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "flowstate",
    version,
    about = "Checks your services continuously and alerts on real changes",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: check every host continuously, keep state, send alerts, serve the API
    Run(RunArgs),
    /// Validate the configuration and print what was understood (secrets redacted)
    Check(CheckArgs),
    /// Run every check once, print the results, and exit (0: all up, 1: any not up)
    Once(OnceArgs),
    /// Ask a running daemon for every host's state (0: all up, 1: any not up, 2: unreachable)
    Status(StatusArgs),
    /// A live dashboard of a running daemon in the terminal
    Tui(TuiArgs),
    /// Ask a running daemon's /healthz (or /readyz) for container and init health checks
    /// (0: healthy, 1: not)
    Health(HealthArgs),
}

/// How to reach a running daemon's API; shared by the commands that ask it.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The daemon's API address
    #[arg(long, value_name = "URL", env = "FLOWSTATE_API", default_value = crate::api_client::DEFAULT_API)]
    pub api: String,
    /// Bearer token, when the daemon sets `server.token`
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FLOWSTATE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print the API's JSON objects instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The daemon's API address
    #[arg(long, value_name = "URL", env = "FLOWSTATE_API", default_value = crate::api_client::DEFAULT_API)]
    pub api: String,
    /// Ask /readyz (every host scheduled, checks starting on time) instead of /healthz
    #[arg(long)]
    pub ready: bool,
    /// How long the daemon may take to answer
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Where the configuration comes from; shared by every command that reads it.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A configuration file; repeat to merge several
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "FLOWSTATE_CONFIG",
        default_value = "flowstate.yaml"
    )]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How log lines are written to standard error
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also show what reloading these files would change on the running daemon at --api
    #[arg(long)]
    pub diff: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct OnceArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
    /// Check only this host; repeat for several
    #[arg(long = "host", value_name = "LABEL")]
    pub hosts: Vec<String>,
}
