#!/usr/bin/env python3
"""Benchmarks of `plan` against what users would use instead, in one run.

usage: python3 bench/bench.py [--quick] [--no-langgraph]

Builds the release binary, generates the plans (bench/gen_plan.py), runs every
contender several times and writes bench/RESULTS.md. Times are medians; the machines
are shared and noisy, so the results are ratios between contenders measured side by
side, not absolute numbers. LangGraph is installed into bench/.venv on first use.
"""
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
GEN = os.path.join(ROOT, "bench", "gen_plan.py")
VENV = os.path.join(ROOT, "bench", ".venv")


def measure(cmd, cwd, stdin=None):
    """Wall time (s) and peak RSS (MB) of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin:
        proc.stdin.write(stdin)
        proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024


def median(cmd, cwd, runs, stdin=None):
    results = [measure(cmd, cwd, stdin) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def gen(kind, n, path):
    with open(path, "w") as f:
        subprocess.run([sys.executable, GEN, kind, str(n)], stdout=f, check=True)


def langgraph_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "langgraph"], check=True)
    return py


def main():
    quick = "--quick" in sys.argv
    runs = 3 if quick else 5
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="plan-bench-")
    rows = []

    def row(name, ours, theirs=None, other=None, note=""):
        ratio = f"{ours / theirs:.2f}x" if theirs else ""
        rows.append((name, f"{ours:.3f}s", f"{theirs:.3f}s ({other})" if theirs else "", ratio, note))

    # 1. lint, graph and compile a 10,000-agent plan.
    gen("lint-tree", 10000, os.path.join(work, "big.yaml"))
    t, mem = median([PLAN, "lint", "big.yaml"], work, runs)
    row("lint 10,000 agents", t, note=f"peak {mem:.0f} MB (limit 300 ms, 100 MB)")
    t, mem = median([PLAN, "graph", "big.yaml", "--output", "big.dot"], work, runs)
    row("graph --format dot, 10,000 agents", t, note=f"peak {mem:.0f} MB (limit 500 ms)")
    t, mem = median([PLAN, "compile", "big.yaml", "--output", "big.json"], work, runs)
    row("compile --format json, 10,000 agents", t, note=f"peak {mem:.0f} MB")

    # 2. 1,000 `true` commands at concurrency 16: plan vs xargs -P16 vs make -j16.
    gen("true", 1000, os.path.join(work, "true.yaml"))
    ours, _ = median([PLAN, "run", "true.yaml", "-q", "--runs-dir", "runs"], work, runs)
    xargs, _ = median(["xargs", "-P16", "-n1", "true"], work, runs, stdin=("x\n" * 1000).encode())
    with open(os.path.join(work, "Makefile"), "w") as f:
        targets = " ".join(f"t{i}" for i in range(1000))
        f.write(f".PHONY: all {targets}\nall: {targets}\n")
        for i in range(1000):
            f.write(f"t{i}:\n\t@true\n")
    make, _ = median(["make", "-s", "-j16"], work, runs)
    row("1,000 x `run: [true]`, concurrency 16", ours, xargs, "xargs -P16", "target: within 1.3x of xargs")
    row("1,000 x `run: [true]`, concurrency 16", ours, make, "make -j16")

    # 3. 10,000 no-op agents in a fork-join vs LangGraph's Send map-reduce.
    gen("noop", 10000, os.path.join(work, "noop.yaml"))
    ours, mem = median([PLAN, "run", "noop.yaml", "-q", "--runs-dir", "runs"], work, runs)
    if "--no-langgraph" in sys.argv:
        row("10,000 x `uses: noop` fork-join", ours, note=f"peak {mem:.0f} MB (limit 1 s, 200 MB)")
    else:
        py = langgraph_python()
        lg, lg_mem = median([py, os.path.join(ROOT, "bench", "langgraph_fanout.py"), "10000"], work, max(1, runs // 2))
        row("10,000 x `uses: noop` fork-join", ours, lg, "LangGraph Send map-reduce",
            f"peak {mem:.0f} MB vs {lg_mem:.0f} MB (limit 1 s, 200 MB)")

    # 4. Resume a 10,000-agent journal (every agent restored, nothing re-run).
    runs_dir = os.path.join(work, "resume-runs")
    subprocess.run([PLAN, "run", "noop.yaml", "-q", "--runs-dir", runs_dir], cwd=work, check=True, stderr=subprocess.DEVNULL)
    run_id = os.listdir(runs_dir)[0]
    t, _ = median([PLAN, "run", "noop.yaml", "-q", "--runs-dir", runs_dir, "--resume", run_id], work, runs)
    row("resume a 10,000-agent journal", t, note="limit 1 s")

    # 5. Coordination overhead of a 3-level tree of 100 `sleep 100ms` leaves.
    gen("sleep-tree", 100, os.path.join(work, "sleep.yaml"))
    overheads = []
    for _ in range(runs):
        out = subprocess.run([PLAN, "run", "sleep.yaml", "-q", "--json", "--runs-dir", "runs"], cwd=work,
                             check=True, capture_output=True, text=True).stdout
        overheads.append(float(json.loads(out)["performance_metrics"]["coordination_overhead"].rstrip("%")))
    rows.append(("100 x `sleep 100ms` leaves, 3 levels: reported coordination overhead",
                 f"{statistics.median(overheads):.2f}%", "", "", "target: under 0.5%"))

    lines = ["# Benchmark results", "",
             f"`python3 bench/bench.py` on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
             f"median of {runs} runs each. Ratios are plan's time over the other's (lower is better).", "",
             "| what | plan | other | ratio | note |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
