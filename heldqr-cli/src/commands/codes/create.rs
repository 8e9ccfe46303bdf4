//! `heldqr codes create`: one new code. The SDK sends an idempotency key (generated unless
//! `--idempotency-key` is given) and reuses it on every retry, so a network blip never creates a
//! duplicate; after a failure that may have gone through, the error names the key to retry with.

use clap::Args;

use super::print_code;
use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::{OutputMode, one_line};

/// Arguments of `codes create`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr codes create --target-url https://example.com/menu
  heldqr codes create --target-url https://example.com/menu \\
      --label \"Restaurant menu\" --shortcode menu-v3
  heldqr codes create --target-url https://example.com/menu --jq .scan_url

Re-running with the same --idempotency-key (within 24 hours) returns the code created the
first time instead of a new one.")]
pub struct CreateArgs {
    /// Where the code sends people: an absolute http or https URL.
    #[arg(long, value_name = "URL")]
    pub target_url: String,

    /// Free text for people (at most 200 characters).
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Choose the shortcode (3-64 of a-z, 0-9 and -) instead of a generated one. Permanent.
    #[arg(long, value_name = "SHORTCODE")]
    pub shortcode: Option<String>,

    /// Idempotency key: 1-255 bytes of text, no control characters, no leading or trailing
    /// space [default: a new UUID]
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// Runs `codes create`.
pub async fn run(args: CreateArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.settings.client()?;
    let mut request = client.codes().create(args.target_url);
    if let Some(label) = args.label {
        request = request.label(label);
    }
    if let Some(shortcode) = args.shortcode {
        request = request.shortcode(shortcode);
    }
    let own_key = args.idempotency_key.is_some();
    if let Some(key) = args.idempotency_key {
        request = request.idempotency_key(key);
    }
    let response = request.send().await?;
    let (replayed, attempts) = (
        response.meta().idempotent_replay && own_key,
        response.meta().attempts,
    );
    let code = response.into_inner();
    let shortcode = one_line(&code.shortcode);
    // A replay answers a request made earlier with the same key. With a key this run made up,
    // that can only be one of this run's own attempts whose answer was lost: this run created
    // the code. With the user's key it may also be an earlier run.
    if replayed {
        ctx.ui.info(&if attempts == 1 {
            format!("Replayed: an earlier request with this idempotency key created {shortcode}; nothing new was created.")
        } else {
            format!("Replayed: this idempotency key created {shortcode}, either in an earlier attempt of this run whose answer was lost or in an earlier run; no duplicate was made.")
        });
    }
    print_code(ctx, &code)?;
    if ctx.ui.mode == OutputMode::Table && !replayed {
        ctx.ui.info(&format!(
            "Created {shortcode}. Print its QR: heldqr codes qr {shortcode}"
        ));
    }
    Ok(())
}
