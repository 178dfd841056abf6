//! Reading an issue from what users have: GitHub REST JSON, the JSON of
//! `gh issue view N --json number,title,body,labels,url`, or a markdown file whose
//! first heading is the title. Also finds the work items in its body.

use serde_json::Value;

/// The parts of an issue that intake uses. The text is data, never a template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IssueText {
    pub number: Option<u64>,
    pub repo: Option<String>,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SourceError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("the JSON has no `title`: expected an issue from GitHub's REST API or `gh issue view --json number,title,body,labels,url`")]
    NotAnIssue,
    #[error("the input is empty")]
    Empty,
}

/// Parses `text`; JSON when it starts with `{`, markdown otherwise.
pub fn parse_issue(text: &str) -> Result<IssueText, SourceError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(SourceError::Empty);
    }
    if trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(trimmed).map_err(|e| SourceError::Json(e.to_string()))?;
        return from_json(&v);
    }
    Ok(from_markdown(trimmed))
}

fn from_json(v: &Value) -> Result<IssueText, SourceError> {
    let title = v.get("title").and_then(Value::as_str).ok_or(SourceError::NotAnIssue)?;
    let labels = v
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.as_str().or_else(|| l.get("name").and_then(Value::as_str)))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let url = v.get("html_url").or_else(|| v.get("url")).and_then(Value::as_str).map(str::to_string);
    let repo = v
        .get("repository_url")
        .and_then(Value::as_str)
        .and_then(|u| u.split("/repos/").nth(1))
        .map(str::to_string)
        .or_else(|| url.as_deref().and_then(repo_from_html_url));
    Ok(IssueText {
        number: v.get("number").and_then(Value::as_u64),
        repo,
        title: title.trim().to_string(),
        body: v.get("body").and_then(Value::as_str).unwrap_or("").to_string(),
        labels,
        url: url.filter(|u| !u.contains("api.")),
    })
}

/// `https://github.com/org/repo/issues/4` -> `org/repo`
fn repo_from_html_url(url: &str) -> Option<String> {
    let path = url.split("://").nth(1)?.split_once('/')?.1;
    let mut parts = path.split('/');
    let (owner, name, kind) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "issues" || kind == "pull").then(|| format!("{owner}/{name}"))
}

fn from_markdown(text: &str) -> IssueText {
    let mut title = String::new();
    let mut body_lines = Vec::new();
    for line in text.lines() {
        if title.is_empty() {
            if let Some(h) = line.trim_start().strip_prefix('#') {
                title = h.trim_start_matches('#').trim().to_string();
                continue;
            }
            if !line.trim().is_empty() && body_lines.is_empty() {
                // No heading first: the first line is the title.
                title = line.trim().to_string();
                continue;
            }
        }
        body_lines.push(line);
    }
    IssueText { title, body: body_lines.join("\n").trim().to_string(), ..IssueText::default() }
}

/// Work items of an issue: open checklist entries, else numbered steps, else the
/// bullets of a list of components. Markdown syntax is stripped; each item is one line
/// of text. Checklist entries the issue marks done (`- [x]`, also an issue template's
/// ticked answers) are no work, nor are bare references (`#12`, a link) and
/// measurements (`12.3 ms`).
pub fn work_items(body: &str) -> (Vec<String>, bool) {
    let clean =
        |s: &str| s.trim().trim_end_matches(['.', ';', ':']).replace('`', "").replace("**", "").trim().to_string();
    let mut checklist = Vec::new();
    let mut ticked = 0;
    let mut numbered = Vec::new();
    let mut bullets = Vec::new();
    for line in body.lines() {
        let l = line.trim_start();
        let marker = l.strip_prefix("- ").or_else(|| l.strip_prefix("* "));
        if let Some(rest) = marker.and_then(|m| m.strip_prefix("[ ]")) {
            checklist.push(clean(rest));
        } else if marker.is_some_and(|m| m.starts_with("[x]") || m.starts_with("[X]")) {
            ticked += 1;
        } else if let Some((n, rest)) = l.split_once(". ") {
            if !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()) {
                numbered.push(clean(rest));
            }
        } else if let Some(rest) = marker {
            bullets.push(clean(rest));
        }
    }
    let keep = |v: Vec<String>| v.into_iter().filter(|s| is_work(s)).collect::<Vec<_>>();
    let (checklist, numbered, bullets) = (keep(checklist), keep(numbered), keep(bullets));
    if !checklist.is_empty() {
        (checklist, false)
    } else if ticked > 0 {
        // A checklist whose every item is done leaves nothing to split the work by.
        (Vec::new(), false)
    } else if numbered.len() >= 2 {
        (numbered, true)
    } else if bullets.len() >= 2 {
        (bullets, false)
    } else {
        (Vec::new(), false)
    }
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

/// Whether a list item reads as work: some words, not only a reference or a figure.
fn is_work(item: &str) -> bool {
    let tokens: Vec<&str> = item.split_whitespace().collect();
    let reference = |w: &&str| w.starts_with('#') || w.contains("://");
    let figure = |w: &&str| w.chars().next().is_some_and(|c| c.is_ascii_digit());
    let words = tokens
        .iter()
        .filter(|w| !reference(w) && !figure(w) && w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count();
    let figures = tokens.iter().filter(|w| figure(w)).count();
    words >= 2 || (words == 1 && figures == 0 && !tokens.iter().any(reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_items_references_and_figures_are_no_work() {
        let body = "- [x] Add the flag\n- [ ] Write the docs\n- [X] Yes\n- [ ] #123\n- [ ] Test the parser";
        assert_eq!(work_items(body).0, ["Write the docs", "Test the parser"]);
        let done = "- [x] I searched existing issues\n- [x] Yes\n\nThe button is broken.\n";
        assert_eq!(work_items(done).0, Vec::<String>::new());
        let timings = "- 12.3 ms\n- 45 ms\n- https://example.com/log\n";
        assert!(work_items(timings).0.is_empty());
        let parts = "- Parser: accept tabs\n- Docs: say so\n";
        assert_eq!(work_items(parts).0, ["Parser: accept tabs", "Docs: say so"]);
    }

    #[test]
    fn code_blocks_of_failing_tests_or_files_are_items() {
        let run = "Four tests fail:\n\n```\nFAILED tests/test_io.py::test_read - AssertionError\n                   FAILED tests/test_io.py::test_write - KeyError\n--- FAIL: TestParse (0.00s)\n                   collected 40 items\n```\n";
        assert_eq!(code_items(run), ["tests/test_io.py::test_read", "tests/test_io.py::test_write", "TestParse"]);
        let files = "Change these:\n```\nsrc/a.rs\nsrc/b/c.rs\n```\n";
        assert_eq!(code_items(files), ["src/a.rs", "src/b/c.rs"]);
        assert!(code_items("```\nfn main() {}\nlet x = 1;\n```").is_empty(), "code is no list");
        assert!(code_items("src/a.rs\nsrc/b.rs\n").is_empty(), "only inside code blocks");
    }

    #[test]
    fn reads_every_format() {
        let rest = r#"{"number": 42, "title": "Fix it", "body": "text", "labels": [{"name": "bug"}],
            "html_url": "https://github.com/org/repo/issues/42", "repository_url": "https://api.github.com/repos/org/repo"}"#;
        let i = parse_issue(rest).unwrap();
        assert_eq!(
            (i.number, i.repo.as_deref(), i.labels.clone()),
            (Some(42), Some("org/repo"), vec!["bug".to_string()])
        );
        let gh = r#"{"number": 7, "title": "T", "body": "", "labels": [{"id": "x", "name": "docs"}], "url": "https://github.com/a/b/issues/7"}"#;
        let i = parse_issue(gh).unwrap();
        assert_eq!((i.repo.as_deref(), i.labels[0].as_str()), (Some("a/b"), "docs"));
        let md = parse_issue("# Add a flag\n\nWe need `--verbose`.\n").unwrap();
        assert_eq!((md.title.as_str(), md.body.as_str()), ("Add a flag", "We need `--verbose`."));
        assert_eq!(parse_issue("{\"x\": 1}"), Err(SourceError::NotAnIssue));
        assert!(matches!(parse_issue("{oops"), Err(SourceError::Json(_))));
        assert_eq!(parse_issue("  \n"), Err(SourceError::Empty));
    }

    #[test]
    fn finds_work_items() {
        let (items, seq) = work_items("Intro\n- [ ] Parser `tokens`\n- [x] **Lexer** rules.\n- note\n");
        assert_eq!((items, seq), (vec!["Parser tokens".to_string()], false), "a done item is no work");
        let (items, seq) = work_items("1. Build\n2. Test\n3. Ship\n");
        assert_eq!((items.len(), seq), (3, true));
        assert_eq!(work_items("just prose"), (Vec::new(), false));
    }
}
