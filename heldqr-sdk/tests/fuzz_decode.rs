//! Deterministic fuzzing of response decoding: a raw HTTP server on 127.0.0.1 answers each call
//! with a generated response (seeded `fastrand`): every endpoint, success and error statuses,
//! valid bodies mutated into wrong types, missing and unknown fields, truncated, huge, deeply
//! nested, invalid UTF-8 and random bytes; broken framing (short or long `Content-Length`,
//! bad chunking, a stalled body); and absurd headers (`Retry-After: 99999999`, `-1`, garbage,
//! far dates, huge or negative `X-RateLimit-*`, non-UTF-8 values, oversized headers).
//!
//! Every call must end, within a guard timeout, in `Ok` or a typed `Error` that never shows
//! the token, stays bounded in size, and (for creates) carries the call's idempotency key.
//! Bodies over the SDK's caps are errors, never read whole.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use heldqr_sdk::reqwest::{self, Method};
use heldqr_sdk::{Client, Error, MAX_RESPONSE_BYTES, RetryPolicy};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "hkr_live_fuzz_secret_token_value";
const CASES: usize = 3000;
const SEED: u64 = 0x00F0_2260_0601;
/// Fails the test if one call takes longer: a hang.
const GUARD: Duration = Duration::from_secs(30);
/// The SDK's own per-request timeout in these tests (a stalled body ends in `Error::Timeout`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);

/// How the raw server answers.
#[derive(Clone)]
enum Answer {
    /// Write these bytes, then close the connection.
    Bytes(Vec<u8>),
    /// Write these bytes, then keep the connection open without finishing the response.
    Stall(Vec<u8>),
    /// Close at once without answering.
    Close,
}

struct RawServer {
    base: String,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 256 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(())
}

async fn serve(mut stream: TcpStream, answer: Answer) {
    if read_request(&mut stream).await.is_none() {
        return;
    }
    match answer {
        Answer::Close => {}
        Answer::Bytes(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Answer::Stall(bytes) => {
            let _ = stream.write_all(&bytes).await;
            // Until the client gives up (its timeout), bounded here too.
            let mut sink = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut sink)).await;
        }
    }
}

async fn raw_server() -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(Mutex::new(Answer::Close));
    let shared = answer.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let answer = shared.lock().unwrap().clone();
            tokio::spawn(serve(stream, answer));
        }
    });
    RawServer { base, answer, task }
}

// ---- generation -----------------------------------------------------------------------------

fn code(rng: &mut fastrand::Rng) -> Value {
    let sc: String = (0..7)
        .map(|_| rng.alphanumeric().to_ascii_lowercase())
        .collect();
    let status = ["active", "paused"][rng.usize(..2)];
    json!({
        "shortcode": sc,
        "target_url": "https://example.com/menu",
        "label": if rng.bool() { Value::Null } else { json!("Menu") },
        "status": status,
        "scan_url": format!("https://hqr.to/r/{sc}"),
        "created_at": "2026-05-15T14:21:03Z",
        "updated_at": "2026-06-01T09:00:00Z"
    })
}

fn scans(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(..3) {
        0 => json!({"plan": "free", "shortcode": "menu-v3", "total_scans": 12,
                    "first_scan_at": "2026-05-15T18:02:11Z", "last_scan_at": null}),
        plan => json!({
            "plan": if plan == 1 { "pro" } else { "business" },
            "shortcode": "menu-v3", "total_scans": 1284,
            "first_scan_at": "2026-05-15T18:02:11Z", "last_scan_at": "2026-06-01T08:59:40Z",
            "window": {"start_date": "2026-05-03", "end_date": "2026-06-01", "days": 30},
            "window_scans": 1284,
            "daily": [{"date": "2026-05-31", "scans": 40}, {"date": "2026-06-01", "scans": 12}],
            "countries": [{"country": "DE", "scans": 900}],
            "devices": [{"device": "mobile", "scans": 1100}]
        }),
    }
}

const CODES: [&str; 17] = [
    "invalid_json",
    "invalid_parameter",
    "invalid_idempotency_key",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "idempotency_key_conflict",
    "shortcode_taken",
    "validation_failed",
    "rate_limited",
    "internal_error",
    "service_unavailable",
    "request_in_progress",
    "brand_new_code",
    "",
    "NOT snake case",
    "quota_exceeded",
];

fn error_body(rng: &mut fastrand::Rng) -> Value {
    let mut e = json!({
        "code": CODES[rng.usize(..CODES.len())],
        "message": "Something happened.",
    });
    if rng.bool() {
        e["field_errors"] = json!({"target_url": ["must be an absolute http or https URL"]});
    }
    json!({ "error": e })
}

/// A value of a random JSON type, often an extreme one.
fn nasty(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(..16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(i64::MIN),
        5 => json!(1.5e300),
        6 => json!(""),
        7 => json!("x".repeat(rng.usize(1..70_000))),
        8 => json!([]),
        9 => json!({}),
        10 => json!("2026-13-45T99:99:99Z"),
        11 => json!("+999999-01-01T00:00:00Z"),
        12 => json!("2026-06-30T23:59:60Z"),
        13 => json!(["active", 1, null]),
        14 => json!("archived"),
        _ => json!({"nested": {"deeper": [1, 2, {"a": "b"}]}}),
    }
}

/// Replaces, removes or adds a few fields anywhere in `v`.
fn mutate(v: &mut Value, rng: &mut fastrand::Rng, depth: u32) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.usize(..keys.len())];
            match rng.u8(..4) {
                0 => {
                    map.insert(key.clone(), nasty(rng));
                }
                1 => {
                    map.remove(key);
                }
                2 => {
                    map.insert(format!("unknown_{}", rng.u16(..)), nasty(rng));
                }
                _ if depth < 6 => {
                    if let Some(child) = map.get_mut(key) {
                        mutate(child, rng, depth + 1);
                    }
                }
                _ => {}
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.usize(..items.len());
            if rng.bool() && depth < 6 {
                mutate(&mut items[i], rng, depth + 1);
            } else {
                items[i] = nasty(rng);
            }
        }
        other => *other = nasty(rng),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Endpoint {
    List,
    ListStream,
    Create,
    Get,
    Update,
    Scans,
    RawGet,
    RawPost,
}

const ENDPOINTS: [Endpoint; 8] = [
    Endpoint::List,
    Endpoint::ListStream,
    Endpoint::Create,
    Endpoint::Get,
    Endpoint::Update,
    Endpoint::Scans,
    Endpoint::RawGet,
    Endpoint::RawPost,
];

fn success_body(endpoint: Endpoint, rng: &mut fastrand::Rng) -> Value {
    match endpoint {
        Endpoint::List | Endpoint::ListStream | Endpoint::RawGet => {
            let n = rng.usize(..4);
            let total_pages = [0u64, 1, 2, 1_000_000_000, u32::MAX as u64 + 1][rng.usize(..5)];
            json!({
                "data": (0..n).map(|_| code(rng)).collect::<Vec<_>>(),
                "pagination": {"page": rng.u32(1..4), "page_size": 50, "total": n, "total_pages": total_pages}
            })
        }
        Endpoint::Scans => json!({ "data": scans(rng) }),
        _ => json!({ "data": code(rng) }),
    }
}

const STATUSES: [u16; 22] = [
    200, 200, 201, 201, 204, 299, 301, 304, 400, 401, 404, 405, 409, 410, 413, 422, 429, 500, 502,
    503, 504, 999,
];

fn header_noise(rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
    let mut h: Vec<Vec<u8>> = Vec::new();
    let pick =
        |rng: &mut fastrand::Rng, options: &[&[u8]]| options[rng.usize(..options.len())].to_vec();
    if rng.u8(..3) == 0 {
        let v = pick(
            rng,
            &[
                b"99999999",
                b"-1",
                b"0",
                b"1",
                b"garbage",
                b"1.5",
                b"184467440737095516160",
                b"Wed, 21 Oct 2015 07:28:00 GMT",
                b"Fri, 31 Dec 9999 23:59:59 GMT",
                b"\xff\xfe",
                b"",
            ],
        );
        h.push([b"Retry-After: ".as_slice(), &v].concat());
    }
    if rng.u8(..3) == 0 {
        for name in [
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ] {
            if rng.u8(..4) == 0 {
                continue;
            }
            let v = pick(
                rng,
                &[
                    b"600",
                    b"0",
                    b"-1",
                    b"4294967296",
                    b"18446744073709551615",
                    b"99999999999999999999999",
                    b"nope",
                    b"\xc3\x28",
                    b"1731764400",
                    b" 7 ",
                ],
            );
            h.push([format!("{name}: ").as_bytes(), &v].concat());
        }
    }
    if rng.u8(..5) == 0 {
        let v = pick(rng, &[b"true", b"TRUE", b"false", b"\xff"]);
        h.push([b"Idempotent-Replay: ".as_slice(), &v].concat());
    }
    if rng.u8(..5) == 0 {
        let v: Vec<u8> = if rng.bool() {
            b"req_\xe9\xff".to_vec()
        } else {
            vec![b'r'; rng.usize(1..20_000)]
        };
        h.push([b"X-Request-Id: ".as_slice(), &v].concat());
    }
    if rng.u8(..40) == 0 {
        h.push(
            [
                b"X-Padding: ".as_slice(),
                &vec![b'p'; rng.usize(60_000..200_000)],
            ]
            .concat(),
        );
    }
    if rng.u8(..6) == 0 {
        let v = pick(
            rng,
            &[
                b"text/html",
                b"application/json; charset=latin1",
                b"\x01\x02",
                b"application/problem+json",
            ],
        );
        h.push([b"Content-Type: ".as_slice(), &v].concat());
    } else {
        h.push(b"Content-Type: application/json".to_vec());
    }
    h
}

/// The body bytes for a case, and whether they are over the SDK's cap on success bodies.
fn body_bytes(endpoint: Endpoint, status: u16, rng: &mut fastrand::Rng) -> (Vec<u8>, bool) {
    let roll = rng.u16(..1000);
    if roll < 4 {
        // Larger than MAX_RESPONSE_BYTES.
        let mut b = b"{\"data\": [".to_vec();
        b.resize(MAX_RESPONSE_BYTES + rng.usize(1..200_000), b' ');
        return (b, true);
    }
    if roll < 30 {
        // Deep nesting, past serde_json's recursion limit.
        let depth = rng.usize(200..50_000);
        let mut b = b"{\"data\": ".to_vec();
        b.extend(std::iter::repeat_n(b'[', depth));
        b.extend(std::iter::repeat_n(b']', depth));
        b.push(b'}');
        return (b, false);
    }
    if roll < 80 {
        let n = rng.usize(..2000);
        return ((0..n).map(|_| rng.u8(..)).collect(), false);
    }
    if roll < 100 {
        let b: &[u8] = [
            b"".as_slice(),
            b"   ",
            b"null",
            b"[]",
            b"{}",
            b"<html><body>502 Bad Gateway</body></html>",
            b"\xef\xbb\xbf{\"data\": null}",
            b"{\"data\": {\"shortcode\": \"\xff\xfe\"}}",
            b"{\"error\": {\"code\": \"\\ud800\", \"message\": \"lone surrogate\"}}",
            b"{\"data\": 1e999}",
        ][rng.usize(..10)];
        return (b.to_vec(), false);
    }
    let mut v = if (200..300).contains(&status) {
        success_body(endpoint, rng)
    } else {
        error_body(rng)
    };
    let mutations = [0, 0, 1, 1, 2, 4][rng.usize(..6)];
    for _ in 0..mutations {
        mutate(&mut v, rng, 0);
    }
    if rng.u8(..12) == 0 {
        // A server (or proxy) echoing the token must never make it into an error.
        if let Some(map) = v.as_object_mut() {
            map.insert("echo".into(), json!(format!("Bearer {TOKEN}")));
        }
    }
    let mut b = serde_json::to_vec(&v).unwrap();
    match rng.u8(..10) {
        0 => {
            let cut = rng.usize(..=b.len());
            b.truncate(cut);
        }
        1 if !b.is_empty() => {
            let at = rng.usize(..b.len());
            b[at] = [0xff, 0xc3, 0x00, b'"', b'}'][rng.usize(..5)];
        }
        _ => {}
    }
    (b, false)
}

/// A whole response, framing included.
fn response(endpoint: Endpoint, rng: &mut fastrand::Rng) -> (Answer, u16, bool) {
    let roll = rng.u16(..1000);
    if roll < 5 {
        return (Answer::Close, 0, false);
    }
    if roll < 10 {
        let n = rng.usize(1..300);
        let garbage: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
        return (Answer::Bytes(garbage), 0, false);
    }
    let status = STATUSES[rng.usize(..STATUSES.len())];
    let (body, oversized) = body_bytes(endpoint, status, rng);
    let mut head = format!("HTTP/1.1 {status} Whatever\r\n").into_bytes();
    for h in header_noise(rng) {
        head.extend_from_slice(&h);
        head.extend_from_slice(b"\r\n");
    }
    if status == 301 {
        head.extend_from_slice(b"Location: http://127.0.0.1:9/elsewhere\r\n");
    }
    let framing = if oversized { rng.u8(..2) } else { rng.u8(..12) };
    let mut stall = false;
    let mut out = head;
    match framing {
        // Close-delimited (no length).
        0 => {
            out.extend_from_slice(b"Connection: close\r\n\r\n");
            out.extend_from_slice(&body);
        }
        // Chunked, valid.
        1 => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in body.chunks(rng.usize(1..70_000)) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
        // Chunked with a bad size line.
        2 => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\nzz\r\n");
            out.extend_from_slice(&body);
        }
        // Content-Length longer than the body, then close (truncated).
        3 => {
            out.extend_from_slice(
                format!(
                    "Content-Length: {}\r\n\r\n",
                    body.len() + rng.usize(1..5000)
                )
                .as_bytes(),
            );
            out.extend_from_slice(&body);
        }
        // Content-Length longer than the body, and the connection stays open (a stall).
        4 if rng.u8(..100) == 0 => {
            out.extend_from_slice(
                format!("Content-Length: {}\r\n\r\n", body.len() + 10).as_bytes(),
            );
            out.extend_from_slice(&body);
            stall = true;
        }
        // Content-Length shorter than the body.
        5 => {
            let short = rng.usize(..=body.len());
            out.extend_from_slice(format!("Content-Length: {short}\r\n\r\n").as_bytes());
            out.extend_from_slice(&body);
        }
        // Absurd or conflicting lengths.
        6 => {
            let v = [
                "99999999999999999999".to_owned(),
                "-1".to_owned(),
                "abc".to_owned(),
                format!("{0}\r\nContent-Length: {1}", body.len(), body.len() + 1),
            ][rng.usize(..4)]
            .clone();
            out.extend_from_slice(format!("Content-Length: {v}\r\n\r\n").as_bytes());
            out.extend_from_slice(&body);
        }
        _ => {
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
        }
    }
    let answer = if stall {
        Answer::Stall(out)
    } else {
        Answer::Bytes(out)
    };
    (answer, status, oversized)
}

// ---- calls ----------------------------------------------------------------------------------

fn client(base: &str, pace: bool) -> Client {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    Client::builder()
        .token(TOKEN)
        .base_url(base)
        .http_client(http)
        .timeout(CLIENT_TIMEOUT)
        .pace_rate_limit(pace)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2))
                .max_retry_after(Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

/// What a call ended in, reduced to what the checks need.
struct Ended {
    result: Result<(), Error>,
    key: Option<String>,
}

async fn call(client: &Client, endpoint: Endpoint, case: usize) -> Ended {
    let key = format!("fuzz-{case}");
    let codes = client.codes();
    let result = match endpoint {
        Endpoint::List => codes.list().page_size(50).send().await.map(|r| {
            let _ = r.meta().rate_limit.map(|rl| rl.reset_in());
        }),
        Endpoint::ListStream => {
            // Bounded: every page that continues the walk holds at least one code.
            let mut stream = codes.list().into_stream().take(12);
            let mut out = Ok(());
            while let Some(item) = stream.next().await {
                if let Err(e) = item {
                    out = Err(e);
                }
            }
            out
        }
        Endpoint::Create => {
            let r = codes
                .create("https://example.com/menu")
                .idempotency_key(key.clone())
                .send()
                .await;
            return Ended {
                result: r.map(drop),
                key: Some(key),
            };
        }
        Endpoint::Get => codes.get("menu-v3").send().await.map(drop),
        Endpoint::Update => codes
            .update("menu-v3")
            .target_url("https://example.com/new")
            .send()
            .await
            .map(drop),
        Endpoint::Scans => codes.scans("menu-v3").send().await.map(|r| {
            let _ = (r.plan(), r.total_scans(), r.shortcode().len());
        }),
        Endpoint::RawGet => client
            .request(Method::GET, "/api/v1/codes")
            .send()
            .await
            .map(drop),
        Endpoint::RawPost => {
            let r = client
                .request(Method::POST, "/api/v1/codes")
                .json(json!({"target_url": "https://example.com/raw"}))
                .idempotency_key(key.clone())
                .send()
                .await;
            return Ended {
                result: r.map(drop),
                key: Some(key),
            };
        }
    };
    Ended { result, key: None }
}

fn check(ended: &Ended, endpoint: Endpoint, status: u16, oversized: bool, case: usize) {
    let Err(e) = &ended.result else {
        assert!(!oversized, "case {case}: an oversized body was accepted");
        return;
    };
    let shown = format!("{e} / {e:?}");
    assert!(
        !shown.contains(TOKEN),
        "case {case}: the token leaked: {shown}"
    );
    assert!(
        shown.len() < 300_000,
        "case {case}: an unbounded error ({} bytes)",
        shown.len()
    );
    // The helpers never panic, whatever the response said.
    let _ = (e.is_retryable(), e.retry_after(), e.status(), e.code());
    let _ = (e.request_id(), e.attempts());
    if let Some(api) = e.api() {
        let _ = api.rate_limit.map(|rl| rl.reset_in());
        assert!(!(200..300).contains(&api.status), "case {case}: {shown}");
    }
    if let Error::Http(http) = e {
        let _ = http.rate_limit.map(|rl| rl.reset_in());
        assert!(!(200..300).contains(&http.status), "case {case}: {shown}");
    }
    assert!(
        matches!(e, Error::Config(_)) || e.attempts() >= 1,
        "case {case}: no attempt count: {shown}"
    );
    if matches!(e, Error::Config(_)) {
        panic!("case {case}: a configuration error from a response: {shown}");
    }
    if let Some(key) = &ended.key {
        assert_eq!(
            e.idempotency_key(),
            Some(key.as_str()),
            "case {case} ({endpoint:?}, HTTP {status}): the error lost the idempotency key: {shown}"
        );
    }
    if oversized && (200..300).contains(&status) {
        assert!(
            matches!(
                e,
                Error::Decode { .. } | Error::Transport { .. } | Error::Timeout { .. }
            ),
            "case {case}: {shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_decodes_to_ok_or_a_typed_error_without_panic_or_hang() {
    let server = raw_server().await;
    let plain = client(&server.base, false);
    let paced = client(&server.base, true);
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut oks = 0usize;
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for case in 0..CASES {
        let endpoint = ENDPOINTS[case % ENDPOINTS.len()];
        let (answer, status, oversized) = response(endpoint, &mut rng);
        *server.answer.lock().unwrap() = answer;
        let client = if rng.u8(..4) == 0 { &paced } else { &plain };
        let ended = tokio::time::timeout(GUARD, call(client, endpoint, case))
            .await
            .unwrap_or_else(|_| panic!("case {case} ({endpoint:?}, HTTP {status}) hung"));
        check(&ended, endpoint, status, oversized, case);
        let kind = match &ended.result {
            Ok(()) => {
                oks += 1;
                "ok"
            }
            Err(Error::Api(_)) => "api",
            Err(Error::Http(_)) => "http",
            Err(Error::Decode { .. }) => "decode",
            Err(Error::Transport { .. }) => "transport",
            Err(Error::Timeout { .. }) => "timeout",
            Err(_) => "other",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    println!("{CASES} cases: {kinds:?}");
    // The generator reaches every outcome.
    for kind in ["ok", "api", "http", "decode", "transport"] {
        assert!(
            kinds.get(kind).is_some_and(|n| *n > 0),
            "no {kind}: {kinds:?}"
        );
    }
    assert!(oks > CASES / 20, "{kinds:?}");
}
