//! The agent tree flattened: every agent with where it sits (its JSON pointer in the
//! file, its depth, its parent and the slot it fills), in declaration order.

use rustc_hash::FxHashMap;

use plan_schema::{Agent, Pattern, Plan};

/// Which field of its parent an agent fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Root,
    Child,
    Join,
    Reduce,
    Gather,
    Map,
}

#[derive(Clone, Copy, Debug)]
pub struct AgentRef<'a> {
    pub agent: &'a Agent,
    /// JSON pointer of the agent's mapping in the plan file, e.g. `/agent/agents/1`.
    pub pointer: &'a str,
    /// 0 for the primary, 1 for its children, ...
    pub depth: usize,
    pub parent: Option<&'a Agent>,
    pub slot: Slot,
}

/// Owns the pointers that `AgentRef`s borrow.
pub struct AgentIndex<'a> {
    entries: Vec<(&'a Agent, String, usize, Option<&'a Agent>, Slot)>,
    /// First agent of each id.
    by_id: FxHashMap<&'a str, usize>,
}

impl<'a> AgentIndex<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        let mut entries = Vec::new();
        let mut stack = vec![(&plan.agent, "/agent".to_string(), 0usize, None, Slot::Root)];
        while let Some((agent, pointer, depth, parent, slot)) = stack.pop() {
            let mut children: Vec<(&'a Agent, String, usize, Option<&'a Agent>, Slot)> = Vec::new();
            for (i, child) in agent.agents.iter().enumerate() {
                children.push((child, format!("{pointer}/agents/{i}"), depth + 1, Some(agent), Slot::Child));
            }
            if let Some(map) = &agent.map {
                children.push((&map.agent, format!("{pointer}/map/agent"), depth + 1, Some(agent), Slot::Map));
            }
            if let Some(j) = &agent.join {
                children.push((j, format!("{pointer}/join"), depth + 1, Some(agent), Slot::Join));
            }
            if let Some(r) = &agent.reduce {
                children.push((r, format!("{pointer}/reduce"), depth + 1, Some(agent), Slot::Reduce));
            }
            if let Some(g) = agent.gather.as_ref().and_then(|g| g.agent.as_ref()) {
                children.push((g, format!("{pointer}/gather/agent"), depth + 1, Some(agent), Slot::Gather));
            }
            entries.push((agent, pointer, depth, parent, slot));
            stack.extend(children.into_iter().rev());
        }
        let mut by_id = FxHashMap::with_capacity_and_hasher(entries.len(), Default::default());
        for (i, (agent, ..)) in entries.iter().enumerate() {
            by_id.entry(agent.id.as_str()).or_insert(i);
        }
        AgentIndex { entries, by_id }
    }

    pub fn iter(&self) -> impl Iterator<Item = AgentRef<'_>> + '_ {
        (0..self.entries.len()).filter_map(|n| self.at(n))
    }

    /// The `n`th agent of `iter`.
    pub fn at(&self, n: usize) -> Option<AgentRef<'_>> {
        let (agent, pointer, depth, parent, slot) = self.entries.get(n)?;
        Some(AgentRef { agent, pointer, depth: *depth, parent: *parent, slot: *slot })
    }

    pub fn get(&self, id: &str) -> Option<AgentRef<'_>> {
        self.at(*self.by_id.get(id)?)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The pattern an agent's children follow (children without a pattern run as a pipeline).
pub fn pattern_of(agent: &Agent) -> Pattern {
    agent.pattern.unwrap_or(if agent.map.is_some() { Pattern::Mapreduce } else { Pattern::Pipeline })
}
