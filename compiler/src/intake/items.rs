//! The work items of an issue, read the way people write issues: open checklist
//! entries, else the items of a numbered list, else the bullets of a list of
//! components; or failing tests and files listed in a code block.
//!
//! Most lists in real issues are not work. Left out: entries marked done (`- [x]`, an
//! issue template's ticked answers) or struck through; the lists of a bug template's
//! sections (steps to reproduce, expected behaviour, environment, logs); lists of
//! requirements (under a "Requirements" heading, or phrased with must/should);
//! template answers and placeholders (`None`, `N/A`, `e.g. ...`); bare references,
//! links and figures; reading to do (`Learn about ...`) and the chores `plan` does
//! itself (branch, commit, push, ask for review).

/// Sections whose lists describe the problem or the reporter's setup, not work: a
/// heading word that starts with one of these.
const NOT_WORK_SECTIONS: &[&str] = &[
    "reproduc",
    "repro",
    "expected",
    "actual",
    "environment",
    "system",
    "version",
    "screenshot",
    "alternative",
    "context",
    "settings",
    "notes",
    "references",
    "resources",
    "links",
    "requirement",
    "acceptance",
    "criteria",
    "conduct",
    // A bug template's questions about the reporter's machine.
    "desktop",
    "smartphone",
    "information",
    // Why the work matters, what it is for, and what to keep in mind: not the work.
    "use case",
    "consideration",
    "why",
    "motivation",
    "background",
    "rationale",
    "benefit",
    // A tracker template's bookkeeping.
    "metadata",
    "assignee",
    "labels",
    "milestone",
    "deadline",
    "funding",
    "estimate",
];

/// Heading words that name a log section exactly ("Log file", "Logs"; not "Login").
const LOG_WORDS: &[&str] = &["log", "logs", "logfile", "logfiles"];

/// Whether the lists under `heading` are no work.
fn not_work_section(heading: &str) -> bool {
    heading
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| NOT_WORK_SECTIONS.iter().any(|k| !k.contains(' ') && w.starts_with(k)) || LOG_WORDS.contains(&w))
        || NOT_WORK_SECTIONS.iter().any(|k| k.contains(' ') && heading.contains(k))
        || heading.contains("describe the bug")
        || heading.contains("explain the bug")
}

/// Words that order a list: "Steps:", "then", "first", "Phase 2".
const ORDER_CUES: &[&str] = &[
    "step",
    "in order",
    "this order",
    "following order",
    "sequence",
    "first",
    "then",
    "after",
    "before",
    "once ",
    "next",
    "finally",
    "phase",
    "stage",
    "roadmap",
];

/// The items of `body`, and whether the text orders them.
pub fn work_items(body: &str) -> (Vec<String>, bool) {
    let clean =
        |s: &str| s.trim().trim_end_matches(['.', ';', ':']).replace('`', "").replace("**", "").trim().to_string();
    let mut checklist = Vec::new();
    let mut ticked = 0;
    let mut numbered: Vec<String> = Vec::new();
    let mut numbered_lead = String::new();
    let mut checklist_lead = String::new();
    let mut bullets_lead = String::new();
    let mut bullets = Vec::new();
    let mut skip = false;
    let mut last_prose = String::new();
    // The list the last item went to, while the lines after it may continue it.
    let mut open: Option<List> = None;
    let mut code = false;
    for line in body.lines() {
        let l = line.trim_start();
        // A code block's lines are neither headings nor items (`code_items` reads them).
        if l.starts_with("```") {
            code = !code;
            open = None;
            continue;
        }
        if code {
            continue;
        }
        if let Some(heading) = heading(l) {
            skip = not_work_section(&heading);
            last_prose = heading;
            open = None;
            continue;
        }
        let marker = l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")).or_else(|| l.strip_prefix("+ "));
        let number =
            l.split_once(". ").filter(|(n, _)| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()));
        if marker.is_none() && number.is_none() {
            // An item that wraps onto an indented line keeps that line.
            let indented = line.starts_with([' ', '\t']) && !l.is_empty();
            let list = match open {
                Some(List::Checklist) if indented => checklist.last_mut(),
                Some(List::Numbered) if indented => numbered.last_mut(),
                Some(List::Bullets) if indented => bullets.last_mut(),
                _ => None,
            };
            if let Some(item) = list {
                item.push(' ');
                item.push_str(&clean(l));
                continue;
            }
            open = None;
            if !l.trim().is_empty() {
                last_prose = l.to_lowercase();
            }
            continue;
        }
        open = None;
        if skip {
            continue;
        }
        if let Some(rest) = marker.and_then(|m| m.strip_prefix("[ ]")) {
            if checklist.is_empty() {
                checklist_lead = last_prose.clone();
            }
            if !rest.trim_start().starts_with("~~") {
                checklist.push(pull_request_task(&clean(rest)));
                open = Some(List::Checklist);
            }
        } else if marker.is_some_and(|m| m.starts_with("[x]") || m.starts_with("[X]")) {
            ticked += 1;
        } else if let Some((_, rest)) = number {
            if numbered.is_empty() {
                numbered_lead = last_prose.clone();
            }
            numbered.push(clean(rest));
            open = Some(List::Numbered);
        } else if let Some(rest) = marker {
            if bullets.is_empty() {
                bullets_lead = last_prose.clone();
            }
            bullets.push(clean(rest));
            open = Some(List::Bullets);
        }
    }
    // A list of requirements or of symptoms describes the result or the problem; the
    // work is the issue as a whole.
    let requirements = |v: &[String]| {
        let described = v.iter().filter(|s| is_requirement(s) || is_symptom(s) || is_state(s)).count();
        described * 2 >= v.len() && !v.is_empty()
    };
    let keep = |v: Vec<String>| -> Vec<String> {
        if requirements(&v) {
            return Vec::new();
        }
        let work: Vec<String> = v.into_iter().filter(|s| is_work(s)).collect();
        // "CI must still run when a pull request is opened" beside the work: a
        // constraint on it (the agents get the whole issue), not work of its own.
        let (constraints, tasks): (Vec<String>, Vec<String>) =
            work.iter().cloned().partition(|s| is_requirement(s) && !super::named::imperative(s));
        if constraints.is_empty() || tasks.is_empty() {
            work
        } else {
            tasks
        }
    };
    // What a list introduced by "including:" or "such as:" names are examples of what
    // the issue's one piece of work covers (the events an audit log records).
    let examples = |lead: &str| {
        let lead = lead.trim_end().trim_end_matches(':');
        ["including", "such as", "e.g", "for example", "like"].iter().any(|w| lead.ends_with(w))
    };
    let numbered = if examples(&numbered_lead) { Vec::new() } else { numbered };
    // "The options, among others: - Postgres - MySQL": choices, not work.
    let choices = |lead: &str| ["either", "one of", "options", "alternatives", " or:"].iter().any(|w| lead.contains(w));
    let bullets = if examples(&bullets_lead) || choices(&bullets_lead) { Vec::new() } else { bullets };
    // Sentences set out as bullets (reasons, benefits, context), none of them a task.
    let prose = bullets.len() >= 2
        && bullets.iter().all(|b| b.split_whitespace().count() >= 10 && !super::named::imperative(b));
    let bullets = if prose { Vec::new() } else { bullets };
    let (checklist, bullets) = (keep(checklist), keep(bullets));
    let numbered = if choices(&numbered_lead) { Vec::new() } else { keep(numbered) };
    if !checklist.is_empty() {
        let ordered = ordered(&checklist_lead, &checklist);
        (checklist, ordered)
    } else if ticked > 0 {
        // A checklist whose every item is done leaves nothing to split the work by.
        (Vec::new(), false)
    } else if numbered.len() >= 2 {
        let ordered = ordered(&numbered_lead, &numbered);
        (numbered, ordered)
    } else if bullets.len() >= 2 {
        (bullets, false)
    } else {
        (Vec::new(), false)
    }
}

/// Which list an item went to.
#[derive(Clone, Copy)]
enum List {
    Checklist,
    Numbered,
    Bullets,
}

/// An open task given only as a pull request's address is the work of finishing it.
fn pull_request_task(item: &str) -> String {
    let only = item.split_whitespace().count() == 1 && item.contains("://") && item.contains("/pull/");
    if only {
        format!("Finish pull request {item}")
    } else {
        item.to_string()
    }
}

/// Whether the text orders a list: its lead-in or its items say so ("Steps:",
/// "then", "Phase 2"), or it starts by deciding what to do (define, design, plan).
fn ordered(lead: &str, items: &[String]) -> bool {
    let cue = |s: &str| {
        let s = s.to_lowercase();
        ORDER_CUES.iter().any(|c| s.contains(c))
    };
    let plans_first = items.first().is_some_and(|i| {
        let i = i.to_lowercase();
        ["define", "design", "plan ", "decide", "investigate", "research", "spec", "scope"]
            .iter()
            .any(|w| i.starts_with(w))
    });
    items.len() >= 2 && (cue(lead) || items.iter().any(|i| cue(i)) || plans_first)
}

/// The text of a heading: `## Steps`, a line that is all bold (`**To reproduce**`),
/// or a short line ending in a colon (`Approach:`), lower-cased.
fn heading(line: &str) -> Option<String> {
    let l = line.trim();
    if l.starts_with('#') {
        return Some(l.trim_start_matches('#').trim().to_lowercase());
    }
    if l.len() > 4 && l.starts_with("**") && l.ends_with("**") {
        return Some(l.trim_matches('*').trim().to_lowercase());
    }
    let words = l.split_whitespace().count();
    if l.ends_with(':') && (1..=4).contains(&words) && !l.starts_with(['-', '*']) {
        return Some(l.trim_end_matches(':').to_lowercase());
    }
    None
}

/// Failing tests or files listed in the body's code blocks (a pasted test run, a list
/// of files to change): each line's test id or path, when at least two lines are such.
pub fn code_items(body: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut inside = false;
    for line in body.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(item) = test_or_file(line.trim()) {
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
    if items.len() >= 2 {
        items
    } else {
        Vec::new()
    }
}

/// The test id or file path a line of a test run or a file list names.
fn test_or_file(line: &str) -> Option<String> {
    let line = ["FAILED ", "FAIL: ", "--- FAIL: ", "ERROR ", "FAIL "]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .map(|rest| (rest, true))
        .unwrap_or((line, false));
    let (rest, failed) = line;
    let token = rest.split_whitespace().next()?.trim_end_matches([',', ':']);
    let is_test = token.contains("::") || (failed && token.chars().any(|c| c.is_alphabetic()));
    let is_file = token.contains('/')
        && token
            .rsplit_once('.')
            .is_some_and(|(_, ext)| (1..=5).contains(&ext.len()) && ext.chars().all(char::is_alphanumeric))
        && token.chars().all(|c| c.is_alphanumeric() || "./_-".contains(c));
    (is_test || is_file).then(|| token.to_string())
}

mod work;

use work::{is_requirement, is_state, is_symptom, is_work};

#[cfg(test)]
mod tests;
