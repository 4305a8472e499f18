//! `flowstate tui`: a live dashboard of a running daemon (the dashboard lives in `tui/`).
//!
//! Exit 0 after `q`; 2 when the daemon cannot be reached at start or there is no terminal
//! (nothing was drawn, the message says why); 1 when the terminal or the dashboard failed
//! while running (the terminal is restored first).

use std::process::ExitCode;

use super::BadInput;
use crate::cli::TuiArgs;
use crate::tui;

pub fn run(args: &TuiArgs) -> Result<ExitCode, BadInput> {
    match tui::run(&args.api.api, args.api.token.clone()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (tui::Error::Unreachable(_) | tui::Error::NoTerminal)) => {
            Err(BadInput(e.to_string()))
        }
        Err(e) => {
            eprintln!("flowstate tui: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
