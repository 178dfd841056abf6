#!/usr/bin/env python3
"""A stand-in for the parts of GitHub's REST API that `plan` calls when it publishes:
pull requests (list by head, create) and issue comments (list, create), with state,
and a collaborator's permission (`write` for the users of `--writers`, else `read`),
on 127.0.0.1. Standard library only.

    python3 tests/github_server.py --log calls.jsonl

prints `port N` on its first line once it listens; every call is logged (method,
path, body); it ends when its standard input closes.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        s = self.server
        s.record("GET", url.path, None)
        with s.lock:
            if len(parts) == 6 and parts[3] == "collaborators" and parts[5] == "permission":
                return self.answer(200, {"permission": "write" if parts[4] in s.writers else "read"})
            if len(parts) == 8 and parts[3] == "pulls" and parts[5] == "reviews" and parts[7] == "comments":
                return self.answer(200, [])
            if len(parts) == 4 and parts[3] == "pulls":
                head = parse_qs(url.query).get("head", [""])[0].split(":")[-1]
                return self.answer(200, [p for p in s.pulls if p["head"]["ref"] == head])
            if len(parts) == 6 and parts[3] == "issues" and parts[5] == "comments":
                return self.answer(200, [c for c in s.comments if c["issue"] == int(parts[4])])
        self.answer(404, {"message": "Not Found"})

    def do_POST(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        s = self.server
        s.record("POST", url.path, body)
        with s.lock:
            if len(parts) == 4 and parts[3] == "pulls":
                n = len(s.pulls) + 1
                pr = {"number": n, "html_url": f"https://github.com/{parts[1]}/{parts[2]}/pull/{n}",
                      "head": {"ref": body.get("head")}, "title": body.get("title")}
                s.pulls.append(pr)
                return self.answer(201, pr)
            if len(parts) == 6 and parts[3] == "issues" and parts[5] == "comments":
                n = len(s.comments) + 1
                c = {"id": n, "issue": int(parts[4]), "body": body.get("body", ""),
                     "html_url": f"https://github.com/{parts[1]}/{parts[2]}/issues/{parts[4]}#issuecomment-{n}"}
                s.comments.append(c)
                return self.answer(201, c)
        self.answer(404, {"message": "Not Found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, log):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.pulls, self.comments, self.log_path = [], [], log
        self.writers = set()

    def record(self, method, path, body):
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(json.dumps({"method": method, "path": path, "body": body}) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log")
    ap.add_argument("--writers", default="alice", help="users with write access, comma-separated")
    args = ap.parse_args()
    server = Server(args.log)
    server.writers = set(args.writers.split(","))
    print(f"port {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
