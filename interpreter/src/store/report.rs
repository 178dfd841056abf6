//! The run report (`report.json`, `--json`) in the format of docs/format.md, and the
//! metrics it carries.

use serde::Serialize;

use crate::store::metrics::{human_duration, megabytes, milliseconds, overhead, peak_memory};

#[derive(Clone, Debug)]
pub struct Report {
    pub issue_number: Option<u64>,
    pub status: crate::store::state::RunStatus,
    pub run_id: String,
    pub plan: String,
    pub implementation_summary: Summary,
    pub performance_metrics: Metrics,
    /// The records (in `agents`) that are the run's checks, shown as `validation_results`:
    /// id to passed, failed or not run.
    pub validation_results: Vec<u32>,
    pub failure: Option<Failure>,
    /// Every node: status, attempts, duration.
    pub agents: Agents,
    /// Rounds of feedback on the run's pull request that re-entered a step.
    pub feedback: Vec<crate::store::run_state::Round>,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Report", 10)?;
        out.serialize_field("issue_number", &self.issue_number)?;
        out.serialize_field("status", &self.status)?;
        out.serialize_field("run_id", &self.run_id)?;
        out.serialize_field("plan", &self.plan)?;
        out.serialize_field("implementation_summary", &self.implementation_summary)?;
        out.serialize_field("performance_metrics", &self.performance_metrics)?;
        out.serialize_field("validation_results", &Verdicts(self))?;
        match &self.failure {
            Some(f) => out.serialize_field("failure", f)?,
            None => out.skip_field("failure")?,
        }
        out.serialize_field("agents", &self.agents)?;
        if self.feedback.is_empty() {
            out.skip_field("feedback")?;
        } else {
            out.serialize_field("feedback", &self.feedback)?;
        }
        out.end()
    }
}

/// `validation_results`, written from the records (a run of 100,000 agents checks
/// them all when it has no join, reduce or gather).
struct Verdicts<'a>(&'a Report);

impl Serialize for Verdicts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use crate::store::state::NodeState;
        use serde::ser::SerializeMap;
        let records = &self.0.agents.0;
        let mut map = s.serialize_map(Some(self.0.validation_results.len()))?;
        for r in self.0.validation_results.iter().filter_map(|&i| records.get(i as usize)) {
            let verdict = match r.state {
                NodeState::Succeeded => "passed",
                NodeState::Failed => "failed",
                _ => "not run",
            };
            map.serialize_entry(&r.id, verdict)?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub agents: AgentIds,
    pub commit: Option<String>,
    pub pr_url: Option<String>,
    /// Who let `git.approve` publish, when and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_decision: Option<crate::store::approvals::Decision>,
    /// Whether agents ran sandboxed: `on`, or `unavailable: <why>` (none asked: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// What agents' workspaces of their own were: `copy-on-write` (overlays of the
    /// checkout) or `worktree` (the fallback: a full checkout each).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<&'static str>,
    /// The model gateway, when agents went through it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<crate::store::usage::GatewaySummary>,
    /// The step cache, when it replayed a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSummary>,
    /// What the agents changed, from git (runs in a repository only).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// The files a run changed since it started, as the origin guide's report asks.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Changes {
    pub files_changed: Vec<String>,
    /// Test files the agents added.
    pub tests_added: Vec<String>,
    /// Documentation the agents changed or added.
    pub docs_touched: Vec<String>,
}

impl Changes {
    /// Sorts `(status, path)` pairs from git (`A`, `M`, `D`, `R…`, `?` for untracked).
    pub fn from_status(files: &[(String, String)]) -> Changes {
        let mut c = Changes::default();
        for (status, path) in files {
            c.files_changed.push(path.clone());
            let added = status.starts_with('A') || status.starts_with('?');
            if added && is_test(path) {
                c.tests_added.push(path.clone());
            }
            if !status.starts_with('D') && is_doc(path) {
                c.docs_touched.push(path.clone());
            }
        }
        c
    }
}

fn is_test(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    path.split('/').any(|d| matches!(d, "tests" | "test" | "__tests__" | "spec"))
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_spec")
        || name.contains(".test.")
        || name.contains(".spec.")
}

fn is_doc(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".md", ".rst", ".adoc", ".txt"].iter().any(|e| lower.ends_with(e)) && !is_test(path)
        || lower.split('/').next().is_some_and(|d| d == "docs" || d == "doc")
}

#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub execution_time: String,
    pub critical_path: String,
    /// The scheduler's share of the wall time, as a percentage: on the chain of
    /// agents that decided when the run ended, the time none of them ran and the
    /// kernel was not starting a process.
    pub coordination_overhead: String,
    /// The same overhead in milliseconds: what a short run should be judged by.
    pub coordination_overhead_ms: f64,
    /// On that chain, the time the kernel spent starting processes (this agent's or
    /// others' started just before it), in milliseconds.
    pub process_start_ms: f64,
    /// Peak resident memory of the interpreter itself.
    pub peak_memory: String,
    /// Peak resident memory of the largest agent process.
    pub peak_agent_memory: String,
    pub agents_coordinated: usize,
    /// Tokens the coding agents reported (input + output).
    pub tokens: u64,
    /// Dollars the coding agents reported; null when no CLI reported a cost.
    pub cost_usd: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub agent: String,
    pub error: String,
}

/// Agent ids, shown as a list: held as one text, a line each (a run of 100,000 agents
/// would otherwise hold 100,000 strings for one line of the report each).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentIds(String);

impl AgentIds {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.lines()
    }
}

impl<'a> FromIterator<&'a str> for AgentIds {
    fn from_iter<I: IntoIterator<Item = &'a str>>(ids: I) -> Self {
        let mut text = String::new();
        for id in ids {
            text.push_str(id);
            text.push('\n');
        }
        text.shrink_to_fit();
        AgentIds(text)
    }
}

impl Serialize for AgentIds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

use crate::store::agent_report::cache_summary;
/// Builds the report of a finished run. The records move into it (a run of 100,000
/// agents has as many); `result` keeps the rest.
pub use crate::store::agent_report::{Agents, CacheSummary};

pub fn build(
    plan: &plan_schema::Plan,
    graph: &plan_compiler::graph::PlanGraph,
    run_id: &str,
    result: &mut crate::store::state::RunResult,
) -> Report {
    use crate::store::state::NodeState;
    use plan_compiler::graph::UnitKind;

    let (me, child) = peak_memory();
    // Each agent once, where it first appears: at its own node, or at the first of the
    // nodes that run it (its copies, which follow each other, or a gather's vote).
    let mut previous = "";
    let agents_seen: AgentIds = graph
        .graph
        .node_indices()
        .filter(|&ix| !graph.unit(ix).kind.added())
        .filter_map(|ix| {
            let agent = graph.unit(ix).agent();
            let first = match graph.node(agent) {
                Some(own) => own == ix,
                None => agent != previous,
            };
            previous = agent;
            first.then_some(agent)
        })
        .collect();
    let checks: std::collections::HashSet<&str> = graph
        .graph
        .node_weights()
        .filter(|u| matches!(u.kind, UnitKind::Join | UnitKind::Reduce | UnitKind::Gather { .. }))
        .map(|u| u.id.as_str())
        .collect();
    // One entry per node: a plan of 100,000 agents has that many.
    let records = std::mem::take(&mut result.records);
    // Publishing steps are the run's, not agents.
    let agent = |r: &crate::store::state::Record| plan_compiler::graph::PublishStep::of_id(&r.id).is_none();
    let agents_coordinated =
        records.iter().filter(|r| agent(r) && (r.attempts > 0 || r.state == NodeState::Succeeded)).count();
    // Ids are unique: agent ids (lint refuses duplicates) and copies' `id[n]`.
    let validation_results: Vec<u32> = (0..records.len() as u32)
        .filter(|&i| {
            let r = &records[i as usize];
            let is_check = checks.contains(&*r.id) || (checks.is_empty() && r.state != NodeState::Skipped);
            agent(r) && (is_check || r.state == NodeState::Failed)
        })
        .collect();
    Report {
        issue_number: plan.issue.as_ref().and_then(|i| i.number),
        status: result.status,
        run_id: run_id.into(),
        plan: plan.name.clone(),
        implementation_summary: Summary {
            agents: agents_seen,
            commit: None,
            pr_url: None,
            publish_decision: None,
            changes: None,
            workspaces: result.workspaces,
            gateway: result.gateway.take(),
            cache: cache_summary(&records),
            sandbox: None,
        },
        performance_metrics: Metrics {
            execution_time: human_duration(result.wall),
            critical_path: human_duration(result.critical_path),
            coordination_overhead: overhead(result.wall, result.coordination),
            coordination_overhead_ms: milliseconds(result.coordination),
            process_start_ms: milliseconds(result.process_start),
            peak_memory: megabytes(me),
            peak_agent_memory: megabytes(child),
            agents_coordinated,
            tokens: result.spent.tokens(),
            cost_usd: result.spent.cost_usd,
        },
        validation_results,
        failure: result.failure.as_ref().map(|(agent, error)| Failure { agent: agent.clone(), error: error.clone() }),
        agents: Agents(records),
        feedback: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_are_one_text_shown_as_a_list() {
        let ids: AgentIds = ["a", "b-1", "c_2"].into_iter().collect();
        assert_eq!(ids.iter().collect::<Vec<_>>(), ["a", "b-1", "c_2"]);
        assert_eq!(serde_json::to_string(&ids).unwrap(), r#"["a","b-1","c_2"]"#);
        assert_eq!(serde_json::to_string(&AgentIds::default()).unwrap(), "[]");
    }

    #[test]
    fn changes_sort_tests_and_docs() {
        let files: Vec<(String, String)> = [
            ("M", "src/lib.rs"),
            ("A", "tests/greeting.rs"),
            ("?", "src/parser_test.go"),
            ("M", "tests/old.rs"),
            ("M", "README.md"),
            ("?", "docs/guide/intro.html"),
            ("D", "CHANGES.md"),
        ]
        .iter()
        .map(|(s, p)| (s.to_string(), p.to_string()))
        .collect();
        let c = Changes::from_status(&files);
        assert_eq!(c.files_changed.len(), 7);
        assert_eq!(c.tests_added, ["tests/greeting.rs", "src/parser_test.go"]);
        assert_eq!(c.docs_touched, ["README.md", "docs/guide/intro.html"]);
    }
}
