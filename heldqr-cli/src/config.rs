//! The config file: where `heldqr auth login` keeps tokens between runs.
//!
//! One JSON file, `config.json`, in the platform's config directory (`~/.config/heldqr` on
//! Linux, `~/Library/Application Support/com.Heldqr.heldqr` on macOS, `%APPDATA%\Heldqr\heldqr\config`
//! on Windows), or in `$HELDQR_CONFIG_DIR` when that is set. Tokens are stored per API host, as
//! gh's hosts file does: a token saved for one host is never sent to another, and one host is the
//! default for plain commands. Hosts are compared by [`host_key`] (scheme and host lowercased,
//! default port dropped, `localhost` and `127.0.0.1` one host).
//!
//! The file is written atomically (a temporary file in the same directory as the real file, then
//! a rename) and, on Unix, readable by its owner only (file 0600, a directory we create 0700).
//! When `config.json` is a symbolic link, the file it points to is rewritten in place of the link,
//! so no older copy of a token stays behind in the link's target. This module knows nothing about
//! flags or the environment: [`crate::settings`] decides which token wins.

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
    /// The stored entry for the host of `base_url` (see [`host_key`]), with the URL it was
    /// stored under.
    fn entry(&self, base_url: &str) -> Option<(&String, &HostEntry)> {
        let key = host_key(base_url);
        self.hosts.iter().find(|(url, _)| host_key(url) == key)
    }

    /// The stored token for the host of `base_url`, if any.
    pub fn token_for(&self, base_url: &str) -> Option<&Token> {
        self.entry(base_url).map(|(_, h)| &h.token)
    }

    /// Whether the default host is the host of `base_url`.
    pub fn is_default(&self, base_url: &str) -> bool {
        self.base_url
            .as_deref()
            .is_some_and(|default| host_key(default) == host_key(base_url))
    }

    /// Stores `token` for `base_url` (replacing what was stored for the same host under any
    /// spelling) and makes that host the default.
    pub fn set_token(&mut self, base_url: &str, token: Token) {
        self.remove_token(base_url);
        let url = normalize_base_url(base_url);
        self.base_url = Some(url.clone());
        self.hosts.insert(url, HostEntry { token });
    }

    /// Makes the host of `base_url` the default; returns false (and changes nothing) when no
    /// token is stored for it.
    pub fn switch_to(&mut self, base_url: &str) -> bool {
        match self.entry(base_url) {
            Some((url, _)) => {
                self.base_url = Some(url.clone());
                true
            }
            None => false,
        }
    }

    /// Forgets the token for the host of `base_url`; returns whether there was one. The
    /// default host is cleared too when it was that host.
    pub fn remove_token(&mut self, base_url: &str) -> bool {
        if self.is_default(base_url) {
            self.base_url = None;
        }
        let key = host_key(base_url);
        let before = self.hosts.len();
        self.hosts.retain(|url, _| host_key(url) != key);
        self.hosts.len() != before
    }

    /// The hosts with a stored token, as stored.
    pub fn hosts(&self) -> impl Iterator<Item = (&str, &Token)> {
        self.hosts.iter().map(|(url, h)| (url.as_str(), &h.token))
    }
}

/// The form a base URL is stored and shown in: trimmed, without trailing slashes.
pub fn normalize_base_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// What identifies a host for its token: scheme and host lowercased, the scheme's default port
/// dropped, `localhost` as `127.0.0.1`, and the path prefix without trailing slashes. Two base
/// URLs with one key share a token; any other difference (scheme, port, host, path) does not.
///
/// A URL that does not parse is its own key (it never matches a real host).
pub fn host_key(base_url: &str) -> String {
    let trimmed = normalize_base_url(base_url);
    let Ok(url) = heldqr_sdk::reqwest::Url::parse(&trimmed) else {
        return trimmed;
    };
    let host = match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => "127.0.0.1".to_string(),
        Some(host) => host.to_ascii_lowercase(),
        None => return trimmed,
    };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    format!("{}://{host}{port}{path}", url.scheme())
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

    /// The file a save replaces: `config.json` itself, or, when it is a symbolic link, the file
    /// the link points to (so the rename replaces the real file and the link keeps working,
    /// instead of the link being replaced and its target keeping the old tokens).
    fn write_target(&self) -> Result<PathBuf, CliError> {
        let path = self.path();
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                // Follows every link in the chain; a dangling link's target does not exist yet.
                match std::fs::canonicalize(&path) {
                    Ok(target) => Ok(target),
                    Err(_) => {
                        let target = std::fs::read_link(&path).map_err(|err| {
                            CliError::io(format!("cannot read the link {}", path.display()), err)
                        })?;
                        Ok(self.dir.join(target))
                    }
                }
            }
            _ => Ok(path),
        }
    }

    /// Reads the file; a missing file is an empty config. Returns warnings to show when the
    /// file or its directory is readable by other users.
    pub fn load(&self) -> Result<(ConfigFile, Vec<String>), CliError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok((ConfigFile::default(), Vec::new()));
            }
            Err(err) => return Err(CliError::io(format!("cannot read {}", path.display()), err)),
        };
        let config = serde_json::from_slice(&bytes).map_err(|err| {
            CliError::Config(format!(
                "{} is not a valid heldqr config file ({}); fix it or delete it and run `heldqr auth login`",
                path.display(),
                parse_problem(&err)
            ))
        })?;
        let warnings = loose_dir_warning(&self.dir)
            .into_iter()
            .chain(loose_permissions_warning(&path))
            .collect();
        Ok((config, warnings))
    }

    /// Writes the file atomically with owner-only permissions; the directory is created (0700 on
    /// Unix) when missing.
    pub fn save(&self, config: &ConfigFile) -> Result<(), CliError> {
        create_private_dir(&self.dir)
            .map_err(|err| CliError::io(format!("cannot create {}", self.dir.display()), err))?;
        let path = self.write_target()?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone());
        let mut json = serde_json::to_vec_pretty(config)
            .map_err(|err| CliError::Other(format!("cannot encode the config file: {err}")))?;
        json.push(b'\n');
        // NamedTempFile is created 0600 on Unix, in the same directory so the rename is atomic.
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::Builder::new()
                .prefix(".config.json.")
                .tempfile_in(&dir)?;
            tmp.write_all(&json)?;
            tmp.as_file().sync_all()?;
            set_owner_only(tmp.path())?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|err| CliError::io(format!("cannot write {}", path.display()), err))
    }
}

/// Creates `dir` (and its parents) readable by the owner only, where the platform has modes.
#[cfg(unix)]
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
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
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Where and how the config file failed to parse, without quoting it: serde's own message
/// echoes the offending value, and in this file a value may be a token.
fn parse_problem(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Syntax => "not valid JSON",
        Category::Eof => "the JSON ends early",
        Category::Data => "not the structure heldqr writes",
        Category::Io => "unreadable",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
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

/// A warning when other users can list or read the config directory (group or other read bits).
#[cfg(unix)]
fn loose_dir_warning(dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "the config directory {} is readable by other users (mode {:o}); run `chmod 700 {}`",
            dir.display(),
            mode & 0o777,
            dir.display()
        )
    })
}

#[cfg(not(unix))]
fn loose_dir_warning(_dir: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().join("nested"));
        let (config, warnings) = store.load().unwrap();
        assert_eq!(config, ConfigFile::default());
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_file_that_does_not_parse_is_reported_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().to_path_buf());
        // A hand-written file with the token where heldqr keeps an object, then one with the
        // token in a broken string, then one with it as an unknown key.
        for text in [
            r#"{"hosts":{"http://127.0.0.1:9":"hkr_live_secret_AAAA1111"}}"#,
            r#"{"hosts":{"http://127.0.0.1:9":{"token":"hkr_live_secret_AAAA1111}}}"#,
            r#"{"hkr_live_secret_AAAA1111": 1, "hosts": 3}"#,
        ] {
            std::fs::write(store.path(), text).unwrap();
            let err = store.load().unwrap_err().to_string();
            assert!(err.contains("is not a valid heldqr config file"), "{err}");
            assert!(err.contains("line 1 column"), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn save_then_load_round_trips_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path().join("heldqr"));
        let mut config = ConfigFile::default();
        config.set_token("http://127.0.0.1:9/", Token::new("hkr_test_pro"));
        store.save(&config).unwrap();
        let (loaded, warnings) = store.load().unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
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
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = ConfigStore::new(dir.path());
        store.save(&ConfigFile::default()).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warnings) = store.load().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("chmod 600"));
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

    #[test]
    fn host_keys_join_spellings_of_one_host_only() {
        let same = [
            ("http://localhost:8080", "http://127.0.0.1:8080/"),
            ("HTTPS://API.heldqr.com", "https://api.heldqr.com"),
            ("https://api.heldqr.com:443/", "https://api.heldqr.com"),
            ("http://localhost", "http://127.0.0.1:80"),
        ];
        for (a, b) in same {
            assert_eq!(host_key(a), host_key(b), "{a} {b}");
        }
        let different = [
            ("http://localhost:8080", "http://127.0.0.1:8081"),
            ("http://127.0.0.1:8080", "https://127.0.0.1:8080"),
            ("https://api.heldqr.com", "https://app.heldqr.com"),
            ("https://h.example/v1", "https://h.example"),
        ];
        for (a, b) in different {
            assert_ne!(host_key(a), host_key(b), "{a} {b}");
        }
    }

    #[test]
    fn one_token_per_host_whatever_the_spelling() {
        let mut config = ConfigFile::default();
        config.set_token("http://localhost:8080", Token::new("t1"));
        config.set_token("https://api.heldqr.com", Token::new("live"));
        assert_eq!(
            config.token_for("http://127.0.0.1:8080/").unwrap().expose(),
            "t1"
        );
        config.set_token("http://127.0.0.1:8080", Token::new("t2"));
        assert_eq!(config.hosts().count(), 2);
        assert_eq!(
            config.token_for("http://localhost:8080").unwrap().expose(),
            "t2"
        );
        assert!(config.is_default("http://localhost:8080"));
        assert!(config.switch_to("https://API.heldqr.com/"));
        assert_eq!(config.base_url.as_deref(), Some("https://api.heldqr.com"));
        assert!(!config.switch_to("https://app.heldqr.com"));
        assert_eq!(config.base_url.as_deref(), Some("https://api.heldqr.com"));
        assert!(config.remove_token("http://localhost:8080"));
        assert!(config.token_for("http://127.0.0.1:8080").is_none());
        assert_eq!(config.base_url.as_deref(), Some("https://api.heldqr.com"));
    }

    /// A config file that is a symbolic link (dotfiles kept elsewhere): the save rewrites the
    /// link's target, so no copy of the old token stays there, and the link stays a link.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_rewritten_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("dotfiles");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("heldqr.json");
        let store = ConfigStore::new(dir.path().join("heldqr"));
        std::fs::create_dir(dir.path().join("heldqr")).unwrap();
        let mut config = ConfigFile::default();
        config.set_token("https://api.heldqr.com", Token::new("hkr_live_oldsecret"));
        std::fs::write(&real, serde_json::to_vec(&config).unwrap()).unwrap();
        std::os::unix::fs::symlink(&real, store.path()).unwrap();

        config.remove_token("https://api.heldqr.com");
        config.set_token("http://127.0.0.1:1", Token::new("hkr_test_new"));
        store.save(&config).unwrap();

        assert!(
            std::fs::symlink_metadata(store.path())
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let text = std::fs::read_to_string(&real).unwrap();
        assert!(!text.contains("oldsecret"), "{text}");
        assert!(text.contains("hkr_test_new"));
        let (loaded, _) = store.load().unwrap();
        assert_eq!(loaded, config);
        // Nothing else was left in either directory.
        for d in [&real_dir, &dir.path().join("heldqr")] {
            let names: Vec<_> = std::fs::read_dir(d).unwrap().collect();
            assert_eq!(names.len(), 1, "{}", d.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_config_dir_readable_by_others_gets_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store.save(&ConfigFile::default()).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (_, warnings) = store.load().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("chmod 700"), "{warnings:?}");
    }
}
