//! The terminal while the dashboard owns it: raw mode and the alternate screen on the way in,
//! and the terminal exactly as it was on every way out.
//!
//! Every way out restores it: dropping the [`Screen`] (a quit, or an error returned through
//! the loop), a panic on any thread (a panic hook restores it before the message is printed,
//! so the message lands on the normal screen), and a signal (see `signals`). Restoring twice
//! does nothing the second time. Logging is silenced while the screen is up, since a log line
//! on stderr would scribble over it.

use std::io::{self, Stdout};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::Terminal;

/// Whether the terminal is in the dashboard's state and must be restored.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The log level to go back to.
static LOG_LEVEL: std::sync::Mutex<Option<log::LevelFilter>> = std::sync::Mutex::new(None);
static PANIC_HOOK: Once = Once::new();

pub type Backend = CrosstermBackend<Stdout>;

/// The terminal in raw mode on the alternate screen; restored when dropped.
pub struct Screen {
    terminal: Terminal<Backend>,
}

impl Screen {
    /// Takes over the terminal. On failure, whatever was already changed is undone.
    pub fn enter() -> io::Result<Screen> {
        PANIC_HOOK.call_once(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        *LOG_LEVEL.lock().unwrap_or_else(|e| e.into_inner()) = Some(log::max_level());
        log::set_max_level(log::LevelFilter::Off);
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = (|| {
            enable_raw_mode()?;
            execute!(io::stdout(), EnterAlternateScreen)?;
            let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
            terminal.clear()?;
            Ok(terminal)
        })();
        match entered {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub fn terminal(&mut self) -> &mut Terminal<Backend> {
        &mut self.terminal
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Whether the dashboard still holds the terminal: false once a panic (on any thread) gave it
/// back, so the loop stops drawing over the normal screen.
pub fn active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Gives the terminal back: normal screen, cooked mode, visible cursor, logging as it was.
/// Does nothing when the dashboard does not hold the terminal.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    if let Some(level) = LOG_LEVEL.lock().unwrap_or_else(|e| e.into_inner()).take() {
        log::set_max_level(level);
    }
}
