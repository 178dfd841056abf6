//! The agent tree as the interpreter needs it at run time: each agent's own settings
//! (without its subtree) and the ids of the agents around it, owned and shareable.

use std::collections::HashMap;

use plan_compiler::agents::{pattern_of, AgentIndex};
use plan_schema::{Agent, Over, Pattern, Plan};

/// One agent and its place in the tree.
#[derive(Clone, Debug)]
pub struct AgentMeta {
    /// The agent's own fields; its children are only named below.
    pub agent: Agent,
    pub depth: usize,
    pub parent: Option<String>,
    pub pattern: Pattern,
    pub has_children: bool,
    pub children: Vec<String>,
    pub join: Option<String>,
    pub reduce: Option<String>,
    /// Map agent id, what it maps over, and the item variable.
    pub map: Option<(String, Over, String)>,
    pub gather: Option<String>,
    pub replicas: Option<u32>,
}

/// Every agent by id.
#[derive(Debug, Default)]
pub struct Tree {
    pub agents: HashMap<String, AgentMeta>,
}

impl Tree {
    pub fn new(plan: &Plan) -> Self {
        let index = AgentIndex::new(plan);
        let mut agents = HashMap::with_capacity(index.len());
        for a in index.iter() {
            let src = a.agent;
            let shallow = src.clone_shallow();
            agents.entry(src.id.clone()).or_insert(AgentMeta {
                agent: shallow,
                depth: a.depth,
                parent: a.parent.map(|p| p.id.clone()),
                pattern: pattern_of(src),
                has_children: src.has_children(),
                children: src.agents.iter().map(|c| c.id.clone()).collect(),
                join: src.join.as_ref().map(|j| j.id.clone()),
                reduce: src.reduce.as_ref().map(|r| r.id.clone()),
                map: src.map.as_ref().map(|m| (m.agent.id.clone(), m.over.clone(), m.var.clone())),
                gather: src.gather.as_ref().and_then(|g| g.agent.as_ref()).map(|g| g.id.clone()),
                replicas: src.replicas,
            });
        }
        Tree { agents }
    }

    pub fn get(&self, id: &str) -> Option<&AgentMeta> {
        self.agents.get(id)
    }
}

/// Cloning an agent without copying its subtree.
trait CloneShallow {
    fn clone_shallow(&self) -> Agent;
}

impl CloneShallow for Agent {
    fn clone_shallow(&self) -> Agent {
        // Destructured in full, so that a new field of `Agent` cannot be left out here.
        let Agent {
            id,
            role,
            run,
            uses,
            with,
            prompt,
            prompt_file,
            runner,
            needs,
            timeout,
            retry,
            env,
            workdir,
            workspace,
            budget,
            expect,
            pass_env,
            compensate,
            pattern,
            agents: _,
            join: _,
            map: _,
            reduce: _,
            gather: _,
            replicas,
        } = self;
        Agent {
            id: id.clone(),
            role: role.clone(),
            run: run.clone(),
            uses: uses.clone(),
            with: with.clone(),
            prompt: prompt.clone(),
            prompt_file: prompt_file.clone(),
            runner: runner.clone(),
            needs: needs.clone(),
            timeout: *timeout,
            retry: retry.clone(),
            env: env.clone(),
            workdir: workdir.clone(),
            workspace: *workspace,
            budget: budget.clone(),
            expect: *expect,
            pass_env: pass_env.clone(),
            compensate: compensate.clone(),
            pattern: *pattern,
            replicas: *replicas,
            ..Agent::default()
        }
    }
}
