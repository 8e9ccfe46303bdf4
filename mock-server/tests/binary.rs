//! The `heldqr-mock` binary as a container or CI service runs it: configured from the
//! environment alone, health-checked by `heldqr-mock probe`, stopped by SIGTERM at once.

mod common;

use std::time::Duration;

use common::process::{mock_command as mock, sigterm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Starts `cmd`, waits for its address line, returns the child and `http://IP:PORT`.
async fn start(cmd: Command) -> (Child, String) {
    let running = common::process::start(cmd).await;
    let base = running.base();
    let mut stdout = running.stdout;
    // Keep reading stdout so the child never blocks on a full pipe.
    tokio::spawn(async move {
        let mut sink = String::new();
        let _ = stdout.read_to_string(&mut sink).await;
    });
    (running.child, base)
}

/// One HTTP/1.1 request on a fresh connection; returns the status and the whole answer.
async fn http(base: &str, path: &str, token: &str) -> (u16, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out)
}

#[tokio::test]
async fn every_setting_can_come_from_the_environment() {
    let mut cmd = mock();
    cmd.env("HELDQR_MOCK_LISTEN", "localhost:0")
        .env(
            "HELDQR_MOCK_TOKENS",
            "env-s3cr3t-a=business:acct_env,env-s3cr3t-b=free",
        )
        .env("HELDQR_MOCK_RATE_LIMIT", "7/60s")
        .env("HELDQR_MOCK_ADMIN_TOKEN", "adm-env-s3cr3t")
        .env("HELDQR_MOCK_QUIET", "1");
    let (mut child, base) = start(cmd).await;
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    for token in ["env-s3cr3t-a", "env-s3cr3t-b"] {
        let (status, text) = http(&base, "/api/v1/codes", token).await;
        assert_eq!(status, 200, "{text}");
        assert!(
            text.to_ascii_lowercase().contains("x-ratelimit-limit: 7"),
            "{text}"
        );
    }
    let (status, _) = http(&base, "/api/v1/codes", "hkr_test_pro").await;
    assert_eq!(status, 401, "no dev tokens once tokens are configured");
    let (status, _) = http(&base, "/_mock/clock", "env-s3cr3t-a").await;
    assert_eq!(status, 401, "the admin routes are guarded");
    let (status, text) = http(&base, "/_mock/clock", "adm-env-s3cr3t").await;
    assert_eq!(status, 200, "{text}");
    sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(!stderr.contains("GET /api/v1/codes"), "quiet: {stderr}");
}

#[tokio::test]
async fn help_names_the_variables_and_never_shows_a_token_from_the_environment() {
    let out = mock()
        .env("HELDQR_MOCK_TOKENS", "help-s3cr3t=pro")
        .env("HELDQR_MOCK_RATE_LIMIT", "9/60s")
        .env("HELDQR_MOCK_ADMIN_TOKEN", "help-adm-s3cr3t")
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "HELDQR_MOCK_LISTEN",
        "HELDQR_MOCK_TOKENS",
        "HELDQR_MOCK_RATE_LIMIT",
        "HELDQR_MOCK_FAULT_SEED",
        "HELDQR_MOCK_ADMIN_TOKEN",
    ] {
        assert!(help.contains(var), "{var} in --help:\n{help}");
    }
    assert!(!help.contains("s3cr3t"), "{help}");
    assert!(help.contains("commas"), "the separator is stated:\n{help}");
}

#[tokio::test]
async fn probe_is_healthy_only_while_a_server_answers() {
    let (mut child, base) = start({
        let mut c = mock();
        c.args(["--listen", "127.0.0.1:0", "--quiet"]);
        c
    })
    .await;
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    // The address through the environment, as the image's HEALTHCHECK passes it.
    let ok = mock()
        .env("HELDQR_MOCK_LISTEN", &addr)
        .arg("probe")
        .output()
        .await
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    let down = mock()
        .args(["probe", "--listen", &addr])
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("heldqr-mock probe:"));
    let no_port = mock()
        .args(["probe", "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert_eq!(no_port.status.code(), Some(1));
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_does_not_wait_for_a_slow_request() {
    let mut cmd = mock();
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--fault-seed",
        "1",
        "--fault-latency",
        "1:60000",
    ]);
    let (mut child, base) = start(cmd).await;
    // A request that would take a minute: the server has it once the connection is accepted
    // and the request written.
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        b"GET /api/v1/codes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hkr_test_pro\r\n\r\n",
    )
    .await
    .unwrap();
    // Readiness: /healthz never meets a fault, so once it answers, the server is serving.
    let (status, _) = http(&base, "/healthz", "").await;
    assert_eq!(status, 200);
    sigterm(&child);
    // Without the shut-down grace bound this waits out the 60 s latency and the timeout fails.
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server stops without waiting for the slow request")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
