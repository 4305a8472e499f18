//! # `flowstate tui`: a live dashboard of a running daemon
//!
//! - [`app`]: the state (hosts, filter, order, selection, scrolling), testable without a
//!   terminal; [`sort`]: the orders; [`keys`]: the key bindings.
//! - [`view`]: draws the state into a ratatui frame.
//! - [`fetch`]: asks the daemon on a thread of its own, every second.
//! - [`screen`]: raw mode and the alternate screen, restored on every way out (panics too);
//!   [`signals`]: SIGINT, SIGTERM and SIGHUP stop it.
//!
//! This file is the loop: wait for a key (at most [`TICK`]), apply it, take in what the
//! fetcher brought, draw if anything changed. The daemon must answer once before the screen
//! is taken, so a wrong address is reported on the normal terminal; after that an unreachable
//! daemon only shows in the status line, over the last data it sent.

pub mod app;
pub mod fetch;
pub mod keys;
pub mod screen;
pub mod signals;
pub mod sort;
pub mod view;

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{self, Event};

use crate::api_client::ApiError;
use app::App;
use fetch::{Fetcher, Update};
use screen::Screen;

/// How often the daemon is asked.
pub const REFRESH: Duration = Duration::from_secs(1);
/// The longest the loop waits for a key before looking at the fetcher's results.
const TICK: Duration = Duration::from_millis(50);

/// Why the dashboard could not run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The daemon did not answer the first request: nothing to show.
    #[error(transparent)]
    Unreachable(ApiError),
    #[error("flowstate tui needs a terminal; use `flowstate status` in scripts and pipes")]
    NoTerminal,
    #[error("the terminal failed: {0}")]
    Terminal(#[from] io::Error),
    #[error("the thread that asks the daemon stopped unexpectedly")]
    FetcherStopped,
    #[error("the dashboard stopped after an internal error (see above)")]
    Crashed,
}

/// Runs the dashboard until `q`, Ctrl-C, SIGINT, SIGTERM or SIGHUP.
pub fn run(api: &str, token: Option<String>) -> Result<(), Error> {
    let fetcher = Fetcher::start(api, token, REFRESH);
    let hosts = match fetcher.wait() {
        Some(Update::Hosts(Ok(hosts))) => hosts,
        Some(Update::Hosts(Err(e))) => return Err(Error::Unreachable(e)),
        Some(Update::Detail { .. }) | None => return Err(Error::FetcherStopped),
    };
    if !io::stdout().is_terminal() {
        return Err(Error::NoTerminal);
    }
    let mut app = App::new(fetcher.base());
    app.set_hosts(hosts, SystemTime::now());

    let stop = signals::watch()?;
    let mut screen = Screen::enter()?;
    let outcome = event_loop(&mut screen, &mut app, &fetcher, &stop);
    drop(screen);
    outcome
}

fn event_loop(
    screen: &mut Screen,
    app: &mut App,
    fetcher: &Fetcher,
    stop: &AtomicBool,
) -> Result<(), Error> {
    let mut asked_for: Option<String> = None;
    let mut dirty = true;
    let mut drawn = Instant::now();
    loop {
        // The history shown is the selected host's: ask for it whenever the selection moved.
        if app.selected_label() != asked_for.as_deref() {
            asked_for = app.selected_label().map(str::to_string);
            fetcher.select(asked_for.clone());
        }
        if app.take_refresh_request() {
            fetcher.refresh();
        }
        if !screen::active() {
            return Err(Error::Crashed);
        }
        // Relative times ("updated 3s ago") move even when nothing else does.
        if dirty || drawn.elapsed() >= REFRESH {
            screen
                .terminal()
                .draw(|frame| view::draw(frame, app, SystemTime::now()))?;
            dirty = false;
            drawn = Instant::now();
        }
        if app.should_quit() || stop.load(Ordering::Relaxed) {
            return Ok(());
        }

        // Every key already typed is applied before the next draw, so a held key never
        // queues up frames.
        let mut timeout = TICK;
        while event::poll(timeout)? {
            match event::read()? {
                Event::Key(key) => keys::handle(app, key),
                Event::Resize(..) => {}
                _ => continue,
            }
            dirty = true;
            timeout = Duration::ZERO;
            if app.should_quit() {
                break;
            }
        }

        loop {
            match fetcher.try_next() {
                Ok(Some(update)) => {
                    apply(app, update);
                    dirty = true;
                }
                Ok(None) => break,
                Err(fetch::Stopped) => return Err(Error::FetcherStopped),
            }
        }
    }
}

/// Takes in one answer of the daemon.
fn apply(app: &mut App, update: Update) {
    match update {
        Update::Hosts(Ok(hosts)) => app.set_hosts(hosts, SystemTime::now()),
        Update::Hosts(Err(e)) => app.set_error(e.to_string()),
        Update::Detail { label, result } => match *result {
            Ok(detail) => app.set_detail(detail),
            Err(e) => app.set_error(format!("history of {label}: {e}")),
        },
    }
}
