//! The content hash of a configuration: what agents of a cluster compare to see that they run
//! the same files (SPEC §10: disagreement is visible).
//!
//! SHA-256 over each source file's path-free content, in load order, each prefixed by its
//! length so two files can never run into each other. Paths are left out: agents mount the
//! same files at different places.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use ring::digest::{Context, SHA256};

/// Shared between the Supervisor (which sets it at every applied configuration) and the
/// cluster pulse (which writes it with every heartbeat).
pub type SharedConfigHash = Arc<RwLock<String>>;

/// The first 16 bytes of the SHA-256, in hex; empty when a file cannot be read (it may be
/// mid-edit: the next applied configuration hashes it again).
pub fn content_hash(sources: &[PathBuf]) -> String {
    let mut digest = Context::new(&SHA256);
    for source in sources {
        let Ok(content) = std::fs::read(source) else {
            return String::new();
        };
        digest.update(&(content.len() as u64).to_be_bytes());
        digest.update(&content);
    }
    digest.finish().as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_anywhere_hashes_the_same_and_any_change_differs() {
        let dir = std::env::temp_dir().join(format!("flowstate-hash-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("b")).unwrap();
        let (a, b) = (dir.join("one.yaml"), dir.join("b/two.yaml"));
        std::fs::write(&a, "hosts: []\n").unwrap();
        std::fs::write(&b, "hosts: []\n").unwrap();
        let hash = content_hash(std::slice::from_ref(&a));
        assert_eq!(hash.len(), 32);
        assert_eq!(
            hash,
            content_hash(std::slice::from_ref(&b)),
            "paths do not count"
        );
        std::fs::write(&b, "hosts: [] # edited\n").unwrap();
        assert_ne!(hash, content_hash(std::slice::from_ref(&b)));
        assert_ne!(
            content_hash(&[a.clone(), a.clone()]),
            content_hash(std::slice::from_ref(&a))
        );
        assert_eq!(content_hash(&[dir.join("missing.yaml")]), "");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
