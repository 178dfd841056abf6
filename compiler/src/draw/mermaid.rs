//! `plan graph --format mermaid`: the same picture as DOT, for GitHub markdown.
//! Node ids are generated (`n0`, `n1`, ...) so that any agent id is safe; labels are
//! quoted with Mermaid's entity escapes.

use std::fmt::Write;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use plan_schema::Plan;

use crate::draw::{clusters, label, title, Cluster};
use crate::graph::{EdgeKind, PlanGraph, UnitKind};
use crate::load::agents::AgentIndex;

/// Escapes text for a quoted Mermaid label.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' => out.push_str("<br/>"),
            '`' => out.push_str("#96;"),
            c => out.push(c),
        }
    }
    out
}

fn node_text(ix: NodeIndex, kind: &UnitKind, text: &str) -> String {
    let t = escape(text);
    let n = ix.index();
    match kind {
        UnitKind::Work => format!("n{n}[\"{t}\"]"),
        UnitKind::Join => format!("n{n}[/\"{t}\"\\]"),
        UnitKind::Reduce => format!("n{n}[\\\"{t}\"/]"),
        UnitKind::Gather { .. } => format!("n{n}{{\"{t}\"}}"),
        UnitKind::MapCopy { .. } => format!("n{n}([\"{t}\"])"),
        UnitKind::Replica { .. } => format!("n{n}(\"{t}\")"),
        UnitKind::DynamicMap => format!("n{n}[[\"{t}\"]]"),
        UnitKind::Publish { .. } => format!("n{n}>\"{t}\"]"),
        UnitKind::Hold => format!("n{n}{{{{\"{t}\"}}}}"),
    }
}

/// Renders the graph; `states` colours nodes by their state in a run.
pub fn to_mermaid(plan: &Plan, graph: &PlanGraph, states: Option<crate::draw::dot::States>) -> String {
    let agents = AgentIndex::new(plan);
    let mut out = String::with_capacity(64 + graph.graph.node_count() * 64);
    let _ = writeln!(out, "---\ntitle: \"{}\"\n---\nflowchart TD", title(plan).replace('\\', "\\\\").replace('"', "'"));
    fn cluster(out: &mut String, graph: &PlanGraph, c: &Cluster, depth: usize, count: &mut usize) {
        let indent = "  ".repeat(depth + 1);
        *count += 1;
        let _ = writeln!(out, "{indent}subgraph c{count}[\"{}\"]", escape(&c.label));
        for &ix in &c.units {
            let _ = writeln!(out, "{indent}  {}", node_text(ix, &graph.graph[ix].kind, &label(&graph.graph[ix])));
        }
        for child in &c.children {
            cluster(out, graph, child, depth + 1, count);
        }
        let _ = writeln!(out, "{indent}end");
    }
    let (root, top) = clusters(plan, graph);
    for ix in top {
        let _ = writeln!(out, "  {}", node_text(ix, &graph.graph[ix].kind, &label(&graph.graph[ix])));
    }
    if let Some(root) = root {
        cluster(&mut out, graph, &root, 0, &mut 0);
    }
    for e in graph.graph.edge_references() {
        let (a, b) = (e.source().index(), e.target().index());
        let arrow = match e.weight() {
            EdgeKind::Order | EdgeKind::Join => "-->",
            EdgeKind::Data => "==>",
            EdgeKind::Needs => "-.->|needs|",
        };
        let _ = writeln!(out, "  n{a} {arrow} n{b}");
    }
    let mut extra = graph.graph.node_count();
    for saga in &graph.sagas {
        for step in &saga.steps {
            if agents.get(step).and_then(|a| a.agent.compensate.as_ref()).is_none() {
                continue;
            }
            let _ = writeln!(out, "  n{extra}>\"{}\"]", escape(&format!("undo {step}")));
            for &exit in graph.block(step).map_or(&[][..], |b| b.exits) {
                let _ = writeln!(out, "  n{} -.->|compensate| n{extra}", exit.index());
            }
            extra += 1;
        }
    }
    if let Some(states) = states {
        for state in plan_schema::NodeState::ALL.into_iter().filter(|s| *s != plan_schema::NodeState::Pending) {
            let fill = state.colour();
            let nodes: Vec<String> = graph
                .graph
                .node_indices()
                .filter(|ix| states.get(&graph.graph[*ix].id) == Some(&state))
                .map(|ix| format!("n{}", ix.index()))
                .collect();
            if !nodes.is_empty() {
                let _ = writeln!(out, "  classDef {state} fill:{fill}");
                let _ = writeln!(out, "  class {} {state}", nodes.join(","));
            }
        }
    }
    out
}
