//! `http_version: 3` and `alt-svc` in the config: the spellings read, the `https` they need,
//! the choices an unknown value lists, and a build without the `http3` feature refusing them
//! with the fix instead of failing at check time.

#[cfg(feature = "http3")]
use flowstate_config::{Check, HttpVersion};

mod common;

use common::error;

#[cfg(feature = "http3")]
fn version_of(yaml: &str) -> Result<HttpVersion, String> {
    let config = common::try_load(yaml).map_err(|e| e.to_string())?;
    match &config.hosts()[0].check {
        Check::Http(http) => Ok(http.http_version),
        other => Err(format!("not an HTTP check: {}", other.kind())),
    }
}

fn host_with(url: &str, version: &str) -> String {
    format!("hosts:\n  - {{ label: edge, url: '{url}', http_version: {version} }}\n")
}

#[cfg(feature = "http3")]
#[test]
fn every_spelling_of_http3_and_alt_svc_is_read() {
    for spelling in ["3", "\"3\"", "3.0", "h3"] {
        assert_eq!(
            version_of(&host_with("https://edge.example/", spelling)),
            Ok(HttpVersion::Three),
            "{spelling}"
        );
    }
    assert_eq!(
        version_of(&host_with("https://edge.example/", "alt-svc")),
        Ok(HttpVersion::AltSvc)
    );
    assert_eq!(HttpVersion::Three.name(), "3");
    assert_eq!(HttpVersion::AltSvc.name(), "alt-svc");
}

#[cfg(feature = "http3")]
#[test]
fn http3_and_alt_svc_need_an_https_url() {
    for version in ["3", "alt-svc"] {
        let message = error(&host_with("http://edge.example/", version));
        assert!(
            message.contains(r#"hosts[0] (label "edge").http_version: HTTP/3 runs over QUIC"#),
            "{message}"
        );
        assert!(message.contains("use an https URL"), "{message}");
    }
}

#[test]
fn an_unknown_version_lists_every_choice() {
    let message = error(&host_with("https://edge.example/", "quic"));
    assert!(
        message.contains(r#"unknown HTTP version `quic`; use "1.1", "2", "3", alt-svc or auto"#),
        "{message}"
    );
}

#[cfg(not(feature = "http3"))]
#[test]
fn a_build_without_http3_refuses_it_with_the_fix() {
    for version in ["3", "alt-svc"] {
        let message = error(&host_with("https://edge.example/", version));
        assert!(
            message.contains(r#"hosts[0] (label "edge").http_version"#),
            "{message}"
        );
        assert!(
            message.contains("built without it (cargo feature `http3`)"),
            "{message}"
        );
        assert!(message.contains("--features http3"), "{message}");
    }
}
