//! `/sim ...` lines in a prompt (and `AGENTMUX_SIM_FAIL`): ask the simulated claude to fail or
//! misbehave the ways the real one can. See the module doc of `sim` for the list.

/// How a crash ends the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// A stack trace on stderr, then exit code 1 (an uncaught exception in node).
    Exit,
    /// A stack trace on stderr, then SIGKILL on itself (no exit code at all).
    Signal,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directives {
    pub max_turns: bool,
    pub budget: bool,
    /// `system`/`api_retry` events before the answer.
    pub retries: u32,
    pub crash: Option<Crash>,
    /// Text deltas written as fast as possible.
    pub flood: Option<u64>,
    /// `pace=MS`: a flood's deltas come MS real milliseconds apart (whatever the speed), as a
    /// model streams: steady load rather than a burst.
    pub pace_ms: Option<u64>,
    /// Bytes of one tool result on a single line.
    pub huge: Option<usize>,
    /// Plain-text lines on stderr, one after each JSON line.
    pub stderr_lines: u32,
    pub deny: bool,
    /// `ask` / `ask=a.txt+b.txt`: Bash calls `touch <file>` that need permission (asked through
    /// `--permission-prompt-tool` when given, else denied as in the default mode).
    pub ask: Vec<String>,
    pub hang: bool,
    /// The subscription's rate limit is close (`rate_limit_event` status `allowed_warning`).
    pub rate_limit_warning: bool,
    /// Words that were not understood (reported on stderr, never fatal).
    pub unknown: Vec<String>,
}

/// Upper bounds so a typo cannot ask for terabytes.
const MAX_FLOOD: u64 = 10_000_000;
const MAX_HUGE: usize = 512 * 1024 * 1024;
const MAX_PACE_MS: u64 = 10_000;

impl Directives {
    /// Reads the `/sim` lines of `prompt` plus `env` (the value of `AGENTMUX_SIM_FAIL`) and
    /// returns the prompt without those lines.
    pub fn extract(prompt: &str, env: Option<&str>) -> (Directives, String) {
        let mut d = Directives::default();
        if let Some(env) = env {
            d.apply_words(env);
        }
        let mut kept = Vec::new();
        for line in prompt.lines() {
            match line.trim_start().strip_prefix("/sim") {
                Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                    d.apply_words(rest)
                }
                _ => kept.push(line),
            }
        }
        (d, kept.join("\n").trim().to_string())
    }

    fn apply_words(&mut self, words: &str) {
        for word in words.split(|c: char| c.is_whitespace() || c == ',') {
            if !word.is_empty() {
                self.apply(word);
            }
        }
    }

    fn apply(&mut self, word: &str) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let key = key.replace('-', "_");
        let number = value.and_then(|v| v.replace('_', "").parse::<u64>().ok());
        match (key.as_str(), value) {
            ("fail", Some(mode)) => self.apply(mode),
            ("max_turns" | "maxturns" | "turns", _) => self.max_turns = true,
            ("budget" | "max_budget" | "max_budget_usd", _) => self.budget = true,
            ("retry" | "retries" | "api_retry", _) => self.retries = number.unwrap_or(3) as u32,
            ("crash", None | Some("exit")) => self.crash = Some(Crash::Exit),
            ("crash", Some("signal" | "kill")) => self.crash = Some(Crash::Signal),
            ("flood", _) => self.flood = Some(number.unwrap_or(20_000).min(MAX_FLOOD)),
            ("pace", _) => self.pace_ms = number.map(|ms| ms.min(MAX_PACE_MS)),
            ("huge", _) => {
                let bytes = number.unwrap_or(20_000_000) as usize;
                self.huge = Some(bytes.min(MAX_HUGE));
            }
            ("stderr", _) => self.stderr_lines = number.unwrap_or(3) as u32,
            ("deny" | "denial" | "permission", _) => self.deny = true,
            ("ask" | "approve", None) => self.ask.push("approved.txt".into()),
            ("ask" | "approve", Some(files)) => {
                self.ask.extend(files.split('+').filter(|f| !f.is_empty()).map(String::from))
            }
            ("hang", _) => self.hang = true,
            ("ratelimit" | "rate_limit", _) => self.rate_limit_warning = true,
            _ => self.unknown.push(word.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_removed_and_understood() {
        let (d, p) = Directives::extract(
            "fix the bug\n/sim fail=max_turns retry=2\n  /sim flood=1_000 stderr\nthanks",
            Some("crash=signal"),
        );
        assert_eq!(p, "fix the bug\nthanks");
        assert!(d.max_turns);
        assert_eq!(d.retries, 2);
        assert_eq!(d.flood, Some(1000));
        assert_eq!(d.pace_ms, None);
        assert_eq!(d.stderr_lines, 3);
        assert_eq!(d.crash, Some(Crash::Signal));
        assert!(d.unknown.is_empty());
        let (d, _) = Directives::extract("/sim flood=600 pace=25", None);
        assert_eq!((d.flood, d.pace_ms), (Some(600), Some(25)));
    }

    #[test]
    fn ordinary_prompts_are_untouched() {
        let (d, p) = Directives::extract("/simulate a thing\n/simple", None);
        assert_eq!(d, Directives::default());
        assert_eq!(p, "/simulate a thing\n/simple");
        let (d, _) = Directives::extract("/sim huge=20000000 what", None);
        assert_eq!(d.huge, Some(20_000_000));
        assert_eq!(d.unknown, vec!["what".to_string()]);
    }
}
