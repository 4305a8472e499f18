//! Reading `type: email` notifiers: the SMTP URL and its security, sender, recipients and the
//! subject template.
//!
//! Kept apart from `validate.rs` because SMTP has rules of its own (schemes, ports, STARTTLS,
//! addresses) that no other notifier shares. Every message names the place and says how to fix
//! it, and none echoes the URL's password: URLs are shown through [`shown_url`].

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::error::did_you_mean;
use crate::notifier::{EmailConfig, SmtpSecurity};
use crate::reader::{Fields, Node, Reader};
use crate::secret::{shown_url, Secret};
use crate::validate::relative_to;

/// Reads an email notifier's own keys; `None` when something is wrong (every error recorded).
pub(crate) fn read_email(
    reader: &mut Reader,
    node: &Node,
    fields: &Fields<'_>,
    timeout: Duration,
) -> Option<EmailConfig> {
    let Some(url_node) = fields.get("url") else {
        reader.semantic_error(
            node,
            "missing `url`: the SMTP server, such as smtp://user:pass@mail.example.com:587 or smtps://mail.example.com:465",
        );
        return None;
    };
    // Each key is read before any gives up, so every mistake is reported in one pass.
    let server = read_smtp_url(reader, &url_node);
    let starttls = read_starttls(reader, fields);
    let from = match fields.get("from") {
        Some(n) => read_mailbox(reader, &n),
        None => {
            reader.semantic_error(
                node,
                "missing `from`: the sender, such as flowstate@example.com or \"flowstate <alerts@example.com>\"",
            );
            None
        }
    };
    let to = match fields.get("to") {
        Some(n) => read_recipients(reader, &n),
        None => {
            reader.semantic_error(
                node,
                "missing `to`: the recipients, a list such as [oncall@example.com]",
            );
            None
        }
    };
    let subject = match fields.get("subject") {
        Some(n) => read_subject(reader, &n),
        None => Some(EmailConfig::DEFAULT_SUBJECT.to_string()),
    };
    let ca_file = fields.get("ca_file").map(|n| read_ca_file(reader, &n));
    let insecure = fields
        .get("insecure")
        .map(|n| reader.boolean(&n))
        .unwrap_or(Some(false));
    let (server, starttls, from, to, subject, insecure) =
        (server?, starttls?, from?, to?, subject?, insecure?);
    let ca_file = match ca_file {
        Some(read) => Some(read?),
        None => None,
    };
    let security = match (server.tls, starttls) {
        (true, None) => SmtpSecurity::Tls,
        (true, Some((_, n))) => {
            reader.semantic_error(
                &n,
                "`starttls` is for smtp:// URLs; smtps:// is TLS from the start, so remove `starttls`",
            );
            return None;
        }
        (false, None) => SmtpSecurity::Opportunistic,
        (false, Some((security, n))) => {
            if security == SmtpSecurity::Never && !is_loopback(&server.host) {
                reader.semantic_error(
                    &n,
                    format!(
                        "`starttls: never` sends mail (and the password) in clear text, so it is only allowed for a server on loopback, not {}; use `required` or `opportunistic`",
                        server.host
                    ),
                );
                return None;
            }
            security
        }
    };
    if security == SmtpSecurity::Never && (ca_file.is_some() || insecure) {
        let n = fields.get("ca_file").or_else(|| fields.get("insecure"));
        if let Some(n) = n {
            reader.semantic_error(
                &n,
                "`ca_file` and `insecure` only apply to TLS, and `starttls: never` uses none; remove them",
            );
        }
        return None;
    }
    Some(EmailConfig {
        host: server.host,
        port: server.port,
        security,
        username: server.username,
        password: server.password,
        from,
        to,
        subject,
        ca_file,
        insecure,
        timeout,
    })
}

/// What an SMTP URL says.
struct SmtpServer {
    host: String,
    port: u16,
    /// `smtps://`: TLS from the start.
    tls: bool,
    username: Option<String>,
    password: Option<Secret>,
}

fn read_smtp_url(reader: &mut Reader, node: &Node) -> Option<SmtpServer> {
    let text = reader.text(node)?;
    let url = match Url::parse(text.value.trim()) {
        Ok(url) => url,
        Err(e) => {
            // Not echoed: an unparsable URL cannot be redacted, and may hold a password.
            reader.semantic_error(
                node,
                format!("not a valid URL ({e}); write it as smtp://[user:pass@]host:587 or smtps://host:465"),
            );
            return None;
        }
    };
    let shown = || shown_url(&url, text.masked.as_deref());
    let tls = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        _ => {
            reader.semantic_error(
                node,
                format!(
                    "`{}` is not an smtp or smtps URL; write it as smtp://[user:pass@]host:587 or smtps://host:465",
                    shown()
                ),
            );
            return None;
        }
    };
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => {
            reader.semantic_error(
                node,
                format!("`{}` names no server; write it as smtp://host:587", shown()),
            );
            return None;
        }
    };
    let extra = (url.path() != "" && url.path() != "/") || url.query().is_some();
    if extra {
        reader.semantic_error(
            node,
            format!(
                "`{}` has a path or query, which SMTP has no use for; write only smtp://[user:pass@]host:port",
                shown()
            ),
        );
        return None;
    }
    let port = url.port().unwrap_or(if tls {
        EmailConfig::SMTPS_PORT
    } else {
        EmailConfig::SMTP_PORT
    });
    let username = Some(percent_decoded(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(|p| Secret::new(percent_decoded(p)));
    if password.is_some() && username.is_none() {
        reader.semantic_error(
            node,
            format!(
                "`{}` has a password but no user name; write smtp://user:pass@host",
                shown()
            ),
        );
        return None;
    }
    Some(SmtpServer {
        host,
        port,
        tls,
        username,
        password,
    })
}

/// `starttls:` with its node (for later messages); `Some(None)` when not written.
fn read_starttls<'v>(
    reader: &mut Reader,
    fields: &Fields<'v>,
) -> Option<Option<(SmtpSecurity, Node<'v>)>> {
    let Some(n) = fields.get("starttls") else {
        return Some(None);
    };
    let text = reader.string(&n)?;
    let security = match text.trim() {
        "opportunistic" => SmtpSecurity::Opportunistic,
        "required" => SmtpSecurity::Required,
        "never" => SmtpSecurity::Never,
        other => {
            reader.semantic_error(
                &n,
                format!(
                    "unknown starttls `{other}`{}; use one of {}",
                    did_you_mean(other, SmtpSecurity::STARTTLS_NAMES.iter().copied()),
                    SmtpSecurity::STARTTLS_NAMES.join(", ")
                ),
            );
            return None;
        }
    };
    Some(Some((security, n)))
}

fn read_recipients(reader: &mut Reader, node: &Node) -> Option<Vec<String>> {
    let mut all_ok = true;
    let mut out = Vec::new();
    for item in reader.one_or_many(node) {
        match read_mailbox(reader, &item) {
            Some(mailbox) => out.push(mailbox),
            None => all_ok = false,
        }
    }
    if all_ok && out.is_empty() {
        reader.semantic_error(
            node,
            "the list is empty; name at least one recipient, such as [oncall@example.com]",
        );
        return None;
    }
    all_ok.then_some(out)
}

fn read_mailbox(reader: &mut Reader, node: &Node) -> Option<String> {
    let text = reader.string(node)?;
    let text = text.trim().to_string();
    match mailbox_problem(&text) {
        None => Some(text),
        Some(problem) => {
            reader.semantic_error(
                node,
                format!("`{text}` is not a mail address ({problem}); write it as name@example.com or \"Name <name@example.com>\""),
            );
            None
        }
    }
}

/// What is wrong with `name@domain` or `Display Name <name@domain>`, if anything. A first
/// screen only: the SMTP library parses it again, and the server has the last word.
fn mailbox_problem(text: &str) -> Option<&'static str> {
    if text.contains(['\r', '\n']) {
        return Some("it has a line break");
    }
    let address = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => &text[open + 1..text.len() - 1],
        (None, false) => text,
        _ => return Some("unbalanced < >"),
    };
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Some("no @");
    };
    if local.is_empty() || domain.is_empty() {
        return Some("nothing before or after the @");
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c == '<' || c == '>')
    {
        return Some("the address has spaces or brackets");
    }
    None
}

fn read_subject(reader: &mut Reader, node: &Node) -> Option<String> {
    let text = reader.string(node)?;
    if text.contains(['\r', '\n']) {
        reader.semantic_error(node, "the subject cannot contain line breaks");
        return None;
    }
    let unknown: Vec<String> = placeholders(&text)
        .filter(|name| !EmailConfig::PLACEHOLDERS.contains(name))
        .map(|name| format!("{{{name}}}"))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<String> = EmailConfig::PLACEHOLDERS
            .iter()
            .map(|p| format!("{{{p}}}"))
            .collect();
        reader.semantic_error(
            node,
            format!(
                "unknown placeholder {}; use {}",
                unknown.join(", "),
                known.join(", ")
            ),
        );
        return None;
    }
    Some(text)
}

/// The names between `{` and `}` in a template.
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|rest| {
        let (name, _) = rest.split_once('}')?;
        Some(name)
    })
}

fn read_ca_file(reader: &mut Reader, node: &Node) -> Option<std::path::PathBuf> {
    let written = reader.string(node)?;
    let path = relative_to(reader.dir, written.trim());
    if !path.is_file() {
        reader.semantic_error(
            node,
            format!(
                "{} is not a readable file; give the PEM file of the CA to trust",
                path.display()
            ),
        );
        return None;
    }
    Some(path)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `%40` as `@`: user names and passwords in a URL are percent-encoded. Bytes that do not
/// decode to UTF-8 are kept as the replacement character (a password so broken fails at
/// login, where the server says so).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(value as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_in_both_forms_pass_and_broken_ones_say_why() {
        assert_eq!(mailbox_problem("a@example.com"), None);
        assert_eq!(mailbox_problem("flowstate <a@example.com>"), None);
        assert_eq!(mailbox_problem("example.com"), Some("no @"));
        assert_eq!(
            mailbox_problem("a b@example.com"),
            Some("the address has spaces or brackets")
        );
        assert_eq!(mailbox_problem("x <a@example.com"), Some("unbalanced < >"));
        assert_eq!(
            mailbox_problem("a@example.com\r\nBcc: b@x"),
            Some("it has a line break")
        );
    }

    #[test]
    fn placeholders_are_found_between_braces() {
        let found: Vec<&str> = placeholders("[x] {host} is {status} {oops").collect();
        assert_eq!(found, ["host", "status"]);
    }

    #[test]
    fn url_credentials_are_percent_decoded() {
        assert_eq!(percent_decoded("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent_decoded("100%"), "100%");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["mail.example.com", "10.0.0.1"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
