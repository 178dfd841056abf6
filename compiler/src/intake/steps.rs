//! The steps of a plan of several agents, from what the issue says and nothing else:
//! its items in the order the text gives them, the checks it lists run after the work
//! they check, and, for a large change told only in prose, the steps of what it moves
//! from and to. No step is a template the issue does not imply.

use plan_schema::Pattern;

use super::named::Subject;
use super::review::{after, named, setup};

/// The steps of a change from one thing to another, in order: "Migrate from MySQL to
/// PostgreSQL", "Upgrade from AngularJS to Angular", "Drop Python 2 support". `None`
/// when the title names no such move: the issue is then one agent's work.
pub(super) fn derived(s: &Subject) -> Option<Vec<String>> {
    match (s.from.as_deref(), s.to.as_deref()) {
        (Some(f), Some(t)) => Some(vec![
            format!("Set up {t} next to {f}"),
            format!("Move each part from {f} to {t}, with its tests"),
            format!("Remove {f} once nothing uses it"),
        ]),
        (None, Some(t)) => Some(match s.what.as_deref() {
            // "from Django 3 to Django 4"
            Some(w) if s.in_place() => vec![
                format!("Upgrade {w} to {t}, following its upgrade guide"),
                format!("Fix what the upgrade to {t} breaks, with the tests"),
            ],
            Some(w) => vec![format!("Set up {t} for {w}"), format!("Move each part of {w} to {t}, with its tests")],
            None => {
                vec![format!("Set up {t} next to what it replaces"), format!("Move each part to {t}, with its tests")]
            }
        }),
        (Some(f), None) => Some(vec![
            format!("Remove {f} from the code and its tests"),
            format!("Remove {f} from the build, the CI and the documentation"),
        ]),
        (None, None) => None,
    }
}

/// The items in the order the text gives them, when some comes after another ("Phase
/// 2", "once ...", removing the old beside moving to the new): each goes after every
/// item it follows, the rest keep the issue's order. `None` when none follows another.
pub(super) fn in_order(items: &[String], title: &str, pattern: Pattern) -> Option<Vec<String>> {
    let n = items.len();
    // A map's copies and a vote's proposals have no order among them; past this many,
    // a list of like items is not read pair by pair.
    if !matches!(pattern, Pattern::ForkJoin | Pattern::Pipeline | Pattern::Saga) || n > 40 {
        return None;
    }
    // Setting up what the issue is about ("Set up Redis" in "A Redis cache layer")
    // comes before everything else the issue lists.
    let subject = named(title);
    let foundation = |j: usize| setup(&items[j]) && named(&items[j]).iter().any(|w| subject.contains(w));
    let follows: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| {
                    j != i
                        && ((after(&items[i], &items[j]).is_some() && after(&items[j], &items[i]).is_none())
                            || (foundation(j) && !setup(&items[i])))
                })
                .collect()
        })
        .collect();
    if follows.iter().all(Vec::is_empty) {
        return None;
    }
    // Its level: one past the deepest item it follows (cycles are cut at n rounds).
    let mut level = vec![0usize; n];
    for _ in 0..n {
        for i in 0..n {
            level[i] = follows[i].iter().map(|&j| level[j] + 1).max().unwrap_or(0).min(n);
        }
    }
    // Checks of the work go after all of it.
    let top = level.iter().copied().max().unwrap_or(0);
    for i in 0..n {
        if is_check(&items[i]) {
            level[i] = top + 1;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| level[i]);
    Some(order.into_iter().map(|i| items[i].clone()).collect())
}

/// Work the issue says the rest depends on: "Depends on: abstracting the provider
/// interface". A dependency on another issue ("Depends on #43") is not this plan's work.
pub(super) fn prerequisite(body: &str) -> Option<String> {
    body.lines().find_map(|line| {
        let l = line.trim().trim_matches(['*', '_']).trim();
        // Compared byte for byte, so that the slice after the cue is the text's own.
        let cue = ["depends on:", "prerequisite:", "requires first:"]
            .into_iter()
            .find(|c| l.get(..c.len()).is_some_and(|p| p.eq_ignore_ascii_case(c)))?;
        let rest = l[cue.len()..].trim().trim_matches(['*', '_']).trim().trim_end_matches('.');
        let reference = rest.contains('#') || rest.contains("://");
        (rest.split_whitespace().count() >= 3 && !reference).then(|| {
            let mut c = rest.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        })
    })
}

/// Whether an item checks the others' work rather than doing its own: "Check that it
/// works in the Cloud Trace UI", "Verify ...".
pub(super) fn is_check(item: &str) -> bool {
    let t = item.trim().to_lowercase();
    ["check ", "verify", "validate", "confirm", "make sure", "ensure it works", "test that", "test it"]
        .iter()
        .any(|w| t.starts_with(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn items_keep_the_order_the_text_gives() {
        let items = strings(&["Phase 2: move the users", "Phase 1: add the new table", "Write the docs"]);
        assert_eq!(
            in_order(&items, "", Pattern::ForkJoin).unwrap(),
            strings(&["Phase 1: add the new table", "Write the docs", "Phase 2: move the users"])
        );
        let items = strings(&["Remove the old client", "Move every call to the new client"]);
        assert_eq!(
            in_order(&items, "", Pattern::ForkJoin).unwrap(),
            strings(&["Move every call to the new client", "Remove the old client"])
        );
        let items = strings(&["Uninstall moment from the packages", "Replace every use of moment with date-fns"]);
        assert_eq!(in_order(&items, "", Pattern::ForkJoin).unwrap()[1], "Uninstall moment from the packages");
        // What works on what a move brings comes after the move; the rest keeps its place.
        let items = strings(&["Move to Vite", "Run the demo app on Vite", "Add a license notice"]);
        assert_eq!(
            in_order(&items, "", Pattern::ForkJoin).unwrap(),
            strings(&["Move to Vite", "Add a license notice", "Run the demo app on Vite"])
        );
        assert_eq!(in_order(&strings(&["Add tracing to Python", "Add tracing to Java"]), "", Pattern::ForkJoin), None);
        // Setting up what the issue is about comes first; checks of the work come last.
        let items = strings(&["Cache the frequent queries", "Set up Redis in Memorystore", "Check the hit rate"]);
        assert_eq!(
            in_order(&items, "A Redis cache layer", Pattern::ForkJoin).unwrap(),
            strings(&["Set up Redis in Memorystore", "Cache the frequent queries", "Check the hit rate"])
        );
        let items = strings(&["Export the metadata", "Check row counts", "Import it into PostgreSQL"]);
        assert_eq!(
            in_order(&items, "", Pattern::ForkJoin).unwrap(),
            strings(&["Export the metadata", "Import it into PostgreSQL", "Check row counts"])
        );
    }

    #[test]
    fn a_prerequisite_in_prose_is_work_and_another_issue_is_not() {
        let body = "- Key Vault\n- VMs\n\nDepends on: abstracting the provider interface a bit more.\n";
        assert_eq!(prerequisite(body).as_deref(), Some("Abstracting the provider interface a bit more"));
        assert_eq!(prerequisite("- [ ] a\n\n- Depends on #43 (JWT Bearer auth)\n"), None);
        assert_eq!(prerequisite("**Depends on:** https://example.org/x y z\n"), None);
        // Letters that lower-case to other lengths never cut a character in two.
        assert_eq!(prerequisite("\u{212A}\u{212A}\u{212A} depends on: x y z\nİİİİİİİİİİİİ: a b c\n"), None);
    }

    #[test]
    fn a_move_gives_its_steps_and_anything_else_none() {
        let s = Subject { from: Some("MySQL".into()), to: Some("PostgreSQL".into()), what: None };
        let steps = derived(&s).unwrap();
        assert_eq!(steps[0], "Set up PostgreSQL next to MySQL");
        assert_eq!(steps[2], "Remove MySQL once nothing uses it");
        assert_eq!(derived(&Subject::default()), None);
        assert!(is_check("Check that it works in the Cloud Trace UI"));
        assert!(!is_check("Checkout the repository"));
    }
}
