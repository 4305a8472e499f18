//! A real browser for tests: Debian's `chromium`, headless, driven over WebDriver by
//! `fantoccini` through a `chromedriver` this helper starts on a free port and kills on drop.
//!
//! Self-contained (no other helper of `tests/common`), so `benches/` can use it too. The
//! WebDriver calls are async; [`Browser`] owns a current-thread tokio runtime and blocks on
//! each, so tests stay plain `#[test]` functions. Chrome runs with `--no-sandbox` because the
//! tests run as root, and with a fixed window size so screenshots are comparable.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Where Debian puts the programs (`apt-get install chromium chromium-driver`).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long anything in the browser may take before its test fails.
pub const BROWSER_DEADLINE: Duration = Duration::from_secs(30);

/// A headless Chromium and the chromedriver that drives it.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver and a browser window of `width` × `height` CSS pixels.
    pub fn start(width: u32, height: u32) -> Browser {
        for program in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver \
                 (.ci/run does) to run the browser tests"
            );
        }
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
            listener.local_addr().expect("local address").port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser = Browser {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            client: None,
            driver,
        };
        let deadline = Instant::now() + BROWSER_DEADLINE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver never listened on {port}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let client = browser.block_on(async {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
        });
        browser.client = Some(client.expect("a WebDriver session with headless chromium"));
        browser
    }

    /// Runs `future` to its end on this browser's runtime.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Navigates to `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("load {url}: {e}"));
    }

    /// The page's address now.
    pub fn url(&self) -> String {
        self.block_on(self.client().current_url())
            .map(|u| u.to_string())
            .expect("the current URL")
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("run {script:?}: {e}"))
    }

    /// Polls `script` until it returns something truthy (and returns that) or fails the
    /// test after [`BROWSER_DEADLINE`], saying `what` it waited for.
    #[track_caller]
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + BROWSER_DEADLINE;
        loop {
            let value = self.run(script, Vec::new());
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() >= deadline {
                let page = self.run(
                    "return document.body ? document.body.innerText : ''",
                    vec![],
                );
                panic!(
                    "gave up after {BROWSER_DEADLINE:?} waiting until {what}; last: {value}\npage at {}:\n{}",
                    self.url(),
                    page.as_str().unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` into the element `css` finds.
    pub fn type_into(&self, css: &str, text: &str) {
        self.block_on(async {
            let element = self.client().find(Locator::Css(css)).await?;
            element.send_keys(text).await
        })
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element `css` finds.
    pub fn click(&self, css: &str) {
        self.block_on(async {
            let element = self.client().find(Locator::Css(css)).await?;
            element.click().await
        })
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        self.block_on(self.client().screenshot())
            .expect("a screenshot")
    }

    /// Sets the window to `width` × `height`.
    pub fn resize(&self, width: u32, height: u32) {
        self.block_on(self.client().set_window_size(width, height))
            .expect("resize the window");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
