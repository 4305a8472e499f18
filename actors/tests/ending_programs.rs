//! `process::end_all`, as a stopping daemon uses it: every program still running is killed
//! with its whole process group, each run reports `Interrupted` once it has reaped its own,
//! and nothing starts afterwards.
//!
//! A test binary of its own: `end_all` is process-wide and final, so it must not meet the
//! runs of other tests.

#[path = "common/processes.rs"]
mod processes;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowstate_actors::process::{self, RunError};
use processes::{alive, pids_in, KillListed};
use tokio::process::Command;

/// A program that records its PID and its background child's in `pids`, then waits an hour.
fn sleeper(pids: &Path) -> Command {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        r#"sleep 3600 & echo $! >> "$1"; echo $$ >> "$1"; wait"#,
        "sh",
    ]);
    command.arg(pids);
    command
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // Whatever a failed test left running goes too.
        drop(KillListed(vec![self.0.join("pids")]));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[actix_rt::test]
async fn end_all_kills_every_running_program_and_its_group_and_starts_nothing_after() {
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "flowstate-ending-{}-{}",
        std::process::id(),
        ulid::Ulid::new()
    )));
    std::fs::create_dir_all(&scratch.0).expect("create the scratch directory");
    let pids = scratch.0.join("pids");

    let runs: Vec<_> = (0..5)
        .map(|_| {
            actix_rt::spawn(process::run(
                sleeper(&pids),
                Vec::new(),
                Duration::from_secs(3600),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_in(&pids).len() < 10 {
        assert!(Instant::now() < deadline, "the programs did not start");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(process::unfinished(), 5);

    let started = Instant::now();
    assert_eq!(process::end_all(), 5);
    for run in runs {
        let outcome = run.await.expect("the run did not panic");
        assert!(matches!(outcome, Err(RunError::Interrupted)), "{outcome:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(process::unfinished(), 0);
    let listed = pids_in(&pids);
    let deadline = Instant::now() + Duration::from_secs(5);
    while listed.iter().any(|&pid| alive(pid)) {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}",
            listed.iter().filter(|&&pid| alive(pid)).collect::<Vec<_>>()
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }

    // Nothing starts any more.
    let late = process::run(sleeper(&pids), Vec::new(), Duration::from_secs(3600)).await;
    assert!(matches!(late, Err(RunError::Interrupted)), "{late:?}");
    assert_eq!(pids_in(&pids).len(), 10, "a program started after end_all");
}
