//! The announcement routes: incident notes for the public status page, set by people.
//!
//! - `GET /api/v1/announcements`: every announcement, newest first.
//! - `POST /api/v1/announcements` `{title, state, message}`: a new one (201).
//! - `POST /api/v1/announcements/{id}/updates` `{state, message}`: a step of its timeline.
//! - `DELETE /api/v1/announcements/{id}`: gone from the page and the feed (204).
//!
//! With a state store a change is written there before it is shown: a store that refuses it
//! answers 503 and nothing changes, so an author never believes a note was published that a
//! restart would lose.

use std::time::SystemTime;

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::access::{Access, Need};
use super::{admitted, written_first, ApiState};
use crate::announcements::{
    Announcement, AnnouncementBoard, AnnouncementState, AnnouncementUpdate,
};
use crate::store::{DeleteAnnouncement, SaveAnnouncement};

/// What the announcement routes work on.
#[derive(Clone)]
pub struct AnnouncementsApi {
    pub board: AnnouncementBoard,
    /// The store's writer; `None` without a store (announcements then last until a restart).
    pub save: Option<Recipient<SaveAnnouncement>>,
    pub delete: Option<Recipient<DeleteAnnouncement>>,
}

/// Longest title and message: a status page is read on phones.
const MAX_TITLE: usize = 200;
const MAX_MESSAGE: usize = 10_000;

/// `POST /api/v1/announcements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAnnouncement {
    pub title: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub message: String,
}

/// `POST /api/v1/announcements/{id}/updates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    pub state: String,
    #[serde(default)]
    pub message: String,
}

/// Why a request was refused; each says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnouncementError {
    #[error("title is empty; give the announcement a title, e.g. \"API errors\"")]
    EmptyTitle,
    #[error("title is {0} characters long; keep it to {MAX_TITLE}")]
    LongTitle(usize),
    #[error("message is {0} characters long; keep it to {MAX_MESSAGE}")]
    LongMessage(usize),
    #[error("state {0:?} is not one of investigating, identified, monitoring, resolved")]
    BadState(String),
}

fn state(given: Option<&str>) -> Result<AnnouncementState, AnnouncementError> {
    match given {
        None => Ok(AnnouncementState::Investigating),
        Some(text) => AnnouncementState::parse(text.trim())
            .ok_or_else(|| AnnouncementError::BadState(text.to_string())),
    }
}

fn message(text: &str) -> Result<String, AnnouncementError> {
    let count = text.chars().count();
    if count > MAX_MESSAGE {
        return Err(AnnouncementError::LongMessage(count));
    }
    Ok(text.trim().to_string())
}

/// The announcement a `POST /api/v1/announcements` asks for, made at `now`.
pub fn announcement(
    body: &NewAnnouncement,
    now: SystemTime,
) -> Result<Announcement, AnnouncementError> {
    let title = body.title.trim();
    if title.is_empty() {
        return Err(AnnouncementError::EmptyTitle);
    }
    let count = title.chars().count();
    if count > MAX_TITLE {
        return Err(AnnouncementError::LongTitle(count));
    }
    Ok(Announcement::new(
        title.to_string(),
        state(body.state.as_deref())?,
        message(&body.message)?,
        now,
    ))
}

/// `announcement` with the update a `POST .../updates` asks for, made at `now` (never before
/// its last update, so a clock stepping back keeps the timeline in order).
pub fn updated(
    mut announcement: Announcement,
    body: &NewUpdate,
    now: SystemTime,
) -> Result<Announcement, AnnouncementError> {
    let at = announcement.updated().max(now);
    announcement.updates.push(AnnouncementUpdate {
        at,
        state: state(Some(&body.state))?,
        message: message(&body.message)?,
    });
    Ok(announcement)
}

fn bad_request(error: AnnouncementError) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error.to_string() }))
}

/// Writes `announcement` to the store (when there is one), then shows it.
async fn publish(
    api: &AnnouncementsApi,
    announcement: Announcement,
) -> Result<Announcement, HttpResponse> {
    written_first(
        api.save.as_ref(),
        SaveAnnouncement(announcement.clone()),
        "announcement",
    )
    .await?;
    api.board.put(announcement.clone());
    Ok(announcement)
}

fn not_found(id: &str) -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "error": format!("no announcement with id {id:?}; GET /api/v1/announcements lists them") }))
}

/// Whether `access` sees `announcement`: a tenant its own; `server.token` all.
fn sees(access: &Access, announcement: &Announcement) -> bool {
    access.tenant().is_none() || access.tenant() == announcement.tenant.as_deref()
}

/// Announcement `id` if `access` sees it.
fn seen(state: &ApiState, access: &Access, id: &str) -> Option<Announcement> {
    state
        .announcements
        .board
        .get(id)
        .filter(|announcement| sees(access, announcement))
}

pub async fn list(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let mut all = state.announcements.board.all();
    all.retain(|announcement| sees(&access, announcement));
    HttpResponse::Ok().json(all)
}

pub async fn create(
    request: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<NewAnnouncement>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Respond).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let mut made = match announcement(&body, SystemTime::now()) {
        Ok(made) => made,
        Err(e) => return bad_request(e),
    };
    made.tenant = access.tenant().map(str::to_string);
    match publish(&state.announcements, made).await {
        Ok(published) => {
            log::info!(id = published.id.as_str(), state = published.state().as_str(); "announcement published");
            HttpResponse::Created().json(published)
        }
        Err(refused) => refused,
    }
}

pub async fn update(
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: web::Path<String>,
    body: web::Json<NewUpdate>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Respond).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let Some(existing) = seen(&state, &access, &id) else {
        return not_found(&id);
    };
    let changed = match updated(existing, &body, SystemTime::now()) {
        Ok(changed) => changed,
        Err(e) => return bad_request(e),
    };
    match publish(&state.announcements, changed).await {
        Ok(published) => {
            log::info!(id = published.id.as_str(), state = published.state().as_str(); "announcement updated");
            HttpResponse::Ok().json(published)
        }
        Err(refused) => refused,
    }
}

pub async fn delete(
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Respond).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let api = &state.announcements;
    if seen(&state, &access, &id).is_none() {
        return not_found(&id);
    }
    if let Err(refused) = written_first(
        api.delete.as_ref(),
        DeleteAnnouncement(id.to_string()),
        "announcement",
    )
    .await
    {
        return refused;
    }
    api.board.remove(&id);
    log::info!(id = id.as_str(); "announcement deleted");
    HttpResponse::NoContent().finish()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_new_announcement_is_investigating_unless_it_says_otherwise() {
        let body = NewAnnouncement {
            title: "  API errors ".into(),
            state: None,
            message: "Looking into it".into(),
        };
        let made = announcement(&body, now()).unwrap();
        assert_eq!(made.title, "API errors");
        assert_eq!(made.state(), AnnouncementState::Investigating);
        let resolved = updated(
            made,
            &NewUpdate {
                state: "resolved".into(),
                message: "Fixed".into(),
            },
            now() - Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(resolved.state(), AnnouncementState::Resolved);
        assert_eq!(resolved.updated(), now(), "never before the last update");
    }

    #[test]
    fn bad_requests_say_what_to_send() {
        let empty = NewAnnouncement {
            title: " ".into(),
            state: None,
            message: String::new(),
        };
        assert_eq!(
            announcement(&empty, now()),
            Err(AnnouncementError::EmptyTitle)
        );
        let odd = NewAnnouncement {
            title: "x".into(),
            state: Some("fixed".into()),
            message: String::new(),
        };
        let error = announcement(&odd, now()).unwrap_err().to_string();
        assert!(
            error.contains("\"fixed\"") && error.contains("monitoring, resolved"),
            "{error}"
        );
        let long = NewAnnouncement {
            title: "t".repeat(201),
            state: None,
            message: String::new(),
        };
        assert_eq!(
            announcement(&long, now()),
            Err(AnnouncementError::LongTitle(201))
        );
    }
}
