"""The model gateway, for bench/bench.py: what it adds to a model request (p50 of the
whole answer, and of the time to the first streamed token), measured through `plan
__gateway` and directly against the model stand-in in the same run; and 20 real
coding agents (10 Claude Code, 10 Codex) against a stand-in that serves 3 requests at
once and answers 429 with `retry-after` beyond that — with the gateway and without it
(`gateway: false`), counting failed agents, 429s, and the total time against the ideal
schedule.

    python3 bench/gateway.py [--agents]    # just these rows (--agents: the 20-agent rows too)
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN = os.path.join(ROOT, "target", "release", "plan")
KEY = "sk-bench-real-key"


class StandIn:
    def __init__(self, script, work):
        self.log = os.path.join(work, f"requests-{time.monotonic_ns()}.jsonl")
        path = os.path.join(work, f"script-{time.monotonic_ns()}.json")
        with open(path, "w") as f:
            json.dump(script, f)
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "model_server.py"), "--script", path,
                                      "--log", self.log], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])

    def requests(self):
        if not os.path.exists(self.log):
            return []
        return [json.loads(l) for l in open(self.log) if l.strip()]

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait()


def env_for(port, home):
    env = dict(os.environ)
    env.update(HOME=home, CODEX_HOME=os.path.join(home, ".codex"), ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}",
               OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", ANTHROPIC_API_KEY=KEY, OPENAI_API_KEY=KEY)
    os.makedirs(env["CODEX_HOME"], exist_ok=True)
    with open(os.path.join(env["CODEX_HOME"], "config.toml"), "w") as f:
        f.write(f'model = "gpt-5.5"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
                f'base_url = "http://127.0.0.1:{port}/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n')
    return env


def one(port, path, body, headers):
    """(time to the first streamed token, time to the answer's end), in seconds."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    first = None
    while True:
        line = resp.readline()
        if not line:
            break
        if first is None and (b"_delta" in line or b"output_text.delta" in line or b'"content"' in line):
            first = time.perf_counter() - start
    end = time.perf_counter() - start
    conn.close()
    assert resp.status == 200, resp.status
    return first or end, end


def latency_rows(work, n=300):
    server = StandIn({"reply": "done", "usage": {"input": 30, "output": 15}}, work)
    home = os.path.join(work, "gw-home")
    os.makedirs(home, exist_ok=True)
    gw = subprocess.Popen([PLAN, "__gateway", "--record", os.path.join(work, "gw", "exchanges.jsonl")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env_for(server.port, home))
    info = json.loads(gw.stdout.readline())
    rows = []
    apis = [("Anthropic Messages", "anthropic", "/v1/messages", "claude-opus-4-8", {"x-api-key": info["key"]}),
            ("OpenAI Chat Completions", "openai", "/chat/completions", "gpt-4o-mini",
             {"authorization": "Bearer " + info["key"]})]
    for name, provider, path, model, auth in apis:
        body = json.dumps({"model": model, "stream": True, "max_tokens": 10,
                           "messages": [{"role": "user", "content": "say done"}]})
        base = info["bases"][provider]
        gw_path = base.split(f":{info['port']}", 1)[1] + path
        direct_path = ("/v1" if provider == "openai" else "") + path
        direct, through = [], []
        for i in range(n):
            h = {"content-type": "application/json", **auth}
            # Interleaved: both see the same machine at the same moment.
            direct.append(one(server.port, direct_path, body, {**h, "x-api-key": KEY, "authorization": "Bearer " + KEY}))
            through.append(one(info["port"], gw_path, body, h))
        added = statistics.median(t[1] for t in through) - statistics.median(t[1] for t in direct)
        ttft = statistics.median(t[0] for t in through) - statistics.median(t[0] for t in direct)
        d50 = statistics.median(t[1] for t in direct)
        rows.append((f"one streamed model request ({name}) through the gateway: p50 added latency",
                     f"{added * 1000:.2f} ms", f"{d50 * 1000:.2f} ms direct",
                     f"{statistics.median(t[1] for t in through) / d50:.2f}x",
                     f"time to first token {ttft * 1000:+.2f} ms; {n} each, interleaved; target < 2 ms and within 5 ms"))
    gw.stdin.close()
    gw.wait()
    server.stop()
    return rows


def fan_plan(path, n, gateway):
    agents = "".join(f"    - {{ id: a{i}, runner: {'claude' if i % 2 == 0 else 'codex'}, prompt: \"Say done ({i}).\" }}\n"
                     for i in range(n))
    with open(path, "w") as f:
        f.write(f"version: 1\nname: fan\ncomplexity: complex\nconcurrency: {n}\n"
                f"defaults: {{ timeout: 5m, gateway: {'true' if gateway else 'false'} }}\n"
                f"agent:\n  id: primary\n  pattern: fork-join\n  agents:\n{agents}")


def agent_rows(work, n=20, slots=3, delay=1.5):
    if not (shutil.which("claude") and shutil.which("codex")):
        return [(f"{n} agents against a {slots}-at-once model", "skipped", "", "", "claude or codex not installed")]
    rows = []
    results = {}
    for gateway in (True, False):
        server = StandIn({"reply": "done", "usage": {"input": 30, "output": 15}, "delay": delay,
                          "max_concurrent": slots, "retry_after": 1}, work)
        repo = os.path.join(work, f"fan-{gateway}")
        os.makedirs(repo)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        plan = os.path.join(work, f"fan-{gateway}.yaml")
        fan_plan(plan, n, gateway)
        env = env_for(server.port, os.path.join(work, f"home-{gateway}"))
        start = time.time()
        out = subprocess.run([PLAN, "run", plan, "--json", "-q"], cwd=repo, env=env, capture_output=True, text=True)
        end = time.time()
        wall = end - start
        report = json.loads(out.stdout)
        failed = sum(1 for k, a in report["agents"].items() if k != "primary" and a["status"] != "succeeded")
        reqs = server.requests()
        served = [r for r in reqs if r["status"] == 200 and "in_flight" in r]
        refused = sum(1 for r in reqs if r["status"] == 429)
        peak = max((r["in_flight"] + 1 for r in served), default=0)
        # The ideal: until the first request, the model's slots always busy, then
        # from the last answer to the end.
        first = min(r["arrived"] for r in served) - start if served else 0
        busy = sum(r["done"] - r["arrived"] for r in served) / slots
        last = end - max(r["done"] for r in served) if served else 0
        ideal = first + busy + last
        results[gateway] = (failed, wall, refused, peak, ideal, len(served))
        server.stop()
    (f1, w1, r1, p1, i1, s1), (f0, w0, r0, p0, i0, s0) = results[True], results[False]
    rows.append((f"{n} real agents (Claude Code, Codex) vs a model serving {slots} at once, 429 beyond: failed agents",
                 f"{f1} failed", f"{f0} failed (gateway: false)", "",
                 f"stand-in: {r1} 429s with the gateway (absorbed), {r0} without; most served at once {p1}"))
    rows.append((f"{n} real agents vs a {slots}-at-once model: total time over the ideal schedule",
                 f"{w1:.1f}s", f"{i1:.1f}s ideal", f"{w1 / i1:.2f}x",
                 f"ideal = time to the first request + {s1} answers x {delay}s / {slots} slots + last answer to the end; "
                 f"without the gateway {w0:.1f}s; target 1.3x"))
    return rows


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="plan-gw-")
    rows = latency_rows(work)
    if "--agents" in sys.argv:
        rows += agent_rows(work)
    for r in rows:
        print(" | ".join(r))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
