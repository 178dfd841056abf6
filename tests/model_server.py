#!/usr/bin/env python3
"""A scripted stand-in for the model APIs that coding-agent CLIs call, on 127.0.0.1.

Serves the Anthropic Messages API (Claude Code, server-sent events), the OpenAI
Responses API (Codex) and OpenAI Chat Completions (aider). Each agent run asks it for
a few turns; it answers from a script: read the file, edit it, then a final message,
with the usage numbers the script gives. Standard library only; nothing leaves the
machine.

    python3 tests/model_server.py --script script.json --log requests.jsonl

prints `port N` on its first line once it listens. The script (JSON):

    {"edits": [{"file": "greeting.txt", "old": "hello", "new": "goodbye", "when": "optional text"}],
     "reply": "done", "usage": {"input": 30, "output": 15},
     "edit_only_on_retry": false, "error": null}

`edit_only_on_retry`: the first attempt answers without editing; an attempt whose
prompt says the attempt before failed edits. An edit with "when" is made only for
prompts that contain its text, one with "unless" only for prompts that do not: a
wrong edit first (`"unless": "AssertionError"`), the right one once the prompt carries
the failing check's output (`"when": "AssertionError"`); a candidate's own edit
(`"when": "candidate 2"`). `error`: {"status": 500, "message": ...}
answers every model request with that HTTP error. `replies`: [{"when": TEXT, "reply":
...}] answers with the first reply whose TEXT is in the prompt (else `reply`).

Usage may carry prompt-cache figures: {"input": 30, "output": 15, "cache_write": 100,
"cache_read": 200} (Anthropic reports them beside `input_tokens`; OpenAI counts cached
tokens inside its input). Limits, as a provider's: `delay` (seconds each model answer
takes), `max_concurrent` (more model requests at once are answered 429 with
`retry-after`), `rpm` ({"limit": N, "window": seconds}: N model requests per window,
announced in `x-ratelimit-*` and `anthropic-ratelimit-*` headers, 429 beyond).

Each request is logged when answered: path, body, the key it came with (`auth`), its
status, arrival and end times, and how many model requests were being served when it
arrived (`in_flight`, itself not counted).
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRY_MARK = "The attempt before failed"


class Script:
    def __init__(self, data):
        self.edits = data.get("edits", [])
        self.reply = data.get("reply", "done")
        usage = data.get("usage", {})
        self.input_tokens = int(usage.get("input", 30))
        self.output_tokens = int(usage.get("output", 15))
        self.edit_only_on_retry = bool(data.get("edit_only_on_retry", False))
        self.error = data.get("error")
        self.replies = data.get("replies", [])
        self.cache_write = int(usage.get("cache_write", 0))
        self.cache_read = int(usage.get("cache_read", 0))
        self.delay = float(data.get("delay", 0))
        self.max_concurrent = data.get("max_concurrent")
        self.rpm = data.get("rpm")
        self.retry_after = data.get("retry_after", 1)

    def reply_for(self, prompt):
        for r in self.replies:
            if r.get("when", "") in prompt:
                return r.get("reply", self.reply)
        return self.reply

    def edits_for(self, prompt):
        if self.edit_only_on_retry and RETRY_MARK not in prompt:
            return []
        # An edit with "when" is made only for prompts that contain its text; one
        # with "unless" only for prompts that do not.
        return [e for e in self.edits
                if e.get("when", "") in prompt and not (e.get("unless") and e["unless"] in prompt)]


def text_of(content):
    """The text of a message's content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    out = []
    for block in content or []:
        if isinstance(block, dict):
            if isinstance(block.get("text"), str):
                out.append(block["text"])
            elif block.get("type") == "tool_result":
                out.append(text_of(block.get("content")))
    return "\n".join(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "model-stand-in"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        body = json.dumps({"data": [{"id": "mock", "type": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        raw = self.read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?")[0]
        auth = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
        server = self.server
        script = server.script
        model_request = path.endswith(("/messages", "/responses", "/chat/completions"))
        arrived = time.time()
        entry = {"path": path, "body": body, "auth": auth, "arrived": arrived}
        self.limit_headers = []
        if model_request:
            refused = server.admit(entry)
            if refused is not None:
                self.limit_headers = refused
                entry.update(status=429, done=time.time())
                server.record(entry)
                return self.json(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "rate limited"}},
                                 extra=[("retry-after", str(script.retry_after))] + refused)
            self.limit_headers = server.announce()
        try:
            if model_request and script.delay:
                time.sleep(script.delay)
            status = self.answer(path, body, script)
        finally:
            if model_request:
                server.leave()
        entry.update(status=status, done=time.time())
        server.record(entry)

    def answer(self, path, body, script):
        if script.error:
            status = int(script.error.get("status", 500))
            self.json(status, {"type": "error", "error": {"type": "api_error", "message": script.error.get("message", "error")}})
            return status
        if path.endswith("/messages"):
            self.anthropic(body, script)
        elif path.endswith("/responses"):
            self.openai_responses(body, script)
        elif path.endswith("/chat/completions"):
            self.chat(body, script)
        elif path.endswith("/count_tokens"):
            self.json(200, {"input_tokens": 10})
        else:
            self.json(404, {"error": {"message": f"no route {path}"}})
            return 404
        return 200

    def json(self, status, value, extra=None):
        data = json.dumps(value).encode()
        self.send_response(status)
        for k, v in (extra if extra is not None else getattr(self, "limit_headers", [])):
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def sse(self, events):
        self.send_response(200)
        for k, v in getattr(self, "limit_headers", []):
            self.send_header(k, v)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in events:
            chunk = (f"event: {name}\n" if name else "") + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
            self.wfile.write(chunk.encode())
            self.wfile.flush()
        self.close_connection = True

    # --- Anthropic Messages (Claude Code) -------------------------------------------
    def anthropic(self, body, script):
        messages = body.get("messages", [])
        prompt = "\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "user")
        system = text_of(body.get("system"))
        found = re.search(r"Primary working directory: (\S+)", system + "\n" + prompt)
        cwd = found.group(1) if found else "."
        # Turns since the last prompt (a user message that is not only tool results):
        # a resumed session starts its script again.
        def is_prompt(m):
            content = m.get("content")
            if m.get("role") != "user":
                return False
            if isinstance(content, str):
                return True
            return any(isinstance(b, dict) and b.get("type") == "text" and "<system-reminder>" not in b.get("text", "")
                       for b in content or [])
        last = max((i for i, m in enumerate(messages) if is_prompt(m)), default=0)
        step = sum(1 for m in messages[last:] if m.get("role") == "assistant")
        plan = []
        if body.get("tools"):
            for e in script.edits_for(prompt):
                full = e["file"] if e["file"].startswith("/") else f"{cwd}/{e['file']}"
                plan.append(("Read", {"file_path": full}))
                plan.append(("Edit", {"file_path": full, "old_string": e["old"], "new_string": e["new"]}))
        usage_in, usage_out = script.input_tokens, script.output_tokens
        if step < len(plan):
            name, args = plan[step]
            block = {"type": "tool_use", "id": f"toolu_{len(messages)}_{step}", "name": name, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": script.reply_for(prompt)}
            stop = "end_turn"
        if not body.get("stream"):
            content = dict(block, input=json.loads(delta["partial_json"])) if stop == "tool_use" else {"type": "text", "text": script.reply_for(prompt)}
            return self.json(200, {"id": f"msg_{step}", "type": "message", "role": "assistant", "model": body.get("model", "mock"),
                                   "content": [content], "stop_reason": stop, "stop_sequence": None,
                                   "usage": {"input_tokens": usage_in, "output_tokens": usage_out,
                                             "cache_creation_input_tokens": script.cache_write,
                                             "cache_read_input_tokens": script.cache_read}})
        self.sse([
            ("message_start", {"type": "message_start", "message": {
                "id": f"msg_{step}", "type": "message", "role": "assistant", "model": body.get("model", "mock"),
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": usage_in, "output_tokens": 0,
                          "cache_creation_input_tokens": script.cache_write,
                          "cache_read_input_tokens": script.cache_read}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": usage_out}}),
            ("message_stop", {"type": "message_stop"}),
        ])

    # --- OpenAI Responses (Codex) ---------------------------------------------------
    def openai_responses(self, body, script):
        items = body.get("input", [])
        prompt = "\n".join(text_of(i.get("content")) for i in items if i.get("role") == "user")
        last = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=0)
        step = sum(1 for i in items[last:] if i.get("type") in ("custom_tool_call_output", "function_call_output"))
        edits = script.edits_for(prompt)
        if step == 0 and edits:
            lines = ["*** Begin Patch"]
            for e in edits:
                lines += [f"*** Update File: {e['file']}", "@@", f"-{e['old']}", f"+{e['new']}"]
            lines.append("*** End Patch")
            item = {"type": "custom_tool_call", "id": "ctc_0", "status": "completed", "call_id": "call_0",
                    "name": "apply_patch", "input": "\n".join(lines) + "\n"}
            events = [("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}),
                      ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item})]
        else:
            item = {"type": "message", "id": "msg_0", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": script.reply_for(prompt), "annotations": []}]}
            part = {"type": "output_text", "text": "", "annotations": []}
            events = [
                ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                                "item": dict(item, content=[], status="in_progress")}),
                ("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_0",
                                                 "output_index": 0, "content_index": 0, "part": part}),
                ("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_0",
                                                "output_index": 0, "content_index": 0, "delta": script.reply_for(prompt)}),
                ("response.output_text.done", {"type": "response.output_text.done", "item_id": "msg_0",
                                               "output_index": 0, "content_index": 0, "text": script.reply_for(prompt)}),
                ("response.content_part.done", {"type": "response.content_part.done", "item_id": "msg_0",
                                                "output_index": 0, "content_index": 0,
                                                "part": dict(part, text=script.reply_for(prompt))}),
                ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
            ]
        response = {"id": f"resp_{step}", "object": "response", "status": "in_progress", "model": body.get("model", "mock"), "output": []}
        total_in = script.input_tokens + script.cache_read
        usage = {"input_tokens": total_in, "input_tokens_details": {"cached_tokens": script.cache_read},
                 "output_tokens": script.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": total_in + script.output_tokens}
        done = dict(response, status="completed", output=[item], usage=usage)
        self.sse([("response.created", {"type": "response.created", "response": response}),
                  ("response.in_progress", {"type": "response.in_progress", "response": response})]
                 + events + [("response.completed", {"type": "response.completed", "response": done})])

    # --- OpenAI Chat Completions (aider) ---------------------------------------------
    def chat(self, body, script):
        messages = body.get("messages", [])
        users = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
        system = text_of(messages[0].get("content")) if messages else ""
        if "commit message" in system.lower():
            answer = "fix: apply the requested change"
        else:
            blocks = [f"{e['file']}\n<<<<<<< SEARCH\n{e['old']}\n=======\n{e['new']}\n>>>>>>> REPLACE\n"
                      for e in script.edits_for("\n".join(users))]
            last = users[-1] if users else ""
            answer = script.reply if (not blocks or "failed to match" in last) else "\n".join(blocks) + "\n" + script.reply
        chunk = {"id": "chatcmpl-0", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", "mock")}
        total_in = script.input_tokens + script.cache_read
        usage = {"prompt_tokens": total_in, "completion_tokens": script.output_tokens,
                 "total_tokens": total_in + script.output_tokens,
                 "prompt_tokens_details": {"cached_tokens": script.cache_read}}
        if not body.get("stream"):
            return self.json(200, dict(chunk, object="chat.completion", usage=usage, choices=[
                {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]))
        events = [
            (None, dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": answer}, "finish_reason": None}])),
            (None, dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        ]
        # As OpenAI: usage only when asked for, in a last chunk of its own.
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append((None, dict(chunk, choices=[], usage=usage)))
        self.sse(events + [(None, "[DONE]")])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script, log):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = script
        self.log_path = log
        self.lock = threading.Lock()
        self.in_flight = 0
        self.window = []  # arrival times of admitted model requests (rpm)

    def admit(self, entry):
        """Counts a model request in; the rate-limit headers of a refusal, or None."""
        s = self.script
        with self.lock:
            entry["in_flight"] = self.in_flight
            now = time.time()
            if s.rpm:
                self.window = [t for t in self.window if now - t < s.rpm["window"]]
                if len(self.window) >= s.rpm["limit"]:
                    return self.limits(now)
            if s.max_concurrent is not None and self.in_flight >= s.max_concurrent:
                return []
            self.in_flight += 1
            if s.rpm:
                self.window.append(now)
            return None

    def leave(self):
        with self.lock:
            self.in_flight -= 1

    def announce(self):
        with self.lock:
            return self.limits(time.time()) if self.script.rpm else []

    def limits(self, now):
        rpm = self.script.rpm
        left = max(0, rpm["limit"] - len(self.window))
        # As providers announce it: when the limit is fully replenished.
        reset = (self.window[-1] + rpm["window"] - now) if self.window else 0
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + reset)) + f".{int(((now + reset) % 1) * 1000):03d}Z"
        return [("x-ratelimit-limit-requests", str(rpm["limit"])), ("x-ratelimit-remaining-requests", str(left)),
                ("x-ratelimit-reset-requests", f"{int(max(reset, 0) * 1000)}ms"),
                ("anthropic-ratelimit-requests-limit", str(rpm["limit"])),
                ("anthropic-ratelimit-requests-remaining", str(left)),
                ("anthropic-ratelimit-requests-reset", at)]

    def record(self, entry):
        if not self.log_path:
            return
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", help="the script, a JSON file")
    ap.add_argument("--log", help="append every request here (JSONL)")
    args = ap.parse_args()
    data = {}
    if args.script:
        with open(args.script) as f:
            data = json.load(f)
    server = Server(Script(data), args.log)
    print(f"port {server.server_address[1]}", flush=True)
    # Ends with its parent: when standard input closes.
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
