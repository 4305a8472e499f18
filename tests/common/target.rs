//! Targets a daemon checks whose answers the test changes while it runs.
//!
//! [`switchable`] is a [`TestServer`] whose status the test flips (an `AtomicU16` read by the
//! handler), so a host goes down and up for real. [`StallServer`] accepts connections and never
//! answers, counting how many checks it has open at once.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{Response, TestServer};

/// A target whose answer's status the test changes while the daemon runs: store a status in
/// the returned `AtomicU16` and every later request gets it (with the body `hi`).
pub fn switchable(status: u16) -> (Arc<AtomicU16>, TestServer) {
    let current = Arc::new(AtomicU16::new(status));
    let answer = current.clone();
    let server = TestServer::start(move |_, _| Response::status(answer.load(SeqCst)).body("hi"));
    (current, server)
}

/// A target that accepts connections and never answers. A connection counts as open from
/// its accept until the client closes it, so unlike a handler that sleeps, it sees exactly
/// when the daemon gives up on a check, and how many checks it has open at once.
pub struct StallServer {
    addr: SocketAddr,
    counts: Arc<Mutex<StallCounts>>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct StallCounts {
    pub accepted: usize,
    pub open: usize,
    pub peak: usize,
}

impl StallServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let counts = Arc::new(Mutex::new(StallCounts::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (counts, stopping) = (counts.clone(), stopping.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let overlapping = {
                        let mut c = counts.lock().unwrap();
                        c.accepted += 1;
                        c.open += 1;
                        c.open > 1
                    };
                    // The daemon closes a check's connection before it opens the next, but
                    // this server's reader thread may see that close a little after the new
                    // accept. Judge overlap once such a close had time to arrive: a real one
                    // (a check still in flight) stays open far longer.
                    if overlapping {
                        thread::sleep(Duration::from_millis(100));
                    }
                    {
                        let mut c = counts.lock().unwrap();
                        c.peak = c.peak.max(c.open);
                    }
                    let (counts, stopping) = (counts.clone(), stopping.clone());
                    thread::spawn(move || {
                        hold_until_closed(stream, &stopping);
                        counts.lock().unwrap().open -= 1;
                    });
                }
            })
        };
        StallServer {
            addr,
            counts,
            stopping,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/never", self.addr)
    }

    pub fn counts(&self) -> StallCounts {
        *self.counts.lock().unwrap()
    }
}

/// Reads (and ignores) whatever the client sends until it closes the connection.
fn hold_until_closed(mut stream: TcpStream, stopping: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if stopping.load(SeqCst) {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        self.stopping.store(true, SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
