//! `flowstate hash-token`: a token's argon2 hash for a tenant's `tokens: [{ hash: ... }]`, so
//! the configuration (and whoever reads it) never holds the token itself.
//!
//! The token is read from stdin, not from an argument: arguments end up in shell histories and
//! in every user's `ps`. One trailing line ending is dropped (what `echo` and a terminal add);
//! anything else is part of the token.

use std::io::Read;
use std::process::ExitCode;

use super::{exit, BadInput};
use crate::output;

/// The longest token read: far beyond any real one, short of reading a file by mistake.
const MAX_TOKEN: u64 = 4096;

pub fn run() -> Result<ExitCode, BadInput> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_TOKEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| BadInput(format!("cannot read the token from stdin: {e}")))?;
    if text.len() as u64 > MAX_TOKEN {
        return Err(BadInput(format!(
            "the token on stdin is longer than {MAX_TOKEN} bytes; give the token itself, e.g. `printf %s \"$TOKEN\" | flowstate hash-token`"
        )));
    }
    let token = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if token.is_empty() {
        return Err(BadInput(
            "no token on stdin; pipe it in, e.g. `printf %s \"$TOKEN\" | flowstate hash-token`"
                .to_string(),
        ));
    }
    let hash =
        flowstate_actors::api::access::hash_token(token).map_err(|e| BadInput(e.to_string()))?;
    output::print_line(&hash)?;
    Ok(exit::success())
}
