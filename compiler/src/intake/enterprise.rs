//! The groups of an enterprise plan: analysis, the implementation in parts (or one map
//! over its items, past the agent cap), verification, cut-over.

use plan_schema::Pattern;

use super::classify::Classification;
use super::source::IssueText;
use super::{named, steps};

/// The groups of an enterprise plan, named from what the issue names: its work items
/// (in the order the text gives), else the steps of what it moves from and to, else the
/// tasks its prose asks for. Verification and cut-over hold only what the issue implies:
/// performance, security, documentation and a production switch where it speaks of them.
pub(super) fn enterprise_groups(
    issue: &IssueText,
    c: &Classification,
    inner: Pattern,
) -> Vec<(String, Vec<String>, Pattern)> {
    let s = named::subject(&issue.title);
    let (from, to) = (s.from.as_deref(), s.to.as_deref());
    let text = format!("{} {}", issue.title, issue.body).to_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let touched = from.map_or("what the change touches".to_string(), |f| format!("every use of {f}"));
    let mut groups = vec![(
        "Analysis".to_string(),
        vec![format!("Inventory {touched} and write the step-by-step plan")],
        Pattern::Pipeline,
    )];
    let (work, inner) = if !c.items.is_empty() {
        match steps::in_order(&c.items, &issue.title, inner) {
            Some(ordered) => (ordered, Pattern::Pipeline),
            None => (c.items.clone(), inner),
        }
    } else if let Some(derived) = steps::derived(&s) {
        // Set up, move, remove: steps that follow one another.
        (derived, Pattern::Pipeline)
    } else {
        let prose = named::prose_tasks(&issue.body, 4);
        let work = if prose.is_empty() { vec![issue.title.clone()] } else { prose };
        (work, Pattern::Pipeline)
    };
    for (i, chunk) in work.chunks(5).enumerate() {
        groups.push((format!("Implementation part {}", i + 1), chunk.to_vec(), inner));
    }
    let target = to.map_or(String::new(), |t| format!(" on {t}"));
    let mut verify = vec![format!("Run the tests{target} and fix what fails")];
    if says(&["perform", "slow", "latency", "speed"]) {
        verify.push(format!("Check performance{target}"));
    }
    if says(&["security", "cve", "vulnerab"]) {
        verify.push(format!("Review security{target}"));
    }
    if to.is_some() || says(&["document", "docs"]) {
        verify.push(format!("Update the documentation{}", to.map_or(String::new(), |t| format!(" for {t}"))));
    }
    groups.push(("Verification".to_string(), verify, Pattern::ForkJoin));
    if says(&["production", "downtime", "rollback", "roll back", "cut-over", "cutover", "go live", "go-live"]) {
        let to = to.unwrap_or("the new version");
        groups.push((
            "Cut-over".to_string(),
            vec![
                format!("Prepare the switch to {to} and its rollback"),
                format!("Switch over to {to}"),
                format!("Verify {to} in production"),
            ],
            Pattern::Pipeline,
        ));
    }
    groups
}

/// The implementation groups of an enterprise plan folded into one, a map over all
/// their items: the plan's agent count stays under the cap, whatever the issue lists.
pub(super) fn mapped(groups: Vec<(String, Vec<String>, Pattern)>) -> Vec<(String, Vec<String>, Pattern)> {
    let mut out = Vec::new();
    let mut work = Vec::new();
    let mut at = None;
    for (name, items, pattern) in groups {
        if name.starts_with("Implementation part ") {
            at.get_or_insert(out.len());
            work.extend(items);
        } else {
            out.push((name, items, pattern));
        }
    }
    out.insert(at.unwrap_or(out.len()), ("Implementation".to_string(), work, Pattern::Mapreduce));
    out
}
