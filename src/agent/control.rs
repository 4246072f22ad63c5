//! The CLI's control protocol over stream-json, as pure data: the lines agentmux writes to a
//! live `claude -p --input-format stream-json` process (user messages, control requests, answers
//! to the CLI's own requests) and the typed reading of the control lines it writes back.
//!
//! Shapes, as the real CLI (2.1.197 and 2.1.332) writes and reads them:
//! - ours: `{"type":"control_request","request_id":ID,"request":{"subtype":...}}`, answered by
//!   `{"type":"control_response","response":{"subtype":"success","request_id":ID,"response":{..}}}`
//!   or `{"subtype":"error","request_id":ID,"error":"...","error_code":"unsupported_request"}`
//!   (`response` may be missing: set_model answers with the subtype and id alone);
//! - the CLI's: a `control_request` of subtype `can_use_tool` (tool_name, input, tool_use_id,
//!   permission_suggestions; 2.1.332 adds display_name, description, blocked_path and
//!   `requires_user_interaction`), which waits for our `control_response`, and a
//!   `control_cancel_request` naming one it no longer waits for.

use serde_json::{json, Map, Value};

/// A request agentmux sends; the CLI answers each by its request id.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlRequest {
    Initialize,
    /// Ends the running turn; the conversation goes on with the next message.
    Interrupt,
    /// `None` goes back to the CLI's default model.
    SetModel(Option<String>),
    /// A mode as the CLI names it (see [`permission_mode_name`]).
    SetPermissionMode(String),
    GetContextUsage,
}

impl ControlRequest {
    /// The protocol's name of the request.
    pub fn subtype(&self) -> &'static str {
        match self {
            ControlRequest::Initialize => "initialize",
            ControlRequest::Interrupt => "interrupt",
            ControlRequest::SetModel(_) => "set_model",
            ControlRequest::SetPermissionMode(_) => "set_permission_mode",
            ControlRequest::GetContextUsage => "get_context_usage",
        }
    }

    fn body(&self) -> Value {
        let subtype = self.subtype();
        match self {
            ControlRequest::SetModel(model) => json!({ "subtype": subtype, "model": model }),
            ControlRequest::SetPermissionMode(mode) => json!({ "subtype": subtype, "mode": mode }),
            _ => json!({ "subtype": subtype }),
        }
    }
}

/// One line (with its `\n`) that starts a turn, or queues one behind the running turn.
pub fn user_message_line(text: &str) -> String {
    line(json!({ "type": "user", "message": { "role": "user", "content": text } }))
}

/// One line asking `request` under `request_id`.
pub fn control_request_line(request_id: &str, request: &ControlRequest) -> String {
    line(json!({ "type": "control_request", "request_id": request_id, "request": request.body() }))
}

/// How agentmux answers a tool permission request.
#[derive(Clone, Debug, PartialEq)]
pub enum PermissionAnswer {
    /// Run the tool with this input (the request's own, or changed: AskUserQuestion's answers).
    Allow { updated_input: Value },
    /// Do not run it; `message` goes back to the model as the tool's error.
    Deny { message: String },
}

/// One line answering the CLI's request `request_id` about a tool.
pub fn permission_answer_line(request_id: &str, answer: &PermissionAnswer) -> String {
    let response = match answer {
        PermissionAnswer::Allow { updated_input } => {
            json!({ "behavior": "allow", "updatedInput": updated_input })
        }
        PermissionAnswer::Deny { message } => json!({ "behavior": "deny", "message": message }),
    };
    line(json!({
        "type": "control_response",
        "response": { "subtype": "success", "request_id": request_id, "response": response },
    }))
}

/// One line refusing a CLI request agentmux does not serve (hooks, SDK MCP servers, ...), so
/// the CLI is not left waiting for it.
pub fn refusal_line(request_id: &str, error: &str) -> String {
    line(json!({
        "type": "control_response",
        "response": { "subtype": "error", "request_id": request_id, "error": error },
    }))
}

fn line(v: Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// A control line the CLI wrote, read.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// The answer to one of our requests.
    Response { request_id: String, outcome: Result<Value, Refusal> },
    /// The CLI asks whether a tool may run, and waits.
    Permission(PermissionRequest),
    /// The CLI asks something agentmux does not serve (it must still be answered).
    OtherRequest { request_id: String, subtype: String },
    /// The CLI no longer waits for its request `request_id`.
    Cancel { request_id: String },
}

/// The CLI's error answer to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    /// Set when this CLI does not know the request at all (it will never answer it otherwise).
    pub unsupported: bool,
}

/// A `can_use_tool` request.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionRequest {
    pub request_id: String,
    pub tool_name: String,
    /// The input as the CLI sent it; answer `Allow` with this (or a changed copy).
    pub input: Value,
    pub tool_use_id: Option<String>,
    /// Rules the CLI proposes for "allow always" (kept as sent).
    pub suggestions: Vec<Value>,
    /// 2.1.332 marks requests only a person can answer (questions, plan approval).
    pub requires_user_interaction: bool,
    pub description: Option<String>,
    pub blocked_path: Option<String>,
}

impl PermissionRequest {
    /// What the call asks for: the CLI's input, or, when that is empty (ExitPlanMode in 2.1.332
    /// sends `{}`), the input of the assistant's tool_use block with the same id.
    pub fn shown_input<'a>(&'a self, call_input: Option<&'a Value>) -> &'a Value {
        let empty = match &self.input {
            Value::Object(m) => m.is_empty(),
            Value::Null => true,
            _ => false,
        };
        match call_input {
            Some(call) if empty => call,
            _ => &self.input,
        }
    }
}

/// The type of a stream-json object that is a control line, if it is one.
pub fn is_control(v: &Value) -> bool {
    matches!(
        v.get("type").and_then(Value::as_str),
        Some("control_request" | "control_response" | "control_cancel_request")
    )
}

/// Reads a control line; `None` for anything else or a control line too broken to route.
pub fn parse(v: &Value) -> Option<Incoming> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    match v.get("type").and_then(Value::as_str)? {
        "control_response" => {
            let r = v.get("response")?;
            let request_id = s(r, "request_id")?;
            let outcome = if s(r, "subtype").as_deref() == Some("error") {
                let message = s(r, "error").unwrap_or_else(|| "no reason given".into());
                let unsupported = s(r, "error_code").as_deref() == Some("unsupported_request")
                    || message.starts_with("Unsupported control request");
                Err(Refusal { message, unsupported })
            } else {
                Ok(r.get("response").cloned().unwrap_or(Value::Null))
            };
            Some(Incoming::Response { request_id, outcome })
        }
        "control_request" => {
            let request_id = s(v, "request_id")?;
            let r = v.get("request")?;
            let subtype = s(r, "subtype").unwrap_or_default();
            if subtype != "can_use_tool" {
                return Some(Incoming::OtherRequest { request_id, subtype });
            }
            Some(Incoming::Permission(PermissionRequest {
                request_id,
                tool_name: s(r, "tool_name").unwrap_or_default(),
                input: r.get("input").cloned().unwrap_or_else(|| Value::Object(Map::new())),
                tool_use_id: s(r, "tool_use_id"),
                suggestions: r
                    .get("permission_suggestions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                requires_user_interaction: r
                    .get("requires_user_interaction")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                description: s(r, "description"),
                blocked_path: s(r, "blocked_path"),
            }))
        }
        "control_cancel_request" => Some(Incoming::Cancel { request_id: s(v, "request_id")? }),
        _ => None,
    }
}

/// A CLI version as three numbers ("2.1.332 (Claude Code)" -> 2.1.332).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CliVersion(pub u32, pub u32, pub u32);

impl CliVersion {
    pub fn parse(s: &str) -> Option<CliVersion> {
        let word = s.split_whitespace().next()?;
        let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
        let v = CliVersion(parts.next()??, parts.next()??, parts.next()??);
        Some(v)
    }
}

/// The first version seen to name the default permission mode `manual` (2.1.197 refuses that
/// name; 2.1.332 takes both).
const MANUAL_SINCE: CliVersion = CliVersion(2, 1, 332);

/// How `version` of the CLI names `mode`; an unknown version gets the old names, which every
/// version measured takes.
pub fn permission_mode_name(
    mode: crate::agent::PermissionMode,
    version: Option<CliVersion>,
) -> &'static str {
    use crate::agent::PermissionMode;
    match mode {
        PermissionMode::Default if version.is_some_and(|v| v >= MANUAL_SINCE) => "manual",
        other => other.as_arg(),
    }
}

/// The context window use a `get_context_usage` answer reports: (tokens used, window size).
pub fn context_usage(answer: &Value) -> Option<(u64, u64)> {
    let used = answer.get("totalTokens").and_then(Value::as_u64)?;
    let max = answer.get("maxTokens").and_then(Value::as_u64)?;
    Some((used, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::PermissionMode;

    fn parsed(line: &str) -> Incoming {
        let v: Value = serde_json::from_str(line).expect("test JSON");
        assert!(is_control(&v));
        parse(&v).unwrap_or_else(|| panic!("not read: {line}"))
    }

    #[test]
    fn outgoing_lines_are_one_json_object_each() {
        let cases = [
            (
                user_message_line("hi\n\"there\""),
                json!({"type":"user","message":{"role":"user","content":"hi\n\"there\""}}),
            ),
            (
                control_request_line("r1", &ControlRequest::Interrupt),
                json!({"type":"control_request","request_id":"r1","request":{"subtype":"interrupt"}}),
            ),
            (
                control_request_line("r2", &ControlRequest::SetModel(Some("sonnet".into()))),
                json!({"type":"control_request","request_id":"r2","request":{"subtype":"set_model","model":"sonnet"}}),
            ),
            (
                control_request_line("r3", &ControlRequest::SetModel(None)),
                json!({"type":"control_request","request_id":"r3","request":{"subtype":"set_model","model":null}}),
            ),
            (
                control_request_line("r4", &ControlRequest::SetPermissionMode("plan".into())),
                json!({"type":"control_request","request_id":"r4","request":{"subtype":"set_permission_mode","mode":"plan"}}),
            ),
            (
                permission_answer_line(
                    "c1",
                    &PermissionAnswer::Allow { updated_input: json!({"a":1}) },
                ),
                json!({"type":"control_response","response":{"subtype":"success","request_id":"c1","response":{"behavior":"allow","updatedInput":{"a":1}}}}),
            ),
            (
                permission_answer_line("c2", &PermissionAnswer::Deny { message: "no".into() }),
                json!({"type":"control_response","response":{"subtype":"success","request_id":"c2","response":{"behavior":"deny","message":"no"}}}),
            ),
            (
                refusal_line("c3", "not served"),
                json!({"type":"control_response","response":{"subtype":"error","request_id":"c3","error":"not served"}}),
            ),
        ];
        for (line, want) in cases {
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "{line}");
            let got: Value = serde_json::from_str(&line).expect("valid JSON");
            assert_eq!(got, want);
        }
    }

    #[test]
    fn responses_are_read_by_id_with_or_without_a_body() {
        let cases = [
            (
                r#"{"type":"control_response","response":{"subtype":"success","request_id":"r3"}}"#,
                "r3",
                Ok(Value::Null),
            ),
            (
                r#"{"type":"control_response","response":{"subtype":"success","request_id":"r2","response":{"still_queued":[]}}}"#,
                "r2",
                Ok(json!({"still_queued":[]})),
            ),
            (
                r#"{"type":"control_response","response":{"subtype":"error","request_id":"r5","error":"Unsupported control request subtype: x","error_code":"unsupported_request"}}"#,
                "r5",
                Err(Refusal {
                    message: "Unsupported control request subtype: x".into(),
                    unsupported: true,
                }),
            ),
            (
                r#"{"type":"control_response","response":{"subtype":"error","request_id":"r6","error":"busy"}}"#,
                "r6",
                Err(Refusal { message: "busy".into(), unsupported: false }),
            ),
            (
                r#"{"type":"control_response","response":{"subtype":"error","request_id":"r7"}}"#,
                "r7",
                Err(Refusal { message: "no reason given".into(), unsupported: false }),
            ),
        ];
        for (line, id, want) in cases {
            assert_eq!(parsed(line), Incoming::Response { request_id: id.into(), outcome: want });
        }
    }

    #[test]
    fn a_permission_request_of_either_version_is_read() {
        // 2.1.197
        let old = parsed(
            r#"{"type":"control_request","request_id":"a","request":{"subtype":"can_use_tool","tool_name":"ExitPlanMode","input":{"plan":"1. x"},"tool_use_id":"t1","permission_suggestions":[{"type":"setMode"}]}}"#,
        );
        let Incoming::Permission(old) = old else { panic!("{old:?}") };
        assert_eq!(
            (old.tool_name.as_str(), old.tool_use_id.as_deref()),
            ("ExitPlanMode", Some("t1"))
        );
        assert_eq!(old.suggestions.len(), 1);
        assert!(!old.requires_user_interaction);
        let call = json!({"plan":"from the assistant"});
        assert_eq!(old.shown_input(Some(&call)), &json!({"plan":"1. x"}));
        // 2.1.332: the plan is not in the request; the assistant's tool_use block has it.
        let new = parsed(
            r#"{"type":"control_request","request_id":"b","request":{"subtype":"can_use_tool","tool_name":"ExitPlanMode","display_name":"ExitPlanMode","input":{},"tool_use_id":"t2","requires_user_interaction":true,"extra":1}}"#,
        );
        let Incoming::Permission(new) = new else { panic!("{new:?}") };
        assert!(new.requires_user_interaction);
        assert_eq!(new.input, json!({}));
        assert_eq!(new.shown_input(Some(&call)), &call);
        assert_eq!(new.shown_input(None), &json!({}));
    }

    #[test]
    fn other_requests_and_cancels_are_named_and_junk_is_not_routed() {
        assert_eq!(
            parsed(
                r#"{"type":"control_request","request_id":"h","request":{"subtype":"hook_callback"}}"#
            ),
            Incoming::OtherRequest { request_id: "h".into(), subtype: "hook_callback".into() }
        );
        assert_eq!(
            parsed(r#"{"type":"control_cancel_request","request_id":"a"}"#),
            Incoming::Cancel { request_id: "a".into() }
        );
        for junk in [
            r#"{"type":"control_response","response":{"subtype":"success"}}"#,
            r#"{"type":"control_response"}"#,
            r#"{"type":"control_request","request":{"subtype":"can_use_tool"}}"#,
            r#"{"type":"control_cancel_request"}"#,
            r#"{"type":"result"}"#,
        ] {
            let v: Value = serde_json::from_str(junk).expect("test JSON");
            assert_eq!(parse(&v), None, "{junk}");
        }
    }

    #[test]
    fn the_default_mode_is_named_per_version() {
        let v197 = CliVersion::parse("2.1.197 (Claude Code)");
        let v332 = CliVersion::parse("2.1.332");
        assert_eq!(v197, Some(CliVersion(2, 1, 197)));
        assert_eq!(CliVersion::parse("x.1.2"), None);
        assert_eq!(CliVersion::parse(""), None);
        let cases = [
            (PermissionMode::Default, None, "default"),
            (PermissionMode::Default, v197, "default"),
            (PermissionMode::Default, v332, "manual"),
            (PermissionMode::Default, Some(CliVersion(3, 0, 0)), "manual"),
            (PermissionMode::Plan, v332, "plan"),
            (PermissionMode::AcceptEdits, v197, "acceptEdits"),
        ];
        for (mode, version, want) in cases {
            assert_eq!(permission_mode_name(mode, version), want, "{mode:?} {version:?}");
        }
    }

    #[test]
    fn context_usage_is_read_from_the_answer() {
        let answer = json!({"totalTokens": 40, "maxTokens": 1_000_000, "percentage": 0});
        assert_eq!(context_usage(&answer), Some((40, 1_000_000)));
        assert_eq!(context_usage(&json!({"totalTokens": 1})), None);
    }
}
