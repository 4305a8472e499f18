//! Signals while the dashboard runs: SIGINT, SIGTERM (someone asks it to stop) and SIGHUP
//! (its terminal went away). In raw mode Ctrl-C is a key, so these come from elsewhere.
//!
//! A signal raises the stop flag, which the loop sees within a tick and quits cleanly. The
//! loop can be stuck, though: crossterm spins on a terminal that hung up (its read returns
//! end-of-file forever, reproduced with `tmux kill-server`). So if the loop has not ended
//! after [`GRACE`], this thread restores what it can of the terminal and ends the process.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::screen;

/// How long the loop has to notice a signal before the process is ended for it.
const GRACE: Duration = Duration::from_millis(500);

/// Starts watching; the returned flag is raised by the first signal.
pub fn watch() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let flag = stop.clone();
    thread::Builder::new()
        .name("tui-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                flag.store(true, Ordering::SeqCst);
                thread::sleep(GRACE);
                screen::restore();
                // The shell's convention for a death by signal.
                std::process::exit(128 + signal);
            }
        })?;
    Ok(stop)
}
