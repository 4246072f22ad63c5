use super::*;
use serde_json::json;

const LIMIT: usize = crate::agent::DEFAULT_MAX_LINE_BYTES;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stream-json")
        .join(format!("{name}.ndjson"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const FIXTURES: &[&str] = &[
    "foksa-2.1.29-hello-world",
    "foksa-2.1.29-interrupt",
    "foksa-2.1.29-multi-turn",
    "foksa-2.1.29-plan-mode-ls",
    "foksa-2.1.29-streaming-haiku",
    "gleam-2.1.7-basic-query",
    "nairid-1.0.x-refactor-session-head40",
];

fn frame_all(chunks: &[&[u8]], limit: usize) -> Vec<Frame> {
    let mut f = Framer::new(limit);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c, &mut out);
    }
    f.finish(&mut out);
    out
}

fn lines(frames: &[Frame]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Line(s) => s.as_str(),
            Frame::TooLong { .. } => "<too long>",
        })
        .collect()
}

fn event(line: &str) -> Event {
    match decode_line(line) {
        Line::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

// --- framing -----------------------------------------------------------------------------------

#[test]
fn crlf_and_lf_both_end_lines_without_the_cr() {
    let frames = frame_all(&[b"one\r\ntwo\nthree\r\n"], LIMIT);
    assert_eq!(lines(&frames), ["one", "two", "three"]);
}

#[test]
fn a_cr_split_from_its_lf_is_still_dropped() {
    let frames = frame_all(&[b"one\r", b"\ntwo\r", b"\n"], LIMIT);
    assert_eq!(lines(&frames), ["one", "two"]);
}

#[test]
fn escape_sequences_are_stripped() {
    let input = b"\x1b[?25l\x1b[31m{\"a\":1}\x1b[0m\r\n\x1b]0;title\x07plain\x1b]8;;http://x\x1b\\ok\r\n\x1b(Bcharset\x1b=\r\n";
    let frames = frame_all(&[input], LIMIT);
    assert_eq!(lines(&frames), ["{\"a\":1}", "plainok", "charset"]);
}

#[test]
fn the_clis_exit_sequences_without_a_newline_make_no_line() {
    let input = b"{\"type\":\"result\"}\r\n\x1b[?25h\x1b[?1004l\x1b[?2004l\x1b[<u\x1b]0;\x07";
    let frames = frame_all(&[input], LIMIT);
    assert_eq!(lines(&frames), ["{\"type\":\"result\"}"]);
}

#[test]
fn a_last_line_without_newline_is_kept() {
    let frames = frame_all(&[b"first\r\nlast words"], LIMIT);
    assert_eq!(lines(&frames), ["first", "last words"]);
}

#[test]
fn a_broken_escape_does_not_eat_the_stream() {
    // An OSC that never ends: the newline still ends the line, and the next line is intact.
    let frames = frame_all(&[b"a\x1b]unterminated\nnext\n\x1b[12\nafter\n"], LIMIT);
    assert_eq!(lines(&frames), ["a", "next", "after"]);
}

#[test]
fn escape_split_at_every_byte() {
    let input: &[u8] = b"x\x1b[1;31my\x1b]0;t\x1b\\z\x1b]2;q\x07w\r\n";
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(lines(&frame_all(&[a, b], LIMIT)), ["xyzw"], "cut at {cut}");
    }
}

#[test]
fn utf8_split_inside_a_character() {
    let input = "h\u{e9}\u{1f600}\u{4e2d}\r\n".as_bytes();
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(lines(&frame_all(&[a, b], LIMIT)), ["h\u{e9}\u{1f600}\u{4e2d}"], "cut {cut}");
    }
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let frames = frame_all(&[b"ok \xff\xfe bad\n{\"type\":\"x\"}\n"], LIMIT);
    assert_eq!(lines(&frames), ["ok \u{fffd}\u{fffd} bad", "{\"type\":\"x\"}"]);
}

/// Every fixture, turned into PTY output (CRLF, escapes at the end), split in two at every byte
/// offset, frames into exactly the original lines.
#[test]
fn real_samples_split_at_every_byte_offset() {
    for name in FIXTURES {
        let text = fixture(name);
        let expected: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        let mut pty = Vec::new();
        for l in &expected {
            pty.extend_from_slice(l.as_bytes());
            pty.extend_from_slice(b"\r\n");
        }
        pty.extend_from_slice(b"\x1b[?25h\x1b]0;\x07");
        // The large file (200 KB) would take minutes at every offset in a debug build: there,
        // every offset of its first 1 KiB, a few around each line end, and a stride between.
        let offsets: Vec<usize> = if pty.len() > 32 * 1024 {
            let ends = pty.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i);
            let near_ends = ends.flat_map(|i| i.saturating_sub(3)..=(i + 3).min(pty.len()));
            (0..1024).chain(near_ends).chain((1024..=pty.len()).step_by(509)).collect()
        } else {
            (0..=pty.len()).collect()
        };
        let mut framer = Framer::new(LIMIT);
        for cut in offsets {
            let (a, b) = pty.split_at(cut);
            let mut out = Vec::new();
            framer.push(a, &mut out);
            framer.push(b, &mut out);
            framer.finish(&mut out);
            assert_eq!(lines(&out), expected, "{name}: cut at {cut}");
        }
        // And one byte at a time.
        let mut out = Vec::new();
        for b in &pty {
            framer.push(std::slice::from_ref(b), &mut out);
        }
        framer.finish(&mut out);
        assert_eq!(lines(&out), expected, "{name}: byte by byte");
        // Every line of a real capture decodes to an event, never to text.
        for l in &expected {
            assert!(matches!(decode_line(l), Line::Event(_)), "{name}: {l:.80}");
        }
    }
}

/// A 20 MiB line is framed whole and decoded for what it means (its cost, its session); its
/// text is cut for the screen, with a mark saying how long the line was.
#[test]
fn a_20_mib_line_passes_with_the_default_limit() {
    let text = "x".repeat(20 * 1024 * 1024);
    let line = format!(
        "{{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5,\
         \"session_id\":\"s1\",\"result\":\"{text}\"}}\r\n"
    );
    let mut framer = Framer::new(LIMIT);
    let mut out = Vec::new();
    for chunk in line.as_bytes().chunks(64 * 1024) {
        framer.push(chunk, &mut out);
    }
    assert_eq!(out.len(), 1);
    let Frame::Line(s) = &out[0] else { panic!("too long") };
    assert_eq!(s.len(), line.len() - 2, "the log gets the whole line");
    match decode_line(s) {
        Line::Event(Event::Result(r)) => {
            assert_eq!((r.total_cost_usd, r.session_id.as_deref()), (Some(0.5), Some("s1")));
            let shown = r.result.unwrap_or_default();
            assert!(shown.starts_with(&text[..SHOWN]), "the start is shown");
            let mark = format!("\n… line too long ({} bytes): the rest is not shown", s.len());
            assert_eq!(&shown[SHOWN..], mark);
        }
        other => panic!("{:?}", std::mem::discriminant(&other)),
    }
}

/// Drawing an oversized line's strings would hold the UI for seconds: every string of every
/// kind of line over the oversized mark is cut (on a character), the ids that tie calls to
/// results are not.
#[test]
fn every_string_of_an_oversized_line_is_cut_for_the_screen() {
    let big = "é".repeat(OVERSIZED_LINE);
    let lines = [
        json!({"type":"assistant","message":{"id":"m","content":[
            {"type":"text","text": big}, {"type":"thinking","thinking": big},
            {"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"a","content": big}}]}}),
        json!({"type":"user","message":{"content":[
            {"type":"tool_result","tool_use_id":"t1","content": big}]}}),
        json!({"type":"stream_event","event":{"type":"content_block_delta","index":0,
            "delta":{"type":"text_delta","text": big}}}),
        json!({"type":"something_new","payload": [big]}),
    ];
    for line in lines {
        let text = line.to_string();
        let decoded = decode_line(&text);
        let debug = format!("{decoded:?}");
        assert!(debug.len() < 6 * SHOWN, "{} bytes shown of {}", debug.len(), text.len());
        assert!(debug.contains(&format!("line too long ({} bytes)", text.len())), "{line:.80}");
        if let Line::Event(Event::User(m)) = &decoded {
            assert!(
                matches!(&m.content[0], ContentBlock::ToolResult { tool_use_id, .. } if tool_use_id == "t1")
            );
        }
    }
    let plain = "word ".repeat(OVERSIZED_LINE);
    let Line::Text(shown) = decode_line(&plain) else { panic!("plain text is text") };
    assert!(shown.len() < 2 * SHOWN && shown.contains("line too long"), "{}", shown.len());
}

/// serde_json refuses a number out of range (`1e999999`) and nesting over 127 levels: such an
/// object used to become a text line, and a result its cost with it.
#[test]
fn the_known_fields_of_an_odd_line_are_still_read() {
    let huge = r#"{"type":"result","subtype":"success","total_cost_usd":0.25,"session_id":"s",
        "usage":{"input_tokens":1e999999,"output_tokens":5},"result":"ok"}"#
        .replace('\n', "");
    let Event::Result(r) = event(&huge) else { panic!("not a result: {huge}") };
    assert_eq!((r.total_cost_usd, r.session_id.as_deref()), (Some(0.25), Some("s")));
    assert_eq!(r.usage.map(|u| u.output_tokens), Some(5));
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let nested = format!(
        r#"{{"type":"assistant","message":{{"id":"m","content":[{{"type":"text","text":"hi"}},
        {{"type":"tool_use","id":"t","name":"Bash","input":{{"command":"ls","x":{deep}}}}}]}}}}"#
    )
    .replace('\n', "");
    let Event::Assistant(m) = event(&nested) else { panic!("not an assistant message") };
    assert_eq!(m.content[0], ContentBlock::Text { text: "hi".into() });
    let ContentBlock::ToolUse { id, input, .. } = &m.content[1] else { panic!("no tool call") };
    assert_eq!((id.as_str(), input["command"].as_str()), ("t", Some("ls")));
    let unknown = format!(r#"{{"type":"new_kind","n":-1e999999,"deep":{deep},"ok":true}}"#);
    let Event::Unknown(v) = event(&unknown) else { panic!("not kept") };
    assert_eq!((v["type"].as_str(), v["ok"].as_bool()), (Some("new_kind"), Some(true)));
    // Not JSON at all is still text.
    assert_eq!(decode_line("{ not json"), Line::Text("{ not json".into()));
}

#[test]
fn an_over_limit_line_becomes_one_error_and_framing_stays_in_sync() {
    let limit = 1000;
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"type\":\"assistant\",\"x\":\"");
    input.extend(std::iter::repeat_n(b'a', 5000));
    input.extend_from_slice(b"\"}\r\n{\"type\":\"result\",\"subtype\":\"success\"}\r\n");
    for chunk_size in [1, 7, 100, 4096, input.len()] {
        let chunks: Vec<&[u8]> = input.chunks(chunk_size).collect();
        let mut framer = Framer::new(limit);
        let mut out = Vec::new();
        for c in &chunks {
            framer.push(c, &mut out);
            // Skipping never buffers the line (doubling growth may reserve up to twice the limit).
            assert!(framer.buf.capacity() <= 2 * limit, "chunk {chunk_size}");
        }
        assert_eq!(
            out,
            [
                Frame::TooLong { len: 5027, limit },
                Frame::Line("{\"type\":\"result\",\"subtype\":\"success\"}".into())
            ],
            "chunk {chunk_size}"
        );
        assert_eq!(out[0].clone().decode().1, Line::TooLong { len: 5027, limit });
    }
}

#[test]
fn a_line_of_exactly_the_limit_passes() {
    let frames = frame_all(&[b"12345\n123456\n"], 5);
    assert_eq!(frames, [Frame::Line("12345".into()), Frame::TooLong { len: 6, limit: 5 }]);
}

// --- decoding ----------------------------------------------------------------------------------

#[test]
fn non_json_lines_are_text() {
    assert_eq!(decode_line("Error: something broke"), Line::Text("Error: something broke".into()));
    assert_eq!(decode_line(""), Line::Text(String::new()));
    assert_eq!(decode_line("{not json"), Line::Text("{not json".into()));
    assert_eq!(decode_line("[1,2]"), Line::Text("[1,2]".into()));
    assert_eq!(decode_line("bell\u{7} here"), Line::Text("bell here".into()));
}

#[test]
fn unknown_types_are_kept_whole() {
    let line = r#"{"type":"control_response","response":{"subtype":"success"}}"#;
    let Event::Unknown(v) = event(line) else { panic!() };
    assert_eq!(v["response"]["subtype"], "success");
    // No type at all, and a known type with a shape we cannot read, are kept too.
    assert!(matches!(event(r#"{"hello":1}"#), Event::Unknown(_)));
    assert!(matches!(event(r#"{"type":"result","usage":[1]}"#), Event::Result(_)));
    assert!(matches!(event(r#"{"type":"assistant","message":"odd"}"#), Event::Unknown(_)));
}

#[test]
fn system_init() {
    let line = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"s1","tools":["Bash","Read"],"mcp_servers":[],"model":"claude-x","permissionMode":"default","apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.197","uuid":"u"}"#;
    let Event::System(s) = event(line) else { panic!() };
    assert_eq!(s.subtype, "init");
    assert_eq!(s.session_id.as_deref(), Some("s1"));
    let SystemKind::Init(init) = s.kind else { panic!() };
    assert_eq!(init.cwd.as_deref(), Some("/w"));
    assert_eq!(init.tools, ["Bash", "Read"]);
    assert_eq!(init.model.as_deref(), Some("claude-x"));
    assert_eq!(init.permission_mode.as_deref(), Some("default"));
    assert_eq!(init.claude_code_version.as_deref(), Some("2.1.197"));
    assert!(init.billed_per_token());
}

#[test]
fn system_status_retry_compact_and_other() {
    let Event::System(s) = event(r#"{"type":"system","subtype":"status","status":"compacting"}"#)
    else {
        panic!()
    };
    assert_eq!(s.kind, SystemKind::Status { status: Some("compacting".into()) });

    let line = r#"{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"retry_delay_ms":1200.5,"error_status":529,"error":"overloaded","session_id":"s"}"#;
    let Event::System(s) = event(line) else { panic!() };
    let SystemKind::ApiRetry(r) = s.kind else { panic!() };
    assert_eq!((r.attempt, r.max_retries, r.retry_delay_ms), (Some(2), Some(10), Some(1200)));
    assert_eq!(r.error_status, Some(529));
    assert_eq!(r.error, Some(Value::String("overloaded".into())));

    let line = r#"{"type":"system","subtype":"compact_boundary","compact_metadata":{"trigger":"auto","pre_tokens":150000}}"#;
    let Event::System(s) = event(line) else { panic!() };
    assert_eq!(
        s.kind,
        SystemKind::CompactBoundary { trigger: Some("auto".into()), pre_tokens: Some(150000) }
    );

    let line =
        r#"{"type":"system","subtype":"session_state_changed","state":"idle","session_id":"s"}"#;
    let Event::System(s) = event(line) else { panic!() };
    assert_eq!(s.subtype, "session_state_changed");
    assert_eq!(s.session_id.as_deref(), Some("s"));
    let SystemKind::Other(v) = s.kind else { panic!() };
    assert_eq!(v["state"], "idle");
    // A system line with a field shape we do not expect still stays a system event.
    let Event::System(s) = event(r#"{"type":"system","subtype":"hook","message":"text"}"#) else {
        panic!()
    };
    assert_eq!(s.subtype, "hook");
}

#[test]
fn rate_limit_event() {
    let line = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1770000000,"rateLimitType":"five_hour","utilization":0.9},"uuid":"u","session_id":"s"}"#;
    assert_eq!(
        event(line),
        Event::RateLimit(RateLimitEvent {
            status: Some("allowed_warning".into()),
            limit_type: Some("five_hour".into()),
            resets_at: Some(1770000000),
            utilization: Some(0.9),
            windows: Vec::new(),
            session_id: Some("s".into()),
        })
    );
}

/// Real lines: 2.1.197 names one window, 2.1.332 adds `unifiedWindows` (a window without
/// utilization, or with a status, as the headers gave); odd values are left unknown.
#[test]
fn rate_limit_event_windows() {
    let v332 = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796247445,"rateLimitType":"five_hour","overageStatus":"rejected","overageDisabledReason":"org_level_disabled","isUsingOverage":false,"unifiedWindows":{"five_hour":{"utilization":1.02,"resetsAt":1796247445,"status":"rejected"},"seven_day":{"utilization":0.31,"resetsAt":1796506645}}},"uuid":"u","session_id":"s"}"#;
    let Event::RateLimit(r) = event(v332) else { panic!("not a rate limit") };
    assert_eq!(r.status.as_deref(), Some("rejected"));
    assert_eq!(
        r.windows,
        vec![
            WindowReading {
                name: "five_hour".into(),
                utilization: Some(1.02),
                resets_at: Some(1796247445),
                status: Some("rejected".into()),
            },
            WindowReading {
                name: "seven_day".into(),
                utilization: Some(0.31),
                resets_at: Some(1796506645),
                status: None,
            },
        ]
    );
    let odd = r#"{"type":"rate_limit_event","rate_limit_info":{"status":7,"resetsAt":null,"rateLimitType":["x"],"utilization":-3,"unifiedWindows":{"five_hour":"full","seven_day":{"utilization":"abc","resetsAt":-5,"status":1}}}}"#;
    let Event::RateLimit(r) = event(odd) else { panic!("not a rate limit") };
    assert_eq!((r.resets_at, r.utilization), (None, None));
    assert_eq!(r.windows, vec![WindowReading { name: "seven_day".into(), ..Default::default() }]);
    // 2.1.197 passes a header's fraction through: whole seconds are kept.
    let v197 = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1796294634.7,"rateLimitType":"seven_day","isUsingOverage":false},"uuid":"u","session_id":"s"}"#;
    let Event::RateLimit(r) = event(v197) else { panic!("not a rate limit") };
    assert_eq!((r.resets_at, r.windows.len()), (Some(1796294634), 0));
    let missing = r#"{"type":"rate_limit_event"}"#;
    assert!(matches!(event(missing), Event::RateLimit(r) if r == RateLimitEvent::default()));
}

#[test]
fn assistant_blocks() {
    let line = r#"{"type":"assistant","message":{"model":"m","id":"msg_1","content":[{"type":"text","text":"Hi \"there\""},{"type":"thinking","thinking":"hmm","signature":"x"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls -la"}}],"usage":{"input_tokens":3,"output_tokens":5,"cache_read_input_tokens":null,"service_tier":"standard"}},"parent_tool_use_id":"toolu_parent","session_id":"s"}"#;
    let e = event(line);
    assert_eq!(e.parent_tool_use_id(), Some("toolu_parent"));
    let Event::Assistant(m) = e else { panic!() };
    assert_eq!(m.message_id.as_deref(), Some("msg_1"));
    assert_eq!(m.model.as_deref(), Some("m"));
    assert_eq!(
        m.content,
        [
            ContentBlock::Text { text: "Hi \"there\"".into() },
            ContentBlock::Thinking { thinking: "hmm".into() },
            ContentBlock::ToolUse {
                id: "t1".into(),
                name: "Bash".into(),
                input: serde_json::json!({"command": "ls -la"})
            },
        ]
    );
    assert_eq!(m.usage, Some(Usage { input_tokens: 3, output_tokens: 5, ..Default::default() }));
}

#[test]
fn unknown_blocks_are_kept_whole_beside_known_ones() {
    let line = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"a"},{"type":"redacted_thinking","data":"zz"},{"type":"text","text":"b"}]}}"#;
    let Event::Assistant(m) = event(line) else { panic!() };
    assert_eq!(m.content.len(), 3);
    assert_eq!(m.content[0], ContentBlock::Text { text: "a".into() });
    let ContentBlock::Other(v) = &m.content[1] else { panic!() };
    assert_eq!(v["data"], "zz");
    assert_eq!(m.content[2], ContentBlock::Text { text: "b".into() });
}

#[test]
fn user_content_as_plain_string_and_tool_results() {
    let Event::User(m) = event(r#"{"type":"user","message":{"role":"user","content":"hello"}}"#)
    else {
        panic!()
    };
    assert_eq!(m.content, [ContentBlock::Text { text: "hello".into() }]);

    let line = r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t1","type":"tool_result","content":"out","is_error":true},{"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"one"},{"type":"image","source":{}},{"type":"text","text":"two"}]}]},"tool_use_result":{"stdout":"out"}}"#;
    let Event::User(m) = event(line) else { panic!() };
    assert_eq!(
        m.content,
        [
            ContentBlock::ToolResult {
                tool_use_id: "t1".into(),
                content: "out".into(),
                is_error: true
            },
            ContentBlock::ToolResult {
                tool_use_id: "t2".into(),
                content: "one\n[image]\ntwo".into(),
                is_error: false
            },
        ]
    );
}

#[test]
fn stream_events() {
    let kind = |inner: &str| {
        let line = format!(
            r#"{{"type":"stream_event","event":{inner},"session_id":"s","parent_tool_use_id":null}}"#
        );
        match event(&line) {
            Event::Stream(s) => s.kind,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        kind(r#"{"type":"message_start","message":{"id":"msg_1","model":"m","content":[]}}"#),
        StreamKind::MessageStart { message_id: Some("msg_1".into()), model: Some("m".into()) }
    );
    assert_eq!(
        kind(
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#
        ),
        StreamKind::ContentBlockStart {
            index: 1,
            block: ContentBlock::Text { text: String::new() }
        }
    );
    assert_eq!(
        kind(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#
        ),
        StreamKind::TextDelta { index: 0, text: "Hi".into() }
    );
    assert_eq!(
        kind(
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"thinking_delta","thinking":"so"}}"#
        ),
        StreamKind::ThinkingDelta { index: 2, text: "so".into() }
    );
    assert_eq!(
        kind(
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"a"}}"#
        ),
        StreamKind::InputJsonDelta { index: 3, partial_json: "{\"a".into() }
    );
    assert_eq!(
        kind(
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"x"}}"#
        ),
        StreamKind::SignatureDelta { index: 1 }
    );
    assert_eq!(
        kind(r#"{"type":"content_block_stop","index":0}"#),
        StreamKind::ContentBlockStop { index: 0 }
    );
    assert_eq!(
        kind(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":33}}"#
        ),
        StreamKind::MessageDelta {
            stop_reason: Some("end_turn".into()),
            usage: Some(Usage { output_tokens: 33, ..Default::default() })
        }
    );
    assert_eq!(kind(r#"{"type":"message_stop"}"#), StreamKind::MessageStop);
    let StreamKind::Other(v) = kind(r#"{"type":"ping","n":1}"#) else { panic!() };
    assert_eq!(v["n"], 1);
    let StreamKind::Other(v) =
        kind(r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta"}}"#)
    else {
        panic!()
    };
    assert_eq!(v["delta"]["type"], "citations_delta");
    let StreamKind::ContentBlockStart { index: 4, block: ContentBlock::Other(b) } = kind(
        r#"{"type":"content_block_start","index":4,"content_block":{"type":"server_tool_use","id":"x"}}"#,
    ) else {
        panic!()
    };
    assert_eq!(b["id"], "x");
}

#[test]
fn result_with_all_fields_in_any_order() {
    let line = r#"{"duration_api_ms":4182,"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":2419,"num_turns":3,"result":"partial","errors":["a","b"],"session_id":"s","total_cost_usd":0.0079033,"usage":{"input_tokens":3,"output_tokens":7,"cache_creation_input_tokens":1,"cache_read_input_tokens":2},"permission_denials":[{"tool_name":"Bash","tool_use_id":"t1","tool_input":{"command":"rm"}}],"terminal_reason":"max_turns","modelUsage":{}}"#;
    let Event::Result(r) = event(line) else { panic!() };
    assert_eq!(
        r,
        ResultEvent {
            subtype: "error_max_turns".into(),
            is_error: true,
            result: Some("partial".into()),
            errors: vec!["a".into(), "b".into()],
            duration_ms: Some(2419),
            duration_api_ms: Some(4182),
            num_turns: Some(3),
            total_cost_usd: Some(0.0079033),
            usage: Some(Usage {
                input_tokens: 3,
                output_tokens: 7,
                cache_creation_input_tokens: 1,
                cache_read_input_tokens: 2
            }),
            permission_denials: vec![PermissionDenial {
                tool_name: "Bash".into(),
                tool_use_id: "t1".into(),
                tool_input: serde_json::json!({"command": "rm"}),
            }],
            terminal_reason: Some("max_turns".into()),
            session_id: Some("s".into()),
        }
    );
}

#[test]
fn real_interrupt_capture_keeps_error_during_execution_with_is_error_false() {
    let text = fixture("foksa-2.1.29-interrupt");
    let results: Vec<ResultEvent> = text
        .lines()
        .filter_map(|l| match decode_line(l) {
            Line::Event(Event::Result(r)) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].subtype, "error_during_execution");
    assert!(!results[0].is_error);
    assert!(!results[0].errors.is_empty());
}

#[test]
fn real_plan_mode_capture_types_the_tool_call_and_its_result() {
    let text = fixture("foksa-2.1.29-plan-mode-ls");
    let events: Vec<Event> = text.lines().map(event).collect();
    assert!(events.iter().any(|e| matches!(e,
        Event::Assistant(m) if m.content.iter().any(|b| matches!(b, ContentBlock::ToolUse { name, .. } if name == "Bash")))));
    assert!(events.iter().any(|e| matches!(e,
        Event::User(m) if m.content.iter().any(|b| matches!(b, ContentBlock::ToolResult { content, .. } if content.starts_with("total 180"))))));
    assert!(matches!(events.last(), Some(Event::Result(r)) if r.subtype == "success"));
}

// --- real PTY output of CLI 2.1.197 (raw bytes: CRLF, stderr, escapes) -------------------------

pub(crate) fn pty_capture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cli-2.1.197")
        .join(format!("{name}.ndjson"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) const PTY_CAPTURES: &[&str] = &[
    "api-error-400",
    "api-retry",
    "bypass-refused",
    "max-turns",
    "mcp-approval-allow",
    "mcp-approval-deny",
    "mcp-approval-unreachable",
    "permission-denial",
    "resume",
    "tool-call",
    "turn-partial",
    "turn",
    "unknown-session",
];

pub(crate) fn decode_capture(bytes: &[u8]) -> Vec<Line> {
    frame_all(&[bytes], LIMIT).into_iter().map(|f| f.decode().1).collect()
}

#[test]
fn real_pty_captures_split_at_every_byte_offset() {
    for name in PTY_CAPTURES {
        let bytes = pty_capture(name);
        let whole = frame_all(&[&bytes], LIMIT);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(frame_all(&[a, b], LIMIT), whole, "{name}: cut at {cut}");
        }
        for l in decode_capture(&bytes) {
            match l {
                // Every JSON line is an event; text lines are the CLI's plain stderr.
                Line::Text(t) => assert!(!t.contains("{\"type\""), "{name}: {t}"),
                Line::TooLong { .. } => panic!("{name}"),
                Line::Event(Event::Unknown(v)) => panic!("{name}: unknown {v}"),
                Line::Event(_) => {}
            }
        }
    }
}

#[test]
fn real_exit_sequence_followed_by_json_on_the_same_line_is_still_an_event() {
    let lines = decode_capture(&pty_capture("mcp-approval-unreachable"));
    assert!(lines.iter().any(|l| matches!(l, Line::Event(Event::User(m))
        if matches!(m.content.first(), Some(ContentBlock::ToolResult { .. })))));
    assert!(lines.iter().any(|l| matches!(l, Line::Text(t) if t.contains("not found"))));
}

#[test]
fn real_refusal_is_one_clean_text_line() {
    let lines = decode_capture(&pty_capture("bypass-refused"));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let Line::Text(t) = &lines[0] else { panic!() };
    assert!(t.starts_with("--dangerously-skip-permissions cannot be used with root"), "{t:?}");
}

#[test]
fn real_api_retry_and_tool_call_shapes() {
    let lines = decode_capture(&pty_capture("api-retry"));
    let retries: Vec<&ApiRetry> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Event(Event::System(SystemEvent { kind: SystemKind::ApiRetry(r), .. })) => {
                Some(r)
            }
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 2);
    assert!(retries.iter().all(|r| r.retry_delay_ms.is_some() && r.error_status.is_some()));

    let lines = decode_capture(&pty_capture("tool-call"));
    assert!(lines.iter().any(|l| matches!(
        l,
        Line::Event(Event::Stream(StreamEvent { kind: StreamKind::InputJsonDelta { .. }, .. }))
    )));
    let result = lines.iter().find_map(|l| match l {
        Line::Event(Event::Result(r)) => Some(r),
        _ => None,
    });
    assert_eq!(result.and_then(|r| r.num_turns), Some(2));

    let lines = decode_capture(&pty_capture("permission-denial"));
    let result = lines.iter().find_map(|l| match l {
        Line::Event(Event::Result(r)) => Some(r),
        _ => None,
    });
    assert_eq!(result.map(|r| r.permission_denials[0].tool_name.as_str()), Some("Bash"));
}
