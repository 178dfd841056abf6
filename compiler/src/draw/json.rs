//! `plan compile --format json`: the compiled DAG as a stable JSON contract.
//!
//! ```text
//! { "format": 1, "name", "issue": number|null, "complexity",
//!   "nodes": [{ "id", "kind", ...kind fields, "agent", "path": [ids], "runs", "level" }],
//!   "edges": [{ "from", "to", "kind": order|data|join|needs }],
//!   "levels": [[ids]], "width", "depth", "critical_path",
//!   "sagas": [{ "agent", "steps": [ids] }] }
//! ```
//! `width` is the largest level, `depth` the number of levels, `critical_path` the
//! number of nodes on the longest path.

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use plan_schema::Plan;
use serde::Serialize;

use crate::draw::runs;
use crate::graph::{EdgeKind, PlanGraph, Saga, Unit};
use crate::load::agents::AgentIndex;

#[derive(Serialize)]
pub struct CompiledPlan<'a> {
    pub format: u32,
    pub name: &'a str,
    pub issue: Option<u64>,
    pub complexity: String,
    pub nodes: Vec<NodeOut<'a>>,
    pub edges: Vec<EdgeOut<'a>>,
    pub levels: Vec<Vec<&'a str>>,
    pub width: usize,
    pub depth: usize,
    pub critical_path: usize,
    pub sagas: &'a [Saga],
}

#[derive(Serialize)]
pub struct NodeOut<'a> {
    #[serde(flatten)]
    pub unit: &'a Unit,
    pub runs: String,
    pub level: usize,
}

#[derive(Serialize)]
pub struct EdgeOut<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub kind: EdgeKind,
}

/// Builds the contract; `order` is a topological order of `graph`.
pub fn compiled<'a>(plan: &'a Plan, graph: &'a PlanGraph, order: &[NodeIndex]) -> CompiledPlan<'a> {
    let agents = AgentIndex::new(plan);
    let levels = graph.levels(order);
    let mut level_of = vec![0; graph.graph.node_count()];
    for (l, nodes) in levels.iter().enumerate() {
        for n in nodes {
            level_of[n.index()] = l;
        }
    }
    let nodes = graph
        .graph
        .node_indices()
        .map(|ix| {
            let unit = &graph.graph[ix];
            NodeOut {
                unit,
                runs: runs(plan, agents.get(unit.agent()).map(|a| a.agent), unit),
                level: level_of[ix.index()],
            }
        })
        .collect();
    let edges = graph
        .graph
        .edge_references()
        .map(|e| EdgeOut { from: &graph.graph[e.source()].id, to: &graph.graph[e.target()].id, kind: *e.weight() })
        .collect();
    CompiledPlan {
        format: 1,
        name: &plan.name,
        issue: plan.issue.as_ref().and_then(|i| i.number),
        complexity: plan.complexity.to_string(),
        nodes,
        edges,
        width: levels.iter().map(Vec::len).max().unwrap_or(0),
        depth: levels.len(),
        critical_path: levels.len(),
        levels: levels.iter().map(|l| l.iter().map(|&n| graph.graph[n].id.as_str()).collect()).collect(),
        sagas: &graph.sagas,
    }
}
