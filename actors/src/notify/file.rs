//! The file notifier: one JSON object per line, appended and flushed per event.
//!
//! The file is opened on the first event and reopened after an error, so a deleted or rotated
//! file (logrotate `create`) is recreated instead of written into the void.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
use crate::event::AlertEvent;

pub struct FileNotifier {
    path: PathBuf,
    file: Option<File>,
}

impl FileNotifier {
    pub fn new(path: PathBuf) -> Self {
        FileNotifier { path, file: None }
    }

    fn open(&mut self) -> Result<&mut File, String> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("cannot open {}: {e}", self.path.display()))?;
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| format!("cannot open {}", self.path.display()))
    }
}

impl Notifier for FileNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        let written = self.append(event).map_err(DeliveryError::transient);
        Box::pin(std::future::ready(written))
    }

    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        let written = self.append(group).map_err(DeliveryError::transient);
        Box::pin(std::future::ready(written))
    }

    fn flush(&mut self) -> Result<(), String> {
        match &mut self.file {
            Some(file) => file
                .sync_data()
                .map_err(|e| format!("cannot sync {}: {e}", self.path.display())),
            None => Ok(()),
        }
    }
}

impl FileNotifier {
    /// Appends one line; a short write drops the handle so the next attempt reopens the file.
    fn append(&mut self, record: &impl serde::Serialize) -> Result<(), String> {
        let mut line = serde_json::to_string(record).map_err(|e| e.to_string())?;
        line.push('\n');
        let path = self.path.display().to_string();
        let file = self.open()?;
        // One write call per line: with O_APPEND a line is never split by another writer.
        let written = file.write_all(line.as_bytes()).and_then(|_| file.flush());
        if let Err(e) = written {
            self.file = None;
            return Err(format!("cannot write to {path}: {e}"));
        }
        Ok(())
    }
}
