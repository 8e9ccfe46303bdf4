//! Reading every code: `cargo run --example pagination`.
//!
//! Shows one page at a time with its position, then the auto-paginating stream that fetches
//! pages as it is polled. With no `HELDQR_TOKEN` it starts the mock server in-process and
//! creates 23 codes first; with `HELDQR_TOKEN` set it only reads.

use std::process::ExitCode;

use heldqr_sdk::Client;
use heldqr_sdk::stream::StreamExt;

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
    let mut _mock = None;
    let client = if std::env::var_os("HELDQR_TOKEN").is_some() {
        Client::from_env()?
    } else {
        let mock = heldqr_mock::MockServer::start(heldqr_mock::MockConfig::default()).await?;
        println!(
            "No HELDQR_TOKEN set: started the mock server at {}",
            mock.base_url()
        );
        let client = Client::builder()
            .token(heldqr_mock::DEV_TOKEN_PRO)
            .base_url(mock.base_url())
            .build()?;
        for n in 1..=23 {
            client
                .codes()
                .create(format!("https://example.com/poster/{n}"))
                .label(format!("Poster {n}"))
                .send()
                .await?;
        }
        println!("Created 23 codes.");
        _mock = Some(mock);
        client
    };

    // One page at a time, by hand.
    let mut number = 1;
    loop {
        let page = client
            .codes()
            .list()
            .page(number)
            .page_size(10)
            .send()
            .await?;
        println!(
            "Page {} of {} ({} codes, {} in total)",
            page.pagination.page,
            page.pagination.total_pages,
            page.items.len(),
            page.pagination.total
        );
        if !page.has_next() {
            break;
        }
        number += 1;
    }

    // Or let the stream fetch pages as needed.
    let mut codes = client.codes().list().page_size(10).into_stream();
    let mut seen = 0;
    while let Some(code) = codes.next().await {
        let code = code?;
        seen += 1;
        println!("{seen:>3}. {} -> {}", code.shortcode, code.target_url);
    }
    println!("The stream yielded {seen} codes.");
    if let Some(mock) = _mock.take() {
        mock.shutdown().await;
    }
    Ok(())
}
