//! Announcements: incident notes for the public status page, written by people (API or
//! CLI), each a title and a timeline of updates (investigating, identified, monitoring,
//! resolved).
//!
//! The [`AnnouncementBoard`] holds them in memory for the pages; with a state store every
//! change is written there first, so a restart keeps them and a change the store refused is
//! refused to its author too (rather than shown and then lost).

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Where an incident stands, as status pages (Statuspage, Cachet, Kuma) name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnouncementState {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl AnnouncementState {
    pub const ALL: [AnnouncementState; 4] = [
        AnnouncementState::Investigating,
        AnnouncementState::Identified,
        AnnouncementState::Monitoring,
        AnnouncementState::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnnouncementState::Investigating => "investigating",
            AnnouncementState::Identified => "identified",
            AnnouncementState::Monitoring => "monitoring",
            AnnouncementState::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<AnnouncementState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One step of an announcement's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnouncementUpdate {
    #[serde(with = "crate::model::rfc3339_serde")]
    pub at: SystemTime,
    pub state: AnnouncementState,
    pub message: String,
}

/// An incident note with its updates, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// A ULID: unique, and sortable by creation.
    pub id: String,
    pub title: String,
    pub updates: Vec<AnnouncementUpdate>,
    /// The tenant whose token published it; `None`: the platform's. Only the platform's are
    /// on the public status page, which is the platform team's to speak on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl Announcement {
    /// A new announcement with its first update.
    pub fn new(title: String, state: AnnouncementState, message: String, at: SystemTime) -> Self {
        Announcement {
            id: ulid::Ulid::from_datetime(at).to_string(),
            title,
            updates: vec![AnnouncementUpdate { at, state, message }],
            tenant: None,
        }
    }

    /// Where it stands: its latest update's state.
    pub fn state(&self) -> AnnouncementState {
        self.updates
            .last()
            .map_or(AnnouncementState::Resolved, |u| u.state)
    }

    pub fn created(&self) -> SystemTime {
        self.updates
            .first()
            .map_or(SystemTime::UNIX_EPOCH, |u| u.at)
    }

    pub fn updated(&self) -> SystemTime {
        self.updates.last().map_or(SystemTime::UNIX_EPOCH, |u| u.at)
    }

    pub fn is_open(&self) -> bool {
        self.state() != AnnouncementState::Resolved
    }
}

/// Every announcement, newest first, shared by the API and the pages.
#[derive(Debug, Clone, Default)]
pub struct AnnouncementBoard(Arc<RwLock<Vec<Announcement>>>);

impl AnnouncementBoard {
    pub fn new(mut restored: Vec<Announcement>) -> Self {
        restored.sort_by(|a, b| b.id.cmp(&a.id));
        AnnouncementBoard(Arc::new(RwLock::new(restored)))
    }

    /// Every announcement, newest first.
    pub fn all(&self) -> Vec<Announcement> {
        self.0.read().map(|list| list.clone()).unwrap_or_default()
    }

    pub fn get(&self, id: &str) -> Option<Announcement> {
        self.0
            .read()
            .ok()
            .and_then(|list| list.iter().find(|a| a.id == id).cloned())
    }

    /// Adds or replaces (by id) `announcement`.
    pub fn put(&self, announcement: Announcement) {
        if let Ok(mut list) = self.0.write() {
            match list.iter_mut().find(|a| a.id == announcement.id) {
                Some(existing) => *existing = announcement,
                None => {
                    list.push(announcement);
                    list.sort_by(|a, b| b.id.cmp(&a.id));
                }
            }
        }
    }

    /// Removes the announcement `id`; whether it was there.
    pub fn remove(&self, id: &str) -> bool {
        match self.0.write() {
            Ok(mut list) => {
                let before = list.len();
                list.retain(|a| a.id != id);
                list.len() != before
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn an_announcement_stands_where_its_latest_update_says() {
        let mut note = Announcement::new(
            "API errors".into(),
            AnnouncementState::Investigating,
            "Looking into it".into(),
            at(0),
        );
        assert!(note.is_open());
        note.updates.push(AnnouncementUpdate {
            at: at(60),
            state: AnnouncementState::Resolved,
            message: "Fixed".into(),
        });
        assert_eq!(note.state(), AnnouncementState::Resolved);
        assert!(!note.is_open());
        assert_eq!((note.created(), note.updated()), (at(0), at(60)));
        let json = serde_json::to_string(&note).unwrap();
        assert!(json.contains(r#""state":"resolved""#), "{json}");
        assert_eq!(serde_json::from_str::<Announcement>(&json).unwrap(), note);
    }

    #[test]
    fn the_board_lists_newest_first_and_replaces_by_id() {
        let older = Announcement::new("a".into(), AnnouncementState::Identified, "".into(), at(0));
        let newer = Announcement::new("b".into(), AnnouncementState::Monitoring, "".into(), at(9));
        let board = AnnouncementBoard::new(vec![older.clone(), newer.clone()]);
        let titles: Vec<String> = board.all().into_iter().map(|a| a.title).collect();
        assert_eq!(titles, ["b", "a"]);
        let mut renamed = older.clone();
        renamed.title = "a2".into();
        board.put(renamed);
        assert_eq!(board.get(&older.id).map(|a| a.title), Some("a2".into()));
        assert!(board.remove(&newer.id));
        assert!(!board.remove(&newer.id));
        assert_eq!(board.all().len(), 1);
    }
}
