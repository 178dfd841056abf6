"""Isolation, for bench/bench.py: N agents that each change one file of a large
repository, with `workspace: worktree` — plan's copy-on-write workspaces, its `git
worktree` fallback (PLAN_WORKSPACES=worktree), and N `git worktree add` done by hand,
side by side in the same run; and what a sandbox costs an agent to set up.

    python3 bench/workspaces.py [--big]    # just these rows

--big adds the 100-agent, 100,000-file, 1 GB repository (a minute to generate).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN = os.path.join(ROOT, "target", "release", "plan")


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_repo(path, files, size):
    """A repository of `files` files of `size` bytes each, 200 to a directory, committed."""
    os.makedirs(path)
    line = ("x" * 63 + "\n").encode()
    body = line * (size // len(line))
    for i in range(files):
        d = os.path.join(path, "src", f"m{i // 200}")
        if i % 200 == 0:
            os.makedirs(d)
        with open(os.path.join(d, f"f{i % 200}.txt"), "wb") as f:
            f.write(f"file {i}\n".encode() + body)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "repo")


def agents_plan(n):
    lines = ["version: 1", "name: workspaces", "complexity: complex", f"concurrency: {n}",
             "defaults: { workspace: worktree }", "agent:", "  id: primary", "  pattern: fork-join", "  agents:"]
    for i in range(n):
        lines.append(f"    - {{ id: a{i}, run: \"echo changed >> src/m{i}/f0.txt\" }}")
    return "\n".join(lines) + "\n"


def reset(repo):
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-fdq")
    shutil.rmtree(os.path.join(repo, ".plan"), ignore_errors=True)


def du_kb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total / 1024


def plan_run(repo, kind, plan):
    """One run: wall time, the report, and the most disk the workspaces took."""
    reset(repo)
    env = dict(os.environ, PLAN_WORKSPACES=kind)
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], du_kb(os.path.join(repo, ".plan", "runs")))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    out = subprocess.run([PLAN, "run", plan, "--json", "-q"], cwd=repo, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if out.returncode != 0:
        raise SystemExit(f"plan run failed: {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout), peak[0]


def worktrees_by_hand(repo, n):
    """What a user does instead: `git worktree add` for each agent, one after another."""
    reset(repo)
    wt = os.path.join(repo, ".plan", "wt")
    start = time.perf_counter()
    for i in range(n):
        git(repo, "worktree", "add", "-q", "--detach", os.path.join(wt, str(i)), "HEAD")
    wall = time.perf_counter() - start
    disk = du_kb(wt)
    for i in range(n):
        git(repo, "worktree", "remove", "--force", os.path.join(wt, str(i)))
    return wall, disk


def rows(work, runs, big=False):
    out = []
    # (agents, files, bytes each, what, the worktree fallback too): 100 worktrees of
    # 1 GB would take 100 GB of disk, so the big case measures 2 by hand and scales.
    cases = [(16, 20000, 4096, "20,000-file (80 MB)", True)]
    if big:
        cases.append((100, 100000, 10240, "100,000-file (1 GB)", False))
    for n, files, size, what, full in cases:
        repo = os.path.join(work, f"repo-{files}")
        make_repo(repo, files, size)
        plan = os.path.join(work, f"ws{n}.yaml")
        with open(plan, "w") as f:
            f.write(agents_plan(n))
        cow = [plan_run(repo, "", plan) for _ in range(runs)]
        hand_n = n if full else 2
        by_hand = [worktrees_by_hand(repo, hand_n) for _ in range(max(1, runs // 2))]
        kind = cow[0][1]["implementation_summary"].get("workspaces")
        ours = statistics.median(r[0] for r in cow)
        theirs = statistics.median(r[0] for r in by_hand) * n / hand_n
        scaled = "" if full else f", from {hand_n} measured"
        over = statistics.median(r[1]["performance_metrics"]["coordination_overhead_ms"] for r in cow) / 1000
        per_agent = statistics.median(r[2] for r in cow) / n
        out.append((f"{n} agents, workspaces of their own, {what} repository: whole run ({kind})",
                    f"{ours:.3f}s", f"{theirs:.3f}s ({n} x git worktree add{scaled})", f"{ours / theirs:.3f}x",
                    f"the whole run: workspaces, agents, commits, merges, the checkout updated; reported "
                    f"coordination {over:.3f}s; at most {per_agent:.0f} KB of disk per agent (a worktree: "
                    f"{statistics.median(r[1] for r in by_hand) / hand_n / 1024:.0f} MB)"))
        if full:
            fallback = [plan_run(repo, "worktree", plan) for _ in range(max(1, runs // 2))]
            fb = statistics.median(r[0] for r in fallback)
            out.append((f"{n} agents, {what} repository: whole run (git worktree fallback)", f"{fb:.3f}s",
                        f"{ours:.3f}s (copy-on-write)", f"{fb / ours:.1f}x",
                        "PLAN_WORKSPACES=worktree: what copy-on-write workspaces save"))
        shutil.rmtree(repo, ignore_errors=True)
    return out


def sandbox_rows(work, runs):
    """100 `true` agents one at a time, sandboxed and not: the difference per agent is
    what setting up a sandbox costs (namespaces, mounts, Landlock, cgroups, relay)."""
    def plan(sandbox):
        lines = ["version: 1", "name: sandbox", "complexity: enterprise", "concurrency: 1",
                 f"defaults: {{ sandbox: {str(sandbox).lower()} }}", "agent:", "  id: primary",
                 "  pattern: fork-join", "  agents:"]
        lines += [f"    - {{ id: a{i}, run: \"true\" }}" for i in range(100)]
        path = os.path.join(work, f"sandbox-{sandbox}.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    times = {}
    for sandbox in (True, False):
        path = plan(sandbox)
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([PLAN, "run", path, "-q", "--runs-dir", os.path.join(work, "sandbox-runs")], cwd=work,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
        times[sandbox] = statistics.median(walls)
    per_agent = (times[True] - times[False]) / 100 * 1000
    return [("100 x `true` one at a time, sandboxed", f"{times[True]:.3f}s", f"{times[False]:.3f}s (sandbox: false)",
             f"{times[True] / times[False]:.1f}x",
             f"setting up a sandbox costs {per_agent:.1f} ms per agent (target: under 20 ms)")]


if __name__ == "__main__":
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="plan-bench-ws-")
    for r in rows(work, 3, "--big" in sys.argv) + sandbox_rows(work, 3):
        print(" | ".join(r))
    shutil.rmtree(work, ignore_errors=True)
