//! The web pages the daemon serves beside its API (SPEC §8): the dashboard, a page per host
//! and the public status page, rendered on the server so every page is complete without
//! scripts.
//!
//! - [`dashboard`]: `GET /`, every host with counts, filter, sort and live rows.
//! - [`host_page`]: `GET /hosts/{label}`, one host's chart, daily bars, incidents, checks
//!   and redacted configuration.
//! - [`login`] and [`session`]: who may see the pages when `server.token` is set; the login
//!   form and its cookie.
//! - [`layout`]: the document around every page, and how statuses and times are written.
//! - [`assets`]: the stylesheet and script, embedded and served under hashed names.
//! - [`charts`]: inline SVG charts (sparklines, latency over a window, daily availability).
//! - [`status_page`]: the public status page and its announcements' Atom feed.

use actix_web::web;

pub mod assets;
pub mod charts;
pub mod dashboard;
pub mod host_page;
pub mod layout;
pub mod login;
pub mod session;
pub mod status_page;

/// Registers the pages' routes; [`crate::api::serve`] calls it, so the pages share the API's
/// state ([`crate::api::ApiState`]), listener and token.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard::dashboard))
        .route("/hosts/{label:.+}", web::get().to(host_page::host_page))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/assets/{name}", web::get().to(assets::serve));
}
