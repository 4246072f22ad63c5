#!/usr/bin/env python3
"""A minimal MCP stdio server with one permission-prompt tool, `approve`, for recording the
real CLI's `--permission-prompt-tool` behaviour (see record_fixtures in tests/real_cli.rs).
Usage: mcp_approve.py allow|deny. Answers every request with that decision."""
import json
import sys

decision = sys.argv[1] if len(sys.argv) > 1 else "allow"
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("id") is None:
        continue  # a notification
    method = msg.get("method")
    if method == "initialize":
        result = {
            "protocolVersion": msg.get("params", {}).get("protocolVersion", "2024-11-05"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "agentmux", "version": "0"},
        }
    elif method == "tools/list":
        result = {"tools": [{
            "name": "approve",
            "description": "Ask the user whether a tool call may run",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "tool_name": {"type": "string"},
                    "input": {"type": "object"},
                    "tool_use_id": {"type": "string"},
                },
                "required": ["tool_name", "input"],
            },
        }]}
    elif method == "tools/call":
        args = msg["params"]["arguments"]
        if decision == "allow":
            answer = {"behavior": "allow", "updatedInput": args["input"]}
        else:
            answer = {"behavior": "deny", "message": "denied by the test's approval server"}
        result = {"content": [{"type": "text", "text": json.dumps(answer)}]}
    else:
        reply = {"jsonrpc": "2.0", "id": msg["id"],
                 "error": {"code": -32601, "message": "method not found"}}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
    sys.stdout.flush()
