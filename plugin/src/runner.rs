//! The runner: reads requests (one JSON object per line), answers `hello` itself and hands
//! every `check` or `notify` to the plugin's handler on a thread of its own, so a slow check
//! does not hold up the others; answers go back by id, in the order they finish.
//!
//! - **Bounded**: at most [`Plugin::max_in_flight`] requests are handled at once; when all
//!   are busy the runner stops reading, and the pipe holds the rest.
//! - **Never dies of its input**: a line that is not a request is logged to stderr and
//!   skipped. Its contents are not logged: they may hold a notifier's credentials.
//! - **Drains on EOF**: when flowstate closes stdin the runner stops reading, waits for the
//!   requests in flight (scoped threads: leaving the scope joins them) and returns, so their
//!   answers are written before the process exits.
//!
//! [`Plugin::serve`] works over any reader and writer, which is what the tests drive;
//! [`Plugin::run`] is the same on stdin and stdout.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::thread;

use serde_json::Value;

use crate::in_flight::Slots;
use crate::output::Output;
use crate::plugin::{not_started, Job, Plugin};
use crate::protocol::{Request, PROTOCOL};

impl Plugin {
    /// Serves flowstate on stdin and stdout until stdin ends:
    /// `fn main() -> ExitCode { Plugin::check(schema, check).run() }`. Fails (exit code 1)
    /// only when stdin or stdout does, with the reason on stderr.
    pub fn run(self) -> ExitCode {
        match self.serve(io::stdin().lock(), io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("flowstate-plugin: {error}");
                ExitCode::FAILURE
            }
        }
    }

    /// Serves requests from `reader`, writing answers to `writer`, until `reader` ends;
    /// returns once every request read has been answered. An error is a failure to read, or
    /// the first failure to write (later answers are dropped: nobody is reading them).
    pub fn serve<R, W>(&self, mut reader: R, writer: W) -> io::Result<()>
    where
        R: BufRead,
        W: Write + Send,
    {
        let output = Output::new(writer);
        let slots = Slots::new(self.max_in_flight);
        let read = thread::scope(|scope| -> io::Result<()> {
            // Bytes, not `lines()`: a line that is not UTF-8 is a bad line to skip, not a
            // read error that would end the plugin.
            let mut line = Vec::new();
            let mut number: u64 = 0;
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                number += 1;
                let job = match parse(&line) {
                    Parsed::Blank => continue,
                    Parsed::Bad(why) => {
                        eprintln!("flowstate-plugin: input line {number} skipped: {why}");
                        continue;
                    }
                    Parsed::Hello { protocol } => {
                        if protocol != PROTOCOL {
                            // flowstate refuses us on seeing our version; say why here too.
                            eprintln!(
                                "flowstate-plugin: flowstate speaks protocol {protocol}, this \
                                 plugin speaks {PROTOCOL}"
                            );
                        }
                        output.send(&self.hello());
                        continue;
                    }
                    Parsed::Job(job) => job,
                };
                let (id, kind) = (job.id(), job.kind());
                let slot = slots.acquire();
                let output = &output;
                let spawned = thread::Builder::new()
                    .name(format!("request-{id}"))
                    .spawn_scoped(scope, move || {
                        // Given back when the answer is written, or if writing it panics.
                        let _slot = slot;
                        output.send(&self.answer(&job));
                    });
                if let Err(error) = spawned {
                    let detail = format!("the plugin cannot start a thread: {error}");
                    output.send(&not_started(kind, id, detail));
                }
            }
        });
        // Leaving the scope joined every request thread: every answer is written (or failed).
        let written = output.finish();
        read.and(written)
    }
}

/// What one input line is.
enum Parsed {
    /// Nothing but whitespace: ignored without a word.
    Blank,
    /// Not a request; why, for the log.
    Bad(String),
    Hello {
        protocol: u32,
    },
    Job(Job),
}

fn parse(line: &[u8]) -> Parsed {
    if line.trim_ascii().is_empty() {
        return Parsed::Blank;
    }
    match serde_json::from_slice::<Request>(line) {
        Ok(Request::Hello { protocol }) => Parsed::Hello { protocol },
        Ok(Request::Check(request)) => Parsed::Job(Job::Check(request)),
        Ok(Request::Notify(request)) => Parsed::Job(Job::Notify(request)),
        Err(error) => {
            // The id, when there is one, lets the reader of the log match flowstate's
            // timeout for that request to this line.
            let id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|value| value.get("id").and_then(Value::as_u64));
            Parsed::Bad(match id {
                Some(id) => format!("request {id} is not valid: {error}"),
                None => format!("not a request: {error}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CheckAnswer, Status};
    use serde_json::json;
    use std::io::Cursor;
    use std::time::Duration;

    fn lines(output: &[u8]) -> Vec<Value> {
        std::str::from_utf8(output)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn bad_lines_are_told_apart_from_blank_ones() {
        assert!(matches!(parse(b"  \r\n"), Parsed::Blank));
        assert!(matches!(
            parse(b"{\"op\":\"hello\",\"protocol\":1}\r\n"),
            Parsed::Hello { protocol: 1 }
        ));
        let Parsed::Bad(why) = parse(b"{\"op\":\"check\",\"id\":7}\n") else {
            panic!("a check without a host was read as a request");
        };
        assert!(
            why.starts_with("request 7 is not valid: missing field"),
            "{why}"
        );
        let Parsed::Bad(why) = parse(b"\xff\xfe garbage\n") else {
            panic!("garbage was read as a request");
        };
        assert!(why.starts_with("not a request: "), "{why}");
    }

    #[test]
    fn every_request_is_answered_by_id_and_the_last_line_needs_no_newline() {
        let plugin = Plugin::check(json!(true), |request| {
            // Later ids finish first, so the answers come back out of order.
            thread::sleep(Duration::from_millis(60 - 20 * request.id));
            Ok(CheckAnswer::up(request.host.clone()))
        });
        let input = "{\"op\":\"hello\",\"protocol\":1}\n\
                     {\"op\":\"check\",\"id\":1,\"host\":\"a\",\"timeout_ms\":100}\n\
                     nonsense\n\
                     {\"op\":\"check\",\"id\":2,\"host\":\"b\",\"timeout_ms\":100}";
        let mut output = Vec::new();
        plugin.serve(Cursor::new(input), &mut output).unwrap();
        let answers = lines(&output);
        assert_eq!(
            answers[0],
            json!({"protocol": 1, "kind": "check", "settings_schema": true})
        );
        assert_eq!(answers[1], json!({"id": 2, "status": "up", "detail": "b"}));
        assert_eq!(answers[2], json!({"id": 1, "status": "up", "detail": "a"}));
        assert_eq!(answers.len(), 3);
    }

    #[test]
    fn a_panic_is_an_answer_and_the_next_request_is_served() {
        let plugin = Plugin::check(json!(true), |request| {
            if request.id == 1 {
                panic!("bug");
            }
            Ok(CheckAnswer::up(""))
        })
        .max_in_flight(1);
        let input = "{\"op\":\"check\",\"id\":1,\"host\":\"a\",\"timeout_ms\":100}\n\
                     {\"op\":\"check\",\"id\":2,\"host\":\"a\",\"timeout_ms\":100}\n";
        let mut output = Vec::new();
        plugin.serve(Cursor::new(input), &mut output).unwrap();
        let answers: Vec<CheckAnswer> = lines(&output)
            .into_iter()
            .map(|value| serde_json::from_value(value).unwrap())
            .collect();
        assert_eq!((answers[0].id, answers[0].status), (1, Status::Down));
        assert_eq!(answers[0].detail, "the check panicked: bug");
        assert_eq!((answers[1].id, answers[1].status), (2, Status::Up));
    }
}
