"""Drives Debian's Chromium through chromedriver (W3C WebDriver, standard library
only) against a `plan serve` page, for tests/serve.rs:

    python3 tests/browser.py BASE_URL RUN_ID GATE NEXT SCREENSHOT.png [TOKEN]

With TOKEN (a server started with --token), first types it into the page's form.
Opens the run list and the run's page, waits for gate node GATE to show `waiting`,
clicks it and then Approve, waits (without reloading) for node NEXT and the run to
show `succeeded`, takes a screenshot, and prints what it saw as JSON.

    python3 tests/browser.py --read BASE_URL RUN_ID NODE

Opens the run's page, clicks node NODE, and prints the text of the feedback rounds
and of the node's panel (its checks) as JSON.
"""

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.request
import zlib


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["chromedriver", f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 20
        while True:
            try:
                self.call("GET", "/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}").get("value")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.1)
        raise SystemExit(f"timed out waiting for {what}; page: {self.js('return document.body.innerText')}")

    def click(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        self.s("POST", f"/element/{next(iter(el.values()))}/click", {})

    def close(self):
        try:
            self.s("DELETE", "")
        finally:
            self.proc.kill()


def states(d):
    return d.js("const o = {}; for (const g of document.querySelectorAll('svg .node')) o[g.dataset.node] = g.dataset.state; return o;")


def fills(d):
    """The colour each node is painted, as the browser computed it."""
    return d.js("const o = {}; for (const g of document.querySelectorAll('svg .node')) o[g.dataset.node] = getComputedStyle(g.querySelector('rect')).fill; return o;")


def colours(png):
    """Distinct byte values of the decoded scanlines: a blank page has very few."""
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


def read(base, run, node):
    d = Driver()
    try:
        d.go(f"{base}/runs/{run}")
        d.wait(f"return document.querySelector('g[data-node=\"{node}\"]')", f"node {node}")
        feedback = d.wait("const f = document.getElementById('feedback'); return f && f.innerText;", "the feedback rounds")
        d.click(f'g[data-node="{node}"] rect')
        panel = d.wait("const p = document.getElementById('panel'); return p && p.querySelector('h2') && p.innerText;", "the node's panel")
    finally:
        d.close()
    print(json.dumps({"feedback": feedback, "panel": panel}))


def main():
    if sys.argv[1] == "--read":
        return read(*sys.argv[2:5])
    base, run, gate, after, shot = sys.argv[1:6]
    token = sys.argv[6] if len(sys.argv) > 6 else None
    d = Driver()
    seen = {}
    try:
        d.go(base + "/")
        if token:
            seen["asked"] = d.wait("const f = document.getElementById('token'); return f && document.querySelector('h1').textContent;", "the token form")
            d.js("document.getElementById('token').value = arguments[0];", token)
            d.click("#use-token")
        seen["list"] = d.wait(f"const r = document.querySelector('tr[data-run=\"{run}\"] [data-state]'); return r && r.dataset.state;", "the run in the list")
        d.go(f"{base}/runs/{run}")
        d.wait(f"const g = document.querySelector('g[data-node=\"{gate}\"]'); return g && g.dataset.state === 'waiting';", f"{gate} waiting")
        seen["before"] = states(d)
        seen["before_fill"] = fills(d)
        seen["title"] = d.js("return document.querySelector('h1').textContent")
        d.click(f'g[data-node="{gate}"] rect')
        seen["gate_message"] = d.wait("const b = document.querySelector('.gate pre'); return b && b.textContent;", "the gate panel")
        d.click("#approve")
        d.wait(f"const g = document.querySelector('g[data-node=\"{after}\"]'); return g && g.dataset.state === 'succeeded';", f"{after} succeeded")
        d.wait("const s = document.querySelector('#run-state [data-state]'); return s && s.dataset.state === 'succeeded';", "the run succeeded")
        seen["after"] = states(d)
        seen["after_fill"] = fills(d)
        seen["reloaded"] = d.js("return performance.getEntriesByType('navigation').length !== 1 || performance.getEntriesByType('navigation')[0].type === 'reload'")
        png = base64.b64decode(d.s("GET", "/screenshot"))
        with open(shot, "wb") as f:
            f.write(png)
        seen["screenshot_bytes"] = len(png)
        seen["screenshot_colours"] = colours(png)
    finally:
        d.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
