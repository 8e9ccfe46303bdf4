//! The baseline of `benches/wrk.sh`: a minimal axum server answering
//! `GET /api/v1/codes/{shortcode}` with the JSON in a file, and nothing else (no auth, no limit,
//! no log, no journal). Prints `bare-axum listening on http://ADDR` on stdout once it accepts.
//!
//! `cargo run --release -p heldqr-mock --example bare_axum -- BODY.json [ADDR]`

use axum::Router;
use axum::http::header;
use axum::routing::get;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let body_path = args.next().ok_or("usage: bare_axum BODY.json [ADDR]")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let body = bytes::Bytes::from(std::fs::read(body_path)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let router = Router::new().route(
            "/api/v1/codes/{shortcode}",
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "bare-axum listening on http://{}",
            listener.local_addr()?
        )?;
        out.flush()?;
        drop(out);
        axum::serve(listener, router).await?;
        Ok(())
    })
}
