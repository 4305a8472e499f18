//! The HTTP API (SPEC §4): health, readiness and the hosts' state, served with actix-web.

use std::net::SocketAddr;
use std::time::Duration;

use actix::prelude::*;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

use crate::messages::{GetHost, GetHosts, GetReadiness, GetSchedulerStats};
use crate::state_registry::StateRegistry;
use crate::supervisor::Supervisor;

/// How long a request waits for an actor before answering 503: a stuck actor shows up as an
/// unhealthy daemon instead of a hanging probe.
const ACTOR_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct ApiState {
    pub registry: Addr<StateRegistry>,
    pub supervisor: Addr<Supervisor>,
}

/// Binds `listen` and returns the server, to be awaited or spawned by the caller, with the
/// address it really listens on (port 0 picks a free one).
pub fn serve(
    listen: SocketAddr,
    state: ApiState,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let bound = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/api/v1/hosts", web::get().to(hosts))
            .route("/api/v1/hosts/{label}", web::get().to(host))
            .route("/api/v1/scheduler", web::get().to(scheduler))
            .default_service(web::to(not_found))
    })
    // The API is small; one worker keeps threads for the checks.
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(listen)?;
    let address = bound.addrs().first().copied().unwrap_or(listen);
    Ok((bound.run(), address))
}

fn unavailable(what: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(json!({ "error": format!("{what} did not answer") }))
}

async fn healthz(state: web::Data<ApiState>) -> HttpResponse {
    match state.registry.send(GetHosts).timeout(ACTOR_DEADLINE).await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        Err(_) => unavailable("the state registry"),
    }
}

async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    match state
        .supervisor
        .send(GetReadiness)
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(true) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
        Ok(false) => HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .content_type("text/plain")
            .body("not ready\n"),
        Err(_) => unavailable("the supervisor"),
    }
}

async fn hosts(state: web::Data<ApiState>) -> HttpResponse {
    match state.registry.send(GetHosts).timeout(ACTOR_DEADLINE).await {
        Ok(hosts) => HttpResponse::Ok().json(hosts),
        Err(_) => unavailable("the state registry"),
    }
}

async fn host(state: web::Data<ApiState>, label: web::Path<String>) -> HttpResponse {
    let label = label.into_inner();
    match state
        .registry
        .send(GetHost {
            label: label.clone(),
        })
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(Some(detail)) => HttpResponse::Ok().json(detail),
        Ok(None) => {
            HttpResponse::NotFound().json(json!({ "error": format!("no host labelled {label:?}") }))
        }
        Err(_) => unavailable("the state registry"),
    }
}

async fn scheduler(state: web::Data<ApiState>) -> HttpResponse {
    match state
        .registry
        .send(GetSchedulerStats)
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(stats) => HttpResponse::Ok().json(stats),
        Err(_) => unavailable("the state registry"),
    }
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": "not found; see /api/v1/hosts" }))
}
