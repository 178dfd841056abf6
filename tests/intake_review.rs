//! What `plan new` says of the plans it writes (the intake review), and how large a
//! plan it writes for an issue of thousands of items.

use crate::support::Test;

/// A plan a planner wrote with each kind of mistake the intake review looks for.
const FLAWED: &str = r#"version: 1
name: flawed
complexity: moderate
defaults: { runner: claude }
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: one, role: "Phase 1: move the parser to the new library", prompt: "Phase 1: move the parser." }
    - { id: two, role: "Phase 2: remove the old library", prompt: "Phase 2: remove the old library." }
    - { id: repro, role: "Go to Settings and click Save", prompt: "Go to Settings and click Save." }
    - { id: prod, role: "Verify the result in production", prompt: "Verify the result in production." }
"#;

#[test]
fn the_intake_review_warns_of_order_lost_non_work_uncovered_items_and_generic_steps() {
    let issue = "# Move the parser to the new library\n\nThe parser still uses libfoo.\n\n\
                 - [ ] Phase 1: move the parser to the new library\n- [ ] Phase 2: remove the old library\n\
                 - [ ] Port the benchmarks to the new library\n";
    let planner = format!("cat <<'EOF'\n```yaml\n{FLAWED}```\nEOF\n");
    let t = Test::new().file("issue.md", issue).file("planner.sh", &planner);
    let cmd = format!("sh {}", t.path("planner.sh").display());
    let args = ["new", "--from", "issue.md", "--output", "p.yaml", "--planner", &cmd, "--planner-rounds", "1"];
    let run = t.run_with(&args);
    run.code(0);
    let said = &run.stderr;
    for finding in [
        "review: intake-order: agent `two`: `Phase 2: remove the old library` runs beside `one`",
        "review: intake-not-work: agent `repro`",
        "review: intake-uncovered: the issue's item `Port the benchmarks to the new library`",
        "review: intake-generic: agent `prod`",
    ] {
        assert!(said.contains(finding), "{finding}: {said}");
    }
    // A planner's plan must pass the review: this one does not (one round to fix it),
    // so the rules' plan, the fallback, is written.
    assert!(said.contains("after 1 round(s); the rules' plan is written instead"), "{said}");
    let written = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    assert!(!written.contains("repro"), "{written}");
    // It keeps the order the issue gives its phases.
    assert!(written.contains("pattern: pipeline"), "{written}");
    // A plan the rules write for a plain issue draws no warning.
    let t = Test::new().file("issue.md", "# Fix the typo in the README\n\n`recieve` should be `receive`.\n");
    let run = t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml"]);
    run.code(0);
    assert!(!run.stderr.contains("review:"), "{}", run.stderr);
}

#[test]
fn a_five_thousand_item_issue_stays_under_the_agent_cap_with_every_item_in_a_map() {
    let items: String = (0..5000).map(|i| format!("- [ ] Migrate table t{i} to the new store\n")).collect();
    let issue = format!("# Migrate every table to the new store\n\nA system migration, table by table.\n\n{items}");
    let t = Test::new().file("issue.md", &issue);
    let run = t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml"]);
    run.code(0);
    let plan: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(t.path("p.yaml")).unwrap()).unwrap();
    fn count(a: &serde_json::Value, maps: &mut Vec<usize>) -> usize {
        let mut n = 1;
        for c in a["agents"].as_array().into_iter().flatten() {
            n += count(c, maps);
        }
        for k in ["join", "reduce"] {
            if a[k].is_object() {
                n += count(&a[k], maps);
            }
        }
        if let Some(over) = a["map"]["over"].as_array() {
            maps.push(over.len());
            n += 1;
        }
        n
    }
    let mut maps = Vec::new();
    let agents = count(&plan["agent"], &mut maps);
    assert!(agents <= 40, "{agents} agents");
    assert_eq!(maps, [5000], "every item is a copy of one map");
    t.run_with(&["lint", "p.yaml"]).code(0);
    // A moderate issue with more items than its tier's agents keeps them all, mapped.
    let items: String = (0..8).map(|i| format!("- [ ] Add the `{i}` option to the CLI\n")).collect();
    let t = Test::new().file("issue.md", &format!("# Add CLI options\n\n{items}"));
    t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml"]).code(0);
    let plan: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(t.path("p.yaml")).unwrap()).unwrap();
    let mut maps = Vec::new();
    count(&plan["agent"], &mut maps);
    let listed = plan["agent"]["agents"].as_array().map_or(0, Vec::len) + maps.iter().sum::<usize>();
    assert!(listed >= 8, "no item dropped: {plan}");
}
