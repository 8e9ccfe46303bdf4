//! `heldqr api METHOD PATH`: a raw request through the SDK (same token, retries, idempotency
//! and error handling as every other command), printing the JSON body. For scripts and for
//! endpoints the typed commands do not cover yet, as `gh api` does: `-i` puts the status line
//! and the headers before the body on stdout, `--paginate` walks a paginated list into one JSON
//! array.

use std::io::Read;

use clap::Args;
use heldqr_sdk::reqwest::header::HeaderMap;
use heldqr_sdk::reqwest::{Method, StatusCode, Version};
use serde_json::Value;

use crate::commands::Ctx;
use crate::error::CliError;

/// The largest request body `api` reads (the API's own limit is far below).
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// The most pages `--paginate` walks (100 000 codes at the largest page size).
const MAX_PAGES: u32 = 1_000;

/// Arguments of `api`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr api codes -q page_size=5                      # GET /api/v1/codes?page_size=5
  heldqr api POST codes --data '{\"target_url\": \"https://example.com/menu\"}'
  heldqr api PATCH codes/menu-v3 --input change.json
  echo '{\"label\": null}' | heldqr api PATCH codes/menu-v3 --data @-
  heldqr api GET codes --paginate --jq '.[].shortcode'
  heldqr api -i GET /api/v1/codes/menu-v3/scans

PATH: codes, api/v1/codes and /api/v1/codes all mean /api/v1/codes; other paths starting with
/ are sent as given (/healthz). METHOD may be left out: GET. A POST without --idempotency-key
gets a generated one, reused on every retry. Errors go to stderr with the usual exit codes.

The body is sent byte for byte as given, with Content-Type: application/json (the API judges
it: a body that is not JSON gets its invalid_json error, exit 5). -i prints the status line and
every response header (never Authorization), a blank line, then the body; for an error answer,
the status line and headers on stdout and the error on stderr.")]
pub struct ApiArgs {
    /// HTTP method: GET, POST, PATCH, ... (given alone, it is the PATH of a GET).
    pub method: String,

    /// Path, e.g. codes/menu-v3 or /api/v1/codes?page=2.
    pub path: Option<String>,

    /// Body, sent byte for byte: inline text, @FILE to read a file, @- (or -) to read stdin.
    #[arg(
        long,
        short = 'd',
        value_name = "JSON|@FILE|@-",
        conflicts_with = "input"
    )]
    pub data: Option<String>,

    /// Read the body from FILE, or stdin with -, and send it byte for byte.
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<String>,

    /// Idempotency-Key header: 1-255 bytes of text, no control characters, no leading or
    /// trailing space.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Add a query parameter (repeatable).
    #[arg(long = "query", short = 'q', value_name = "KEY=VALUE")]
    pub query: Vec<String>,

    /// Print the status line and every response header on stdout, then a blank line, then the
    /// body (on an error answer: the status line and every header on stdout, the error on
    /// stderr).
    #[arg(long, short = 'i')]
    pub include: bool,

    /// Walk every page of a paginated list (GET) and print one JSON array of all items.
    #[arg(long, conflicts_with = "include")]
    pub paginate: bool,
}

/// Runs `api`.
pub async fn run(args: ApiArgs, ctx: &Ctx) -> Result<(), CliError> {
    let (method, path) = match &args.path {
        None => (Method::GET, parse_path(&args.method)?),
        Some(path) => (parse_method(&args.method)?, parse_path(path)?),
    };
    let query = args
        .query
        .iter()
        .map(|pair| parse_query(pair))
        .collect::<Result<Vec<_>, _>>()?;
    let body = match (&args.data, &args.input) {
        (Some(data), _) => Some(read_data(data)?),
        (None, Some(input)) => Some(read_input(input)?),
        (None, None) => None,
    };
    if args.paginate && (method != Method::GET || body.is_some()) {
        return Err(CliError::Usage(
            "--paginate walks a list: it needs GET and no body".into(),
        ));
    }

    let client = ctx.settings.client()?;
    if args.paginate {
        let items = paginate(&client, &path, &query).await?;
        return ctx.ui.json(&items);
    }
    let mut request = client.request(method, &path).query(&query);
    if let Some(body) = body {
        request = request.body(body, "application/json");
    }
    if let Some(key) = args.idempotency_key {
        request = request.idempotency_key(key);
    }
    let raw = match request.send_raw().await {
        Ok(raw) => raw,
        Err(err) => {
            if let Some(status) = err.status().filter(|_| args.include) {
                // The whole head as received (the SDK keeps it on a raw call's error), or, were
                // it missing, what the error read of it.
                let text = match err.response_head() {
                    Some(head) => head_text(head.version, status, &head.headers),
                    None => error_head_text(status, &err),
                };
                // Ended by a blank line, as on the wire and as for a success.
                ctx.ui.stdout_text(&format!("{text}\n"))?;
            }
            return Err(err.into());
        }
    };
    if args.include {
        // The blank line that ends the head, as on the wire.
        ctx.ui.stdout_text(&format!(
            "{}\n",
            head_text(raw.version(), raw.status(), raw.headers())
        ))?;
    }
    let value = raw.json()?;
    if value.is_null() {
        return Ok(());
    }
    ctx.ui.json(&value)
}

/// Every item of a paginated list from the first page (or `page=N` if given) to the last.
async fn paginate(
    client: &heldqr_sdk::Client,
    path: &str,
    query: &[(String, String)],
) -> Result<Vec<Value>, CliError> {
    let first: u32 = match query.iter().find(|(k, _)| k == "page") {
        Some((_, v)) => v
            .parse()
            .map_err(|_| CliError::Usage(format!("--query page={v} is not a page number")))?,
        None => 1,
    };
    let query: Vec<_> = query.iter().filter(|(k, _)| k != "page").cloned().collect();
    let mut items = Vec::new();
    for page in first..first.saturating_add(MAX_PAGES) {
        let body = client
            .request(Method::GET, path)
            .query(&query)
            .query(&[("page", page)])
            .send()
            .await?
            .into_inner();
        let (Some(data), Some(total_pages)) = (
            body.get("data").and_then(Value::as_array),
            body.pointer("/pagination/total_pages")
                .and_then(Value::as_u64),
        ) else {
            return Err(CliError::Usage(format!(
                "--paginate: {path} is not a paginated list (no data array and pagination)"
            )));
        };
        if data.is_empty() {
            break;
        }
        items.extend(data.iter().cloned());
        if u64::from(page) >= total_pages {
            break;
        }
    }
    Ok(items)
}

/// `HTTP 201 Created` and a line end (the version unknown: an error answer).
fn status_line(status: u16) -> String {
    format!("{}\n", status_text("HTTP", status))
}

/// `{version} {status} {reason}`, without a trailing space when the reason is unknown.
fn status_text(version: &str, status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{version} {status} {reason}")
        .trim_end()
        .to_string()
}

/// The status line (`HTTP/1.1 200 OK`, `HTTP/2 201 Created`) and every header the SDK shows
/// (never `Authorization`), one terminal-safe line each, as received.
fn head_text(version: Version, status: u16, headers: &HeaderMap) -> String {
    let version = match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    let mut text = status_text(version, status);
    text.push('\n');
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        text.push_str(&format!(
            "{}: {}\n",
            canonical_name(name.as_str()),
            crate::output::one_line(&value)
        ));
    }
    text
}

/// The head of an error answer as far as the SDK's error keeps it: the status line (the
/// version is not kept), then the rate limit, `Retry-After` and the request id it read.
fn error_head_text(status: u16, err: &heldqr_sdk::Error) -> String {
    let mut text = status_line(status);
    let (rate_limit, retry_after) = match err {
        heldqr_sdk::Error::Api(api) => (api.rate_limit, api.retry_after),
        heldqr_sdk::Error::Http(http) => (http.rate_limit, http.retry_after),
        _ => (None, None),
    };
    if let Some(rl) = rate_limit {
        text.push_str(&format!(
            "X-Ratelimit-Limit: {}\nX-Ratelimit-Remaining: {}\nX-Ratelimit-Reset: {}\n",
            rl.limit, rl.remaining, rl.reset
        ));
    }
    if let Some(wait) = retry_after {
        text.push_str(&format!("Retry-After: {}\n", wait.as_secs()));
    }
    if let Some(id) = err.request_id() {
        text.push_str(&format!("X-Request-Id: {}\n", crate::output::one_line(id)));
    }
    text
}

/// `x-ratelimit-limit` as `X-Ratelimit-Limit`: HTTP/1 names arrive lowercased, and this is how
/// gh and most tools print them.
fn canonical_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn parse_method(method: &str) -> Result<Method, CliError> {
    Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError::Usage(format!("{method:?} is not an HTTP method")))
}

/// `codes/x` and `api/v1/codes/x` become `/api/v1/codes/x`; a path starting with `/` is kept.
/// Absolute URLs are refused (the token goes only to the configured host).
fn parse_path(path: &str) -> Result<String, CliError> {
    if path.contains("://") {
        return Err(CliError::Usage(format!(
            "PATH {path:?} must be a path like codes/menu-v3, not a URL (use --base-url for the host)"
        )));
    }
    if path.is_empty() || path == "/" {
        return Err(CliError::Usage("PATH is empty".into()));
    }
    Ok(if path.starts_with('/') {
        path.to_string()
    } else if path == "api" || path.starts_with("api/") {
        format!("/{path}")
    } else {
        format!("/api/v1/{path}")
    })
}

fn parse_query(pair: &str) -> Result<(String, String), CliError> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(CliError::Usage(format!(
            "--query {pair:?} is not KEY=VALUE"
        ))),
    }
}

/// `--data`: inline text, `@FILE`, `@-` or `-` (stdin).
fn read_data(data: &str) -> Result<Vec<u8>, CliError> {
    match data {
        "-" | "@-" => read_input("-"),
        _ => match data.strip_prefix('@') {
            Some(file) => read_input(file),
            None => Ok(data.as_bytes().to_vec()),
        },
    }
}

/// `--input`: a file, or `-` for stdin, read whole (up to [`MAX_BODY_BYTES`]), as bytes.
fn read_input(input: &str) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let (read, origin) = if input == "-" {
        (
            std::io::stdin()
                .lock()
                .take(MAX_BODY_BYTES + 1)
                .read_to_end(&mut bytes),
            "stdin".to_string(),
        )
    } else {
        let read = std::fs::File::open(input)
            .and_then(|file| file.take(MAX_BODY_BYTES + 1).read_to_end(&mut bytes));
        (read, input.to_string())
    };
    read.map_err(|err| CliError::Usage(format!("cannot read {origin}: {err}")))?;
    if bytes.len() as u64 > MAX_BODY_BYTES {
        return Err(CliError::Usage(format!(
            "{origin} is larger than {} MiB",
            MAX_BODY_BYTES / 1024 / 1024
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_api_v1() {
        assert_eq!(parse_path("codes").unwrap(), "/api/v1/codes");
        assert_eq!(parse_path("api/v1/codes").unwrap(), "/api/v1/codes");
        assert_eq!(parse_path("/api/v1/codes").unwrap(), "/api/v1/codes");
        assert_eq!(parse_path("codes?page=2").unwrap(), "/api/v1/codes?page=2");
        assert_eq!(parse_path("/healthz").unwrap(), "/healthz");
        assert!(parse_path("https://evil.example/x").is_err());
        assert!(parse_path("").is_err());
    }

    #[test]
    fn header_names_print_in_canonical_case() {
        assert_eq!(canonical_name("x-ratelimit-limit"), "X-Ratelimit-Limit");
        assert_eq!(canonical_name("content-type"), "Content-Type");
        assert_eq!(canonical_name("etag"), "Etag");
    }

    #[test]
    fn methods_and_queries() {
        assert_eq!(parse_method("patch").unwrap(), Method::PATCH);
        assert!(parse_method("GE T").is_err());
        assert_eq!(
            parse_query("page=2").unwrap(),
            ("page".to_string(), "2".to_string())
        );
        assert_eq!(parse_query("q=a=b").unwrap().1, "a=b");
        assert!(parse_query("novalue").is_err());
        assert!(parse_query("=x").is_err());
    }

    #[test]
    fn bodies() {
        // As typed: not re-encoded, not judged (the API answers a body that is not JSON).
        assert_eq!(read_data("{ \"a\" : 1 }").unwrap(), b"{ \"a\" : 1 }");
        assert_eq!(read_data("{nope").unwrap(), b"{nope");
        assert!(matches!(
            read_data("@/nonexistent/file.json"),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            read_input("/nonexistent/file.json"),
            Err(CliError::Usage(_))
        ));
    }
}
