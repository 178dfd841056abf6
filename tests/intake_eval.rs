//! The intake evaluation: `plan new` on every issue of tests/data/intake-eval, each
//! labelled by hand before the classifier saw it. Keeps the accuracy table in
//! README.md and the per-issue table in docs/intake-eval.md true, and holds the rules
//! to their targets. `PLAN_UPDATE_DOCS=1 cargo test intake_eval` rewrites both tables.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::{repo, Test};

#[derive(Deserialize)]
struct Issue {
    url: String,
    language: String,
    labels: Vec<String>,
    title: String,
    body: String,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    tier: String,
    tiers: Vec<String>,
    patterns: Vec<String>,
    junk: Vec<String>,
}

/// What `plan new` made of one issue.
struct Outcome {
    written: bool,
    tier: String,
    pattern: String,
    agents: Vec<String>,
    junk: Vec<String>,
}

fn issues() -> Vec<Issue> {
    let text = std::fs::read_to_string(repo().join("tests/data/intake-eval/issues.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// `https://github.com/org/repo/issues/4` -> (`org/repo`, 4)
fn repo_and_number(url: &str) -> (String, u64) {
    let parts: Vec<&str> = url.trim_start_matches("https://github.com/").split('/').collect();
    (format!("{}/{}", parts[0], parts[1]), parts[3].parse().unwrap())
}

/// Every agent of a written plan: its role and its task, the text it was made from.
fn agent_texts(agent: &Value, out: &mut Vec<String>) {
    let text = [agent.get("role"), agent.pointer("/with/task")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" / ");
    out.push(text);
    for child in agent.get("agents").and_then(Value::as_array).into_iter().flatten() {
        agent_texts(child, out);
    }
    for key in ["join", "reduce"] {
        if let Some(a) = agent.get(key) {
            agent_texts(a, out);
        }
    }
    for pointer in ["/map/agent", "/gather/agent"] {
        if let Some(a) = agent.pointer(pointer) {
            agent_texts(a, out);
        }
    }
}

/// Checklist entries the issue marks done: never work.
fn done_items(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches(['-', '*']).trim_start();
            l.strip_prefix("[x]").or_else(|| l.strip_prefix("[X]")).map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn run(issue: &Issue) -> Outcome {
    let (repo_name, number) = repo_and_number(&issue.url);
    let labels: Vec<Value> = issue.labels.iter().map(|l| json!({ "name": l })).collect();
    let rest = json!({
        "number": number,
        "title": issue.title,
        "body": issue.body,
        "labels": labels,
        "html_url": issue.url,
        "repository_url": format!("https://api.github.com/repos/{repo_name}"),
    });
    let t = Test::new().file("issue.json", &rest.to_string());
    let run = t.run_with(&["new", "--from", "issue.json", "--output", "p.yaml", "--explain"]);
    let Ok(text) = std::fs::read_to_string(t.path("p.yaml")) else {
        return Outcome { written: false, tier: "-".into(), pattern: "-".into(), agents: vec![], junk: vec![] };
    };
    assert_eq!(run.code, 0, "{}: {}", issue.url, run.stderr);
    let lint = t.run_with(&["lint", "p.yaml"]);
    assert_eq!(lint.code, 0, "{}: the written plan has errors: {}", issue.url, lint.stderr);
    let head = run.stderr.lines().next().unwrap_or_default();
    let (tier, pattern) = head.trim_start_matches("tier: ").split_once(", pattern: ").unwrap_or(("-", "-"));
    let plan: Value = serde_yaml::from_str(&text).unwrap();
    let mut agents = Vec::new();
    agent_texts(&plan["agent"], &mut agents);
    // The primary coordinates; its role is the issue's title.
    let workers: Vec<String> = if agents.len() > 1 { agents[1..].to_vec() } else { agents.clone() };
    let forbidden: Vec<String> = issue.expect.junk.iter().cloned().chain(done_items(&issue.body)).collect();
    let junk = workers
        .iter()
        .filter(|a| forbidden.iter().any(|j| a.to_lowercase().contains(&j.to_lowercase())))
        .cloned()
        .collect();
    Outcome { written: true, tier: tier.to_string(), pattern: pattern.to_string(), agents: workers, junk }
}

fn percent(n: usize, of: usize) -> String {
    format!("{n} of {of} ({}%)", (n * 100 + of / 2) / of)
}

#[test]
fn intake_eval() {
    let issues = issues();
    assert!(issues.len() >= 40, "the set holds at least 40 issues");
    let outcomes: Vec<Outcome> = issues.iter().map(run).collect();
    let n = issues.len();
    let pattern_ok = |i: &Issue, o: &Outcome| {
        i.expect.patterns.iter().any(|p| p == "any" || *p == o.pattern)
            || (o.pattern == "one agent" && i.expect.tiers.iter().any(|t| t == "atomic" || t == "simple"))
    };
    let written = outcomes.iter().filter(|o| o.written).count();
    let exact = issues.iter().zip(&outcomes).filter(|(i, o)| i.expect.tier == o.tier).count();
    let tier_ok = issues.iter().zip(&outcomes).filter(|(i, o)| i.expect.tiers.contains(&o.tier)).count();
    let pat_ok = issues.iter().zip(&outcomes).filter(|(i, o)| pattern_ok(i, o)).count();
    let junk: usize = outcomes.iter().map(|o| o.junk.len()).sum();

    let mut summary = format!("| `plan new` on {n} real issues ({} languages) | rules | target |\n|---|---|---|\n", {
        let mut l: Vec<&str> = issues.iter().map(|i| i.language.as_str()).collect();
        l.sort();
        l.dedup();
        l.len()
    });
    summary.push_str(&format!("| tier exact | {} | |\n", percent(exact, n)));
    summary.push_str(&format!("| tier acceptable | {} | 85% |\n", percent(tier_ok, n)));
    summary.push_str(&format!("| pattern acceptable | {} | 80% |\n", percent(pat_ok, n)));
    summary.push_str(&format!(
        "| agents made of junk (done items, template answers, repro steps, links, figures) | {junk} | 0 |\n"
    ));
    summary.push_str(&format!("| a plan written, lint-clean | {} | all |\n", percent(written, n)));

    let mut table = String::from(
        "# Intake evaluation\n\n<!-- generated by tests/intake_eval.rs: `PLAN_UPDATE_DOCS=1 cargo test intake_eval` -->\n\n\
         What `plan new` (the rules, no model) makes of each issue in\n\
         [tests/data/intake-eval/issues.yaml](../tests/data/intake-eval/issues.yaml), against the tier and\n\
         patterns labelled by hand before it ran. ✓ marks an acceptable tier or pattern.\n\n",
    );
    table.push_str(&summary);
    table.push_str("\n| issue | labelled | got | pattern | agents |\n|---|---|---|---|---|\n");
    for (i, o) in issues.iter().zip(&outcomes) {
        let (repo_name, number) = repo_and_number(&i.url);
        let mark = |ok: bool| if ok { "✓" } else { "✗" };
        let mut agents = o.agents.len().to_string();
        if !o.junk.is_empty() {
            agents.push_str(&format!(" ({} junk)", o.junk.len()));
        }
        table.push_str(&format!(
            "| [{repo_name}#{number}]({}) {} | {} ({}) | {} {} | {} {} | {agents} |\n",
            i.url,
            i.title.replace('|', "\\|"),
            i.expect.tier,
            i.expect.tiers.join(", "),
            o.tier,
            mark(i.expect.tiers.contains(&o.tier)),
            o.pattern,
            mark(pattern_ok(i, o)),
        ));
    }

    let doc = repo().join("docs/intake-eval.md");
    if std::env::var_os("PLAN_UPDATE_DOCS").is_some() {
        std::fs::write(&doc, &table).unwrap();
        let readme_path = repo().join("README.md");
        let readme = std::fs::read_to_string(&readme_path).unwrap();
        let (start, end) = ("<!-- intake-eval -->\n", "<!-- /intake-eval -->");
        let (a, b) = (readme.find(start).expect("README has the intake-eval markers"), readme.find(end).unwrap());
        let updated = format!("{}{start}{summary}{}", &readme[..a], &readme[b..]);
        std::fs::write(&readme_path, updated).unwrap();
    } else {
        let actual = std::fs::read_to_string(&doc).unwrap_or_default();
        assert!(actual == table, "docs/intake-eval.md is out of date: `PLAN_UPDATE_DOCS=1 cargo test intake_eval`");
        let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
        assert!(readme.contains(&summary), "README.md's intake table is out of date:\n{summary}");
    }

    let junk_list: Vec<String> =
        issues.iter().zip(&outcomes).flat_map(|(i, o)| o.junk.iter().map(move |j| format!("{}: {j}", i.url))).collect();
    assert_eq!(written, n, "every issue gets a plan");
    assert!(junk_list.is_empty(), "agents made of junk:\n{}", junk_list.join("\n"));
    assert!(tier_ok * 100 >= n * 85, "tier acceptable on {tier_ok} of {n}: under 85%");
    assert!(pat_ok * 100 >= n * 80, "pattern acceptable on {pat_ok} of {n}: under 80%");
}
