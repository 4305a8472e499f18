//! Processes a test's programs started: whether one still runs, and killing what is left
//! when a test ends, passed or failed, so no `sleep 3600` outlives the suite.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `pid` is a live process: a zombie (dead, waiting for its reaper) is not.
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: the state follows the last `)`, as comm may hold one.
    let state = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// The PIDs listed one per line in `path` (none while it does not exist).
pub fn pids_in(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// SIGKILLs every PID listed in these files when dropped.
pub struct KillListed(pub Vec<PathBuf>);

impl Drop for KillListed {
    fn drop(&mut self) {
        for pid in self.0.iter().flat_map(|path| pids_in(path)) {
            if alive(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}
