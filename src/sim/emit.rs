//! Writing the simulated claude's output: one JSON object a line on stdout, flushed per line,
//! filtered by `--output-format`, with optional plain-text noise on stderr in between.

use std::io::{self, Write};

use serde_json::Value;

/// `--output-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Every event, one a line.
    StreamJson,
    /// Only the `result` object.
    Json,
    /// Only the result's text.
    Text,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Format {
        match s {
            Some("stream-json") => Format::StreamJson,
            Some("json") => Format::Json,
            _ => Format::Text,
        }
    }
}

/// Lines the real CLI writes on stderr now and then (they share the PTY with stdout).
const NOISE: &[&str] = &[
    "[WARN] Fast mode is not available for this model; continuing at normal speed",
    "Error: LSP server plugin:rust-analyzer-lsp failed to start: Executable not found in $PATH: \"rust-analyzer\"",
    "(node:48213) ExperimentalWarning: The Fetch API is an experimental feature.",
    "[DEBUG] Lock acquisition failed for ~/.local/share/claude/versions (expected in multi-process scenarios)",
];

pub struct Out {
    format: Format,
    /// Plain-text lines still to write on stderr, one after each JSON line.
    noise_left: u32,
    noise_next: usize,
    buf: Vec<u8>,
}

impl Out {
    pub fn new(format: Format, noise_lines: u32) -> Out {
        Out { format, noise_left: noise_lines, noise_next: 0, buf: Vec::with_capacity(4096) }
    }

    /// Writes one event. An error means stdout is gone (the reader closed the PTY or pipe).
    pub fn event(&mut self, v: &Value) -> io::Result<()> {
        let is_result = v.get("type").and_then(Value::as_str) == Some("result");
        match self.format {
            Format::StreamJson => self.json_line(v)?,
            Format::Json if is_result => self.json_line(v)?,
            Format::Text if is_result => {
                let text = match v.get("result").and_then(Value::as_str) {
                    Some(t) => t.to_string(),
                    None => v
                        .get("errors")
                        .and_then(Value::as_array)
                        .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
                        .unwrap_or_default(),
                };
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
            _ => {}
        }
        if self.noise_left > 0 {
            self.noise_left -= 1;
            let line = NOISE[self.noise_next % NOISE.len()];
            self.noise_next += 1;
            stderr_line(line)?;
        }
        Ok(())
    }

    /// Serializes into a reused buffer, then one write and a flush: a reader never sees half a
    /// line from us, and a flood costs no allocation per line.
    fn json_line(&mut self, v: &Value) -> io::Result<()> {
        self.buf.clear();
        write_ordered(&mut self.buf, v)?;
        self.buf.push(b'\n');
        let mut out = io::stdout().lock();
        out.write_all(&self.buf)?;
        out.flush()?;
        if self.buf.capacity() > 1024 * 1024 {
            // Do not keep a huge line's buffer for the rest of the turn.
            self.buf = Vec::new();
        }
        Ok(())
    }
}

/// Writes JSON with `type` and `subtype` first in every object, as the CLI does (serde_json's
/// map sorts keys otherwise). Strings and numbers go through serde_json unchanged.
pub fn write_ordered(out: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Object(map) => {
            let first = ["type", "subtype"];
            let keys = first
                .iter()
                .copied()
                .filter(|k| map.contains_key(*k))
                .chain(map.keys().map(String::as_str).filter(|k| !first.contains(k)));
            out.write_all(b"{")?;
            for (i, key) in keys.enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                if let Some(value) = map.get(key) {
                    write_ordered(out, value)?;
                }
            }
            out.write_all(b"}")
        }
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_ordered(out, item)?;
            }
            out.write_all(b"]")
        }
        other => serde_json::to_writer(&mut *out, other).map_err(io::Error::from),
    }
}

/// One plain-text line on stderr, flushed.
pub fn stderr_line(line: &str) -> io::Result<()> {
    let mut err = io::stderr().lock();
    err.write_all(line.as_bytes())?;
    err.write_all(b"\n")?;
    err.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_comes_first_and_the_json_is_unchanged() {
        let v = json!({"b": 1, "type": "x", "a": [{"z": "\n\"", "type": "t", "subtype": "s"}]});
        let mut buf = Vec::new();
        write_ordered(&mut buf, &v).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with(r#"{"type":"x","#), "{text}");
        assert!(text.contains(r#"{"type":"t","subtype":"s","z""#), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }
}
