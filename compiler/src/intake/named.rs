//! What an issue names, for the issues without a list of work items: what it moves
//! from and to (from the title), and the tasks its prose asks for. An enterprise plan
//! for such an issue is built from these rather than from a fixed template.

/// What a change moves from and to: "Migrate the data from MySQL to PostgreSQL" ->
/// (`MySQL`, `PostgreSQL`); "Drop Python 2 support" -> (`Python 2`, none); "Convert
/// frontend to TypeScript" -> what `frontend` becomes, `TypeScript` (nothing removed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subject {
    /// What goes away.
    pub from: Option<String>,
    pub to: Option<String>,
    /// What is converted, ported or upgraded (and stays).
    pub what: Option<String>,
}

impl Subject {
    /// Whether it is one thing moving to another version of itself ("Django 3" to
    /// "Django 4", "Vue 2" to "Vue 3"): nothing goes away.
    pub fn in_place(&self) -> bool {
        self.what.is_some() && first_word(&self.what) == first_word(&self.to)
    }
}

/// The first word of a name, lower-cased.
fn first_word(name: &Option<String>) -> Option<String> {
    name.as_deref().and_then(|n| n.split_whitespace().next()).map(str::to_lowercase)
}

pub fn subject(title: &str) -> Subject {
    let t = title.trim().trim_end_matches(['.', '?', '!']);
    let lower = t.to_ascii_lowercase();
    let word = |s: &str| {
        // "latest Angular (or React?)" -> "latest Angular"
        let s = s.split(" (").next().unwrap_or(s);
        let s = s.trim().trim_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '#');
        let s = s.strip_prefix("to ").unwrap_or(s).trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    if let Some(at) = lower.rfind(" from ") {
        let rest = &t[at + 6..];
        // "move to Vite, away from webpack": what it moves to comes before.
        let before = &lower[..at];
        let to_before =
            before.rfind(" to ").map(|i| i + 4).or_else(|| before.find("to ").filter(|i| *i == 0).map(|_| 3));
        let s = match rest.to_ascii_lowercase().find(" to ") {
            Some(to) => Subject { from: word(&rest[..to]), to: word(&rest[to + 4..]), what: None },
            None => Subject {
                from: word(rest),
                to: to_before.and_then(|i| word(t[i..at].split(',').next().unwrap_or(""))),
                what: None,
            },
        };
        // "Upgrade Vue version from 2 to 3": versions of what the title names first.
        let number = |x: &Option<String>| x.as_deref().is_some_and(|x| x.starts_with(|c: char| c.is_ascii_digit()));
        if number(&s.from) && number(&s.to) {
            let head = lower[..at].split_whitespace().skip(1).filter(|w| *w != "version").count();
            let name: Vec<&str> =
                t[..at].split_whitespace().skip(1).filter(|w| !w.eq_ignore_ascii_case("version")).take(head).collect();
            if !name.is_empty() {
                let name = name.join(" ");
                let at_version = |v: Option<String>| v.map(|v| format!("{name} {v}"));
                return Subject { from: None, what: at_version(s.from), to: at_version(s.to) };
            }
        }
        // "from Django 3 to Django 4": an upgrade, nothing goes away.
        if s.to.is_some() && first_word(&s.from) == first_word(&s.to) {
            return Subject { what: s.from, from: None, to: s.to };
        }
        return s;
    }
    let replaces = ["migrate ", "switch "];
    for verb in ["migrate ", "switch ", "convert ", "upgrade ", "move ", "port "] {
        if lower.starts_with(verb) {
            let rest = &t[verb.len()..];
            let (x, to) = match rest.to_ascii_lowercase().find(" to ") {
                Some(to) => (word(&rest[..to]), word(&rest[to + 4..])),
                None => (None, word(rest)),
            };
            return if replaces.contains(&verb) {
                Subject { from: x, to, what: None }
            } else {
                Subject { from: None, to, what: x }
            };
        }
    }
    for verb in ["drop ", "dropping ", "remove ", "replace "] {
        if lower.starts_with(verb) {
            let rest = &t[verb.len()..];
            let rest = rest.trim_end_matches(" support").trim_end_matches(" Support");
            return match rest.to_ascii_lowercase().find(" with ") {
                Some(with) => Subject { from: word(&rest[..with]), to: word(&rest[with + 6..]), what: None },
                None => Subject { from: word(rest.trim_start_matches("support for ")), to: None, what: None },
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

/// Whether `text` starts with a verb that starts a task ("Add ...", "Set up ...").
pub(super) fn imperative(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    VERBS.iter().any(|v| t.strip_prefix(v).is_some_and(|rest| rest.is_empty() || rest.starts_with(' ')))
}

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
        // What is converted stays; only what a change replaces goes away.
        let s = subject("Convert frontend to TypeScript");
        assert_eq!((s.from, s.to.as_deref(), s.what.as_deref()), (None, Some("TypeScript"), Some("frontend")));
        let s = subject("Migrate to latest Angular (or React?)");
        assert_eq!((s.from, s.to.as_deref()), (None, Some("latest Angular")));
        let s = subject("Upgrade from Django 3 to Django 4");
        assert_eq!((s.from, s.to.as_deref(), s.what.as_deref()), (None, Some("Django 4"), Some("Django 3")));
        let s = subject("Upgrade Vue version from 2 to 3");
        assert_eq!((s.from, s.what.as_deref(), s.to.as_deref()), (None, Some("Vue 2"), Some("Vue 3")));
        let s = subject("move to Vite, away from webpack/vue-cli");
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("webpack/vue-cli"), Some("Vite")));
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
