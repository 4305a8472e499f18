//! Files of the repository itself (docs, examples, deployment files), for the tests that hold
//! them to what the binary does.

use std::path::Path;

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text of `path`, relative to the repository's root (an absolute path is taken as is);
/// a file that cannot be read fails the test.
#[track_caller]
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(root().join(path))
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
