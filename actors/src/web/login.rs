//! Who may see the pages when `server.token` is set, and the login that lets a browser in.
//!
//! A request is let in by the bearer header (scripts) or by a session cookie (browsers, see
//! [`super::session`]); pages send anyone else to `/login?next=<the page>`. The login form
//! takes the token once and compares it in constant time. Its POSTs (and every POST made with
//! a session cookie) must come from a page of this daemon: the cookie is `SameSite=Strict`,
//! and the `Origin` (or, without one, the `Referer`) must name this host, else 403.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layout::{html_response, page, Chrome};
use super::session::{self, cookie, over_tls, session_id};
use crate::api::access::{verify_hashed_off_thread, Access, Credentials};
use crate::api::ApiState;

/// Who a request is, as far as the tokens go (`server.token` and the tenants').
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No token is set: everyone may do everything.
    Anyone,
    /// Presented a token in `Authorization: Bearer`.
    Bearer(Access),
    /// Holds a valid session cookie.
    Session { id: String, access: Access },
    /// A token is set and the request has neither a right one nor a session.
    Stranger,
    /// Its address sent too many wrong tokens lately: its token is not looked at for this
    /// long.
    Throttled(Duration),
    /// The tokens cannot be read (a writer panicked mid-update): refuse rather than open.
    Unknowable,
}

impl Caller {
    /// What the caller may do; `None` when it is not let in at all.
    pub fn access(&self) -> Option<Access> {
        match self {
            Caller::Anyone => Some(Access::everything()),
            Caller::Bearer(access) | Caller::Session { access, .. } => Some(access.clone()),
            Caller::Stranger | Caller::Throttled(_) | Caller::Unknowable => None,
        }
    }

    pub fn is_let_in(&self) -> bool {
        self.access().is_some()
    }

    pub fn chrome(&self) -> Chrome {
        match self {
            Caller::Session { .. } => Chrome::LoggedIn,
            _ => Chrome::Plain,
        }
    }
}

/// The token in `Authorization: Bearer`, if the request has one.
fn bearer(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110 §11.1) and may be followed by spaces.
            let (scheme, credentials) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credentials.trim_start())
        })
}

/// Who `presented` (from `request`) is. Tokens written in the configuration, and hashed ones
/// that verified before, are cheap to compare and always are. Verifying argon2 hashes is not,
/// so an address that sent too many wrong tokens lately is [`Caller::Throttled`] instead of
/// having its next one verified.
async fn checked(
    state: &ApiState,
    credentials: &Arc<Credentials>,
    request: &HttpRequest,
    presented: String,
) -> Result<(Access, ring::digest::Digest), Caller> {
    if let Some(known) = credentials.identify_written(&presented) {
        return Ok(known);
    }
    if !credentials.has_hashes() {
        return Err(Caller::Stranger);
    }
    let address = request.peer_addr().map(|a| a.ip());
    if let Some(wait) = state.throttle.wait(address, Instant::now()) {
        return Err(Caller::Throttled(wait));
    }
    match verify_hashed_off_thread(Arc::clone(credentials), presented).await {
        Some(known) => Ok(known),
        None => {
            state.throttle.failed(address, Instant::now());
            Err(Caller::Stranger)
        }
    }
}

/// Who `request` is.
pub async fn caller(request: &HttpRequest, state: &ApiState) -> Caller {
    let credentials = match state.credentials.read() {
        Ok(credentials) => Arc::clone(&credentials),
        Err(_) => return Caller::Unknowable,
    };
    if credentials.is_open() {
        return Caller::Anyone;
    }
    if let Some(presented) = bearer(request) {
        // A wrong bearer token is not saved by a cookie: scripts get a clear 401.
        return match checked(state, &credentials, request, presented.to_string()).await {
            Ok((access, _)) => Caller::Bearer(access),
            Err(caller) => caller,
        };
    }
    let Some(id) = session_id(request) else {
        return Caller::Stranger;
    };
    match state.sessions.access(&id, &credentials) {
        Some(access) => Caller::Session { id, access },
        None => Caller::Stranger,
    }
}

/// Whether `request` was sent by a page of this daemon: its `Origin` (or, when a browser
/// sends none, its `Referer`) names the host the request was sent to.
pub fn same_origin(request: &HttpRequest) -> bool {
    let info = request.connection_info();
    let host = info.host();
    // Both sides as URLs of the origin's scheme, so `host` and `host:80` compare equal.
    let named = |value: &str| {
        let Ok(origin) = url::Url::parse(value) else {
            return false;
        };
        let Ok(target) = url::Url::parse(&format!("{}://{host}/", origin.scheme())) else {
            return false;
        };
        origin.host_str().is_some()
            && origin.host_str() == target.host_str()
            && origin.port_or_known_default() == target.port_or_known_default()
    };
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && *v != "null")
    };
    match (header(header::ORIGIN), header(header::REFERER)) {
        (Some(origin), _) => named(origin),
        (None, Some(referer)) => named(referer),
        (None, None) => false,
    }
}

/// Where to go after logging in: `next` when it is a path on this daemon, else `/`. Never
/// another site (`//evil`, `/\evil`, `https://...`), so a link cannot use the login to
/// send someone elsewhere.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control()) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The answer for a page `request` may not see: to the login, coming back here after.
pub fn to_login(request: &HttpRequest, caller: &Caller) -> HttpResponse {
    match caller {
        Caller::Unknowable => {
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("the token cannot be read; try again\n")
        }
        Caller::Throttled(wait) => return too_many_tries(*wait),
        _ => {}
    }
    let here = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    see_other(&format!("/login?next={next}"))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The answer to an address that sent too many wrong tokens: try again in `wait`.
pub fn too_many_tries(wait: Duration) -> HttpResponse {
    let seconds = wait.as_secs().max(1);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "too many wrong tokens from this address; try again in {seconds} s\n"
        ))
}

fn refused_cross_site() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body("refused: this form must be sent from a page of this flowstate (Origin or Referer of another site, or none)\n")
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

fn login_page(next: &str, failed: bool) -> maud::Markup {
    page(
        "Log in",
        Chrome::Plain,
        None,
        html! {
            h1 { "Log in" }
            p { "This flowstate asks for its API token (" code { "server.token" } ", or your team's token)." }
            @if failed {
                p.error role="alert" { "That token is not right. Try again." }
            }
            form.login method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label for="token" {
                    "Token"
                    input #token type="password" name="token" autocomplete="current-password" required autofocus;
                }
                button type="submit" { "Log in" }
            }
        },
    )
}

/// `GET /login?next=`: the form; straight on to `next` when no login is needed.
pub async fn form(
    request: HttpRequest,
    state: web::Data<ApiState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let next = local_path(query.next.as_deref());
    if caller(&request, &state).await.is_let_in() {
        return see_other(&next);
    }
    html_response(StatusCode::OK, login_page(&next, false))
}

/// `POST /login`: token right, a session and on to `next`; wrong, the form again with 401.
pub async fn submit(
    request: HttpRequest,
    state: web::Data<ApiState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if !same_origin(&request) {
        return refused_cross_site();
    }
    let next = local_path(form.next.as_deref());
    let credentials = match state.credentials.read() {
        Ok(credentials) => Arc::clone(&credentials),
        Err(_) => return to_login(&request, &Caller::Unknowable),
    };
    if credentials.is_open() {
        return see_other(&next);
    }
    let form = form.into_inner();
    let (access, credential) = match checked(&state, &credentials, &request, form.token).await {
        Ok(known) => known,
        Err(Caller::Throttled(wait)) => return too_many_tries(wait),
        Err(_) => {
            let peer = request.peer_addr().map(|a| a.ip().to_string());
            log::info!(peer = peer.unwrap_or_default().as_str(); "dashboard login refused: wrong token");
            return html_response(StatusCode::UNAUTHORIZED, login_page(&next, true));
        }
    };
    match state.sessions.open(credential, access) {
        Ok(id) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::SET_COOKIE, cookie(Some(&id), over_tls(&request))))
            .finish(),
        Err(e) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!("{e}\n")),
    }
}

/// `POST /logout`: the session ends and its cookie is taken away.
pub async fn logout(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    if !same_origin(&request) {
        return refused_cross_site();
    }
    if let Some(id) = session_id(&request) {
        state.sessions.close(&id);
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::SET_COOKIE,
            session::cookie(None, over_tls(&request)),
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(
            local_path(Some("/hosts/api?window=7d")),
            "/hosts/api?window=7d"
        );
        for away in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "hosts",
            "",
        ] {
            assert_eq!(local_path(Some(away)), "/", "{away}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn only_this_host_is_the_same_origin() {
        let sent = |headers: &[(&str, &str)]| {
            let mut request = TestRequest::post().insert_header(("host", "127.0.0.1:9900"));
            for (name, value) in headers {
                request = request.insert_header((*name, *value));
            }
            same_origin(&request.to_http_request())
        };
        assert!(sent(&[("origin", "http://127.0.0.1:9900")]));
        assert!(sent(&[("referer", "http://127.0.0.1:9900/login?next=/")]));
        assert!(!sent(&[("origin", "http://evil.example")]));
        assert!(!sent(&[("origin", "http://127.0.0.1:9901")]));
        assert!(!sent(&[("origin", "null")]));
        // A foreign Origin is not saved by a local Referer.
        assert!(!sent(&[
            ("origin", "http://evil.example"),
            ("referer", "http://127.0.0.1:9900/")
        ]));
        assert!(!sent(&[]));
    }
}
