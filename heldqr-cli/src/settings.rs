//! Raw flags, the environment and the config file turned into validated settings, in one step.
//!
//! Like ripgrep's flags module: [`Settings::resolve`] is the only place that looks at
//! `--token`/`HELDQR_TOKEN`/the config file and `--base-url`/`HELDQR_BASE_URL`, decides which
//! wins and remembers where each value came from (for `heldqr auth status`). Commands receive a
//! [`Settings`] and never see an invalid combination. [`Settings::client`] builds the SDK client.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use heldqr_sdk::{Client, ClientBuilder};

use crate::config::{ConfigFile, ConfigStore, normalize_base_url};
use crate::error::CliError;
use crate::globals::GlobalArgs;
use crate::secret::Token;
use crate::verbose::{ENV_DEBUG, Verbosity};

/// The token and API host variables are the SDK's own, so the CLI and `Client::from_env` agree.
pub use heldqr_sdk::{ENV_BASE_URL, ENV_TOKEN};

/// Environment variable that moves the config directory.
pub const ENV_CONFIG_DIR: &str = "HELDQR_CONFIG_DIR";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag (`--token`, `--base-url`).
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The config file at this path.
    ConfigFile(PathBuf),
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag} flag"),
            Source::Env(name) => write!(f, "{name} environment variable"),
            Source::ConfigFile(path) => write!(f, "config file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// What every command may use: the host, the token (if any) and where they came from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API host, without a trailing slash.
    pub base_url: String,
    /// Where `base_url` came from.
    pub base_url_source: Source,
    /// The token for `base_url` and where it came from, when there is one.
    pub token: Option<(Token, Source)>,
    /// Per-request timeout, when given.
    pub timeout: Option<Duration>,
    /// The config file's location.
    pub store: ConfigStore,
    /// The config file's content (empty when there is no file).
    pub config: ConfigFile,
    /// Something the user should know (a config file readable by others).
    pub warnings: Vec<String>,
    /// `HELDQR_STATE_DIR`, where the import ledger lives instead of the platform's directory.
    pub state_dir_override: Option<String>,
    /// `-v`/`-vv`/`HELDQR_DEBUG`: at `-vv` the clients log headers and bodies (the SDK's
    /// opt-in; token masked).
    pub verbosity: Verbosity,
}

impl Settings {
    /// Resolves the settings for a plain command. `env` reads an environment variable (tests
    /// pass their own).
    #[cfg(test)]
    pub fn resolve(
        globals: &GlobalArgs,
        env: &dyn Fn(&str) -> Option<String>,
        tolerate_bad_config: bool,
    ) -> Result<Settings, CliError> {
        Self::resolve_for(
            globals,
            env,
            Purpose {
                tolerate_bad_config,
                default_host_from_config: true,
            },
        )
    }

    /// Resolves the settings for `purpose`.
    pub fn resolve_for(
        globals: &GlobalArgs,
        env: &dyn Fn(&str) -> Option<String>,
        purpose: Purpose,
    ) -> Result<Settings, CliError> {
        let Purpose {
            tolerate_bad_config,
            default_host_from_config,
        } = purpose;
        let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let store = ConfigStore::locate(non_empty(ENV_CONFIG_DIR).as_deref())?;
        let mut warnings = Vec::new();
        let config = match store.load() {
            Ok((config, found)) => {
                warnings.extend(found);
                config
            }
            Err(CliError::Config(message)) if tolerate_bad_config => {
                warnings.push(message);
                ConfigFile::default()
            }
            Err(err) => return Err(err),
        };

        let (base_url, base_url_source) = if let Some(url) = &globals.base_url {
            (url.clone(), Source::Flag("--base-url"))
        } else if let Some(url) = non_empty(ENV_BASE_URL) {
            (url, Source::Env(ENV_BASE_URL))
        } else if let Some(url) = config
            .base_url
            .as_ref()
            .filter(|_| default_host_from_config)
        {
            (url.clone(), Source::ConfigFile(store.path()))
        } else {
            (heldqr_sdk::DEFAULT_BASE_URL.to_string(), Source::Default)
        };
        let base_url = validate_base_url(&base_url)?;

        let token = if let Some(token) = &globals.token {
            let token = token.clone();
            if token.is_empty() {
                return Err(CliError::Usage("--token is empty".into()));
            }
            Some((token, Source::Flag("--token")))
        } else if let Some(token) = non_empty(ENV_TOKEN) {
            Some((Token::new(token), Source::Env(ENV_TOKEN)))
        } else {
            config
                .token_for(&base_url)
                .filter(|t| !t.is_empty())
                .map(|t| (t.clone(), Source::ConfigFile(store.path())))
        };

        Ok(Settings {
            base_url,
            base_url_source,
            token,
            timeout: globals.timeout,
            store,
            config,
            warnings,
            state_dir_override: non_empty(crate::ledger::ENV_STATE_DIR),
            verbosity: Verbosity::resolve(globals.verbose, env(ENV_DEBUG).as_deref()),
        })
    }

    /// The token, or the "no token" error (exit 3) telling how to get one, and naming the
    /// hosts that do have a stored token (which is never sent here).
    pub fn require_token(&self) -> Result<&Token, CliError> {
        self.token
            .as_ref()
            .map(|(token, _)| token)
            .ok_or_else(|| CliError::NoToken {
                base_url: self.base_url.clone(),
                local_host: is_local_host(&self.base_url),
                other_hosts: self
                    .config
                    .hosts()
                    .map(|(url, _)| url.to_string())
                    .collect(),
            })
    }

    /// The SDK client for the resolved host and token: the one client every command uses
    /// (an import too, with per-request options for each row).
    pub fn client(&self) -> Result<Client, CliError> {
        let token = self.require_token()?;
        self.client_for_token(token, |builder| builder)
    }

    /// An SDK client using `token` (for `auth login`, which checks a token not yet stored). At
    /// `-vv` it opts in to the SDK's header and body logging (token masked).
    pub fn client_for_token(
        &self,
        token: &Token,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Client, CliError> {
        let mut builder = Client::builder()
            .token(token.expose())
            .base_url(self.base_url.as_str())
            .user_agent(concat!("heldqr-cli/", env!("CARGO_PKG_VERSION")))
            .log_bodies(self.verbosity.bodies())
            // Wait for the rate-limit budget instead of spending a request on a 429 (an import
            // of more rows than the limit slides with the window; one command rarely waits).
            .pace_rate_limit(true);
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        configure(builder).build().map_err(CliError::from)
    }
}

/// What a command needs from [`Settings::resolve_for`].
#[derive(Debug, Clone, Copy)]
pub struct Purpose {
    /// A corrupt config file becomes a warning and an empty config (for the commands that
    /// rewrite it).
    pub tolerate_bad_config: bool,
    /// Without `--base-url` and `HELDQR_BASE_URL`, use the config file's default host. False
    /// for `auth login`, which targets the production host unless told otherwise: a login
    /// never lands under the host of the previous one.
    pub default_host_from_config: bool,
}

impl Purpose {
    /// A plain command.
    pub const COMMAND: Purpose = Purpose {
        tolerate_bad_config: false,
        default_host_from_config: true,
    };
}

/// Checks the URL with the SDK's own rule (what `ClientBuilder::build` accepts: an absolute
/// `http(s)` URL with a host, no credentials, query or fragment) and returns the form it is
/// stored and shown in. A URL without a scheme gets a `did you mean` with the likely one.
pub fn validate_base_url(url: &str) -> Result<String, CliError> {
    heldqr_sdk::validate_base_url(url).map_err(|err| {
        let message = match err {
            heldqr_sdk::Error::Config(message) => message,
            other => other.to_string(),
        };
        match suggest_scheme(url) {
            Some(suggestion) => CliError::Usage(format!("{message}; did you mean {suggestion}?")),
            None => CliError::Usage(message),
        }
    })?;
    Ok(normalize_base_url(url))
}

/// `127.0.0.1:8080` → `http://127.0.0.1:8080`, `api.heldqr.com` → `https://api.heldqr.com`:
/// the URL with the scheme it most likely lacks (http for this machine, https elsewhere), or
/// None when it has a scheme or is not a host.
fn suggest_scheme(url: &str) -> Option<String> {
    let url = normalize_base_url(url);
    if url.is_empty()
        || url.contains("://")
        || url.starts_with('/')
        || url.contains(char::is_whitespace)
    {
        return None;
    }
    let scheme = if is_local_host(&format!("http://{url}")) {
        "http"
    } else {
        "https"
    };
    let candidate = format!("{scheme}://{url}");
    heldqr_sdk::validate_base_url(&candidate)
        .is_ok()
        .then_some(candidate)
}

/// Whether `base_url` (`http://` or `https://`) points at this machine: `localhost` or a
/// loopback address.
pub fn is_local_host(base_url: &str) -> bool {
    let rest = base_url
        .strip_prefix("http://")
        .or_else(|| base_url.strip_prefix("https://"))
        .unwrap_or(base_url);
    let host_port = rest.split('/').next().unwrap_or(rest);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
        vars: HashMap<&'static str, String>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut vars = HashMap::new();
            vars.insert(ENV_CONFIG_DIR, dir.path().to_string_lossy().into_owned());
            Fixture { dir, vars }
        }

        fn store(&self) -> ConfigStore {
            ConfigStore::new(self.dir.path())
        }

        fn resolve(&self, globals: &GlobalArgs) -> Result<Settings, CliError> {
            let vars = self.vars.clone();
            Settings::resolve(globals, &move |k| vars.get(k).cloned(), false)
        }
    }

    fn globals(token: Option<&str>, base_url: Option<&str>) -> GlobalArgs {
        GlobalArgs {
            token: token.map(Token::new),
            base_url: base_url.map(String::from),
            ..GlobalArgs::default()
        }
    }

    #[test]
    fn defaults_without_anything() {
        let fx = Fixture::new();
        let settings = fx.resolve(&globals(None, None)).unwrap();
        assert_eq!(settings.base_url, heldqr_sdk::DEFAULT_BASE_URL);
        assert_eq!(settings.base_url_source, Source::Default);
        assert!(settings.token.is_none());
        assert!(matches!(
            settings.require_token(),
            Err(CliError::NoToken { .. })
        ));
    }

    #[test]
    fn flag_beats_env_beats_config() {
        let mut fx = Fixture::new();
        let mut config = ConfigFile::default();
        config.set_token("http://127.0.0.1:1", Token::new("from_config"));
        fx.store().save(&config).unwrap();

        let settings = fx.resolve(&globals(None, None)).unwrap();
        assert_eq!(settings.base_url, "http://127.0.0.1:1");
        assert!(matches!(settings.base_url_source, Source::ConfigFile(_)));
        let (token, source) = settings.token.unwrap();
        assert_eq!(token.expose(), "from_config");
        assert!(matches!(source, Source::ConfigFile(_)));

        fx.vars.insert(ENV_TOKEN, "from_env".into());
        fx.vars.insert(ENV_BASE_URL, "http://127.0.0.1:2/".into());
        let settings = fx.resolve(&globals(None, None)).unwrap();
        assert_eq!(settings.base_url, "http://127.0.0.1:2");
        assert_eq!(settings.base_url_source, Source::Env(ENV_BASE_URL));
        assert_eq!(settings.token.unwrap().0.expose(), "from_env");

        let settings = fx
            .resolve(&globals(Some("from_flag"), Some("http://127.0.0.1:3")))
            .unwrap();
        assert_eq!(settings.base_url, "http://127.0.0.1:3");
        assert_eq!(settings.token.unwrap().1, Source::Flag("--token"));
    }

    #[test]
    fn stored_token_is_only_sent_to_its_host() {
        let fx = Fixture::new();
        let mut config = ConfigFile::default();
        config.set_token("http://127.0.0.1:1", Token::new("secret"));
        fx.store().save(&config).unwrap();
        let settings = fx
            .resolve(&globals(None, Some("http://127.0.0.1:9")))
            .unwrap();
        assert!(settings.token.is_none());
    }

    #[test]
    fn empty_env_values_are_unset() {
        let mut fx = Fixture::new();
        fx.vars.insert(ENV_TOKEN, "".into());
        fx.vars.insert(ENV_BASE_URL, " ".into());
        let settings = fx.resolve(&globals(None, None)).unwrap();
        assert!(settings.token.is_none());
        assert_eq!(settings.base_url_source, Source::Default);
    }

    #[test]
    fn bad_base_urls_are_usage_errors() {
        let fx = Fixture::new();
        for bad in [
            "ftp://x",
            "127.0.0.1:8080",
            "http://",
            "https:///x",
            // Accepted by the CLI's old, weaker check; the SDK would refuse them at build time.
            "https://user:pw@api.heldqr.com",
            "https://api.heldqr.com/?q=1",
            "https://api.heldqr.com/#top",
            "http://[::1",
            "http://exa mple.com",
        ] {
            assert!(
                matches!(
                    fx.resolve(&globals(None, Some(bad))),
                    Err(CliError::Usage(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            fx.resolve(&globals(Some("  "), None)),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn corrupt_config_is_fatal_unless_tolerated() {
        let fx = Fixture::new();
        std::fs::write(fx.store().path(), "nope").unwrap();
        assert!(matches!(
            fx.resolve(&globals(None, None)),
            Err(CliError::Config(_))
        ));
        let vars = fx.vars.clone();
        let settings =
            Settings::resolve(&globals(None, None), &move |k| vars.get(k).cloned(), true).unwrap();
        assert_eq!(settings.warnings.len(), 1);
    }

    #[test]
    fn a_url_without_a_scheme_gets_a_did_you_mean() {
        let fx = Fixture::new();
        for (bad, suggestion) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("localhost:8080/", "http://localhost:8080"),
            ("api.heldqr.com", "https://api.heldqr.com"),
        ] {
            match fx.resolve(&globals(None, Some(bad))) {
                Err(CliError::Usage(message)) => assert!(
                    message.ends_with(&format!("did you mean {suggestion}?")),
                    "{message}"
                ),
                other => panic!("{bad}: {other:?}"),
            }
        }
        match fx.resolve(&globals(None, Some("ftp://x.example"))) {
            Err(CliError::Usage(message)) => {
                assert!(!message.contains("did you mean"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn login_never_targets_the_last_host() {
        let fx = Fixture::new();
        let mut config = ConfigFile::default();
        config.set_token("http://127.0.0.1:8080", Token::new("hkr_test_pro"));
        fx.store().save(&config).unwrap();
        let vars = fx.vars.clone();
        let login = Settings::resolve_for(
            &globals(None, None),
            &move |k| vars.get(k).cloned(),
            Purpose {
                tolerate_bad_config: true,
                default_host_from_config: false,
            },
        )
        .unwrap();
        assert_eq!(login.base_url, heldqr_sdk::DEFAULT_BASE_URL);
        assert!(login.token.is_none());
        // Plain commands still use the default host.
        let plain = fx.resolve(&globals(None, None)).unwrap();
        assert_eq!(plain.base_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn localhost_and_loopback_share_a_stored_token() {
        let fx = Fixture::new();
        let mut config = ConfigFile::default();
        config.set_token("http://localhost:8080", Token::new("hkr_test_pro"));
        fx.store().save(&config).unwrap();
        let settings = fx
            .resolve(&globals(None, Some("http://127.0.0.1:8080")))
            .unwrap();
        assert_eq!(settings.token.unwrap().0.expose(), "hkr_test_pro");
        let other_port = fx
            .resolve(&globals(None, Some("http://127.0.0.1:8081")))
            .unwrap();
        match other_port.require_token() {
            Err(CliError::NoToken { other_hosts, .. }) => {
                assert_eq!(other_hosts, ["http://localhost:8080"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
