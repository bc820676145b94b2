//! A real headless Chromium, driven over the W3C WebDriver protocol by chromedriver
//! (Debian's `chromium` and `chromium-driver`). A small client of the protocol: the
//! commands the console tests use, each waiting with a deadline, and a screenshot of
//! the page kept in the target directory when an expectation fails.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(15);

/// Where the browser and its driver are, if this machine has them.
fn installed() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            let p = PathBuf::from(n);
            p.is_file().then_some(p)
        })
    };
    let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])?;
    let browser = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])?;
    Some((driver, browser))
}

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    /// The test's name, for the screenshot of a failure.
    name: String,
}

impl Drop for Browser {
    /// Ends the WebDriver session first: chromedriver then closes Chromium. Killing
    /// the driver alone left every test's browser running, orphaned, after the tests.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            end_session(self.addr, &self.session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/{id}`, blocking (it runs in `drop`), waiting for the answer,
/// which chromedriver sends once the browser has quit. A driver that does not answer
/// is killed anyway; the test says on stderr that its browser may be left running.
fn end_session(addr: SocketAddr, session: &str) {
    use std::io::{Read, Write};
    let ended = std::net::TcpStream::connect_timeout(&addr, WAIT).and_then(|mut stream| {
        stream.set_read_timeout(Some(WAIT))?;
        stream.write_all(
            format!(
                "DELETE /session/{session} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .as_bytes(),
        )?;
        stream.read_to_end(&mut Vec::new())
    });
    if let Err(e) = ended {
        eprintln!(
            "chromedriver did not end session {session} ({e}): its Chromium may be left running"
        );
    }
}

async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("chromedriver answers");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP connection to chromedriver");
    tokio::spawn(conn);
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap();
    let res = sender
        .send_request(req)
        .await
        .expect("chromedriver answers");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

impl Browser {
    /// A fresh headless browser at 1280×800 (`None`, said on stderr, when this machine
    /// has no Chromium: the test is then skipped).
    pub async fn start(name: &str) -> Option<Browser> {
        let Some((driver, browser)) = installed() else {
            eprintln!(
                "SKIPPED {name}: no chromium and chromium-driver on this machine (.ci/run installs them)"
            );
            return None;
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,800", "--no-first-run", "--disable-extensions"]
            }
        }}});
        let mut b = Browser {
            driver: child,
            addr,
            session: String::new(),
            name: name.to_owned(),
        };
        let answer = http(addr, "POST", "/session", Some(caps)).await;
        b.session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {answer}"))
            .to_owned();
        Some(b)
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = http(
            self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
        .await;
        answer["value"].clone()
    }

    /// Keeps a screenshot of the page and fails the test with `message`.
    pub async fn fail(&self, message: &str) -> ! {
        let shot = self.command("GET", "/screenshot", None).await;
        let dir =
            PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
                .join("console-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}.png", self.name));
        if let Some(png) = shot.as_str().and_then(|s| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(s).ok()
        }) {
            let _ = std::fs::write(&path, png);
        }
        let text = self.text("body").await.unwrap_or_default();
        panic!(
            "{message}\nscreenshot: {}\npage text:\n{text}",
            path.display()
        );
    }

    /// Saves a screenshot of the page at `path` (for the documentation).
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let shot = self.command("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a PNG");
        std::fs::write(path, png).expect("the screenshot is written");
    }

    pub async fn go(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    async fn find_now(&self, css: &str) -> Option<String> {
        let v = self
            .command(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(str::to_owned)
    }

    /// The element `css` selects, waiting for it to appear.
    pub async fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(id) = self.find_now(css).await {
                return id;
            }
            if started.elapsed() > WAIT {
                self.fail(&format!("no element {css:?}")).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many elements `css` selects now.
    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .command(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array().map_or(0, Vec::len)
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.command("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command("POST", &format!("/element/{id}/clear"), Some(json!({})))
            .await;
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Runs `script` in the page with `args`; its result.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Picks the option of value `value` in the select `css`, as a person would
    /// (the select's change event fires).
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await;
        self.run(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([css, value]),
        )
        .await;
    }

    async fn text(&self, css: &str) -> Option<String> {
        let id = self.find_now(css).await?;
        self.command("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// Waits until the text of `css` contains `wanted`; that text.
    pub async fn wait_text(&self, css: &str, wanted: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(t) = self.text(css).await
                && t.contains(wanted)
            {
                return t;
            }
            if started.elapsed() > WAIT {
                self.fail(&format!("{css:?} never said {wanted:?}")).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css` selects exactly `n` elements.
    pub async fn wait_count(&self, css: &str, n: usize) {
        let started = Instant::now();
        loop {
            let now = self.count(css).await;
            if now == n {
                return;
            }
            if started.elapsed() > WAIT {
                self.fail(&format!("{css:?} selects {now}, not {n}")).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in on the console at `base` with `token`.
    pub async fn sign_in(&self, base: &str, token: &str) {
        self.go(&format!("{base}/")).await;
        self.type_into("#token", token).await;
        self.click("#sign-in button[type=submit]").await;
        self.find("#sign-out").await;
    }
}
