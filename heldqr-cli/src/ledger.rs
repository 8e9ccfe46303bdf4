//! The import ledger: what `codes import` created, per host and account, kept on this machine
//! so an import stays exactly-once beyond the server's 24-hour idempotency window.
//!
//! One JSON-lines file per host and token, under
//! `imports/` in the platform's state directory (`$XDG_STATE_HOME/heldqr` or
//! `~/.local/state/heldqr` on Linux), or its data directory where it has no state directory
//! (`~/Library/Application Support/com.Heldqr.heldqr` on macOS, `%APPDATA%\Heldqr\heldqr\data`
//! on Windows), or `$HELDQR_STATE_DIR`. The file name is the host and a fingerprint of the token
//! (a UUIDv5 of it, never the token). Each line is one row's outcome: its identity
//! ([`crate::import_file`]), the shortcode it produced, when the code was created and from which
//! file name. A line is appended and synced as soon as the API answers, so a run stopped by
//! Ctrl-C, a crash or a lost machine has every finished row on disk; a torn last line is
//! ignored on the next read.
//!
//! Why the token stands for the account: one token belongs to one account, and the API has no
//! call that names the account. An account holding several tokens has one ledger per token, and
//! a rotated token starts an empty ledger (its rows are then only covered by the server's
//! 24-hour key window, which is per token too): import a file with the token that imported it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::create_private_dir;
use crate::error::CliError;
use crate::secret::Token;

/// Environment variable that moves the state directory (the ledger's home).
pub const ENV_STATE_DIR: &str = "HELDQR_STATE_DIR";

/// One finished row, as a ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The row's identity.
    pub row_id: String,
    /// The code the row produced.
    pub shortcode: String,
    /// When the code was created (RFC 3339, the API's `created_at`).
    pub created_at: String,
    /// The name (not the path) of the file the row was first imported from.
    pub file: String,
    /// The `--batch-id` the row was imported in; none for a plain run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// For a row of a batch, its identity outside any batch
    /// ([`crate::import_file::ImportRow::content_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

/// The ledger of one host and account.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    entries: HashMap<String, Entry>,
    /// The batch rows by their identity outside any batch (the first recorded of each).
    in_batches: HashMap<String, String>,
    /// Lines that could not be read (a torn write), ignored.
    pub unreadable_lines: usize,
    file: Option<std::fs::File>,
}

/// The state directory: `HELDQR_STATE_DIR`, else the platform's state directory, else its
/// data directory.
pub fn state_dir(override_dir: Option<&str>) -> Result<PathBuf, CliError> {
    if let Some(dir) = override_dir.filter(|d| !d.trim().is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("com", "Heldqr", "heldqr").ok_or_else(|| {
        CliError::Config(format!(
            "cannot find a home directory for the import ledger; set {ENV_STATE_DIR}"
        ))
    })?;
    Ok(dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_dir())
        .to_path_buf())
}

/// Namespace of token fingerprints in ledger file names.
fn fingerprint_namespace() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"https://heldqr.com/cli/ledger/account/v1",
    )
}

/// The ledger file of `base_url` and `token` under `state_dir`.
pub fn path_for(state_dir: &Path, base_url: &str, token: &Token) -> PathBuf {
    let host = crate::config::host_key(base_url);
    let host_dir: String = host
        .split_once("://")
        .map_or(host.as_str(), |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // The scheme is part of the host: http and https of one name are two ledgers.
    let scheme = host.split_once("://").map_or("", |(scheme, _)| scheme);
    let account = Uuid::new_v5(&fingerprint_namespace(), token.expose().as_bytes());
    state_dir
        .join("imports")
        .join(format!("{scheme}_{host_dir}"))
        .join(format!("{}.jsonl", account.simple()))
}

impl Ledger {
    /// Reads the ledger at `path` (a missing file is an empty ledger).
    pub fn open(path: PathBuf) -> Result<Ledger, CliError> {
        let mut entries = HashMap::new();
        let mut in_batches = HashMap::new();
        let mut unreadable_lines = 0;
        match std::fs::File::open(&path) {
            Ok(file) if !file.metadata().is_ok_and(|m| m.is_file()) => {
                // A device or a directory would read forever or fail line by line.
                return Err(CliError::Config(format!(
                    "the import ledger {} is not a regular file",
                    path.display()
                )));
            }
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    let line = line.map_err(|err| {
                        CliError::io(
                            format!("cannot read the import ledger {}", path.display()),
                            err,
                        )
                    })?;
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<Entry>(&line) {
                        Ok(entry) => {
                            index_batch(&mut in_batches, &entry);
                            // The first outcome of a row stands.
                            entries.entry(entry.row_id.clone()).or_insert(entry);
                        }
                        Err(_) => unreadable_lines += 1,
                    }
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(CliError::io(
                    format!("cannot read the import ledger {}", path.display()),
                    err,
                ));
            }
        }
        Ok(Ledger {
            path,
            entries,
            in_batches,
            unreadable_lines,
            file: None,
        })
    }

    /// Where the ledger lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recorded outcome of the row with identity `row_id`.
    pub fn get(&self, row_id: &str) -> Option<&Entry> {
        self.entries.get(row_id)
    }

    /// The batch that imported a row with this identity outside any batch
    /// ([`crate::import_file::ImportRow::content_id`]), if one did.
    pub fn batch_of(&self, content_id: &str) -> Option<&str> {
        self.in_batches.get(content_id).map(String::as_str)
    }

    /// Appends `entry` and syncs it to disk before returning.
    pub fn record(&mut self, entry: Entry) -> Result<(), CliError> {
        if self.entries.contains_key(&entry.row_id) {
            return Ok(());
        }
        let context = || format!("cannot write the import ledger {}", self.path.display());
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                create_private_dir(dir).map_err(|err| CliError::io(context(), err))?;
            }
            let file = open_append(&self.path).map_err(|err| CliError::io(context(), err))?;
            self.file = Some(file);
        }
        let mut line = serde_json::to_vec(&entry)
            .map_err(|err| CliError::Other(format!("cannot encode a ledger line: {err}")))?;
        line.push(b'\n');
        if let Some(file) = &mut self.file {
            // One write per line (O_APPEND): two imports at once never interleave inside a line.
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(|err| CliError::io(context(), err))?;
        }
        index_batch(&mut self.in_batches, &entry);
        self.entries.insert(entry.row_id.clone(), entry);
        Ok(())
    }
}

/// Notes a batch row under its identity outside any batch (the first batch to import it
/// stays).
fn index_batch(in_batches: &mut HashMap<String, String>, entry: &Entry) {
    if let (Some(content_id), Some(batch)) = (&entry.content_id, &entry.batch) {
        in_batches
            .entry(content_id.clone())
            .or_insert_with(|| batch.clone());
    }
}

#[cfg(unix)]
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(row_id: &str, shortcode: &str) -> Entry {
        Entry {
            row_id: row_id.into(),
            shortcode: shortcode.into(),
            created_at: "2026-11-28T10:00:00Z".into(),
            file: "codes.csv".into(),
            batch: None,
            content_id: None,
        }
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(
            dir.path(),
            "http://127.0.0.1:8080",
            &Token::new("hkr_test_pro"),
        );
        let mut ledger = Ledger::open(path.clone()).unwrap();
        assert!(ledger.get("r1").is_none());
        ledger.record(entry("r1", "abc")).unwrap();
        ledger.record(entry("r2", "def")).unwrap();
        // A second outcome for a row does not replace the first.
        ledger.record(entry("r1", "zzz")).unwrap();
        drop(ledger);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(br#"{"row_id":"r3","shortc"#).unwrap();
        let ledger = Ledger::open(path).unwrap();
        assert_eq!(ledger.get("r1").unwrap().shortcode, "abc");
        assert_eq!(ledger.get("r2").unwrap().shortcode, "def");
        assert!(ledger.get("r3").is_none());
        assert_eq!(ledger.unreadable_lines, 1);
    }

    #[test]
    fn one_ledger_per_host_and_account_and_never_the_token() {
        let dir = Path::new("/state");
        let pro = Token::new("hkr_test_pro_secret_value");
        let a = path_for(dir, "http://127.0.0.1:8080", &pro);
        assert_eq!(a, path_for(dir, "http://localhost:8080/", &pro));
        assert_ne!(a, path_for(dir, "http://127.0.0.1:8081", &pro));
        assert_ne!(a, path_for(dir, "https://127.0.0.1:8080", &pro));
        assert_ne!(
            a,
            path_for(dir, "http://127.0.0.1:8080", &Token::new("hkr_test_free"))
        );
        let shown = a.display().to_string();
        assert!(
            !shown.contains("secret") && !shown.contains("hkr_"),
            "{shown}"
        );
        assert!(
            shown.starts_with("/state/imports/http_127.0.0.1_8080/"),
            "{shown}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_ledger_that_is_not_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("l.jsonl")).unwrap();
        assert!(matches!(
            Ledger::open(dir.path().join("l.jsonl")),
            Err(CliError::Config(_))
        ));
        assert!(matches!(
            Ledger::open(dir.path().to_path_buf()),
            Err(CliError::Config(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_ledger_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), "https://api.heldqr.com", &Token::new("t"));
        let mut ledger = Ledger::open(path.clone()).unwrap();
        ledger.record(entry("r1", "abc")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }
}
