//! The `email` notifier (SPEC §11) against a real SMTP server: Debian's `python3-aiosmtpd`,
//! driven by `tests/support/smtp_server.py` on loopback, which stores each message it gets as
//! JSON (envelope, encryption, login, headers and parts). A host going down and up again sends
//! one mail each, `multipart/alternative` with a text and an HTML part, from and to whom the
//! notifier says, with the subject template filled in; the login in the URL is used (its
//! password, from the environment, never printed). STARTTLS is used when offered, insisted on
//! with `starttls: required`, and `smtps://` is TLS from the start. Certificates are made here
//! (a CA and a leaf for 127.0.0.1) and trusted through `ca_file`, or not checked (`insecure`).
//!
//! The server is required: `.ci/run` installs python3-aiosmtpd.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;

use crate::common::configs::{document_with_notifiers, host};
use crate::common::daemon::CONFIG;
use crate::common::repo;
use crate::common::wait::wait_for;
use crate::common::{switchable, Daemon, Sandbox, TestServer};

/// Debian's interpreter, which has python3-aiosmtpd (another `python3` first on the PATH,
/// such as a pyenv shim, may not).
const PYTHON: &str = "/usr/bin/python3";

/// Fast checks: a failed check every 100 ms, two in a row make a host down.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

const PASSWORD: &str = "smtp-s3cret-Passw0rd";

const PATIENCE: Duration = Duration::from_secs(30);

/// A running SMTP server, killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    mails: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Starts the server in `dir` with the script's `options`, and waits for its port.
    fn start(dir: &Path, options: &[&str]) -> Self {
        let has_aiosmtpd = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_aiosmtpd,
            "{PYTHON} cannot import aiosmtpd: these tests need Debian's python3-aiosmtpd \
             (`apt-get install python3-aiosmtpd`, as .ci/run does)"
        );
        let mails = dir.join("mails");
        std::fs::create_dir_all(&mails).expect("the mail directory");
        let port_file = dir.join("smtp.port");
        let mut child = Command::new(PYTHON)
            .arg(repo::root().join("tests/support/smtp_server.py"))
            .arg("--dir")
            .arg(&mails)
            .arg("--port-file")
            .arg(&port_file)
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        let port = wait_for(PATIENCE, "the SMTP server writes its port", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the SMTP server exited: {status}");
            }
            std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
        })
        .unwrap();
        SmtpServer { child, port, mails }
    }

    /// The `n`th mail received (from 1), once it is there.
    fn wait_for_mail(&self, n: usize) -> Value {
        let path = self.mails.join(format!("{n:03}.json"));
        wait_for(PATIENCE, &format!("mail {n} arrives"), || {
            let text = std::fs::read_to_string(&path).ok()?;
            serde_json::from_str(&text).ok()
        })
        .unwrap()
    }
}

/// A CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`: `ca.pem` (for
/// `ca_file`), `server.pem` and `server.key` (for the server).
fn certificates(dir: &Path) {
    let mut ca = CertificateParams::new(Vec::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "flowstate smtp test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("leaf parameters");
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("a server key");
    let cert = leaf
        .signed_by(&key, &issuer)
        .expect("the server certificate");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write ca.pem");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write server.pem");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write server.key");
}

/// A daemon checking host `cache` (group `storage`) on a target the test switches, alerting
/// the notifier `mail` written as `notifier` (a flow mapping's inside).
fn daemon(
    sandbox: &Sandbox,
    notifier: &str,
) -> (
    Daemon,
    std::sync::Arc<std::sync::atomic::AtomicU16>,
    TestServer,
) {
    let (status, target) = switchable(200);
    let config = document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [mail]"),
        &format!("  mail: {{ type: email, {notifier} }}\n"),
        &[host("cache", &target.url("/"), "group: storage")],
    );
    sandbox.write(CONFIG, &config);
    let mut daemon = sandbox
        .daemon(CONFIG)
        .env("SMTP_PASSWORD", PASSWORD)
        .start();
    daemon.wait_for_status("cache", "up");
    (daemon, status, target)
}

/// The content types of a mail's parts, in order.
fn part_types(mail: &Value) -> Vec<String> {
    mail["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(|p| p["content_type"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn part_text<'a>(mail: &'a Value, content_type: &str) -> &'a str {
    mail["parts"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["content_type"] == content_type))
        .and_then(|p| p["text"].as_str())
        .unwrap_or_else(|| panic!("no {content_type} part in {mail:#}"))
}

#[test]
fn a_down_and_an_up_mail_arrive_with_both_parts_over_starttls_and_the_login() {
    let sandbox = Sandbox::new();
    certificates(sandbox.path());
    let cert = sandbox.path().join("server.pem");
    let key = sandbox.path().join("server.key");
    let smtp = SmtpServer::start(
        sandbox.path(),
        &[
            "--starttls",
            &cert.display().to_string(),
            &key.display().to_string(),
            "--user",
            "alerts@example.com",
            "--password",
            PASSWORD,
        ],
    );
    let (mut daemon, status, _target) = daemon(
        &sandbox,
        &format!(
            "url: 'smtp://alerts%40example.com:${{SMTP_PASSWORD}}@127.0.0.1:{}', ca_file: ca.pem, \
             from: 'flowstate <alerts@example.com>', to: [oncall@example.com, boss@example.com]",
            smtp.port
        ),
    );

    status.store(503, SeqCst);
    let down = smtp.wait_for_mail(1);
    assert_eq!(down["tls"], true, "STARTTLS was offered, so used: {down:#}");
    assert_eq!(down["login"], "alerts@example.com", "{down:#}");
    assert_eq!(down["mail_from"], "alerts@example.com", "{down:#}");
    assert_eq!(
        down["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "boss@example.com"]),
        "{down:#}"
    );
    assert_eq!(down["from"], "flowstate <alerts@example.com>", "{down:#}");
    assert_eq!(
        down["to"], "oncall@example.com, boss@example.com",
        "{down:#}"
    );
    assert_eq!(down["subject"], "[flowstate] cache is down", "{down:#}");
    assert_eq!(down["content_type"], "multipart/alternative", "{down:#}");
    assert_eq!(part_types(&down), ["text/plain", "text/html"], "{down:#}");
    let text = part_text(&down, "text/plain");
    assert!(text.contains("DOWN cache: status 503"), "{text}");
    assert!(text.contains("Group: storage"), "{text}");
    let html = part_text(&down, "text/html");
    assert!(html.contains("<strong>DOWN cache: status 503"), "{html}");

    status.store(200, SeqCst);
    let up = smtp.wait_for_mail(2);
    assert_eq!(up["subject"], "[flowstate] cache is up", "{up:#}");
    assert_ne!(up["message_id"], down["message_id"], "one id per event");

    daemon.stop("TERM");
    for output in [daemon.stdout(), daemon.stderr()] {
        assert!(
            !output.contains(PASSWORD),
            "the password was printed:\n{output}"
        );
    }
}

#[test]
fn starttls_required_sends_only_over_tls_with_the_subject_template() {
    let sandbox = Sandbox::new();
    certificates(sandbox.path());
    let cert = sandbox.path().join("server.pem").display().to_string();
    let key = sandbox.path().join("server.key").display().to_string();
    let smtp = SmtpServer::start(
        sandbox.path(),
        &["--starttls", &cert, &key, "--require-starttls"],
    );
    let (_daemon, status, _target) = daemon(
        &sandbox,
        &format!(
            "url: 'smtp://127.0.0.1:{}', starttls: required, ca_file: ca.pem, \
             from: alerts@example.com, to: oncall@example.com, \
             subject: '{{group}}/{{host}} {{event}}: {{reason}}'",
            smtp.port
        ),
    );
    status.store(503, SeqCst);
    let mail = smtp.wait_for_mail(1);
    assert_eq!(mail["tls"], true, "{mail:#}");
    assert_eq!(
        mail["subject"], "storage/cache down: status 503, expected 2xx",
        "{mail:#}"
    );
    assert_eq!(part_types(&mail), ["text/plain", "text/html"], "{mail:#}");
}

#[test]
fn smtps_is_tls_from_the_first_byte() {
    let sandbox = Sandbox::new();
    certificates(sandbox.path());
    let cert = sandbox.path().join("server.pem").display().to_string();
    let key = sandbox.path().join("server.key").display().to_string();
    let smtp = SmtpServer::start(sandbox.path(), &["--smtps", &cert, &key]);
    // `insecure` instead of `ca_file`: the certificate is not checked at all.
    let (_daemon, status, _target) = daemon(
        &sandbox,
        &format!(
            "url: 'smtps://127.0.0.1:{}', insecure: true, from: alerts@example.com, \
             to: [oncall@example.com]",
            smtp.port
        ),
    );
    status.store(503, SeqCst);
    let mail = smtp.wait_for_mail(1);
    assert_eq!(mail["tls"], true, "{mail:#}");
    assert_eq!(mail["subject"], "[flowstate] cache is down", "{mail:#}");
}

#[test]
fn starttls_never_logs_in_over_clear_text_on_loopback() {
    let sandbox = Sandbox::new();
    let smtp = SmtpServer::start(sandbox.path(), &["--user", "bob", "--password", PASSWORD]);
    let (_daemon, status, _target) = daemon(
        &sandbox,
        &format!(
            "url: 'smtp://bob:${{SMTP_PASSWORD}}@127.0.0.1:{}', starttls: never, \
             from: alerts@example.com, to: [oncall@example.com]",
            smtp.port
        ),
    );
    status.store(503, SeqCst);
    let mail = smtp.wait_for_mail(1);
    assert_eq!(mail["tls"], false, "{mail:#}");
    assert_eq!(mail["login"], "bob", "{mail:#}");
}

#[test]
fn a_refused_login_is_given_up_not_retried() {
    let sandbox = Sandbox::new();
    let smtp = SmtpServer::start(sandbox.path(), &["--user", "bob", "--password", "other"]);
    let (mut daemon, status, _target) = daemon(
        &sandbox,
        &format!(
            "url: 'smtp://bob:${{SMTP_PASSWORD}}@127.0.0.1:{}', starttls: never, \
             from: alerts@example.com, to: [oncall@example.com]",
            smtp.port
        ),
    );
    status.store(503, SeqCst);
    // 535 (authentication failed) is a 5xx: the same login cannot pass on a later attempt.
    let line = daemon.wait_for_log("the delivery given up", |l| {
        l.contains("given up") && l.contains("mail")
    });
    assert!(line.contains("535"), "{line}");
    assert!(!line.contains(PASSWORD), "{line}");
    assert!(
        !smtp.mails.join("001.json").exists(),
        "no mail without a login"
    );
}

#[test]
fn flowstate_check_shows_the_mail_notifier_without_its_password() {
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &format!(
            "notifiers:\n  mail: {{ type: email, url: 'smtp://bob:{PASSWORD}@mail.example.com', \
             from: alerts@example.com, to: [oncall@example.com] }}\n\
             hosts:\n  - {{ label: cache, url: 'http://127.0.0.1:1/', alerts: [mail] }}\n"
        ),
    );
    let outcome = sandbox.flowstate().args(&["check", "-c", CONFIG]).output();
    assert_eq!(outcome.code, Some(0), "{outcome}");
    assert!(
        outcome
            .stdout
            .contains("oncall@example.com via smtp://mail.example.com:587"),
        "{outcome}"
    );
    assert!(!outcome.stdout.contains(PASSWORD), "{outcome}");
    assert!(!outcome.stderr.contains(PASSWORD), "{outcome}");
}

#[test]
fn starttls_required_sends_nothing_to_a_server_without_it_and_retries() {
    let sandbox = Sandbox::new();
    let smtp = SmtpServer::start(sandbox.path(), &[]);
    let (mut daemon, status, _target) = daemon(
        &sandbox,
        &format!(
            "url: 'smtp://127.0.0.1:{}', starttls: required, from: alerts@example.com, \
             to: [oncall@example.com], backoff: 100ms, max_backoff: 200ms",
            smtp.port
        ),
    );
    status.store(503, SeqCst);
    // Not given up: the server may offer STARTTLS later (a relay being reconfigured).
    let line = daemon.wait_for_log("a failed attempt to be retried", |l| {
        l.contains("notifier=mail") && l.contains("retry")
    });
    assert!(line.to_lowercase().contains("starttls"), "{line}");
    assert!(
        !smtp.mails.join("001.json").exists(),
        "no mail in clear text"
    );
}
