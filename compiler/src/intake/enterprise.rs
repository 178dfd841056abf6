//! The groups of an enterprise plan: analysis, the implementation in parts (or one map
//! over its items, past the agent cap), verification, cut-over.

use plan_schema::Pattern;

use super::classify::Classification;
use super::named;
use super::source::IssueText;

/// The groups of an enterprise plan, named from what the issue names: its work items,
/// else the tasks its prose asks for and what it moves from and to.
pub(super) fn enterprise_groups(
    issue: &IssueText,
    c: &Classification,
    inner: Pattern,
) -> Vec<(String, Vec<String>, Pattern)> {
    let s = named::subject(&issue.title);
    let (from, to) = (s.from.as_deref(), s.to.as_deref());
    let touched = from.map_or("what the change touches".to_string(), |f| format!("every use of {f}"));
    let mut groups = vec![(
        "Analysis".to_string(),
        vec![
            format!("Inventory {touched}"),
            "List the risks and how to detect them".to_string(),
            "Write the step-by-step plan".to_string(),
        ],
        // The plan is written from the inventory and the risks.
        Pattern::Pipeline,
    )];
    // The issue's own items stand as they are; prose tasks are filled up from what
    // it moves from and to.
    let mut work = c.items.clone();
    let mut inner = inner;
    if work.is_empty() {
        // Set up, move, adapt, remove: steps that follow one another.
        inner = Pattern::Pipeline;
        work = named::prose_tasks(&issue.body, 10);
        let derived: Vec<String> = match (from, to) {
            (Some(f), Some(t)) => vec![
                format!("Set up {t} next to {f}"),
                format!("Move each part from {f} to {t}"),
                format!("Adapt the callers of {f} to {t}"),
                format!("Remove {f} once nothing uses it"),
            ],
            (None, Some(t)) => vec![
                format!("Set up {t}"),
                format!("Move each part to {t}"),
                format!("Adapt the callers to {t}"),
                "Remove what the change replaces".to_string(),
            ],
            (Some(f), None) => vec![
                format!("Remove {f} from the code"),
                format!("Remove {f} from the build and CI"),
                format!("Adapt what depended on {f}"),
                "Note the removal in the changelog".to_string(),
            ],
            (None, None) => vec![
                "Implement the core change".to_string(),
                "Adapt the interfaces".to_string(),
                "Update the callers".to_string(),
                "Remove what the change replaces".to_string(),
            ],
        };
        let missing = 4usize.saturating_sub(work.len());
        work.extend(derived.into_iter().take(missing));
    }
    for (i, chunk) in work.chunks(5).enumerate() {
        groups.push((format!("Implementation part {}", i + 1), chunk.to_vec(), inner));
    }
    let target = to.map_or(String::new(), |t| format!(" on {t}"));
    groups.push((
        "Verification".to_string(),
        vec![
            format!("Run and fix the unit tests{target}"),
            format!("Run and fix the integration tests{target}"),
            "Check performance".to_string(),
            "Review security".to_string(),
            "Update the documentation".to_string(),
        ],
        Pattern::ForkJoin,
    ));
    let switch = to.map_or("Switch over".to_string(), |t| format!("Switch over to {t}"));
    groups.push((
        "Cut-over".to_string(),
        vec!["Prepare the switch and its rollback".to_string(), switch, "Verify the result in production".to_string()],
        Pattern::Pipeline,
    ));
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
