//! Classification: the complexity tier from the rules' indicators, the labels, and the
//! issue's size and structure; the pattern by the decision tree. Every step of the
//! reasoning is kept for `plan new --explain` and the plan's header comment.

use plan_schema::{Complexity, Pattern};

use super::items::{code_items, work_items};
use super::rules::Rules;
use super::source::IssueText;

#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    pub complexity: Complexity,
    pub pattern: Pattern,
    /// Work items found in the body (checklist, numbered steps, components).
    pub items: Vec<String>,
    /// Why: one line per finding.
    pub reasons: Vec<String>,
    /// Most agents the plan gets (`structure.max_agents`).
    pub max_agents: usize,
}

fn hits<'a>(haystack: &str, keywords: &'a [String]) -> Vec<&'a str> {
    keywords.iter().filter(|k| !k.is_empty() && mentions(haystack, &k.to_lowercase())).map(String::as_str).collect()
}

/// Whether `text` says `keyword` where a word starts, and not negated ("not a
/// breaking change", "without a migration").
fn mentions(text: &str, keyword: &str) -> bool {
    text.match_indices(keyword).any(|(i, _)| {
        let before = &text[..i];
        let starts_word = before.chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let recent: String = before.chars().rev().take(16).collect::<Vec<_>>().into_iter().rev().collect();
        let negated = [" not ", " no ", "without ", "n't ", " never "].iter().any(|n| format!(" {recent}").contains(n));
        starts_word && !negated
    })
}

pub fn classify(issue: &IssueText, rules: &Rules) -> Classification {
    // Words inside code (`Option::unwrap`) are not prose.
    let title = strip_code(&issue.title).to_lowercase();
    let body = strip_code(&issue.body).to_lowercase();
    let labels: Vec<String> = issue.labels.iter().map(|l| l.to_lowercase()).collect();
    let mut reasons = Vec::new();

    // 1. Indicators.
    let mut best: Option<(u32, Complexity)> = None;
    for (tier, ind) in &rules.tiers {
        let in_title = hits(&title, &ind.keywords);
        let in_body = hits(&body, &ind.keywords);
        // "type: epic" is the label `epic` under a prefix.
        let named = |x: &str, l: &str| x == l || x.rsplit([':', '/']).next().is_some_and(|last| last.trim() == l);
        let in_labels: Vec<&str> = ind
            .labels
            .iter()
            .filter(|l| labels.iter().any(|x| named(x, &l.to_lowercase())))
            .map(String::as_str)
            .collect();
        let score = in_title.len() as u32 * rules.title_weight + in_body.len() as u32 + in_labels.len() as u32 * 3;
        if score > 0 {
            let mut found: Vec<String> = Vec::new();
            for k in in_title.iter().chain(&in_body) {
                let k = format!("\"{k}\"");
                if !found.contains(&k) {
                    found.push(k);
                }
            }
            found.extend(in_labels.iter().map(|l| format!("label `{l}`")));
            reasons.push(format!("{tier}: score {score} ({})", found.join(", ")));
            // Ties go to the larger tier: under-planning costs more than over-planning.
            if best.is_none_or(|(s, _)| score >= s) {
                best = Some((score, *tier));
            }
        }
    }
    let mut tier = best.map_or(Complexity::Simple, |(_, t)| t);
    if best.is_none() {
        reasons.push("no tier indicators: simple by default".into());
    }
    // One word ("migrate" in the title) is not enough for the largest tier.
    if let Some((score, Complexity::Enterprise)) = best {
        if score < rules.structure.enterprise_score {
            reasons
                .push(format!("enterprise needs a score of {}: {score} -> complex", rules.structure.enterprise_score));
            tier = Complexity::Complex;
        }
    }
    let text = format!("{title}\n{body}");
    for (cap, keywords) in &rules.at_most {
        let found = hits(&text, keywords);
        if tier > *cap && !found.is_empty() {
            reasons.push(format!("at most {cap} for \"{}\": {tier} -> {cap}", found.join("\", \"")));
            tier = *cap;
        }
    }
    // A version upgrade of one thing ("from Vue 2 to Vue 3") is at most complex,
    // whatever "migrate" says: the thing stays, its uses change.
    let s = super::named::subject(&issue.title);
    let versioned = s.to.as_deref().and_then(|t| t.split_whitespace().last()).is_some_and(|v| {
        let v = v.trim_start_matches(['v', 'V']);
        !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.' || c == 'x')
    });
    let upgrade = s.in_place() || (s.from.is_none() && versioned);
    if tier > Complexity::Complex && upgrade {
        reasons.push(format!("at most complex for a version upgrade: {tier} -> complex"));
        tier = Complexity::Complex;
    }
    for (floor, keywords) in &rules.at_least {
        let found = hits(&text, keywords);
        if tier < *floor && !found.is_empty() {
            reasons.push(format!("at least {floor} for \"{}\": {tier} -> {floor}", found.join("\", \"")));
            tier = *floor;
        }
    }

    // 2. Structure.
    let (mut items, sequential) = work_items(&issue.body);
    // Failing tests or files listed in a code block: one copy of an agent per item.
    let mut from_code = false;
    if items.is_empty() {
        items = code_items(&issue.body);
        from_code = !items.is_empty();
    }
    let s = &rules.structure;
    let by_items = if items.len() >= s.enterprise_items {
        Some(Complexity::Enterprise)
    } else if items.len() >= s.complex_items {
        Some(Complexity::Complex)
    } else if items.len() >= s.moderate_items {
        Some(Complexity::Moderate)
    } else {
        None
    };
    if let Some(min) = by_items {
        if min > tier {
            reasons.push(format!("{} work items in the body: at least {min}", items.len()));
            tier = min;
        }
    }
    if issue.body.len() > s.long_body_chars && tier < Complexity::Enterprise {
        let up = Complexity::ALL[Complexity::ALL.iter().position(|t| *t == tier).unwrap_or(0) + 1];
        reasons.push(format!("long body ({} characters): {tier} -> {up}", issue.body.len()));
        tier = up;
    }
    // A tier that has several agents needs something to split.
    if tier >= Complexity::Moderate && items.len() < 2 && by_items.is_none() {
        let how = if tier == Complexity::Enterprise {
            "the steps of what its title moves from and to, else the tasks its prose asks for"
        } else {
            "one agent for the whole issue, or the steps of what its title moves from and to"
        };
        reasons.push(format!("{tier} without a list of work items: {how}"));
    }

    // 3. Pattern, by the decision tree, from the title and the prose: list items name
    // the work, and their words (a checklist item "saga compensation") are not about
    // how to coordinate it.
    let prose: Vec<&str> = body.lines().filter(|l| !is_list_item(l)).collect();
    let text = format!("{title}\n{}", prose.join("\n"));
    let mut pattern = Pattern::ForkJoin;
    let mut why = "no sequence, aggregation, consensus or rollback: fork-join".to_string();
    for rule in &rules.patterns {
        let found = hits(&text, &rule.keywords);
        let numbered = rule.pattern == Pattern::Pipeline && sequential;
        if !found.is_empty() || numbered {
            pattern = rule.pattern;
            why = if numbered && found.is_empty() {
                "steps in an order the text gives: pipeline".to_string()
            } else {
                format!("{}: {}", rule.pattern, found.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", "))
            };
            break;
        }
    }
    if from_code {
        pattern = Pattern::Mapreduce;
        why = format!("mapreduce: {} failing tests or files listed in a code block, one copy each", items.len());
    }
    // Without work items the tier's default steps (understand, implement, test, ...)
    // are one after another.
    if (Complexity::Moderate..Complexity::Enterprise).contains(&tier) && items.len() < 2 && pattern == Pattern::ForkJoin
    {
        pattern = Pattern::Pipeline;
        why = "no list of work items: the tier's default steps run in order: pipeline".to_string();
    }
    reasons.push(format!("pattern {why}"));
    if tier < Complexity::Moderate && matches!(pattern, Pattern::ScatterGather | Pattern::Mapreduce | Pattern::Saga) {
        reasons.push(format!("{pattern} needs several agents: {tier} -> moderate"));
        tier = Complexity::Moderate;
    }
    let max_agents = s.max_agents.max(8);
    Classification { complexity: tier, pattern, items, reasons, max_agents }
}

/// The text without `inline code` and fenced code blocks.
fn strip_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(part);
            }
        }
        out.push('\n');
    }
    out
}

fn is_list_item(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("- ")
        || l.starts_with("* ")
        || l.split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::rules::DEFAULT_RULES;

    fn issue(title: &str, body: &str, labels: &[&str]) -> IssueText {
        IssueText {
            title: title.into(),
            body: body.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            ..IssueText::default()
        }
    }

    #[test]
    fn tiers_and_patterns() {
        let rules = Rules::parse(DEFAULT_RULES).unwrap();
        let c = classify(&issue("Fix typo in README", "recieve -> receive", &[]), &rules);
        assert_eq!((c.complexity, c.pattern), (Complexity::Atomic, Pattern::ForkJoin));
        let c = classify(&issue("Add a --verbose flag", "", &["enhancement"]), &rules);
        assert_eq!(c.complexity, Complexity::Simple);
        let c =
            classify(&issue("Integration tests", "- [ ] parser\n- [ ] lexer\n- [ ] checker\n", &["testing"]), &rules);
        assert_eq!(c.complexity, Complexity::Moderate);
        assert_eq!(c.items.len(), 3);
        let c = classify(&issue("Migrate to the new storage engine", "We need a rollback plan.", &[]), &rules);
        assert_eq!((c.complexity, c.pattern), (Complexity::Enterprise, Pattern::Saga));
        let c = classify(&issue("Refactor", "In this order:\n1. Extract\n2. Move\n3. Delete\n", &[]), &rules);
        assert_eq!(c.pattern, Pattern::Pipeline);
    }

    #[test]
    fn one_enterprise_word_is_not_enterprise_and_a_prefixed_label_counts() {
        let rules = Rules::parse(DEFAULT_RULES).unwrap();
        let c = classify(&issue("Migrate project from Electron to Tauri", "It is faster.", &[]), &rules);
        assert_eq!(c.complexity, Complexity::Complex);
        assert!(c.reasons.iter().any(|r| r.contains("enterprise needs a score of 3")), "{:?}", c.reasons);
        let c = classify(&issue("Realtime API over WebSocket", "", &["type: epic"]), &rules);
        assert_eq!(c.complexity, Complexity::Complex, "{:?}", c.reasons);
        // A version upgrade of one thing stays below enterprise.
        let c = classify(&issue("Migrate to Tauri v2", "A migration of the whole architecture.", &[]), &rules);
        assert_eq!(c.complexity, Complexity::Complex, "{:?}", c.reasons);
    }
}
