//! Login sessions for the pages when `server.token` is set: a random id in an `HttpOnly`,
//! `SameSite=Strict` cookie, known to this process only, valid for [`LIFETIME`].
//!
//! Sessions live in memory: a restart logs everyone out, which is a fair price for storing no
//! credential anywhere. Each session remembers a fingerprint of the token it was opened with
//! (`server.token` or a tenant's) and what that token may do, so changing or removing the
//! token (a reload) ends every session opened with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use ring::digest;

use crate::api::access::{Access, Credentials};
use ring::rand::{SecureRandom, SystemRandom};

/// The cookie's name.
pub const COOKIE: &str = "flowstate_session";

/// How long a session lasts after its login.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Sessions are pruned when there are more than this many (each login adds one; a script that
/// logs in in a loop must not grow memory without bound).
const MAX_SESSIONS: usize = 10_000;

/// Random bytes in a session id.
const ID_BYTES: usize = 32;

/// The open sessions, shared by every worker of the API.
#[derive(Clone, Default)]
pub struct Sessions {
    open: Arc<Mutex<HashMap<String, Session>>>,
}

struct Session {
    expires: Instant,
    /// The fingerprint of the credential this session was opened with.
    credential: digest::Digest,
    /// What that credential allowed at the login.
    access: Access,
}

/// The system's random source failed: no session id can be drawn.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed; no session can be opened")]
pub struct NoRandomness;

impl Sessions {
    /// Opens a session for a login with the credential of fingerprint `credential`, which
    /// allows `access`; its id.
    pub fn open(&self, credential: digest::Digest, access: Access) -> Result<String, NoRandomness> {
        let mut bytes = [0u8; ID_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| NoRandomness)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= MAX_SESSIONS {
            open.retain(|_, s| s.expires > now);
            // Still full: the oldest logins make room.
            while open.len() >= MAX_SESSIONS {
                let Some(oldest) = open
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                open.remove(&oldest);
            }
        }
        open.insert(
            id.clone(),
            Session {
                expires: now + LIFETIME,
                credential,
                access,
            },
        );
        Ok(id)
    }

    /// What session `id` may do: the access of its login while its credential is still
    /// configured and allows the same. An expired session, or one whose credential changed,
    /// is forgotten.
    pub fn access(&self, id: &str, credentials: &Credentials) -> Option<Access> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let session = open.get(id)?;
        let still = credentials
            .by_fingerprint(&session.credential)
            .filter(|now| *now == session.access);
        if session.expires <= Instant::now() || still.is_none() {
            open.remove(id);
            return None;
        }
        still
    }

    /// Ends session `id` (logout).
    pub fn close(&self, id: &str) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

/// The session id the request's cookie carries, if any. (Read by hand: one cookie of one
/// name does not need actix-web's cookie feature.)
pub fn session_id(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the request came over TLS, directly or through a proxy that says so: the cookie is
/// then `Secure`.
pub fn over_tls(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that gives the browser session `id`, or (with `None`) takes it away.
pub fn cookie(id: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            LIFETIME.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(token: &str) -> Credentials {
        let config = flowstate_config::load_str(
            "t.yaml",
            &format!("server:\n  token: {token}\nhosts: []\n"),
            &|_| None,
        )
        .expect("valid config");
        Credentials::of(&config)
    }

    #[test]
    fn a_session_is_valid_for_its_token_only_and_until_closed() {
        let secret = credentials("secret");
        let (access, print) = secret.identify_written("secret").expect("the token");
        let sessions = Sessions::default();
        let id = sessions.open(print, access.clone()).expect("random ids");
        assert_eq!(id.len(), 2 * ID_BYTES);
        assert_eq!(sessions.access(&id, &secret), Some(access.clone()));
        assert_eq!(sessions.access("nope", &secret), None);
        let other = sessions.open(print, access).expect("random ids");
        assert_ne!(id, other);
        // The token changed: the session is gone, even if it changes back.
        assert_eq!(sessions.access(&id, &credentials("rotated")), None);
        assert_eq!(sessions.access(&id, &secret), None);
        sessions.close(&other);
        assert_eq!(sessions.access(&other, &secret), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let set = cookie(Some("abc"), false);
        assert_eq!(
            set,
            "flowstate_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
        );
        assert!(cookie(Some("abc"), true).ends_with("; Secure"));
        assert!(cookie(None, false).contains("Max-Age=0"));
    }
}
