//! `plan graph --format dot`: the dry-run picture for Graphviz. One cluster per agent
//! with children, labelled with its pattern; shapes by node kind; saga
//! compensations as dashed edges to note-shaped nodes.

use std::collections::HashMap;
use std::fmt::Write;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use plan_schema::Plan;

use crate::draw::{boundary, clusters, label, runs, title, Cluster};
use crate::graph::{EdgeKind, PlanGraph, UnitKind};
use crate::load::agents::AgentIndex;

/// A node state for colouring (`plan graph --run`).
pub type States<'a> = &'a HashMap<String, plan_schema::NodeState>;

/// Quotes a DOT id or label.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn shape(kind: &UnitKind) -> &'static str {
    match kind {
        UnitKind::Work => "box",
        UnitKind::Join => "invhouse",
        UnitKind::Reduce => "invtrapezium",
        UnitKind::Gather { .. } => "diamond",
        UnitKind::MapCopy { .. } => "folder",
        UnitKind::Replica { .. } => "box3d",
        UnitKind::DynamicMap => "tab",
        UnitKind::Publish { .. } => "cds",
        UnitKind::Hold => "octagon",
    }
}

fn fill(state: Option<&plan_schema::NodeState>) -> &'static str {
    state.copied().unwrap_or_default().colour()
}

/// Renders the graph; `states` colours nodes by their state in a run.
pub fn to_dot(plan: &Plan, graph: &PlanGraph, states: Option<States>) -> String {
    let agents = AgentIndex::new(plan);
    let mut out = String::with_capacity(128 + graph.graph.node_count() * 96);
    let _ = writeln!(out, "digraph plan {{");
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"Helvetica\", rankdir=TB, compound=true];",
        quote(&title(plan))
    );
    let _ = writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10, style=filled, fillcolor=\"#ffffff\"];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    let node = |out: &mut String, ix: NodeIndex, indent: &str| {
        let unit = &graph.graph[ix];
        let agent = agents.get(unit.agent()).map(|a| a.agent);
        let state = states.and_then(|s| s.get(&unit.id));
        let mut text = label(unit);
        if let Some(b) = boundary(plan, agent) {
            text.push_str(&format!("\n[{b}]"));
        }
        if let Some(st) = state {
            text.push_str(&format!("\n[{st}]"));
        }
        let _ = writeln!(
            out,
            "{indent}{} [label={}, shape={}, fillcolor={}, tooltip={}];",
            quote(&unit.id),
            quote(&text),
            shape(&unit.kind),
            quote(fill(state)),
            quote(&runs(plan, agent, unit))
        );
    };
    fn cluster(out: &mut String, c: &Cluster, depth: usize, node: &dyn Fn(&mut String, NodeIndex, &str)) {
        let indent = "  ".repeat(depth + 1);
        let _ = writeln!(out, "{indent}subgraph {} {{", quote(&format!("cluster_{}", c.agent.id)));
        let _ = writeln!(out, "{indent}  label={}; style=rounded; color=\"#888888\";", quote(&c.label));
        for &ix in &c.units {
            node(out, ix, &format!("{indent}  "));
        }
        for child in &c.children {
            cluster(out, child, depth + 1, node);
        }
        let _ = writeln!(out, "{indent}}}");
    }
    let (root, top) = clusters(plan, graph);
    for ix in top {
        node(&mut out, ix, "  ");
    }
    if let Some(root) = root {
        cluster(&mut out, &root, 0, &node);
    }
    for e in graph.graph.edge_references() {
        let (a, b) = (&graph.graph[e.source()].id, &graph.graph[e.target()].id);
        let style = match e.weight() {
            EdgeKind::Order => "",
            EdgeKind::Data => " [color=\"#1f6feb\", penwidth=1.5]",
            EdgeKind::Join => " [color=\"#555555\"]",
            EdgeKind::Needs => " [style=dotted, label=\"needs\"]",
        };
        let _ = writeln!(out, "  {} -> {}{style};", quote(a), quote(b));
    }
    for saga in &graph.sagas {
        for step in &saga.steps {
            let Some(agent) = agents.get(step).map(|a| a.agent) else {
                continue;
            };
            let Some(comp) = agent.compensate.as_deref() else {
                continue;
            };
            let comp_id = format!("{step}.compensate");
            let text = match comp {
                plan_schema::Command::Shell(s) => s.clone(),
                plan_schema::Command::Argv(w) => w.join(" "),
            };
            let _ = writeln!(
                out,
                "  {} [label={}, shape=note, style=\"dashed,filled\", fillcolor=\"#f6f0ff\", tooltip={}];",
                quote(&comp_id),
                quote(&format!("undo {step}")),
                quote(&text)
            );
            for &exit in graph.block(step).map_or(&[][..], |b| b.exits) {
                let _ = writeln!(
                    out,
                    "  {} -> {} [style=dashed, color=\"#7b61c4\", label=\"compensate\"];",
                    quote(&graph.graph[exit].id),
                    quote(&comp_id)
                );
            }
        }
    }
    out.push_str("}\n");
    out
}
