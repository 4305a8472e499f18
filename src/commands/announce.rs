//! `flowstate announce`: incident notes on the public status page of a running daemon, from
//! a terminal or a deploy script (`announce new "Database maintenance" --state monitoring`).
//!
//! Exit 0 when done; 2 when the daemon refuses (a bad state, an unknown id, a store that did
//! not take it) or cannot be reached. `new` prints the id that `update` and `rm` take.

use std::process::ExitCode;

use awc::http::Method;
use flowstate_actors::announcements::Announcement;
use serde_json::json;

use super::{exit, BadInput};
use crate::api_client::{path_segment, ApiClient};
use crate::cli::{AnnounceAction, AnnounceArgs};
use crate::output;
use crate::table::Table;

pub fn run(args: &AnnounceArgs) -> Result<ExitCode, BadInput> {
    let client = ApiClient::new(&args.api.api, args.api.token.clone());
    let refused = |e: crate::api_client::ApiError| BadInput(e.to_string());
    match &args.action {
        AnnounceAction::New {
            title,
            state,
            message,
        } => {
            let body = json!({ "title": title, "state": state.as_str(), "message": message });
            let made: Announcement = client
                .send(Method::POST, "/api/v1/announcements", Some(&body))
                .map_err(refused)?;
            output::print_line(&made.id)?;
        }
        AnnounceAction::Update { id, state, message } => {
            let body = json!({ "state": state.as_str(), "message": message });
            let path = format!("/api/v1/announcements/{}/updates", path_segment(id));
            let _: Announcement = client
                .send(Method::POST, &path, Some(&body))
                .map_err(refused)?;
        }
        AnnounceAction::List { json } => {
            let all: Vec<Announcement> = client.get("/api/v1/announcements").map_err(refused)?;
            if *json {
                let text =
                    serde_json::to_string_pretty(&all).map_err(|e| BadInput(e.to_string()))?;
                output::print_line(&text)?;
            } else {
                output::print(&render(&all))?;
            }
        }
        AnnounceAction::Rm { id } => {
            let path = format!("/api/v1/announcements/{}", path_segment(id));
            let _: serde_json::Value = client.send(Method::DELETE, &path, None).map_err(refused)?;
        }
    }
    Ok(exit::success())
}

/// The announcements as a table: id, state, last update, title.
pub fn render(all: &[Announcement]) -> String {
    if all.is_empty() {
        return "no announcements\n".to_string();
    }
    let mut table = Table::new(&["ID", "STATE", "UPDATED", "TITLE"]);
    for note in all {
        table.row(vec![
            note.id.clone(),
            note.state().as_str().to_string(),
            flowstate_actors::model::rfc3339(note.updated()),
            note.title.clone(),
        ]);
    }
    table.render("")
}
