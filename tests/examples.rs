//! Every shipped example plan lints clean and runs to success.

use crate::support::{example_plans, repo, Test};

#[test]
fn every_example_lints_clean() {
    let plans = example_plans();
    assert!(plans.len() >= 8, "{plans:?}");
    let mut args = vec!["lint", "--deny-warnings"];
    args.extend(plans.iter().map(String::as_str));
    let run = Test::new().in_repo().args(&args).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn examples_cover_every_pattern_and_tier() {
    let mut patterns = std::collections::BTreeSet::new();
    let mut tiers = std::collections::BTreeSet::new();
    for plan in example_plans() {
        let text = std::fs::read_to_string(repo().join(&plan)).unwrap();
        for line in text.lines() {
            let line = line.trim();
            if let Some(p) = line.strip_prefix("pattern: ") {
                patterns.insert(p.to_string());
            }
            if let Some(t) = line.strip_prefix("complexity: ") {
                tiers.insert(t.to_string());
            }
        }
    }
    assert_eq!(
        patterns.into_iter().collect::<Vec<_>>(),
        ["fork-join", "mapreduce", "pipeline", "saga", "scatter-gather"]
    );
    assert_eq!(tiers.len(), 5, "{tiers:?}");
}

#[test]
fn every_example_runs() {
    for plan in example_plans() {
        let abs = repo().join(&plan);
        let mut t = Test::new();
        let run = t.args(&["run", abs.to_str().unwrap(), "--json", "--runs-dir", "runs"]).run();
        assert_eq!(run.code, 0, "{plan}\n{}", run.stderr);
        let report = run.json();
        assert_eq!(report["status"], "succeeded", "{plan}");
        let run_id = report["run_id"].as_str().unwrap();
        assert!(t.path("runs").join(run_id).join("report.json").is_file());
        assert!(t.path("runs").join(run_id).join("journal.jsonl").is_file());
    }
}
