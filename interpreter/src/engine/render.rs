//! Templates at run time: one minijinja environment (loader rooted at the plan's
//! directory and `prompts/`), the context each node sees, and `outputs.<id>` resolved
//! lazily from what has finished. Issue text is passed as data, never compiled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Object, Serde, Value as MjValue};
use minijinja::Environment;
use serde_json::Value;

use crate::engine::consensus::Vote;
use crate::engine::context::RunContext;
use crate::engine::tree::AgentMeta;

/// A serde value as a template value.
pub fn mj<T: serde::Serialize>(value: T) -> MjValue {
    MjValue::from(Serde(value))
}

/// `outputs` in templates: looks agents up when a template asks.
#[derive(Debug)]
struct OutputsView(Arc<RunContext>);

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
    pub run: Arc<RunContext>,
    base: BTreeMap<String, MjValue>,
}

/// What varies between attempts and copies of a node.
#[derive(Default)]
pub struct NodeVars<'a> {
    pub attempt: u32,
    pub last_error: &'a str,
    pub item: Option<&'a Value>,
    pub consensus: Option<&'a Vote>,
    /// The node or copy id (`agent`, `agent[3]`): names its files.
    pub node_id: &'a str,
    /// A coding agent's session from the attempt before, to continue.
    pub session: Option<&'a str>,
    /// Dollars the budgets leave for this attempt, when one limits them.
    pub cost_left: Option<f64>,
    /// A coding agent's way through the model gateway, for this attempt.
    pub gateway: Option<&'a crate::engine::gateway::Pass>,
    /// A candidate of `best_of`: its index (from 0).
    pub candidate: Option<usize>,
}

impl Renderer {
    pub fn new(run: Arc<RunContext>) -> Renderer {
        let mut env = plan_compiler::check::template_env::environment();
        // A template that loops without end fails its agent instead of hanging the run.
        env.set_fuel(Some(plan_schema::Limits::template_fuel(run.plan.limits.as_ref())));
        let roots = template_roots(&run.base_dir);
        let confined = run.confined.clone();
        env.set_loader(move |name| {
            for root in &roots {
                let path = root.join(name);
                // Templates come from inside the repository only.
                if !plan_compiler::check::confine::inside(&confined, root, Path::new(name)) {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("template `{name}` is outside the repository ({})", confined.display()),
                    ));
                }
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
        let plan = &run.plan;
        let mut base = BTreeMap::new();
        base.insert("issue".into(), mj(plan.issue.clone().unwrap_or_default()));
        base.insert("vars".into(), mj(&run.vars));
        base.insert(
            "plan".into(),
            mj(serde_json::json!({
                "name": plan.name,
                "complexity": plan.complexity.as_str(),
                "pattern": run.tree.root_pattern().as_str(),
            })),
        );
        base.insert(
            "run".into(),
            mj(serde_json::json!({ "id": run.dir.id, "dir": run.dir.root.display().to_string() })),
        );
        Renderer { env, run, base }
    }

    /// The context of agent `meta` for one attempt.
    pub fn context(&self, meta: AgentMeta<'_>, vars: &NodeVars) -> MjValue {
        let mut ctx = self.base.clone();
        let a = &meta.agent;
        ctx.insert(
            "agent".into(),
            mj(serde_json::json!({ "id": a.id, "role": a.role, "depth": meta.depth, "parent": meta.parent_id() })),
        );
        ctx.insert("with".into(), mj(a.with()));
        ctx.insert("outputs".into(), MjValue::from_object(OutputsView(self.run.clone())));
        ctx.insert("attempt".into(), MjValue::from(vars.attempt.max(1)));
        ctx.insert("last_error".into(), MjValue::from(vars.last_error));
        // Which of `best_of` candidates this is, from 1 (1 for an agent without any).
        ctx.insert("candidate".into(), MjValue::from(vars.candidate.map_or(1, |c| c + 1)));
        if let Some(item) = vars.item {
            let var = meta.parent().and_then(|p| p.place.map.as_deref()).map_or("item", |(_, _, var)| var.as_str());
            ctx.insert(var.to_string(), mj(item));
        }
        if let Some(vote) = vars.consensus {
            ctx.insert("consensus".into(), mj(vote));
        }
        MjValue::from(ctx)
    }

    /// The context of commit and pull request templates: `issue`, `vars`, `plan`,
    /// `run`, the run `report` and `agents` (id, status, duration).
    pub fn git_context(&self, report: &crate::store::report::Report) -> MjValue {
        let mut ctx = self.base.clone();
        ctx.insert("report".into(), mj(report));
        let agents: Vec<serde_json::Value> = report
            .agents
            .0
            .iter()
            .map(|a| serde_json::json!({ "id": a.id, "status": a.state.as_str(), "duration": crate::store::metrics::human_duration(a.duration), "attempts": a.attempts }))
            .collect();
        ctx.insert("agents".into(), mj(agents));
        MjValue::from(ctx)
    }

    pub fn render_str(&self, source: &str, ctx: &MjValue) -> Result<String, TemplateError> {
        if !source.contains('{') {
            return Ok(source.to_string());
        }
        self.env.render_str(source, ctx).map_err(TemplateError::from)
    }

    pub fn render_file(&self, name: &str, ctx: &MjValue) -> Result<String, TemplateError> {
        let template = self.env.get_template(name).map_err(TemplateError::from)?;
        template.render(ctx).map_err(TemplateError::from)
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

/// A template that does not render: what minijinja said, and where.
#[derive(Debug, thiserror::Error)]
#[error("template error: {detail}{at}")]
pub struct TemplateError {
    pub detail: String,
    /// ` (file:line)` for templates read from files, else empty.
    at: String,
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        let detail = if e.kind() == minijinja::ErrorKind::OutOfFuel {
            "the template does more work than `limits.template_fuel` allows (an endless or huge loop?)".to_string()
        } else {
            e.detail().map_or_else(|| e.kind().to_string(), str::to_string)
        };
        let at = match (e.name(), e.line()) {
            (Some(name), Some(line)) if !name.starts_with('<') => format!(" ({name}:{line})"),
            _ => String::new(),
        };
        TemplateError { detail, at }
    }
}
