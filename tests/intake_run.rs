//! The "would a maintainer run it as it is" measure of the intake evaluation: each
//! issue's `run` label, and where a written plan's agents sit, to tell what runs
//! before what.

use serde::Deserialize;
use serde_json::Value;

/// What a plan a maintainer would run as it is looks like (see issues.yaml).
#[derive(Deserialize)]
pub struct Run {
    pub agents: [usize; 2],
    #[serde(default)]
    pub covers: Vec<String>,
    #[serde(default)]
    pub order: Vec<[String; 2]>,
}

/// One agent with work: its text and where it sits in the tree.
pub struct Work {
    pub text: String,
    /// From the top: (the parent's pattern, the slot it fills: `agents` n, `join`,
    /// `reduce`, `map`, `gather`).
    pub path: Vec<(String, Slot)>,
}

#[derive(Clone, PartialEq)]
pub enum Slot {
    Child(usize),
    After,
    Before,
}

/// An agent's role and its task, the text it was made from.
pub fn agent_text(agent: &Value) -> String {
    [agent.get("role"), agent.pointer("/with/task")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The agents of `agent` that have work, with where each sits.
pub fn work_of(agent: &Value, path: &mut Vec<(String, Slot)>, out: &mut Vec<Work>) {
    if ["prompt", "prompt_file", "run"].iter().any(|k| agent.get(k).is_some()) {
        out.push(Work { text: agent_text(agent), path: path.clone() });
    }
    let pattern = agent.get("pattern").and_then(Value::as_str).unwrap_or("").to_string();
    let mut visit = |child: &Value, slot: Slot, path: &mut Vec<(String, Slot)>| {
        path.push((pattern.clone(), slot));
        work_of(child, path, out);
        path.pop();
    };
    for (n, child) in agent.get("agents").and_then(Value::as_array).into_iter().flatten().enumerate() {
        visit(child, Slot::Child(n), path);
    }
    if let Some(a) = agent.pointer("/map/agent") {
        visit(a, Slot::Before, path);
    }
    for pointer in ["/join", "/reduce", "/gather/agent"] {
        if let Some(a) = agent.pointer(pointer) {
            visit(a, Slot::After, path);
        }
    }
}

/// Whether `a` runs before `b` (not beside nor after it).
pub fn before(a: &Work, b: &Work) -> bool {
    let Some(((pattern, x), (_, y))) = a.path.iter().zip(&b.path).find(|(x, y)| x != y) else {
        return false;
    };
    match (x, y) {
        (Slot::Child(i), Slot::Child(j)) => matches!(pattern.as_str(), "pipeline" | "saga") && i < j,
        (Slot::Child(_) | Slot::Before, Slot::After) => true,
        _ => false,
    }
}

/// Whether `text` names `phrase` (`a|b`: either), each at the start of a word.
pub fn names(text: &str, phrase: &str) -> bool {
    let text = text.to_lowercase();
    phrase.split('|').any(|p| {
        let p = p.to_lowercase();
        text.match_indices(&p).any(|(at, _)| !text[..at].chars().next_back().is_some_and(char::is_alphanumeric))
    })
}
