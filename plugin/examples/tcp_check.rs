//! A TCP check as a flowstate plugin, in the SDK's ~20 lines: a host is up when a TCP
//! connection to its `address` opens within the timeout, degraded when that took longer
//! than its optional `slow_ms`, down (with the reason) otherwise.
//!
//! Build it with `cargo build --release -p flowstate-plugin --example tcp_check`, copy
//! `target/release/examples/tcp_check` where flowstate can run it, and configure:
//!
//! ```yaml
//! plugins:
//!   tcp-plugin: { command: ["/usr/lib/flowstate/plugins/tcp_check"] }
//! hosts:
//!   - { label: cache, type: tcp-plugin, settings: { address: "127.0.0.1:6379", slow_ms: 200 } }
//! ```

use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flowstate_plugin::{json, CheckAnswer, CheckRequest, HandlerError, Plugin};

fn check(request: &CheckRequest) -> Result<CheckAnswer, HandlerError> {
    // The schema makes `address` a string; `?` turns any error into a `down` with its message.
    let address = request.settings["address"].as_str().ok_or("no address")?;
    let target = address
        .to_socket_addrs()?
        .next()
        .ok_or("resolves to nothing")?;
    // A tenth of the timeout is left for the answer to reach flowstate in time.
    let budget = (request.timeout() * 9 / 10).max(Duration::from_millis(1));
    let started = Instant::now();
    TcpStream::connect_timeout(&target, budget).map_err(|e| format!("{target}: {e}"))?;
    let took = started.elapsed();
    let slow_ms = request.settings["slow_ms"].as_u64().unwrap_or(u64::MAX);
    let answer = if took > Duration::from_millis(slow_ms) {
        CheckAnswer::degraded(format!("connected to {target}, slower than {slow_ms} ms"))
    } else {
        CheckAnswer::up(format!("connected to {target}"))
    };
    Ok(answer.with_latency(took))
}

fn main() -> ExitCode {
    let schema = json!({
        "type": "object",
        "required": ["address"],
        "properties": {
            "address": {"type": "string", "description": "host:port to connect to"},
            "slow_ms": {"type": "integer", "minimum": 1, "description": "degraded above this"}
        },
        "additionalProperties": false
    });
    Plugin::check(schema, check).run()
}
