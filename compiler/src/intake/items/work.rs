//! What reads as work in a list item, and what does not: requirements, states and
//! symptoms describe the result or the problem; template answers, references,
//! reading and `plan`'s own chores are no agent's work.

use crate::intake::named::imperative;

/// "The gateway must emit traces": what the result must do.
pub(super) fn is_requirement(item: &str) -> bool {
    let padded = format!(" {} ", item.to_lowercase());
    [" must ", " should ", " shall ", " needs to "].iter().any(|w| padded.contains(w))
}

/// "Every issue aimed at the release is on the board": a state the result is in, not
/// a task (it starts with no verb and says what is).
pub(super) fn is_state(item: &str) -> bool {
    let padded = format!(" {} ", item.to_lowercase());
    let finite = [" is ", " are ", " has ", " have "].iter().any(|w| padded.contains(w));
    finite && !imperative(item)
}

/// "They passed with pytest 3.0.2", "the warning is not raised": what the reporter saw.
pub(super) fn is_symptom(item: &str) -> bool {
    let lower = item.to_lowercase();
    let padded = format!(" {lower} ");
    let subject = ["the ", "they ", "it ", "this ", "that ", "there ", "these ", "those ", "we ", "i ", "my ", "our "]
        .iter()
        .any(|w| lower.starts_with(w));
    let finite =
        [" is ", " are ", " was ", " were ", " has ", " have ", " had ", " does ", " did ", " works ", " worked "]
            .iter()
            .any(|w| padded.contains(w));
    let failure =
        [" fail ", " fails", " failed", " failing", " passed ", " crashes", " crashed", " throws", " is broken"]
            .iter()
            .any(|w| padded.contains(w));
    // "Fix the test that fails on Windows" is work.
    let imperative = ["fix", "make", "add", "port", "update", "remove", "write", "handle", "support", "test", "check"]
        .iter()
        .any(|v| lower.starts_with(&format!("{v} ")));
    !imperative && ((subject && finite) || failure)
}

/// Things to read first, and the chores `plan` does itself: no agent's work.
const NOT_WORK_STARTS: &[&str] = &[
    "learn about",
    "learn more",
    "familiarize",
    "familiarise",
    "create a branch",
    "create a new branch",
    "commit the change",
    "commit your change",
    "commit and push",
    "push the change",
    "push your change",
    "push the branch",
    "open a pr",
    "open a pull request",
    "ask the team",
    "ask a maintainer",
    "ask for review",
    "ask for a review",
    "contact the team",
    "contact us",
    "comment on the ticket",
    "comment on the issue",
    "comment on this",
    "request review",
    "request a review",
    "e.g.",
    "eg.",
    "e.g ",
];

/// Template answers: the whole item.
const ANSWERS: &[&str] = &["none", "n/a", "na", "no response", "_no response_", "yes", "no", "tbd", "-"];

/// Whether a list item reads as work: some words, not only a reference, a figure, a
/// template answer, reading or a chore.
pub(super) fn is_work(item: &str) -> bool {
    let lower = item.to_lowercase();
    // "Read the quickstart guide": reading up, not work ("Read the config from X" is).
    let reading = lower.starts_with("read ")
        && ["guide", "docs", "documentation", "quickstart", "tutorial", "readme"].iter().any(|w| lower.contains(w));
    if ANSWERS.contains(&lower.trim())
        || NOT_WORK_STARTS.iter().any(|s| lower.starts_with(s))
        || lower.starts_with("~~")
        || reading
    {
        return false;
    }
    let tokens: Vec<&str> = item.split_whitespace().collect();
    let reference = |w: &&str| w.starts_with('#') || w.contains("://") || w.starts_with("[") && w.contains("](");
    let figure = |w: &&str| w.chars().next().is_some_and(|c| c.is_ascii_digit());
    let words = tokens
        .iter()
        .filter(|w| !reference(w) && !figure(w) && w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count();
    let figures = tokens.iter().filter(|w| figure(w)).count();
    // `Key: value` of a template ("OS Version: Windows 10").
    let field = item.split_once(':').is_some_and(|(k, v)| {
        k.split_whitespace().count() <= 3
            && v.trim().chars().next().is_some_and(|c| c.is_ascii_digit() || c.is_uppercase())
            && v.split_whitespace().count() <= 4
    }) && figures > 0;
    // A template's instruction, in italics: "*Add a checkbox for each sub-issue here.*"
    let t = item.trim();
    if t.len() > 2 && t.starts_with('*') && t.ends_with('*') {
        return false;
    }
    // A template's blank to fill in: "Primary issue location: [Identify the file]".
    let blank = t.ends_with(']') && t.rfind('[').is_some_and(|at| !t[at..].contains("]("));
    if blank && t.split_once('[').is_some_and(|(head, _)| head.trim_end().ends_with(':') || head.trim().is_empty()) {
        return false;
    }
    // A template's placeholder ("OS: [e.g. iOS]") or a question left unanswered
    // ("Version with issue:").
    if lower.contains("e.g.") || lower.trim_end().ends_with(':') {
        return false;
    }
    // "date-fns is already installed": a fact about the code, not work.
    if (lower.contains(" is already ") || lower.contains(" are already ")) && !imperative(item) {
        return false;
    }
    // "[Porting guide](https://...)": reading, not work.
    let link_only = item.trim().starts_with('[') && item.trim().ends_with(')') && item.contains("](");
    if link_only {
        return false;
    }
    // "Complete #103": a verb and what it names.
    let named = words == 1 && tokens.len() == 2 && tokens.get(1).is_some_and(reference);
    !field && (words >= 2 || named || (words == 1 && figures == 0 && !tokens.iter().any(reference)))
}
