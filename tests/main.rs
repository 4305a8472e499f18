//! Black-box integration tests: the real `flowstate` binary against real loopback servers and
//! real files. One test binary (ripgrep style, `autotests = false`), so the suite links once:
//! `cargo test --test integration -- <module>::`.

// Shared helpers: the binary in a sandbox, the daemon, targets, receivers, `/metrics`, events.
mod common;

// The `alertmanager` notifier against a real Alertmanager: labels, re-posts, resolution.
mod alertmanager;
// Maintenance windows, silences and flapping hold alerts; a host is settled when they end.
mod alert_holds;
// Alert policy: cooldown, reminders, recoveries, per-host notifiers, webhook formats, commands.
mod alerts;
// The dashboard in headless Chromium over WebDriver: live rows, filter, sort, login, screenshots.
mod browser;
// `flowstate check`: validation, the summary, where the config comes from, no secret printed.
mod check;
// `flowstate check --diff`: what a reload would change on a running daemon, by fingerprints.
mod check_diff;
// `type: dns` checks against a DNS server of the test's own.
mod check_dns;
// `type: grpc` checks against real tonic health servers, plain and TLS.
mod check_grpc;
// HTTP checks in depth: auth, redirects, methods and bodies, TLS trust and expiry, HTTP/2.
mod check_http_depth;
// `type: icmp` checks: echo requests to loopback and to addresses that never answer.
mod check_icmp;
// `type: tcp` and `type: script` checks, in `once` and in the daemon.
mod check_tcp_script;
// Agents of one cluster on a real PostgreSQL: membership, one leader, failover.
mod cluster;
mod cluster_alerts;
// Day-one defects (issue 12) at the CLI's edges: listen addresses, closed pipes, fingerprints.
mod day_one_cli;
// Day-one defects (issue 12) in config loading: relative programs, nesting, includes, redaction.
mod day_one_config;
// Day-one defects (issue 12) at run time: store errors, child processes, a deleted state file.
mod day_one_runtime;
// Alert delivery neither lost nor doubled: retries, SIGKILL and restarts on a state store.
mod delivery;
// `depends_on`: unreachable children, one alert for the parent, redundancy groups.
mod dependencies;
// Deployment files: Dockerfile, systemd unit and sd_notify, Kubernetes, install.sh, Homebrew.
mod deploy;
// The docs cannot drift from the code: every YAML block, flag, metric and message they name.
mod docs;
// The `email` notifier against a real SMTP server: both parts, AUTH, STARTTLS, SMTPS.
mod email;
// Webhook formats for incident management and chat (SPEC §11): method, path, headers, body.
mod formats;
// Observability: `/metrics` and promtool, the bearer token, readiness, `flowstate status`.
mod observability;
// Config versions and `flowstate migrate`: refusals, dry runs, rewrites that keep comments.
mod migrate;
// Nagios plugins as script checks: their performance data in the API and /metrics.
mod nagios;
// HTTP checks over HTTP/3 (QUIC) and by Alt-Svc, against real quinn/h3 servers.
#[cfg(feature = "http3")]
mod http3;
// `flowstate once`: status, body, headers, redirects and time judged; table, JSON, exit codes.
mod once;
mod plugins;
// OpenTelemetry traces against an OTLP collector on loopback: spans, traceparent, sampling.
#[cfg(feature = "otlp")]
mod traces;
// Tenants in the API: every route × role × another tenant's resource; roles; throttling.
mod tenant_api;
// Tenants in the dashboard, in headless Chromium: a tenant's login, the platform's switcher.
mod tenant_dashboard;
// `group_by`/`group_wait`: one delivery per group per wait.
mod grouping;
// History: availability, incidents, series and events from the store; `status` and `report`.
mod history;
// Hot reload: every way to edit, SIGHUP, `POST /-/reload`; what must not reload; what survives.
mod reload;
// `flowstate run`: transitions and alerts, scheduling, signals, logs, the API, the example.
mod run;
// The dead man's switch: `self_check.url` pinged while healthy, its secret never logged.
mod self_check;
// The public status page and announcements: public hosts only, no token, feed, restarts.
mod status_page;
// Silences: made with the CLI and the API, kept across restarts, refused with what to fix.
mod silences;
// The daemon on a real PostgreSQL store: restarts, and a database that goes away for a while.
mod store_postgres;
// Tenants: a broken tenant file contained at reload and start, `check`, metrics, `status --tenant`.
mod tenant_reload;
// The dashboard over HTTP: pages, escaping, redaction, login and CSRF, the status stream.
mod web;
// `flowstate tui` driven in tmux: hosts, keys, filters, a daemon going away.
mod tui;
// Fair share between tenants: one tenant's dead webhook or hung checks never delay another's.
mod tenant_fairness;
