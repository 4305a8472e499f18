//! The HTTP API (SPEC §4, §7, §9): health, readiness, the hosts' state and their history,
//! served with actix-web. The history routes are in [`history`], announcements and silences
//! in [`announcements`] and [`silences`].

use std::net::SocketAddr;
use std::time::Duration;

use actix::prelude::*;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use flowstate_config::host::Secrets;
use flowstate_config::FingerprintKey;
use serde_json::json;

use std::sync::Arc;

use crate::messages::{
    AlertHolds, GetAlertHolds, GetHost, GetHostSparklines, GetHosts, GetReadiness,
    GetRunningConfig, GetSchedulerStats, ReloadConfigNow, ReloadTrigger,
};
use crate::metrics::Metrics;
use crate::metrics::MetricsScope;
use crate::status_stream::StatusStream;
use crate::suppression::Hold;
use crate::web::login::{self, Caller};
use crate::web::session::Sessions;
use access::{Access, Need, SharedCredentials};
use throttle::Throttle;

pub mod access;
pub mod announcements;
pub mod cluster_view;
pub mod graph;
pub mod history;
pub mod silences;
pub mod stream;
pub mod throttle;
pub mod types;

use crate::web::status_page::{self, StatusPageCache};
use announcements::AnnouncementsApi;
use history::HistoryApi;
use silences::SilencesApi;
use types::{AvailabilityView, HostView};

/// How long a request waits for an actor before answering 503: a stuck actor shows up as an
/// unhealthy daemon instead of a hanging probe.
pub(crate) const ACTOR_DEADLINE: Duration = Duration::from_secs(2);

/// How long a write to the store that a person asked for (an announcement, a silence) may
/// take before the request is answered 503 and nothing changes.
pub(crate) const STORE_DEADLINE: Duration = Duration::from_secs(10);

/// What the routes answer from: the actors they ask, as recipients of the questions they ask
/// (the API knows no actor type), and what they read directly.
#[derive(Clone)]
pub struct ApiState {
    /// `/healthz` and `/api/v1/hosts` (the StateRegistry).
    pub hosts: Recipient<GetHosts>,
    /// `/api/v1/hosts/{label}` (the StateRegistry).
    pub host: Recipient<GetHost>,
    /// `/api/v1/scheduler` (the StateRegistry).
    pub scheduler_stats: Recipient<GetSchedulerStats>,
    /// `/readyz` (the Supervisor).
    pub readiness: Recipient<GetReadiness>,
    /// `POST /-/reload` (the Supervisor).
    pub reload: Recipient<ReloadConfigNow>,
    /// `/api/v1/config` (the Supervisor).
    pub running_config: Recipient<GetRunningConfig>,
    pub metrics: Arc<Metrics>,
    /// `server.token` and the tenants' tokens: one of them is required by `/api/*` and `/-/*`
    /// when any is set; a reload may change them.
    pub credentials: SharedCredentials,
    /// Addresses that sent too many wrong tokens lately.
    pub throttle: Throttle,
    /// Drawn at start, so fingerprints of one daemon say nothing about another's.
    pub fingerprint_key: FingerprintKey,
    /// The history routes and the hosts' availability; `None` without a state store.
    pub history: Option<HistoryApi>,
    /// The dashboard's sparklines (the StateRegistry).
    pub sparklines: Recipient<GetHostSparklines>,
    /// Maintenance, silences, flapping and parents holding alerts back, and each host's last
    /// event that was not sent (the AlertRouter).
    pub alert_holds: Recipient<GetAlertHolds>,
    /// This agent's standing in the cluster (`GET /api/v1/cluster`); `None` without `cluster:`.
    pub cluster: Option<crate::cluster::agent::ClusterStatus>,
    /// The locations' verdicts on a host, from the cluster database (the ClusterAgent).
    pub cluster_verdicts: Option<Recipient<crate::cluster::agent::GetVerdicts>>,
    /// Each location's availability of a host, from the cluster's rollups (the ClusterAgent).
    pub cluster_availability: Option<Recipient<crate::cluster::agent::GetLocationAvailability>>,
    /// `/api/v1/stream`: every transition, live and the last 1000 for replay.
    pub stream: StatusStream,
    /// The pages' logins when `server.token` is set.
    pub sessions: Sessions,
    /// Announcements for the status page.
    pub announcements: AnnouncementsApi,
    /// Silences: alerts muted for some hosts until a time; its book is the AlertRouter's too.
    pub silences: SilencesApi,
    /// The public status page as last rendered.
    pub status_page: StatusPageCache,
}

/// What `request` may do when it may use a protected endpoint for `need`; otherwise the
/// answer. Scripts present a bearer token; the dashboard's script sends the session cookie of
/// its login, and what it changes (any method but GET and HEAD) must come from a page of this
/// daemon. The caller still filters what it answers with [`Access::sees`].
pub(crate) async fn admitted(
    request: &HttpRequest,
    state: &ApiState,
    need: Need,
) -> Result<Access, HttpResponse> {
    let access = match crate::web::login::caller(request, state).await {
        Caller::Anyone => Access::everything(),
        Caller::Bearer(access) => access,
        Caller::Session { access, .. } => {
            let reads = matches!(*request.method(), Method::GET | Method::HEAD);
            if !reads && !crate::web::login::same_origin(request) {
                return Err(HttpResponse::Forbidden().json(json!({
                    "error": "refused: a request with the session cookie that changes something must come from a page of this flowstate"
                })));
            }
            access
        }
        Caller::Stranger => return Err(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(json!({ "error": "missing or wrong bearer token; send Authorization: Bearer <server.token or your tenant's token>" }))),
        Caller::Throttled(wait) => {
            let seconds = wait.as_secs().max(1);
            return Err(HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, seconds.to_string()))
                .json(json!({ "error": format!("too many wrong tokens from this address; try again in {seconds} s") })));
        }
        // A poisoned lock means a writer panicked mid-update: refuse rather than open the API.
        Caller::Unknowable => return Err(HttpResponse::ServiceUnavailable().finish()),
    };
    match access.lacks(need) {
        Some(why) => Err(HttpResponse::Forbidden().json(json!({ "error": why }))),
        None => Ok(access),
    }
}

/// Compares without stopping at the first difference, so response time does not reveal how
/// much of a guessed token was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Binds `listen` without starting anything: done before the actors start, so an address in
/// use or not on this machine ends the program with one clear line instead of tearing down a
/// half-started actor system.
pub fn bind(listen: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(listen)
}

/// Serves the API on `listener` (from [`bind`]) and returns the server, to be awaited or
/// spawned by the caller, with the address it really listens on (port 0 picks a free one).
pub fn serve(
    listener: std::net::TcpListener,
    state: ApiState,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let address = listener.local_addr()?;
    let bound = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics))
            .route("/api/v1/hosts", web::get().to(hosts))
            // A tenant's labels have a `/` (`team-a/api`), written as it is or as `%2F`:
            // the label runs to the route's last segment, so the two routes that end in a
            // word of their own come first.
            .route(
                "/api/v1/hosts/{label:.+}/uptime",
                web::get().to(history::uptime),
            )
            .route(
                "/api/v1/hosts/{label:.+}/series",
                web::get().to(history::series),
            )
            .route("/api/v1/hosts/{label:.+}", web::get().to(host))
            .route("/api/v1/events", web::get().to(history::events))
            .route("/api/v1/graph", web::get().to(graph::serve))
            .route("/api/v1/cluster", web::get().to(cluster))
            .route("/status", web::get().to(status_page::status))
            .route("/status/feed.atom", web::get().to(status_page::atom))
            .route("/api/v1/announcements", web::get().to(announcements::list))
            .route(
                "/api/v1/announcements",
                web::post().to(announcements::create),
            )
            .route(
                "/api/v1/announcements/{id}/updates",
                web::post().to(announcements::update),
            )
            .route(
                "/api/v1/announcements/{id}",
                web::delete().to(announcements::delete),
            )
            .route("/api/v1/silences", web::get().to(silences::list))
            .route("/api/v1/silences", web::post().to(silences::create))
            .route("/api/v1/silences/{id}", web::delete().to(silences::delete))
            .route("/api/v1/scheduler", web::get().to(scheduler))
            .route("/-/reload", web::post().to(reload))
            .route("/api/v1/config", web::get().to(running_config))
            .route("/api/v1/stream", web::get().to(stream::stream))
            .configure(crate::web::configure)
            .default_service(web::to(not_found))
    })
    // The API is small; one worker keeps threads for the checks.
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?;
    Ok((bound.run(), address))
}

pub(crate) fn unavailable(what: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(json!({ "error": format!("{what} did not answer") }))
}

async fn healthz(state: web::Data<ApiState>) -> HttpResponse {
    match state.hosts.send(GetHosts).timeout(ACTOR_DEADLINE).await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        Err(_) => unavailable("the state registry"),
    }
}

async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    match state
        .readiness
        .send(GetReadiness)
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
        Ok(Err(reason)) => HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .content_type("text/plain")
            .body(format!("not ready: {reason}\n")),
        Err(_) => unavailable("the supervisor"),
    }
}

/// `/metrics` needs no token (Prometheus scrapes it as it is), but what it shows depends on
/// the one presented: see [`MetricsScope`].
async fn metrics(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let credentials = match state.credentials.read() {
        Ok(credentials) => Arc::clone(&credentials),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let caller = crate::web::login::caller(&request, &state).await;
    if let Caller::Throttled(wait) = caller {
        return login::too_many_tries(wait);
    }
    let access = caller.access();
    let scope = match (&access, credentials.tenants()) {
        (Some(access), _) => access
            .tenant()
            .map_or(MetricsScope::Everything, MetricsScope::Tenant),
        (None, []) => MetricsScope::Everything,
        (None, _) => MetricsScope::Platform,
    };
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(state.metrics.render_scoped(scope))
}

async fn hosts(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    match state.hosts.send(GetHosts).timeout(ACTOR_DEADLINE).await {
        Ok(mut hosts) => {
            with_cluster_hosts(&state, &mut hosts).await;
            hosts.retain(|host| access.sees(&host.label));
            with_availability(&state, &mut hosts);
            with_all_holds(&state, &mut hosts).await;
            HttpResponse::Ok().json(hosts)
        }
        Err(_) => unavailable("the state registry"),
    }
}

/// The running configuration, whole (every host, not only this agent's share); `None` when
/// the Supervisor does not answer in time.
async fn whole_config(state: &ApiState) -> Option<Arc<flowstate_config::Config>> {
    state
        .running_config
        .send(GetRunningConfig)
        .timeout(ACTOR_DEADLINE)
        .await
        .ok()
}

/// In a cluster: every host, with its status by quorum, not only this agent's share.
pub(crate) async fn with_cluster_hosts(state: &ApiState, hosts: &mut Vec<HostView>) {
    if state.cluster_verdicts.is_none() {
        return;
    }
    if let Some(config) = whole_config(state).await {
        cluster_view::with_every_host(state.cluster_verdicts.as_ref(), &config, hosts).await;
    }
}

/// Fills each host's `availability` from the figures computed in the background: a lookup
/// per host, so 10 000 hosts cost no more than their JSON. Without a store it stays `null`.
pub(crate) fn with_availability<'a>(
    state: &ApiState,
    hosts: impl IntoIterator<Item = &'a mut HostView>,
) {
    let Some(history) = &state.history else {
        return;
    };
    let figures = history.availability.snapshot();
    for host in hosts {
        // A host with no transition in 30 days (or none computed yet) is known nowhere.
        host.availability = Some(
            figures
                .get(host.label.as_str())
                .map(AvailabilityView::from)
                .unwrap_or_default(),
        );
    }
}

/// Writes `message` through the store's `writer` before what it records takes effect: `Ok`
/// once written (or when there is no store: it lives in memory then); otherwise the `503`
/// answer saying `what` was not saved and why (the store's refusal, or no answer within
/// [`STORE_DEADLINE`]), so a change the store refused is refused to its author too.
pub(crate) async fn written_first<M>(
    writer: Option<&Recipient<M>>,
    message: M,
    what: &str,
) -> Result<(), HttpResponse>
where
    M: actix::Message<Result = Result<(), crate::store::StoreError>> + Send + 'static,
{
    let Some(writer) = writer else {
        return Ok(());
    };
    let why = match writer.send(message).timeout(STORE_DEADLINE).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the state store did not answer".to_string(),
    };
    Err(HttpResponse::ServiceUnavailable()
        .json(json!({ "error": format!("the {what} was not saved, nothing changed: {why}") })))
}

/// What holds back alerts of one host (`label`) or of all; empty when the router does not
/// answer in time: the hosts are still worth showing.
pub(crate) async fn alert_holds(
    state: &ApiState,
    label: Option<String>,
) -> std::collections::HashMap<String, AlertHolds> {
    state
        .alert_holds
        .send(GetAlertHolds { label })
        .timeout(ACTOR_DEADLINE)
        .await
        .unwrap_or_default()
}

/// Sets every host's `maintenance` and `silenced` from the router's holds: one question for
/// all of them.
pub(crate) async fn with_all_holds(state: &ApiState, hosts: &mut [HostView]) {
    let holds = alert_holds(state, None).await;
    for host in hosts {
        if let Some(holds) = holds.get(&host.label) {
            with_holds(host, holds);
        }
    }
}

/// Fills one host's holds and last suppressed event from the router.
pub(crate) async fn with_detail_holds(state: &ApiState, detail: &mut types::HostDetail) {
    let label = detail.host.label.clone();
    if let Some(holds) = alert_holds(state, Some(label.clone())).await.remove(&label) {
        with_holds(&mut detail.host, &holds);
        detail.holds = holds.holds;
        detail.last_suppressed = holds.last_suppressed;
    }
}

/// Sets the view's `maintenance` and `silenced` from the router's holds.
pub(crate) fn with_holds(host: &mut HostView, holds: &AlertHolds) {
    for hold in &holds.holds {
        match hold {
            Hold::Maintenance { name, .. } => host.maintenance = Some(name.clone()),
            Hold::Silence { id, .. } => host.silenced = Some(id.clone()),
            Hold::Parent { .. } | Hold::Flapping => {}
        }
    }
}

/// The 404 answer for a label the registry does not track.
fn no_such_host(label: &str) -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": format!("no host labelled {label:?}") }))
}

async fn host(
    request: HttpRequest,
    state: web::Data<ApiState>,
    label: web::Path<String>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let label = label.into_inner();
    // Another tenant's host is answered as one that does not exist: the same 404, the same
    // words, so a tenant cannot even learn which labels the others use.
    if !access.sees(&label) {
        return no_such_host(&label);
    }
    match host_detail(&state, &label).await {
        Ok(Some(mut detail)) => {
            with_availability(&state, [&mut detail.host]);
            with_detail_holds(&state, &mut detail).await;
            HttpResponse::Ok().json(detail)
        }
        Ok(None) => no_such_host(&label),
        Err(()) => unavailable("the state registry"),
    }
}

/// Host `label` as this agent knows it (`Err` when the registry does not answer in time). In
/// a cluster, with every location's verdict and the quorum's, and for a host another agent
/// checks, what the cluster database knows of it.
pub(crate) async fn host_detail(
    state: &ApiState,
    label: &str,
) -> Result<Option<types::HostDetail>, ()> {
    let here = state
        .host
        .send(GetHost {
            label: label.to_string(),
        })
        .timeout(ACTOR_DEADLINE)
        .await
        .map_err(|_| ())?;
    let config = match state.cluster_verdicts {
        Some(_) => whole_config(state).await,
        None => None,
    };
    let Some(config) = config else {
        return Ok(here);
    };
    let mut detail = match here {
        Some(detail) => detail,
        None => match config.host(label) {
            Some(host) => types::HostDetail {
                host: cluster_view::checked_elsewhere(host),
                history: Vec::new(),
                holds: Vec::new(),
                last_suppressed: None,
                locations: None,
            },
            None => return Ok(None),
        },
    };
    cluster_view::with_cluster_view(state, &config, &mut detail).await;
    if let (true, Some(cluster)) = (detail.host.elsewhere, &detail.host.cluster) {
        detail.host.status = crate::cluster::judge::alerted_status(cluster.status);
    }
    Ok(Some(detail))
}

/// `GET /api/v1/cluster`: this agent, the live agents, the leader (SPEC §10).
async fn cluster(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    if let Err(denied) = admitted(&request, &state, Need::Platform).await {
        return denied;
    }
    let Some(cluster) = &state.cluster else {
        return HttpResponse::NotFound().json(json!({
            "error": "this flowstate runs alone: add `cluster:` to the configuration to run agents against one PostgreSQL"
        }));
    };
    match cluster.read() {
        Ok(status) => HttpResponse::Ok().json(&*status),
        Err(_) => unavailable("the cluster status"),
    }
}

async fn scheduler(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    if let Err(denied) = admitted(&request, &state, Need::Platform).await {
        return denied;
    }
    match state
        .scheduler_stats
        .send(GetSchedulerStats)
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(stats) => HttpResponse::Ok().json(stats),
        Err(_) => unavailable("the state registry"),
    }
}

async fn reload(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Administer).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    // A tenant's admin reloads the whole configuration (each tenant's files are taken on
    // their own, so that touches no one else) but hears only of its own hosts.
    let own = |labels: &[Arc<str>]| -> Vec<Arc<str>> {
        labels
            .iter()
            .filter(|label| access.sees(label))
            .cloned()
            .collect()
    };
    match state
        .reload
        .send(ReloadConfigNow {
            trigger: ReloadTrigger::Request,
        })
        .timeout(ACTOR_DEADLINE * 5)
        .await
    {
        // Applied, also when a tenant's files were not taken (SPEC §12): their errors are
        // in the answer, and that tenant runs what it ran.
        Ok(Ok(applied)) => {
            let diff = &applied.diff;
            let mut answer = json!({
                "added": own(&diff.added),
                "removed": own(&diff.removed),
                "changed": diff.changed.iter().map(|c| &c.label).filter(|label| access.sees(label)).collect::<Vec<_>>(),
                "unchanged": own(&diff.unchanged),
            });
            // A tenant hears of its own files' errors only.
            let failed: Vec<_> = applied
                .failed_tenants
                .iter()
                .filter(|f| access.tenant().is_none_or(|t| t == &*f.tenant))
                .collect();
            if !failed.is_empty() {
                answer["failed_tenants"] =
                    json!(failed.iter().map(|f| &*f.tenant).collect::<Vec<_>>());
                answer["errors"] = json!(failed
                    .iter()
                    .flat_map(|f| f.error.diagnostics.iter().map(ToString::to_string))
                    .collect::<Vec<_>>());
            }
            HttpResponse::Ok().json(answer)
        }
        // The main files are the platform team's: a tenant is told that much, not their text.
        Ok(Err(_)) if access.tenant().is_some() => HttpResponse::BadRequest().json(json!({
            "errors": ["the platform's configuration has errors, so nothing was reloaded; the platform team finds them in flowstate's log"]
        })),
        Ok(Err(errors)) => HttpResponse::BadRequest().json(json!({ "errors": errors })),
        Err(_) => unavailable("the supervisor"),
    }
}

/// The running configuration as fingerprints per host and setting under this process's key
/// (handed out with them): enough for `flowstate check --diff` to tell what a reload would
/// change, and no value. Secret values are fingerprinted only for a client that presented
/// `server.token`; without a token every client may ask, so they are left out
/// (`"secrets": "hidden"`).
async fn running_config(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    // Past `admitted`, a token that is set was presented. A tenant's token is not shown
    // fingerprints of secrets: they may come from the platform's environment (`${VAR}`).
    let open = state
        .credentials
        .read()
        .map(|c| c.is_open())
        .unwrap_or(false);
    let secrets = match (open, access.tenant()) {
        (false, None) => Secrets::Compared,
        _ => Secrets::Hidden,
    };
    match state
        .running_config
        .send(GetRunningConfig)
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(config) => {
            let hosts: Vec<_> = config
                .hosts()
                .iter()
                .filter(|host| access.sees(&host.label))
                .map(|host| {
                    let settings: serde_json::Map<String, serde_json::Value> = host
                        .fingerprints(&state.fingerprint_key, secrets)
                        .into_iter()
                        .map(|(key, fp)| (key.to_string(), serde_json::Value::String(fp)))
                        .collect();
                    json!({ "label": &*host.label, "settings": settings })
                })
                .collect();
            let maintenance: Vec<_> = config
                .maintenance
                .iter()
                .filter(|window| access.sees(&window.name))
                .map(|window| {
                    let settings: serde_json::Map<String, serde_json::Value> = window
                        .fingerprints(&state.fingerprint_key)
                        .into_iter()
                        .map(|(key, fp)| (key.to_string(), serde_json::Value::String(fp)))
                        .collect();
                    json!({ "name": &*window.name, "settings": settings })
                })
                .collect();
            HttpResponse::Ok().json(json!({
                "key": state.fingerprint_key.to_hex(),
                "secrets": match secrets {
                    Secrets::Compared => "compared",
                    Secrets::Hidden => "hidden",
                },
                "hosts": hosts,
                "maintenance": maintenance,
                // Names only: `flowstate status --tenant` tells a tenant without hosts (its
                // file broken since the start) from a typo.
                // A tenant learns of no other tenant.
                "tenants": config.tenants.iter().map(|t| &*t.name).filter(|name| access.tenant().is_none_or(|own| own == *name)).collect::<Vec<_>>(),
            }))
        }
        Err(_) => unavailable("the supervisor"),
    }
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": "not found; see /api/v1/hosts" }))
}
