//! What the drawings share: the title, each unit's label and what it runs, and
//! which cluster (agent with children) every unit is drawn in.

pub mod dot;
pub mod json;
pub mod mermaid;

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use plan_schema::{Agent, Command, Plan};

use crate::graph::{PlanGraph, Unit, UnitKind};
use crate::load::agents::pattern_of;

/// `issue #42 · moderate · issue-42-integration-tests`
pub fn title(plan: &Plan) -> String {
    let mut parts = Vec::new();
    if let Some(n) = plan.issue.as_ref().and_then(|i| i.number) {
        parts.push(format!("issue #{n}"));
    }
    parts.push(plan.complexity.to_string());
    parts.push(plan.name.clone());
    // One line, whatever the plan's name holds.
    parts.join(" · ").chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A one-line summary of what a unit runs.
/// What an agent may do beyond the default sandbox, for a drawing: `no sandbox`,
/// `net: HOSTS` or `net: any`; nothing for the default (sandboxed, model only).
pub fn boundary(plan: &Plan, agent: Option<&Agent>) -> Option<String> {
    let step = crate::resolve::step(plan, agent?).ok()?;
    if !step.sandbox.on {
        return Some("no sandbox".into());
    }
    match &step.sandbox.hosts {
        None => Some("net: any".into()),
        Some(h) if !h.is_empty() => Some(format!("net: {}", h.join(", "))),
        Some(_) => None,
    }
}

pub fn runs(plan: &Plan, agent: Option<&Agent>, unit: &Unit) -> String {
    if let UnitKind::Gather { consensus, has_agent: false } = &unit.kind {
        return format!("consensus: {consensus}");
    }
    let Some(agent) = agent else {
        return String::new();
    };
    let what = work_of(plan, agent);
    // How its work is held to the plan's word: candidates, checks.
    let mut held = Vec::new();
    if let Some(n) = agent.best_of.filter(|n| *n > 1) {
        held.push(format!("best of {n}"));
    }
    if crate::resolve::step(plan, agent).is_ok_and(|s| s.accept.is_some()) {
        held.push("accept".to_string());
    }
    if held.is_empty() || what.is_empty() {
        return what;
    }
    format!("{what} · {}", held.join(" · "))
}

fn work_of(plan: &Plan, agent: &Agent) -> String {
    if let Some(run) = &agent.run {
        return match run {
            Command::Shell(s) => format!("run: {s}"),
            Command::Argv(words) => format!("run: [{}]", words.join(", ")),
        };
    }
    if let Some(uses) = &agent.uses {
        return format!("uses: {uses}");
    }
    if agent.has_prompt() {
        let runner = crate::resolve::runner_name(plan, agent);
        let what = agent.prompt_file.as_deref().map_or("prompt".to_string(), |f| format!("prompt {f}"));
        return format!("{what} -> {}", runner.unwrap_or("?"));
    }
    String::new()
}

/// The label of a unit: its id and, for votes and maps, how they work.
pub fn label(unit: &Unit) -> String {
    match &unit.kind {
        UnitKind::Gather { consensus, .. } => format!("{}\n{consensus}", unit.id),
        UnitKind::MapCopy { item, .. } => {
            let item = item.as_str().map_or_else(|| item.to_string(), str::to_string);
            let short: String = item.chars().take(40).collect();
            format!("{}\n{short}", unit.id)
        }
        UnitKind::DynamicMap => format!("{}\n(items at run time)", unit.id),
        _ => unit.id.clone(),
    }
}

/// An agent with children, drawn as a cluster, and what is drawn inside it.
pub struct Cluster<'a> {
    pub agent: &'a Agent,
    pub label: String,
    pub units: Vec<NodeIndex>,
    pub children: Vec<Cluster<'a>>,
}

/// The cluster tree rooted at the primary (or `None` when it has no children: then
/// every unit is drawn at top level).
pub fn clusters<'a>(plan: &'a Plan, graph: &PlanGraph) -> (Option<Cluster<'a>>, Vec<NodeIndex>) {
    let coordinators: HashMap<&str, &Agent> =
        plan.agent.all().filter(|a| a.has_children()).map(|a| (a.id.as_str(), a)).collect();
    let mut members: HashMap<&str, Vec<NodeIndex>> = HashMap::new();
    let mut top = Vec::new();
    for ix in graph.graph.node_indices() {
        let unit = &graph.graph[ix];
        match unit.path().into_iter().rev().find(|id| coordinators.contains_key(id)) {
            Some(owner) => members.entry(coordinators[owner].id.as_str()).or_default().push(ix),
            None => top.push(ix),
        }
    }
    fn build<'a>(agent: &'a Agent, members: &mut HashMap<&str, Vec<NodeIndex>>) -> Cluster<'a> {
        let mut children = Vec::new();
        for child in agent.agents.iter().chain(agent.join.as_deref()).chain(agent.reduce.as_deref()) {
            if child.has_children() {
                children.push(build(child, members));
            }
        }
        Cluster {
            agent,
            label: format!("{} ({})", agent.id, pattern_of(agent)),
            units: members.remove(agent.id.as_str()).unwrap_or_default(),
            children,
        }
    }
    if plan.agent.has_children() {
        (Some(build(&plan.agent, &mut members)), top)
    } else {
        (None, top)
    }
}
