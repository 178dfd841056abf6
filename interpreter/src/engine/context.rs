//! The run context: the plan, its compiled graph and agent tree, where the run lives,
//! and the outputs of what has finished — everything the engine and templates read.
//! Graph look-ups go through its methods, so petgraph stays behind this file.

use plan_compiler::resolve::Step;

use crate::engine::prepare::PrepareError;
use crate::store::rundir::RunDir;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;

use indexmap::IndexMap;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use plan_compiler::graph::{PlanGraph, Unit};
use plan_schema::{Pattern, Plan};
use serde_json::Value;

use crate::engine::tree::{AgentMeta, Tree};

/// Everything about a run that templates may read.
pub struct RunContext {
    pub plan: Plan,
    pub graph: PlanGraph,
    pub tree: Tree,
    pub base_dir: PathBuf,
    /// The repository the plan reads templates from and writes files to.
    pub confined: PathBuf,
    /// The run directory (its id and root; the root absolute while a run runs).
    pub dir: RunDir,
    pub vars: IndexMap<String, Value>,
    /// Outputs of finished nodes and copies.
    outputs: RwLock<Outputs>,
    /// Render placeholders for outputs that do not exist yet (`--dry-run`).
    pub dry_run: bool,
    /// Secret-looking variables of `plan`'s own environment: withheld from agents
    /// that do not ask for them by name.
    pub secret_env: Vec<String>,
    /// Secrets given with `plan run --secret`: only agents that name them get them.
    pub given_secrets: std::collections::BTreeMap<String, String>,
    /// The git repository, when the run uses git (checked before it started).
    pub repo: Option<crate::git::Repo>,
    /// What the run publishes after its agents (the graph's trailing steps).
    pub publish: plan_compiler::graph::Publish,
    /// `plan run --hold`: the message of the gate before every node.
    pub hold: Option<String>,
    /// The step cache (`None`: `--no-cache`, or a dry run).
    pub cache: Option<std::sync::Arc<crate::store::cache::Cache>>,
    /// The repository a run that does not use git runs in: what cache keys hash.
    pub cache_root: Option<PathBuf>,
    /// The step-cache keys of finished nodes (and copies), by id.
    keys: RwLock<HashMap<String, String>>,
}

/// Outputs by node index (a run of 100,000 nodes keeps no 100,000 ids for them), and
/// those of copies made at run time by id.
#[derive(Default)]
struct Outputs {
    nodes: Vec<Stored>,
    copies: HashMap<String, Value>,
}

/// A node's output as held: 16 bytes, and no allocation for the empty output of a
/// `noop` or a silent command.
#[derive(Clone, Default)]
enum Stored {
    #[default]
    Nothing,
    Empty,
    Value(Box<Value>),
}

impl Stored {
    fn of(value: Value) -> Stored {
        match value {
            Value::String(s) if s.is_empty() => Stored::Empty,
            v => Stored::Value(Box::new(v)),
        }
    }

    fn get(&self) -> Option<Value> {
        match self {
            Stored::Nothing => None,
            Stored::Empty => Some(Value::String(String::new())),
            Stored::Value(v) => Some(Value::clone(v)),
        }
    }
}

impl RunContext {
    pub fn new(
        mut plan: Plan,
        graph: PlanGraph,
        base_dir: PathBuf,
        dir: RunDir,
        vars: IndexMap<String, Value>,
        dry_run: bool,
    ) -> RunContext {
        let tree = Tree::take(&mut plan);
        RunContext {
            confined: plan_compiler::check::confine::root(&base_dir),
            tree,
            plan,
            graph,
            base_dir,
            dir,
            vars,
            outputs: RwLock::new(Outputs::default()),
            dry_run,
            secret_env: std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .filter(|k| plan_compiler::resolve::secret::looks_secret(k))
                .collect(),
            given_secrets: std::collections::BTreeMap::new(),
            repo: None,
            publish: plan_compiler::graph::Publish::default(),
            hold: None,
            cache: None,
            cache_root: None,
            keys: RwLock::new(HashMap::new()),
        }
    }

    /// `owner/name` for GitHub calls: the issue's repository, else `origin`'s.
    pub fn github_repo(&self) -> Option<String> {
        self.plan
            .issue
            .as_ref()
            .and_then(|i| i.repo.clone())
            .or_else(|| self.repo.as_ref().and_then(|r| crate::git::origin_repo(&r.root)))
    }

    /// The output of agent `id` as docs/format.md defines it.
    pub fn output_of(&self, id: &str) -> Option<Value> {
        let meta = self.tree.get(id)?;
        self.composite_output(id, meta)
    }

    fn composite_output(&self, id: &str, meta: AgentMeta<'_>) -> Option<Value> {
        let parent = meta.parent();
        let copies = |prefix: &str| -> Option<Value> {
            if let Some(v) = self.node_output(&format!("{prefix}[*]")) {
                return Some(v);
            }
            let mut out = Vec::new();
            while let Some(v) = self.node_output(&format!("{prefix}[{}]", out.len())) {
                out.push(v);
            }
            let expected = self
                .graph
                .graph
                .node_weights()
                .filter(|u| u.agent() == prefix && u.id.starts_with(&format!("{prefix}[")))
                .count();
            (expected > 0 && out.len() == expected).then_some(Value::Array(out))
        };
        let is_map_agent = parent.and_then(|p| p.place.map.as_deref()).is_some_and(|(m, _, _)| m == id);
        let is_replica = parent
            .is_some_and(|p| p.replicas.is_some() && p.children().len() == 1 && p.pattern == Pattern::ScatterGather);
        if is_map_agent || is_replica {
            return copies(id);
        }
        if !meta.has_children {
            return self.node_output(id);
        }
        let last = match meta.pattern {
            Pattern::Pipeline | Pattern::Saga => meta.children().next_back().and_then(|c| self.output_of_strict(c)),
            Pattern::ForkJoin => match meta.join() {
                Some(j) => self.output_of_strict(j),
                None => {
                    let mut map = serde_json::Map::new();
                    for c in meta.children() {
                        map.insert(c.to_string(), self.output_of_strict(c)?);
                    }
                    Some(Value::Object(map))
                }
            },
            Pattern::Mapreduce => match (meta.reduce(), meta.map.as_deref()) {
                (Some(r), _) => self.output_of_strict(r),
                (None, Some((m, _, _))) => self.output_of_strict(m),
                _ => None,
            },
            Pattern::ScatterGather => match meta.gather() {
                Some(g) => self.output_of_strict(g),
                None => self.node_output(&format!("{id}.gather")),
            },
        };
        // Before its children finish, an agent's own work is its output (decompose).
        last.or_else(|| self.node_output(id))
    }

    fn output_of_strict(&self, id: &str) -> Option<Value> {
        self.tree.get(id).and_then(|m| self.composite_output(id, m))
    }
}

impl RunContext {
    /// The unit at `node`.
    pub fn unit(&self, node: NodeIndex) -> &Unit {
        &self.graph.graph[node]
    }

    /// The agent a unit belongs to.
    /// Agent `meta` resolved (`plan_compiler::resolve`): what it does and its policies.
    /// Lint has resolved every agent before a run, so an error here means the plan
    /// skipped lint.
    pub fn step<'a>(&'a self, meta: &AgentMeta<'a>) -> Result<Step<'a>, PrepareError> {
        plan_compiler::resolve::step(&self.plan, meta.agent).map_err(PrepareError::Unresolved)
    }

    pub fn meta_of(&self, node: NodeIndex) -> Option<AgentMeta<'_>> {
        self.tree.get(self.unit(node).agent())
    }

    pub fn node_count(&self) -> usize {
        self.graph.graph.node_count()
    }

    pub fn nodes(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.graph.node_indices()
    }

    /// What `node` waits for (edges point from a node to what depends on it).
    pub fn predecessors(&self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.graph.edges_directed(node, Direction::Incoming).map(|e| e.source())
    }

    /// What waits for `node`.
    pub fn successors(&self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.graph.neighbors_directed(node, Direction::Outgoing)
    }

    /// The secret variables an agent must not see: all but those it passes by name
    /// (`pass_env`, its CLI's own key) or sets itself.
    pub fn withheld_env(&self, pass: &[&str], set: &std::collections::BTreeMap<String, String>) -> Vec<String> {
        self.secret_env
            .iter()
            .chain(self.given_secrets.keys())
            .filter(|k| !pass.contains(&k.as_str()) && !set.contains_key(*k))
            .cloned()
            .collect()
    }

    /// What node (or copy) `id` was given, as text for its cache key: the keys (where
    /// they had one) and outputs of the nodes it depends on.
    pub fn inputs_of(&self, id: &str) -> Vec<String> {
        let base = id.split('[').next().unwrap_or(id);
        let Some(ix) = self.graph.node(base) else { return Vec::new() };
        let mut inputs: Vec<String> = self
            .predecessors(ix)
            .map(|p| {
                let id = &self.unit(p).id;
                let key = self.keys.read().ok().and_then(|k| k.get(id).cloned()).unwrap_or_default();
                let output = self.node_output(id).unwrap_or(Value::Null);
                format!("{key} {}", crate::engine::cache::output_text(id, &output))
            })
            .collect();
        inputs.sort();
        inputs
    }

    /// Records the step-cache key node (or copy) `id` ran under.
    pub fn set_key(&self, id: String, key: String) {
        if let Ok(mut keys) = self.keys.write() {
            keys.insert(id, key);
        }
    }

    /// Stores the output of node (or run-time copy) `id`.
    pub fn set_output(&self, id: String, value: Value) {
        let Ok(mut outputs) = self.outputs.write() else { return };
        match self.graph.node(&id) {
            Some(ix) => {
                if outputs.nodes.len() <= ix.index() {
                    outputs.nodes.resize(self.graph.graph.node_count().max(ix.index() + 1), Stored::Nothing);
                }
                outputs.nodes[ix.index()] = Stored::of(value);
            }
            None => {
                outputs.copies.insert(id, value);
            }
        }
    }

    /// The output of node (or run-time copy) `id` itself.
    pub fn node_output(&self, id: &str) -> Option<Value> {
        let outputs = self.outputs.read().ok()?;
        match self.graph.node(id) {
            Some(ix) => outputs.nodes.get(ix.index())?.get(),
            None => outputs.copies.get(id).cloned(),
        }
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext").field("run_id", &self.dir.id).finish_non_exhaustive()
    }
}
