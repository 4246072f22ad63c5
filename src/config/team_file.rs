//! Team files: TOML with `[defaults]`, `[supervisor]` and `[[agent]]` tables, resolved into a
//! [`Team`]. Every mistake names the file, the line, the table and the key.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Layers, LiveLimits, SupervisorConfig, Team, TeamAgent, WorktreeSettings};
use crate::agent::{AgentOptions, AgentSpec, Billing, PermissionMode};
use crate::limits::governor::Policy;

/// Declares a file table that holds every agent option (flattening does not work with
/// `deny_unknown_fields`, so the option keys are spelled out once here).
macro_rules! options_table {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $name {
            $($(#[$fmeta])* $field: $ty,)*
            model: Option<String>,
            fallback_model: Option<String>,
            permission_mode: Option<PermissionMode>,
            allowed_tools: Option<Vec<String>>,
            disallowed_tools: Option<Vec<String>>,
            max_turns: Option<u32>,
            max_budget_usd: Option<Spanned<f64>>,
            append_system_prompt: Option<String>,
            system_prompt: Option<String>,
            add_dirs: Option<Vec<Spanned<PathBuf>>>,
            mcp_config: Option<String>,
            settings: Option<String>,
            include_partial_messages: Option<bool>,
            env: Option<BTreeMap<Spanned<String>, String>>,
            billing: Option<Billing>,
            approvals: Option<bool>,
            nice: Option<Spanned<i64>>,
            priority: Option<Spanned<i64>>,
            engine: Option<crate::agent::spec::Engine>,
        }

        impl $name {
            /// The options of this table, paths resolved against `cx.base_dir`.
            pub(super) fn options(&self, cx: &Source<'_>, table: &str) -> Result<AgentOptions, ConfigError> {
                if let Some(budget) = &self.max_budget_usd {
                    if !(budget.get_ref().is_finite() && *budget.get_ref() > 0.0) {
                        return Err(cx.error_at(budget.span(), table, Some("max_budget_usd"),
                            "expected a positive number of US dollars".into()));
                    }
                }
                if let Some(nice) = &self.nice {
                    if !(0..=i64::from(AgentOptions::MAX_NICE)).contains(nice.get_ref()) {
                        return Err(cx.error_at(nice.span(), table, Some("nice"),
                            format!("expected a whole number from 0 (the UI's own priority) to {} \
                                (the lowest), found {}", AgentOptions::MAX_NICE, nice.get_ref())));
                    }
                }
                if let Some(p) = &self.priority {
                    if i32::try_from(*p.get_ref()).is_err() {
                        return Err(cx.error_at(p.span(), table, Some("priority"),
                            format!("expected a whole number (higher is held later), found {}", p.get_ref())));
                    }
                }
                if let Some(env) = &self.env {
                    for key in env.keys() {
                        if let Some(why) = forbidden_env(key.get_ref()) {
                            return Err(cx.error_at(key.span(), table, Some("env"),
                                format!("`{}` may not be set: {why}", key.get_ref())));
                        }
                    }
                }
                Ok(AgentOptions {
                    model: self.model.clone(),
                    fallback_model: self.fallback_model.clone(),
                    permission_mode: self.permission_mode,
                    allowed_tools: self.allowed_tools.clone(),
                    disallowed_tools: self.disallowed_tools.clone(),
                    max_turns: self.max_turns,
                    max_budget_usd: self.max_budget_usd.as_ref().map(|b| *b.get_ref()),
                    append_system_prompt: self.append_system_prompt.clone(),
                    system_prompt: self.system_prompt.clone(),
                    add_dirs: match &self.add_dirs {
                        None => None,
                        Some(dirs) => Some(dirs.iter()
                            .map(|d| cx.existing_dir(d, table, "add_dirs"))
                            .collect::<Result<Vec<_>, _>>()?),
                    },
                    mcp_config: self.mcp_config.as_deref().map(|s| cx.path_or_json(s)),
                    settings: self.settings.as_deref().map(|s| cx.path_or_json(s)),
                    include_partial_messages: self.include_partial_messages,
                    env: self.env.as_ref().map(|env| {
                        env.iter().map(|(k, v)| (k.get_ref().clone(), v.clone())).collect()
                    }),
                    billing: self.billing,
                    approvals: self.approvals,
                    engine: self.engine,
                    nice: self.nice.as_ref().and_then(|n| u8::try_from(*n.get_ref()).ok()),
                    priority: self.priority.as_ref().and_then(|p| i32::try_from(*p.get_ref()).ok()),
                })
            }
        }
    };
}

options_table!(
    /// `[defaults]` (team files) and the user settings' `[defaults]`.
    DefaultsTable {}
);

options_table!(
    /// One `[[agent]]` entry.
    AgentTable {
        name: Option<Spanned<String>>,
        role: Option<String>,
        cwd: Option<Spanned<PathBuf>>,
        prompt: Option<String>,
        #[serde(default)]
        worktree: bool,
        count: Option<Spanned<i64>>,
    }
);

/// The most agents one `[[agent]]` table may make with `count`: more is surely a typo.
pub const MAX_COUNT: i64 = 256;

/// The names one `[[agent]]` table makes: its name, or `name-1` ... `name-N` with `count = N`.
pub fn counted_names(name: &str, count: Option<u32>) -> Vec<String> {
    match count {
        None => vec![name.to_string()],
        Some(n) => (1..=n).map(|i| format!("{name}-{i}")).collect(),
    }
}

options_table!(
    /// `[supervisor]`: an agent's keys plus the relay guard rails.
    SupervisorTable {
        name: Option<Spanned<String>>,
        role: Option<String>,
        cwd: Option<Spanned<PathBuf>>,
        prompt: Option<String>,
        max_relay_depth: Option<u32>,
        max_relays_per_minute: Option<u32>,
        team_budget_usd: Option<Spanned<f64>>,
        report_chars: Option<usize>,
        relay_batch_seconds: Option<Spanned<u64>>,
    }
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamFile {
    /// `approvals = false`: no agent asks the user (the same as `approvals = false` in
    /// `[defaults]`).
    approvals: Option<bool>,
    defaults: Option<DefaultsTable>,
    supervisor: Option<Spanned<SupervisorTable>>,
    #[serde(default)]
    agent: Vec<Spanned<AgentTable>>,
    worktree: Option<WorktreeTable>,
    idle_timeout: Option<Spanned<toml::Value>>,
    max_live: Option<Spanned<i64>>,
    limits: Option<LimitsTable>,
}

/// `[limits]`: `pause_at = 90` holds new turns once a usage window is 90% used.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsTable {
    pause_at: Option<Spanned<i64>>,
}

impl LimitsTable {
    pub(super) fn policy(&self, cx: &Source<'_>) -> Result<Policy, ConfigError> {
        let Some(p) = &self.pause_at else { return Ok(Policy::default()) };
        match u32::try_from(*p.get_ref()).ok().filter(|p| (1..=100).contains(p)) {
            Some(pause_at) => Ok(Policy { pause_at: Some(pause_at) }),
            None => Err(cx.error_at(
                p.span(),
                "[limits]",
                Some("pause_at"),
                format!("expected a percentage from 1 to 100, found {}", p.get_ref()),
            )),
        }
    }
}

/// `idle_timeout = 10` (minutes) or `"90s"`, `"10m"`, `"1h"`, and `max_live = 16`: the live
/// process limits, at the top of a team file or the user's settings.
pub(super) fn live_limits(
    cx: &Source<'_>,
    idle_timeout: Option<&Spanned<toml::Value>>,
    max_live: Option<&Spanned<i64>>,
) -> Result<LiveLimits, ConfigError> {
    let idle_timeout = match idle_timeout {
        None => None,
        Some(v) => Some(idle_duration(v.get_ref()).ok_or_else(|| {
            cx.error_at(
                v.span(),
                "",
                Some("idle_timeout"),
                format!(
                    "expected a number of minutes or a duration such as \"90s\", \"10m\" or \"1h\" \
                     (more than 0, at most 24 hours), found {}",
                    v.get_ref()
                ),
            )
        })?),
    };
    let max_live = match max_live {
        None => None,
        Some(n) => Some(
            usize::try_from(*n.get_ref())
                .ok()
                .filter(|n| (1..=LiveLimits::MAX_LIVE).contains(n))
                .ok_or_else(|| {
                cx.error_at(
                    n.span(),
                    "",
                    Some("max_live"),
                    format!(
                        "expected a whole number of live processes from 1 to {}, found {}",
                        LiveLimits::MAX_LIVE,
                        n.get_ref()
                    ),
                )
            })?,
        ),
    };
    Ok(LiveLimits { idle_timeout, max_live })
}

/// A whole number of minutes, or a whole number with the unit `s`, `m` or `h`; more than
/// nothing and at most [`LiveLimits::MAX_IDLE_TIMEOUT`].
fn idle_duration(value: &toml::Value) -> Option<std::time::Duration> {
    let secs = match value {
        toml::Value::Integer(minutes) => u64::try_from(*minutes).ok()?.checked_mul(60)?,
        toml::Value::String(text) => {
            let text = text.trim();
            let unit = text.chars().last()?;
            let per = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => return None,
            };
            let digits = &text[..text.len() - unit.len_utf8()];
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            digits.parse::<u64>().ok()?.checked_mul(per)?
        }
        _ => return None,
    };
    let d = std::time::Duration::from_secs(secs);
    (secs > 0 && d <= LiveLimits::MAX_IDLE_TIMEOUT).then_some(d)
}

/// `[worktree]`: setup commands and the directory for agents' worktrees.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorktreeTable {
    #[serde(default)]
    setup: Vec<Vec<String>>,
    dir: Option<PathBuf>,
}

/// Environment variables a team may not set: they change what code runs in the child.
pub fn forbidden_env(name: &str) -> Option<&'static str> {
    crate::agent::env::forbidden_reason(name)
}

/// The text being loaded, for messages that point into it.
pub(super) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub base_dir: &'a Path,
}

impl Source<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    pub(super) fn error_at(
        &self,
        span: Range<usize>,
        table: &str,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        let (line, column) = self.line_col(span.start);
        let mut text = String::new();
        if !table.is_empty() {
            text.push_str(table);
            text.push_str(": ");
        }
        if let Some(key) = key {
            text.push_str(&format!("key `{key}`: "));
        }
        text.push_str(&message);
        ConfigError::Invalid { file: self.file.to_path_buf(), line, column, message: text }
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    fn existing_dir(
        &self,
        dir: &Spanned<PathBuf>,
        table: &str,
        key: &str,
    ) -> Result<PathBuf, ConfigError> {
        let path = self.resolve(dir.get_ref());
        if path.is_dir() {
            Ok(std::fs::canonicalize(&path).unwrap_or(path))
        } else {
            let what = if path.exists() { "is not a directory" } else { "does not exist" };
            Err(self.error_at(
                dir.span(),
                table,
                Some(key),
                format!(
                    "directory `{}` {what} (expected a directory, relative to the team file: {})",
                    dir.get_ref().display(),
                    path.display()
                ),
            ))
        }
    }

    /// `mcp_config` / `settings`: JSON text stays as is, a relative path is taken from the file.
    fn path_or_json(&self, s: &str) -> String {
        if s.trim_start().starts_with('{') {
            s.to_string()
        } else {
            self.resolve(Path::new(s)).to_string_lossy().into_owned()
        }
    }

    /// Turns a serde error from the `toml` crate into a message naming line, table and key.
    pub(super) fn toml_error(&self, err: &toml::de::Error) -> ConfigError {
        let span = err.span().unwrap_or(0..0);
        let table = self.table_at(span.start);
        let (key, message) = explain(err.message(), self.key_at(span.start));
        self.error_at(span, &table, key.as_deref(), message)
    }

    /// The table header governing `offset`, e.g. `[[agent]] #2 ("backend")` or `[defaults]`.
    fn table_at(&self, offset: usize) -> String {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let current = self.text[line_start..].lines().next().unwrap_or("").trim_start();
        let header = if current.starts_with('[') {
            // The error is in a header itself: it belongs to the header's parent table.
            let name: String =
                current.chars().filter(|c| !c.is_whitespace() && *c != '[').collect();
            match name.split_once('.') {
                None => return String::new(),
                Some(("agent", _)) => "[[agent]]".to_string(),
                Some((parent, _)) => format!("[{parent}]"),
            }
        } else {
            let mut header = None;
            for line in before.lines().rev() {
                let t = line.trim_start();
                if t.starts_with('[') {
                    header = Some(t.split('#').next().unwrap_or(t).trim().to_string());
                    break;
                }
            }
            match header {
                Some(h) => h,
                None => return String::new(),
            }
        };
        let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.starts_with("[[agent]]") || compact.starts_with("[agent.") {
            let index = before
                .lines()
                .filter(|l| {
                    l.chars().filter(|c| !c.is_whitespace()).collect::<String>() == "[[agent]]"
                })
                .count();
            let name = toml::from_str::<toml::Table>(self.text).ok().and_then(|t| {
                t.get("agent")?
                    .as_array()?
                    .get(index.checked_sub(1)?)?
                    .get("name")?
                    .as_str()
                    .map(str::to_string)
            });
            match name {
                Some(name) => format!("[[agent]] #{index} \"{name}\""),
                None => format!("[[agent]] #{index}"),
            }
        } else {
            header
        }
    }

    /// The key whose `key = value` line holds `offset` (or the nearest such line above it).
    fn key_at(&self, offset: usize) -> Option<String> {
        let upto = self.text.get(..offset).unwrap_or(self.text);
        let line_start = upto.rfind('\n').map_or(0, |i| i + 1);
        let line_end =
            self.text[line_start..].find('\n').map_or(self.text.len(), |i| line_start + i);
        let current = &self.text[line_start..line_end];
        let lines = std::iter::once(current).chain(self.text[..line_start].lines().rev());
        for line in lines {
            let t = line.trim_start();
            if t.starts_with('[') && !t.starts_with("[[") && t.ends_with(']') && !t.contains('=') {
                return None;
            }
            if t.starts_with("[[") {
                return None;
            }
            if let Some((k, _)) = t.split_once('=') {
                let k = k.trim().trim_matches('"');
                if !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                {
                    return Some(k.to_string());
                }
            }
        }
        None
    }
}

/// Rewords serde's messages for people who write TOML, not Rust.
fn explain(message: &str, key_on_line: Option<String>) -> (Option<String>, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let expected = expected.trim_start_matches(", ");
            let expected = expected
                .strip_prefix("expected one of ")
                .or_else(|| expected.strip_prefix("expected "))
                .unwrap_or(expected)
                .replace('`', "");
            return (None, format!("unknown key `{field}`; expected one of: {expected}"));
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (None, format!("missing key `{field}`"));
    }
    // toml puts what it expected on a second line ("invalid table header\nexpected `.`, `]]`"):
    // an error is one line.
    let mut m = message.trim().lines().map(str::trim).collect::<Vec<_>>().join("; ");
    for (rust, human) in [
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected a string", "expected a string"),
    ] {
        if m.ends_with(rust) {
            m.truncate(m.len() - rust.len());
            m.push_str(human);
        }
    }
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        // "invalid type: string \"five\", expected a whole number" -> "expected ..., found ..."
        if let Some((found, expected)) = rest.split_once(", expected ") {
            m = format!("expected {expected}, found {found}");
        }
    }
    if let Some(rest) = m.strip_prefix("unknown variant `") {
        if let Some((v, expected)) = rest.split_once('`') {
            let expected = expected
                .trim_start_matches(", ")
                .trim_start_matches("expected one of ")
                .trim_start_matches("expected ")
                .replace('`', "\"");
            let one_of = if expected.contains(", ") { "one of: " } else { "" };
            m = format!("unknown value \"{v}\"; expected {one_of}{expected}");
        }
    }
    (key_on_line, m)
}

/// The longest agent name (it names directories, branches and log files).
const MAX_NAME_LEN: usize = crate::agent::name::MAX_LEN;

/// The one name rule (`agent::name`), with where the name is written.
fn check_name(cx: &Source<'_>, name: &Spanned<String>, table: &str) -> Result<(), ConfigError> {
    let n = name.get_ref();
    crate::agent::name::check(n).map_err(|why| {
        cx.error_at(
            name.span(),
            table,
            Some("name"),
            format!("{:?} is not a usable name: {why}; expected {}", n, crate::agent::name::RULE),
        )
    })
}

/// `count`: absent, or a whole number from 1 to [`MAX_COUNT`].
fn check_count(
    cx: &Source<'_>,
    count: Option<&Spanned<i64>>,
    name: &Spanned<String>,
    table: &str,
) -> Result<Option<u32>, ConfigError> {
    let Some(count) = count else { return Ok(None) };
    let n = *count.get_ref();
    let usable = (1..=MAX_COUNT).contains(&n);
    let longest = counted_names(name.get_ref(), Some(u32::try_from(n).unwrap_or(1))).pop();
    match (usable, longest) {
        (true, Some(longest)) if longest.len() > MAX_NAME_LEN => Err(cx.error_at(
            name.span(),
            table,
            Some("name"),
            format!(
                "\"{longest}\" (made by `count = {n}`) is longer than {MAX_NAME_LEN} characters; \
                 expected a shorter name"
            ),
        )),
        (true, _) => Ok(u32::try_from(n).ok()),
        (false, _) => Err(cx.error_at(
            count.span(),
            table,
            Some("count"),
            format!(
                "expected a whole number from 1 to {MAX_COUNT} (how many agents this table makes, \
                 named {}-1, {}-2, ...), found {n}",
                name.get_ref(),
                name.get_ref()
            ),
        )),
    }
}

/// The agent names taken so far, each with where it was written and whether `count` made it.
/// Keyed in lower case: names that differ only in case are one (see `agent::name::same`).
#[derive(Default)]
struct Names(HashMap<String, Taken>);

struct Taken {
    /// As written.
    name: String,
    span: Range<usize>,
    counted: bool,
}

impl Names {
    fn get(&self, name: &str) -> Option<&Taken> {
        self.0.get(&name.to_ascii_lowercase())
    }

    /// Takes `made` (written as `written`), or says which earlier table already has it.
    fn add(
        &mut self,
        cx: &Source<'_>,
        made: &str,
        written: &Spanned<String>,
        counted: bool,
        table: &str,
    ) -> Result<(), ConfigError> {
        if let Some(first) = self.get(made) {
            let (line, _) = cx.line_col(first.span.start);
            let alike = if first.name == made {
                String::new()
            } else {
                format!(
                    ", written \"{}\" there: names that differ only in case are one",
                    first.name
                )
            };
            let how = match (first.counted, counted) {
                (false, false) => format!("first used on line {line}"),
                (true, _) => format!("already made by the `count` of the agent on line {line}"),
                (false, true) => {
                    format!(
                        "this table's `count` makes it, and the agent on line {line} is so named"
                    )
                }
            };
            return Err(cx.error_at(
                written.span(),
                table,
                Some("name"),
                format!(
                    "duplicate agent name \"{made}\" ({how}{alike}); expected names to be unique"
                ),
            ));
        }
        let taken = Taken { name: made.to_string(), span: written.span(), counted };
        self.0.insert(made.to_ascii_lowercase(), taken);
        Ok(())
    }
}

/// Parses and resolves a team file's text. `file` is used in messages; relative paths are
/// taken from `base_dir`.
pub(super) fn parse(cx: &Source<'_>, layers: &Layers) -> Result<Team, ConfigError> {
    let raw: TeamFile = toml::from_str(cx.text).map_err(|e| cx.toml_error(&e))?;

    let mut team_defaults = match &raw.defaults {
        Some(d) => d.options(cx, "[defaults]")?,
        None => AgentOptions::default(),
    };
    team_defaults.approvals = team_defaults.approvals.or(raw.approvals);
    let defaults = team_defaults.over(&layers.user);
    let resolved_defaults = layers.command_line.over(&defaults);

    let mut seen = Names::default();
    let mut agents = Vec::with_capacity(raw.agent.len());
    for (i, entry) in raw.agent.iter().enumerate() {
        agents.extend(agent_entries(cx, entry, i, layers, &defaults, &mut seen)?);
    }
    let supervisor = match &raw.supervisor {
        None => None,
        Some(sup) => Some(supervisor(cx, sup, &seen, layers, &defaults)?),
    };
    let worktree = match &raw.worktree {
        None => WorktreeSettings::default(),
        Some(w) => WorktreeSettings {
            setup: w.setup.iter().filter(|argv| !argv.is_empty()).cloned().collect(),
            dir: w.dir.as_ref().map(|d| cx.base_dir.join(d)),
        },
    };
    let live = live_limits(cx, raw.idle_timeout.as_ref(), raw.max_live.as_ref())?;
    let limits = raw.limits.as_ref().map(|l| l.policy(cx)).transpose()?.unwrap_or_default();
    Ok(Team { path: None, defaults: resolved_defaults, supervisor, agents, worktree, live, limits })
}

/// The agents one `[[agent]]` table makes (several with `count`), each name checked against
/// the ones before it.
fn agent_entries(
    cx: &Source<'_>,
    entry: &Spanned<AgentTable>,
    index: usize,
    layers: &Layers,
    defaults: &AgentOptions,
    seen: &mut Names,
) -> Result<Vec<TeamAgent>, ConfigError> {
    let a = entry.get_ref();
    let table = match &a.name {
        Some(n) => format!("[[agent]] #{} \"{}\"", index + 1, n.get_ref()),
        None => format!("[[agent]] #{}", index + 1),
    };
    let Some(name) = &a.name else {
        return Err(cx.error_at(
            entry.span(),
            &table,
            None,
            "missing key `name` (every agent needs a name)".into(),
        ));
    };
    check_name(cx, name, &table)?;
    let count = check_count(cx, a.count.as_ref(), name, &table)?;
    let cwd = match &a.cwd {
        Some(dir) => cx.existing_dir(dir, &table, "cwd")?,
        None => cx.base_dir.to_path_buf(),
    };
    let options = layers.command_line.over(&a.options(cx, &table)?.over(defaults));
    let mut made = Vec::new();
    for made_name in counted_names(name.get_ref(), count) {
        seen.add(cx, &made_name, name, count.is_some(), &table)?;
        made.push(TeamAgent {
            spec: AgentSpec {
                name: made_name,
                role: a.role.clone(),
                cwd: cwd.clone(),
                options: options.clone(),
            },
            prompt: a.prompt.clone(),
            worktree: a.worktree,
        });
    }
    Ok(made)
}

/// The `[supervisor]` table, after the agents (its name must differ from theirs).
fn supervisor(
    cx: &Source<'_>,
    sup: &Spanned<SupervisorTable>,
    seen: &Names,
    layers: &Layers,
    defaults: &AgentOptions,
) -> Result<SupervisorConfig, ConfigError> {
    let table = "[supervisor]";
    let s = sup.get_ref();
    let name = supervisor_name(cx, sup, seen)?;
    if let Some(b) = &s.team_budget_usd {
        if !(b.get_ref().is_finite() && *b.get_ref() > 0.0) {
            return Err(cx.error_at(
                b.span(),
                table,
                Some("team_budget_usd"),
                "expected a positive number of US dollars".into(),
            ));
        }
    }
    let relay_batch_ms = match &s.relay_batch_seconds {
        Some(secs) if *secs.get_ref() > SupervisorConfig::MAX_RELAY_BATCH_SECONDS => {
            return Err(cx.error_at(
                secs.span(),
                table,
                Some("relay_batch_seconds"),
                format!(
                    "expected at most {} seconds (0 relays each report at once)",
                    SupervisorConfig::MAX_RELAY_BATCH_SECONDS
                ),
            ));
        }
        Some(secs) => secs.get_ref() * 1000,
        None => SupervisorConfig::DEFAULT_RELAY_BATCH_MS,
    };
    let cwd = match &s.cwd {
        Some(dir) => cx.existing_dir(dir, table, "cwd")?,
        None => cx.base_dir.to_path_buf(),
    };
    let options = layers.command_line.over(&s.options(cx, table)?.over(defaults));
    Ok(SupervisorConfig {
        spec: AgentSpec { name, role: s.role.clone(), cwd, options },
        prompt: s.prompt.clone(),
        max_relay_depth: s.max_relay_depth.unwrap_or(SupervisorConfig::DEFAULT_MAX_RELAY_DEPTH),
        max_relays_per_minute: s
            .max_relays_per_minute
            .unwrap_or(SupervisorConfig::DEFAULT_MAX_RELAYS_PER_MINUTE),
        team_budget_usd: s.team_budget_usd.as_ref().map(|b| *b.get_ref()),
        report_chars: s.report_chars.unwrap_or(SupervisorConfig::DEFAULT_REPORT_CHARS),
        relay_batch_ms,
    })
}

/// The supervisor's name: its own `name` (which no agent may have), or the default one, which
/// then must not be an agent's.
fn supervisor_name(
    cx: &Source<'_>,
    sup: &Spanned<SupervisorTable>,
    seen: &Names,
) -> Result<String, ConfigError> {
    let table = "[supervisor]";
    let Some(n) = &sup.get_ref().name else {
        let name = SupervisorConfig::DEFAULT_NAME;
        if seen.get(name).is_some() {
            return Err(cx.error_at(
                sup.span(),
                table,
                None,
                format!(
                    "an agent is named \"{name}\", the supervisor's default name; give the \
                     supervisor another `name`"
                ),
            ));
        }
        return Ok(name.to_string());
    };
    check_name(cx, n, table)?;
    if let Some(first) = seen.get(n.get_ref()) {
        let (line, _) = cx.line_col(first.span.start);
        let whose = if first.counted { "made by the `count` of" } else { "the name of" };
        return Err(cx.error_at(
            n.span(),
            table,
            Some("name"),
            format!(
                "\"{}\" is already {whose} the agent on line {line}; expected a name of its own",
                n.get_ref()
            ),
        ));
    }
    Ok(n.get_ref().clone())
}
