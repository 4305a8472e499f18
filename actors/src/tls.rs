//! TLS client settings shared by everything that makes TLS connections (HTTP probes, gRPC
//! probes, webhooks, the self-check): one crypto provider, the WebPKI roots plus any private
//! CA a check names, ALPN set on our own config (awc's `max_http_version()` would silently
//! drop it), and the verifier `insecure: true` asks for.

use std::path::Path;
use std::sync::{Arc, Once};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// ALPN for "HTTP/2 if offered, else HTTP/1.1".
pub const ALPN_H2_AND_HTTP1: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Installs the process-wide crypto provider once: rustls and awc's connector need exactly one.
fn install_provider() {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The rustls client configuration that trusts the WebPKI roots and offers HTTP/2 and
/// HTTP/1.1 by ALPN.
pub fn webpki_client_config() -> rustls::ClientConfig {
    let webpki = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = roots_config(webpki);
    tls.alpn_protocols = ALPN_H2_AND_HTTP1.iter().map(|p| p.to_vec()).collect();
    tls
}

/// A client configuration for a check: the WebPKI roots plus the PEM certificates in
/// `ca_file`, or any certificate at all when `insecure`; `alpn` offered in that order.
pub fn check_client_config(
    ca_file: Option<&Path>,
    insecure: bool,
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, String> {
    let mut tls = if insecure {
        install_provider();
        rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new()))
            .with_no_client_auth()
    } else {
        roots_config(roots(ca_file)?)
    };
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tls)
}

fn roots_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    install_provider();
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The WebPKI roots, plus every certificate in `ca_file`.
pub fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut added = 0;
        for certificate in certificates {
            let certificate = certificate
                .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
            roots
                .add(certificate)
                .map_err(|e| format!("{}: unusable CA certificate: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "{}: no PEM certificate in the file",
                path.display()
            ));
        }
    }
    Ok(roots)
}

/// `insecure: true`: any certificate is accepted (signatures on the handshake are still
/// checked, so the connection is at least to whoever holds the key it presented).
#[derive(Debug)]
pub struct AcceptAnyCertificate {
    schemes: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl AcceptAnyCertificate {
    pub fn new() -> Self {
        AcceptAnyCertificate {
            schemes: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl Default for AcceptAnyCertificate {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.schemes)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.schemes)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.supported_schemes()
    }
}
