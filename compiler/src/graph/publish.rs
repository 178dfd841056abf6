//! Publishing steps: what `plan run --commit/--pr` (and `git.approve`) adds to the
//! DAG after every agent, as ordinary nodes.

use petgraph::graph::NodeIndex;
use petgraph::Direction;
use plan_schema::Plan;
use serde::Serialize;

use super::{EdgeKind, PlanGraph, Unit, UnitKind};

/// What `plan run` publishes once every agent has succeeded: `--commit` (a branch, a
/// commit, a push), `--pr` (and a pull request), `--draft`. Recorded with the run, so
/// that a resumed run builds the same graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Publish {
    #[serde(default)]
    pub commit: bool,
    #[serde(default)]
    pub pr: bool,
    #[serde(default)]
    pub draft: bool,
}

impl Publish {
    pub fn any(self) -> bool {
        self.commit || self.pr
    }
}

/// One publishing step. Their node ids hold a dot, which no agent id can: they never
/// clash with an agent's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublishStep {
    /// `git.approve`: a person approves the diff before anything leaves the machine.
    Approve,
    /// A branch and a commit of the agents' changes.
    Commit,
    /// The branch pushed to `origin`.
    Push,
    /// A pull request of the branch.
    PullRequest,
}

impl PublishStep {
    /// The step's node id.
    pub fn id(self) -> &'static str {
        match self {
            PublishStep::Approve => "git.approve",
            PublishStep::Commit => "git.commit",
            PublishStep::Push => "git.push",
            PublishStep::PullRequest => "github.pr",
        }
    }

    /// The step whose node id is `id`.
    pub fn of_id(id: &str) -> Option<PublishStep> {
        [PublishStep::Approve, PublishStep::Commit, PublishStep::Push, PublishStep::PullRequest]
            .into_iter()
            .find(|s| s.id() == id)
    }

    /// The steps `publish` adds for `plan`, in order.
    pub fn of(plan: &Plan, publish: Publish) -> Vec<PublishStep> {
        if !publish.any() {
            return Vec::new();
        }
        let approve = plan.git.as_ref().is_some_and(|g| g.approve);
        let mut steps: Vec<PublishStep> = Vec::with_capacity(4);
        if approve {
            steps.push(PublishStep::Approve);
        }
        steps.extend([PublishStep::Commit, PublishStep::Push]);
        if publish.pr {
            steps.push(PublishStep::PullRequest);
        }
        steps
    }
}

/// The node id of the hold before a plan named `name` (`plan run --hold`): `review.`
/// and the name as a slug, so that the gate says which plan it holds.
pub fn hold_id(name: &str) -> String {
    let slug = crate::check::template_env::slug(name);
    let slug: String = slug.chars().take(48).collect();
    format!("review.{}", if slug.is_empty() { "plan" } else { slug.trim_end_matches('-') })
}

impl PlanGraph {
    /// Puts a gate with node id `id` before every node there is: nothing runs
    /// until a person approves it.
    pub fn hold(&mut self, id: String) {
        let sources: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|&ix| self.graph.neighbors_directed(ix, Direction::Incoming).next().is_none())
            .collect();
        let unit = Unit { id, kind: UnitKind::Hold, parents: std::sync::Arc::from(Vec::new()) };
        let ix = self.add(unit);
        for s in sources {
            self.graph.add_edge(ix, s, EdgeKind::Order);
        }
    }

    /// Adds the publishing steps of `publish` after every node there is: ordinary
    /// steps of the DAG, run, shown and resumed like any other.
    pub fn publish(&mut self, plan: &Plan, publish: Publish) {
        let steps = PublishStep::of(plan, publish);
        if steps.is_empty() {
            return;
        }
        let sinks: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|&ix| self.graph.neighbors_directed(ix, Direction::Outgoing).next().is_none())
            .collect();
        let parents: std::sync::Arc<[String]> = std::sync::Arc::from(Vec::new());
        let mut before = sinks;
        for step in steps {
            let unit = Unit { id: step.id().to_string(), kind: UnitKind::Publish { step }, parents: parents.clone() };
            let ix = self.add(unit);
            for &b in &before {
                self.graph.add_edge(b, ix, EdgeKind::Order);
            }
            before = vec![ix];
        }
    }
}
