//! An agent's transcript: an append-only JSONL log, one record a line, written as things happen.
//!
//! Line shapes (keys in this order, so reading can take a fast path for events):
//! - `{"ts":MS,"turn":N,"event":<the event's JSON text, verbatim>}`
//! - `{"ts":MS,"turn":N,"text":"<a line that was not JSON>"}`
//! - `{"ts":MS,"turn":N,"prompt":"<the prompt sent>"}`
//! - `{"ts":MS,"turn":N,"started":{"session_id":"..","resume":false}}`
//! - `{"ts":MS,"turn":N,"ended":{"status":"ok","exit_code":0,...}}`
//!
//! Event lines are the bulk: they are stored verbatim and read back as slices of one buffer,
//! without parsing, so reopening costs little more than reading the bytes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fsutil;

/// How a turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    /// The process exited 0 and the result was not an error.
    Ok,
    /// The CLI reported an error or exited non-zero.
    Error,
    /// Stopped by the user (or a kill command).
    Interrupted,
    /// Refused by a usage limit.
    RateLimited,
    /// agentmux went away while the turn ran (found on reopen).
    Lost,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnEnd {
    pub status: EndStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The turn's `total_cost_usd`, added to the agent's total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The session the turn ended in (the CLI may report another id than the one asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl TurnEnd {
    pub fn new(status: EndStatus) -> Self {
        TurnEnd { status, exit_code: None, signal: None, cost_usd: None, session_id: None }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnStart {
    pub session_id: String,
    /// `--resume` (a follow-up) rather than `--session-id` (a new conversation).
    pub resume: bool,
}

/// One record of a log, appended or read back. Borrowed, so logging an event line copies
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Record<'a> {
    Prompt(&'a str),
    TurnStarted(&'a TurnStart),
    /// A line the engine decoded as a JSON event: its text (`EngineMsg::Lines`' `String`).
    Event(&'a str),
    /// A line that was not JSON (the CLI's stderr shares the terminal).
    Text(&'a str),
    TurnEnded(&'a TurnEnd),
}

/// A record with its line decoded (see [`AgentLog::replay`]).
// Items live one at a time while a pane is rebuilt; boxing the line would allocate per line.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Replay<'a> {
    Prompt(&'a str),
    TurnStarted(&'a TurnStart),
    /// The line's text and what the decoder makes of it (`EngineMsg::Lines`' pairs).
    Line(&'a str, crate::agent::Line),
    TurnEnded(&'a TurnEnd),
}

/// One log line, located in the log's text.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub ts: u64,
    pub turn: u64,
    body: Body,
}

#[derive(Clone, Debug, PartialEq)]
enum Body {
    /// Byte range of the event's JSON in [`AgentLog::text`].
    Event(Range<usize>),
    // The rare kinds are boxed so that the many events keep entries small (40 bytes).
    Text(Box<str>),
    Prompt(Box<str>),
    Started(Box<TurnStart>),
    Ended(Box<TurnEnd>),
}

impl Entry {
    pub fn record<'a>(&'a self, text: &'a str) -> Record<'a> {
        match &self.body {
            Body::Event(r) => Record::Event(text.get(r.clone()).unwrap_or("")),
            Body::Text(t) => Record::Text(t),
            Body::Prompt(p) => Record::Prompt(p),
            Body::Started(s) => Record::TurnStarted(s),
            Body::Ended(e) => Record::TurnEnded(e),
        }
    }
}

/// A transcript as read back: its text and its records in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentLog {
    text: String,
    entries: Vec<Entry>,
}

/// A line from `turn` on: `(timestamp ms, turn, record)`.
pub type LogItem<'a> = (u64, u64, Record<'a>);

impl AgentLog {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The records in the order they were written.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = LogItem<'_>> + ExactSizeIterator + '_ {
        self.entries.iter().map(|e| (e.ts, e.turn, e.record(&self.text)))
    }

    pub fn get(&self, index: usize) -> Option<LogItem<'_>> {
        self.entries.get(index).map(|e| (e.ts, e.turn, e.record(&self.text)))
    }

    /// The records again, with every logged line decoded as the engine decodes it: what a
    /// pane is rebuilt from.
    pub fn replay(&self) -> impl Iterator<Item = (u64, u64, Replay<'_>)> + '_ {
        self.iter().map(|(ts, turn, r)| {
            let item = match r {
                Record::Prompt(p) => Replay::Prompt(p),
                Record::TurnStarted(s) => Replay::TurnStarted(s),
                Record::Event(e) => Replay::Line(e, crate::agent::decode::decode_line(e)),
                Record::Text(t) => Replay::Line(t, crate::agent::Line::Text(t.to_string())),
                Record::TurnEnded(e) => Replay::TurnEnded(e),
            };
            (ts, turn, item)
        })
    }

    /// Bytes of log text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }
}

/// What reading a log found besides its records.
#[derive(Debug, Default)]
pub struct ReadReport {
    /// How a writer must mend the end of the file before appending.
    pub mend: Mend,
    /// Bytes of a last line cut short (a crash mid-write), ignored.
    pub truncated_tail: usize,
    /// Lines in the middle that could not be read, skipped: (line number, first bytes).
    pub unreadable: Vec<(usize, String)>,
}

/// The end of a log as found, and what a writer does before appending to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mend {
    /// It ends with a whole line.
    #[default]
    Nothing,
    /// It ends in a record of ours cut short: cut the file back to this length.
    CutTo(u64),
    /// It ends in something else without a newline: end that line, keep its bytes.
    EndLine,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not UTF-8 text (byte {0})")]
    NotText(usize),
    #[error("no line of it is a transcript record")]
    NoRecords,
}

/// Reads a whole log. A missing file is an empty log.
pub fn read_log(path: &Path) -> Result<(AgentLog, ReadReport), ReadError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok((AgentLog::default(), ReadReport::default()))
        }
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    // One read into a buffer of the right size: the event records borrow from it.
    let mut bytes = Vec::with_capacity(len + 1);
    file.read_to_end(&mut bytes)?;
    parse_log(bytes)
}

/// Parses a log's bytes (see [`read_log`]).
pub fn parse_log(mut bytes: Vec<u8>) -> Result<(AgentLog, ReadReport), ReadError> {
    let mut report = ReadReport::default();
    let whole = match memchr::memrchr(b'\n', &bytes) {
        Some(i) => i + 1,
        None => 0,
    };
    let tail = &bytes[whole..];
    let mut garbage_tail = None;
    if !tail.is_empty() {
        let ours = tail.starts_with(TS_PREFIX) || TS_PREFIX.starts_with(tail);
        if ours {
            report.truncated_tail = tail.len();
            report.mend = Mend::CutTo(whole as u64);
        } else {
            report.mend = Mend::EndLine;
            garbage_tail = Some(String::from_utf8_lossy(&tail[..tail.len().min(60)]).into_owned());
        }
    }
    bytes.truncate(whole);
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Err(ReadError::NotText(e.utf8_error().valid_up_to())),
    };

    // Most lines are events of a few hundred bytes.
    let mut entries = Vec::with_capacity(text.len() / 256 + 16);
    let b = text.as_bytes();
    let mut start = 0;
    let mut line_no = 0;
    for end in memchr::memchr_iter(b'\n', b) {
        line_no += 1;
        let line = &b[start..end];
        match parse_line(line, start) {
            Some(entry) => entries.push(entry),
            None if line.iter().all(u8::is_ascii_whitespace) => {}
            None => {
                if report.unreadable.len() < 1000 {
                    let head = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
                    report.unreadable.push((line_no, head));
                }
            }
        }
        start = end + 1;
    }
    if let Some(head) = garbage_tail {
        report.unreadable.push((line_no + 1, head));
    }
    if entries.is_empty() && !report.unreadable.is_empty() {
        return Err(ReadError::NoRecords);
    }
    Ok((AgentLog { text, entries }, report))
}

const TS_PREFIX: &[u8] = b"{\"ts\":";
const TURN_KEY: &[u8] = b",\"turn\":";
const EVENT_KEY: &[u8] = b",\"event\":";

/// Reads one line; `offset` is where it starts in the log text.
fn parse_line(line: &[u8], offset: usize) -> Option<Entry> {
    // Fast path: an event line is taken apart by position, its JSON is not parsed here.
    if let Some(rest) = line.strip_prefix(TS_PREFIX) {
        let (ts, rest) = take_number(rest)?;
        let rest = rest.strip_prefix(TURN_KEY)?;
        let (turn, rest) = take_number(rest)?;
        if let Some(event) = rest.strip_prefix(EVENT_KEY) {
            if event.len() >= 3 && event.ends_with(b"}}") && event[0] == b'{' {
                let start = offset + (line.len() - event.len());
                return Some(Entry { ts, turn, body: Body::Event(start..start + event.len() - 1) });
            }
            return None;
        }
    }
    slow_line(std::str::from_utf8(line).ok()?)
}

fn take_number(b: &[u8]) -> Option<(u64, &[u8])> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &b[..digits] {
        n = n * 10 + u64::from(d - b'0');
    }
    Some((n, &b[digits..]))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineFields {
    ts: u64,
    #[serde(default)]
    turn: u64,
    text: Option<String>,
    prompt: Option<String>,
    started: Option<TurnStart>,
    ended: Option<TurnEnd>,
}

fn slow_line(line: &str) -> Option<Entry> {
    let f: LineFields = serde_json::from_str(line).ok()?;
    let body = match (f.text, f.prompt, f.started, f.ended) {
        (Some(t), None, None, None) => Body::Text(t.into()),
        (None, Some(p), None, None) => Body::Prompt(p.into()),
        (None, None, Some(s), None) => Body::Started(Box::new(s)),
        (None, None, None, Some(e)) => Body::Ended(Box::new(e)),
        _ => return None,
    };
    Some(Entry { ts: f.ts, turn: f.turn, body })
}

/// Formats one record as a line (with its `\n`) onto `out`.
pub fn format_record(out: &mut Vec<u8>, ts: u64, turn: u64, record: &Record<'_>) {
    let _ = write!(out, "{{\"ts\":{ts},\"turn\":{turn},");
    // Writing into a Vec cannot fail; serde_json only fails on non-string map keys.
    let json = |out: &mut Vec<u8>, key: &str, value: &dyn erased::Ser| {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        value.write(out);
    };
    match record {
        Record::Event(line) if is_verbatim_json(line) => {
            out.extend_from_slice(b"\"event\":");
            out.extend_from_slice(line.as_bytes());
        }
        // Not an object on one line: keep it, as text.
        Record::Event(text) | Record::Text(text) => json(out, "text", text),
        Record::Prompt(p) => json(out, "prompt", p),
        Record::TurnStarted(s) => json(out, "started", *s),
        Record::TurnEnded(e) => json(out, "ended", *e),
    }
    out.extend_from_slice(b"}\n");
}

/// An event's text can be stored verbatim when it is one JSON object on one line.
fn is_verbatim_json(line: &str) -> bool {
    let b = line.as_bytes();
    b.first() == Some(&b'{')
        && b.last() == Some(&b'}')
        && memchr::memchr2(b'\n', b'\r', b).is_none()
}

mod erased {
    /// Serialises any of the record payloads without generic closures.
    pub trait Ser {
        fn write(&self, out: &mut Vec<u8>);
    }
    impl<T: serde::Serialize + ?Sized> Ser for T {
        fn write(&self, out: &mut Vec<u8>) {
            if serde_json::to_writer(&mut *out, self).is_err() {
                out.extend_from_slice(b"null");
            }
        }
    }
}

/// What a log is written to: a file opened for appending (or, in tests, one whose disk fills).
pub trait LogFile: Write {
    /// Cuts the file back to `len` bytes.
    fn cut_to(&self, len: u64) -> io::Result<()>;
    fn size(&self) -> io::Result<u64>;
    fn sync(&self) -> io::Result<()>;
}

impl LogFile for File {
    fn cut_to(&self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        self.metadata().map(|m| m.len())
    }

    fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// The open end of one agent's log. Each append is one `write` of whole lines, and lands
/// whole or not at all: a write that failed part way (a full disk) is cut back off, so the
/// next record never follows half of one.
#[derive(Debug)]
pub struct LogWriter<F: LogFile = File> {
    file: F,
    buf: Vec<u8>,
    /// The length of the file up to its last whole record.
    len: u64,
    /// A failed write could not be cut back: the file may end in part of a record.
    torn: bool,
}

impl LogWriter<File> {
    /// Opens (creating, mode 0600) the log at `path`, first mending its end as reading found
    /// it, so new records start on a line of their own.
    pub fn open(path: &Path, mend: Mend) -> io::Result<LogWriter> {
        let mut file = fsutil::open_append(path)?;
        match mend {
            Mend::Nothing => {}
            Mend::CutTo(len) => {
                if file.metadata()?.len() > len {
                    file.set_len(len)?;
                }
            }
            Mend::EndLine => file.write_all(b"\n")?,
        }
        LogWriter::over(file)
    }
}

impl<F: LogFile> LogWriter<F> {
    /// A writer appending to `file`, which ends with a whole line.
    pub fn over(file: F) -> io::Result<LogWriter<F>> {
        let len = file.size()?;
        Ok(LogWriter { file, buf: Vec::with_capacity(4096), len, torn: false })
    }

    /// Appends records and hands them to the OS in one write.
    pub fn append(&mut self, ts: u64, turn: u64, records: &[Record<'_>]) -> io::Result<()> {
        self.buf.clear();
        if self.torn {
            if self.file.cut_to(self.len).is_ok() {
                self.torn = false;
            } else {
                // Half a record stays behind: this one starts on a line of its own, and the
                // half reads back as one unreadable line.
                self.buf.push(b'\n');
            }
        }
        for r in records {
            format_record(&mut self.buf, ts, turn, r);
        }
        let result = self.file.write_all(&self.buf);
        match &result {
            Ok(()) if self.torn => {
                self.torn = false;
                self.len = self.file.size()?;
            }
            Ok(()) => self.len += self.buf.len() as u64,
            Err(_) => self.torn = self.file.cut_to(self.len).is_err(),
        }
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::with_capacity(4096);
        }
        result
    }

    /// Waits until what was appended is on the disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(r: Record<'_>) -> String {
        let mut out = Vec::new();
        format_record(&mut out, 12, 3, &r);
        String::from_utf8(out).unwrap_or_default()
    }

    /// A log file on a disk with `room` bytes left; `cut_fails` when even cutting it back
    /// fails.
    #[derive(Default)]
    struct FullDisk {
        data: std::cell::RefCell<Vec<u8>>,
        room: usize,
        cut_fails: bool,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let data = self.data.get_mut();
            let n = buf.len().min(self.room.saturating_sub(data.len()));
            if n == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl LogFile for FullDisk {
        fn cut_to(&self, len: u64) -> io::Result<()> {
            if self.cut_fails {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            self.data.borrow_mut().truncate(len as usize);
            Ok(())
        }
        fn size(&self) -> io::Result<u64> {
            Ok(self.data.borrow().len() as u64)
        }
        fn sync(&self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Three appends on a disk that fills during the second and has room again for the third.
    fn fill_and_free(cut_fails: bool) -> (Vec<String>, ReadReport) {
        let first = line(Record::Prompt("one"));
        let disk = FullDisk { room: first.len() + 10, cut_fails, ..FullDisk::default() };
        let mut w = LogWriter::over(disk).unwrap_or_else(|e| panic!("{e}"));
        w.append(12, 3, &[Record::Prompt("one")]).unwrap_or_else(|e| panic!("{e}"));
        let full = w.append(12, 3, &[Record::Prompt("two, which does not fit")]);
        assert_eq!(full.map_err(|e| e.raw_os_error()), Err(Some(libc::ENOSPC)));
        w.file.room = usize::MAX;
        w.append(12, 3, &[Record::Prompt("three")]).unwrap_or_else(|e| panic!("{e}"));
        let (log, report) = parse_log(w.file.data.take()).unwrap_or_else(|e| panic!("{e}"));
        let prompts = log
            .iter()
            .map(|(_, _, r)| match r {
                Record::Prompt(p) => p.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        (prompts, report)
    }

    #[test]
    fn a_record_the_disk_had_no_room_for_is_cut_back_off() {
        let (prompts, report) = fill_and_free(false);
        assert_eq!(prompts, ["one", "three"]);
        assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
        assert_eq!((report.truncated_tail, report.mend), (0, Mend::Nothing));
    }

    #[test]
    fn when_cutting_back_fails_the_next_record_starts_on_a_line_of_its_own() {
        let (prompts, report) = fill_and_free(true);
        assert_eq!(prompts, ["one", "three"]);
        let torn: Vec<usize> = report.unreadable.iter().map(|(line, _)| *line).collect();
        assert_eq!(torn, [2], "the half record is one line, skipped: {:?}", report.unreadable);
    }

    #[test]
    fn entries_stay_small() {
        assert!(std::mem::size_of::<Entry>() <= 40, "{}", std::mem::size_of::<Entry>());
    }

    #[test]
    fn every_record_is_one_json_line_and_reads_back() {
        let start = TurnStart { session_id: "s-1".into(), resume: true };
        let mut end = TurnEnd::new(EndStatus::Error);
        end.exit_code = Some(1);
        end.cost_usd = Some(0.25);
        let records = [
            Record::Prompt("fix \"it\"\nplease"),
            Record::TurnStarted(&start),
            Record::Event(r#"{"type":"assistant","message":{"content":[]}}"#),
            Record::Event("not json {"),
            Record::Text("warning: something"),
            Record::TurnEnded(&end),
        ];
        let mut bytes = Vec::new();
        for r in &records {
            let l = line(*r);
            assert!(l.ends_with('\n') && l.matches('\n').count() == 1, "{l}");
            let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_default();
            assert_eq!(v["ts"], 12, "{l}");
            bytes.extend_from_slice(l.as_bytes());
        }
        let (log, report) = parse_log(bytes).unwrap_or_default();
        assert_eq!(report.truncated_tail, 0);
        assert!(report.unreadable.is_empty());
        let got: Vec<_> = log.iter().map(|(_, turn, r)| (turn, r)).collect();
        assert_eq!(
            got,
            vec![
                (3, Record::Prompt("fix \"it\"\nplease")),
                (3, Record::TurnStarted(&start)),
                (3, Record::Event(r#"{"type":"assistant","message":{"content":[]}}"#)),
                (3, Record::Text("not json {")),
                (3, Record::Text("warning: something")),
                (3, Record::TurnEnded(&end)),
            ]
        );
    }
}
