//! Templates at run time: one minijinja environment (loader rooted at the plan's
//! directory and `prompts/`), the context each node sees, and `outputs.<id>` resolved
//! lazily from what has finished. Issue text is passed as data, never compiled.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use indexmap::IndexMap;
use minijinja::value::{Object, Serde, Value as MjValue};
use minijinja::Environment;
use plan_compiler::graph::PlanGraph;
use plan_schema::{Pattern, Plan};
use serde_json::Value;

use crate::consensus::Vote;
use crate::tree::{AgentMeta, Tree};

/// Everything about a run that templates may read.
pub struct Shared {
    pub plan: Plan,
    pub graph: PlanGraph,
    pub tree: Tree,
    pub base_dir: PathBuf,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub vars: IndexMap<String, Value>,
    /// Outputs of finished nodes, by node id.
    pub outputs: RwLock<HashMap<String, Value>>,
    /// Render placeholders for outputs that do not exist yet (`--dry-run`).
    pub dry_run: bool,
    /// The git repository, when the run uses git (checked before it started).
    pub repo: Option<crate::git::Repo>,
}

impl Shared {
    pub fn new(
        plan: Plan,
        graph: PlanGraph,
        base_dir: PathBuf,
        run_id: String,
        run_dir: &Path,
        vars: IndexMap<String, Value>,
        dry_run: bool,
    ) -> Shared {
        Shared {
            tree: Tree::new(&plan),
            plan,
            graph,
            base_dir,
            run_id,
            run_dir: run_dir.to_path_buf(),
            vars,
            outputs: RwLock::new(HashMap::new()),
            dry_run,
            repo: None,
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

    fn node_output(&self, node: &str) -> Option<Value> {
        self.outputs.read().ok()?.get(node).cloned()
    }

    /// The output of agent `id` as PLAN-FORMAT.md defines it.
    pub fn output_of(&self, id: &str) -> Option<Value> {
        let meta = self.tree.get(id)?;
        self.composite_output(id, meta)
    }

    fn composite_output(&self, id: &str, meta: &AgentMeta) -> Option<Value> {
        let parent = meta.parent.as_deref().and_then(|p| self.tree.get(p));
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
                .filter(|u| u.agent == prefix && u.id.starts_with(&format!("{prefix}[")))
                .count();
            (expected > 0 && out.len() == expected).then_some(Value::Array(out))
        };
        let is_map_agent = parent.and_then(|p| p.map.as_ref()).is_some_and(|(m, _, _)| m == id);
        let is_replica = parent
            .is_some_and(|p| p.replicas.is_some() && p.children.len() == 1 && p.pattern == Pattern::ScatterGather);
        if is_map_agent || is_replica {
            return copies(id);
        }
        if !meta.has_children {
            return self.node_output(id);
        }
        let last = match meta.pattern {
            Pattern::Pipeline | Pattern::Saga => meta.children.last().and_then(|c| self.output_of_strict(c)),
            Pattern::ForkJoin => match &meta.join {
                Some(j) => self.output_of_strict(j),
                None => {
                    let mut map = serde_json::Map::new();
                    for c in &meta.children {
                        map.insert(c.clone(), self.output_of_strict(c)?);
                    }
                    Some(Value::Object(map))
                }
            },
            Pattern::Mapreduce => match (&meta.reduce, &meta.map) {
                (Some(r), _) => self.output_of_strict(r),
                (None, Some((m, _, _))) => self.output_of_strict(m),
                _ => None,
            },
            Pattern::ScatterGather => match &meta.gather {
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

/// A serde value as a template value.
pub fn mj<T: serde::Serialize>(value: T) -> MjValue {
    MjValue::from(Serde(value))
}

/// `outputs` in templates: looks agents up when a template asks.
#[derive(Debug)]
struct OutputsView(Arc<Shared>);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("run_id", &self.run_id).finish_non_exhaustive()
    }
}

impl Object for OutputsView {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let id = key.as_str()?;
        if self.0.dry_run {
            return self.0.tree.get(id).map(|_| MjValue::from_object(Placeholder(format!("outputs.{id}"))));
        }
        self.0.output_of(id).map(|v| mj(&v))
    }
}

/// `--dry-run` stand-in for an output that does not exist yet: any attribute of it is
/// another placeholder, and it renders as `<outputs.id.attr>`.
#[derive(Debug)]
struct Placeholder(String);

impl Object for Placeholder {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        Some(MjValue::from_object(Placeholder(format!("{}.{key}", self.0))))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// Renders templates for the nodes of one run.
pub struct Renderer {
    env: Environment<'static>,
    pub shared: Arc<Shared>,
    base: BTreeMap<String, MjValue>,
}

/// What varies between attempts and copies of a node.
#[derive(Default)]
pub struct NodeVars<'a> {
    pub attempt: u32,
    pub last_error: &'a str,
    pub item: Option<&'a Value>,
    pub consensus: Option<&'a Vote>,
}

impl Renderer {
    pub fn new(shared: Arc<Shared>) -> Renderer {
        let mut env = plan_compiler::template_env::environment();
        let roots = template_roots(&shared.base_dir);
        env.set_loader(move |name| {
            for root in &roots {
                let path = root.join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("cannot read {}: {e}", path.display()),
                        )
                    });
                }
            }
            Ok(None)
        });
        let plan = &shared.plan;
        let mut base = BTreeMap::new();
        base.insert("issue".into(), mj(plan.issue.clone().unwrap_or_default()));
        base.insert("vars".into(), mj(&shared.vars));
        base.insert(
            "plan".into(),
            mj(serde_json::json!({
                "name": plan.name,
                "complexity": plan.complexity.as_str(),
                "pattern": plan_compiler::agents::pattern_of(&plan.agent).as_str(),
            })),
        );
        base.insert(
            "run".into(),
            mj(serde_json::json!({ "id": shared.run_id, "dir": shared.run_dir.display().to_string() })),
        );
        Renderer { env, shared, base }
    }

    /// The context of agent `meta` for one attempt.
    pub fn context(&self, meta: &AgentMeta, vars: &NodeVars) -> MjValue {
        let mut ctx = self.base.clone();
        let a = &meta.agent;
        ctx.insert(
            "agent".into(),
            mj(serde_json::json!({ "id": a.id, "role": a.role, "depth": meta.depth, "parent": meta.parent })),
        );
        ctx.insert("with".into(), mj(&a.with));
        ctx.insert("outputs".into(), MjValue::from_object(OutputsView(self.shared.clone())));
        ctx.insert("attempt".into(), MjValue::from(vars.attempt.max(1)));
        ctx.insert("last_error".into(), MjValue::from(vars.last_error));
        if let Some(item) = vars.item {
            let var = meta
                .parent
                .as_deref()
                .and_then(|p| self.shared.tree.get(p))
                .and_then(|p| p.map.as_ref())
                .map_or("item", |(_, _, var)| var.as_str());
            ctx.insert(var.to_string(), mj(item));
        }
        if let Some(vote) = vars.consensus {
            ctx.insert("consensus".into(), mj(vote));
        }
        MjValue::from(ctx)
    }

    /// The context of commit and pull request templates: `issue`, `vars`, `plan`,
    /// `run`, the run `report` and `agents` (id, status, duration).
    pub fn git_context(&self, report: &crate::report::Report) -> MjValue {
        let mut ctx = self.base.clone();
        ctx.insert("report".into(), mj(report));
        let agents: Vec<serde_json::Value> = report
            .agents
            .iter()
            .map(|(id, a)| serde_json::json!({ "id": id, "status": a.status, "duration": a.duration, "attempts": a.attempts }))
            .collect();
        ctx.insert("agents".into(), mj(agents));
        MjValue::from(ctx)
    }

    pub fn render_str(&self, source: &str, ctx: &MjValue) -> Result<String, String> {
        if !source.contains('{') {
            return Ok(source.to_string());
        }
        self.env.render_str(source, ctx).map_err(|e| describe(&e))
    }

    pub fn render_file(&self, name: &str, ctx: &MjValue) -> Result<String, String> {
        let template = self.env.get_template(name).map_err(|e| describe(&e))?;
        template.render(ctx).map_err(|e| describe(&e))
    }
}

/// The plan's directory, its `prompts/`, and `prompts/` of the working directory.
fn template_roots(base: &Path) -> Vec<PathBuf> {
    let mut roots = vec![base.to_path_buf(), base.join("prompts")];
    if let Some(parent) = base.parent() {
        roots.push(parent.join("prompts"));
    }
    roots.push(PathBuf::from("prompts"));
    roots
}

fn describe(e: &minijinja::Error) -> String {
    let mut msg = format!("template error: {}", e.detail().map_or_else(|| e.kind().to_string(), str::to_string));
    if let (Some(name), Some(line)) = (e.name(), e.line()) {
        if !name.starts_with('<') {
            msg.push_str(&format!(" ({name}:{line})"));
        }
    }
    msg
}
