#!/usr/bin/env python3
"""Benchmarks of `plan` against what users would use instead, in one run.

usage: python3 bench/bench.py [--quick] [--no-langgraph] [--big]
       python3 bench/bench.py --check

Builds the release binary, generates the plans (bench/gen_plan.py), runs every
contender several times and writes bench/RESULTS.md and bench/baseline.json. Times
are medians; the machines are shared and noisy, so the results are ratios between
contenders measured side by side, not absolute numbers. LangGraph (and PyYAML and
jsonschema, for the lint row's Python counterpart, bench/py_lint.py) are installed into
bench/.venv on first use.

--check (what CI runs) measures a few workloads against `make -j16` running 1,000
`true` in the same run, and fails only when a ratio is 3x its baseline: a gross
regression, never noise.
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
BASELINE = os.path.join(ROOT, "bench", "baseline.json")
# A ratio this many times its baseline fails --check.
GROSS = 3.0


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


def du_mb(path):
    """Disk space a directory takes, in MB (blocks, as `du` counts)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total / 1e6


def gen(kind, n, path):
    with open(path, "w") as f:
        subprocess.run([sys.executable, GEN, kind, str(n)], stdout=f, check=True)


def langgraph_python():
    """bench/.venv's Python, with LangGraph, PyYAML and jsonschema installed."""
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    has = subprocess.run([py, "-c", "import langgraph, yaml, jsonschema"], capture_output=True).returncode == 0
    if not has:
        subprocess.run([py, "-m", "pip", "install", "-q", "langgraph", "pyyaml", "jsonschema"], check=True)
    return py


RESULT = ('{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"ok",'
          '"total_cost_usd":0.001,"usage":{"input_tokens":10,"output_tokens":5}}')


def agent_plan(n, cli_command=None):
    """A fork-join of `n` Claude Code agents (or a stand-in command read as Claude's)."""
    runner = "claude"
    lines = ["version: 1", "name: agents", "complexity: complex", f"concurrency: {max(n, 1)}"]
    if cli_command:
        lines += ["runners:", f"  fake: {{ cli: claude, command: [sh, -c, {json.dumps(cli_command)}] }}"]
        runner = "fake"
    lines += ["agent:", "  id: primary", "  pattern: fork-join", "  agents:"]
    lines += [f"    - {{ id: a{i}, runner: {runner}, prompt: \"Change hello to goodbye in greeting.txt\" }}" for i in range(n)]
    return "\n".join(lines) + "\n"


def agent_rows(work, runs):
    """Real Claude Code against the model stand-in: plan's wall time minus the agent's own
    duration (both from the same run), and the CLI run directly for comparison; then
    plan's peak memory with 50 agents running at once against 1."""
    rows = []
    if shutil.which("claude") is None:
        return [("coding agents", "skipped: `claude` is not installed", "", "", "")]
    script = os.path.join(work, "script.json")
    with open(script, "w") as f:
        json.dump({"edits": [{"file": "greeting.txt", "old": "hello", "new": "goodbye"}], "reply": "done"}, f)
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "model_server.py"), "--script", script],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = server.stdout.readline().split()[1]
    env = dict(os.environ, HOME=os.path.join(work, "home"), ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}",
               ANTHROPIC_API_KEY="sk-test", DISABLE_TELEMETRY="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    agent_dir = os.path.join(work, "agent")
    os.makedirs(agent_dir, exist_ok=True)
    with open(os.path.join(agent_dir, "one.yaml"), "w") as f:
        f.write(agent_plan(1).replace("complexity: complex", "complexity: moderate"))
    prompt = b"Change hello to goodbye in greeting.txt"
    direct = ["claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
              "--max-turns", "50"]
    added, walls, clis = [], [], []
    for _ in range(max(runs, 5)):
        with open(os.path.join(agent_dir, "greeting.txt"), "w") as f:
            f.write("hello\n")
        start = time.perf_counter()
        subprocess.run(direct, cwd=agent_dir, env=env, input=prompt, capture_output=True, check=True)
        clis.append(time.perf_counter() - start)
        with open(os.path.join(agent_dir, "greeting.txt"), "w") as f:
            f.write("hello\n")
        start = time.perf_counter()
        out = subprocess.run([PLAN, "run", "one.yaml", "-q", "--json", "--runs-dir", "runs"], cwd=agent_dir, env=env,
                             capture_output=True, check=True, text=True).stdout
        wall = time.perf_counter() - start
        agent = float(json.loads(out)["agents"]["a0"]["duration"].rstrip("s"))
        added.append((wall - agent) * 1000)
        walls.append(wall)
    server.stdin.close()
    server.wait()
    rows.append(("one Claude Code agent (stand-in model): time plan adds (plan's wall minus the agent's duration)",
                 f"{statistics.median(added):.1f} ms", "", "", "target: under 20 ms"))
    rows.append(("one Claude Code agent: `plan run` vs the CLI run directly", f"{statistics.median(walls):.3f}s",
                 f"{statistics.median(clis):.3f}s (claude -p)", f"{statistics.median(walls) / statistics.median(clis):.2f}x",
                 "CLI time varies run to run; the row above is measured within each run"))
    # Memory on plan's side per running agent: 50 stand-in agents at once against 1.
    fake = f"cat > /dev/null; sleep 1; echo '{RESULT}'"
    peaks = {}
    for n in (1, 50):
        with open(os.path.join(agent_dir, f"fake{n}.yaml"), "w") as f:
            f.write(agent_plan(n, fake))
        _, peaks[n] = median([PLAN, "run", f"fake{n}.yaml", "-q", "--runs-dir", "runs"], agent_dir, runs)
    per_agent = (peaks[50] - peaks[1]) * 1024 / 49
    rows.append(("memory per running agent on plan's side (50 at once vs 1)", f"{per_agent:.0f} KB", "", "",
                 f"peak {peaks[1]:.0f} MB with 1, {peaks[50]:.0f} MB with 50"))
    return rows


def make_true(work, n=1000):
    """`make -j16` of n `true` targets: the yardstick other times are divided by."""
    with open(os.path.join(work, "Makefile"), "w") as f:
        targets = " ".join(f"t{i}" for i in range(n))
        f.write(f".PHONY: all {targets}\nall: {targets}\n")
        for i in range(n):
            f.write(f"t{i}:\n\t@true\n")
    return ["make", "-s", "-j16"]


def yardstick_ratios(work, runs):
    """Each checked workload's time over make's, measured in this run."""
    gen("true", 1000, os.path.join(work, "true.yaml"))
    gen("noop", 10000, os.path.join(work, "noop.yaml"))
    gen("lint-tree", 10000, os.path.join(work, "big.yaml"))
    make, _ = median(make_true(work), work, runs)
    times = {
        "run 1,000 x true": median([PLAN, "run", "true.yaml", "-q", "--runs-dir", "runs"], work, runs)[0],
        "run 10,000 x noop": median([PLAN, "run", "noop.yaml", "-q", "--runs-dir", "runs"], work, runs)[0],
        "lint 10,000 agents": median([PLAN, "lint", "big.yaml"], work, runs)[0],
    }
    return {k: t / make for k, t in times.items()}


def check():
    """Fails on a gross regression against bench/baseline.json."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    with open(BASELINE) as f:
        baseline = json.load(f)
    work = tempfile.mkdtemp(prefix="plan-check-")
    try:
        ratios = yardstick_ratios(work, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = []
    for name, ratio in ratios.items():
        base = baseline[name]
        verdict = "REGRESSED" if ratio > GROSS * base else "ok"
        print(f"{name}: {ratio:.2f}x make (baseline {base:.2f}x, fails above {GROSS * base:.2f}x) {verdict}")
        if verdict != "ok":
            failed.append(name)
    if failed:
        raise SystemExit(f"gross performance regression: {', '.join(failed)}")


def main():
    if "--check" in sys.argv:
        return check()
    quick = "--quick" in sys.argv
    runs = 3 if quick else 5
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "plan"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="plan-bench-")
    rows = []

    def row(name, ours, theirs=None, other=None, note=""):
        ratio = (f"{ours / theirs:.3f}x" if ours / theirs < 0.1 else f"{ours / theirs:.2f}x") if theirs else ""
        rows.append((name, f"{ours:.3f}s", f"{theirs:.3f}s ({other})" if theirs else "", ratio, note))

    # 1. lint, graph and compile a 10,000-agent plan; lint 100,000.
    gen("lint-tree", 10000, os.path.join(work, "big.yaml"))
    t, mem = median([PLAN, "lint", "big.yaml"], work, runs)
    row("lint 10,000 agents", t, note=f"peak {mem:.0f} MB (limit 300 ms, 100 MB)")
    gen("lint-tree", 100000, os.path.join(work, "huge.yaml"))
    t, mem = median([PLAN, "lint", "huge.yaml"], work, max(1, runs // 2))
    if "--no-langgraph" in sys.argv:
        row("lint 100,000 agents", t, note=f"peak {mem:.0f} MB (target 0.8 s, 100 MB)")
    else:
        # What a user would write instead: PyYAML's C loader and the jsonschema package.
        py = langgraph_python()
        theirs, their_mem = median([py, os.path.join(ROOT, "bench", "py_lint.py"), "huge.yaml"], work, 1)
        row("lint 100,000 agents", t, theirs, "PyYAML C loader + jsonschema",
            f"peak {mem:.0f} MB vs {their_mem:.0f} MB (target 0.8 s, 100 MB)")
    t, mem = median([PLAN, "graph", "big.yaml", "--output", "big.dot"], work, runs)
    row("graph --format dot, 10,000 agents", t, note=f"peak {mem:.0f} MB (limit 500 ms)")
    t, mem = median([PLAN, "compile", "big.yaml", "--output", "big.json"], work, runs)
    row("compile --format json, 10,000 agents", t, note=f"peak {mem:.0f} MB")

    # 2. 1,000 `true` commands at concurrency 16: plan vs xargs -P16 vs make -j16.
    gen("true", 1000, os.path.join(work, "true.yaml"))
    ours, _ = median([PLAN, "run", "true.yaml", "-q", "--runs-dir", "runs"], work, runs)
    xargs, _ = median(["xargs", "-P16", "-n1", "true"], work, runs, stdin=("x\n" * 1000).encode())
    make, _ = median(make_true(work), work, runs)
    row("1,000 x `run: [true]`, concurrency 16", ours, xargs, "xargs -P16")
    row("1,000 x `run: [true]`, concurrency 16", ours, make, "make -j16", "target: 1.1x make")

    # 3. 10,000 no-op agents in a fork-join vs LangGraph's Send map-reduce.
    gen("noop", 10000, os.path.join(work, "noop.yaml"))
    ours, mem = median([PLAN, "run", "noop.yaml", "-q", "--runs-dir", "runs"], work, runs)
    if "--no-langgraph" in sys.argv:
        row("10,000 x `uses: noop` fork-join", ours, note=f"peak {mem:.0f} MB (target 0.3 s)")
    else:
        py = langgraph_python()
        lg, lg_mem = median([py, os.path.join(ROOT, "bench", "langgraph_fanout.py"), "10000"], work, max(1, runs // 2))
        row("10,000 x `uses: noop` fork-join", ours, lg, "LangGraph Send map-reduce",
            f"peak {mem:.0f} MB vs {lg_mem:.0f} MB (target 0.3 s, 1/60 of LangGraph)")

    # 3b. 100,000 no-op agents: time, memory, and the size of the run directory.
    gen("noop", 100000, os.path.join(work, "noop100k.yaml"))
    big_runs = os.path.join(work, "big-runs")
    times, peaks, sizes = [], [], []
    for _ in range(max(1, runs // 2)):
        shutil.rmtree(big_runs, ignore_errors=True)
        t, mem = measure([PLAN, "run", "noop100k.yaml", "-q", "--runs-dir", big_runs], work)
        times.append(t)
        peaks.append(mem)
        sizes.append(du_mb(big_runs))
    row("100,000 x `uses: noop` fork-join", statistics.median(times),
        note=f"peak {max(peaks):.0f} MB, run directory {max(sizes):.0f} MB (target 3 s, 100 MB, 50 MB)")

    # 4. Resume a 10,000-agent journal (every agent restored, nothing re-run).
    runs_dir = os.path.join(work, "resume-runs")
    subprocess.run([PLAN, "run", "noop.yaml", "-q", "--runs-dir", runs_dir], cwd=work, check=True, stderr=subprocess.DEVNULL)
    run_id = os.listdir(runs_dir)[0]
    t, _ = median([PLAN, "run", "noop.yaml", "-q", "--runs-dir", runs_dir, "--resume", run_id], work, runs)
    row("resume a 10,000-agent journal", t, note="limit 1 s")

    # 5. Coordination overhead of a 3-level tree of 10 and of 100 `sleep 100ms` leaves,
    # all started at once. An agent's time is its process's life; on the chain of
    # agents that decided when the run ended, the rest is the kernel starting
    # processes or the scheduler (the reported overhead).
    for n in (10, 100):
        gen("sleep-tree", n, os.path.join(work, f"sleep{n}.yaml"))
        figures = []
        for _ in range(max(runs, 9)):
            out = subprocess.run([PLAN, "run", f"sleep{n}.yaml", "-q", "--json", "--runs-dir", "runs"], cwd=work,
                                 check=True, capture_output=True, text=True).stdout
            m = json.loads(out)["performance_metrics"]
            figures.append((float(m["coordination_overhead"].rstrip("%")), m["coordination_overhead_ms"],
                            m["process_start_ms"]))
        pcts = sorted(f[0] for f in figures)
        ms = statistics.median(f[1] for f in figures)
        kernel = statistics.median(f[2] for f in figures)
        rows.append((f"{n} x `sleep 100ms` leaves, 3 levels: reported coordination overhead",
                     f"{statistics.median(pcts):.2f}%", "", "",
                     f"{ms:.1f} ms (range {pcts[0]:.2f}-{pcts[-1]:.2f}% over {len(pcts)} runs); the kernel starting "
                     f"processes: {kernel:.1f} ms, not counted; target: under 0.2%"))
    shutil.copy(os.path.join(work, "sleep100.yaml"), os.path.join(work, "sleep.yaml"))
    # The same 100 sleeps at once, plan's wall time over make's and over a bare
    # posix_spawn loop: what starting 100 processes costs any launcher on this machine.
    sleepers = os.path.join(work, "sleepers")
    os.makedirs(sleepers, exist_ok=True)
    with open(os.path.join(sleepers, "Makefile"), "w") as f:
        targets = " ".join(f"s{i}" for i in range(100))
        f.write(f".PHONY: all {targets}\nall: {targets}\n")
        for i in range(100):
            f.write(f"s{i}:\n\t@sleep 0.1\n")
    ours, _ = median([PLAN, "run", "sleep.yaml", "-q", "--runs-dir", "runs"], work, runs)
    make, _ = median(["make", "-s", "-j100", "-C", sleepers], work, runs)
    row("100 x `sleep 100ms` leaves at once: wall time", ours, make, "make -j100",
        "both start 100 processes; the difference is what plan adds")
    # The floor: a loop that only spawns the 100 and waits for them, timed from its
    # first spawn to its last exit, against plan's own execution time (both leave out
    # starting their own process).
    spawner = os.path.join(work, "spawn100.py")
    with open(spawner, "w") as f:
        f.write("import os, shutil, time\nsleep = shutil.which('sleep')\nt = time.perf_counter()\n"
                "pids = [os.posix_spawn(sleep, [sleep, '0.1'], os.environ) for _ in range(100)]\n"
                "for p in pids:\n    os.waitpid(p, 0)\nprint(time.perf_counter() - t)\n")
    plan_exec, bare = [], []
    for _ in range(max(runs, 9)):
        out = subprocess.run([PLAN, "run", "sleep.yaml", "-q", "--json", "--runs-dir", "runs"], cwd=work,
                             check=True, capture_output=True, text=True).stdout
        plan_exec.append(float(json.loads(out)["performance_metrics"]["execution_time"].rstrip("s")))
        bare.append(float(subprocess.run([sys.executable, spawner], check=True, capture_output=True,
                                         text=True).stdout))
    row("100 x `sleep 100ms` leaves at once: execution time", statistics.median(plan_exec),
        statistics.median(bare), "bare posix_spawn loop",
        "the floor: 100 spawns and waits, nothing else; both timed from inside")

    # 6. Coding agents: what plan adds to one agent run, and memory per running agent.
    rows.extend(agent_rows(work, runs))

    # 7. Workspaces of their own on a large repository: copy-on-write, the worktree
    # fallback, and `git worktree add` by hand (bench/workspaces.py; --big adds 100
    # agents on a 1 GB repository).
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import workspaces
    rows.extend(workspaces.rows(work, max(1, runs // 2), "--big" in sys.argv))
    rows.extend(workspaces.sandbox_rows(work, runs))

    # 8. The model gateway: what it adds to a request, and 20 real agents against a
    # model that serves 3 at once (bench/gateway.py).
    import gateway
    rows.extend(gateway.latency_rows(work))
    rows.extend(gateway.agent_rows(work))

    # 9. The step cache: a second run of 50 unchanged coding agents, and look-ups at
    # 10,000 steps (bench/cache.py).
    import cache
    rows.extend(cache.lookup_rows(work))
    rows.extend(cache.agent_rows(work))

    # 10. Verified outcomes: acceptance checks on 20 agents, `best_of: 3`, and `plan
    # eval` over the offline suite (bench/verified.py).
    import verified
    rows.extend(verified.check_rows(work))
    rows.extend(verified.best_of_rows(work))
    rows.extend(verified.eval_rows(work))

    lines = ["# Benchmark results", "",
             f"`python3 bench/bench.py` on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
             f"median of {runs} runs each. Ratios are plan's time over the other's (lower is better).", "",
             "| what | plan | other | ratio | note |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write(text)
    # The baseline of --check, measured the way --check measures.
    with open(BASELINE, "w") as f:
        json.dump({k: round(v, 3) for k, v in yardstick_ratios(work, runs).items()}, f, indent=2)
        f.write("\n")
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
