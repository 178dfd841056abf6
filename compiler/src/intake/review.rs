//! The intake review: what `plan new` says of every plan it writes (by the rules or
//! by a planner), as warnings a maintainer reads before running it.
//!
//! - `intake-order`: steps that run side by side (fork-join children, a map's items)
//!   while one's text says it comes after another: a later phase, "after"/"once"/
//!   "then", removing the old thing beside moving to the new, a data migration beside
//!   the schema change it needs.
//! - `intake-not-work`: a step whose text is a reproduction step ("Go to ...",
//!   "Click ..."), an alternative ("If you use ...") or a template answer ("No new
//!   tests needed", "Will be specified in sub-issues").
//! - `intake-uncovered`: a work item of the issue that no step of a plan of several
//!   names.
//! - `intake-generic`: a template step ("Verify the result in production") with no
//!   word in common with the issue.
//!
//! Pure: it reads the issue and the plan.

use plan_schema::{Agent, Over, Pattern, Plan};

use super::source::IssueText;

/// One finding of the review.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    /// The agent it is about (empty for a work item no agent covers).
    pub agent: String,
    pub message: String,
}

/// Reviews `plan`, written for `issue`.
pub fn review(issue: &IssueText, plan: &Plan) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut steps: Vec<(String, String)> = Vec::new();
    let mut mapped: Vec<String> = Vec::new();
    walk(&plan.agent, &mut steps, &mut mapped, &mut out);
    let issue_words = words(&format!("{} {}", issue.title, issue.body));
    for (id, text) in &steps {
        if let Some(why) = not_work(text) {
            out.push(Finding {
                code: "intake-not-work",
                agent: id.clone(),
                message: format!("`{text}` is {why}, not work"),
            });
        }
        if generic(text) && words(text).iter().all(|w| !issue_words.contains(w)) {
            out.push(Finding {
                code: "intake-generic",
                agent: id.clone(),
                message: format!("`{text}` is a template step with no word in common with the issue"),
            });
        }
    }
    // A plan of one agent is given the whole issue; one of several must name its items
    // (as a step, or an item of a map).
    if steps.len() > 1 {
        let named: Vec<Vec<String>> = steps.iter().map(|(_, t)| words(t)).collect();
        let exact: std::collections::HashSet<String> = steps
            .iter()
            .map(|(_, t)| t.trim().to_lowercase())
            .chain(mapped.iter().map(|m| m.trim().to_lowercase()))
            .collect();
        for item in super::items::work_items(&issue.body).0 {
            if exact.contains(&item.trim().to_lowercase()) {
                continue;
            }
            let w = words(&item);
            let covered =
                w.is_empty() || named.iter().any(|n| w.iter().filter(|x| n.contains(x)).count() * 2 >= w.len().max(1));
            if !covered {
                out.push(Finding {
                    code: "intake-uncovered",
                    agent: String::new(),
                    message: format!("the issue's item `{item}` is no step's work"),
                });
            }
        }
    }
    out
}

/// Each agent's task text (its `with.task`, else its role, else its inline prompt),
/// and the order findings of parallel siblings on the way.
fn walk(agent: &Agent, steps: &mut Vec<(String, String)>, mapped: &mut Vec<String>, out: &mut Vec<Finding>) {
    if agent.has_work() {
        steps.push((agent.id.clone(), task_of(agent)));
    }
    let mut side_by_side: Vec<(String, String)> = Vec::new();
    if agent.pattern == Some(Pattern::ForkJoin) {
        side_by_side.extend(agent.agents.iter().map(|a| (a.id.clone(), task_of(a))));
    }
    if let Some(map) = &agent.map {
        if let Over::List(items) = &map.over {
            let texts: Vec<String> = items.iter().filter_map(|i| i.as_str()).map(str::to_string).collect();
            for (n, t) in texts.iter().enumerate() {
                if let Some(why) = not_work(t) {
                    let (code, agent) = ("intake-not-work", format!("{}[{n}]", map.agent.id));
                    out.push(Finding { code, agent, message: format!("the item `{t}` is {why}, not work") });
                }
            }
            // Order among a map's items is looked for in the first ones (a long list
            // of like items is not read pair by pair).
            let first = texts.iter().take(ORDER_WINDOW).enumerate();
            side_by_side.extend(first.map(|(n, t)| (format!("{}[{n}]", map.agent.id), t.clone())));
            mapped.extend(texts);
        }
    }
    for (i, (id, text)) in side_by_side.iter().enumerate() {
        for (j, (other, before)) in side_by_side.iter().enumerate() {
            if i != j {
                if let Some(why) = after(text, before) {
                    out.push(Finding {
                        code: "intake-order",
                        agent: id.clone(),
                        message: format!("`{text}` runs beside `{other}` but comes after it ({why})"),
                    });
                    break;
                }
            }
        }
    }
    for child in agent.agents.iter().chain(agent.join.as_deref()).chain(agent.reduce.as_deref()) {
        walk(child, steps, mapped, out);
    }
    if let Some(map) = &agent.map {
        walk(&map.agent, steps, mapped, out);
    }
    if let Some(g) = agent.gather.as_ref().and_then(|g| g.agent.as_ref()) {
        walk(g, steps, mapped, out);
    }
}

/// How many of a map's items are compared for order.
const ORDER_WINDOW: usize = 100;

fn task_of(agent: &Agent) -> String {
    let task = agent.with().get("task").and_then(|t| t.as_str()).map(str::to_string);
    task.or_else(|| agent.role.as_deref().map(str::to_string))
        .or_else(|| agent.prompt.as_ref().map(|p| p.lines().next().unwrap_or("").to_string()))
        .unwrap_or_default()
}

/// Why `text` comes after `before`, if it does.
pub(super) fn after(text: &str, before: &str) -> Option<&'static str> {
    let (t, b) = (text.to_lowercase(), before.to_lowercase());
    if let (Some(n), Some(m)) = (stage(&t), stage(&b)) {
        return (n > m).then_some("a later phase");
    }
    let first = t.split_whitespace().next().unwrap_or("");
    if ["after", "once", "then", "finally", "afterwards", "afterward"].contains(&first) || t.contains(" once ") {
        return Some("its text says so");
    }
    let sets_up = ["set up", "add ", "create", "install", "introduce"].iter().any(|w| b.starts_with(w));
    let uses = ["move", "migrate", "port", "switch", "adapt", "convert"].iter().any(|w| t.starts_with(w));
    if sets_up && uses && words(&t).iter().any(|w| words(&b).contains(w)) {
        return Some("what it moves to is set up first");
    }
    let move_verb =
        |x: &str| ["move", "migrate", "port", "switch", "replace", "convert"].iter().any(|w| x.starts_with(w));
    let moves = move_verb(&b);
    // "Run the demo app on Vite" beside "Move to Vite": the move comes first.
    if moves && !move_verb(&t) && named(&t).iter().any(|w| named(&b).contains(w)) {
        return Some("it works on what the move brings");
    }
    // "Store sessions in Redis" beside "Set up Redis": what it uses is set up first.
    if setup(&b) && !setup(&t) && named(&t).iter().any(|w| named(&b).contains(w)) {
        return Some("what it uses is set up first");
    }
    if t.starts_with("import") && b.starts_with("export") {
        return Some("what it imports is exported first");
    }
    // "Uninstall moment" beside "Replace every use of moment with date-fns": what
    // goes is the old thing the move names.
    let removes = ["remove", "drop", "delete", "deprecate", "clean up", "uninstall"].iter().any(|w| t.starts_with(w))
        && (t.contains("old")
            || t.contains("legacy")
            || t.contains("previous")
            || words(&t).iter().filter(|w| !t.starts_with(w.as_str())).any(|w| words(&b).contains(w)));
    if removes && moves {
        return Some("the old goes once the move is done");
    }
    if t.contains("migrat") && t.contains("data") && b.contains("schema") && !b.contains("data") {
        return Some("data moves once its schema is there");
    }
    None
}

/// Whether a step sets up what others use: "Set up Redis in GCP Memorystore".
pub(super) fn setup(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    ["set up", "setup", "install", "configure", "provision", "initiali", "bootstrap"].iter().any(|w| t.starts_with(w))
}

/// The words of `text` that say what it is about, not what it does (its first word
/// left out).
pub(super) fn named(text: &str) -> Vec<String> {
    let t = text.trim().to_lowercase();
    words(&t).into_iter().filter(|w| !t.starts_with(w.as_str())).collect()
}

/// The number of a phase, stage or part a text names ("Phase 2: ...").
fn stage(text: &str) -> Option<u32> {
    let mut w = text.split(|c: char| !c.is_alphanumeric());
    while let Some(word) = w.next() {
        if ["phase", "stage", "part", "milestone"].contains(&word) {
            return w.next().and_then(|n| n.parse().ok());
        }
    }
    None
}

/// What kind of non-work `text` is, if it is.
fn not_work(text: &str) -> Option<&'static str> {
    let t = text.trim().to_lowercase();
    let starts = |ws: &[&str]| ws.iter().any(|w| t.starts_with(w));
    if starts(&[
        "go to ",
        "click",
        "navigate to",
        "scroll",
        "open the ",
        "press ",
        "tap ",
        "observe",
        "see error",
        "notice ",
    ]) {
        return Some("a step to reproduce the problem");
    }
    if starts(&["if you ", "if your ", "alternatively", "or you can", "option ", "either "]) {
        return Some("an alternative");
    }
    let answers = [
        "no new tests",
        "none",
        "n/a",
        "not applicable",
        "no tests needed",
        "tbd",
        "will be specified",
        "to be specified",
        "see sub-issues",
        "in sub-issues",
        "nothing",
    ];
    if answers.iter().any(|a| t == *a || t.starts_with(a)) || t.contains("will be specified in") {
        return Some("a template answer");
    }
    None
}

/// Steps `plan new` fills in when an issue names too few: generic by design.
const GENERIC: &[&str] = &[
    "understand the problem and plan the change",
    "implement the change",
    "write or update the tests",
    "analyse the components involved",
    "implement the core change",
    "adapt the interfaces and callers",
    "write integration tests",
    "update the documentation",
    "list the risks and how to detect them",
    "write the step-by-step plan",
    "check performance",
    "review security",
    "verify the result in production",
    "prepare the switch and its rollback",
    "run and fix the unit tests",
    "run and fix the integration tests",
    "adapt the interfaces",
    "update the callers",
    "remove what the change replaces",
];

fn generic(text: &str) -> bool {
    let t = text.trim().trim_end_matches('.').to_lowercase();
    GENERIC.contains(&t.as_str())
}

/// The content words of `text`: lower case, four letters or more, not the words
/// every step has.
fn words(text: &str) -> Vec<String> {
    const COMMON: &[&str] = &[
        "with",
        "that",
        "this",
        "from",
        "into",
        "each",
        "every",
        "their",
        "there",
        "what",
        "when",
        "which",
        "will",
        "should",
        "would",
        "could",
        "have",
        "make",
        "change",
        "changes",
        "step",
        "plan",
        "issue",
        "work",
        "them",
        "then",
        "than",
        "they",
        "also",
        "some",
        "more",
        "most",
        "only",
        "other",
        "about",
        "after",
        "before",
        "once",
        "implement",
        "update",
        "write",
        "tests",
        "test",
        "check",
        "result",
        "results",
        "core",
    ];
    let mut out: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 4 && !COMMON.contains(w))
        .map(|w| w.trim_end_matches('s').to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_read_from_phases_cues_and_moves() {
        assert_eq!(after("Phase 2: migrate the callers", "Phase 1: add the new API"), Some("a later phase"));
        assert_eq!(after("Phase 1: add the API", "Phase 2: callers"), None);
        assert!(after("Remove the old library", "Move the parser to the new library").is_some());
        assert!(after("Migrate the existing data", "Add the schema change").is_some());
        assert!(after("Then delete the flag", "Add the flag").is_some());
        assert_eq!(after("Add a button", "Add a menu"), None);
        assert!(after("Remove MySQL once nothing uses it", "Move each part from MySQL to PGSql").is_some());
        assert!(after("Move each part from MySQL to PGSql", "Set up PGSql next to MySQL").is_some());
    }

    #[test]
    fn repro_steps_alternatives_and_template_answers_are_not_work() {
        assert_eq!(not_work("Go to Settings > Profile"), Some("a step to reproduce the problem"));
        assert_eq!(not_work("If you use a small number of hooks, pass them in"), Some("an alternative"));
        assert_eq!(not_work("No new tests needed"), Some("a template answer"));
        assert_eq!(not_work("Will be specified in sub-issues"), Some("a template answer"));
        assert_eq!(not_work("Add the rate limiter"), None);
    }

    #[test]
    fn a_template_step_is_generic_unless_the_issue_names_its_words() {
        assert!(generic("Verify the result in production"));
        assert!(!generic("Verify the parser on Windows"));
        let issue = words("Port the Android app's login screen to Compose");
        assert!(words("Verify the result in production").iter().all(|w| !issue.contains(w)));
        assert!(words("Update the documentation").iter().all(|w| !issue.contains(w)));
        assert!(words("Update the login docs").iter().any(|w| issue.contains(w)));
    }
}
