//! Hostile clients against the real `heldqr-mock` binary, as an attacker on a shared CI network
//! would drive it (all on 127.0.0.1). Prints figures, asserts nothing; the figures go into
//! BENCHMARKS.md under "hostile clients". The same bounds are pinned by tests (tests/memory.rs,
//! tests/connections.rs, tests/admin.rs).
//!
//! 1. Keyed 422 flood: three tokens, 600 keyed creates each (the default rate limit's worth)
//!    with 64 KiB bodies of short unknown field names: the server's resident memory before and
//!    after.
//! 2. Keyed creates at the field limits (255-byte key, 2 KiB `target_url`): resident memory per
//!    create, at a rate limit out of the way.
//! 3. 2,000 idle sockets against a server held to 1,024 descriptors, then a normal request: how
//!    long it takes to be answered.
//!
//! Run: `cargo bench -p heldqr-mock --bench hostile` (it runs the debug or release binary that
//! `cargo bench` builds beside it).

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_heldqr-mock");

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn spawn(shell_prefix: &str, args: &str) -> (Child, String) {
    let mut child = Command::new("sh")
        .args([
            "-c",
            &format!("{shell_prefix} exec \"$0\" --listen 127.0.0.1:0 --quiet {args}"),
            BIN,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn heldqr-mock");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).await.expect("address line");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .expect("address")
        .to_owned();
    tokio::spawn(async move {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest).await;
    });
    (child, addr)
}

/// Sends `body` as a create over a fresh connection; returns the status.
async fn create(addr: &str, token: &str, key: &str, body: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return 0;
    };
    let req = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

async fn keyed_422_flood() {
    let (child, addr) = spawn("", "").await;
    let pid = child.id().unwrap_or(0);
    let mut body = String::from(r#"{"target_url":"https://example.com/""#);
    let mut i = 0;
    while body.len() < 64 * 1024 - 32 {
        body.push_str(&format!(r#","f{i}":1"#));
        i += 1;
    }
    body.push('}');
    let before = rss_kb(pid);
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for token in ["hkr_test_free", "hkr_test_pro", "hkr_test_business"] {
        for k in 0..600 {
            let st = create(&addr, token, &format!("flood-{token}-{k}"), &body).await;
            *statuses.entry(st).or_default() += 1;
        }
    }
    let after = rss_kb(pid);
    println!(
        "keyed 422 flood: 3 tokens x 600 creates of {} KiB in {:.1} s ({statuses:?}): RSS {:.1} MB -> {:.1} MB",
        body.len() / 1024,
        started.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
}

async fn keyed_creates_at_the_limits() {
    let (child, addr) = spawn("", "--rate-limit 1000000000/1s --max-codes 1000000").await;
    let pid = child.id().unwrap_or(0);
    let n = 20_000;
    let before = rss_kb(pid);
    for i in 0..n {
        let key = format!("{i:0>255}");
        let url = format!("https://example.com/{}{i:08}", "a".repeat(2048 - 20 - 8));
        let st = create(
            &addr,
            "hkr_test_business",
            &key,
            &format!(r#"{{"target_url":"{url}"}}"#),
        )
        .await;
        if st != 201 {
            println!("create {i}: {st}");
            return;
        }
    }
    let after = rss_kb(pid);
    println!(
        "keyed creates at the field limits (255-byte key, 2 KiB target_url): {n} creates, RSS {:.1} MB -> {:.1} MB: {:.0} bytes each",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before) * 1024) as f64 / n as f64
    );
}

async fn idle_sockets_at_the_descriptor_limit() {
    let (_child, addr) = spawn("ulimit -n 1024 &&", "").await;
    let mut idle = Vec::with_capacity(2000);
    for _ in 0..2000 {
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => idle.push(s),
            _ => break,
        }
    }
    let started = Instant::now();
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        let mut s = TcpStream::connect(&addr).await.ok()?;
        s.write_all(b"GET /api/v1/codes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hkr_test_pro\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(String::from_utf8_lossy(&out).split(' ').nth(1)?.to_owned())
    })
    .await;
    println!(
        "{} idle sockets against 1024 descriptors (soft and hard), then a request: {:?} in {:.1} ms",
        idle.len(),
        answered.ok().flatten(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn raise_own_descriptor_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain struct in, plain struct out.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(8192);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[tokio::main]
async fn main() {
    raise_own_descriptor_limit();
    keyed_422_flood().await;
    keyed_creates_at_the_limits().await;
    idle_sockets_at_the_descriptor_limit().await;
}
