//! Compilation: the agent tree and its patterns become a petgraph DAG with one node
//! per unit of work. Edges point from a node to the nodes that wait for it
//! (`a -> b`: b starts after a succeeded); their weight says why.

use std::collections::HashMap;

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxHashMap;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use plan_schema::{Agent, Consensus, Over, Pattern, Plan};
use serde::Serialize;
use serde_json::Value;

use crate::load::agents::pattern_of;

mod patterns;
mod publish;
use patterns::{compile_fork_join, compile_mapreduce, compile_scatter_gather, compile_sequence};
pub use publish::{hold_id, Publish, PublishStep};

/// What a node of the DAG does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum UnitKind {
    /// An agent's own work.
    Work,
    /// A fork-join's `join` agent.
    Join,
    /// A mapreduce's `reduce` agent.
    Reduce,
    /// A scatter-gather's vote, and its agent if it has one.
    Gather { consensus: plan_schema::Consensus, has_agent: bool },
    /// One copy of a map agent, for an item known when compiling.
    MapCopy { index: u32, item: Box<Value> },
    /// One copy of a scatter-gather's single child (`replicas`).
    Replica { index: u32 },
    /// A map whose items are known only at run time; expands into copies then.
    DynamicMap,
    /// A publishing step after every agent (`plan run --commit/--pr`, `git.approve`).
    Publish { step: PublishStep },
    /// A person's review before anything runs (`plan run --hold`): a plan no person
    /// wrote that breaks the trust policy waits here.
    Hold,
}

impl UnitKind {
    /// Whether `plan run` added the node, not the plan (publishing steps, the hold):
    /// it is no agent of the report.
    pub fn added(&self) -> bool {
        matches!(self, UnitKind::Publish { .. } | UnitKind::Hold)
    }
}

/// A node of the DAG.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Unique node id: the agent id, `id[3]` for a copy, `id[*]` for a dynamic map,
    /// `id.gather` for a gather without agent.
    pub id: String,
    pub kind: UnitKind,
    /// Agent ids from the primary down to the agent's parent: shared by the nodes of
    /// one agent's children (a fork of 100,000 holds one). See `path`.
    parents: std::sync::Arc<[String]>,
}

impl Unit {
    /// The agent whose configuration this node runs: the id without a copy's `[n]` or
    /// `[*]`, or a gather's `.gather` (a plan of 100,000 agents keeps no second copy).
    pub fn agent(&self) -> &str {
        let id = self.id.as_str();
        match self.kind {
            UnitKind::MapCopy { .. } | UnitKind::Replica { .. } | UnitKind::DynamicMap => {
                id.rfind('[').map_or(id, |i| &id[..i])
            }
            UnitKind::Gather { has_agent: false, .. } => id.strip_suffix(".gather").unwrap_or(id),
            _ => id,
        }
    }

    /// Agent ids from the primary down to the node's own agent.
    pub fn path(&self) -> Vec<&str> {
        self.parents.iter().map(String::as_str).chain([self.agent()]).collect()
    }
}

impl Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            id: &'a str,
            #[serde(flatten)]
            kind: &'a UnitKind,
            agent: &'a str,
            path: Vec<&'a str>,
        }
        Shown { id: &self.id, kind: &self.kind, agent: self.agent(), path: self.path() }.serialize(s)
    }
}

/// Why an edge exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// Sequence: pipeline or saga order, or an agent's own work before its children.
    Order,
    /// Data: map items or outputs flow along it.
    Data,
    /// Fan-in: a join, reduce or gather waits for its inputs.
    Join,
    /// An explicit `needs`.
    Needs,
}

/// Where an agent's subtree starts and ends in the DAG.
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub entries: Vec<NodeIndex>,
    pub exits: Vec<NodeIndex>,
}

/// A block as the graph holds it.
#[derive(Clone, Copy, Debug)]
pub struct BlockRef<'a> {
    pub entries: &'a [NodeIndex],
    pub exits: &'a [NodeIndex],
}

/// A saga: its agent and its steps (child ids) in order.
#[derive(Clone, Debug, Serialize)]
pub struct Saga {
    pub agent: String,
    pub steps: Vec<String>,
}

/// The compiled plan.
#[derive(Debug, Default)]
pub struct PlanGraph {
    pub graph: DiGraph<Unit, EdgeKind>,
    /// Nodes by id, found by hashing the id the node holds (not a copy of it).
    index: HashTable<NodeIndex>,
    /// Agents' blocks by agent id, but for the commonest: an agent whose block is its
    /// own node alone (`block` finds those by the node's id).
    blocks: FxHashMap<String, Block>,
    pub sagas: Vec<Saga>,
    /// Nodes whose compile-time id was taken twice (duplicate agent ids; lint reports them).
    pub duplicates: Vec<String>,
    /// Copies made of one agent at most: past `limits.copies` lint refuses the plan,
    /// so building stops there instead of exhausting memory first.
    copy_limit: usize,
    /// The parents the last node got, shared with the next one if they are the same.
    last_parents: Option<std::sync::Arc<[String]>>,
}

/// Expands a glob relative to the plan's directory; supplied by the caller so that
/// compiling stays free of file-system effects.
pub type GlobExpander<'a> = &'a dyn Fn(&str) -> Vec<String>;

impl PlanGraph {
    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.index.find(id_hash(id), |&ix| self.graph[ix].id == id).copied()
    }

    /// Where the subtree of agent `id` starts and ends.
    pub fn block(&self, id: &str) -> Option<BlockRef<'_>> {
        if let Some(b) = self.blocks.get(id) {
            return Some(BlockRef { entries: &b.entries, exits: &b.exits });
        }
        let found = self.index.find(id_hash(id), |&ix| self.graph[ix].id == id)?;
        let own = std::slice::from_ref(found);
        Some(BlockRef { entries: own, exits: own })
    }

    /// Records the block of agent `id`, unless it is just the node of the same id.
    fn set_block(&mut self, id: &str, block: &Block) {
        let own = matches!((block.entries.as_slice(), block.exits.as_slice()), ([a], [b]) if a == b && self.node(id) == Some(*a));
        if !own {
            self.blocks.insert(id.to_string(), block.clone());
        }
    }

    pub fn unit(&self, ix: NodeIndex) -> &Unit {
        &self.graph[ix]
    }

    /// Node indices in a topological order, or the nodes of each cycle.
    pub fn topo_order(&self) -> Result<Vec<NodeIndex>, Vec<Vec<NodeIndex>>> {
        toposort(&self.graph, None).map_err(|_| self.cycles())
    }

    /// Every strongly connected component with more than one node, or a self loop.
    pub fn cycles(&self) -> Vec<Vec<NodeIndex>> {
        // A sort needs a bit per node; the components need some 40 bytes.
        if toposort(&self.graph, None).is_ok() {
            return Vec::new();
        }
        tarjan_scc(&self.graph).into_iter().filter(|c| c.len() > 1 || self.graph.contains_edge(c[0], c[0])).collect()
    }

    /// One circle through the nodes of a strongly connected component, in edge order,
    /// starting and ending at the same node.
    pub fn cycle_path(&self, scc: &[NodeIndex]) -> Vec<NodeIndex> {
        let start = scc[0];
        let inside: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for next in self.graph.neighbors_directed(n, Direction::Outgoing) {
                if next == start {
                    let mut path = vec![start, n];
                    let mut cur = n;
                    while let Some(&p) = prev.get(&cur) {
                        path.push(p);
                        cur = p;
                    }
                    if path.last() != Some(&start) {
                        path.push(start);
                    }
                    path.reverse();
                    path.dedup();
                    return path;
                }
                if inside.contains(&next) && !prev.contains_key(&next) && next != start {
                    prev.insert(next, n);
                    queue.push_back(next);
                }
            }
        }
        scc.to_vec()
    }

    /// Topological levels: level 0 needs nothing, level n needs something at n-1.
    pub fn levels(&self, order: &[NodeIndex]) -> Vec<Vec<NodeIndex>> {
        let mut level = vec![0usize; self.graph.node_count()];
        let mut levels: Vec<Vec<NodeIndex>> = Vec::new();
        for &n in order {
            let l = self
                .graph
                .edges_directed(n, Direction::Incoming)
                .map(|e| level[e.source().index()] + 1)
                .max()
                .unwrap_or(0);
            level[n.index()] = l;
            if levels.len() <= l {
                levels.resize_with(l + 1, Vec::new);
            }
            levels[l].push(n);
        }
        for l in &mut levels {
            l.sort();
        }
        levels
    }

    fn add(&mut self, unit: Unit) -> NodeIndex {
        let hash = id_hash(&unit.id);
        let ix = self.graph.add_node(unit);
        let graph = &self.graph;
        let same = |&other: &NodeIndex| graph[other].id == graph[ix].id;
        // The later node of a duplicated id is the one found, as with a map.
        match self.index.entry(hash, same, |&o| id_hash(&graph[o].id)) {
            Entry::Occupied(mut taken) => {
                *taken.get_mut() = ix;
                self.duplicates.push(graph[ix].id.clone());
            }
            Entry::Vacant(free) => {
                free.insert(ix);
            }
        }
        ix
    }

    fn connect(&mut self, from: &[NodeIndex], to: &[NodeIndex], kind: EdgeKind) {
        for &a in from {
            for &b in to {
                if !self.graph.contains_edge(a, b) {
                    self.graph.add_edge(a, b, kind);
                }
            }
        }
    }
}

/// The hash of an agent or node id, for tables that find an entry by the id it holds
/// (rather than by a copy of it as a key).
pub fn id_hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(id)
}

/// Builds the graph of `plan`. Cycles (from `needs`) are left in for the caller to
/// report; `topo_order` refuses them.
pub fn build(plan: &Plan, glob: GlobExpander<'_>) -> PlanGraph {
    let (needs, agents) = survey(&plan.agent);
    // About a node and an edge per agent: sized once rather than doubled while growing.
    let mut g = PlanGraph {
        graph: DiGraph::with_capacity(agents, agents),
        index: HashTable::with_capacity(agents),
        copy_limit: plan_schema::Limits::copies(plan.limits.as_ref()) as usize + 1,
        ..PlanGraph::default()
    };
    let mut path = Vec::new();
    compile_agent(&mut g, &plan.agent, &mut path, glob);
    for (agent, need) in needs {
        let (Some(from), Some(to)) = (g.block(&need), g.block(&agent)) else {
            continue;
        };
        let (from, to) = (from.exits.to_vec(), to.entries.to_vec());
        g.connect(&from, &to, EdgeKind::Needs);
    }
    g
}

/// Every `needs` (as agent, need) and how many agents the tree holds.
fn survey(agent: &Agent) -> (Vec<(String, String)>, usize) {
    let (mut out, mut count) = (Vec::new(), 0);
    for a in agent.all() {
        count += 1;
        out.extend(a.needs.iter().map(|n| (a.id.clone(), n.clone())));
    }
    (out, count)
}

/// A node of `agent`; `path` ends with the agent's id.
fn unit(g: &mut PlanGraph, id: String, kind: UnitKind, agent: &Agent, path: &[String]) -> Unit {
    let parents = &path[..path.len().saturating_sub(1)];
    let shared = match &g.last_parents {
        Some(p) if **p == *parents => p.clone(),
        _ => {
            let p: std::sync::Arc<[String]> = parents.into();
            g.last_parents = Some(p.clone());
            p
        }
    };
    let unit = Unit { id, kind, parents: shared };
    debug_assert_eq!(unit.agent(), agent.id);
    unit
}

fn compile_agent(g: &mut PlanGraph, agent: &Agent, path: &mut Vec<String>, glob: GlobExpander<'_>) -> Block {
    compile_as(g, agent, path, glob, UnitKind::Work)
}

fn compile_as(
    g: &mut PlanGraph,
    agent: &Agent,
    path: &mut Vec<String>,
    glob: GlobExpander<'_>,
    kind: UnitKind,
) -> Block {
    path.push(agent.id.clone());
    let own = agent.has_work().then(|| {
        let u = unit(g, agent.id.clone(), kind, agent, path);
        g.add(u)
    });
    let children = if agent.has_children() { compile_children(g, agent, path, glob) } else { Block::default() };
    let block = match own {
        Some(own) if children.entries.is_empty() => Block { entries: vec![own], exits: vec![own] },
        Some(own) => {
            g.connect(&[own], &children.entries, EdgeKind::Order);
            Block { entries: vec![own], exits: children.exits }
        }
        None => children,
    };
    path.pop();
    g.set_block(&agent.id, &block);
    block
}

/// The children of `agent`, wired by its pattern.
fn compile_children(g: &mut PlanGraph, agent: &Agent, path: &mut Vec<String>, glob: GlobExpander<'_>) -> Block {
    match pattern_of(agent) {
        Pattern::Pipeline | Pattern::Saga => compile_sequence(g, agent, path, glob),
        Pattern::ForkJoin => compile_fork_join(g, agent, path, glob),
        Pattern::Mapreduce => compile_mapreduce(g, agent, path, glob),
        Pattern::ScatterGather => compile_scatter_gather(g, agent, path, glob),
    }
}

#[cfg(test)]
mod tests;
