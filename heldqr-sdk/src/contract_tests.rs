//! Holds the SDK to `openapi.yaml`: every response example deserializes into the SDK's type
//! for its schema (error examples through the SDK's error-body parser), every request-body
//! example is what the SDK's builders send, and every enum in the document is known.
//!
//! The document is read at test time from the workspace root. A schema this test does not
//! map fails the test, so a new response shape cannot slip past the SDK.

use serde_json::Value;

use crate::error::parse_error_body;
use crate::models::{Code, DataEnvelope, Page, ScanReport};
use crate::{CodeStatus, Device, ErrorCode, Plan};

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../mock-server/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("mock-server/openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml parses")
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"))
        }
        None => value,
    }
}

fn schema_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
}

/// Mock-only routes answer with inline schemas that are not part of the real API.
fn is_mock_only(route: &str) -> bool {
    route.starts_with("/_mock/") || route == "/healthz" || route == "/reference"
}

#[test]
fn every_response_example_deserializes_into_the_sdk_types() {
    let doc = document();
    let mut checked = 0;
    let paths = doc["paths"].as_object().expect("paths");
    for (route, item) in paths {
        for (verb, operation) in item.as_object().expect("path item") {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                let status_code: u16 = status.parse().expect("numeric status");
                let response = resolve(&doc, response);
                let Some(json) = response.pointer("/content/application~1json") else {
                    continue;
                };
                let schema = json.get("schema").cloned().unwrap_or(Value::Null);
                let Some(examples) = json.get("examples").and_then(Value::as_object) else {
                    continue;
                };
                for (name, example) in examples {
                    let value = example["value"].clone();
                    let body = serde_json::to_vec(&value).unwrap();
                    let at = format!("{verb} {route} {status} example {name}");
                    match schema_name(&schema) {
                        Some("CodeList") => {
                            serde_json::from_value::<Page<Code>>(value)
                                .unwrap_or_else(|e| panic!("{at}: {e}"));
                        }
                        Some("CodeEnvelope") => {
                            let code = serde_json::from_value::<DataEnvelope<Code>>(value)
                                .unwrap_or_else(|e| panic!("{at}: {e}"));
                            assert!(!matches!(code.data.status, CodeStatus::Unknown(_)), "{at}");
                        }
                        Some("ScanReportEnvelope") => {
                            let report = serde_json::from_value::<DataEnvelope<ScanReport>>(value)
                                .unwrap_or_else(|e| panic!("{at}: {e}"))
                                .data;
                            assert_eq!(
                                report.plan().as_str(),
                                name.trim_end_matches("_never_scanned"),
                                "{at}"
                            );
                            assert!(!matches!(report, ScanReport::Unknown { .. }), "{at}");
                        }
                        Some("ErrorEnvelope") => {
                            let parsed = parse_error_body(&body)
                                .unwrap_or_else(|| panic!("{at}: not read as an envelope"));
                            let code = ErrorCode::from(parsed.code.as_str());
                            // A mock-only answer (its description says so) may use an error
                            // code of the mock's own, outside the API's enum: the SDK keeps it,
                            // readable. Every code of the API's own answers is known.
                            let mock_only_answer = is_mock_only(route)
                                || response
                                    .get("description")
                                    .and_then(Value::as_str)
                                    .is_some_and(|d| d.starts_with("Mock only"));
                            if mock_only_answer {
                                assert_eq!(code.as_str(), parsed.code, "{at}");
                            } else {
                                assert!(
                                    !matches!(code, ErrorCode::Unknown(_)),
                                    "{at}: code {code} unknown to the SDK",
                                );
                            }
                            assert_eq!(
                                parsed.message.as_deref(),
                                value.pointer("/error/message").and_then(Value::as_str),
                                "{at}"
                            );
                            if status_code == 422 {
                                assert!(!parsed.field_errors.is_empty(), "{at}");
                            }
                        }
                        _ if is_mock_only(route) => continue,
                        other => panic!("{at}: schema {other:?} is not mapped to an SDK type"),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 25, "only {checked} examples checked");
}

#[test]
fn every_request_body_example_is_what_the_builders_send() {
    let doc = document();
    let client = crate::codes::test_client();
    let create = doc
        .pointer("/paths/~1api~1v1~1codes/post/requestBody/content/application~1json/examples")
        .and_then(Value::as_object)
        .expect("create examples");
    for (name, example) in create {
        let value = &example["value"];
        let mut builder = client
            .codes()
            .create(value["target_url"].as_str().expect("target_url"));
        if let Some(label) = value.get("label").and_then(Value::as_str) {
            builder = builder.label(label);
        }
        if let Some(shortcode) = value.get("shortcode").and_then(Value::as_str) {
            builder = builder.shortcode(shortcode);
        }
        assert_eq!(
            &serde_json::to_value(&builder).unwrap(),
            value,
            "create {name}"
        );
    }
    let update = doc
        .pointer("/paths/~1api~1v1~1codes~1{shortcode}/patch/requestBody/content/application~1json/examples")
        .and_then(Value::as_object)
        .expect("update examples");
    for (name, example) in update {
        let value = &example["value"];
        let mut builder = client.codes().update("menu-v3");
        for (field, v) in value.as_object().expect("object body") {
            builder = match (field.as_str(), v) {
                ("target_url", Value::String(url)) => builder.target_url(url),
                ("label", Value::String(label)) => builder.label(label),
                ("label", Value::Null) => builder.clear_label(),
                ("status", Value::String(status)) => {
                    builder.status(CodeStatus::from(status.as_str()))
                }
                _ => panic!("update {name}: field {field} not settable"),
            };
        }
        assert_eq!(
            &serde_json::to_value(&builder).unwrap(),
            value,
            "update {name}"
        );
    }
}

/// The "List your codes" response of the API's own documentation
/// (`/work/shared/seed/heldqr-api.txt`), word for word. It has no `scan_url` and no
/// `updated_at`; the SDK must still read it.
const SEED_LIST_EXAMPLE: &str = r#"{
"data": [
{
"shortcode": "menu-v3",
"target_url": "https://example.com/menu",
"label": "Restaurant menu",
"status": "active",
"created_at": "2026-05-15T14:21:03Z"
}
],
"pagination": {"page": 1, "page_size": 50, "total": 1, "total_pages": 1}
}"#;

#[test]
fn the_seed_list_example_decodes() {
    let page: Page<Code> = serde_json::from_str(SEED_LIST_EXAMPLE).expect("seed list example");
    assert_eq!(page.items.len(), 1);
    let code = &page.items[0];
    assert_eq!(code.shortcode, "menu-v3");
    assert_eq!(code.target_url, "https://example.com/menu");
    assert_eq!(code.label.as_deref(), Some("Restaurant menu"));
    assert_eq!(code.status, CodeStatus::Active);
    assert_eq!(code.scan_url, None, "absent scan_url decodes as None");
    assert_eq!(code.created_at.unix_timestamp(), 1_778_854_863);
    assert_eq!(code.updated_at, None, "absent updated_at is None");
    assert_eq!((page.pagination.page, page.pagination.page_size), (1, 50));
    assert_eq!((page.pagination.total, page.pagination.total_pages), (1, 1));
    assert!(!page.has_next());
}

fn enum_values(doc: &Value, schema: &str) -> Vec<String> {
    doc.pointer(&format!("/components/schemas/{schema}/enum"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{schema} enum"))
        .iter()
        .map(|v| v.as_str().expect("string enum").to_owned())
        .collect()
}

#[test]
fn the_sdk_knows_every_enum_value_of_the_document() {
    let doc = document();
    fn same<T: ToString>(known: &[T], values: Vec<String>, what: &str) {
        let known: Vec<String> = known.iter().map(ToString::to_string).collect();
        assert_eq!(known, values, "{what}");
    }
    same(
        ErrorCode::known(),
        enum_values(&doc, "ErrorCode"),
        "ErrorCode",
    );
    same(
        CodeStatus::known(),
        enum_values(&doc, "CodeStatus"),
        "CodeStatus",
    );
    same(Plan::known(), enum_values(&doc, "Plan"), "Plan");
    same(Device::known(), enum_values(&doc, "Device"), "Device");
}
