//! The agent tree sized for the tier: one agent for atomic and simple issues; children
//! from the issue's work items (or the pattern's usual steps) for moderate and
//! complex ones; depth 2 for enterprise, with a saga where rollback was asked for.
//! Issue text goes into `issue` and `with.task` as data; prompts are templates in
//! `prompts/`.

use indexmap::IndexMap;
use plan_schema::{
    Agent, AgentCli, Backoff, Budget, Command, Complexity, Consensus, Defaults, Duration, Gather, Git, Issue, MapSpec,
    Over, Pattern, Plan, PullRequest, Retry, Workspace,
};
use serde_json::Value;

use super::classify::Classification;
use super::enterprise::{enterprise_groups, mapped};
use super::source::IssueText;
use super::{named, steps};
use crate::check::template_env::slug;

/// Template files as the generated plan names them (relative to the plan file).
#[derive(Clone, Debug)]
pub struct TemplatePaths {
    /// For agents with `with.task`.
    pub task: String,
    /// For map copies, which see `item`.
    pub item: String,
    pub commit: String,
    pub pr: String,
}

pub struct Generated {
    pub plan: Plan,
    pub text: String,
}

struct Ids(Vec<String>);

impl Ids {
    /// A unique agent id from free text.
    fn claim(&mut self, text: &str) -> String {
        let mut base: String = slug(text).replace('-', "_").chars().take(32).collect();
        base = base.trim_end_matches('_').to_string();
        if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
            base = format!("task_{base}");
        }
        let mut id = base.clone();
        let mut n = 2;
        while self.0.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.0.push(id.clone());
        id
    }
}

fn task_agent(ids: &mut Ids, task: &str, templates: &TemplatePaths) -> Agent {
    let mut with = IndexMap::new();
    with.insert("task".to_string(), Value::String(task.to_string()));
    Agent {
        id: ids.claim(task),
        role: Some(task.chars().take(120).collect::<String>().into()),
        prompt_file: Some(templates.task.as_str().into()),
        with: Some(Box::new(with)),
        ..Agent::default()
    }
}

fn stash(id: &str) -> Command {
    Command::Argv(
        ["git", "stash", "push", "--include-untracked", "--message", &format!("plan: rolled back {id}")]
            .map(String::from)
            .to_vec(),
    )
}

/// Children for a tier of depth 1 with `pattern`, from `items`.
fn one_level(
    ids: &mut Ids,
    parent: &mut Agent,
    pattern: Pattern,
    items: &[String],
    tier: Complexity,
    t: &TemplatePaths,
) {
    parent.pattern = Some(pattern);
    match pattern {
        Pattern::Mapreduce => {
            let mut map_ids = Ids(ids.0.clone());
            let agent = Agent {
                id: map_ids.claim("work_item"),
                role: Some("Do one work item of the issue".into()),
                prompt_file: Some(t.item.as_str().into()),
                ..Agent::default()
            };
            ids.0 = map_ids.0;
            parent.map = Some(Box::new(MapSpec {
                over: Over::List(items.iter().map(|i| Value::String(i.clone())).collect()),
                var: "item".into(),
                agent,
            }));
            parent.reduce = Some(Box::new(task_agent(ids, "Combine the results and run the whole test suite", t)));
        }
        Pattern::ScatterGather => {
            let replicas = if tier >= Complexity::Complex { 5 } else { 3 };
            parent.replicas = Some(replicas);
            parent.agents = vec![task_agent(ids, "Propose a complete solution to the issue", t)];
            parent.gather = Some(Box::new(Gather {
                consensus: Consensus::Majority,
                agent: Some(task_agent(ids, "Compare the proposals and apply the one most agree on", t)),
            }));
        }
        Pattern::Saga | Pattern::Pipeline => one_level_plain(ids, parent, pattern, items, None, t),
        Pattern::ForkJoin => fork_join(ids, parent, items, t),
    }
}

/// A fork-join's items that check the others' work ("Check that it works in ...") run
/// in its join, after the work, not beside it.
fn fork_join(ids: &mut Ids, parent: &mut Agent, items: &[String], t: &TemplatePaths) {
    let (checks, work): (Vec<String>, Vec<String>) = items.iter().cloned().partition(|i| steps::is_check(i));
    if checks.is_empty() || work.len() < 2 {
        let pattern = if checks.is_empty() { Pattern::ForkJoin } else { Pattern::Pipeline };
        let ordered: Vec<String> = work.into_iter().chain(checks).collect();
        return one_level_plain(ids, parent, pattern, &ordered, Some(INTEGRATE), t);
    }
    let join = format!("{INTEGRATE}; then: {}", checks.join("; "));
    one_level_plain(ids, parent, Pattern::ForkJoin, &work, Some(&join), t);
}

const INTEGRATE: &str = "Integrate the work of the other agents and run the tests";

/// One child per item under `pattern` (a pipeline, saga or fork-join).
/// A fork-join's children are joined by `join`.
fn one_level_plain(
    ids: &mut Ids,
    parent: &mut Agent,
    pattern: Pattern,
    items: &[String],
    join: Option<&str>,
    t: &TemplatePaths,
) {
    parent.pattern = Some(pattern);
    parent.agents = items
        .iter()
        .map(|i| {
            let mut a = task_agent(ids, i, t);
            if pattern == Pattern::Saga {
                a.compensate = Some(Box::new(stash(&a.id)));
            }
            a
        })
        .collect();
    if let (Pattern::ForkJoin, Some(join)) = (pattern, join) {
        parent.join = Some(Box::new(task_agent(ids, join, t)));
    }
}

/// Agents that write code side by side (children of fork-join and scatter-gather, and
/// the map agent) each get a git worktree of their own.
fn isolate_parallel_writers(agent: &mut Agent) {
    let parallel = matches!(agent.pattern, Some(Pattern::ForkJoin | Pattern::ScatterGather));
    for child in &mut agent.agents {
        if parallel && (child.prompt.is_some() || child.prompt_file.is_some()) {
            child.workspace = Some(Workspace::Worktree);
        }
        isolate_parallel_writers(child);
    }
    if let Some(map) = agent.map.as_mut() {
        if map.agent.prompt.is_some() || map.agent.prompt_file.is_some() {
            map.agent.workspace = Some(Workspace::Worktree);
        }
    }
}

/// Builds the plan for `issue` as classified.
pub fn generate(issue: &IssueText, c: &Classification, t: &TemplatePaths, runner: AgentCli) -> Plan {
    let mut ids = Ids(Vec::new());
    let title = if issue.title.is_empty() { "the issue" } else { issue.title.as_str() };
    let mut primary = Agent { id: "primary".into(), role: Some(title.chars().take(120).collect()), ..Agent::default() };
    ids.0.push("primary".into());
    match c.complexity {
        Complexity::Atomic | Complexity::Simple => {
            let mut a = task_agent(&mut ids, title, t);
            a.id = "implement".into();
            primary = a;
        }
        Complexity::Moderate | Complexity::Complex => {
            let max = if c.complexity == Complexity::Moderate { 5 } else { 15 };
            let derived = if c.items.len() < 2 && c.complexity == Complexity::Complex {
                steps::derived(&named::subject(&issue.title))
            } else {
                None
            };
            if c.pattern == Pattern::ScatterGather {
                // Independent proposals, then the one most agree on: asked for in words.
                one_level(&mut ids, &mut primary, Pattern::ScatterGather, &[], c.complexity, t);
            } else if c.items.len() >= 2 {
                // More items than agents the tier holds: every one still done, as the
                // copies of one map (none dropped).
                let (pattern, items) = if c.items.len() > max {
                    (Pattern::Mapreduce, c.items.clone())
                } else {
                    // Items the text orders run in that order (a saga keeps its rollback).
                    match steps::in_order(&c.items, &issue.title, c.pattern) {
                        Some(ordered) if c.pattern == Pattern::Saga => (Pattern::Saga, ordered),
                        Some(ordered) => (Pattern::Pipeline, ordered),
                        None => (c.pattern, c.items.clone()),
                    }
                };
                // Work the issue says the items depend on comes first, then the items.
                let first = steps::prerequisite(&issue.body)
                    .filter(|_| matches!(pattern, Pattern::ForkJoin | Pattern::Mapreduce));
                if let Some(first) = first {
                    primary.pattern = Some(Pattern::Pipeline);
                    let before = task_agent(&mut ids, &first, t);
                    let role = "The work items, once that is done";
                    let mut group = Agent { id: ids.claim("work_items"), role: Some(role.into()), ..Agent::default() };
                    one_level(&mut ids, &mut group, pattern, &items, c.complexity, t);
                    primary.agents = vec![before, group];
                } else {
                    one_level(&mut ids, &mut primary, pattern, &items, c.complexity, t);
                }
            } else if let Some(steps) = derived {
                one_level(&mut ids, &mut primary, Pattern::Pipeline, &steps, c.complexity, t);
            } else {
                // No independent items, no named move: one agent, given the whole
                // issue and the tier's time.
                let mut a = task_agent(&mut ids, title, t);
                a.id = "implement".into();
                primary = a;
            }
        }
        Complexity::Enterprise => {
            let rollback = c.pattern == Pattern::Saga;
            primary.pattern = Some(if rollback { Pattern::Saga } else { Pattern::Pipeline });
            let inner = if c.pattern == Pattern::Saga { Pattern::ForkJoin } else { c.pattern };
            let groups = enterprise_groups(issue, c, inner);
            // Each group of up to 5 items is 6 agents; past the cap, the items run as
            // the copies of one map.
            let agents: usize = groups.iter().map(|(_, items, _)| items.len() + 2).sum();
            let groups = if agents > c.max_agents { mapped(groups) } else { groups };
            for (name, items, pattern) in groups {
                // A group of one step is that step.
                if let ([item], Pattern::Pipeline | Pattern::ForkJoin | Pattern::Saga) = (items.as_slice(), pattern) {
                    let mut a = task_agent(&mut ids, item, t);
                    if rollback {
                        a.compensate = Some(Box::new(stash(&a.id)));
                    }
                    primary.agents.push(a);
                    continue;
                }
                let mut group = Agent { id: ids.claim(&name), role: Some(name.as_str().into()), ..Agent::default() };
                let mut items = items;
                // Replicas are agents; a map's copies are not.
                if pattern == Pattern::ScatterGather {
                    items.truncate(15);
                }
                one_level(&mut ids, &mut group, pattern, &items, Complexity::Complex, t);
                if rollback {
                    group.compensate = Some(Box::new(stash(&group.id)));
                }
                primary.agents.push(group);
            }
        }
    }
    isolate_parallel_writers(&mut primary);
    let number = issue.number;
    let name = match number {
        Some(n) => format!("issue-{n}-{}", slug(title).chars().take(40).collect::<String>().trim_end_matches('-')),
        None => slug(title).chars().take(48).collect::<String>().trim_end_matches('-').to_string(),
    };
    Plan {
        version: 1,
        name: if name.is_empty() { "plan".into() } else { name },
        issue: Some(Issue {
            number,
            repo: issue.repo.clone(),
            title: issue.title.clone(),
            url: issue.url.clone(),
            labels: issue.labels.clone(),
            body: issue.body.clone(),
        }),
        complexity: c.complexity,
        vars: IndexMap::new(),
        prices: IndexMap::new(),
        defaults: Some(Defaults {
            timeout: Some(Duration::from_millis(tier_minutes(c.complexity) * 60_000)),
            retry: Some(Retry {
                attempts: 2,
                backoff: Backoff::Exponential,
                delay: Duration::from_millis(30_000),
                max_delay: Some(Duration::from_millis(300_000)),
                jitter: true,
            }),
            runner: Some(runner.as_str().into()),
            env: IndexMap::new(),
            workspace: None,
            image: None,
            pass_env: Vec::new(),
            sandbox: None,
            cache: None,
            gateway: None,
            accept: None,
            network: None,
            resources: None,
        }),
        concurrency: Some(4),
        runners: IndexMap::new(),
        // Written out so that it is visible and editable.
        budget: Some(Budget {
            cost_usd: Some(Budget::DEFAULT_COST_USD),
            tokens: None,
            turns: Some(Budget::DEFAULT_TURNS),
        }),
        limits: None,
        agent: primary,
        git: Some(default_git(number, Some(t.commit.clone()), Some(t.pr.clone()))),
        merge: None,
    }
}

/// Each agent's time by the tier: one agent given a whole moderate or complex issue
/// gets the time its size needs, not an atomic fix's.
fn tier_minutes(tier: Complexity) -> u64 {
    match tier {
        Complexity::Atomic | Complexity::Simple => 30,
        Complexity::Moderate => 60,
        Complexity::Complex | Complexity::Enterprise => 120,
    }
}

/// The `git` settings `plan new` writes: a branch and a pull-request title made from
/// the issue, the commit message and pull-request body from template files.
pub fn default_git(number: Option<u64>, commit_file: Option<String>, body_file: Option<String>) -> Git {
    let (branch, title) = match number {
        Some(_) => {
            ("plan/issue-{{ issue.number }}-{{ issue.title | slug }}", "{{ issue.title }} (#{{ issue.number }})")
        }
        None => ("plan/{{ issue.title | slug }}", "{{ issue.title }}"),
    };
    Git {
        branch: Some(branch.into()),
        commit: None,
        commit_file,
        approve: false,
        pr: Some(PullRequest { title: Some(title.into()), body: None, body_file, base: None, draft: false }),
    }
}

/// The tier and the shape of `plan` as written: `Tier `moderate` and pattern
/// `fork-join` (3 agents)` or `Tier `simple`, one agent`.
pub fn shape(plan: &Plan) -> String {
    match top_pattern(plan) {
        Some(pattern) => format!("Tier `{}` and pattern `{pattern}`", plan.complexity),
        None => format!("Tier `{}`, one agent", plan.complexity),
    }
}

/// The pattern of the plan's top level; `None` for a single agent.
pub fn top_pattern(plan: &Plan) -> Option<Pattern> {
    plan.agent.has_children().then(|| crate::load::agents::pattern_of(&plan.agent))
}

/// The plan as YAML, with the schema modeline and why this tier and pattern.
pub fn render_plan(plan: &Plan, c: &Classification, schema_path: &str) -> Result<String, String> {
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    let mut out = format!("# yaml-language-server: $schema={schema_path}\n");
    let source = match (&plan.issue.as_ref().and_then(|i| i.number), plan.issue.as_ref().and_then(|i| i.url.as_ref())) {
        (Some(n), Some(url)) => format!("issue #{n} ({})", one_line(url)),
        (Some(n), None) => format!("issue #{n}"),
        _ => "an issue".into(),
    };
    out.push_str(&format!("# Generated by `plan new` from {source}.\n"));
    out.push_str(&format!("# {}, because:\n", shape(plan)));
    for r in &c.reasons {
        out.push_str(&format!("#   - {}\n", one_line(r)));
    }
    out.push_str("# Adjust anything below; `plan lint` checks it and `plan run --dry-run` shows what it will do.\n");
    out.push_str(&serde_yaml::to_string(plan).map_err(|e| e.to_string())?);
    Ok(out)
}
