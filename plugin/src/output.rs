//! Where answers go: whole lines, one writer at a time. Request threads finish in any order,
//! so each answer is serialised first and then written and flushed under one lock: lines
//! never interleave, and none waits in a buffer while flowstate waits for it.

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// The plugin's stdout (or a test's writer), shared by the request threads.
pub(crate) struct Output<W> {
    state: Mutex<State<W>>,
}

struct State<W> {
    writer: W,
    /// The first write that failed: flowstate went away or closed our stdout. Kept to return
    /// from `serve` once the requests in flight are done, and logged only once rather than
    /// once per answer.
    error: Option<io::Error>,
}

impl<W: Write> Output<W> {
    pub(crate) fn new(writer: W) -> Self {
        Output {
            state: Mutex::new(State {
                writer,
                error: None,
            }),
        }
    }

    /// Writes `message` as one JSON line and flushes it.
    pub(crate) fn send(&self, message: &impl Serialize) {
        let mut line = match serde_json::to_vec(message) {
            Ok(line) => line,
            // The protocol's types always serialise; this is only never a panic.
            Err(error) => {
                eprintln!("flowstate-plugin: cannot write an answer: {error}");
                return;
            }
        };
        line.push(b'\n');
        // A panic while holding the lock cannot leave half a line behind that matters more
        // than losing the plugin, so a poisoned lock is used as it is.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.error.is_some() {
            return;
        }
        let written = state
            .writer
            .write_all(&line)
            .and_then(|()| state.writer.flush());
        if let Err(error) = written {
            eprintln!("flowstate-plugin: cannot write answers: {error}");
            state.error = Some(error);
        }
    }

    /// The first write error, if any.
    pub(crate) fn finish(self) -> io::Result<()> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        match state.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Accepts one write, then fails like a closed pipe.
    struct Closing {
        writes: usize,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            if self.writes > 1 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_message_is_one_line() {
        let output = Output::new(Vec::new());
        output.send(&json!({"id": 1}));
        output.send(&json!({"id": 2}));
        let state = output.state.into_inner().unwrap();
        assert_eq!(state.writer, b"{\"id\":1}\n{\"id\":2}\n");
    }

    #[test]
    fn the_first_write_error_is_kept_and_later_answers_dropped() {
        let output = Output::new(Closing { writes: 0 });
        output.send(&json!({"id": 1}));
        output.send(&json!({"id": 2}));
        output.send(&json!({"id": 3}));
        let error = output.finish().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}
