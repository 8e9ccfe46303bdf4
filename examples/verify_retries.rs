//! Verify what a client actually sent, with the mock's request journal:
//! `cargo run --example verify_retries`.
//!
//! The in-process mock resets a third of the connections right after committing a create
//! (`--fault-reset 0.3`, seeded). The SDK retries each create with the idempotency key it chose
//! once; the journal (`MockServer::requests`, the typed form of `GET /_mock/requests`) then
//! shows every attempt, and the program checks that all attempts of one create carried the
//! same key, that each key created exactly one code (the other attempts were replays), and that
//! the account holds exactly one code per create.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use heldqr_mock::{DEV_TOKEN_PRO, FaultConfig, MockConfig, MockServer, RequestFilter};
use heldqr_sdk::{Client, RetryPolicy};

const CREATES: usize = 12;

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
    let faults = FaultConfig::new().seed(42).reset_after_commit(0.3);
    let mock = MockServer::start(MockConfig::default().seed(1).faults(faults)).await?;
    let client = Client::builder()
        .token(DEV_TOKEN_PRO)
        .base_url(mock.base_url())
        .retry_policy(
            RetryPolicy::default()
                .max_retries(8)
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(50)),
        )
        .build()?;

    for i in 0..CREATES {
        // No key given: the SDK chooses one per create, before its retry loop.
        let code = client
            .codes()
            .create(format!("https://example.com/menu?table={i}"))
            .send()
            .await?;
        println!(
            "create {i:2}: {} after {} attempt(s){}",
            code.shortcode,
            code.meta().attempts,
            if code.meta().idempotent_replay {
                " (replayed)"
            } else {
                ""
            }
        );
    }

    // Every attempt the server answered, grouped by the key it carried.
    let attempts = mock.requests(&RequestFilter::new().method("POST").path("/api/v1/codes"));
    let mut by_key: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut without_key = 0;
    for entry in &attempts {
        match &entry.idempotency_key {
            Some(key) => by_key.entry(key.clone()).or_default().push(entry),
            None => without_key += 1,
        }
    }
    println!("\n{} attempts for {CREATES} creates:", attempts.len());
    let mut each_key_created_once = true;
    for (key, tries) in &by_key {
        let created = tries
            .iter()
            .filter(|e| e.status == 201 && !e.idempotent_replay)
            .count();
        let shown: Vec<String> = tries
            .iter()
            .map(|e| match &e.fault {
                Some(fault) => format!("{} ({fault})", e.status),
                None if e.idempotent_replay => format!("{} (replay)", e.status),
                None => e.status.to_string(),
            })
            .collect();
        println!("  key {key}: {}", shown.join(", "));
        each_key_created_once &= created == 1;
    }
    let holds = mock.state().code_count();
    println!("\nthe account holds {holds} codes");
    mock.shutdown().await;

    let ok =
        without_key == 0 && by_key.len() == CREATES && each_key_created_once && holds == CREATES;
    println!(
        "{}: every attempt of a create carried its key, each key created one code",
        if ok { "verified" } else { "NOT verified" }
    );
    Ok(ok)
}
