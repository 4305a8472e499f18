//! TLS client settings shared by everything that makes HTTPS requests (probes, webhooks, the
//! self-check): one crypto provider, the WebPKI roots, and ALPN set on our own config.

use std::sync::Once;

/// The rustls client configuration that trusts the WebPKI roots and offers HTTP/2 and
/// HTTP/1.1 by ALPN.
pub fn webpki_client_config() -> rustls::ClientConfig {
    static PROVIDER: Once = Once::new();
    // rustls needs exactly one process-wide crypto provider; awc's connector asks for it.
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Set ALPN on our own config: awc's max_http_version() would silently drop it.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tls
}
