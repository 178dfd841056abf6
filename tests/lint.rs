//! `plan lint`: every broken fixture's diagnostics are snapshotted; output formats,
//! exit codes and hostile input are checked.

use serde::Deserialize;

use crate::support::{repo, Test};

#[test]
fn fixtures_snapshot() {
    insta::glob!("fixtures/lint/*.yaml", |path| {
        let rel = path.strip_prefix(repo()).unwrap().to_string_lossy().into_owned();
        let run = Test::new().in_repo().args(&["lint", &rel]).run();
        insta::assert_snapshot!(format!("exit: {}\n{}", run.code, run.stderr));
    });
}

/// Every rule code that the registry lists has a fixture that triggers it.
#[test]
fn every_rule_has_a_fixture() {
    let dir = repo().join("tests/fixtures/lint");
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let run = Test::new().args(&["lint", "--format", "json", path.to_str().unwrap()]).run();
        for d in run.json()["diagnostics"].as_array().unwrap() {
            seen.insert(d["code"].as_str().unwrap().to_string());
        }
    }
    for rule in plan_compiler::check::rules::RULES {
        for (code, _) in rule.codes {
            assert!(seen.contains(*code), "no fixture triggers `{code}`");
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonReport {
    diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct JsonDiagnostic {
    file: String,
    line: usize,
    column: usize,
    end_column: usize,
    severity: String,
    code: String,
    message: String,
    help: Option<String>,
}

#[test]
fn json_format_is_the_documented_contract() {
    let run = Test::new().in_repo().args(&["lint", "--format", "json", "tests/fixtures/lint/unknown-field.yaml"]).run();
    run.code(1);
    let report: JsonReport = serde_json::from_str(&run.stdout).unwrap();
    let d = &report.diagnostics[0];
    assert_eq!(
        (d.file.as_str(), d.line, d.column, d.code.as_str()),
        ("tests/fixtures/lint/unknown-field.yaml", 6, 3, "unknown-field")
    );
    assert_eq!(d.severity, "error");
    assert_eq!(d.help.as_deref(), Some("did you mean `prompt`?"));
}

#[test]
fn github_format_prints_workflow_commands() {
    let run =
        Test::new().in_repo().args(&["lint", "--format", "github", "tests/fixtures/lint/unknown-need.yaml"]).run();
    run.code(1);
    assert!(
        run.stdout.starts_with("::error file=tests/fixtures/lint/unknown-need.yaml,line=9,col=40,"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("unknown agent `buidl`%0Ahelp: did you mean `build`?"), "{}", run.stdout);
}

#[test]
fn warnings_pass_unless_denied() {
    Test::new().in_repo().args(&["lint", "tests/fixtures/lint/tier-fit.yaml"]).run().code(0);
    Test::new().in_repo().args(&["lint", "--deny-warnings", "tests/fixtures/lint/tier-fit.yaml"]).run().code(1);
}

#[test]
fn usage_errors_exit_2() {
    Test::new().args(&["lint"]).run().code(2);
    Test::new().args(&["lint", "--format", "xml", "x.yaml"]).run().code(2);
    Test::new().args(&["frobnicate"]).run().code(2);
}

#[test]
fn hostile_files_get_a_diagnostic_not_a_panic() {
    let deep = format!("a: {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    let t = Test::new().file("deep.yaml", &deep).file("dir/x.yaml", "version: 1\n");
    std::fs::write(t.path("garbage.yaml"), (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let big = std::fs::File::create(t.path("big.yaml")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    for (file, code) in [
        ("missing.yaml", "unreadable-file"),
        ("dir", "unreadable-file"),
        ("garbage.yaml", "not-utf8"),
        ("big.yaml", "file-too-large"),
    ] {
        let run = t.run_with(&["lint", "--format", "json", file]);
        assert_eq!(run.code, 1, "{file}: {}", run.stderr);
        assert_eq!(run.json()["diagnostics"][0]["code"], code, "{file}");
    }
    let run = t.run_with(&["lint", "deep.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("deep.yaml:1:"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn lints_several_files_and_collects_everything() {
    let run = Test::new()
        .in_repo()
        .args(&["lint", "tests/fixtures/lint/unknown-need.yaml", "tests/fixtures/lint/undefined-variable.yaml"])
        .run();
    run.code(1);
    assert!(run.stderr.contains("5 errors, 0 warnings in 2 files"), "{}", run.stderr);
}

#[test]
fn colour_only_when_asked_for() {
    let run = Test::new().in_repo().args(&["lint", "tests/fixtures/lint/unknown-field.yaml"]).run();
    assert!(!run.stderr.contains('\x1b'));
}

#[test]
fn a_huge_list_on_one_line_lints_in_linear_time() {
    let items: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let plan = format!(
        "version: 1\nname: long\ncomplexity: enterprise\nlimits: {{ copies: 100000 }}\nagent:\n  id: top\n  pattern: mapreduce\n  map: {{ over: [{}], as: n, agent: {{ id: w, run: echo }} }}\n",
        items.join(",")
    );
    let t = Test::new().file("long.yaml", &plan);
    let started = std::time::Instant::now();
    let run = t.run_with(&["lint", "long.yaml"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(run.code <= 1, "{}", run.stderr);
}

/// `--policy`: every place a plan does more than the trust policy allows, at its line;
/// a policy file narrows it; a broken policy file is named with its line.
#[test]
fn a_policy_reports_its_breaches_at_their_lines() {
    let plan = "tests/fixtures/policy/injected.yaml";
    let clean = Test::new().in_repo().args(&["lint", plan]).run();
    assert_eq!(clean.code, 0, "it lints clean without a policy: {}", clean.stderr);
    let run = Test::new().in_repo().args(&["lint", plan, "--policy", "default"]).run();
    insta::assert_snapshot!(format!("exit: {}\n{}", run.code, run.stderr));
    let strict = Test::new().in_repo().args(&["lint", plan, "--policy", "tests/fixtures/policy/strict.yaml"]).run();
    assert!(strict.stderr.contains("over the policy's $2"), "{}", strict.stderr);
    let t = Test::new().file("p.yaml", "max_cost_usd: 1\nallow: everything\n");
    let bad = t.run_with(&["lint", plan, "--policy", t.path("p.yaml").to_str().unwrap()]);
    assert!(bad.code != 0 && bad.stderr.contains("p.yaml:2:") && bad.stderr.contains("allow"), "{}", bad.stderr);
}
