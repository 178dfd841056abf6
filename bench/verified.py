"""Verified outcomes, for bench/bench.py: what acceptance checks add to an agent
(20 agents in workspaces of their own, each held to a check command and `touches`,
against the same agents unchecked and against running the check by hand); `best_of:
3` candidates of a 0.5 s agent against trying it three times by hand; and `plan eval`
over the offline suite (Claude Code against the model stand-in) against running its
ten tasks one after another.

    python3 bench/verified.py    # just these rows
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


def timed(args, cwd, env=None, ok=(0,)):
    start = time.perf_counter()
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if out.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return took, out.stdout


def repo(d):
    os.makedirs(d)
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write("a repository\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=d, check=True)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def check_rows(work, n=20, runs=3):
    d = os.path.join(work, "checks")
    repo(d)
    def plan(accept):
        agents = "".join(f"    - {{ id: a{i}, run: \"echo {i} > f{i}.txt\"{accept} }}\n" for i in range(n))
        text = (f"version: 1\nname: checks\ncomplexity: enterprise\nconcurrency: 2\n"
                f"defaults: {{ workspace: worktree }}\nagent:\n  id: primary\n  pattern: fork-join\n  agents:\n{agents}")
        p = os.path.join(work, f"checks{len(accept)}.yaml")
        with open(p, "w") as f:
            f.write(text)
        return p
    checked = plan(", accept: { command: \"grep -q . README.md\", touches: [\"*.txt\"] }")
    plain = plan("")
    def one(p):
        took, _ = timed([PLAN, "run", p, "-q", "--no-cache"], d)
        subprocess.run(["git", "checkout", "-q", "."], cwd=d)
        subprocess.run(["git", "clean", "-qfdx", "-e", ".plan"], cwd=d)
        return took
    with_checks = median([one(checked) for _ in range(runs)])
    without = median([one(plain) for _ in range(runs)])
    by_hand, _ = timed(["sh", "-c", "for i in $(seq %d); do sh -c 'grep -q . README.md'; done" % n], d)
    per_agent = (with_checks - without) / n * 1000
    return [(f"{n} agents in workspaces of their own, each held to `accept` (a command + `touches`): whole run",
             f"{with_checks:.3f}s", f"{without:.3f}s (unchecked)", f"{with_checks / without:.2f}x",
             f"{per_agent:.1f} ms per agent for its checks (sandboxed, in its workspace, its diff read); "
             f"the command by hand: {by_hand / n * 1000:.1f} ms")]


def best_of_rows(work, runs=3):
    d = os.path.join(work, "best")
    repo(d)
    p = os.path.join(work, "best.yaml")
    with open(p, "w") as f:
        f.write("version: 1\nname: best\ncomplexity: atomic\nconcurrency: 3\n"
                "runners: { slow: { command: [\"sh\", \"-c\", \"sleep 0.5; date +%N > out.txt\"] } }\n"
                "agent: { id: fix, runner: slow, prompt: \"candidate {{ candidate }}\", best_of: 3 }\n")
    def one():
        took, _ = timed([PLAN, "run", p, "-q"], d)
        subprocess.run(["git", "checkout", "-q", "."], cwd=d)
        subprocess.run(["git", "clean", "-qfdx", "-e", ".plan"], cwd=d)
        return took
    best = median([one() for _ in range(runs)])
    by_hand, _ = timed(["sh", "-c", "for i in 1 2 3; do sleep 0.5; date +%N > out.txt; done"], d)
    return [("`best_of: 3` candidates of a 0.5 s agent, each in a workspace of its own: whole run",
             f"{best:.3f}s", f"{by_hand:.3f}s (three tries by hand, one after another)", f"{best / by_hand:.2f}x",
             "the candidates run at once; choosing and merging the winner included")]


def eval_rows(work):
    if not shutil.which("claude"):
        return [("`plan eval` of the offline suite", "skipped", "", "", "claude not installed")]
    with open(os.path.join(ROOT, "eval", "offline", "model-script.json")) as f:
        script = json.load(f)
    server = gateway.StandIn(script, work)
    env = gateway.env_for(server.port, os.path.join(work, "home-eval"))
    out = os.path.join(work, "eval.json")
    took, _ = timed([PLAN, "eval", os.path.join(ROOT, "eval", "offline"), "--jobs", "2",
                     "--work", os.path.join(work, "eval"), "--output", out], work, env)
    server.stop()
    with open(out) as f:
        result = json.load(f)
    total = result["summary"]["total"]
    return [("`plan eval` of the offline suite (10 tasks, Claude Code against the stand-in, --jobs 2): whole eval",
             f"{took:.3f}s", f"{total['seconds']:.3f}s (its ten runs one after another)", f"{took / total['seconds']:.2f}x",
             f"{total['passed']}/{total['tasks']} passed ({total['rate'] * 100:.0f}%, as the stand-in's scripts imply: 80%), "
             f"{total['tokens']} tokens, ${total['cost_usd']:.4f}")]


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="plan-verified-")
    rows = check_rows(work) + best_of_rows(work) + eval_rows(work)
    for r in rows:
        print(" | ".join(r))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
