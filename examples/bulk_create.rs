//! Bulk create that is safe to re-run: `cargo run --example bulk_create`.
//!
//! Each item's Idempotency-Key is derived from its name (a UUIDv5), so running the job again
//! (after a crash halfway, say) gets the stored result back for every item already created
//! instead of duplicating it; the report says which were created and which replayed. Several
//! tasks share one client with pacing on, so the job runs at the rate limit without 429s.
//!
//! With no `HELDQR_TOKEN` it runs against the in-process mock server, twice, to show the
//! second run replaying everything; with `HELDQR_TOKEN` set it runs once against the API.

use std::process::ExitCode;

use futures_util::{StreamExt, stream};
use heldqr_sdk::{Client, ClientBuilder};
use uuid::Uuid;

/// Namespace for this job's keys; change it to start a new job with the same names.
const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x6d3c_1c0e_8a41_4f5e_9d2b_1f0a_7c3e_5b21);

fn items() -> Vec<(String, String)> {
    (1..=12)
        .map(|table| {
            (
                format!("table-{table}"),
                format!("https://example.com/menu?table={table}"),
            )
        })
        .collect()
}

#[derive(Default, Debug)]
struct Report {
    created: usize,
    replayed: usize,
    failed: usize,
}

async fn run_job(client: &Client) -> Report {
    let results = stream::iter(items())
        .map(|(name, target)| {
            let client = client.clone();
            async move {
                let key = Uuid::new_v5(&JOB_NAMESPACE, name.as_bytes()).to_string();
                let result = client
                    .codes()
                    .create(target)
                    .label(name.clone())
                    .idempotency_key(key)
                    .send()
                    .await;
                (name, result)
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let mut report = Report::default();
    for (name, result) in results {
        match result {
            Ok(code) if code.meta().idempotent_replay => {
                report.replayed += 1;
                println!("  replayed {name}: {} (already created)", code.shortcode);
            }
            Ok(code) => {
                report.created += 1;
                println!("  created  {name}: {}", code.shortcode);
            }
            Err(error) => {
                report.failed += 1;
                // The key is on the error too: re-running the job retries it safely.
                println!(
                    "  failed   {name}: {error} (key {})",
                    error.idempotency_key().unwrap_or("-")
                );
            }
        }
    }
    report
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    if std::env::var_os(heldqr_sdk::ENV_TOKEN).is_some() {
        // HELDQR_TOKEN and HELDQR_BASE_URL, plus pacing.
        let client = ClientBuilder::from_env()?.pace_rate_limit(true).build()?;
        let report = run_job(&client).await;
        println!("{report:?}");
        return Ok(report.failed == 0);
    }

    let mock = heldqr_mock::MockServer::start(heldqr_mock::MockConfig::default()).await?;
    println!(
        "No HELDQR_TOKEN set: started the mock server at {}",
        mock.base_url()
    );
    let client = Client::builder()
        .token(heldqr_mock::DEV_TOKEN_BUSINESS)
        .base_url(mock.base_url())
        .pace_rate_limit(true)
        .build()?;
    println!("First run:");
    let first = run_job(&client).await;
    println!(
        "First run: {} created, {} replayed, {} failed",
        first.created, first.replayed, first.failed
    );
    println!("Second run (same names, so the same keys):");
    let second = run_job(&client).await;
    println!(
        "Second run: {} created, {} replayed, {} failed",
        second.created, second.replayed, second.failed
    );
    let total = client.codes().list().send().await?.pagination.total;
    println!("The account holds {total} codes: no duplicates.");
    mock.shutdown().await;
    Ok(first.failed == 0 && second.created == 0 && second.failed == 0)
}
