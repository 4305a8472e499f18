//! `flowstate silence`: mute the alerts of some hosts on a running daemon for a while, from a
//! terminal or a deploy script (`silence add --host api --for 30m --comment "deploy 142"`), list the
//! silences, or end one early.
//!
//! Exit 0 when done; 2 when the daemon refuses (an unknown label, a time in the past, an
//! unknown id, a store that did not take it) or cannot be reached. `add` prints the id that
//! `rm` takes.

use std::process::ExitCode;

use awc::http::Method;
use flowstate_actors::api::silences::{SilenceCreated, SilenceList};
use flowstate_actors::silences::Silence;
use serde_json::{json, Value};

use super::{exit, BadInput};
use crate::api_client::{path_segment, ApiClient, ApiError};
use crate::cli::{SilenceAction, SilenceArgs};
use crate::output;
use crate::table::Table;

pub fn run(args: &SilenceArgs) -> Result<ExitCode, BadInput> {
    let client = ApiClient::new(&args.api.api, args.api.token.clone());
    match &args.action {
        SilenceAction::Add {
            hosts,
            duration,
            until,
            comment,
        } => {
            let mut body = json!({ "hosts": hosts, "comment": comment });
            // clap lets exactly one through.
            if let Some(duration) = duration {
                body["duration"] = json!(duration);
            }
            if let Some(until) = until {
                body["until"] = json!(until);
            }
            let made: SilenceCreated = client
                .send(Method::POST, "/api/v1/silences", Some(&body))
                .map_err(refused)?;
            output::print_line(&made.id)?;
        }
        SilenceAction::List { json } => {
            let listed: SilenceList = client.get("/api/v1/silences").map_err(refused)?;
            if *json {
                let text =
                    serde_json::to_string_pretty(&listed).map_err(|e| BadInput(e.to_string()))?;
                output::print_line(&text)?;
            } else {
                output::print(&render(&listed.silences))?;
            }
        }
        SilenceAction::Rm { id } => {
            let path = format!("/api/v1/silences/{}", path_segment(id));
            let _: Value = client.send(Method::DELETE, &path, None).map_err(refused)?;
        }
    }
    Ok(exit::success())
}

/// The daemon's refusal in words: the `error` of its JSON answer rather than the JSON.
fn refused(error: ApiError) -> BadInput {
    if let ApiError::Status { url, status, body } = &error {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|answer| answer["error"].as_str().map(str::to_string));
        if let Some(message) = message {
            return BadInput(format!(
                "the flowstate API at {url} answered {status}: {message}"
            ));
        }
    }
    BadInput(error.to_string())
}

/// The silences as a table: id, hosts, when each ends, comment.
pub fn render(silences: &[Silence]) -> String {
    if silences.is_empty() {
        return "no silences\n".to_string();
    }
    let mut table = Table::new(&["ID", "HOSTS", "UNTIL", "COMMENT"]);
    for silence in silences {
        table.row(vec![
            silence.id.clone(),
            silence.hosts.join(","),
            flowstate_actors::model::rfc3339(silence.until),
            silence.comment.clone(),
        ]);
    }
    table.render("")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn silences_are_a_table_of_id_hosts_until_and_comment() {
        let made = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let silence = Silence::new(
            vec!["api".into(), "db-*".into()],
            made + Duration::from_secs(7200),
            "deploy 142".into(),
            made,
        );
        let table = render(std::slice::from_ref(&silence));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        assert!(
            lines[0].starts_with("ID") && lines[0].ends_with("COMMENT"),
            "{table}"
        );
        assert!(
            lines[1].starts_with(&silence.id)
                && lines[1].contains("api,db-*")
                && lines[1].contains("2027-01-15T10:00:00.000Z")
                && lines[1].ends_with("deploy 142"),
            "{table}"
        );
        assert_eq!(render(&[]), "no silences\n");
    }

    #[test]
    fn a_refusal_shows_the_daemons_message() {
        let error = refused(ApiError::Status {
            url: "http://127.0.0.1:9900/api/v1/silences".into(),
            status: 400,
            body: r#"{"error":"hosts[0]: no host is labelled \"apx\"; did you mean \"api\"?","field":"hosts"}"#.into(),
        });
        assert_eq!(
            error.to_string(),
            "the flowstate API at http://127.0.0.1:9900/api/v1/silences answered 400: hosts[0]: no host is labelled \"apx\"; did you mean \"api\"?"
        );
        let odd = refused(ApiError::Status {
            url: "u".into(),
            status: 502,
            body: "bad gateway".into(),
        });
        assert!(odd.to_string().ends_with("502: bad gateway"), "{odd}");
    }
}
