//! The step cache: a second run of an unchanged plan asks the model nothing and
//! leaves the same files; a changed prompt re-runs that agent and what follows it;
//! `reads:` narrows what a step's key covers; `run:` commands only with `cache: true`;
//! `--no-cache`; a damaged entry is said and ignored; runs sharing a cache at once.

use serde_json::json;

use crate::model::{agent_env, installed, plan_run, tiny_repo, ModelServer};
use crate::support::run_in;

fn pipeline(third: &str) -> String {
    format!(
        "version: 1\nname: cached\ncomplexity: moderate\ndefaults: {{ runner: claude, workspace: worktree, timeout: 2m }}\n\
         agent:\n  id: primary\n  pattern: pipeline\n  agents:\n\
         \x20   - {{ id: a1, prompt: \"Step one: change hello to goodbye in greeting.txt.\" }}\n\
         \x20   - {{ id: a2, prompt: \"Step two: say done.\" }}\n\
         \x20   - {{ id: a3, prompt: \"{third}\" }}\n\
         \x20   - {{ id: a4, prompt: \"Step four: say done.\" }}\n\
         \x20   - {{ id: a5, prompt: \"Step five: say done.\" }}\n"
    )
}

fn model_requests(server: &ModelServer) -> usize {
    server.requests().iter().filter(|r| r["path"].as_str().unwrap_or_default().ends_with("/messages")).count()
}

#[test]
fn an_unchanged_plan_runs_again_from_the_cache_and_a_changed_prompt_reruns_what_follows() {
    if !installed("claude") {
        return;
    }
    let server = ModelServer::start(json!({
        "edits": [{"file": "greeting.txt", "old": "hello", "new": "goodbye", "when": "Step one"}],
        "reply": "done",
        "replies": [{"when": "reworded", "reply": "done, reworded"}]
    }));
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, pipeline("Step three: say done.")).unwrap();
    let plan = plan.display().to_string();
    let env = agent_env(&server, &dir.path().join("home"));
    let restore = || {
        let ok = std::process::Command::new("git")
            .args(["checkout", "-q", "--", "greeting.txt"])
            .current_dir(&work)
            .status();
        assert!(ok.unwrap().success());
    };
    let first = plan_run(&work, &env, &["run", &plan, "--json"]);
    first.code(0);
    let asked = model_requests(&server);
    assert_eq!(asked, 3 + 4, "a1 reads, edits and answers; the others answer");
    assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n");

    // The same plan from the same files: nothing asked, the same files after.
    restore();
    let second = plan_run(&work, &env, &["run", &plan, "--json"]);
    second.code(0);
    assert_eq!(model_requests(&server), asked, "the second run asked the model");
    assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n", "a1's change replayed");
    let report = second.json();
    for a in ["a1", "a2", "a3", "a4", "a5"] {
        assert_eq!(report["agents"][a]["cached"], true, "{a}: {report}");
    }
    let summary = &report["implementation_summary"]["cache"];
    assert_eq!(summary["hits"], 5, "{report}");
    assert!(summary["saved_cost_usd"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["performance_metrics"]["tokens"], 0, "nothing spent: {report}");
    let status = plan_run(&work, &env, &["status", report["run_id"].as_str().unwrap()]);
    assert!(status.stdout.contains("cached (saved"), "{}", status.stdout);

    // One prompt changed: it runs, and — its output changed — the two after it; a1
    // and a2 stay cached. (An unchanged output would have kept them cached.)
    restore();
    std::fs::write(dir.path().join("plan.yaml"), pipeline("Step three, reworded: say done.")).unwrap();
    let third = plan_run(&work, &env, &["run", &plan, "--json"]);
    third.code(0);
    assert_eq!(model_requests(&server) - asked, 3, "exactly a3, a4 and a5 asked the model");
    let report = third.json();
    for (a, cached) in [("a1", true), ("a2", true), ("a3", false), ("a4", false), ("a5", false)] {
        assert_eq!(report["agents"][a]["cached"].as_bool().unwrap_or(false), cached, "{a}: {report}");
    }
    // Asked not to: everything runs.
    restore();
    let before = model_requests(&server);
    plan_run(&work, &env, &["run", &plan, "--no-cache", "--json"]).code(0);
    assert_eq!(model_requests(&server) - before, 7, "--no-cache ran every agent");
}

/// Commands whose output tells whether they ran (the time), with and without `cache:`.
const COMMANDS: &str = r#"version: 1
name: commands
complexity: moderate
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: asked, run: "date +%s%N", cache: true, reads: ["src/**"] }
    - { id: plain, run: "date +%s%N" }
"#;

#[test]
fn commands_are_cached_only_when_they_ask_and_reads_narrows_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    std::fs::create_dir_all(work.join("src")).unwrap();
    std::fs::write(work.join("src/lib.txt"), "one\n").unwrap();
    std::fs::write(dir.path().join("c.yaml"), COMMANDS).unwrap();
    let plan = dir.path().join("c.yaml").display().to_string();
    let out = |run: &crate::support::Run, id: &str| run.json()["agents"][id]["cached"].as_bool().unwrap_or(false);
    let output = |run: &crate::support::Run, id: &str| {
        let dir = work.join(".plan/runs").join(run.json()["run_id"].as_str().unwrap());
        std::fs::read_to_string(dir.join(format!("outputs/{id}.json"))).unwrap()
    };
    let first = run_in(&work, &["run", &plan, "--json"], &[]);
    first.code(0);
    let second = run_in(&work, &["run", &plan, "--json"], &[]);
    second.code(0);
    assert!(out(&second, "asked") && !out(&second, "plain"), "{}", second.stdout);
    assert_eq!(output(&second, "asked"), output(&first, "asked"), "the cached output");
    assert_ne!(output(&second, "plain"), output(&first, "plain"), "a command that did not ask ran again");
    // A change outside its reads leaves it cached; one inside runs it again.
    std::fs::write(work.join("README.txt"), "new\n").unwrap();
    assert!(out(run_in(&work, &["run", &plan, "--json"], &[]).code(0), "asked"));
    std::fs::write(work.join("src/lib.txt"), "two\n").unwrap();
    assert!(!out(run_in(&work, &["run", &plan, "--json"], &[]).code(0), "asked"));
}

#[test]
fn a_damaged_entry_is_said_and_ignored_and_runs_may_share_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    std::fs::write(dir.path().join("c.yaml"), COMMANDS).unwrap();
    let plan = dir.path().join("c.yaml").display().to_string();
    let shared = dir.path().join("shared-cache");
    let cache_dir = shared.display().to_string();
    // Two runs at once, one cache.
    let spawn = || {
        std::process::Command::new(crate::support::bin())
            .args(["run", &plan, "--quiet", "--cache-dir", &cache_dir])
            .current_dir(&work)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let ls = run_in(&work, &["cache", "ls", "--json", "--cache-dir", &cache_dir], &[]);
    let entries: serde_json::Value = serde_json::from_str(&ls.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1, "one entry for `asked`, whole: {}", ls.stdout);
    let key = entries[0]["key"].as_str().unwrap().to_string();
    let show = run_in(&work, &["cache", "show", &key[..12], "--cache-dir", &cache_dir], &[]);
    assert!(show.stdout.contains("\"agent\": \"asked\""), "{}", show.stdout);
    // Damaged: said, ignored, and the step runs (and stores a whole entry again).
    let file = shared.join(&key[..2]).join(format!("{key}.json"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let run = run_in(&work, &["run", &plan, "--json", "--cache-dir", &cache_dir], &[]);
    run.code(0);
    assert!(run.stderr.contains("the step cache's entry is damaged and was ignored"), "{}", run.stderr);
    assert_eq!(run.json()["agents"]["asked"]["cached"].as_bool(), None, "it ran");
    let again = run_in(&work, &["run", &plan, "--json", "--cache-dir", &cache_dir], &[]);
    assert_eq!(again.json()["agents"]["asked"]["cached"], true);
    let pruned = run_in(&work, &["cache", "prune", "--max-size", "1", "--cache-dir", &cache_dir], &[]);
    assert!(pruned.stdout.contains("removed 1 entries"), "{}", pruned.stdout);
}
