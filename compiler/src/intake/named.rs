//! What an issue names, for the issues without a list of work items: what it moves
//! from and to (from the title), and the tasks its prose asks for. An enterprise plan
//! for such an issue is built from these rather than from a fixed template.

/// What a change moves from and to: "Migrate the data from MySQL to PostgreSQL" ->
/// (`MySQL`, `PostgreSQL`); "Drop Python 2 support" -> (`Python 2`, none).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subject {
    pub from: Option<String>,
    pub to: Option<String>,
}

pub fn subject(title: &str) -> Subject {
    let t = title.trim().trim_end_matches(['.', '?', '!']);
    let lower = t.to_ascii_lowercase();
    let word = |s: &str| {
        let s = s.trim().trim_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '#');
        (!s.is_empty()).then(|| s.to_string())
    };
    if let Some(at) = lower.rfind(" from ") {
        let rest = &t[at + 6..];
        return match rest.to_ascii_lowercase().find(" to ") {
            Some(to) => Subject { from: word(&rest[..to]), to: word(&rest[to + 4..]) },
            None => Subject { from: word(rest), to: None },
        };
    }
    for verb in ["migrate ", "convert ", "upgrade ", "move ", "port ", "switch "] {
        if lower.starts_with(verb) {
            let rest = &t[verb.len()..];
            return match rest.to_ascii_lowercase().find(" to ") {
                Some(to) => Subject { from: word(&rest[..to]), to: word(&rest[to + 4..]) },
                None => Subject { from: None, to: word(rest) },
            };
        }
    }
    for verb in ["drop ", "dropping ", "remove ", "replace "] {
        if lower.starts_with(verb) {
            let rest = &t[verb.len()..];
            let rest = rest.trim_end_matches(" support").trim_end_matches(" Support");
            return match rest.to_ascii_lowercase().find(" with ") {
                Some(with) => Subject { from: word(&rest[..with]), to: word(&rest[with + 6..]) },
                None => Subject { from: word(rest.trim_start_matches("support for ")), to: None },
            };
        }
    }
    Subject::default()
}

/// Verbs that start a task.
const VERBS: &[&str] = &[
    "add",
    "move",
    "migrate",
    "convert",
    "port",
    "replace",
    "remove",
    "drop",
    "set up",
    "setup",
    "create",
    "write",
    "build",
    "implement",
    "support",
    "type",
    "rename",
    "split",
    "merge",
    "upgrade",
    "update",
    "switch",
    "follow",
    "document",
    "test",
    "deprecate",
    "configure",
    "integrate",
    "instrument",
    "rewrite",
    "refactor",
    "extract",
];

/// Phrases that introduce a task in the middle of a sentence; what follows is the task.
const ASKS: &[&str] =
    &["we need to ", "we should ", "should ", "need to ", "needs to ", "have to ", "want to ", "must "];

/// The tasks the body's prose asks for: sentences outside lists, code and headings
/// that start with a verb or say what should or must be done. At most `max`.
pub fn prose_tasks(body: &str, max: usize) -> Vec<String> {
    let mut prose = String::new();
    let mut code = false;
    for line in body.lines() {
        let l = line.trim();
        if l.starts_with("```") {
            code = !code;
            continue;
        }
        let list = l.starts_with(['-', '*', '+', '#', '>', '|', '!', '['])
            || l.split_once(". ").is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()));
        if code || list || l.is_empty() {
            prose.push('\n');
            continue;
        }
        prose.push_str(l);
        prose.push(' ');
    }
    let mut tasks: Vec<String> = Vec::new();
    for sentence in prose.split(['.', '!', '?', '\n', ';']) {
        let s = sentence.trim();
        let words = s.split_whitespace().count();
        if !(3..=30).contains(&words) || s.contains("://") {
            continue;
        }
        // "Then move ...": the connective is no part of the task.
        let s = ["then ", "also ", "finally ", "first ", "next ", "and "]
            .iter()
            .find_map(|c| s.to_ascii_lowercase().starts_with(c).then(|| s[c.len()..].trim()))
            .unwrap_or(s);
        let lower = s.to_ascii_lowercase();
        let task = if VERBS.iter().any(|v| lower.starts_with(&format!("{v} "))) {
            Some(s.to_string())
        } else {
            ASKS.iter().find_map(|a| lower.find(a).map(|i| s[i + a.len()..].trim().to_string()))
        };
        if let Some(t) = task.filter(|t| t.split_whitespace().count() >= 2) {
            let mut c = t.chars();
            let t = c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default();
            if !tasks.contains(&t) {
                tasks.push(t);
            }
        }
        if tasks.len() >= max {
            break;
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let s = subject("Migrate the data from MySQL to PostgreSQL");
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("MySQL"), Some("PostgreSQL")));
        let s = subject("Upgrade from AngularJS to Angular");
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("AngularJS"), Some("Angular")));
        let s = subject("Convert frontend to TypeScript");
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("frontend"), Some("TypeScript")));
        let s = subject("Drop Python 2 support");
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("Python 2"), None));
        assert_eq!(subject("Speed up the exporter"), Subject::default());
        // Slicing follows the text's own bytes, whatever its letters lower-case to.
        let s = subject("Migrate İSTANBUL data from MySQL to PostgreSQL");
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("MySQL"), Some("PostgreSQL")));
        assert_eq!(
            prose_tasks("İİ then. Then move the data. İİ should move İ too.", 4),
            ["Move the data", "Move İ too"]
        );
    }

    #[test]
    fn tasks_from_prose() {
        let body = "Set up our own LFS server on an EC2 instance, with S3 behind it. Then move everything in GitHub LFS to a new bucket.\n\n- a list item\n```\ncode here please\n```\nThe web UI should move from AngularJS to Angular.";
        assert_eq!(
            prose_tasks(body, 8),
            [
                "Set up our own LFS server on an EC2 instance, with S3 behind it",
                "Move everything in GitHub LFS to a new bucket",
                "Move from AngularJS to Angular",
            ]
        );
    }
}
