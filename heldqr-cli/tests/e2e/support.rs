//! Test harness: a real `heldqr-mock` process on 127.0.0.1 port 0 and a runner for the real
//! `heldqr` binary with its own config directory and a clean environment.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PRO: &str = "hkr_test_pro";
pub const FREE: &str = "hkr_test_free";
pub const BUSINESS: &str = "hkr_test_business";

/// The `heldqr` binary under test.
pub fn heldqr_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_heldqr"))
}

/// The `heldqr-mock` binary, built beside `heldqr` in the same target directory.
fn mock_bin() -> PathBuf {
    let path = heldqr_bin().with_file_name(format!("heldqr-mock{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p heldqr-mock` first (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// A running `heldqr-mock` process; killed when dropped.
pub struct Mock {
    child: Child,
    pub base_url: String,
}

impl Mock {
    /// The mock with its dev tokens and default limits.
    pub fn start() -> Mock {
        Mock::start_with(&[])
    }

    /// The mock with extra command-line arguments.
    pub fn start_with(args: &[&str]) -> Mock {
        let mut child = Command::new(mock_bin())
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start heldqr-mock");
        let stdout = child.stdout.take().expect("mock stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base_url = loop {
            let line = lines
                .next()
                .expect("heldqr-mock exited before printing its address")
                .expect("read mock stdout");
            if let Some(rest) = line.strip_prefix("heldqr-mock listening on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stdout so the mock never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let mock = Mock { child, base_url };
        mock.wait_ready();
        mock
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(reply) = self.try_http("GET", "/healthz", &[], None)
                && reply.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "heldqr-mock never became ready");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A request to the mock itself (scan URLs, mock-only routes).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        self.try_http(method, path, headers, body)
            .expect("request to heldqr-mock")
    }

    fn try_http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> std::io::Result<Reply> {
        let authority = self.base_url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(authority)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut head_lines = head.lines();
        let status = head_lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = head_lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(Reply {
            status,
            headers,
            body: body.to_string(),
        })
    }

    /// Scans a code the way a phone would (without following the redirect).
    pub fn scan(&self, shortcode: &str, country: &str, user_agent: &str) -> Reply {
        self.http(
            "GET",
            &format!("/r/{shortcode}"),
            &[("CF-IPCountry", country), ("User-Agent", user_agent)],
            None,
        )
    }

    /// Today on the mock's clock (`YYYY-MM-DD`).
    pub fn today(&self) -> time::Date {
        let reply = self.http("GET", "/_mock/clock", &[], None);
        let now: Value = serde_json::from_str(&reply.body).unwrap();
        let now = now["data"]["now"].as_str().unwrap();
        time::Date::parse(
            &now[..10],
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap()
    }

    /// Adds `per_day` scans on each of the last `days` days (mock-only route).
    pub fn add_scans(&self, shortcode: &str, days: i64, per_day: u64, country: &str, device: &str) {
        let today = self.today();
        let from = today - time::Duration::days(days - 1);
        let body = format!(
            r#"{{"from":"{from}","to":"{today}","per_day":{per_day},"country":"{country}","device":"{device}"}}"#
        );
        let reply = self.http(
            "POST",
            &format!("/_mock/codes/{shortcode}/scans"),
            &[],
            Some(&body),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP answer from the mock.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Runs `heldqr` with a private config dir and only the environment a test sets.
pub struct Heldqr {
    config_dir: tempfile::TempDir,
    state_dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

impl Heldqr {
    /// Talks to `mock` (HELDQR_BASE_URL) with no token configured.
    pub fn new(mock: &Mock) -> Heldqr {
        Heldqr::bare().env("HELDQR_BASE_URL", &mock.base_url)
    }

    /// Talks to `mock` with `token` in HELDQR_TOKEN.
    pub fn with_token(mock: &Mock, token: &str) -> Heldqr {
        Heldqr::new(mock).env("HELDQR_TOKEN", token)
    }

    /// No host, no token. The config directory is private (0700), as the CLI makes its own.
    pub fn bare() -> Heldqr {
        let config_dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(config_dir.path(), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        Heldqr {
            config_dir,
            state_dir: tempfile::tempdir().unwrap(),
            envs: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Heldqr {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn config_dir(&self) -> &Path {
        self.config_dir.path()
    }

    /// Where this runner's import ledgers live (HELDQR_STATE_DIR).
    pub fn state_dir(&self) -> &Path {
        self.state_dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(heldqr_bin());
        cmd.args(args);
        for var in [
            "HELDQR_TOKEN",
            "HELDQR_BASE_URL",
            "HELDQR_FORCE_TTY",
            "NO_COLOR",
            "TERM",
            "RUST_BACKTRACE",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HELDQR_CONFIG_DIR", self.config_dir.path());
        cmd.env("HELDQR_STATE_DIR", self.state_dir.path());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run heldqr"))
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run heldqr");
        // The CLI may exit before reading (a usage error): a closed pipe here is fine.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        Run::from(child.wait_with_output().unwrap())
    }

    /// `codes create` with `--json`; returns the code.
    pub fn create(&self, target_url: &str, extra: &[&str]) -> Value {
        let mut args = vec!["codes", "create", "--target-url", target_url, "--json"];
        args.extend_from_slice(extra);
        self.run(&args).success().json()
    }
}

/// A finished `heldqr` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stdout_bytes: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        // Nothing a user or the network does may panic the CLI.
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"),
            "heldqr panicked: {}",
            run.stderr
        );
        run
    }
}

impl Run {
    /// Asserts exit 0.
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts the exit code and the one-line error format.
    pub fn fails(self, code: i32, error_code: &str) -> Run {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let first = self
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error:` line on stderr:\n{}", self.stderr));
        assert!(
            first.ends_with(&format!("({error_code})")),
            "expected ({error_code}) in {first:?}"
        );
        self
    }

    /// stdout as exactly one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// Decodes the QR code in a grayscale image (dark = 0).
pub fn decode_qr(width: usize, height: usize, pixel: impl Fn(usize, usize) -> u8) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "expected one QR code in the image");
    grids[0].decode().expect("decode QR").1
}

/// Decodes a terminal rendering (unicode half blocks). With `inverted` the blocks are the light
/// modules (the default drawing, for dark terminals).
pub fn decode_terminal_qr(text: &str, inverted: bool) -> String {
    let rows: Vec<Vec<char>> = text
        .lines()
        .filter(|l| l.chars().any(|c| matches!(c, '█' | '▀' | '▄')))
        .map(|l| l.chars().collect())
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap();
    let scale = 4;
    let module = |x: usize, y: usize| -> bool {
        // true when the half cell is drawn (a block)
        let Some(row) = rows.get(y / 2) else {
            return false;
        };
        let c = row.get(x).copied().unwrap_or(' ');
        matches!((c, y % 2), ('█', _) | ('▀', 0) | ('▄', 1))
    };
    let modules_high = rows.len() * 2;
    // Pad with a light border so a rendering without its quiet zone would still be found.
    let pad = 4;
    decode_qr(
        (width + 2 * pad) * scale,
        (modules_high + 2 * pad) * scale,
        |px, py| {
            let (mx, my) = (px / scale, py / scale);
            if mx < pad || my < pad || mx >= width + pad || my >= modules_high + pad {
                return 255;
            }
            let drawn = module(mx - pad, my - pad);
            let dark = drawn != inverted;
            if dark { 0 } else { 255 }
        },
    )
}

/// One request a [`Capture`] server received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /api/v1/codes?page=2`, the request line without the version.
    pub request: String,
    /// The `Authorization` header, empty when there was none.
    pub authorization: String,
    /// The `Content-Type` header, empty when there was none.
    pub content_type: String,
    /// The body's bytes (by `Content-Length`).
    pub body: Vec<u8>,
}

type Responder = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A small HTTP server on 127.0.0.1:0 that records every request (its line and its
/// `Authorization` header) and answers through a function of it: by default an empty page of
/// codes (so a login check against it succeeds). It proves where a token was, and was not,
/// sent, and scripts failures the mock cannot produce on demand. Stops when dropped.
pub struct Capture {
    pub base_url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    pub fn start() -> Capture {
        Capture::answering(|_| {
            (
                200,
                r#"{"data":[],"pagination":{"page":1,"page_size":1,"total":0,"total_pages":0}}"#
                    .to_string(),
            )
        })
    }

    /// A server answering each request with `respond(request)`: (status, JSON body).
    pub fn answering(respond: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Capture {
        use std::sync::atomic::Ordering;
        let respond: Box<Responder> = Box::new(respond);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // Polling accept: the only way to notice `stop` without a request.
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => break,
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = Seen {
                    request: String::new(),
                    authorization: String::new(),
                    content_type: String::new(),
                    body: Vec::new(),
                };
                let mut length = 0usize;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let trimmed = line.trim_end();
                    if trimmed.is_empty() {
                        break;
                    }
                    if request.request.is_empty() {
                        request.request = trimmed
                            .rsplit_once(' ')
                            .map_or(trimmed, |(head, _version)| head)
                            .to_string();
                    } else if let Some((name, value)) = trimmed.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") {
                            request.authorization = value.trim().to_string();
                        }
                        if name.eq_ignore_ascii_case("content-type") {
                            request.content_type = value.trim().to_string();
                        }
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    line.clear();
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                request.body = body;
                let (status, reply) = respond(&request);
                seen2.lock().unwrap().push(request);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        Capture {
            base_url,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    /// The Authorization headers received so far, in order.
    pub fn authorizations(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| r.authorization)
            .collect()
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
