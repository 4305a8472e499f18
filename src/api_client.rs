//! A small blocking client for a running daemon's API, used by `status`, `report`, `tui` and
//! `check --diff`. Each call runs on the client's own single-threaded actix runtime.

use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// Where the daemon listens unless told otherwise (SPEC §1).
pub const DEFAULT_API: &str = "http://127.0.0.1:9900";

/// Why the daemon could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the flowstate API at {url}: {reason}; is `flowstate run` running there? (set --api or $FLOWSTATE_API)")]
    Unreachable { url: String, reason: String },
    #[error("the flowstate API at {url} refused the token (401); pass the server's token with --token or $FLOWSTATE_TOKEN")]
    Unauthorized { url: String },
    #[error("the flowstate API at {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error(
        "the flowstate API at {url} sent an answer that is not what this version expects: {reason}"
    )]
    Invalid { url: String, reason: String },
}

pub struct ApiClient {
    base: String,
    token: Option<String>,
    runtime: actix_rt::SystemRunner,
    timeout: Duration,
}

impl ApiClient {
    pub fn new(base: &str, token: Option<String>) -> Self {
        ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
            runtime: actix_rt::System::new(),
            timeout: Duration::from_secs(5),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `path` and decodes its JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        let token = self.token.as_deref();
        let client = awc::Client::builder().timeout(self.timeout).finish();
        self.runtime.block_on(fetch(&client, url, token))
    }

    /// Sends `method` to `path` with `body` as JSON (none when `None`) and decodes the
    /// answer's JSON (`null` for an answer without a body, such as 204).
    pub fn send<T: DeserializeOwned>(
        &self,
        method: awc::http::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        let token = self.token.as_deref();
        let client = awc::Client::builder().timeout(self.timeout).finish();
        self.runtime.block_on(async {
            let mut request = client.request(method, &url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let sent = match body {
                Some(body) => request.send_json(body).await,
                None => request.send().await,
            };
            answer(url.clone(), sent).await
        })
    }

    /// GETs every one of `paths`, at most `at_once` at a time over one client (its
    /// connections kept alive), and decodes each answer: in the order of `paths`.
    pub fn get_all<T: DeserializeOwned>(
        &self,
        paths: &[String],
        at_once: usize,
    ) -> Vec<Result<T, ApiError>> {
        let token = self.token.as_deref();
        let client = awc::Client::builder().timeout(self.timeout).finish();
        let client = &client;
        self.runtime.block_on(
            futures_util::stream::iter(paths)
                .map(|path| fetch(client, format!("{}{path}", self.base), token))
                .buffered(at_once.max(1))
                .collect(),
        )
    }
}

/// One GET of `url` with `token`, its JSON decoded.
async fn fetch<T: DeserializeOwned>(
    client: &awc::Client,
    url: String,
    token: Option<&str>,
) -> Result<T, ApiError> {
    let mut request = client.get(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(url, request.send().await).await
}

/// The answer to a request to `url`, its JSON decoded (`null` for an empty body).
async fn answer<T: DeserializeOwned, S>(
    url: String,
    sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
) -> Result<T, ApiError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut response = sent.map_err(|e| ApiError::Unreachable {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let body = response
        .body()
        .limit(256 * 1024 * 1024)
        .await
        .map_err(|e| ApiError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    match status {
        200..=299 => serde_json::from_slice(body).map_err(|e| ApiError::Invalid {
            url,
            reason: e.to_string(),
        }),
        401 => Err(ApiError::Unauthorized { url }),
        _ => Err(ApiError::Status {
            url,
            status,
            body: String::from_utf8_lossy(body).chars().take(500).collect(),
        }),
    }
}

/// A label as one URL path segment: everything but unreserved characters percent-encoded.
pub fn path_segment(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for byte in label.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_encoded_as_one_path_segment() {
        assert_eq!(path_segment("web-01.prod_x~"), "web-01.prod_x~");
        assert_eq!(path_segment("a/b c?d#e%"), "a%2Fb%20c%3Fd%23e%25");
        assert_eq!(path_segment("café"), "caf%C3%A9");
    }
}
