//! Loading a plan agent by agent. Each agent's mapping is checked against the schema
//! and becomes a typed `Agent` as soon as the parser completes it, so that neither
//! the YAML tree nor the JSON value of a plan of 100,000 agents is ever held whole.
//!
//! This is the quick way for a valid plan, and only that: at anything unusual (an
//! alias, a YAML problem, a value the schema or the types refuse) it gives up, and
//! `load` reads the file the ordinary way, which says what is wrong and where.
//!
//! Checking each agent without its children (and the plan with a stand-in for its
//! primary) is the whole schema check: the schema refers to children only as
//! `$ref: Agent`, with nothing else said of them.

use plan_schema::{Agent, Plan};
use serde_json::Value;

use crate::check::schema::{agent_is_valid, plan_is_valid};
use crate::load::source::{Source, Span};
use crate::load::yaml::{self, Fold, Node, NodeKind};

/// Where a collection stands, as far as agents go.
const OTHER: u8 = 0;
const ROOT: u8 = 1;
const AGENT: u8 = 2;
/// An agent's `agents` list.
const CHILDREN: u8 = 3;
/// An agent's `map` or `gather`, whose `agent` is an agent.
const HOLDER: u8 = 4;

/// Which field of its parent an agent fills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Child,
    Join,
    Reduce,
    Map,
    Gather,
}

/// The typed plan of `source`, or `None` when the ordinary load must tell why not.
pub fn load_folded(source: &Source) -> Option<Plan> {
    let mut folder = Folder::default();
    let (root, parsed) = yaml::parse_folding(source, &mut folder);
    if folder.spoiled || parsed.aliases || !parsed.problems.is_empty() {
        return None;
    }
    folder.plan(root?)
}

#[derive(Default)]
struct Folder {
    /// Typed agents their parent has not taken yet, in document order, and their fold
    /// numbers: a parent's children are always the last of them.
    agents: Vec<Agent>,
    folds: Vec<usize>,
    /// An agent could not be typed: the result is thrown away.
    spoiled: bool,
}

impl Fold for Folder {
    fn role(&self, parent: Option<u8>, key: Option<&str>, is_map: bool) -> u8 {
        match (parent, key, is_map) {
            (None, None, true) => ROOT,
            (Some(ROOT), Some("agent"), true)
            | (Some(AGENT), Some("join" | "reduce"), true)
            | (Some(CHILDREN), None, true)
            | (Some(HOLDER), Some("agent"), true) => AGENT,
            (Some(AGENT), Some("agents"), false) => CHILDREN,
            (Some(AGENT), Some("map" | "gather"), true) => HOLDER,
            _ => OTHER,
        }
    }

    fn fold(&mut self, role: u8, n: usize, node: Node) -> Option<Node> {
        if role != AGENT || self.spoiled {
            return Some(node);
        }
        match self.agent(node) {
            Some(agent) => {
                self.agents.push(agent);
                self.folds.push(n);
                None
            }
            None => {
                self.spoiled = true;
                Some(Node { span: Span::default(), kind: NodeKind::Null })
            }
        }
    }
}

/// The fold number of a folded agent.
fn folded(node: &Node) -> Option<usize> {
    match node.kind {
        NodeKind::Folded(n) => Some(n),
        _ => None,
    }
}

/// An agent that stands in for a folded one while its parent is checked and typed: the
/// schema accepts it, and it is replaced right after.
fn stand_in() -> Node {
    let text = |s: &str| Node { span: Span::default(), kind: NodeKind::Str(s.into()) };
    Node { span: Span::default(), kind: NodeKind::Map(vec![(text("id"), text("a"))]) }
}

impl Folder {
    /// Types one agent's mapping, its children taken from those already typed.
    fn agent(&mut self, node: Node) -> Option<Agent> {
        let NodeKind::Map(entries) = node.kind else { return None };
        let mut slots: Vec<(Slot, usize)> = Vec::new();
        let mut own = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let name = match &key.kind {
                NodeKind::Str(s) => s.as_str(),
                _ => "",
            };
            match (name, value.kind) {
                ("agents", NodeKind::Seq(items)) => {
                    for item in &items {
                        slots.push((Slot::Child, folded(item)?));
                    }
                }
                ("join", NodeKind::Folded(n)) => slots.push((Slot::Join, n)),
                ("reduce", NodeKind::Folded(n)) => slots.push((Slot::Reduce, n)),
                ("map" | "gather", NodeKind::Map(mut inner)) => {
                    let slot = if name == "map" { Slot::Map } else { Slot::Gather };
                    for (k, v) in &mut inner {
                        if matches!(&k.kind, NodeKind::Str(s) if s == "agent") {
                            slots.push((slot, folded(v)?));
                            *v = stand_in();
                        }
                    }
                    own.push((key, Node { span: value.span, kind: NodeKind::Map(inner) }));
                }
                (_, kind) => own.push((key, Node { span: value.span, kind })),
            }
        }
        let value = Node { span: node.span, kind: NodeKind::Map(own) }.into_json();
        if !agent_is_valid(&value) {
            return None;
        }
        let mut agent: Agent = serde_json::from_value(value).ok()?;
        let mut children = self.take(&slots)?;
        // The singles (join, reduce, the map's and the gather's agent) are taken out;
        // what stays are the children, in order.
        for (i, (slot, _)) in slots.iter().enumerate().rev() {
            if *slot == Slot::Child {
                continue;
            }
            let single = children.remove(i);
            match slot {
                Slot::Join => agent.join = Some(Box::new(single)),
                Slot::Reduce => agent.reduce = Some(Box::new(single)),
                Slot::Map => agent.map.as_mut()?.agent = single,
                Slot::Gather => agent.gather.as_mut()?.agent = Some(single),
                Slot::Child => {}
            }
        }
        children.shrink_to_fit();
        agent.agents = children;
        Some(agent)
    }

    /// The last typed agents, which must be those of `slots` in order.
    fn take(&mut self, slots: &[(Slot, usize)]) -> Option<Vec<Agent>> {
        let base = self.folds.len().checked_sub(slots.len())?;
        if !self.folds[base..].iter().zip(slots).all(|(f, (_, n))| f == n) {
            return None;
        }
        self.folds.truncate(base);
        // A fork of 100,000 children is the whole list: taken, not copied.
        Some(if base == 0 { std::mem::take(&mut self.agents) } else { self.agents.split_off(base) })
    }

    /// The plan around the primary agent, the last one typed.
    fn plan(mut self, root: Node) -> Option<Plan> {
        let NodeKind::Map(mut entries) = root.kind else { return None };
        entries.retain(|(k, _)| !matches!(&k.kind, NodeKind::Str(s) if s.starts_with("x-")));
        let (_, primary) = entries.iter_mut().find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == "agent"))?;
        let n = folded(primary)?;
        *primary = stand_in();
        let value: Value = Node { span: root.span, kind: NodeKind::Map(entries) }.into_json();
        if !plan_is_valid(&value) {
            return None;
        }
        let mut plan: Plan = serde_json::from_value(value).ok()?;
        plan.agent = self.take(&[(Slot::Child, n)])?.pop()?;
        Some(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick load's plan; the whole load's, and whether it found a problem.
    fn both(text: &str) -> (Option<Plan>, Option<Plan>, bool) {
        let source = Source::new("t.yaml", text);
        let whole = crate::load::load_whole(std::path::Path::new("t.yaml"), source.clone());
        (load_folded(&source), whole.plan, !whole.diagnostics.is_empty())
    }

    /// Every YAML file of the examples and the test data, valid or not: the quick load
    /// gives the same plan as the whole one, or gives up where the whole one refuses.
    #[test]
    fn every_plan_of_the_repository_folds_to_the_same_plan() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut dirs = vec![root.join("plans"), root.join("tests/data")];
        let (mut valid, mut invalid) = (0, 0);
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let Ok(text) = std::fs::read_to_string(&path) else { continue };
                    let (folded, whole, problems) = both(&text);
                    assert_eq!(folded, whole, "{}", path.display());
                    assert!(folded.is_none() || !problems, "{}", path.display());
                    if whole.is_some() {
                        valid += 1;
                    } else {
                        invalid += 1;
                    }
                }
            }
        }
        assert!(valid >= 9 && invalid >= 1, "{valid} valid, {invalid} invalid");
    }

    /// Example plans with random edits (YAML's own characters among them): most stay
    /// valid, many do not. Whenever the quick load gives a plan, the whole one gives
    /// the same and finds nothing wrong; where it gives up, the whole load explains
    /// (an anchored duplicate key, say, which the whole load reports and types anyway).
    mod mutated {
        use super::both;
        use proptest::prelude::*;

        const PIECES: [&str; 14] =
            ["\n", ":", "- ", "{", "}", "[", "]", "*a", "&a ", "<<: ", "1e23", " x", "agents: []", "id: b"];

        proptest! {
            #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

            #[test]
            fn quick_and_whole_loads_agree(
                which in 0usize..64,
                edits in proptest::collection::vec((any::<u16>(), any::<bool>(), proptest::sample::select(PIECES.to_vec())), 0..4),
            ) {
                let examples = crate::example_plans::example_plans();
                let mut text = examples[which % examples.len()].clone().into_bytes();
                for (at, insert, piece) in edits {
                    let at = usize::from(at) % (text.len() + 1);
                    if insert {
                        text.splice(at..at, piece.bytes());
                    } else {
                        text.drain(at..(at + piece.len()).min(text.len()));
                    }
                }
                let (folded, whole, problems) = both(&String::from_utf8_lossy(&text));
                if folded.is_some() {
                    prop_assert!(!problems);
                    prop_assert_eq!(folded, whole);
                }
            }
        }
    }

    #[test]
    fn folds_every_kind_of_child_in_place() {
        let text = r#"
version: 1
name: t
complexity: complex
x-note: { a: 1 }
agent:
  id: root
  join: { id: j, run: echo j }
  pattern: fork-join
  agents:
    - { id: a, run: echo a }
    - id: m
      map: { over: [1, 2], agent: { id: each, run: "echo {{ item }}" } }
      reduce: { id: r, run: echo r }
    - id: s
      pattern: scatter-gather
      agents: [{ id: v, run: echo v }]
      replicas: 3
      gather: { consensus: majority, agent: { id: g, run: echo g } }
"#;
        let (folded, ordinary, problems) = both(text);
        assert!(folded.is_some() && !problems);
        assert_eq!(folded, ordinary);
    }

    #[test]
    fn gives_up_on_anything_unusual() {
        let base = "version: 1\nname: t\ncomplexity: atomic\n";
        for agent in [
            "agent: { id: Bad }",
            "agent: { id: a, agents: [x] }",
            "agent: { id: a, unknown: 1 }",
            "agent: { id: a, replicas: 99999999999 }",
            "x: &x { id: b }\nagent: { id: a, agents: [*x] }",
            "agent: { id: a, agents: [{ id: b }, { id: b, id: c }] }",
        ] {
            let text = format!("{base}{agent}\n");
            let source = Source::new("t.yaml", text.clone());
            assert_eq!(load_folded(&source), None, "{agent}");
        }
    }
}
