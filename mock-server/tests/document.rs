//! The document served at `GET /reference` says what the mock does (issue 8): open sets stay
//! open, inventions are labelled, the Idempotency-Key rule is in bytes, HEAD's 401 names its
//! scheme.

mod common;

use axum::http::Method;
use common::*;
use serde_json::Value;

async fn document() -> Value {
    let m = Mock::new();
    let r = m
        .req(Method::GET, "/reference")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(r.status, 200);
    r.json
}

#[tokio::test]
async fn open_sets_accept_values_the_document_does_not_name() {
    let doc = document().await;
    let schemas = &doc["components"]["schemas"];
    // A scans report of an unknown plan has a branch of its own.
    let branches: Vec<&str> = schemas["ScanReport"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["$ref"].as_str().unwrap())
        .collect();
    assert!(branches.contains(&"#/components/schemas/OtherScanReport"));
    assert_eq!(
        schemas["OtherPlan"]["not"]["$ref"],
        "#/components/schemas/Plan"
    );
    // Error.code is an ErrorCode or any code of the same shape.
    let code = &schemas["Error"]["properties"]["code"]["anyOf"];
    assert_eq!(code[0]["$ref"], "#/components/schemas/ErrorCode");
    assert_eq!(code[1]["type"], "string");
}

#[tokio::test]
async fn inventions_are_labelled_and_not_required() {
    let doc = document().await;
    let code = &doc["components"]["schemas"]["Code"];
    let required: Vec<&str> = code["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!required.contains(&"scan_url") && !required.contains(&"updated_at"));
    assert!(
        code["description"]
            .as_str()
            .unwrap()
            .contains("assumptions")
    );
    let status = doc["components"]["schemas"]["CodeStatus"]["description"]
        .as_str()
        .unwrap();
    assert!(status.contains("assumptions") && status.contains("410"));
}

#[tokio::test]
async fn the_idempotency_key_rule_is_in_bytes() {
    let doc = document().await;
    let key = &doc["components"]["parameters"]["IdempotencyKey"];
    assert!(key["description"].as_str().unwrap().contains("bytes"));
    assert_eq!(key["schema"]["maxLength"], 255);
}

#[tokio::test]
async fn head_401_declares_www_authenticate_and_sends_it() {
    let doc = document().await;
    let head401 = &doc["paths"]["/api/v1/codes"]["head"]["responses"]["401"]["$ref"];
    let name = head401.as_str().unwrap().rsplit('/').next().unwrap();
    assert!(
        doc["components"]["responses"][name]["headers"]["WWW-Authenticate"]["required"] == true
    );
    let m = Mock::new();
    let r = m.req(Method::HEAD, "/api/v1/codes").send().await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(r.raw.is_empty());
}
