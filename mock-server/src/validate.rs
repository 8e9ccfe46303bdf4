//! Field-by-field validation of parsed JSON bodies against the contract's schemas, collecting
//! every problem under its input field name for the 422 `field_errors`. The rules mirror the
//! document's patterns exactly, so a body valid per `openapi.yaml` is always accepted.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use time::Date;

use crate::error::FieldErrors;
use crate::model::{CodeStatus, Country, Device};

/// Longest `target_url`, in characters.
pub(crate) const TARGET_URL_MAX: usize = 2048;
/// Longest `label`, in characters.
pub(crate) const LABEL_MAX: usize = 200;
/// Most days one bulk scan batch may cover.
pub(crate) const SCAN_BATCH_MAX_DAYS: i64 = 400;

const MSG_UNKNOWN: &str = "is not a known field";
const MSG_REQUIRED: &str = "is required";
const MSG_URL: &str = "must be an absolute http or https URL";
const MSG_SHORTCODE: &str =
    "must be 3-64 lowercase letters, digits or hyphens, not starting or ending with a hyphen";

/// Most unknown fields one 422 names.
pub(crate) const MAX_UNKNOWN_FIELDS_NAMED: usize = 10;

#[derive(Default)]
struct Errors(FieldErrors);

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Names at most [`MAX_UNKNOWN_FIELDS_NAMED`] unknown fields (the last one named also says
    /// how many more there were), so a 422's size does not grow with the request's.
    fn unknown_fields(&mut self, map: &Map<String, Value>, known: &[&str]) {
        let mut unknown = map.keys().filter(|k| !known.contains(&k.as_str()));
        let mut last = None;
        for k in unknown.by_ref().take(MAX_UNKNOWN_FIELDS_NAMED) {
            self.add(k, MSG_UNKNOWN);
            last = Some(k);
        }
        let more = unknown.count();
        if let (Some(k), true) = (last, more > 0) {
            self.add(k, format!("and {more} more unknown fields, not listed"));
        }
    }

    fn finish<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// The `TargetUrl` pattern of the contract, character for character (a unit test compares it
/// with the document): an absolute `http` or `https` URL (scheme in any case) per RFC 3986 with
/// RFC 3987's internationalised characters (the Basic Multilingual Plane's `ucschar`): a host
/// name of letters, digits, dots, hyphens and non-ASCII letters (IDN), an IPv4 address, or an
/// IPv6 literal in brackets; an optional port; path, query and fragment of the characters RFC
/// 3987 allows there or `%HH`. No user info.
pub(crate) const TARGET_URL_PATTERN: &str = r##"^[Hh][Tt][Tt][Pp][Ss]?://(?:\[(?:(?:[0-9A-Fa-f]{1,4}:){6}(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|::(?:[0-9A-Fa-f]{1,4}:){5}(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|(?:[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){4}(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|(?:(?:[0-9A-Fa-f]{1,4}:){0,1}[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){3}(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|(?:(?:[0-9A-Fa-f]{1,4}:){0,2}[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){2}(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|(?:(?:[0-9A-Fa-f]{1,4}:){0,3}[0-9A-Fa-f]{1,4})?::[0-9A-Fa-f]{1,4}:(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|(?:(?:[0-9A-Fa-f]{1,4}:){0,4}[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))|(?:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4})?::[0-9A-Fa-f]{1,4}|(?:(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})?::)\]|[A-Za-z0-9\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF](?:[A-Za-z0-9.\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF-]*[A-Za-z0-9\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF])?)(?::[0-9]{1,5})?(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF-/]|%[0-9A-Fa-f]{2})*)?(?:[?](?:[A-Za-z0-9._~!$&'()*+,;=:@\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF-/?\uE000-\uF8FF]|%[0-9A-Fa-f]{2})*)?(?:#(?:[A-Za-z0-9._~!$&'()*+,;=:@\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF-/?]|%[0-9A-Fa-f]{2})*)?$"##;

static TARGET_URL: LazyLock<Regex> = LazyLock::new(|| {
    // A constant, compiled in the unit tests too.
    Regex::new(TARGET_URL_PATTERN).expect("the TargetUrl pattern compiles")
});

/// True when `s` matches the contract's `TargetUrl` pattern.
pub(crate) fn is_http_url(s: &str) -> bool {
    TARGET_URL.is_match(s)
}

/// `^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$`, the `Shortcode` pattern of the contract.
pub(crate) fn is_valid_shortcode(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=64).contains(&b.len())
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-')
}

fn target_url(errors: &mut Errors, v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.chars().count() > TARGET_URL_MAX => {
            errors.add(
                "target_url",
                format!("must be at most {TARGET_URL_MAX} characters"),
            );
            None
        }
        Value::String(s) if !is_http_url(s) => {
            errors.add("target_url", MSG_URL);
            None
        }
        Value::String(s) => Some(s.clone()),
        _ => {
            errors.add("target_url", "must be a string");
            None
        }
    }
}

/// `Some(None)` clears the label.
fn label(errors: &mut Errors, v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) if s.chars().count() > LABEL_MAX => {
            errors.add("label", format!("must be at most {LABEL_MAX} characters"));
            None
        }
        Value::String(s) => Some(Some(s.clone())),
        _ => {
            errors.add("label", "must be a string or null");
            None
        }
    }
}

/// A valid `CodeCreate` body.
#[derive(Debug)]
pub(crate) struct NewCode {
    pub target_url: String,
    pub label: Option<String>,
    pub shortcode: Option<String>,
}

/// Validates a `CodeCreate` body.
pub(crate) fn create(map: &Map<String, Value>) -> Result<NewCode, FieldErrors> {
    let mut e = Errors::default();
    e.unknown_fields(map, &["target_url", "label", "shortcode"]);
    let url = match map.get("target_url") {
        Some(v) => target_url(&mut e, v),
        None => {
            e.add("target_url", MSG_REQUIRED);
            None
        }
    };
    let label = map.get("label").and_then(|v| label(&mut e, v)).flatten();
    let shortcode = match map.get("shortcode") {
        None => None,
        Some(Value::String(s)) if is_valid_shortcode(s) => Some(s.clone()),
        Some(Value::String(_)) => {
            e.add("shortcode", MSG_SHORTCODE);
            None
        }
        Some(_) => {
            e.add("shortcode", "must be a string");
            None
        }
    };
    e.finish(NewCode {
        target_url: url.unwrap_or_default(),
        label,
        shortcode,
    })
}

/// A valid `CodeUpdate` body: only the fields present change.
#[derive(Debug, Default)]
pub(crate) struct CodePatch {
    pub target_url: Option<String>,
    pub label: Option<Option<String>>,
    pub status: Option<CodeStatus>,
}

/// Validates a `CodeUpdate` body; `shortcode` is permanent.
pub(crate) fn update(map: &Map<String, Value>) -> Result<CodePatch, FieldErrors> {
    let mut e = Errors::default();
    if map.contains_key("shortcode") {
        e.add("shortcode", "is permanent and cannot be changed");
    }
    e.unknown_fields(map, &["target_url", "label", "status", "shortcode"]);
    let mut patch = CodePatch::default();
    if let Some(v) = map.get("target_url") {
        patch.target_url = target_url(&mut e, v);
    }
    if let Some(v) = map.get("label") {
        patch.label = label(&mut e, v);
    }
    if let Some(v) = map.get("status") {
        patch.status = match v.as_str() {
            Some("active") => Some(CodeStatus::Active),
            Some("paused") => Some(CodeStatus::Paused),
            _ => {
                e.add("status", "must be one of: active, paused");
                None
            }
        };
    }
    e.finish(patch)
}

/// An integer in `min..=max` (a JSON number with no fractional part).
fn integer(
    e: &mut Errors,
    map: &Map<String, Value>,
    field: &str,
    min: u64,
    max: u64,
) -> Option<u64> {
    let Some(v) = map.get(field) else {
        e.add(field, MSG_REQUIRED);
        return None;
    };
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    let in_range = n.filter(|n| (min..=max).contains(n));
    if in_range.is_none() {
        if v.is_number() {
            e.add(field, format!("must be an integer from {min} to {max}"));
        } else {
            e.add(field, "must be an integer");
        }
    }
    in_range
}

fn date(e: &mut Errors, map: &Map<String, Value>, field: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match map.get(field) {
        None => {
            e.add(field, MSG_REQUIRED);
            None
        }
        Some(Value::String(s)) if s.len() == 10 => match Date::parse(s, &fmt) {
            Ok(d) => Some(d),
            Err(_) => {
                e.add(field, "must be a date (YYYY-MM-DD)");
                None
            }
        },
        Some(_) => {
            e.add(field, "must be a date (YYYY-MM-DD)");
            None
        }
    }
}

/// A valid `MockScanBatch` body.
#[derive(Debug)]
pub(crate) struct ScanBatch {
    pub from: Date,
    pub to: Date,
    pub per_day: u64,
    pub country: Country,
    pub device: Device,
}

/// Validates a `MockScanBatch` body.
pub(crate) fn scan_batch(map: &Map<String, Value>) -> Result<ScanBatch, FieldErrors> {
    let mut e = Errors::default();
    e.unknown_fields(map, &["from", "to", "per_day", "country", "device"]);
    let from = date(&mut e, map, "from");
    let to = date(&mut e, map, "to");
    let per_day = integer(&mut e, map, "per_day", 1, 100_000);
    let country = match map.get("country") {
        None => *b"XX",
        Some(Value::String(s)) if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) => {
            let b = s.as_bytes();
            [b[0], b[1]]
        }
        Some(_) => {
            e.add("country", "must be two uppercase ASCII letters");
            *b"XX"
        }
    };
    let device = match map.get("device") {
        None => Device::Other,
        Some(v) => match v.as_str().and_then(Device::parse) {
            Some(d) => d,
            None => {
                e.add(
                    "device",
                    "must be one of: mobile, tablet, desktop, bot, other",
                );
                Device::Other
            }
        },
    };
    if let (Some(f), Some(t)) = (from, to) {
        let days = (t - f).whole_days() + 1;
        if days < 1 {
            e.add("to", "must not be before from");
        } else if days > SCAN_BATCH_MAX_DAYS {
            e.add(
                "to",
                format!("must be at most {SCAN_BATCH_MAX_DAYS} days after from"),
            );
        }
    }
    match (from, to, per_day) {
        (Some(from), Some(to), Some(per_day)) => e.finish(ScanBatch {
            from,
            to,
            per_day,
            country,
            device,
        }),
        _ => Err(e.0),
    }
}

/// Validates the body of `POST /_mock/clock/advance`: whole seconds to move.
pub(crate) fn clock_advance(map: &Map<String, Value>) -> Result<u64, FieldErrors> {
    let mut e = Errors::default();
    e.unknown_fields(map, &["seconds"]);
    let seconds = integer(&mut e, map, "seconds", 0, 315_360_000);
    match seconds {
        Some(s) => e.finish(s),
        None => Err(e.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_url_pattern() {
        for ok in [
            "https://example.com/menu",
            "http://127.0.0.1:8080/x?y=1#z",
            "http://a",
            "https://a.b-c.d:1/",
            "https://example.com?q",
            "http://h?0O8A6~3/ms?CM#f?/",
            "https://example.com/a%20b/c;d=e",
            "HTTPS://Example.COM/",
            "Http://example.com",
            "http://[::1]:8080/x",
            "http://[2001:db8::7]/",
            "http://[::ffff:192.0.2.1]/",
            "https://bücher.example/straße?q=ü#frag",
            "https://例え.テスト/パス",
            "https://a/é",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "ftp://example.com",
            "https://",
            "https://-a.com",
            "https://a-/x",
            "https://a:/x",
            "https://a:123456",
            "https://a/b c",
            "https://a/\n",
            "https://exa_mple.com",
            "mailto:x@y.z",
            "http://h?0O8A6~3/msCM]",
            "https://a/%2",
            "https://a/%zz",
            "https://a/#x#y",
            "https://a/{x}",
            "http://[::1",
            "http://[1:2:3:4:5:6:7:8:9]/",
            "http://[:::1]/",
            "http://user@host/",
            "https://a/\u{1F600}",
            "http://[fe80::1%25eth0]/",
            "javascript:alert(1)",
        ] {
            assert!(!is_http_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_document_states_the_same_target_url_rule() {
        let doc: serde_json::Value =
            serde_norway::from_str(crate::handlers::reference::OPENAPI_YAML).unwrap();
        assert_eq!(
            doc["components"]["schemas"]["TargetUrl"]["pattern"],
            TARGET_URL_PATTERN
        );
    }

    #[test]
    fn shortcode_pattern() {
        assert!(is_valid_shortcode("menu-v3"));
        assert!(is_valid_shortcode("abc"));
        assert!(!is_valid_shortcode("ab"));
        assert!(!is_valid_shortcode("-abc"));
        assert!(!is_valid_shortcode("abc-"));
        assert!(!is_valid_shortcode("Abc"));
        assert!(!is_valid_shortcode(&"a".repeat(65)));
        assert!(is_valid_shortcode(&"a".repeat(64)));
    }
}
