//! The README's first command: `cargo run --example quickstart`.
//!
//! With no `HELDQR_TOKEN` it starts the mock server in-process and talks to it with the
//! `business` dev token; with `HELDQR_TOKEN` set it talks to `HELDQR_BASE_URL` or the real
//! API host. Either way it creates a code (with an idempotency key), lists codes, changes the
//! target, visits the scan URL once (mock only; the redirect is never followed) and reads
//! the scans report, printing each step.

use std::process::ExitCode;

use heldqr_sdk::reqwest;
use heldqr_sdk::{Client, ScanReport};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the mock server alive until the end of `run`.
    let mut _mock = None;
    let client = if std::env::var_os("HELDQR_TOKEN").is_some() {
        let client = Client::from_env()?;
        println!("Using HELDQR_TOKEN against {}", client.base_url());
        client
    } else {
        let mock = heldqr_mock::MockServer::start(heldqr_mock::MockConfig::default()).await?;
        println!(
            "No HELDQR_TOKEN set: started the mock server at {}",
            mock.base_url()
        );
        let client = Client::builder()
            .token(heldqr_mock::DEV_TOKEN_BUSINESS)
            .base_url(mock.base_url())
            .build()?;
        _mock = Some(mock);
        client
    };

    // 1. Create, with an idempotency key we keep: a retry (even after a crash) with the same
    //    key returns the original code instead of creating a second one.
    let key = uuid::Uuid::new_v4().to_string();
    let created = client
        .codes()
        .create("https://example.com/menu")
        .label("Restaurant menu")
        .idempotency_key(&key)
        .send()
        .await?;
    println!(
        "1. Created {} -> {} (scan URL {}, idempotency key {key})",
        created.shortcode,
        created.target_url,
        created.scan_url.as_deref().unwrap_or("not in the response")
    );
    let again = client
        .codes()
        .create("https://example.com/menu")
        .label("Restaurant menu")
        .idempotency_key(&key)
        .send()
        .await?;
    println!(
        "   Sent the same create again with the same key: replay={}, shortcode {} (no duplicate)",
        again.meta().idempotent_replay,
        again.shortcode
    );

    // 2. List (one page; see examples/pagination.rs for every page).
    let page = client.codes().list().page_size(10).send().await?;
    println!(
        "2. Listed page {} of {}: {} code(s) in total",
        page.pagination.page, page.pagination.total_pages, page.pagination.total
    );
    for code in &page.items {
        println!(
            "   {} {} -> {}",
            code.shortcode, code.status, code.target_url
        );
    }
    if let Some(limit) = page.meta().rate_limit {
        println!("   Rate limit: {} of {} left", limit.remaining, limit.limit);
    }

    // 3. Point the printed QR somewhere new.
    let updated = client
        .codes()
        .update(&created.shortcode)
        .target_url("https://example.com/menu-2026")
        .send()
        .await?;
    println!("3. Updated {} -> {}", updated.shortcode, updated.target_url);

    // 4. Scan it once, like a phone would, but only on a local (mock) host: a real scan URL
    //    would count a real scan. The redirect to the target is never followed.
    // The API may leave `scan_url` out of a response; the mock always sends it.
    let scan_url = updated.scan_url.clone().unwrap_or_default();
    let local = reqwest::Url::parse(&scan_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .is_some_and(|host| matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"));
    if local {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let visit = http
            .get(&scan_url)
            .header(
                "user-agent",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile",
            )
            .header("cf-ipcountry", "DE")
            .send()
            .await?;
        let location = visit
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        println!(
            "4. Visited {scan_url}: HTTP {} redirecting to {location} (not followed)",
            visit.status().as_u16()
        );
    } else {
        println!(
            "4. Skipped visiting {scan_url:?} (not a local mock; it would record a real scan)"
        );
    }

    // 5. Read scans; the shape depends on the account's plan.
    let report = client.codes().scans(&created.shortcode).send().await?;
    match &*report {
        ScanReport::Free(lifetime) => {
            println!("5. Scans (free plan): {} in total", lifetime.total_scans)
        }
        ScanReport::Pro(w) | ScanReport::Business(w) => {
            println!(
                "5. Scans ({} plan): {} in total, {} in the last {} days",
                report.plan(),
                w.total_scans,
                w.window_scans,
                w.window.days
            );
            for country in &w.countries {
                println!("   country {}: {}", country.country, country.scans);
            }
            for device in &w.devices {
                println!("   device {}: {}", device.device, device.scans);
            }
        }
        other => println!(
            "5. Scans (plan {}): {} in total",
            other.plan(),
            other.total_scans()
        ),
    }

    if let Some(mock) = _mock.take() {
        mock.shutdown().await;
        println!("Stopped the mock server.");
    }
    Ok(())
}
