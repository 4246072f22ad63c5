//! The user's settings file: `config.toml` in the platform's config directory
//! (`AGENTMUX_CONFIG_DIR` overrides it): personal defaults, the theme and key bindings.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::team_file::{live_limits, DefaultsTable, Source};
use super::{ConfigError, LiveLimits};
use crate::agent::AgentOptions;

/// The user's settings. A missing file is the same as an empty one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The file these came from, when it existed.
    pub path: Option<PathBuf>,
    /// Personal defaults: the lowest layer under a team's `[defaults]`.
    pub defaults: AgentOptions,
    pub theme: Option<String>,
    /// The claude CLI to use when neither `--claude` nor `AGENTMUX_CLAUDE` names one.
    pub claude: Option<PathBuf>,
    /// `[keys]`: action name -> a key string or a list of them, kept raw; the app's keymap
    /// parses it.
    pub keys: toml::Table,
    /// `notify`: how to get the user's attention when an agent needs them, finishes or fails.
    pub notify: Notify,
    /// `idle_timeout` and `max_live` for live processes (a team file's win over these).
    pub live: LiveLimits,
    /// `[limits]` (a team file's `pause_at` wins over this one).
    pub limits: crate::limits::governor::Policy,
}

/// The `notify` setting: nothing (the default), the terminal bell, or a desktop notification
/// sequence (OSC 9 or OSC 777) the terminal turns into a system notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    #[default]
    Off,
    Bell,
    Osc9,
    Osc777,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    defaults: Option<DefaultsTable>,
    theme: Option<String>,
    claude: Option<PathBuf>,
    keys: Option<toml::Table>,
    notify: Option<Notify>,
    idle_timeout: Option<toml::Spanned<toml::Value>>,
    max_live: Option<toml::Spanned<i64>>,
    limits: Option<super::team_file::LimitsTable>,
}

/// The directory holding `config.toml`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AGENTMUX_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "agentmux").map(|p| p.config_dir().to_path_buf())
}

/// Where the user's settings file is (whether or not it exists).
pub fn settings_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

impl Settings {
    /// Loads the user's settings from [`settings_path`]; no file means default settings.
    pub fn load() -> Result<Settings, ConfigError> {
        match settings_path() {
            Some(path) => Settings::load_from(&path),
            None => Ok(Settings::default()),
        }
    }

    pub fn load_from(path: &Path) -> Result<Settings, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(source) => return Err(ConfigError::Read { path: path.to_path_buf(), source }),
        };
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let cx = Source { file: path, text: &text, base_dir };
        Settings::parse(&cx).map(|mut s| {
            s.path = Some(path.to_path_buf());
            s
        })
    }

    /// Parses settings text; `file` is used in messages.
    pub fn parse_str(text: &str, file: &Path) -> Result<Settings, ConfigError> {
        let base_dir = file.parent().unwrap_or(Path::new("."));
        Settings::parse(&Source { file, text, base_dir })
    }

    fn parse(cx: &Source<'_>) -> Result<Settings, ConfigError> {
        let raw: SettingsFile = toml::from_str(cx.text).map_err(|e| cx.toml_error(&e))?;
        let defaults = match &raw.defaults {
            Some(d) => d.options(cx, "[defaults]")?,
            None => AgentOptions::default(),
        };
        if let Some(keys) = &raw.keys {
            check_keys(cx, keys, "")?;
        }
        Ok(Settings {
            path: None,
            defaults,
            theme: raw.theme,
            // `sim` names the simulated claude (see `cli`), not a file beside the settings.
            claude: raw.claude.map(|c| {
                if c.is_relative() && c != Path::new("sim") {
                    cx.base_dir.join(c)
                } else {
                    c
                }
            }),
            keys: raw.keys.unwrap_or_default(),
            notify: raw.notify.unwrap_or_default(),
            live: live_limits(cx, raw.idle_timeout.as_ref(), raw.max_live.as_ref())?,
            limits: raw.limits.as_ref().map(|l| l.policy(cx)).transpose()?.unwrap_or_default(),
        })
    }
}

/// Every binding in `[keys]` is a key string or a list of them. `form.submit = "ctrl-s"`
/// written without quotes is a dotted key, i.e. the nested table `form = { submit = ... }`: it
/// means the same as `"form.submit"` (the keymap flattens it), so nested tables are checked
/// the same way.
fn check_keys(cx: &Source<'_>, keys: &toml::Table, prefix: &str) -> Result<(), ConfigError> {
    for (name, key) in keys {
        let action = format!("{prefix}{name}");
        let keys_ok = match key {
            toml::Value::String(_) => true,
            toml::Value::Array(list) => list.iter().all(toml::Value::is_str),
            toml::Value::Table(inner) => {
                check_keys(cx, inner, &format!("{action}."))?;
                true
            }
            _ => false,
        };
        if !keys_ok {
            let span = find_key_span(cx.text, &action);
            return Err(cx.error_at(
                span,
                "[keys]",
                Some(&action),
                format!(
                    "expected a key such as \"ctrl-q\" or a list of keys, found {}",
                    key.type_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Best effort: where `key =` appears after the `[keys]` header.
fn find_key_span(text: &str, key: &str) -> std::ops::Range<usize> {
    let start = text.find("[keys]").unwrap_or(0);
    let mut offset = start;
    for line in text[start..].split_inclusive('\n') {
        let t = line.trim_start();
        if let Some((k, _)) = t.split_once('=') {
            if k.trim().trim_matches('"') == key {
                let pos = offset + (line.len() - t.len());
                return pos..pos + key.len();
            }
        }
        offset += line.len();
    }
    start..start
}
