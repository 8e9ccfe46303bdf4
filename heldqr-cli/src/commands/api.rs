//! `heldqr api METHOD PATH`: a raw request through the SDK (same token, retries, idempotency
//! and error handling as every other command), printing the JSON body. For scripts and for
//! endpoints the typed commands do not cover yet, as `gh api` does.

use std::io::Read;

use clap::Args;
use heldqr_sdk::reqwest::Method;

use crate::commands::Ctx;
use crate::error::CliError;

/// Arguments of `api`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr api GET codes -q page_size=5                  # same as /api/v1/codes?page_size=5
  heldqr api POST codes --data '{\"target_url\": \"https://example.com/menu\"}'
  heldqr api PATCH codes/menu-v3 --data @change.json
  echo '{\"label\": null}' | heldqr api PATCH codes/menu-v3 --data -
  heldqr api GET /api/v1/codes/menu-v3/scans

A PATH without a leading / is relative to /api/v1/. A POST without --idempotency-key gets a
generated one, reused on every retry. Errors go to stderr with the usual exit codes.")]
pub struct ApiArgs {
    /// HTTP method: GET, POST, PATCH, ...
    pub method: String,

    /// Path, e.g. codes/menu-v3 or /api/v1/codes?page=2.
    pub path: String,

    /// JSON body: inline JSON, @FILE to read a file, or - to read stdin.
    #[arg(long, short = 'd', value_name = "JSON|@FILE|-")]
    pub data: Option<String>,

    /// Idempotency-Key header: 1-255 bytes of text, no control characters, no leading or
    /// trailing space.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Add a query parameter (repeatable).
    #[arg(long = "query", short = 'q', value_name = "KEY=VALUE")]
    pub query: Vec<String>,

    /// Also print the status and response headers the SDK read (rate limit, replay) on stderr.
    #[arg(long, short = 'i')]
    pub include: bool,
}

/// Runs `api`.
pub async fn run(args: ApiArgs, ctx: &Ctx) -> Result<(), CliError> {
    let method = parse_method(&args.method)?;
    let path = parse_path(&args.path)?;
    let query = args
        .query
        .iter()
        .map(|pair| parse_query(pair))
        .collect::<Result<Vec<_>, _>>()?;
    let body = args.data.as_deref().map(read_body).transpose()?;

    let client = ctx.settings.client()?;
    let mut request = client.request(method, &path).query(&query);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = args.idempotency_key {
        request = request.idempotency_key(key);
    }
    let (value, meta) = request.send().await?.into_parts();
    if args.include {
        let mut lines = vec![format!("HTTP {}", meta.status)];
        if let Some(rl) = meta.rate_limit {
            lines.push(format!(
                "x-ratelimit: {} of {} left, next credit at {}",
                rl.remaining, rl.limit, rl.reset
            ));
        }
        if let Some(key) = &meta.idempotency_key {
            lines.push(format!("idempotency-key: {key}"));
        }
        if meta.idempotent_replay {
            lines.push("idempotent-replay: true".into());
        }
        if let Some(id) = &meta.request_id {
            lines.push(format!("x-request-id: {id}"));
        }
        lines.push(format!("attempts: {}", meta.attempts));
        ctx.ui.info(&lines.join("\n"));
    }
    if value.is_null() {
        return Ok(());
    }
    ctx.ui.json(&value)
}

fn parse_method(method: &str) -> Result<Method, CliError> {
    Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError::Usage(format!("{method:?} is not an HTTP method")))
}

/// `codes/x` becomes `/api/v1/codes/x`; absolute URLs are refused (the token goes only to the
/// configured host).
fn parse_path(path: &str) -> Result<String, CliError> {
    if path.contains("://") {
        return Err(CliError::Usage(format!(
            "PATH {path:?} must be a path like codes/menu-v3, not a URL (use --base-url for the host)"
        )));
    }
    if path.is_empty() {
        return Err(CliError::Usage("PATH is empty".into()));
    }
    Ok(if path.starts_with('/') {
        path.to_string()
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

fn read_body(data: &str) -> Result<serde_json::Value, CliError> {
    let (text, origin) = if data == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| CliError::Usage(format!("cannot read the body from stdin: {err}")))?;
        (text, "stdin".to_string())
    } else if let Some(file) = data.strip_prefix('@') {
        let text = std::fs::read_to_string(file)
            .map_err(|err| CliError::Usage(format!("cannot read {file}: {err}")))?;
        (text, file.to_string())
    } else {
        (data.to_string(), "--data".to_string())
    };
    serde_json::from_str(&text)
        .map_err(|err| CliError::Usage(format!("{origin} is not valid JSON: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_api_v1() {
        assert_eq!(parse_path("codes").unwrap(), "/api/v1/codes");
        assert_eq!(parse_path("/healthz").unwrap(), "/healthz");
        assert!(parse_path("https://evil.example/x").is_err());
        assert!(parse_path("").is_err());
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
        assert_eq!(read_body("{\"a\":1}").unwrap()["a"], 1);
        assert!(matches!(read_body("{nope"), Err(CliError::Usage(_))));
        assert!(matches!(
            read_body("@/nonexistent/file.json"),
            Err(CliError::Usage(_))
        ));
    }
}
