//! The mock tells the truth (issue 8), over real TCP against a running `MockServer`: Latin-1
//! idempotency keys, internationalised and IPv6 targets with an ASCII `Location`, and the
//! propagation delay of the scan URL.

use std::time::Duration;

use heldqr_mock::{MockClock, MockConfig, MockServer};
use serde_json::Value;
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request (raw header bytes allowed) on a fresh connection.
async fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &str,
) -> Answer {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body.as_bytes());
    stream.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

const AUTH: (&str, &[u8]) = ("Authorization", b"Bearer hkr_test_pro");
const JSON: (&str, &[u8]) = ("Content-Type", b"application/json");

async fn start(config: MockConfig) -> (MockServer, MockClock) {
    let clock = MockClock::manual(datetime!(2026-06-01 09:00 UTC));
    let server = MockServer::start(config.seed(5).clock(clock.clone()))
        .await
        .unwrap();
    (server, clock)
}

#[tokio::test]
async fn a_latin1_idempotency_key_is_a_key_compared_byte_for_byte() {
    let (server, _) = start(MockConfig::default()).await;
    let base = server.base_url();
    let body = r#"{"target_url": "https://example.com/menu"}"#;
    let latin1: &[u8] = b"commande-caf\xe9-7";
    let first = send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON, ("Idempotency-Key", latin1)],
        body,
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.head);
    let again = send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON, ("Idempotency-Key", latin1)],
        body,
    )
    .await;
    assert_eq!(
        (again.status, again.header("idempotent-replay")),
        (201, Some("true"))
    );
    assert_eq!(again.body, first.body);
    // The UTF-8 spelling is other bytes, so another key.
    let utf8 = "commande-café-7".as_bytes();
    let other = send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON, ("Idempotency-Key", utf8)],
        body,
    )
    .await;
    assert_eq!(
        (other.status, other.header("idempotent-replay")),
        (201, None)
    );
    // The byte limit: 255 bytes pass, 256 bytes (128 two-byte characters) do not.
    let ok = [0xe9u8; 255];
    let r = send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON, ("Idempotency-Key", &ok)],
        body,
    )
    .await;
    assert_eq!(r.status, 201);
    let long = "é".repeat(128);
    let r = send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON, ("Idempotency-Key", long.as_bytes())],
        body,
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    assert_eq!(server.state().code_count(), 3);
}

#[tokio::test]
async fn any_absolute_http_url_is_a_target_and_the_redirect_is_its_ascii_form() {
    let (server, _) = start(MockConfig::default()).await;
    let base = server.base_url();
    let cases = [
        ("HTTPS://Example.COM/Menu", "HTTPS://Example.COM/Menu"),
        ("http://[2001:db8::7]:8080/x", "http://[2001:db8::7]:8080/x"),
        (
            "https://bücher.example/straße?q=ü",
            "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC",
        ),
        (
            "https://例え.テスト/パス",
            "https://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9",
        ),
    ];
    for (i, (target, location)) in cases.into_iter().enumerate() {
        let body =
            serde_json::json!({"target_url": target, "shortcode": format!("t-{i}")}).to_string();
        let r = send(base, "POST", "/api/v1/codes", &[AUTH, JSON], &body).await;
        assert_eq!(r.status, 201, "{target}: {}", r.head);
        assert_eq!(r.body["data"]["target_url"], target, "returned as sent");
        let got = send(base, "GET", &format!("/api/v1/codes/t-{i}"), &[AUTH], "").await;
        assert_eq!(got.body["data"]["target_url"], target);
        let scan = send(base, "GET", &format!("/r/t-{i}"), &[], "").await;
        assert_eq!(scan.status, 302, "{target}");
        assert_eq!(scan.header("location"), Some(location), "{target}");
    }
    // Other schemes, user info and over-long URLs are refused, in the envelope.
    let long = format!("https://example.com/{}", "a".repeat(2048));
    for bad in [
        "ftp://example.com/",
        "javascript:alert(1)",
        "http://user@example.com/",
        long.as_str(),
    ] {
        let body = serde_json::json!({ "target_url": bad }).to_string();
        let r = send(base, "POST", "/api/v1/codes", &[AUTH, JSON], &body).await;
        assert_eq!(r.status, 422, "{bad}");
        assert!(r.body["error"]["field_errors"]["target_url"].is_array());
    }
}

#[tokio::test]
async fn the_scan_url_follows_a_new_target_after_the_propagation_delay() {
    let (server, clock) =
        start(MockConfig::default().propagation_delay(Duration::from_secs(60))).await;
    let base = server.base_url();
    let patch = |url: &str| serde_json::json!({ "target_url": url }).to_string();
    let created = send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON],
        r#"{"target_url": "https://a.example/", "shortcode": "menu"}"#,
    )
    .await;
    assert_eq!(created.status, 201);
    let location = || async {
        send(base, "GET", "/r/menu", &[], "")
            .await
            .header("location")
            .map(str::to_owned)
    };

    // A new code redirects at once to its only target.
    assert_eq!(location().await.as_deref(), Some("https://a.example/"));
    clock.advance(Duration::from_secs(100));
    // Two changes 20 s apart: the API shows the newest at once.
    let r = send(
        base,
        "PATCH",
        "/api/v1/codes/menu",
        &[AUTH, JSON],
        &patch("https://b.example/"),
    )
    .await;
    assert_eq!(r.body["data"]["target_url"], "https://b.example/");
    clock.advance(Duration::from_secs(20));
    let r = send(
        base,
        "PATCH",
        "/api/v1/codes/menu",
        &[AUTH, JSON],
        &patch("https://c.example/"),
    )
    .await;
    assert_eq!(r.body["data"]["target_url"], "https://c.example/");
    let got = send(base, "GET", "/api/v1/codes/menu", &[AUTH], "").await;
    assert_eq!(got.body["data"]["target_url"], "https://c.example/");

    // The scan URL: the old target until 60 s after the first change, then B until 60 s
    // after the second, then C.
    assert_eq!(location().await.as_deref(), Some("https://a.example/"));
    clock.advance(Duration::from_secs(39)); // 59 s after B
    assert_eq!(location().await.as_deref(), Some("https://a.example/"));
    clock.advance(Duration::from_secs(1)); // 60 s after B
    assert_eq!(location().await.as_deref(), Some("https://b.example/"));
    clock.advance(Duration::from_secs(19)); // 59 s after C
    assert_eq!(location().await.as_deref(), Some("https://b.example/"));
    clock.advance(Duration::from_secs(1));
    assert_eq!(location().await.as_deref(), Some("https://c.example/"));
}

#[tokio::test]
async fn without_a_propagation_delay_the_scan_url_follows_at_once() {
    let (server, _) = start(MockConfig::default()).await;
    let base = server.base_url();
    send(
        base,
        "POST",
        "/api/v1/codes",
        &[AUTH, JSON],
        r#"{"target_url": "https://a.example/", "shortcode": "now"}"#,
    )
    .await;
    send(
        base,
        "PATCH",
        "/api/v1/codes/now",
        &[AUTH, JSON],
        r#"{"target_url": "https://b.example/"}"#,
    )
    .await;
    let scan = send(base, "GET", "/r/now", &[], "").await;
    assert_eq!(scan.header("location"), Some("https://b.example/"));
}
