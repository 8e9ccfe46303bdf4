//! Test helpers: the router driven with `oneshot` (no port) over a manual clock.
#![allow(dead_code, unused_imports)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use bytes::Bytes;
use heldqr_mock::{AppState, MockClock, MockConfig, app};
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

pub mod process;

/// True when nothing answers HTTP at `addr` any more: the connection is refused, or accepted
/// by the kernel and then reset or closed without an answer (when a process another test
/// forks at that moment still holds a copy of the closed listener until its exec, or another
/// test's server was just given the freed port).
pub async fn nobody_serves(addr: std::net::SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return true;
    };
    let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if stream.write_all(req.as_bytes()).await.is_err() {
        return true;
    }
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

pub use heldqr_mock::{
    DEV_TOKEN_BUSINESS as BUSINESS, DEV_TOKEN_FREE as FREE, DEV_TOKEN_PRO as PRO,
};

/// 2026-06-01T09:00:00Z, where every test clock starts.
pub const START: OffsetDateTime = datetime!(2026-06-01 09:00 UTC);

pub struct Mock {
    pub app: Router,
    pub clock: MockClock,
    pub state: AppState,
}

impl Mock {
    /// Dev tokens, seed 1, a manual clock at `START`, a rate limit out of the way.
    pub fn new() -> Self {
        Mock::with(MockConfig::default().rate_limit(1_000_000, std::time::Duration::from_secs(60)))
    }

    /// `config` with seed 1 and a manual clock at `START`.
    pub fn with(config: MockConfig) -> Self {
        let clock = MockClock::manual(START);
        let state = AppState::new(config.seed(1).clock(clock.clone())).expect("valid config");
        Mock {
            app: app(state.clone()),
            clock,
            state,
        }
    }

    pub fn req(&self, method: Method, path: &str) -> Req {
        Req {
            app: self.app.clone(),
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.req(Method::GET, path).token(token).send().await
    }

    pub async fn post(&self, path: &str, token: &str, json: &str) -> Resp {
        self.req(Method::POST, path)
            .token(token)
            .json(json)
            .send()
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, json: &str) -> Resp {
        self.req(Method::PATCH, path)
            .token(token)
            .json(json)
            .send()
            .await
    }

    /// Creates a code and returns its shortcode.
    pub async fn create(&self, token: &str, json: &str) -> String {
        let r = self.post("/api/v1/codes", token, json).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json["data"]["shortcode"].as_str().unwrap().to_owned()
    }
}

pub struct Req {
    app: Router,
    builder: axum::http::request::Builder,
    body: Body,
}

impl Req {
    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.builder = self.builder.header(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
        self
    }

    pub fn json(self, body: &str) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_owned())
    }

    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Resp {
        let req = self.builder.body(self.body).unwrap();
        let res = self.app.oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            raw,
            json,
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn header_u64(&self, name: &str) -> u64 {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .parse()
            .unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// `error.code` of an envelope, asserting the envelope has exactly the allowed keys.
    pub fn error_code(&self) -> &str {
        let obj = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("not JSON: {}", self.text()));
        assert_eq!(obj.len(), 1, "one `error` object only: {}", self.text());
        let err = self.json["error"].as_object().expect("error object");
        assert!(
            err.keys()
                .all(|k| ["code", "message", "field_errors"].contains(&k.as_str()))
        );
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(self.header("content-type"), Some("application/json"));
        err["code"].as_str().unwrap()
    }

    pub fn field_errors(&self) -> Vec<String> {
        self.json["error"]["field_errors"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn assert_rate_headers(&self) {
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(
                self.header(h).is_some(),
                "{h} missing on a {} response",
                self.status
            );
        }
    }
}
