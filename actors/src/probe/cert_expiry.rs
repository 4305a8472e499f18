//! When a server's TLS certificate expires, read with a handshake of our own.
//!
//! awc never exposes the peer certificate, so the HTTP probe asks here, at most once per
//! `tls.expiry_check_every` per host (one extra handshake an hour is nothing; one per check
//! would double the load on the server). The verifier used here accepts every certificate and
//! only keeps the server's: whether the certificate is *trusted* is the HTTP request's own
//! verdict; this only reads a date, also from an expired or untrusted certificate, so the
//! reason can say "expired on ...".

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::ServerName;

use crate::tls::RecordingVerifier;

/// What was last read for each host, per probe thread (hosts stay on one thread).
#[derive(Default, Clone)]
pub struct ExpiryCache {
    entries: Rc<RefCell<HashMap<Arc<str>, Reading>>>,
}

#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    not_after: Option<SystemTime>,
}

impl ExpiryCache {
    /// Drops the reading of `label`.
    pub fn forget(&self, label: &str) {
        self.entries.borrow_mut().remove(label);
    }

    /// How many hosts have a reading.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// The certificate's `notAfter` for `label`, read again when the last reading is older than
    /// `every` (a failed reading is retried just as late: a server that breaks handshakes
    /// is reported by the request itself).
    pub async fn not_after(
        &self,
        label: &Arc<str>,
        host: &str,
        port: u16,
        every: Duration,
    ) -> Option<SystemTime> {
        let cached = self.entries.borrow().get(label).copied();
        if let Some(reading) = cached.filter(|r| r.at.elapsed() < every) {
            return reading.not_after;
        }
        let not_after = match read_not_after(host, port).await {
            Ok(at) => Some(at),
            Err(e) => {
                log::debug!(host = &**label, error = e.as_str(); "could not read the certificate's expiry");
                cached.and_then(|r| r.not_after)
            }
        };
        self.entries.borrow_mut().insert(
            label.clone(),
            Reading {
                at: Instant::now(),
                not_after,
            },
        );
        not_after
    }
}

/// Connects to `host:port`, completes a TLS handshake, and returns the server certificate's
/// `notAfter`.
pub async fn read_not_after(host: &str, port: u16) -> Result<SystemTime, String> {
    // Any certificate is accepted (and kept): the date is wanted also from an expired one.
    let webpki = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let verifier = RecordingVerifier::new(webpki, true)?;
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
    let stream = actix_rt::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    // The handshake is only needed as far as the certificate; its outcome does not matter.
    let _ = connector.connect(name, stream).await;
    let der = verifier
        .leaf()
        .ok_or_else(|| "the server sent no certificate".to_string())?;
    not_after_of(&der)
}

/// `notAfter` of a DER certificate.
pub fn not_after_of(der: &[u8]) -> Result<SystemTime, String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let seconds = certificate.validity().not_after.timestamp();
    Ok(if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    } else {
        UNIX_EPOCH
    })
}

/// A date as reasons print it: `2026-12-05`.
pub fn day(at: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    text.get(..10).unwrap_or(&text).to_string()
}

/// Whole days from `now` until `at` (negative when past).
pub fn days_until(at: SystemTime, now: SystemTime) -> i64 {
    match at.duration_since(now) {
        Ok(ahead) => (ahead.as_secs() / 86_400) as i64,
        Err(past) => -((past.duration().as_secs() / 86_400) as i64) - 1,
    }
}

/// Marks a passing outcome `degraded` when the certificate expires within `warning`, with
/// the date in the detail: `status 200; certificate expires on 2026-12-05 (in 6 days)`.
pub fn degrade_if_expiring(
    outcome: &mut super::ProbeOutcome,
    not_after: SystemTime,
    warning: Duration,
    now: SystemTime,
) {
    if !outcome.ok || outcome.degraded || not_after >= crate::clock::system_after(now, warning) {
        return;
    }
    let when = match days_until(not_after, now) {
        d if d < 0 => format!("expired on {}", day(not_after)),
        0 => format!("expires on {} (today)", day(not_after)),
        1 => format!("expires on {} (tomorrow)", day(not_after)),
        d => format!("expires on {} (in {d} days)", day(not_after)),
    };
    outcome.degraded = true;
    outcome.detail = format!("{}; certificate {when}", outcome.detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_forgotten_host_has_no_reading_left() {
        let cache = ExpiryCache::default();
        let label: Arc<str> = Arc::from("api");
        // Nothing listens on port 1: the reading is a failed one, still kept per host.
        let _ = cache
            .not_after(&label, "127.0.0.1", 1, Duration::from_secs(3600))
            .await;
        assert_eq!(cache.len(), 1);
        cache.forget("other");
        assert_eq!(cache.len(), 1);
        cache.forget("api");
        assert!(cache.is_empty());
    }

    #[test]
    fn a_warning_too_long_for_the_clock_warns_of_every_certificate() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut outcome = super::super::ProbeOutcome::passed("status 200");
        let not_after = now + Duration::from_secs(400 * 86_400);
        degrade_if_expiring(&mut outcome, not_after, Duration::MAX, now);
        assert!(outcome.degraded, "{outcome:?}");
        assert!(outcome.detail.ends_with("(in 400 days)"), "{outcome:?}");
    }

    #[test]
    fn days_count_down_and_past_dates_are_negative() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            days_until(now + Duration::from_secs(7 * 86_400 + 5), now),
            7
        );
        assert_eq!(days_until(now + Duration::from_secs(3600), now), 0);
        assert_eq!(days_until(now - Duration::from_secs(3600), now), -1);
        assert_eq!(
            day(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            "2027-01-15"
        );
    }
}
