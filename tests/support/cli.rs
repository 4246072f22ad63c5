//! Finding the real Claude Code CLI for the tests, the environment that keeps it offline, and a
//! plain PTY runner (for recording fixtures and for probing without the engine).

#![allow(dead_code)] // each test binary uses a different part of the support code

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// The CLI version the real-CLI tests and fixtures were made with.
pub const PINNED_VERSION: &str = "2.1.197";
/// Every version the real-CLI tests pass with: the pinned one and the newest measured (CI runs
/// them with each).
pub const TESTED_VERSIONS: &[&str] = &[PINNED_VERSION, "2.1.332"];

/// Whether we run in CI, where a missing CLI fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Where the real CLI is: `AGENTMUX_TEST_CLAUDE`, else `target/claude-cli` (where `.ci/run`
/// installs it), else `claude` on `PATH`. `None` when there is none.
pub fn find_claude() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("AGENTMUX_TEST_CLAUDE").filter(|v| !v.is_empty()) {
        // An explicit path that is wrong is a mistake to report, not a reason to skip.
        let path = PathBuf::from(explicit);
        assert!(
            is_executable(&path),
            "AGENTMUX_TEST_CLAUDE={} is not an executable file",
            path.display()
        );
        return Some(path);
    }
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/claude-cli/node_modules/.bin/claude");
    if is_executable(&installed) {
        return Some(installed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("claude")).find(|p| is_executable(p))
}

/// The CLI for a real-CLI test, or `None` after printing why the test is skipped.
/// In CI (`CI` set) a missing CLI panics: those tests must run there.
pub fn claude_or_skip(test: &str) -> Option<PathBuf> {
    match find_claude() {
        Some(path) => Some(path),
        None if in_ci() => panic!(
            "{test}: the real claude CLI is required in CI but was not found \
             (AGENTMUX_TEST_CLAUDE, target/claude-cli, PATH); `.ci/run` installs it"
        ),
        None => {
            // Written to the stderr handle, not with eprintln!, so that libtest's capture does
            // not hide it; once per test binary.
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED the real-CLI tests ({test}, ...): no claude CLI found. Set \
                     AGENTMUX_TEST_CLAUDE, or run `npm install --prefix target/claude-cli \
                     @anthropic-ai/claude-code@{PINNED_VERSION}`"
                );
            });
            None
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Environment that points the CLI at the fake API and keeps it off the network and away from
/// the user's own configuration: everything it writes goes under `home`.
pub fn offline_env(base_url: &str, home: &Path) -> Vec<(String, String)> {
    let home = home.display().to_string();
    let vars = [
        ("ANTHROPIC_BASE_URL", base_url.to_string()),
        ("ANTHROPIC_API_KEY", "test".to_string()),
        ("HOME", home.clone()),
        // The CLI keeps scratch files under $TMPDIR/claude-<uid>: in the temp home, gone with it.
        ("TMPDIR", home.clone()),
        ("CLAUDE_CONFIG_DIR", format!("{home}/.claude")),
        ("XDG_CONFIG_HOME", format!("{home}/.config")),
        ("XDG_CACHE_HOME", format!("{home}/.cache")),
        ("XDG_DATA_HOME", format!("{home}/.local/share")),
        ("XDG_STATE_HOME", format!("{home}/.local/state")),
        ("DISABLE_TELEMETRY", "1".to_string()),
        ("DISABLE_ERROR_REPORTING", "1".to_string()),
        ("DISABLE_AUTOUPDATER", "1".to_string()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_string()),
        // A user's cloud-provider switch would route the CLI away from the loopback stand-in.
        ("CLAUDE_CODE_USE_BEDROCK", "0".to_string()),
        ("CLAUDE_CODE_USE_VERTEX", "0".to_string()),
        ("CLAUDE_CODE_USE_FOUNDRY", "0".to_string()),
        ("CLAUDE_CODE_USE_ANTHROPIC_AWS", "0".to_string()),
        // A proxy must not see (or break) loopback traffic.
        ("NO_PROXY", "127.0.0.1,localhost".to_string()),
        ("no_proxy", "127.0.0.1,localhost".to_string()),
        ("TERM", "xterm-256color".to_string()),
    ];
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// [`offline_env`] logged in as a subscriber instead of with an API key: a
/// `home/.claude/.credentials.json` holding a claudeAiOauth access token (good for a day), so
/// the CLI reads the API's `anthropic-ratelimit-unified-*` headers into `rate_limit_event`s.
pub fn subscriber_env(base_url: &str, home: &Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let dir = home.join(".claude");
    std::fs::create_dir_all(&dir).expect("the CLI's config dir");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        + 86_400_000;
    let creds = format!(
        r#"{{"claudeAiOauth":{{"accessToken":"sk-ant-oat01-x","refreshToken":"x","expiresAt":{expires},"scopes":["user:inference"]}}}}"#
    );
    let path = dir.join(".credentials.json");
    std::fs::write(&path, creds).expect("credentials");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    offline_env(base_url, home).into_iter().filter(|(k, _)| k != "ANTHROPIC_API_KEY").collect()
}

/// What a process wrote to its PTY, byte for byte, and how it ended.
#[derive(Debug)]
pub struct PtyRun {
    pub output: Vec<u8>,
    pub exit_code: Option<u32>,
}

impl PtyRun {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// The output's JSON lines, parsed (plain text and escape sequences skipped).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .split('\n')
            .filter_map(|l| {
                let start = l.find('{')?;
                serde_json::from_str(l[start..].trim_end_matches('\r')).ok()
            })
            .collect()
    }
}

/// Runs `program args` in a fresh PTY with `cwd` and `env` added to ours, collects everything it
/// writes until it exits, and kills it after `timeout`.
pub fn run_in_pty(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<PtyRun, String> {
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let pair = native_pty_system()
        .openpty(PtySize { rows: 50, cols: 200, pixel_width: 0, pixel_height: 0 })
        .map_err(|e| format!("openpty: {e}"))?;
    let mut cmd = CommandBuilder::new(program);
    cmd.args(args);
    cmd.cwd(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = pair.slave.spawn_command(cmd).map_err(|e| format!("spawn: {e}"))?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().map_err(|e| format!("reader: {e}"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => output.extend_from_slice(&buf[..n]),
                // EIO once the child side is closed: the end of the output on Linux.
                Err(_) => break,
            }
        }
        let _ = tx.send(output);
    });
    let output = match rx.recv_timeout(timeout) {
        Ok(output) => output,
        Err(_) => {
            let _ = child.kill();
            return Err(format!("{} did not finish within {timeout:?}", program.display()));
        }
    };
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    drop(pair.master);
    Ok(PtyRun { output, exit_code: Some(status.exit_code()) })
}
