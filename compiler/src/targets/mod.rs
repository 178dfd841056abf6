//! Back ends for running a plan on more than one machine: the same DAG the
//! interpreter runs becomes an Argo Workflow or a GitHub Actions workflow whose every
//! step runs `plan exec-node` for one node, so that templates, retries (with
//! `last_error`), consensus and outputs behave exactly as locally. Constructs with no
//! faithful mapping get a diagnostic instead of a look-alike.

mod actions;
mod argo;

use std::collections::{BTreeSet, HashMap};

use petgraph::graph::NodeIndex;
use petgraph::Direction;
use plan_schema::{Agent, Plan};
use serde_json::Value;

use crate::check::diagnostic::Diagnostic;
use crate::check::Checked;
use crate::graph::{PlanGraph, UnitKind};
use crate::load::agents::AgentIndex;

pub use actions::to_github_actions;
pub use argo::to_argo;

/// What the back ends need besides the graph.
pub struct Target<'a> {
    pub plan: &'a Plan,
    pub graph: &'a PlanGraph,
    /// The plan file as the engine's checkout or image sees it.
    pub plan_path: String,
    /// Container image for Argo (`--image` or `defaults.image`).
    pub image: Option<String>,
    /// The command that installs `plan` in a GitHub Actions job (`--install`); a
    /// repository variable `PLAN_INSTALL` overrides it.
    pub install: Option<String>,
    checked: &'a Checked,
}

impl<'a> Target<'a> {
    pub fn new(
        checked: &'a Checked,
        graph: &'a PlanGraph,
        plan_path: String,
        image: Option<String>,
        install: Option<String>,
    ) -> Option<Target<'a>> {
        Some(Target { plan: checked.plan()?, graph, plan_path, image, install, checked })
    }

    /// A diagnostic at the value of `pointer` in the plan file.
    pub(crate) fn diagnostic(
        &self,
        pointer: &str,
        warning: bool,
        code: &'static str,
        message: String,
        help: &str,
    ) -> Diagnostic {
        let file = self.checked.loaded.path.display().to_string();
        let span = self.checked.loaded.value_span(pointer);
        let d = if warning {
            Diagnostic::warning(code, &file, span, message)
        } else {
            Diagnostic::error(code, &file, span, message)
        };
        d.help(help)
    }

    pub(crate) fn agents(&self) -> AgentIndex<'a> {
        AgentIndex::new(self.plan)
    }
}

/// A unit of the compiled workflow: a task (Argo) or a job (Actions).
#[derive(Clone, Debug)]
pub(crate) struct Step {
    /// Unique engine-safe name.
    pub name: String,
    /// The node id given to `plan exec-node --node`.
    pub node: String,
    pub kind: StepKind,
    /// Steps whose outputs this one may read (every ancestor), by name.
    pub inputs: Vec<String>,
    /// Steps it waits for directly, by name.
    pub after: Vec<String>,
    /// Total seconds the step may take: attempts x timeout + backoff.
    pub deadline: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StepKind {
    Run,
    /// Prints a run-time map's items.
    Expand,
    /// One run per item of the `Expand` step `expand`.
    Copies {
        expand: String,
    },
    /// Runs saga step `node`'s compensation when a later step failed: `steps` are the
    /// names of the saga's steps from this one on, `comps` the later compensations.
    Compensate {
        steps: Vec<String>,
        comps: Vec<String>,
    },
}

/// Engine-safe, unique step names: lowercase letters, digits and `-`.
#[derive(Default)]
struct Names(HashMap<String, usize>);

impl Names {
    fn name(&mut self, id: &str) -> String {
        let mut s = String::new();
        for c in id.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                s.push(c);
            } else if !s.ends_with('-') {
                s.push('-');
            }
        }
        let mut s = s.trim_matches('-').to_string();
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            s = format!("n-{s}");
        }
        s.truncate(50);
        let n = self.0.entry(s.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            s = format!("{s}-{n}");
        }
        s
    }
}

fn deadline(agent: &Agent, plan: &Plan) -> Option<u64> {
    let step = crate::resolve::step(plan, agent).ok()?;
    let timeout = step.timeout?;
    let retry = step.retry;
    let attempts = retry.as_ref().map_or(1, |r| r.attempts.max(1));
    let mut total = timeout.as_std().as_secs_f64() * f64::from(attempts);
    if let Some(r) = retry {
        let cap = r.max_delay.map_or(f64::MAX, |m| m.as_std().as_secs_f64());
        for n in 1..attempts {
            let base = r.delay.as_std().as_secs_f64();
            let d = match r.backoff {
                plan_schema::Backoff::Fixed => base,
                plan_schema::Backoff::Exponential => base * 2f64.powi(n as i32 - 1),
            };
            total += d.min(cap) * 1.25;
        }
    }
    // Retries can add up to more than any engine waits: saturate, never wrap.
    let secs = total.ceil();
    let secs = if secs.is_finite() && secs < MAX_DEADLINE as f64 { secs as u64 } else { MAX_DEADLINE };
    Some(secs.saturating_add(60).min(MAX_DEADLINE))
}

/// The longest deadline a compiled step gets: 30 days.
pub(crate) const MAX_DEADLINE: u64 = 30 * 24 * 3600;

/// The steps of the workflow, in a topological order, and the diagnostics for what
/// does not map.
pub(crate) fn steps(t: &Target) -> Result<(Vec<Step>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let g = &t.graph.graph;
    let order = t.graph.topo_order().map_err(|_| Vec::new())?;
    let agents = t.agents();
    let mut names = Names::default();
    // `plan` names the DAG template itself.
    names.0.insert("plan".into(), 1);
    let mut diagnostics = Vec::new();
    let mut gates = Vec::new();
    // Each node's step name (for a run-time map: the copies' step, which ends it).
    let mut step_of: HashMap<NodeIndex, String> = HashMap::new();
    let mut steps = Vec::new();
    for &ix in &order {
        let unit = &g[ix];
        let agent = agents.get(unit.agent()).map(|a| a.agent);
        let direct: Vec<String> =
            g.neighbors_directed(ix, Direction::Incoming).filter_map(|p| step_of.get(&p).cloned()).collect();
        let mut ancestors: BTreeSet<NodeIndex> = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = g.neighbors_directed(ix, Direction::Incoming).collect();
        while let Some(n) = stack.pop() {
            if ancestors.insert(n) {
                stack.extend(g.neighbors_directed(n, Direction::Incoming));
            }
        }
        let inputs: Vec<String> = ancestors.iter().filter_map(|a| step_of.get(a).cloned()).collect();
        let deadline = agent.and_then(|a| deadline(a, t.plan));
        if let Some(a) = agent.filter(|a| crate::resolve::step(t.plan, a).is_ok_and(|s| s.is_gate())) {
            let pointer = agents.get(&a.id).map(|r| format!("{}/uses", r.pointer)).unwrap_or_default();
            gates.push(t.diagnostic(
                &pointer,
                false,
                "unfaithful-approval",
                format!("approval gate `{}` waits for `plan approve`, which this engine has no way to send", a.id),
                "use the engine's own gate (Argo `suspend`, a GitHub environment), or run the plan with `plan run`",
            ));
        }
        if let UnitKind::Gather { consensus, .. } = &unit.kind {
            if *consensus == plan_schema::Consensus::First {
                let pointer = agents
                    .get(
                        unit.path()[unit.path().len().saturating_sub(if unit.id.ends_with(".gather") { 1 } else { 2 })],
                    )
                    .map(|a| format!("{}/gather/consensus", a.pointer));
                diagnostics.push(t.diagnostic(
                    &pointer.unwrap_or_default(),
                    true,
                    "unfaithful-consensus",
                    "`first` is decided by declaration order here: the engine does not tell which answer came first".into(),
                    "use `majority`, `unanimous` or `quorum(N)` for the same result on every engine",
                ));
            }
        }
        if unit.kind == UnitKind::DynamicMap {
            let expand = names.name(&format!("{}-items", unit.agent()));
            steps.push(Step {
                name: expand.clone(),
                node: unit.id.clone(),
                kind: StepKind::Expand,
                inputs: inputs.clone(),
                after: direct,
                deadline: Some(600),
            });
            let name = names.name(unit.agent());
            steps.push(Step {
                name: name.clone(),
                node: unit.id.clone(),
                kind: StepKind::Copies { expand: expand.clone() },
                inputs: {
                    let mut i = inputs;
                    i.push(expand.clone());
                    i
                },
                after: vec![expand],
                deadline,
            });
            step_of.insert(ix, name);
            continue;
        }
        let name = names.name(&unit.id);
        steps.push(Step {
            name: name.clone(),
            node: unit.id.clone(),
            kind: StepKind::Run,
            inputs,
            after: direct,
            deadline,
        });
        step_of.insert(ix, name);
    }
    let mut errors = compensation_steps(t, &step_of, &mut steps, &mut names);
    errors.append(&mut gates);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((steps, diagnostics))
}

/// Saga compensation steps, in reverse order of the steps; errors for sagas whose
/// compensation cannot be ordered faithfully.
fn compensation_steps(
    t: &Target,
    step_of: &HashMap<NodeIndex, String>,
    steps: &mut Vec<Step>,
    names: &mut Names,
) -> Vec<Diagnostic> {
    let agents = t.agents();
    let mut errors = Vec::new();
    for saga in &t.graph.sagas {
        let mut step_names = Vec::new();
        for step in &saga.steps {
            let exits = t.graph.block(step).map(|b| b.exits.to_vec()).unwrap_or_default();
            match (exits.as_slice(), agents.get(step)) {
                ([only], Some(a)) if !a.agent.has_children() => step_names.push((
                    step.clone(),
                    step_of.get(only).cloned().unwrap_or_default(),
                    a.agent.compensate.is_some(),
                )),
                (_, Some(a)) => {
                    errors.push(t.diagnostic(
                        &format!("{}/id", a.pointer),
                        false,
                        "unfaithful-saga",
                        format!("saga step `{step}` has children: its compensation cannot be ordered faithfully on this engine"),
                        "make each saga step a single agent (move the children one level down)",
                    ));
                }
                _ => {}
            }
        }
        let mut later_comps: Vec<String> = Vec::new();
        for i in (0..step_names.len()).rev() {
            let (step, _, has_comp) = &step_names[i];
            if !has_comp || i + 1 == step_names.len() {
                continue;
            }
            let name = names.name(&format!("{step}-compensate"));
            let chain: Vec<String> = step_names[i..].iter().map(|(_, n, _)| n.clone()).collect();
            let own = &step_names[i].1;
            let mut inputs: Vec<String> =
                steps.iter().find(|s: &&Step| &s.name == own).map(|s| s.inputs.clone()).unwrap_or_default();
            inputs.push(own.clone());
            steps.push(Step {
                name: name.clone(),
                node: step.clone(),
                kind: StepKind::Compensate { steps: chain.clone(), comps: later_comps.clone() },
                inputs,
                after: chain.into_iter().chain(later_comps.iter().cloned()).collect(),
                deadline: None,
            });
            later_comps.insert(0, name);
        }
    }
    errors
}

/// The item of a YAML document as JSON, for the emitters.
pub(crate) fn yaml_text(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}
