//! The config file: where `heldqr auth login` keeps tokens between runs.
//!
//! One JSON file, `config.json`, in the platform's config directory (`~/.config/heldqr` on
//! Linux, `~/Library/Application Support/com.Heldqr.heldqr` on macOS, `%APPDATA%\Heldqr\heldqr\config`
//! on Windows), or in `$HELDQR_CONFIG_DIR` when that is set. Tokens are stored per API host, so a
//! token saved for one host is never sent to another. The file is written atomically (a
//! temporary file in the same directory, then a rename) and, on Unix, readable by its owner only
//! (file 0600, a directory we create 0700). This module knows nothing about flags or the
//! environment: [`crate::settings`] decides which token wins.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;
use crate::secret::Token;

/// File name inside the config directory.
pub const FILE_NAME: &str = "config.json";

/// The parsed config file. Unknown fields are kept out (not round-tripped) on purpose: the file is
/// ours and small.
#[derive(Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// The host used when neither `--base-url` nor `HELDQR_BASE_URL` is given: the one of the
    /// last `auth login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Stored tokens by normalized base URL.
    #[serde(default)]
    pub hosts: BTreeMap<String, HostEntry>,
}

/// What is stored for one host.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HostEntry {
    /// The bearer token (never printed: see [`Token`]'s Debug and Display).
    pub token: Token,
}

impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigFile")
            .field("base_url", &self.base_url)
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl fmt::Debug for HostEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostEntry")
            .field("token", &self.token)
            .finish()
    }
}

impl ConfigFile {
    /// The stored token for `base_url` (normalized), if any.
    pub fn token_for(&self, base_url: &str) -> Option<&Token> {
        self.hosts
            .get(&normalize_base_url(base_url))
            .map(|h| &h.token)
    }

    /// Stores `token` for `base_url` and makes that host the default.
    pub fn set_token(&mut self, base_url: &str, token: Token) {
        let key = normalize_base_url(base_url);
        self.base_url = Some(key.clone());
        self.hosts.insert(key, HostEntry { token });
    }

    /// Forgets the token for `base_url`; returns whether there was one. The default host is
    /// cleared too when it was that host.
    pub fn remove_token(&mut self, base_url: &str) -> bool {
        let key = normalize_base_url(base_url);
        if self.base_url.as_deref() == Some(key.as_str()) {
            self.base_url = None;
        }
        self.hosts.remove(&key).is_some()
    }
}

/// Canonical form used as the key for a host: trimmed, without trailing slashes.
pub fn normalize_base_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// The config file's location plus load and atomic save.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The platform config directory, or `HELDQR_CONFIG_DIR` when set and not empty.
    pub fn locate(config_dir_override: Option<&str>) -> Result<Self, CliError> {
        if let Some(dir) = config_dir_override.filter(|d| !d.is_empty()) {
            return Ok(Self::new(dir));
        }
        let dirs = directories::ProjectDirs::from("com", "Heldqr", "heldqr").ok_or_else(|| {
            CliError::Config(
                "cannot find a home directory for the config file; set HELDQR_CONFIG_DIR".into(),
            )
        })?;
        Ok(Self::new(dirs.config_dir()))
    }

    /// The config file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Reads the file; a missing file is an empty config. Returns a warning to show when the file
    /// is readable by other users.
    pub fn load(&self) -> Result<(ConfigFile, Option<String>), CliError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok((ConfigFile::default(), None));
            }
            Err(err) => return Err(CliError::io(format!("cannot read {}", path.display()), err)),
        };
        let config = serde_json::from_slice(&bytes).map_err(|err| {
            CliError::Config(format!(
                "{} is not a valid heldqr config file ({err}); fix it or delete it and run `heldqr auth login`",
                path.display()
            ))
        })?;
        Ok((config, loose_permissions_warning(&path)))
    }

    /// Writes the file atomically with owner-only permissions; the directory is created (0700 on
    /// Unix) when missing.
    pub fn save(&self, config: &ConfigFile) -> Result<(), CliError> {
        create_private_dir(&self.dir)
            .map_err(|err| CliError::io(format!("cannot create {}", self.dir.display()), err))?;
        let path = self.path();
        let mut json = serde_json::to_vec_pretty(config)
            .map_err(|err| CliError::Other(format!("cannot encode the config file: {err}")))?;
        json.push(b'\n');
        // NamedTempFile is created 0600 on Unix, in the same directory so the rename is atomic.
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::Builder::new()
                .prefix(".config.json.")
                .tempfile_in(&self.dir)?;
            tmp.write_all(&json)?;
            tmp.as_file().sync_all()?;
            set_owner_only(tmp.path())?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|err| CliError::io(format!("cannot write {}", path.display()), err))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn set_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_owner_only(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn loose_permissions_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} is readable by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn loose_permissions_warning(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().join("nested"));
        let (config, warning) = store.load().unwrap();
        assert_eq!(config, ConfigFile::default());
        assert!(warning.is_none());
    }

    #[test]
    fn save_then_load_round_trips_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().join("heldqr"));
        let mut config = ConfigFile::default();
        config.set_token("http://127.0.0.1:9/", Token::new("hkr_test_pro"));
        store.save(&config).unwrap();
        let (loaded, warning) = store.load().unwrap();
        assert!(warning.is_none());
        assert_eq!(loaded.base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(
            loaded.token_for("http://127.0.0.1:9").unwrap().expose(),
            "hkr_test_pro"
        );
        assert!(loaded.token_for("https://api.heldqr.com").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn file_is_owner_only_and_dir_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().join("heldqr"));
        let mut config = ConfigFile::default();
        config.set_token("https://api.heldqr.com", Token::new("hkr_live_secret"));
        store.save(&config).unwrap();
        let file_mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        let dir_mode = std::fs::metadata(dir.path().join("heldqr"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(file_mode & 0o777, 0o600);
        assert_eq!(dir_mode & 0o777, 0o700);
        // Only the config file is left behind (no temporary files).
        let names: Vec<_> = std::fs::read_dir(dir.path().join("heldqr"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_file_gets_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store.save(&ConfigFile::default()).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warning) = store.load().unwrap();
        assert!(warning.unwrap().contains("chmod 600"));
    }

    #[test]
    fn corrupt_file_is_a_config_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        std::fs::write(store.path(), b"{not json").unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn remove_token_clears_default_host() {
        let mut config = ConfigFile::default();
        config.set_token("http://a", Token::new("t1"));
        assert!(config.remove_token("http://a/"));
        assert!(config.base_url.is_none());
        assert!(!config.remove_token("http://a"));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let mut config = ConfigFile::default();
        config.set_token("http://a", Token::new("hkr_live_supersecret123"));
        let debug = format!("{config:?}");
        assert!(!debug.contains("supersecret"), "{debug}");
    }
}
