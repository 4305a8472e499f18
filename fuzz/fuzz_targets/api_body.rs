//! The API's JSON bodies: `POST /api/v1/silences` (`api::silences::silence`, which reads the
//! body itself), `POST /api/v1/announcements` and `.../updates` (`NewAnnouncement` and
//! `NewUpdate` as actix-web's `Json` reads them, then `announcement` and `updated`).
//! `POST /-/reload` takes no body or query: it has nothing to fuzz.
//!
//! Input: one flag byte (bit 0: the token is tenant `team-a`'s), then the body, given to all
//! three. Invariants: no panic; an accepted silence has hosts, each once, within the tenant
//! for a tenant's token, ends after now and at most `MAX_AHEAD` later, has a comment of at
//! most 1000 characters, and survives the store's JSON (to the millisecond it is written
//! with); an accepted announcement has a trimmed title of 1..=200 characters, and survives
//! JSON; an update never goes back in time.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use flowstate_actors::announcements::Announcement;
use flowstate_actors::api::announcements::{announcement, updated, NewAnnouncement, NewUpdate};
use flowstate_actors::api::silences::{silence, MAX_AHEAD};
use flowstate_actors::silences::Silence;
use libfuzzer_sys::fuzz_target;

/// A fixed "now", so runs are reproducible: 2027-01-15T08:00:00Z.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_799_999_200)
}

fn close(a: SystemTime, b: SystemTime) -> bool {
    let gap = a.duration_since(b).or_else(|_| b.duration_since(a));
    gap.is_ok_and(|gap| gap < Duration::from_millis(1))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flag, body)) = data.split_first() else {
        return;
    };
    let tenant = (flag & 1 == 1).then_some("team-a");
    let labels: HashSet<&str> = ["api", "db-1", "team-a/api", "team-a/web"].into();
    if let Ok(made) = silence(body, &labels, tenant, now()) {
        assert!(!made.hosts.is_empty());
        for (i, host) in made.hosts.iter().enumerate() {
            assert!(!made.hosts[..i].contains(host), "{made:?}");
            if let Some(tenant) = tenant {
                assert!(host.starts_with(&format!("{tenant}/")), "{made:?}");
            }
        }
        assert!(made.until > now(), "{made:?}");
        assert!(made.until <= now() + MAX_AHEAD, "{made:?}");
        assert!(made.comment.chars().count() <= 1000);
        let json = serde_json::to_string(&made).expect("a silence serialises");
        let back: Silence = serde_json::from_str(&json).expect("a silence reads back");
        assert_eq!(
            (&back.id, &back.hosts, &back.comment),
            (&made.id, &made.hosts, &made.comment)
        );
        assert!(close(back.until, made.until) && close(back.created_at, made.created_at));
    }
    if let Ok(new) = serde_json::from_slice::<NewAnnouncement>(body) {
        if let Ok(made) = announcement(&new, now()) {
            let count = made.title.chars().count();
            assert!((1..=200).contains(&count), "{made:?}");
            assert_eq!(made.title.trim(), made.title);
            let json = serde_json::to_string(&made).expect("an announcement serialises");
            let back: Announcement = serde_json::from_str(&json).expect("it reads back");
            assert_eq!((&back.id, &back.title), (&made.id, &made.title));
            assert_eq!(back.updates.len(), made.updates.len());
        }
    }
    if let Ok(update) = serde_json::from_slice::<NewUpdate>(body) {
        let first = NewAnnouncement {
            title: "API errors".into(),
            state: None,
            message: String::new(),
        };
        let made = announcement(&first, now()).expect("a plain announcement");
        // A clock stepped back an hour: the update still comes after the first.
        let earlier = now() - Duration::from_secs(3600);
        if let Ok(after) = updated(made.clone(), &update, earlier) {
            assert_eq!(after.updates.len(), made.updates.len() + 1);
            assert!(after.updates.windows(2).all(|w| w[0].at <= w[1].at));
        }
    }
});
