//! The run's DAG for the page: the plan's compiled graph (the same one `plan graph`
//! draws), laid out in the same topological levels — one column per level — with
//! each node's kind. Run-time copies of a map are counted on their map node rather
//! than drawn; very large graphs are cut to their first nodes (the table lists all).

use std::collections::HashMap;
use std::path::Path;

use plan_compiler::graph::UnitKind;
use serde::Serialize;

use crate::store::run_state::RunState;

/// The most nodes drawn.
const MAX_DRAWN: usize = 400;

#[derive(Serialize, Default)]
pub struct Drawing {
    pub nodes: Vec<Drawn>,
    /// Pairs of indexes into `nodes`.
    pub edges: Vec<(usize, usize)>,
    /// Nodes left out of the picture.
    pub hidden: usize,
    /// Why there is no picture (the plan file is gone or no longer compiles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

#[derive(Serialize)]
pub struct Drawn {
    pub id: String,
    pub kind: &'static str,
    pub level: usize,
    pub row: usize,
    /// Run-time copies of this node (a map over a computed list): how many, and
    /// how many succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies: Option<(usize, usize)>,
    /// What the agent may do beyond the default sandbox (`no sandbox`, `net: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
}

fn kind(k: &UnitKind) -> &'static str {
    match k {
        UnitKind::Work => "work",
        UnitKind::Join => "join",
        UnitKind::Reduce => "reduce",
        UnitKind::Gather { .. } => "gather",
        UnitKind::MapCopy { .. } => "copy",
        UnitKind::Replica { .. } => "replica",
        UnitKind::DynamicMap => "map",
        UnitKind::Publish { .. } => "publish",
        UnitKind::Hold => "hold",
    }
}

/// Lays out the graph of `plan` (the file the run recorded).
pub fn draw(plan: &Path, run: &RunState) -> Drawing {
    let checked = plan_compiler::check_file(plan);
    let (Some(mut graph), Some(typed)) = (plan_compiler::compile(&checked), checked.plan()) else {
        return Drawing { missing: Some(format!("{} does not compile now", plan.display())), ..Drawing::default() };
    };
    graph.publish(typed, run.publish);
    if run.held {
        graph.hold(plan_compiler::graph::hold_id(&typed.name));
    }
    let Ok(order) = graph.topo_order() else { return Drawing::default() };
    let mut copies: HashMap<&str, (usize, usize)> = HashMap::new();
    for (id, n) in &run.nodes {
        if let Some((parent, _)) = id.split_once('[').filter(|_| graph.node(id).is_none()) {
            let c = copies.entry(parent).or_default();
            c.0 += 1;
            c.1 += usize::from(n.state == plan_schema::NodeState::Succeeded);
        }
    }
    let agents = plan_compiler::load::agents::AgentIndex::new(typed);
    let mut drawing = Drawing::default();
    let mut index = HashMap::new();
    for (level, nodes) in graph.levels(&order).into_iter().enumerate() {
        for (row, ix) in nodes.into_iter().enumerate() {
            if drawing.nodes.len() >= MAX_DRAWN {
                drawing.hidden += 1;
                continue;
            }
            let unit = graph.unit(ix);
            index.insert(ix, drawing.nodes.len());
            drawing.nodes.push(Drawn {
                id: unit.id.clone(),
                kind: kind(&unit.kind),
                level,
                row,
                copies: copies.get(unit.id.as_str()).copied(),
                boundary: plan_compiler::draw::boundary(typed, agents.get(unit.agent()).map(|a| a.agent)),
            });
        }
    }
    for e in graph.graph.edge_indices() {
        if let Some((a, b)) = graph.graph.edge_endpoints(e) {
            if let (Some(&a), Some(&b)) = (index.get(&a), index.get(&b)) {
                drawing.edges.push((a, b));
            }
        }
    }
    drawing
}
