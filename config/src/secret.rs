//! Secrets and redaction: what must never reach a log line, an error or `flowstate check`.
//!
//! Secrets are held in [`Secret`], whose `Debug` and `Display` print `***`; header values are
//! redacted by name (and whenever they came from an environment variable); URLs lose their
//! password and the values of credential-like query parameters.

use std::fmt;

use url::Url;

/// What a redacted value prints as.
pub const REDACTED: &str = "***";

/// Values shorter than this are not hunted down in free text: a `${PORT}` of `80` or a
/// `${DEBUG}` of `1` would blank out every number of the output, and a secret that short
/// protects nothing. Structural redaction (headers, URLs, auth) hides them all the same.
const SHORTEST_REDACTED_IN_TEXT: usize = 4;

/// Every value `${VAR}` brought in from the environment, whatever setting it landed in (an
/// address, a DNS name, a path, a username, part of a URL), so printed text can be redacted
/// as a whole rather than setting by setting, where one forgotten place leaks.
#[derive(Clone, Default)]
pub struct EnvValues(Vec<Secret>);

impl EnvValues {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.trim().chars().count() >= SHORTEST_REDACTED_IN_TEXT)
            .collect();
        // Longest first, so a value that contains another is hidden whole.
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        EnvValues(values.into_iter().map(Secret).collect())
    }

    /// The values, for a configuration that keeps part of another (see `tenant_reload.rs`).
    pub(crate) fn values(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(|v| v.expose().to_string())
    }

    /// `text` with every environment value in it, also percent-encoded (as in a URL), shown
    /// as `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.0 {
            let value = value.expose();
            out = out.replace(value, REDACTED);
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            if encoded != value {
                out = out.replace(&encoded, REDACTED);
            }
        }
        out
    }
}

impl fmt::Debug for EnvValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvValues({} values, {REDACTED})", self.0.len())
    }
}

/// A value that must never be printed: a token, a password, a routing key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that sends it (a request header, a comparison).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Name fragments that mark a header or query parameter as a credential.
const SENSITIVE_FRAGMENTS: &[&str] = &[
    "auth",
    "cookie",
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "session",
    "signature",
    "credential",
];

/// Whether a header or query parameter of this name usually carries a credential.
pub fn is_sensitive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_FRAGMENTS.iter().any(|f| lower.contains(f))
}

/// The URL as it may be shown: the password and credential-like query values replaced.
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Cannot fail for URLs that already carry a password (they have a host).
        let _ = shown.set_password(Some(REDACTED));
    }
    // The query is rewritten only when something in it is hidden: rewriting re-encodes it,
    // and a URL without secrets should read (and fingerprint) exactly as written.
    if shown.query_pairs().any(|(k, _)| is_sensitive_name(&k)) {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_sensitive_name(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// The URL as it may be shown, given `masked`, its text as written with every `${VAR}`
/// replaced by `***` (when it had any): the parts that came from the environment are hidden
/// wherever they are (query, path, user, fragment, host), besides what [`redact_url`] hides.
/// When the masked text is no URL (the variable was the scheme or the port, or all of it),
/// nothing of it is shown.
pub fn shown_url(url: &Url, masked: Option<&str>) -> String {
    match masked {
        None => redact_url(url),
        Some(masked) => match Url::parse(masked.trim()) {
            Ok(parsed) => redact_url(&parsed),
            Err(_) => REDACTED.to_string(),
        },
    }
}

/// Only the scheme and host of a URL: for webhook URLs, whose path is often the secret
/// (Slack and Discord put the token there).
pub fn redact_url_path(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{}/{REDACTED}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        port
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_hidden_in_any_text_longest_first_and_url_encoded() {
        let values = EnvValues::new([
            "db.example.internal".to_string(),
            "example".to_string(),
            "p@ss word".to_string(),
            "80".to_string(),
        ]);
        assert_eq!(
            values.redact("db.example.internal:5432 and example.com"),
            "***:5432 and ***.com"
        );
        assert_eq!(values.redact("?q=p%40ss+word"), "?q=***");
        // Too short to hunt down in free text: it would blank every number.
        assert_eq!(values.redact("every 80s"), "every 80s");
        assert!(!format!("{values:?}").contains("example"));
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn urls_lose_passwords_and_token_parameters() {
        let url = Url::parse("https://bob:hunter2@example.com/health?api_key=abc&x=1").unwrap();
        let shown = redact_url(&url);
        assert!(
            !shown.contains("hunter2") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(shown.contains("bob") && shown.contains("x=1"), "{shown}");
        let plain = Url::parse("https://example.com/a?b=c%20d&e").unwrap();
        assert_eq!(
            redact_url(&plain),
            plain.as_str(),
            "nothing hidden, nothing rewritten"
        );
        let hook = Url::parse("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(redact_url_path(&hook), "https://hooks.slack.com/***");
    }

    #[test]
    fn urls_from_variables_hide_what_the_variables_gave() {
        let url = Url::parse("https://api.example.com/t0ken/x?k=v4lue").unwrap();
        let shown = |masked: &str| shown_url(&url, Some(masked));
        assert_eq!(
            shown("https://api.example.com/***/x?k=***"),
            "https://api.example.com/***/x?k=***"
        );
        assert_eq!(shown("https://***/t0ken"), "https://***/t0ken");
        assert_eq!(shown("***"), "***");
        assert_eq!(shown("https://api.example.com:***/"), "***");
        assert_eq!(shown_url(&url, None), url.as_str());
    }

    #[test]
    fn credential_headers_are_recognised() {
        for name in [
            "Authorization",
            "X-Api-Key",
            "Cookie",
            "X-Auth-Token",
            "X-Key",
        ] {
            assert!(is_sensitive_name(name), "{name}");
        }
        for name in ["Accept", "User-Agent", "Content-Type", "X-Request-Id"] {
            assert!(!is_sensitive_name(name), "{name}");
        }
    }
}
