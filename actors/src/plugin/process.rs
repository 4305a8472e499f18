//! The [`PluginProcess`] actor: one configured plugin's program, kept running.
//!
//! Life of a program: started as the leader of a new process group (so its children die with
//! it), sent `hello`, and ready once it answers with its kind and settings schema. Calls that
//! arrive meanwhile wait for the handshake, within their own timeout. Requests are written to
//! stdin one line each, several in flight, and matched to answers by id.
//!
//! Failure is the plugin's, never the daemon's: a request without an answer in time fails on
//! its own; a program that has said nothing at all since such a request was sent is taken as
//! hung, killed with its group and restarted. A program that exits (or is killed) fails what
//! was in flight and is started again after a backoff that doubles from 1 s to 1 min, and
//! starts again at 1 s once a program has run for a minute. While it is down, calls fail at
//! once with the reason and the time of the next start, which is what a host shows.
//! Its stderr goes to the log, line by line, with the plugin's name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use flowstate_config::PluginConfig;
use flowstate_plugin::{Answer, CheckRequest, Hello, NotifyRequest, PluginKind, Request, PROTOCOL};
use rustix::process::{kill_process_group, Pid, Signal};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

use super::settings_schema::SettingsSchema;
use super::{shown, PluginError, PluginStats};

/// How long a started program has to answer `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait before starting a program again, doubled after each failed start.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A program that ran this long was healthy: the next crash waits [`FIRST_BACKOFF`] again.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// The longest line read from a plugin; a longer one is dropped (a runaway plugin must not
/// fill the daemon's memory).
pub const MAX_LINE: usize = 1 << 20;

/// What to ask a plugin.
#[derive(Debug, Clone)]
pub enum PluginCall {
    Check {
        host: String,
        settings: Value,
    },
    /// `event` or `group` (a notifier with `group_by`), as the generic webhook sends them.
    Notify {
        event: Option<Value>,
        group: Option<Value>,
        settings: Value,
    },
}

impl PluginCall {
    fn wanted(&self) -> PluginKind {
        match self {
            PluginCall::Check { .. } => PluginKind::Check,
            PluginCall::Notify { .. } => PluginKind::Notifier,
        }
    }

    fn settings(&self) -> &Value {
        match self {
            PluginCall::Check { settings, .. } | PluginCall::Notify { settings, .. } => settings,
        }
    }
}

/// Ask the plugin something; the answer (or why there is none) comes within `timeout`.
#[derive(Message)]
#[rtype(result = "Result<Answer, PluginError>")]
pub struct CallPlugin {
    pub call: PluginCall,
    pub timeout: Duration,
}

/// Stop the program (removed or changed by a reload) and the actor with it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopPlugin;

/// One line the program wrote on stdout.
#[derive(Message)]
#[rtype(result = "()")]
struct PluginSaid {
    generation: u64,
    line: String,
}

/// The program's stdout closed and it was reaped.
#[derive(Message)]
#[rtype(result = "()")]
struct PluginExited {
    generation: u64,
    status: String,
}

type Reply = oneshot::Sender<Result<Answer, PluginError>>;

/// A request written and not answered yet.
struct InFlight {
    reply: Reply,
    wanted: PluginKind,
    sent_at: Instant,
}

/// A call waiting for the handshake.
struct Waiting {
    key: u64,
    call: PluginCall,
    timeout: Duration,
    reply: Reply,
}

enum Phase {
    /// Started; `hello` sent, not answered yet.
    Starting,
    Ready {
        kind: PluginKind,
        schema: SettingsSchema,
    },
    /// Not running, for `reason`; a start is scheduled.
    Down { reason: String },
    /// Stopped for good.
    Stopped,
}

/// The running program.
struct Running {
    group: i32,
    stdin: mpsc::UnboundedSender<String>,
    started_at: Instant,
    /// When it last wrote a line on stdout.
    last_heard: Instant,
    /// Why it was killed, when it was: the reason its requests fail with.
    killed_because: Option<String>,
}

pub struct PluginProcess {
    config: Arc<PluginConfig>,
    stats: Arc<PluginStats>,
    /// The running program's process group (0: none), shared with the directory so a stopping
    /// daemon can kill it without asking this actor.
    group: Arc<AtomicI32>,
    /// Numbers each program started, so what an old one says after a restart is ignored.
    generation: u64,
    phase: Phase,
    running: Option<Running>,
    in_flight: HashMap<u64, InFlight>,
    waiting: Vec<Waiting>,
    next_id: u64,
    backoff: Duration,
}

impl PluginProcess {
    pub fn new(config: Arc<PluginConfig>, stats: Arc<PluginStats>, group: Arc<AtomicI32>) -> Self {
        PluginProcess {
            config,
            stats,
            group,
            generation: 0,
            phase: Phase::Starting,
            running: None,
            in_flight: HashMap::new(),
            waiting: Vec::new(),
            next_id: 1,
            backoff: FIRST_BACKOFF,
        }
    }

    fn name(&self) -> String {
        self.config.name.to_string()
    }

    fn start_program(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        let generation = self.generation;
        let name = self.config.name.clone();
        let mut command = Command::new(&self.config.argv[0]);
        command
            .args(&self.config.argv[1..])
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                let reason = format!(
                    "cannot start `{}`: {}",
                    self.config.argv[0],
                    crate::process::describe_io_error(&error)
                );
                self.went_down(reason, ctx);
                return;
            }
        };
        let group = child.id().map_or(0, |pid| pid as i32);
        self.group.store(group, Ordering::Relaxed);
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(group);
            self.went_down("its standard streams could not be opened".into(), ctx);
            return;
        };
        let (lines, mut to_write) = mpsc::unbounded_channel::<String>();
        // One writer, so lines never interleave; it ends when the program is replaced.
        actix::spawn(async move {
            while let Some(line) = to_write.recv().await {
                if stdin.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let addr = ctx.address();
        actix::spawn(async move {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            while let Some(complete) = read_line(&mut stdout, &mut line).await {
                if complete {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    addr.do_send(PluginSaid {
                        generation,
                        line: text,
                    });
                }
                line.clear();
            }
            let status = match child.wait().await {
                Ok(status) => crate::process::describe_status(&status),
                Err(error) => crate::process::describe_io_error(&error),
            };
            addr.do_send(PluginExited { generation, status });
        });
        let stderr_name = name.clone();
        actix::spawn(async move {
            let mut stderr = BufReader::new(stderr);
            let mut line = Vec::new();
            while let Some(complete) = read_line(&mut stderr, &mut line).await {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                match (text.is_empty(), complete) {
                    (true, _) => {}
                    (false, true) => log::info!(plugin = &*stderr_name; "{text}"),
                    (false, false) => {
                        log::info!(plugin = &*stderr_name; "{text}… (line cut at {MAX_LINE} bytes)")
                    }
                }
                line.clear();
            }
        });
        let hello = line_of(&Request::Hello { protocol: PROTOCOL });
        let _ = lines.send(hello);
        let now = Instant::now();
        self.running = Some(Running {
            group,
            stdin: lines,
            started_at: now,
            last_heard: now,
            killed_because: None,
        });
        self.phase = Phase::Starting;
        log::debug!(plugin = &*name, pid = group; "plugin started; waiting for its hello");
        ctx.run_later(HELLO_TIMEOUT, move |act, _| {
            if act.generation == generation && matches!(act.phase, Phase::Starting) {
                act.kill(format!(
                    "it did not answer `hello` within {}",
                    shown(HELLO_TIMEOUT)
                ));
            }
        });
    }

    /// Kills the program's group; its exit (reaped by the stdout task) fails what was in
    /// flight with `reason` and schedules the next start.
    fn kill(&mut self, reason: String) {
        if let Some(running) = &mut self.running {
            if running.killed_because.is_none() {
                log::warn!(plugin = &*self.config.name; "killing the plugin: {reason}");
                running.killed_because = Some(reason);
            }
            kill_group(running.group);
        }
    }

    /// The program is not running: fail every call it had, and start it again later.
    fn went_down(&mut self, reason: String, ctx: &mut Context<Self>) {
        if let Some(running) = self.running.take() {
            if running.started_at.elapsed() >= HEALTHY_RUN {
                self.backoff = FIRST_BACKOFF;
            }
        }
        self.group.store(0, Ordering::Relaxed);
        let plugin = self.name();
        for (_, request) in self.in_flight.drain() {
            let _ = request.reply.send(Err(PluginError::Exited {
                plugin: plugin.clone(),
                reason: reason.clone(),
            }));
        }
        if matches!(self.phase, Phase::Stopped) || super::ended() {
            self.phase = Phase::Stopped;
            return;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        log::warn!(plugin = &*plugin; "plugin is not running: {reason}; starting it again in {}", shown(wait));
        for waiting in self.waiting.drain(..) {
            let _ = waiting.reply.send(Err(PluginError::NotRunning {
                plugin: plugin.clone(),
                reason: reason.clone(),
            }));
        }
        self.phase = Phase::Down { reason };
        ctx.run_later(wait, |act, ctx| {
            if matches!(act.phase, Phase::Down { .. }) {
                act.stats.restarts.fetch_add(1, Ordering::Relaxed);
                act.start_program(ctx);
            }
        });
    }

    /// Writes `call` as a request, or answers at once why it cannot be.
    fn send(&mut self, call: PluginCall, timeout: Duration, reply: Reply, ctx: &mut Context<Self>) {
        let plugin = self.name();
        let Phase::Ready { kind, schema } = &self.phase else {
            return;
        };
        if *kind != call.wanted() {
            let _ = reply.send(Err(PluginError::WrongKind {
                plugin,
                kind: kind.name(),
                wanted: match call.wanted() {
                    PluginKind::Check => "check hosts",
                    PluginKind::Notifier => "deliver alerts",
                },
            }));
            return;
        }
        let problems = schema.problems(call.settings());
        if !problems.is_empty() {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let _ = reply.send(Err(PluginError::InvalidSettings {
                plugin,
                problems: problems.join("; "),
            }));
            return;
        }
        let Some(running) = &self.running else {
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        let wanted = call.wanted();
        let request = match call {
            PluginCall::Check { host, settings } => {
                self.stats.check_requests.fetch_add(1, Ordering::Relaxed);
                Request::Check(CheckRequest {
                    id,
                    host,
                    settings,
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
            PluginCall::Notify {
                event,
                group,
                settings,
            } => {
                self.stats.notify_requests.fetch_add(1, Ordering::Relaxed);
                Request::Notify(NotifyRequest {
                    id,
                    event,
                    group,
                    settings,
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
        };
        let _ = running.stdin.send(line_of(&request));
        self.in_flight.insert(
            id,
            InFlight {
                reply,
                wanted,
                sent_at: Instant::now(),
            },
        );
        let generation = self.generation;
        ctx.run_later(timeout, move |act, _| act.expire(id, generation, timeout));
    }

    /// `id` got no answer in time: fail it, and kill a program that said nothing since.
    fn expire(&mut self, id: u64, generation: u64, timeout: Duration) {
        let Some(request) = self.in_flight.remove(&id) else {
            return;
        };
        self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
        let after = shown(timeout);
        let _ = request.reply.send(Err(PluginError::TimedOut {
            plugin: self.name(),
            after: after.clone(),
        }));
        let silent = self
            .running
            .as_ref()
            .is_some_and(|r| r.last_heard < request.sent_at);
        if generation == self.generation && silent {
            self.kill(format!("it answered nothing for {after}"));
        }
    }

    fn handshake(&mut self, line: &str, ctx: &mut Context<Self>) {
        let hello: Hello = match serde_json::from_str(line) {
            Ok(hello) => hello,
            Err(error) => {
                self.kill(format!(
                    "it answered `hello` with {}: {error}",
                    quoted(line)
                ));
                return;
            }
        };
        if hello.protocol != PROTOCOL {
            self.kill(format!(
                "it speaks protocol {}; flowstate speaks {PROTOCOL}",
                hello.protocol
            ));
            return;
        }
        let schema = match SettingsSchema::compile(&hello.settings_schema) {
            Ok(schema) => schema,
            Err(error) => {
                self.kill(format!("its settings_schema is not a JSON Schema: {error}"));
                return;
            }
        };
        log::info!(plugin = &*self.config.name, kind = hello.kind.name(); "plugin ready");
        self.phase = Phase::Ready {
            kind: hello.kind,
            schema,
        };
        for waiting in std::mem::take(&mut self.waiting) {
            self.send(waiting.call, waiting.timeout, waiting.reply, ctx);
        }
    }

    fn answer(&mut self, line: &str) {
        let plugin = self.name();
        let answer: Answer = match serde_json::from_str(line) {
            Ok(answer) => answer,
            Err(error) => {
                log::warn!(plugin = &*plugin; "ignoring a line that is not an answer ({error}): {}", quoted(line));
                return;
            }
        };
        let id = answer.id();
        let Some(request) = self.in_flight.remove(&id) else {
            log::debug!(plugin = &*plugin, id = id; "an answer came after its request timed out");
            return;
        };
        let fits = matches!(
            (&answer, request.wanted),
            (Answer::Check(_), PluginKind::Check) | (Answer::Notify(_), PluginKind::Notifier)
        );
        let _ = request.reply.send(match fits {
            true => Ok(answer),
            false => Err(PluginError::BadAnswer {
                plugin,
                id,
                problem: format!("an answer to another kind of request: {}", quoted(line)),
            }),
        });
    }
}

impl Actor for PluginProcess {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_program(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(running) = &self.running {
            kill_group(running.group);
        }
    }
}

impl Handler<CallPlugin> for PluginProcess {
    type Result = ResponseFuture<Result<Answer, PluginError>>;

    fn handle(&mut self, msg: CallPlugin, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        let plugin = self.name();
        match &self.phase {
            Phase::Ready { .. } => self.send(msg.call, msg.timeout, reply, ctx),
            Phase::Starting => {
                let key = self.next_id;
                self.next_id += 1;
                self.waiting.push(Waiting {
                    key,
                    call: msg.call,
                    timeout: msg.timeout,
                    reply,
                });
                let timeout = msg.timeout;
                ctx.run_later(timeout, move |act, _| {
                    if let Some(at) = act.waiting.iter().position(|w| w.key == key) {
                        let waiting = act.waiting.remove(at);
                        act.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                        let _ = waiting.reply.send(Err(PluginError::TimedOut {
                            plugin: act.name(),
                            after: format!("{} (it is still starting)", shown(timeout)),
                        }));
                    }
                });
            }
            Phase::Down { reason } => {
                let _ = reply.send(Err(PluginError::NotRunning {
                    plugin,
                    reason: reason.clone(),
                }));
            }
            Phase::Stopped => {
                let _ = reply.send(Err(PluginError::Unknown(plugin)));
            }
        }
        let plugin = self.name();
        Box::pin(async move {
            answer.await.unwrap_or_else(|_| {
                Err(PluginError::Exited {
                    plugin,
                    reason: "the plugin was stopped".into(),
                })
            })
        })
    }
}

impl Handler<PluginSaid> for PluginProcess {
    type Result = ();

    fn handle(&mut self, msg: PluginSaid, ctx: &mut Context<Self>) {
        if msg.generation != self.generation || msg.line.is_empty() {
            return;
        }
        if let Some(running) = &mut self.running {
            running.last_heard = Instant::now();
        }
        match self.phase {
            Phase::Starting => self.handshake(&msg.line, ctx),
            Phase::Ready { .. } => self.answer(&msg.line),
            Phase::Down { .. } | Phase::Stopped => {}
        }
    }
}

impl Handler<PluginExited> for PluginProcess {
    type Result = ();

    fn handle(&mut self, msg: PluginExited, ctx: &mut Context<Self>) {
        if msg.generation != self.generation {
            return;
        }
        // What the program left running in its group goes with it (see crate::process).
        let reason = match self.running.as_ref() {
            Some(running) => {
                kill_group(running.group);
                running
                    .killed_because
                    .clone()
                    .unwrap_or_else(|| format!("it exited: {}", msg.status))
            }
            None => format!("it exited: {}", msg.status),
        };
        self.went_down(reason, ctx);
    }
}

impl Handler<StopPlugin> for PluginProcess {
    type Result = ();

    fn handle(&mut self, _: StopPlugin, ctx: &mut Context<Self>) {
        self.phase = Phase::Stopped;
        if let Some(running) = self.running.take() {
            kill_group(running.group);
        }
        self.group.store(0, Ordering::Relaxed);
        let plugin = self.name();
        for (_, request) in self.in_flight.drain() {
            let _ = request.reply.send(Err(PluginError::Exited {
                plugin: plugin.clone(),
                reason: "the configuration changed".into(),
            }));
        }
        ctx.stop();
    }
}

/// `SIGKILL` to process group `group` (0: none). Whether a signal was sent.
pub(super) fn kill_group(group: i32) -> bool {
    match Pid::from_raw(group) {
        Some(pid) if group > 0 => kill_process_group(pid, Signal::KILL).is_ok(),
        _ => false,
    }
}

/// A request as one line.
fn line_of(request: &Request) -> String {
    let mut line = serde_json::to_string(request).unwrap_or_default();
    line.push('\n');
    line
}

/// The start of a line a plugin wrote, quoted for a message.
fn quoted(line: &str) -> String {
    let mut shown: String = line.chars().take(200).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// Reads one line into `line` (without its newline). `None` at the end of the stream;
/// `Some(false)` for a line longer than [`MAX_LINE`], whose rest is skipped.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> Option<bool> {
    let mut complete = true;
    loop {
        let available = match reader.fill_buf().await {
            Ok(available) => available,
            Err(_) => return None,
        };
        if available.is_empty() {
            return (!line.is_empty()).then_some(complete);
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        let kept = taken.min(room);
        line.extend_from_slice(&available[..kept]);
        if kept < taken {
            complete = false;
        }
        reader.consume(taken);
        if done {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            return Some(complete);
        }
    }
}
