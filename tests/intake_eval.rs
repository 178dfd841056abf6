//! The intake evaluation: `plan new` on every issue of tests/data/intake-eval, each
//! labelled by hand before the classifier saw it. Keeps the accuracy table in
//! README.md and the per-issue table in docs/intake-eval.md true, and holds the rules
//! to their targets. `PLAN_UPDATE_DOCS=1 cargo test intake_eval` rewrites both tables.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::intake_run::{agent_text, before, names, work_of, Run, Work};
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
    run: Run,
}

/// What `plan new` made of one issue.
struct Outcome {
    written: bool,
    tier: String,
    pattern: String,
    agents: Vec<String>,
    junk: Vec<String>,
    /// The codes of the intake review's warnings.
    review: Vec<String>,
    /// The agents with work.
    work: Vec<Work>,
}

fn issues(file: &str) -> Vec<Issue> {
    let text = std::fs::read_to_string(repo().join("tests/data/intake-eval").join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// `https://github.com/org/repo/issues/4` -> (`org/repo`, 4)
fn repo_and_number(url: &str) -> (String, u64) {
    let parts: Vec<&str> = url.trim_start_matches("https://github.com/").split('/').collect();
    (format!("{}/{}", parts[0], parts[1]), parts[3].parse().unwrap())
}

/// Every agent of a written plan: its role and its task, the text it was made from.
fn agent_texts(agent: &Value, out: &mut Vec<String>) {
    out.push(agent_text(agent));
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

/// Whether a maintainer would run the plan as it is, by the issue's `run` label; the
/// reason when not.
fn would_run(i: &Issue, o: &Outcome) -> Result<(), String> {
    let run = &i.expect.run;
    let [min, max] = run.agents;
    if !o.written {
        return Err("no plan".into());
    }
    if !i.expect.tiers.contains(&o.tier) {
        return Err(format!("tier {}", o.tier));
    }
    if !pattern_ok(i, o) {
        return Err(format!("pattern {}", o.pattern));
    }
    if !(min..=max).contains(&o.work.len()) {
        return Err(format!("{} agents", o.work.len()));
    }
    if !o.junk.is_empty() {
        return Err("junk".into());
    }
    if let Some(code) =
        o.review.iter().find(|c| ["intake-order", "intake-not-work", "intake-generic"].contains(&c.as_str()))
    {
        return Err(code.trim_start_matches("intake-").to_string());
    }
    if o.work.len() > 1 {
        if let Some(c) = run.covers.iter().find(|c| !o.work.iter().any(|w| names(&w.text, c))) {
            return Err(format!("no agent for {c}"));
        }
        for [first, then] in &run.order {
            let firsts: Vec<&Work> = o.work.iter().filter(|w| names(&w.text, first) && !names(&w.text, then)).collect();
            let thens: Vec<&Work> = o.work.iter().filter(|w| names(&w.text, then) && !names(&w.text, first)).collect();
            if firsts.iter().any(|a| thens.iter().any(|b| !before(a, b))) {
                return Err(format!("{then} not after {first}"));
            }
        }
    }
    Ok(())
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
        return Outcome {
            written: false,
            tier: "-".into(),
            pattern: "-".into(),
            agents: vec![],
            junk: vec![],
            review: vec![],
            work: vec![],
        };
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
    // What the intake review warned of (`review: warning[CODE]: ...`).
    let review = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("review: warning[")?.split_once(']').map(|(c, _)| c.to_string()))
        .collect();
    let mut work = Vec::new();
    work_of(&plan["agent"], &mut Vec::new(), &mut work);
    Outcome { written: true, tier: tier.to_string(), pattern: pattern.to_string(), agents: workers, junk, review, work }
}

fn percent(n: usize, of: usize) -> String {
    format!("{n} of {of} ({}%)", (n * 100 + of / 2) / of)
}

/// The counts over one set of issues.
struct Scores {
    n: usize,
    written: usize,
    exact: usize,
    tier_ok: usize,
    pattern_ok: usize,
    junk: usize,
    reviewed: usize,
    /// Would run as they are: all plans, and those of several agents (of how many).
    runs: usize,
    several_run: usize,
    several: usize,
}

fn pattern_ok(i: &Issue, o: &Outcome) -> bool {
    i.expect.patterns.iter().any(|p| p == "any" || *p == o.pattern)
        || (o.pattern == "one agent"
            && (i.expect.run.agents[0] == 1 || i.expect.tiers.iter().any(|t| t == "atomic" || t == "simple")))
}

fn score(issues: &[Issue], outcomes: &[Outcome]) -> Scores {
    let pairs = || issues.iter().zip(outcomes);
    Scores {
        n: issues.len(),
        written: outcomes.iter().filter(|o| o.written).count(),
        exact: pairs().filter(|(i, o)| i.expect.tier == o.tier).count(),
        tier_ok: pairs().filter(|(i, o)| i.expect.tiers.contains(&o.tier)).count(),
        pattern_ok: pairs().filter(|(i, o)| pattern_ok(i, o)).count(),
        junk: outcomes.iter().map(|o| o.junk.len()).sum(),
        reviewed: outcomes.iter().filter(|o| !o.review.is_empty()).count(),
        runs: pairs().filter(|(i, o)| would_run(i, o).is_ok()).count(),
        several_run: pairs().filter(|(i, o)| o.work.len() > 1 && would_run(i, o).is_ok()).count(),
        several: outcomes.iter().filter(|o| o.work.len() > 1).count(),
    }
}

fn rows(issues: &[Issue], outcomes: &[Outcome], table: &mut String) {
    for (i, o) in issues.iter().zip(outcomes) {
        let (repo_name, number) = repo_and_number(&i.url);
        let mark = |ok: bool| if ok { "✓" } else { "✗" };
        let mut agents = o.work.len().to_string();
        if !o.junk.is_empty() {
            agents.push_str(&format!(" ({} junk)", o.junk.len()));
        }
        let mut codes: Vec<&str> = o.review.iter().map(|c| c.trim_start_matches("intake-")).collect();
        codes.dedup();
        let review = if codes.is_empty() { String::new() } else { codes.join(", ") };
        let runs = match would_run(i, o) {
            Ok(()) => "✓".to_string(),
            Err(why) => format!("✗ {why}"),
        };
        table.push_str(&format!(
            "| `{repo_name}#{number}` {} | {} ({}) | {} {} | {} {} | {agents} | {review} | {runs} |\n",
            i.title.replace('|', "\\|"),
            i.expect.tier,
            i.expect.tiers.join(", "),
            o.tier,
            mark(i.expect.tiers.contains(&o.tier)),
            o.pattern,
            mark(pattern_ok(i, o)),
        ));
    }
}

#[test]
fn intake_eval() {
    let (tuned, held) = (issues("issues.yaml"), issues("held-out.yaml"));
    assert!(tuned.len() >= 40, "the set holds at least 40 issues");
    let tuned_out: Vec<Outcome> = tuned.iter().map(run).collect();
    let held_out: Vec<Outcome> = held.iter().map(run).collect();
    let (t, h) = (score(&tuned, &tuned_out), score(&held, &held_out));
    let languages = {
        let mut l: Vec<&str> = tuned.iter().chain(&held).map(|i| i.language.as_str()).collect();
        l.sort();
        l.dedup();
        l.len()
    };
    let mut summary = format!(
        "| `plan new` on real issues ({languages} languages) | {} issues the rules were tuned on | {} held out | target |\n|---|---|---|---|\n",
        t.n, h.n
    );
    for (what, a, b, target) in [
        ("tier exact", t.exact, h.exact, ""),
        ("tier acceptable", t.tier_ok, h.tier_ok, "90%"),
        ("pattern acceptable", t.pattern_ok, h.pattern_ok, "90%"),
        ("a plan written, lint-clean", t.written, h.written, "all"),
    ] {
        summary.push_str(&format!("| {what} | {} | {} | {target} |\n", percent(a, t.n), percent(b, h.n)));
    }
    summary.push_str(&format!(
        "| agents made of junk (done items, template answers, repro steps, links, figures) | {} | {} | 0 |\n",
        t.junk, h.junk
    ));
    summary.push_str(&format!(
        "| plans the intake review warns of (order, not work, uncovered item, generic step) | {} | {} |  |\n",
        percent(t.reviewed, t.n),
        percent(h.reviewed, h.n)
    ));
    summary.push_str(&format!(
        "| **would a maintainer run it as it is** (labelled per issue) | {} | {} | 80% |\n",
        percent(t.runs, t.n),
        percent(h.runs, h.n)
    ));
    summary.push_str(&format!(
        "| ... plans of several agents | {} | {} | 70% |\n",
        percent(t.several_run, t.several.max(1)),
        percent(h.several_run, h.several.max(1))
    ));

    let mut table = String::from(
        "# Intake evaluation\n\n<!-- generated by tests/intake_eval.rs: `PLAN_UPDATE_DOCS=1 cargo test intake_eval` -->\n\n\
         What `plan new` (the rules, no model) makes of each issue in\n\
         [tests/data/intake-eval](../tests/data/intake-eval/), against the tier and patterns labelled\n\
         by hand before it ran. ✓ marks an acceptable tier or pattern. The held-out issues were\n\
         collected and labelled after the rules were last changed. Each issue's URL is in the data.\n\n\
         \"Would run\" is each issue's `run` label (see the data's header): how many agents, what\n\
         they must name, what must come before what, decided by reading the issue and the plan\n\
         the rules wrote before they were reworked to write plans a maintainer runs as they are.\n\
         With the rules of then, 21 of 51 tuned plans would run (2 of 31 of several agents) and\n\
         15 of 23 held out (0 of 6).\n\n\
         The last 263 issues of the tuned set came in eight batches of about 33, each collected and\n\
         labelled as held out and measured once before anything changed for it:\n\n\
         | batch, measured once as held out | tier acceptable | pattern | junk agents | would run | of several agents |\n\
         |---|---|---|---|---|---|\n\
         | 1, after the rework | 17 of 33 (52%) | 31 of 33 | 9 | 13 of 33 (39%) | 3 of 15 |\n\
         | 2, after the fixes batch 1 showed | 25 of 33 (76%) | 33 of 33 | 10 | 24 of 33 (73%) | 1 of 6 |\n\
         | 3, after the fixes batch 2 showed | 26 of 33 (79%) | 32 of 33 | 3 | 23 of 33 (70%) | 1 of 4 |\n\
         | 4, after the fixes batch 3 showed | 23 of 33 (70%) | 33 of 33 | 4 | 20 of 33 (61%) | 1 of 5 |\n\
         | 5, after the fixes batch 4 showed | 27 of 33 (82%) | 32 of 33 | 9 | 22 of 33 (67%) | 0 of 5 |\n\
         | 6, after the fixes batch 5 showed | 24 of 32 (75%) | 31 of 32 | 0 | 21 of 32 (66%) | 2 of 6 |\n\
         | 7, after the fixes batch 6 showed | 28 of 33 (85%) | 33 of 33 | 0 | 28 of 33 (85%) | 1 of 1 |\n\
         | 8, after the fixes batch 7 showed | 26 of 33 (79%) | 32 of 33 | 1 | 23 of 33 (70%) | 1 of 5 |\n\n\
         What each showed was then fixed, so all eight count as tuned, as do the 23 issues held\n\
         out before this work (their plans were read to label them). The held-out column below\n\
         is a ninth batch of 33 (undo and redo, OpenAPI documentation, structured logging,\n\
         health endpoints, responsive layouts, configuration files), collected and labelled\n\
         after the last change to the rules: the figure to trust. Its misses: OpenAPI\n\
         documentation sized as a one-file fix, a configuration file sized as complex, and the\n\
         tools listed under \"How?\" made into agents.\n\n",
    );
    table.push_str(&summary);
    table.push_str("\n## The issues the rules were tuned on\n\n| issue | labelled | got | pattern | agents | review | would run |\n|---|---|---|---|---|---|---|\n");
    rows(&tuned, &tuned_out, &mut table);
    table.push_str(
        "\n## Held out\n\n| issue | labelled | got | pattern | agents | review | would run |\n|---|---|---|---|---|---|---|\n",
    );
    rows(&held, &held_out, &mut table);

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
        tuned.iter().zip(&tuned_out).flat_map(|(i, o)| o.junk.iter().map(move |j| format!("{}: {j}", i.url))).collect();
    assert_eq!((t.written, h.written), (t.n, h.n), "every issue gets a plan");
    assert!(junk_list.is_empty(), "agents made of junk:\n{}", junk_list.join("\n"));
    assert!(t.tier_ok * 100 >= t.n * 90, "tier acceptable on {} of {}: under 90%", t.tier_ok, t.n);
    assert!(t.pattern_ok * 100 >= t.n * 90, "pattern acceptable on {} of {}: under 90%", t.pattern_ok, t.n);
    // A maintainer would run most plans as they are; a change to the rules that breaks
    // that shows here, held out or not.
    assert!(t.runs * 100 >= t.n * 90, "would run: {} of {} tuned, under 90%", t.runs, t.n);
    // The held-out target is 80% (the table's target column); the floor here only
    // catches a change that makes things worse on issues the rules never saw.
    assert!(h.runs * 100 >= h.n * 65, "would run: {} of {} held out, under 65%", h.runs, h.n);
    // Done checklist items never become agents, held out or not.
    for (i, o) in held.iter().zip(&held_out) {
        let done = done_items(&i.body);
        assert!(
            !o.agents.iter().any(|a| done.iter().any(|d| a.contains(d.as_str()))),
            "{}: a done item became an agent",
            i.url
        );
    }
}
