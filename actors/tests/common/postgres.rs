//! A throwaway PostgreSQL server for one test: `initdb` into a temporary directory, started
//! on a free loopback port, stopped and deleted when dropped (also when the test panics).
//!
//! The Debian `postgresql` package provides the programs (`.ci/run` installs it). PostgreSQL
//! refuses to run as root, and the tests run as root, so its programs run as the `postgres`
//! user then. Shared by the actors crate's tests and the root suite (`#[path]`).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One server, its data directory and port.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

/// Where the server programs are: Debian keeps them out of `PATH`, one directory per version.
fn bin_dir() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql").unwrap_or_else(|e| {
        panic!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); run `apt-get install postgresql`")
    });
    let mut found: Vec<PathBuf> = versions
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no PostgreSQL version with initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args`, as the `postgres` user when this process is root.
fn run(program: &Path, args: &[&str]) -> Output {
    let mut command = if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn check(what: &str, output: Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Postgres {
    /// A new, empty cluster, running.
    pub fn start() -> Postgres {
        static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flowstate-pg-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::SeqCst)
        ));
        let server = Postgres {
            bin: bin_dir(),
            port: free_port(),
            dir,
        };
        // Made by the user the server runs as: /tmp lets anyone create a directory.
        check(
            "mkdir",
            run(
                Path::new("/bin/mkdir"),
                &["-p", &server.dir.to_string_lossy()],
            ),
        );
        check(
            "initdb",
            run(
                &server.bin.join("initdb"),
                &[
                    "-D",
                    &server.data().to_string_lossy(),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            ),
        );
        server.resume();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`, TLS off (the test server has none).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// Creates `name` and returns its URL.
    pub fn database(&self, name: &str) -> String {
        check(
            "createdb",
            run(
                &self.bin.join("createdb"),
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    name,
                ],
            ),
        );
        self.url(name)
    }

    /// Runs `sql` in `database` with psql and returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = run(
            &self.bin.join("psql"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        );
        check("psql", output.clone());
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Stops the server at once (connections are cut, as in a crash or a restart).
    pub fn pause(&self) {
        check("pg_ctl stop", self.stop());
    }

    /// `pg_ctl stop -m immediate`, waiting until the server is gone.
    fn stop(&self) -> Output {
        run(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    /// Starts the (stopped) server again on the same port, waiting until it accepts
    /// connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        check(
            "pg_ctl start",
            run(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    &self.data().to_string_lossy(),
                    "-o",
                    &options,
                    "-l",
                    &self.dir.join("server.log").to_string_lossy(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            ),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Already stopped by the test (or never started) is fine: the directory goes anyway.
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
