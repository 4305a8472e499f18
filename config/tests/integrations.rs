//! The `alertmanager` and `email` notifiers of SPEC §11: what each accepts, its defaults, and
//! errors at their place with the fix. The SMTP password never shows: not in `Debug`, not in
//! `target()`, not in `settings()`.

use std::time::Duration;

use flowstate_config::notifier::{AlertmanagerConfig, EmailConfig, NotifierKind, SmtpSecurity};

mod common;

use common::{error, errors, load};

fn alertmanager(yaml: &str) -> AlertmanagerConfig {
    match &load(yaml).notifiers[0].kind {
        NotifierKind::Alertmanager(am) => am.clone(),
        other => panic!("not an alertmanager notifier: {other:?}"),
    }
}

fn email(yaml: &str) -> EmailConfig {
    match &load(yaml).notifiers[0].kind {
        NotifierKind::Email(email) => email.clone(),
        other => panic!("not an email notifier: {other:?}"),
    }
}

#[test]
fn alertmanager_takes_a_base_url_and_resends_every_minute_by_default() {
    let am = alertmanager(
        "notifiers:\n  am: { type: alertmanager, url: 'http://127.0.0.1:9093', headers: { X-Scope-OrgID: ops } }\n",
    );
    assert_eq!(am.url.as_str(), "http://127.0.0.1:9093/");
    assert_eq!(am.resend_every, Duration::from_secs(60));
    assert_eq!(am.headers.len(), 1);
    let am = alertmanager(
        "notifiers:\n  am: { type: alertmanager, url: 'https://am.example.com/', resend_every: 30s, timeout: 5s }\n",
    );
    assert_eq!(am.resend_every, Duration::from_secs(30));
    assert_eq!(am.timeout, Duration::from_secs(5));
}

#[test]
fn alertmanager_errors_name_the_key_and_the_fix() {
    assert_eq!(
        error("notifiers:\n  am: { type: alertmanager }\n"),
        "flowstate.yaml:2:7: notifiers.am: missing `url`: the Alertmanager's base URL, such as http://127.0.0.1:9093"
    );
    let e = error(
        "notifiers:\n  am: { type: alertmanager, url: 'http://127.0.0.1:9093', resend_every: 2h }\n",
    );
    assert!(
        e.contains("notifiers.am.resend_every: resend_every must be between 1s and 1h"),
        "{e}"
    );
    let all = errors("notifiers:\n  am: { type: alertmanager, url: 'ftp://x', format: slack }\n");
    assert!(
        all[0].contains("notifiers.am.url: `ftp://x/` is not an http or https URL"),
        "{all:#?}"
    );
    assert!(
        all[1].contains("notifiers.am.format: unknown key `format`"),
        "{all:#?}"
    );
}

#[test]
fn alertmanager_credentials_in_the_url_are_refused_with_the_fix_and_hidden() {
    let e = error(
        "notifiers:\n  am: { type: alertmanager, url: 'http://bob:amsecret@127.0.0.1:9093' }\n",
    );
    assert!(
        e.contains("notifiers.am.url: `http://bob:***@127.0.0.1:9093/` has a user or password"),
        "{e}"
    );
    assert!(e.contains("headers: { Authorization:"), "{e}");
    assert!(!e.contains("amsecret"), "{e}");
}

#[test]
fn email_reads_the_url_its_credentials_and_the_security() {
    let mail = email(
        "notifiers:\n  mail:\n    type: email\n    url: 'smtp://alerts%40example.com:${SMTP_PASSWORD}@mail.example.com'\n    from: 'flowstate <alerts@example.com>'\n    to: [oncall@example.com, boss@example.com]\n",
    );
    assert_eq!(mail.host, "mail.example.com");
    assert_eq!(mail.port, 587);
    assert_eq!(mail.security, SmtpSecurity::Opportunistic);
    assert_eq!(mail.username.as_deref(), Some("alerts@example.com"));
    assert_eq!(
        mail.password.as_ref().map(|p| p.expose()),
        Some("smtp-s3cret-pass")
    );
    assert_eq!(mail.to, ["oncall@example.com", "boss@example.com"]);
    assert_eq!(mail.subject, EmailConfig::DEFAULT_SUBJECT);

    let tls = email("notifiers:\n  m: { type: email, url: 'smtps://mail.example.com', from: a@example.com, to: b@example.com }\n");
    assert_eq!((tls.security, tls.port), (SmtpSecurity::Tls, 465));
    let required = email("notifiers:\n  m: { type: email, url: 'smtp://mail.example.com:2525', starttls: required, from: a@example.com, to: [b@example.com], subject: '{host}: {event}' }\n");
    assert_eq!(
        (required.security, required.port),
        (SmtpSecurity::Required, 2525)
    );
    assert_eq!(required.subject, "{host}: {event}");
    let plain = email("notifiers:\n  m: { type: email, url: 'smtp://127.0.0.1:2525', starttls: never, from: a@example.com, to: [b@example.com] }\n");
    assert_eq!(plain.security, SmtpSecurity::Never);
}

#[test]
fn the_smtp_password_is_never_printed() {
    let config = load(
        "notifiers:\n  mail: { type: email, url: 'smtp://bob:hunter2-smtp@mail.example.com', from: a@example.com, to: [b@example.com] }\n",
    );
    let notifier = &config.notifiers[0];
    let shown = [
        format!("{notifier:?}"),
        notifier.kind.target(),
        format!("{:?}", notifier.settings()),
    ];
    for text in shown {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // A changed password is still a changed setting (the notifier is rebuilt on reload).
    let other = load(
        "notifiers:\n  mail: { type: email, url: 'smtp://bob:other-pass@mail.example.com', from: a@example.com, to: [b@example.com] }\n",
    );
    assert_ne!(notifier.settings(), other.notifiers[0].settings());
    let same = load(
        "notifiers:\n  mail: { type: email, url: 'smtp://bob:hunter2-smtp@mail.example.com', from: a@example.com, to: [b@example.com] }\n",
    );
    assert_eq!(notifier.settings(), same.notifiers[0].settings());
}

#[test]
fn email_errors_are_all_reported_at_their_place() {
    let all = errors(
        "notifiers:\n  mail: { type: email, url: 'http://mail.example.com', from: nobody, to: [], subject: '{host} {colour}' }\n",
    );
    let joined = all.join("\n");
    for wanted in [
        "notifiers.mail.url: `http://mail.example.com/` is not an smtp or smtps URL",
        "notifiers.mail.from: `nobody` is not a mail address (no @)",
        "notifiers.mail.to: the list is empty",
        "notifiers.mail.subject: unknown placeholder {colour}; use {host}, {status}, {event}, {reason}, {group}",
    ] {
        assert!(joined.contains(wanted), "missing {wanted:?} in\n{joined}");
    }
}

#[test]
fn missing_sender_and_recipients_are_both_named() {
    let all = errors("notifiers:\n  mail: { type: email, url: 'smtp://mail.example.com' }\n");
    assert!(
        all.iter()
            .any(|e| e.contains("notifiers.mail: missing `from`")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|e| e.contains("notifiers.mail: missing `to`")),
        "{all:#?}"
    );
}

#[test]
fn clear_text_smtp_is_only_for_loopback() {
    let e = error("notifiers:\n  m: { type: email, url: 'smtp://u:secretpw@mail.example.com', starttls: never, from: a@example.com, to: [b@example.com] }\n");
    assert!(
        e.contains("notifiers.m.starttls: `starttls: never` sends mail (and the password) in clear text, so it is only allowed for a server on loopback"),
        "{e}"
    );
    assert!(!e.contains("secretpw"), "{e}");
    let e = error("notifiers:\n  m: { type: email, url: 'smtps://mail.example.com', starttls: required, from: a@example.com, to: [b@example.com] }\n");
    assert!(
        e.contains("notifiers.m.starttls: `starttls` is for smtp:// URLs"),
        "{e}"
    );
    let e = error("notifiers:\n  m: { type: email, url: 'smtp://mail.example.com', starttls: sometimes, from: a@example.com, to: [b@example.com] }\n");
    assert!(
        e.contains("unknown starttls `sometimes`; use one of opportunistic, required, never"),
        "{e}"
    );
}

#[test]
fn smtp_url_errors_do_not_echo_the_password() {
    let e = error("notifiers:\n  m: { type: email, url: 'smtp://u:topsecret@mail.example.com/path', from: a@example.com, to: [b@example.com] }\n");
    assert!(e.contains("has a path or query"), "{e}");
    assert!(!e.contains("topsecret"), "{e}");
}
