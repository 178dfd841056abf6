#!/usr/bin/env python3
"""Generates large plans for the benchmarks.

usage: gen_plan.py KIND N > plan.yaml
  lint-tree N   an enterprise tree of N agents (secondaries of 50, mixed patterns,
                templates with outputs, needs) - what `plan lint`/`plan graph` chew on
  true N        a fork-join of N agents each running `run: [true]`
  noop N        a fork-join of N `uses: noop` agents
  sleep-tree N  primary -> 10 secondaries -> N/10 leaves of `sleep 100ms` each

`true` and `sleep-tree` set `defaults: { sandbox: false }`: they measure the scheduler
against make, xargs and a bare spawn loop, which sandbox nothing. What a sandbox adds
per agent is its own row (bench/workspaces.py).
"""
import sys


def header(name, tier, concurrency=None, sandbox=True):
    out = ["# yaml-language-server: $schema=../schema/plan.schema.json", "version: 1", f"name: {name}",
           "issue: { number: 1, repo: org/repo, title: Benchmark }", f"complexity: {tier}"]
    if concurrency:
        out.append(f"concurrency: {concurrency}")
    if not sandbox:
        out.append("defaults: { sandbox: false }")
    return out


def lint_tree(n):
    out = header(f"bench-lint-{n}", "enterprise")
    out += ["vars: { cmd: echo }", "runners:", "  echo: { command: [cat] }", "defaults:", "  timeout: 30s",
            "  retry: { attempts: 2, delay: 100ms }", "agent:", "  id: primary", "  role: root",
            "  pattern: fork-join", "  agents:"]
    per = 50
    groups = max(1, n // per)
    patterns = ["fork-join", "pipeline", "saga"]
    made = 1
    for g in range(groups):
        pattern = patterns[g % len(patterns)]
        out += [f"    - id: group_{g}", f"      role: group {g}", f"      pattern: {pattern}", "      agents:"]
        made += 1
        for i in range(per - 1):
            aid = f"agent_{g}_{i}"
            line = f"        - {{ id: {aid}, run: \"{{{{ vars.cmd }}}} {aid} {{{{ issue.number }}}}\""
            if pattern == "saga":
                line += f", compensate: \"echo undo {aid}\""
            if pattern == "fork-join" and i % 10 == 9:
                line += f", needs: [agent_{g}_{i - 1}]"
            out.append(line + " }")
            made += 1
        if pattern == "fork-join":
            out += [f"      join: {{ id: join_{g}, run: \"echo {{{{ outputs.agent_{g}_0 }}}}\" }}"]
    return out


def fork_join(n, work, tier="enterprise", concurrency=16, sandbox=True):
    out = header(f"bench-{n}", tier, concurrency, sandbox)
    out += ["agent:", "  id: primary", "  pattern: fork-join", "  agents:"]
    for i in range(n):
        out.append(f"    - {{ id: a{i}, {work} }}")
    return out


def sleep_tree(n):
    out = header(f"bench-sleep-{n}", "enterprise", n, sandbox=False)
    out += ["agent:", "  id: primary", "  pattern: fork-join", "  agents:"]
    per = max(1, n // 10)
    for g in range(10):
        out += [f"    - id: s{g}", "      pattern: fork-join", "      agents:"]
        for i in range(per):
            out.append(f"        - {{ id: leaf_{g}_{i}, run: [sleep, \"0.1\"] }}")
    return out


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    lines = {
        "lint-tree": lambda: lint_tree(n),
        "true": lambda: fork_join(n, "run: [\"true\"]", tier="complex", sandbox=False),
        "noop": lambda: fork_join(n, "uses: noop", tier="complex", concurrency=16),
        "sleep-tree": lambda: sleep_tree(n),
    }[kind]()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
