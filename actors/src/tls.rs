//! TLS client settings shared by everything that makes TLS connections (HTTP probes, gRPC
//! probes, webhooks, the self-check): one crypto provider, the WebPKI roots plus any private
//! CA a check names, ALPN set on our own config (awc's `max_http_version()` would silently
//! drop it), and the verifier `insecure: true` asks for.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, Once, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
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

/// What the verifier saw of the server's certificate in one handshake.
struct Seen {
    leaf: CertificateDer<'static>,
    verdict: Result<(), rustls::Error>,
}

/// Verifies server certificates against `roots`, remembering the leaf certificate and the
/// verdict; with `insecure`, accepts whatever the verdict was. One per handshake, so what it
/// remembers belongs to that handshake: a check reads a rejected certificate's dates, and the
/// expiry reader reads any certificate's.
pub struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    insecure: bool,
    seen: Mutex<Option<Seen>>,
}

impl fmt::Debug for RecordingVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingVerifier")
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl RecordingVerifier {
    pub fn new(roots: rustls::RootCertStore, insecure: bool) -> Result<Arc<Self>, String> {
        Self::with_roots(Arc::new(roots), insecure)
    }

    /// [`Self::new`] on roots shared with other verifiers (a probe keeps them per `ca_file`
    /// and makes one verifier per handshake).
    pub fn with_roots(
        roots: Arc<rustls::RootCertStore>,
        insecure: bool,
    ) -> Result<Arc<Self>, String> {
        install_provider();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
        Ok(Arc::new(RecordingVerifier {
            inner,
            insecure,
            seen: Mutex::new(None),
        }))
    }

    /// The verdict on the certificate, once one was seen.
    pub fn rejection(&self) -> Option<Result<(), rustls::Error>> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.as_ref().map(|s| s.verdict.clone())
    }

    /// The server's own certificate (DER), once one was seen.
    pub fn leaf(&self) -> Option<Vec<u8>> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.as_ref().map(|s| s.leaf.as_ref().to_vec())
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        *seen = Some(Seen {
            leaf: end_entity.clone().into_owned(),
            verdict: verdict.clone(),
        });
        match verdict {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err(_) if self.insecure => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    // The handshake signatures are checked even with `insecure`: that flag is about who
    // vouches for the certificate, not about whether the server holds its key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
