//! Test support: a SQLite state file in a fresh directory of its own, removed with its WAL
//! files when dropped, for the store's unit tests (the writer, the reader and the backend).

use std::path::PathBuf;

use flowstate_config::StateSettings;

/// `state.db` in a new directory under the temp directory.
pub struct TempDb(pub PathBuf);

impl TempDb {
    /// `name` says which test made it, for whoever finds one left behind.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "flowstate-store-{name}-{}-{}",
            std::process::id(),
            ulid::Ulid::new()
        ));
        std::fs::create_dir_all(&dir).expect("create the test's directory");
        TempDb(dir.join("state.db"))
    }

    /// A `state:` section naming this file.
    pub fn settings(&self) -> StateSettings {
        StateSettings {
            path: Some(self.0.clone()),
            ..StateSettings::default()
        }
    }

    /// Runs `sql` on the file directly, as an older flowstate or another tool would.
    pub fn write(&self, sql: &str) {
        rusqlite::Connection::open(&self.0)
            .and_then(|c| c.execute_batch(sql))
            .expect("the test's SQL runs");
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
