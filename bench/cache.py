"""The step cache, for bench/bench.py: the second run of an unchanged plan of 50 real
Claude Code agents against the model stand-in (model requests, wall time) beside the
first; and what looking a step up costs at 10,000 steps (`run: true` with `cache:
true`, every step a hit, against the same plan with --no-cache).

    python3 bench/cache.py    # just these rows
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN = os.path.join(ROOT, "target", "release", "plan")
sys.path.insert(0, os.path.join(ROOT, "bench"))
import gateway  # noqa: E402  (the stand-in and the agents' environment)


def timed(args, cwd, env=None):
    start = time.perf_counter()
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return took, out.stdout


def agent_rows(work, n=50):
    if not shutil.which("claude"):
        return [(f"second run of {n} unchanged coding agents", "skipped", "", "", "claude not installed")]
    server = gateway.StandIn({"reply": "done", "usage": {"input": 30, "output": 15}}, work)
    repo = os.path.join(work, "agents")
    os.makedirs(repo)
    with open(os.path.join(repo, "README.md"), "w") as f:
        f.write("a repository\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    agents = "".join(f"    - {{ id: a{i}, prompt: \"Say done ({i}).\" }}\n" for i in range(n))
    plan = os.path.join(work, "agents.yaml")
    with open(plan, "w") as f:
        f.write(f"version: 1\nname: fifty\ncomplexity: enterprise\nconcurrency: 8\n"
                f"defaults: {{ runner: claude, timeout: 5m }}\nagent:\n  id: primary\n  pattern: fork-join\n  agents:\n{agents}")
    env = gateway.env_for(server.port, os.path.join(work, "home"))
    first, _ = timed([PLAN, "run", plan, "-q"], repo, env)
    asked = len(server.requests())
    second, out = timed([PLAN, "run", plan, "-q", "--json"], repo, env)
    again = len(server.requests()) - asked
    hits = json.loads(out)["implementation_summary"].get("cache", {}).get("hits", 0)
    server.stop()
    return [(f"second run of {n} unchanged coding agents (Claude Code, stand-in): whole run",
             f"{second:.3f}s", f"{first:.3f}s (first run)", f"{second / first:.3f}x",
             f"{again} model requests in the second run ({asked} in the first); {hits} agents replayed; target 0 and < 0.5 s")]


def lookup_rows(work, n=10000):
    d = os.path.join(work, "lookups")
    os.makedirs(d)
    steps = "".join(f"    - {{ id: s{i}, run: \"true\", cache: true }}\n" for i in range(n))
    plan = os.path.join(d, "p.yaml")
    with open(plan, "w") as f:
        f.write(f"version: 1\nname: lookups\ncomplexity: enterprise\ndefaults: {{ sandbox: false }}\n"
                f"agent:\n  id: primary\n  pattern: fork-join\n  agents:\n{steps}")
    timed([PLAN, "run", plan, "-q"], d)  # fills the cache
    hits, _ = timed([PLAN, "run", plan, "-q"], d)
    plain, _ = timed([PLAN, "run", plan, "-q", "--no-cache"], d)
    return [(f"{n:,} steps, every one replayed from the cache: whole run",
             f"{hits:.3f}s", f"{plain:.3f}s (--no-cache: {n:,} x `true`)", f"{hits / plain:.2f}x",
             f"{hits / n * 1000:.3f} ms per step, the look-up included (target < 1 ms)")]


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="plan-cache-")
    rows = lookup_rows(work) + agent_rows(work)
    for r in rows:
        print(" | ".join(r))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
