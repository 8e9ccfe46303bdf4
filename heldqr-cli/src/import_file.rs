//! Reading a `codes import` CSV file into rows, each with its identity and idempotency key.
//!
//! The file has a header row naming its columns: `target_url` (required), `label` and
//! `shortcode` (optional), in any order; fields are trimmed and an empty field means "not set".
//! The whole file is read and checked before anything is sent, so a malformed file creates
//! nothing.
//!
//! # Row identity and idempotency keys
//! A row's identity is a UUIDv5 over (a fixed namespace) the batch (`--batch-id`, none by
//! default), the row's content (`target_url`, `label`, `shortcode`) and how many identical rows
//! come before it in the file. Its idempotency key is a UUIDv5 of that identity. Neither depends
//! on the file's name or place. So:
//! - running the same file again, from any path, under any name, or a copy of it, finds every
//!   row's identity in the import ledger ([`crate::ledger`]) and skips it without a request;
//!   a row the ledger never saw finished (a crash mid-request) is sent again with the same key,
//!   which the server replays for 24 hours;
//! - inserting, deleting or reordering other rows does not change a row's identity (the row
//!   number is not part of it), and two identical rows in one file are still two codes;
//! - a row whose content was edited is a new row and is created (its old version stays);
//! - a *different* file with a row identical to one imported before (the same content, first
//!   of its kind in both files) has that row skipped as already imported: the run lists it with
//!   the shortcode it got the first time. `--batch-id` (or `--new-batch`) makes every row of a
//!   deliberate new batch new.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use uuid::Uuid;

use crate::error::CliError;

/// Namespace of row identities: UUIDv5 of the URL namespace and
/// `https://heldqr.com/cli/import/v2` (v1 keys included the file's path).
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://heldqr.com/cli/import/v2")
}

/// One data row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// 1-based data row number (the header is not counted).
    pub row: usize,
    /// 1-based line of the file the row starts on.
    pub line: u64,
    /// The code's destination.
    pub target_url: String,
    /// The label, when the field is not empty.
    pub label: Option<String>,
    /// The chosen shortcode, when the field is not empty.
    pub shortcode: Option<String>,
    /// The row's identity (see the module docs), the import ledger's key.
    pub row_id: String,
    /// The identity the row has outside any batch (its `row_id` when no `--batch-id` is
    /// given): kept in the ledger with a batch's rows, so a plain run can tell that a row was
    /// imported before in a batch.
    pub content_id: String,
    /// The row's idempotency key, derived from its identity.
    pub idempotency_key: String,
}

/// Reads and checks the whole file at `path` (`-`: standard input). `batch_id` is
/// `--batch-id`, when given.
pub fn read(path: &Path, batch_id: Option<&str>) -> Result<Vec<ImportRow>, CliError> {
    let parsed = if path == Path::new("-") {
        parse(std::io::stdin().lock(), batch_id)
    } else {
        let file = std::fs::File::open(path)
            .map_err(|err| CliError::Usage(format!("cannot read {}: {err}", path.display())))?;
        parse(file, batch_id)
    };
    parsed.map_err(|err| match err {
        CliError::Usage(message) if path == Path::new("-") => {
            CliError::Usage(format!("standard input: {message}"))
        }
        CliError::Usage(message) => CliError::Usage(format!("{}: {message}", path.display())),
        other => other,
    })
}

/// Parses CSV from `reader` (see the module docs for the format).
pub fn parse(reader: impl Read, batch_id: Option<&str>) -> Result<Vec<ImportRow>, CliError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .has_headers(true)
        .from_reader(reader);
    let headers = csv.headers().map_err(csv_error)?.clone();
    if headers.is_empty() {
        return Err(CliError::Usage(
            "the file is empty (expected a header row: target_url,label,shortcode)".into(),
        ));
    }
    let columns = Columns::from_headers(&headers)?;
    let namespace = namespace();
    let mut seen: HashMap<(String, Option<String>, Option<String>), u64> = HashMap::new();
    let mut rows = Vec::new();
    for (index, record) in csv.records().enumerate() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let target_url = field(Some(columns.target_url)).unwrap_or_default();
        let label = field(columns.label);
        let shortcode = field(columns.shortcode);
        let occurrence = seen
            .entry((target_url.clone(), label.clone(), shortcode.clone()))
            .or_insert(0);
        let identity = derive_identity(
            &namespace,
            batch_id,
            &target_url,
            label.as_deref(),
            shortcode.as_deref(),
            *occurrence,
        );
        let content_id = match batch_id {
            None => identity,
            Some(_) => derive_identity(
                &namespace,
                None,
                &target_url,
                label.as_deref(),
                shortcode.as_deref(),
                *occurrence,
            ),
        };
        *occurrence += 1;
        rows.push(ImportRow {
            row: index + 1,
            line,
            target_url,
            label,
            shortcode,
            row_id: identity.to_string(),
            content_id: content_id.to_string(),
            idempotency_key: Uuid::new_v5(&identity, b"idempotency-key").to_string(),
        });
    }
    Ok(rows)
}

/// The identity of one row (see the module docs). Every part is length-prefixed so no two
/// different rows can produce the same name.
fn derive_identity(
    namespace: &Uuid,
    batch_id: Option<&str>,
    target_url: &str,
    label: Option<&str>,
    shortcode: Option<&str>,
    occurrence: u64,
) -> Uuid {
    let mut name = Vec::new();
    let mut part = |tag: &str, value: Option<&str>| {
        name.extend_from_slice(tag.as_bytes());
        match value {
            Some(v) => {
                name.extend_from_slice(v.len().to_string().as_bytes());
                name.push(b':');
                name.extend_from_slice(v.as_bytes());
            }
            None => name.push(b'-'),
        }
        name.push(b'\n');
    };
    part("batch=", batch_id);
    part("target_url=", Some(target_url));
    part("label=", label);
    part("shortcode=", shortcode);
    part("occurrence=", Some(&occurrence.to_string()));
    Uuid::new_v5(namespace, &name)
}

/// Where each known column is.
struct Columns {
    target_url: usize,
    label: Option<usize>,
    shortcode: Option<usize>,
}

impl Columns {
    fn from_headers(headers: &csv::StringRecord) -> Result<Self, CliError> {
        let mut target_url = None;
        let mut label = None;
        let mut shortcode = None;
        for (i, name) in headers.iter().enumerate() {
            let slot = match name.to_ascii_lowercase().as_str() {
                "target_url" => &mut target_url,
                "label" => &mut label,
                "shortcode" => &mut shortcode,
                other => {
                    return Err(CliError::Usage(format!(
                        "unknown column {other:?} in the header (the columns are target_url, label, shortcode)"
                    )));
                }
            };
            if slot.replace(i).is_some() {
                return Err(CliError::Usage(format!(
                    "column {name:?} appears twice in the header"
                )));
            }
        }
        let target_url = target_url.ok_or_else(|| {
            CliError::Usage(
                "the header has no target_url column (expected: target_url,label,shortcode)".into(),
            )
        })?;
        Ok(Columns {
            target_url,
            label,
            shortcode,
        })
    }
}

fn csv_error(err: csv::Error) -> CliError {
    let line = err.position().map(|p| p.line());
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "has {len} fields, the header has {expected_len} (a field with a comma needs \
             double quotes, and a quote that opens a field must close it)"
        ),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        _ => err.to_string(),
    };
    match line {
        Some(line) => CliError::Usage(format!("line {line} {message}")),
        None => CliError::Usage(format!("invalid CSV: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(csv: &str) -> Vec<ImportRow> {
        parse(csv.as_bytes(), None).unwrap()
    }

    fn usage_message(csv: &str) -> String {
        match parse(csv.as_bytes(), None) {
            Err(CliError::Usage(message)) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_file_and_an_unclosed_quote_say_what_is_wrong() {
        assert!(usage_message("").contains("the file is empty"));
        let message = usage_message("target_url,label,shortcode\nhttps://example.com/a,\"open,\n");
        assert!(
            message.starts_with("line 2 has 2 fields, the header has 3"),
            "{message}"
        );
        assert!(
            message.contains("a quote that opens a field must close it"),
            "{message}"
        );
    }

    #[test]
    fn reads_columns_in_any_order_with_empty_fields_unset() {
        let rows = rows(
            "shortcode,target_url,label\n\
             menu-v3, https://example.com/menu ,Menu\n\
             ,https://example.com/b,\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row, 1);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].target_url, "https://example.com/menu");
        assert_eq!(rows[0].label.as_deref(), Some("Menu"));
        assert_eq!(rows[0].shortcode.as_deref(), Some("menu-v3"));
        assert_eq!(rows[1].label, None);
        assert_eq!(rows[1].shortcode, None);
    }

    #[test]
    fn only_target_url_is_required() {
        let rows = rows("target_url\nhttps://example.com/a\n");
        assert_eq!(rows.len(), 1);
        assert!(usage_message("label\nx\n").contains("no target_url column"));
    }

    #[test]
    fn keys_are_stable_across_runs_and_valid_header_values() {
        let csv = "target_url,label\nhttps://example.com/a,A\nhttps://example.com/b,B\n";
        let first = rows(csv);
        let second = rows(csv);
        assert_eq!(first, second);
        for row in &first {
            assert!(!row.idempotency_key.is_empty() && row.idempotency_key.len() <= 255);
            assert!(
                row.idempotency_key
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b))
            );
        }
        assert_ne!(first[0].idempotency_key, first[1].idempotency_key);
    }

    #[test]
    fn keys_ignore_row_position_but_not_content_or_batch() {
        let a = rows("target_url\nhttps://example.com/a\nhttps://example.com/b\n");
        let b = rows(
            "target_url\nhttps://example.com/new\nhttps://example.com/b\nhttps://example.com/a\n",
        );
        assert_eq!(a[0].idempotency_key, b[2].idempotency_key);
        assert_eq!(a[1].idempotency_key, b[1].idempotency_key);
        let other_batch = parse(
            "target_url\nhttps://example.com/a\n".as_bytes(),
            Some("spring"),
        )
        .unwrap();
        assert_ne!(a[0].idempotency_key, other_batch[0].idempotency_key);
        assert_ne!(a[0].row_id, other_batch[0].row_id);
        assert_eq!(a[0].row_id, b[2].row_id);
        assert_ne!(a[0].row_id, a[0].idempotency_key);
        let edited = rows("target_url,label\nhttps://example.com/a,x\n");
        assert_ne!(a[0].idempotency_key, edited[0].idempotency_key);
    }

    #[test]
    fn identical_rows_are_distinct_codes() {
        let rows = rows("target_url\nhttps://example.com/a\nhttps://example.com/a\n");
        assert_ne!(rows[0].idempotency_key, rows[1].idempotency_key);
    }

    #[test]
    fn empty_and_unset_label_share_a_key_but_ambiguous_splits_do_not() {
        let a = rows("target_url,label\nhttps://example.com/a,\n");
        let b = rows("target_url\nhttps://example.com/a\n");
        assert_eq!(a[0].idempotency_key, b[0].idempotency_key);
        let c = rows("target_url,label,shortcode\nhttps://x.example,ab,c\n");
        let d = rows("target_url,label,shortcode\nhttps://x.example,a,bc\n");
        assert_ne!(c[0].idempotency_key, d[0].idempotency_key);
    }

    #[test]
    fn malformed_files_name_the_line() {
        assert!(usage_message("target_url,label\nhttps://a.example,x,extra\n").contains("line 2"));
        assert!(usage_message("target_url,colour\nx,y\n").contains("unknown column \"colour\""));
        assert!(usage_message("target_url,target_url\nx,y\n").contains("twice"));
        let bad_utf8 = b"target_url\n\xff\xfe\n";
        assert!(
            matches!(parse(&bad_utf8[..], None), Err(CliError::Usage(m)) if m.contains("UTF-8"))
        );
    }

    #[test]
    fn header_only_file_has_no_rows() {
        assert!(rows("target_url,label,shortcode\n").is_empty());
        assert!(usage_message("").contains("the file is empty"));
    }

    #[test]
    fn quoted_fields_with_commas_and_newlines() {
        let rows = rows("target_url,label\n\"https://example.com/a?x=1,2\",\"two\nlines\"\n");
        assert_eq!(rows[0].target_url, "https://example.com/a?x=1,2");
        assert_eq!(rows[0].label.as_deref(), Some("two\nlines"));
    }
}
