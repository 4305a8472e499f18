//! Black-box integration tests: the real `flowstate` binary against real loopback servers and
//! real files. One test binary (ripgrep style, `autotests = false`), so the suite links once.

mod common;

mod alerts;
mod check;
mod check_diff;
mod delivery;
mod observability;
mod once;
mod reload;
mod run;
mod self_check;
mod tui;
