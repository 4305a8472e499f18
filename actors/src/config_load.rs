//! Loading the configuration files on a thread of their own, with a stack of known size.
//!
//! Every reload (a file edit, SIGHUP, `POST /-/reload`) and the first load go through here.
//! Reading, interpolating and validating a large file takes a while, and a hostile one (deep
//! nesting) used to take long enough to starve the arbiter that answers `/healthz` and takes
//! check results, or deep enough to overflow a worker thread's small stack. The loader itself
//! bounds its input; this module makes sure that whatever it costs is paid on a thread that
//! does nothing else, with a stack size chosen here rather than by whichever runtime thread
//! happened to call.
//!
//! A daemon's loads (at start and on reload) contain a tenant's errors: the tenant keeps what
//! it ran (nothing, at start) and the rest loads; `flowstate check` and a cluster's
//! configuration take no configuration with errors ([`load`], [`load_blocking`]).

use std::path::PathBuf;
use std::sync::Arc;

use flowstate_config::{Config, ConfigError, Diagnostic, Loaded, TenantFailure};

/// The loader thread's stack: the loader's recursion is bounded far below what this holds.
const LOADER_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Loads and validates `files` on a loader thread, without blocking the calling arbiter. Any
/// error fails it: for a configuration that must be whole (a cluster's).
pub async fn load(files: Vec<PathBuf>) -> Result<Config, ConfigError> {
    on_loader_thread(files, flowstate_config::load).await
}

/// Loads `files` for a daemon that runs `running`, on a loader thread: a tenant whose files
/// have errors keeps its part of `running` (see `flowstate_config::tenant_reload`); an error
/// of the main files fails the load.
pub async fn reload(files: Vec<PathBuf>, running: Arc<Config>) -> Result<Loaded, ConfigError> {
    on_loader_thread(files, move |files| {
        flowstate_config::load_with_previous(files, Some(&running))
    })
    .await
}

async fn on_loader_thread<T: Send + 'static>(
    files: Vec<PathBuf>,
    load: impl FnOnce(&[PathBuf]) -> Result<T, ConfigError> + Send + 'static,
) -> Result<T, ConfigError> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let first = files.first().cloned().unwrap_or_default();
    let spawned = loader_thread().spawn(move || {
        // The receiver is gone only when the reload was abandoned (shutdown): nothing to tell.
        let _ = answer.send(load(&files));
    });
    if let Err(e) = spawned {
        return Err(loader_failed(first, &format!("cannot start a thread: {e}")));
    }
    answered
        .await
        .unwrap_or_else(|_| Err(loader_failed(first, "it stopped without an answer")))
}

/// Loads and validates `files` on a loader thread and waits for it: for the command line,
/// which has nothing else to do meanwhile. Any error fails it (`flowstate check` checks
/// everything).
pub fn load_blocking(files: &[PathBuf]) -> Result<Config, ConfigError> {
    blocking(files, flowstate_config::load)
}

/// Loads `files` for a daemon about to start, and waits for it: a tenant whose files have
/// errors starts with no hosts (and is in [`Loaded::contained`]) rather than stopping every
/// other tenant and the platform's own hosts from being checked.
pub fn load_at_start(files: &[PathBuf]) -> Result<Loaded, ConfigError> {
    blocking(files, |files| {
        flowstate_config::load_with_previous(files, None)
    })
}

fn blocking<T: Send + 'static>(
    files: &[PathBuf],
    load: impl FnOnce(&[PathBuf]) -> Result<T, ConfigError> + Send + 'static,
) -> Result<T, ConfigError> {
    let first = files.first().cloned().unwrap_or_default();
    let owned = files.to_vec();
    match loader_thread().spawn(move || load(&owned)) {
        Ok(thread) => thread
            .join()
            .unwrap_or_else(|_| Err(loader_failed(first, "it stopped without an answer"))),
        Err(e) => Err(loader_failed(first, &format!("cannot start a thread: {e}"))),
    }
}

/// Logs a rejected configuration: one line per error, each beginning with `what` (e.g.
/// `config edit rejected`) so a search for the outcome finds them all.
pub fn log_rejection(what: &str, errors: &ConfigError) {
    for d in &errors.diagnostics {
        log::error!(error = d.to_string().as_str(); "{what}; the running configuration stays");
    }
}

/// Logs the tenants whose files were not taken: one line per error, at error level, naming
/// the tenant and saying what it runs meanwhile, so a search for `tenant config rejected`
/// finds them all.
pub fn log_contained(failures: &[TenantFailure]) {
    for failure in failures {
        let runs = match failure.kept {
            true => "it keeps running its last good configuration",
            false => "it runs no hosts until its files are fixed",
        };
        for d in &failure.error.diagnostics {
            log::error!(tenant = &*failure.tenant, error = d.to_string().as_str(); "tenant config rejected; {runs}, the other tenants are not affected");
        }
    }
}

fn loader_thread() -> std::thread::Builder {
    std::thread::Builder::new()
        .name("config-loader".into())
        .stack_size(LOADER_STACK_BYTES)
}

/// The loader thread failed: an error of flowstate, not of the file, told as one diagnostic
/// so every caller reports it the way it reports a bad file (and keeps what runs).
fn loader_failed(file: PathBuf, what: &str) -> ConfigError {
    ConfigError {
        diagnostics: vec![Diagnostic::new(
            &file,
            "",
            format!("the configuration could not be loaded: the loader thread failed ({what}); this is a bug in flowstate, please report it"),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error_of_that_file() {
        let missing = PathBuf::from("/nonexistent/flowstate.yaml");
        let error = load_blocking(std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(error.diagnostics[0].file, missing);
        assert!(!error.to_string().contains("loader thread"), "{error}");
    }

    #[actix_rt::test]
    async fn the_async_load_answers_on_the_calling_runtime() {
        let path = std::env::temp_dir().join(format!("flowstate-load-{}.yaml", std::process::id()));
        std::fs::write(&path, "hosts: []\n").unwrap();
        let loaded = load(vec![path.clone()]).await;
        std::fs::remove_file(&path).unwrap();
        assert!(loaded.unwrap().hosts().is_empty());
    }
}
