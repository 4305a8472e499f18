//! The files a tenant's configuration may name: only those under the directory of its own
//! `config` file (its includes, a `file` notifier's `path`, a `ca_file`).
//!
//! A tenant's file is written by the tenant's team, but flowstate reads and writes with the
//! platform's rights. Without this rule a tenant could include the platform's secrets to see
//! them quoted back in errors, or have a `file` notifier append to `/etc/cron.d/...`. Paths
//! are compared after resolving `..` and symbolic links (of the part that exists), so neither
//! `../../etc` nor a link out of the directory gets around it.

use std::path::{Component, Path, PathBuf};

/// The directory a tenant's files must stay in: that of its `config` file, resolved; `None`
/// when the file cannot be resolved (it is then reported as unreadable).
pub(crate) fn tenant_root(config: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(config)
        .ok()
        .and_then(|file| file.parent().map(Path::to_path_buf))
}

/// Whether `path` (relative paths taken from the current directory, as flowstate opens them)
/// is under `root` (resolved, as [`tenant_root`] gives it).
pub(crate) fn within(root: &Path, path: &Path) -> bool {
    resolved(path).is_some_and(|resolved| resolved.starts_with(root))
}

/// `path` made absolute, its longest existing ancestor resolved with its symbolic links, the
/// rest (which does not exist yet, such as a file a notifier will create) cleaned of `.` and
/// `..` lexically.
fn resolved(path: &Path) -> Option<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let base = loop {
        if let Ok(found) = std::fs::canonicalize(existing) {
            break found;
        }
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    };
    let mut out = base;
    for part in rest.iter().rev() {
        match Path::new(part).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) | None => {}
            Some(_) => out.push(part),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_root_through_dots_and_links() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("resolve");
        let tenant = root.join("team-a");
        std::fs::create_dir_all(tenant.join("certs")).expect("mkdir");
        std::fs::write(tenant.join("certs/ca.pem"), "x").expect("write");
        assert!(within(&tenant, &tenant.join("certs/ca.pem")));
        assert!(within(&tenant, &tenant.join("alerts/new.jsonl")));
        assert!(!within(&tenant, &tenant.join("../elsewhere.yaml")));
        assert!(!within(&tenant, &tenant.join("new/../../elsewhere.yaml")));
        assert!(!within(&tenant, Path::new("/etc/passwd")));
        std::os::unix::fs::symlink("/etc", tenant.join("etc")).expect("symlink");
        assert!(!within(&tenant, &tenant.join("etc/passwd")));
        assert!(!within(&tenant, &tenant.join("etc/cron.d/new")));
    }
}
