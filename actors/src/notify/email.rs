//! The email notifier (SPEC §11): a mail per event, or one per group, over SMTP.
//!
//! Each mail is `multipart/alternative`: plain text first (what terminals and pagers show),
//! then HTML (every value escaped: reasons quote what a server answered). Its `Message-ID` is
//! made from the event id, the same on every retry, so a mail system that drops duplicates
//! drops a retry whose first answer was lost.
//!
//! The connection follows the URL: `smtp://` uses STARTTLS when offered (or always, with
//! `starttls: required`; or never, on loopback only), `smtps://` is TLS from the first byte;
//! credentials in the URL are sent with AUTH. SMTP's answer decides what happens next: 4xx and
//! connection, TLS or timeout failures may pass, so they are retried; 5xx (a refused sender,
//! recipient or login) will not, so the event is given up. The password is never logged: the
//! messages name only the server's host and port.

use flowstate_config::notifier::{EmailConfig, SmtpSecurity};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use maud::{html, Markup, DOCTYPE};

use super::payload::headline;
use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
use crate::event::{AlertEvent, EventKind};

/// The subject of a group's mail when no `subject` is written: the default template names
/// one host, and a group has several.
const DEFAULT_GROUP_SUBJECT: &str = "[flowstate] {group}: {event}";

/// What starts a PEM certificate.
const CERTIFICATE_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// How many hosts a group's `{host}` names before saying how many more.
const SUBJECT_HOSTS_MAX: usize = 5;

/// Why the notifier cannot send at all: its settings cannot make a transport.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmailSetupError {
    #[error("ca_file {path}: {message}")]
    CaFile { path: String, message: String },
    #[error("TLS settings for {server}: {message}")]
    Tls { server: String, message: String },
    #[error("`{address}` is not a mail address the SMTP library accepts: {message}")]
    Address { address: String, message: String },
}

/// What every mail needs, checked once when the notifier is built.
struct Ready {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

pub struct EmailNotifier {
    config: EmailConfig,
    /// The transport and addresses, or why there are none (given up on every delivery, with
    /// the reason, rather than failing the whole configuration at runtime).
    ready: Result<Ready, EmailSetupError>,
    /// `host:port`, what messages name (never the credentials).
    server: String,
}

impl EmailNotifier {
    pub fn new(config: EmailConfig) -> Self {
        let server = format!("{}:{}", config.host, config.port);
        let ready = ready(&config, &server);
        if let Err(e) = &ready {
            // Said now, at start or reload, not only when the first alert is given up.
            log::error!(server = server.as_str(), error = e.to_string().as_str(); "the email notifier cannot send; every event for it will be given up until it is fixed and reloaded");
        }
        EmailNotifier {
            config,
            ready,
            server,
        }
    }

    fn send(&self, message: Result<Message, String>) -> DeliveryFuture {
        let server = self.server.clone();
        let timeout = self.config.timeout;
        let transport = match &self.ready {
            Ok(ready) => ready.transport.clone(),
            Err(e) => {
                let message = format!("{server}: {e} (fix the notifier and reload)");
                return Box::pin(async move { Err(DeliveryError::permanent(message)) });
            }
        };
        Box::pin(async move {
            let message = message.map_err(|e| {
                DeliveryError::permanent(format!("{server}: the mail cannot be built: {e}"))
            })?;
            // The transport's own timeout does not bound every wait (a server that never
            // answers AUTH held a delivery past it): the whole exchange is bounded here.
            match actix_rt::time::timeout(timeout, transport.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(judge(&e, &server)),
                Err(_) => Err(DeliveryError::transient(format!(
                    "{server}: the SMTP exchange did not finish within {}",
                    humantime::format_duration(timeout)
                ))),
            }
        })
    }

    /// The mail for `subject` and its two bodies, addressed as configured.
    fn message(
        &self,
        id: &str,
        subject: String,
        text: String,
        html: String,
    ) -> Result<Message, String> {
        let ready = self.ready.as_ref().map_err(|e| e.to_string())?;
        let mut builder = Message::builder()
            .from(ready.from.clone())
            .subject(subject)
            // The same id on every retry of the event: duplicates can be recognised.
            .message_id(Some(format!("<{id}@flowstate>")));
        for to in &ready.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| e.to_string())
    }
}

fn ready(config: &EmailConfig, server: &str) -> Result<Ready, EmailSetupError> {
    let address = |text: &str| {
        text.parse::<Mailbox>()
            .map_err(|e| EmailSetupError::Address {
                address: text.to_string(),
                message: e.to_string(),
            })
    };
    let from = address(&config.from)?;
    let to = config
        .to
        .iter()
        .map(|t| address(t))
        .collect::<Result<Vec<_>, _>>()?;
    let tls = match config.security {
        SmtpSecurity::Never => Tls::None,
        SmtpSecurity::Opportunistic => Tls::Opportunistic(tls_parameters(config, server)?),
        SmtpSecurity::Required => Tls::Required(tls_parameters(config, server)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(config, server)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
        .port(config.port)
        .timeout(Some(config.timeout))
        .tls(tls);
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(Ready {
        transport: builder.build(),
        from,
        to,
    })
}

fn tls_parameters(config: &EmailConfig, server: &str) -> Result<TlsParameters, EmailSetupError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let ca_error = |message: String| EmailSetupError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        // The library takes a file without any certificate as an empty list, which would
        // leave the user's CA silently untrusted.
        if !pem
            .windows(CERTIFICATE_PEM.len())
            .any(|w| w == CERTIFICATE_PEM)
        {
            return Err(ca_error("no PEM certificate in it".to_string()));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        builder = builder.add_root_certificate(certificate);
    }
    if config.insecure {
        builder = builder
            .dangerous_accept_invalid_certs(true)
            .dangerous_accept_invalid_hostnames(true);
    }
    builder.build_rustls().map_err(|e| EmailSetupError::Tls {
        server: server.to_string(),
        message: e.to_string(),
    })
}

/// What a failed SMTP exchange means for the next attempt: a 5xx answer is refused for good,
/// anything else (4xx, connection, TLS, timeout) may pass later.
fn judge(error: &lettre::transport::smtp::Error, server: &str) -> DeliveryError {
    let code = error.status().map(|c| c.to_string());
    let mut message = format!("{server}: {error}");
    if let Some(code) = &code {
        if !message.contains(code.as_str()) {
            message.push_str(&format!(" (SMTP {code})"));
        }
    }
    if error.is_permanent() {
        message.push_str(" (the server refused the mail; fix the notifier and reload)");
        DeliveryError::permanent(message)
    } else {
        DeliveryError::transient(message)
    }
}

impl Notifier for EmailNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        let subject = render(&self.config.subject, &Values::of_event(event));
        let message = self.message(&event.id, subject, event_text(event), event_html(event));
        self.send(message)
    }

    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        let template = if self.config.subject == EmailConfig::DEFAULT_SUBJECT {
            DEFAULT_GROUP_SUBJECT
        } else {
            self.config.subject.as_str()
        };
        let subject = render(template, &Values::of_group(group));
        let message = self.message(group.id(), subject, group_text(group), group_html(group));
        self.send(message)
    }
}

/// What the subject's placeholders stand for.
struct Values {
    host: String,
    status: String,
    event: String,
    reason: String,
    group: String,
}

impl Values {
    fn of_event(event: &AlertEvent) -> Self {
        Values {
            host: event.host.clone(),
            status: match event.event {
                EventKind::Reminder => format!("still {}", event.status),
                _ => event.status.to_string(),
            },
            event: event.event.to_string(),
            reason: event.reason.trim().to_string(),
            group: event.group.clone().unwrap_or_default(),
        }
    }

    /// For a group: `{host}` lists the hosts (the first few), `{event}` and `{status}` count
    /// the events by kind, `{reason}` is the first event's.
    fn of_group(group: &EventGroup) -> Self {
        let mut hosts: Vec<&str> = Vec::new();
        for event in &group.events {
            if !hosts.contains(&event.host.as_str()) {
                hosts.push(&event.host);
            }
        }
        let mut host = hosts[..hosts.len().min(SUBJECT_HOSTS_MAX)].join(", ");
        if hosts.len() > SUBJECT_HOSTS_MAX {
            host.push_str(&format!(" and {} more", hosts.len() - SUBJECT_HOSTS_MAX));
        }
        Values {
            host,
            status: group.counts(),
            event: group.counts(),
            reason: group
                .events
                .first()
                .map(|e| e.reason.trim().to_string())
                .unwrap_or_default(),
            group: group.group.clone(),
        }
    }
}

/// `template` with each known `{placeholder}` replaced; the result on one line (a reason may
/// hold line breaks, which a header cannot).
fn render(template: &str, values: &Values) -> String {
    let text = template
        .replace("{host}", &values.host)
        .replace("{status}", &values.status)
        .replace("{event}", &values.event)
        .replace("{reason}", &values.reason)
        .replace("{group}", &values.group);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The plain-text body of one event.
fn event_text(event: &AlertEvent) -> String {
    let mut lines = vec![headline(event), String::new()];
    lines.extend(
        fields(event)
            .into_iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    lines.push(String::new());
    lines.push("-- flowstate".to_string());
    lines.join("\n")
}

/// The HTML body of one event: the same facts as the text, escaped (by maud, as the
/// dashboard's pages are).
fn event_html(event: &AlertEvent) -> String {
    let body = html! {
        p { strong { (headline(event)) } }
        table {
            @for (name, value) in fields(event) {
                tr { th align="left" { (name) } td { (value) } }
            }
        }
        p { "-- flowstate" }
    };
    document(body)
}

/// The facts of an event a reader needs, named.
fn fields(event: &AlertEvent) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("Host", event.host.clone()),
        ("Event", event.event.to_string()),
        (
            "Status",
            format!("{} (was {})", event.status, event.previous),
        ),
        ("Reason", event.reason.trim().to_string()),
        ("Since", event.since.clone()),
        ("At", event.at.clone()),
    ];
    if let Some(group) = &event.group {
        fields.insert(1, ("Group", group.clone()));
    }
    fields.push(("Event id", event.id.clone()));
    fields
}

fn group_text(group: &EventGroup) -> String {
    let mut lines = vec![
        format!("{}: {}", group.group, group.counts()),
        String::new(),
    ];
    lines.extend(
        group
            .events
            .iter()
            .map(|e| format!("- {} ({}, at {})", headline(e), e.status, e.at)),
    );
    lines.push(String::new());
    lines.push("-- flowstate".to_string());
    lines.join("\n")
}

fn group_html(group: &EventGroup) -> String {
    let body = html! {
        p { strong { (group.group) ": " (group.counts()) } }
        ul {
            @for e in &group.events {
                li { (headline(e)) " (" (e.status) ", at " (e.at) ")" }
            }
        }
        p { "-- flowstate" }
    };
    document(body)
}

/// A whole HTML document around `body`.
fn document(body: Markup) -> String {
    html! { (DOCTYPE) html { body { (body) } } }.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn event() -> AlertEvent {
        AlertEvent {
            id: "01JABC".into(),
            event: EventKind::Down,
            host: "cache".into(),
            group: Some("storage".into()),
            status: Status::Down,
            previous: Status::Up,
            at: "2026-12-01T10:05:00.000Z".into(),
            since: "2026-12-01T10:05:00.000Z".into(),
            reason: "expected <b>OK</b> & got \"nothing\"".into(),
            consecutive_failures: 3,
            latency_ms: 0.0,
            trace: None,
        }
    }

    fn config(ca_file: Option<std::path::PathBuf>) -> EmailConfig {
        EmailConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            security: SmtpSecurity::Required,
            username: None,
            password: None,
            from: "alerts@example.com".into(),
            to: vec!["oncall@example.com".into()],
            subject: EmailConfig::DEFAULT_SUBJECT.into(),
            ca_file,
            insecure: false,
            timeout: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_a_setup_error_not_an_empty_trust_list() {
        let dir = std::env::temp_dir().join(format!("flowstate-email-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("not-a-ca.pem");
        std::fs::write(&path, "hello").unwrap();
        let notifier = EmailNotifier::new(config(Some(path.clone())));
        let error = notifier.ready.as_ref().err().map(ToString::to_string);
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("no PEM certificate")),
            "{error:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert!(EmailNotifier::new(config(None)).ready.is_ok());
    }

    #[test]
    fn subjects_fill_every_placeholder_on_one_line() {
        let mut e = event();
        e.reason = "line one\nline two".into();
        assert_eq!(
            render(EmailConfig::DEFAULT_SUBJECT, &Values::of_event(&e)),
            "[flowstate] cache is down"
        );
        assert_eq!(
            render("{group}/{host} {event}: {reason}", &Values::of_event(&e)),
            "storage/cache down: line one line two"
        );
    }

    #[test]
    fn html_bodies_escape_what_servers_answered() {
        let html = event_html(&event());
        assert!(
            html.contains("expected &lt;b&gt;OK&lt;/b&gt; &amp; got &quot;nothing&quot;"),
            "{html}"
        );
        assert!(!html.contains("<b>OK"), "{html}");
        let text = event_text(&event());
        assert!(text.contains("Reason: expected <b>OK</b>"), "{text}");
    }

    #[test]
    fn a_group_subject_names_the_group_and_counts_its_events() {
        let mut up = event();
        up.host = "db".into();
        up.event = EventKind::Up;
        up.status = Status::Up;
        let group = EventGroup {
            group: "storage".into(),
            events: vec![event(), up],
        };
        let values = Values::of_group(&group);
        assert_eq!(
            render(DEFAULT_GROUP_SUBJECT, &values),
            "[flowstate] storage: 1 down, 1 up"
        );
        assert_eq!(values.host, "cache, db");
        assert!(
            group_text(&group).contains("- DOWN cache"),
            "{}",
            group_text(&group)
        );
    }
}
