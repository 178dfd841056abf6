//! Agents' workspaces of their own (`workspace: worktree`): copy-on-write overlays
//! where the kernel allows (the default here), `git worktree`s otherwise
//! (`PLAN_WORKSPACES=worktree`); both are run through every test. Merging happens
//! outside the checkout: a conflict is retried on top of the merged work, or fails
//! with its branch kept — never markers in the user's files.

use crate::git::{git, plan_in, repo, ISOLATED};
use crate::support::run_in;

const KINDS: [&str; 2] = ["copy-on-write", "worktree"];

fn run_as(t: &crate::support::Test, kind: &str, args: &[&str]) -> crate::support::Run {
    let env = [("PLAN_WORKSPACES", if kind == "worktree" { "worktree" } else { "" })];
    run_in(&t.path("work"), args, &env)
}

/// Two agents that both create `shared.txt`: `late` finishes second, so its work is
/// the one that does not merge. Its attempt 2 starts from the merged work and adds
/// its line under `early`'s.
const CONFLICT: &str = r#"version: 1
name: conflict
complexity: moderate
defaults: { workspace: worktree, retry: { attempts: 2, delay: 10ms } }
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: early, run: "echo E >> shared.txt" }
    - { id: late, run: "sleep 1.5; echo L >> shared.txt; cat shared.txt" }
  join: { id: after, workspace: shared, run: "cat shared.txt" }
"#;

#[test]
fn a_conflict_is_retried_on_top_of_the_merged_work() {
    for kind in KINDS {
        let t = repo(CONFLICT);
        let run = run_as(&t, kind, &["run", "plan.yaml", "--json"]);
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        let report = run.json();
        assert_eq!(report["implementation_summary"]["workspaces"], kind, "{report}");
        let late = report["agents"]["late"].clone();
        assert_eq!(late["attempts"], 2, "{kind}: the conflict was tried, then retried: {late}");
        let shared = std::fs::read_to_string(t.path("work/shared.txt")).unwrap();
        assert_eq!(shared, "E\nL\n", "{kind}");
        // The checkout holds the merged work, uncommitted; no branch or worktree is left.
        assert_eq!(git(&t.path("work"), &["branch", "--list", "plan/*"]), "", "{kind}");
        assert_eq!(git(&t.path("work"), &["worktree", "list"]).lines().count(), 1, "{kind}");
    }
}

#[test]
fn on_conflict_fail_keeps_the_branch_and_never_touches_the_checkout() {
    for kind in KINDS {
        let t = repo(&CONFLICT.replace("complexity: moderate", "complexity: moderate\nmerge: { on_conflict: fail }"));
        let run = run_as(&t, kind, &["run", "plan.yaml"]);
        run.code(1);
        assert!(run.stderr.contains("merge conflict in shared.txt"), "{kind}: {}", run.stderr);
        // Both sides are named for the person who looks.
        assert!(run.stderr.contains("merged so far") && run.stderr.contains("this attempt"), "{}", run.stderr);
        let work = t.path("work");
        assert!(!work.join("shared.txt").exists(), "{kind}: nothing reached the checkout");
        assert_eq!(git(&work, &["status", "--porcelain"]), "", "{kind}: the checkout is untouched");
        let kept = git(&work, &["branch", "--list", "plan/*"]);
        assert!(kept.contains("/late"), "{kind}: the branch of the work that did not merge is kept: {kept}");
        let tip = kept.trim().trim_start_matches("* ").to_string();
        assert_eq!(git(&work, &["show", &format!("{tip}:shared.txt")]), "L");
    }
}

#[test]
fn an_ignored_run_directory_and_the_plans_own_files_stop_nothing() {
    for kind in KINDS {
        // `.plan/` in .gitignore (as many users have it), the plan and a template
        // uncommitted, as `plan new` leaves them.
        let t = repo("");
        let work = t.path("work");
        std::fs::write(work.join(".gitignore"), ".plan/\n*.log\n").unwrap();
        git(&work, &["add", ".gitignore"]);
        git(&work, &["commit", "--quiet", "-m", "ignore"]);
        std::fs::create_dir_all(work.join("prompts")).unwrap();
        std::fs::write(work.join("prompts/task.md.j2"), "Write {{ with.task }}.\n").unwrap();
        let plan = ISOLATED
            .replace("{ id: left, run:", "{ id: left, prompt_file: prompts/task.md.j2, with: { task: it }, run:");
        std::fs::write(work.join("plan.yaml"), plan).unwrap();
        let run = run_as(&t, kind, &["run", "plan.yaml", "--commit", "--json"]);
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        let files = git(&work, &["show", "--name-only", "--format=", "HEAD"]);
        let mut files: Vec<&str> = files.lines().collect();
        files.sort_unstable();
        assert_eq!(
            files,
            ["left.txt", "other.txt", "right.txt", "shared.txt"],
            "{kind}: only the agents' work is committed"
        );
        assert!(std::fs::read_to_string(work.join(".git/info/exclude")).unwrap().contains(".plan/"));
        // Other uncommitted changes still stop a run, listed.
        git(&work, &["checkout", "--quiet", "main"]);
        std::fs::write(work.join("README.md"), "edited\n").unwrap();
        let run = run_as(&t, kind, &["run", "plan.yaml"]);
        run.code(1);
        assert!(run.stderr.contains("uncommitted changes (README.md)"), "{}", run.stderr);
    }
}

#[test]
fn a_workspace_is_an_ordinary_checkout_that_copies_nothing() {
    let plan = r#"version: 1
name: inside
complexity: simple
agent:
  id: look
  workspace: worktree
  run: "git status --porcelain=v1 --branch | head -1; echo new > new.txt; mkdir -p out && echo built > out/x.log; git status --porcelain | sort | tr '\n' ' '; test ! -e .plan/runs"
"#;
    let t = repo(plan);
    let work = t.path("work");
    std::fs::create_dir_all(work.join("out")).unwrap();
    std::fs::write(work.join("out/.gitignore"), "*.log\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "nested ignore"]);
    let run = plan_in(&t, &["run", "plan.yaml", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = t.path("work/.plan/runs").join(run.json()["run_id"].as_str().unwrap());
    let out = std::fs::read_to_string(dir.join("outputs/look.json")).unwrap();
    // On the agent's own branch, its files seen by git; the run directory hidden.
    assert!(out.contains("## plan/") && out.contains("?? new.txt"), "{out}");
    assert!(!out.contains("x.log"), "git in the workspace ignores what .gitignore says: {out}");
    assert_eq!(std::fs::read_to_string(t.path("work/new.txt")).unwrap(), "new\n");
    // A build's output, ignored by a nested .gitignore, is not the agent's work.
    assert!(!work.join("out/x.log").exists());
}

#[test]
fn plan_new_then_plan_run_is_not_refused_for_the_files_plan_new_wrote() {
    let t = repo("");
    let work = t.path("work");
    std::fs::write(work.join("issue.md"), "# Fix the parser\n\n- [ ] fix the lexer\n- [ ] add a test\n").unwrap();
    git(&work, &["add", "issue.md"]);
    git(&work, &["commit", "--quiet", "-m", "issue"]);
    run_in(&work, &["new", "--from", "issue.md", "--output", "plans/issue-1.yaml"], &[]).code(0);
    // A `claude` that fails at once: what matters is that the run starts.
    std::fs::create_dir_all(work.join("../bin")).unwrap();
    std::fs::write(work.join("../bin/claude"), "#!/bin/sh\nexit 3\n").unwrap();
    std::fs::set_permissions(work.join("../bin/claude"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", work.join("../bin").display(), std::env::var("PATH").unwrap_or_default());
    let run = run_in(&work, &["run", "plans/issue-1.yaml", "--fail-fast"], &[("PATH", &path)]);
    assert!(!run.stderr.contains("uncommitted changes"), "{}", run.stderr);
    assert!(run.stderr.contains("agents · concurrency"), "the run started: {}", run.stderr);
}

#[test]
fn a_hundred_agents_each_merge_their_change() {
    let mut plan = String::from(
        "version: 1\nname: hundred\ncomplexity: enterprise\nconcurrency: 16\ndefaults: { workspace: worktree }\n\
         agent:\n  id: primary\n  pattern: fork-join\n  agents:\n",
    );
    for i in 0..100 {
        plan.push_str(&format!("    - {{ id: a{i}, run: \"echo {i} >> d{}/f{i}.txt\" }}\n", i % 10));
    }
    plan.push_str("  join: { id: count, run: \"cat d*/f*.txt | wc -l\" }\n");
    let t = repo(&plan);
    let work = t.path("work");
    for d in 0..10 {
        std::fs::create_dir_all(work.join(format!("d{d}"))).unwrap();
        for i in (d..100).step_by(10) {
            std::fs::write(work.join(format!("d{d}/f{i}.txt")), "start\n").unwrap();
        }
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "files"]);
    let run = plan_in(&t, &["run", "plan.yaml", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = work.join(".plan/runs").join(run.json()["run_id"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("outputs/count.json")).unwrap().trim(), "200");
    for i in 0..100 {
        let f = std::fs::read_to_string(work.join(format!("d{}/f{i}.txt", i % 10))).unwrap();
        assert_eq!(f, format!("start\n{i}\n"));
    }
}

#[test]
fn on_conflict_agent_resolves_within_the_attempt_given_both_sides() {
    // No retry policy: the resolver is what saves the run. A command learns of the
    // conflict from PLAN_CONFLICT (a coding agent from its prompt).
    let plan = CONFLICT
        .replace("complexity: moderate", "complexity: moderate\nmerge: { on_conflict: agent }")
        .replace(", retry: { attempts: 2, delay: 10ms }", "")
        .replace(
            "\"sleep 1.5; echo L >> shared.txt; cat shared.txt\"",
            "'sleep 1.5; if [ -n \"$PLAN_CONFLICT\" ]; then printf \"%s\" \"$PLAN_CONFLICT\" > conflict.txt; echo L >> shared.txt; else echo X >> shared.txt; fi'",
        );
    for kind in KINDS {
        let t = repo("");
        let out = t.dir.path().canonicalize().unwrap();
        std::fs::write(t.path("work/plan.yaml"), plan.replace("OUT", &out.display().to_string())).unwrap();
        let run = run_as(&t, kind, &["run", "plan.yaml", "--json"]);
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        assert_eq!(run.json()["agents"]["late"]["attempts"], 1, "{kind}");
        assert_eq!(std::fs::read_to_string(t.path("work/shared.txt")).unwrap(), "E\nL\n", "{kind}");
        // What it was told is part of its work (merged into the checkout).
        let seen = std::fs::read_to_string(t.path("work/conflict.txt")).unwrap_or_default();
        assert!(
            seen.contains("merge conflict in shared.txt") && seen.contains("+E") && seen.contains("+X"),
            "{kind}: {seen}"
        );
    }
}
