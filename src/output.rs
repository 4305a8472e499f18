//! Writing a command's answer to stdout.
//!
//! `print!` panics when stdout is a closed pipe (`flowstate status --json | true`,
//! `flowstate check | head`): Rust ignores SIGPIPE, so the write fails with `EPIPE` and the
//! macro turns that into a panic and exit 101. A reader that stops reading is not an error:
//! the rest of the answer is dropped quietly and the command exits with the code it would
//! have had, as Unix tools do. Any other write error (a full disk behind `> file`) is one.

use std::io::{ErrorKind, Write};

use crate::commands::BadInput;

/// Writes `text` to stdout and flushes it; a closed pipe is not an error.
pub fn print(text: &str) -> Result<(), BadInput> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(BadInput(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

/// [`print`] with a line end.
pub fn print_line(text: &str) -> Result<(), BadInput> {
    print(&format!("{text}\n"))
}
