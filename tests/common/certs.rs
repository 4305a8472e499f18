//! Certificates for TLS targets: a private CA made with rcgen ([`TestCa`]) and server
//! certificates it signs ([`Leaf`]: valid for years, near expiry, expired, for another name),
//! and a rustls server configuration presenting one ([`server_tls`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// A private CA: its certificate in PEM (for `tls.ca_file`) and what signs server
/// certificates.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate and its key, with the `notAfter` it was given (whole seconds).
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub not_after: SystemTime,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "flowstate http test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("the CA certificate");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (IP addresses or DNS names) valid until `not_after`,
    /// and from 30 days before it (or before now, whichever is earlier).
    pub fn leaf(&self, names: &[&str], not_after: SystemTime) -> Leaf {
        let not_after = whole_seconds(not_after);
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("server parameters");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = (not_after.min(SystemTime::now()) - 30 * DAY).into();
        params.not_after = not_after.into();
        let key = KeyPair::generate().expect("a server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("the server certificate");
        Leaf {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            not_after,
        }
    }

    /// A certificate for `127.0.0.1` valid for years: the default 14-day warning is far.
    pub fn long_valid(&self) -> Leaf {
        self.leaf(&["127.0.0.1"], SystemTime::now() + 3650 * DAY)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

pub fn whole_seconds(at: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds(at))
}

pub fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The UTC date of `at`, `YYYY-MM-DD`, as failure reasons print it.
pub fn utc_date(at: SystemTime) -> String {
    let z = (unix_seconds(at) / 86_400) as i64 + 719_468;
    // Howard Hinnant's days-to-civil algorithm.
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A rustls server configuration presenting `leaf`, offering `alpn` (none: no ALPN at all).
pub fn server_tls(leaf: &Leaf, alpn: &[&[u8]]) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("default TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.cert.clone()], leaf.key.clone_key())
        .expect("a usable server certificate");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}
