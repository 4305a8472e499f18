//! The command line: every subcommand and flag, as SPEC §1 fixes them.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

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
    /// Print the hosts' dependencies (`depends_on`) as a Graphviz or Mermaid graph
    Graph(GraphArgs),
    /// Run every check once, print the results, and exit (0: all up, 1: any not up)
    Once(OnceArgs),
    /// Ask a running daemon for every host's state (0: all up, 1: any not up, 2: unreachable)
    Status(StatusArgs),
    /// Every host's availability, downtime and incidents over a window, from a running
    /// daemon's history (0: done, 1: a host below --fail-below, 2: unreachable or no history)
    Report(ReportArgs),
    /// Publish, update, list or remove announcements (incident notes) on the public status
    /// page of a running daemon (0: done, 2: refused or unreachable)
    Announce(AnnounceArgs),
    /// Mute the alerts of some hosts until a time, list the silences, or end one early, on a
    /// running daemon (0: done, 2: refused or unreachable)
    Silence(SilenceArgs),
    /// A live dashboard of a running daemon in the terminal
    Tui(TuiArgs),
    /// Ask a running daemon's /healthz (or /readyz) for container and init health checks
    /// (0: healthy, 1: not)
    Health(HealthArgs),
    /// Rewrite configuration files written for an older config version to the current one,
    /// keeping their comments (0: done or nothing to do, 2: cannot migrate or invalid after)
    Migrate(MigrateArgs),
    /// Read a token on stdin and print its argon2 hash, for a tenant's `tokens: [{ hash: ... }]`
    /// (0: printed, 2: no token given)
    HashToken,
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
pub struct AnnounceArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub action: AnnounceAction,
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AnnounceState {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl AnnounceState {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnounceState::Investigating => "investigating",
            AnnounceState::Identified => "identified",
            AnnounceState::Monitoring => "monitoring",
            AnnounceState::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AnnounceAction {
    /// Publish a new announcement; prints its id
    New {
        /// What the incident is, e.g. "API errors"
        title: String,
        #[arg(long, value_enum, default_value = "investigating")]
        state: AnnounceState,
        /// What people should know now
        #[arg(long, short, default_value = "")]
        message: String,
    },
    /// Add an update to an announcement's timeline
    Update {
        /// The announcement's id (see `flowstate announce list`)
        id: String,
        #[arg(long, value_enum)]
        state: AnnounceState,
        #[arg(long, short, default_value = "")]
        message: String,
    },
    /// List every announcement, newest first
    List {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Remove an announcement from the page and the feed
    Rm { id: String },
}

#[derive(Debug, Args)]
pub struct SilenceArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub action: SilenceAction,
}

#[derive(Debug, Subcommand)]
pub enum SilenceAction {
    /// Mute the alerts of some hosts until a time (checks go on); prints the silence's id
    #[command(group(ArgGroup::new("end").required(true).args(["duration", "until"])))]
    Add {
        /// A host's label, or a glob such as 'db-*' (quoted, so the shell leaves it alone);
        /// repeat for several
        #[arg(long = "host", value_name = "LABEL", required = true)]
        hosts: Vec<String>,
        /// How long from now, e.g. 30m, 2h or 7d (at most 1y)
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_silence_duration)]
        duration: Option<String>,
        /// When it ends, as an RFC 3339 time, e.g. 2026-12-08T10:00:00Z (at most a year ahead)
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Why, for whoever wonders later why nobody was alerted
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// List the active silences, oldest first
    List {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// End a silence now
    Rm {
        /// The silence's id (see `flowstate silence list`)
        id: String,
    },
}

/// A silence's length as `--for` takes it: a duration longer than zero, kept as written for
/// the API (which also bounds it).
fn parse_silence_duration(text: &str) -> Result<String, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(length) if !length.is_zero() => Ok(text.trim().to_string()),
        Ok(_) => Err("a silence must last longer than zero, e.g. 2h".to_string()),
        Err(e) => Err(format!("{e}; use e.g. 30m, 2h or 7d")),
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print the API's JSON objects instead of a table
    #[arg(long)]
    pub json: bool,
    /// Show only this tenant's hosts (labelled `NAME/...`)
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// How far back the report reaches (at most the daemon's state.retention)
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_window)]
    pub window: String,
    /// Print a JSON array, one object per host
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (RFC 4180), one line per host
    #[arg(long)]
    pub csv: bool,
    /// Exit 1 when a host's availability is below this many percent (e.g. 99.9)
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub fail_below: Option<f64>,
}

/// A window as `--window` takes it: a duration longer than zero, kept as written for the API.
fn parse_window(text: &str) -> Result<String, String> {
    match humantime::parse_duration(text) {
        Ok(window) if !window.is_zero() => Ok(text.trim().to_string()),
        Ok(_) => Err("the window must be longer than zero, e.g. 30d".to_string()),
        Err(e) => Err(format!("{e}; use e.g. 24h, 7d or 30d")),
    }
}

/// A percentage from 0 to 100.
fn parse_percent(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| "a percentage from 0 to 100 is expected, e.g. 99.9".to_string())
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
    /// This agent's location in a cluster (`cluster:`); overrides `cluster.location`
    #[arg(long, env = "FLOWSTATE_LOCATION", value_name = "NAME")]
    pub location: Option<String>,
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
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Rewrite the files (each original kept as FILE.bak); without it, only say what would
    /// change
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// `dot` for Graphviz (`| dot -Tsvg`), `mermaid` for Markdown pages
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
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
