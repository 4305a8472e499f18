//! Black-box integration tests: the real `flowstate` binary against real loopback servers and
//! real files. One test binary (ripgrep style, `autotests = false`), so the suite links once.

mod common;

mod alerts;
mod check;
mod check_diff;
mod check_dns;
mod check_grpc;
mod check_http_depth;
mod check_icmp;
mod check_tcp_script;
mod day_one_cli;
mod day_one_config;
mod day_one_runtime;
mod delivery;
mod deploy;
mod docs;
mod observability;
mod once;
mod reload;
mod run;
mod self_check;
mod tui;
