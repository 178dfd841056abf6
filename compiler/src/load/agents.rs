//! The agent tree flattened: every agent with where it sits (its JSON pointer in the
//! file, its depth, its parent and the slot it fills), in declaration order.
//!
//! A plan of 100,000 agents holds 100,000 entries: each is 24 bytes, and an agent's
//! pointer is written from its parents when asked for, not stored.

use std::fmt;

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
    pub pointer: Pointer<'a>,
    /// 0 for the primary, 1 for its children, ...
    pub depth: usize,
    pub parent: Option<&'a Agent>,
    pub slot: Slot,
}

/// Where an agent stands in the file, written as a JSON pointer by `Display`.
#[derive(Clone, Copy)]
pub struct Pointer<'a> {
    index: &'a AgentIndex<'a>,
    n: u32,
}

impl PartialEq for Pointer<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n
    }
}

impl fmt::Display for Pointer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.index.entries[self.n as usize];
        if e.slot != Slot::Root {
            Pointer { index: self.index, n: e.parent }.fmt(f)?;
        }
        match e.slot {
            Slot::Root => f.write_str("/agent"),
            Slot::Child => write!(f, "/agents/{}", e.position),
            Slot::Map => f.write_str("/map/agent"),
            Slot::Join => f.write_str("/join"),
            Slot::Reduce => f.write_str("/reduce"),
            Slot::Gather => f.write_str("/gather/agent"),
        }
    }
}

impl fmt::Debug for Pointer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

struct Entry<'a> {
    agent: &'a Agent,
    /// The parent's place in `entries` (the root's own).
    parent: u32,
    /// The place among the parent's `agents` (for `Slot::Child`).
    position: u32,
    depth: u32,
    slot: Slot,
}

/// Every agent of a plan, in declaration order (depth first).
pub struct AgentIndex<'a> {
    entries: Vec<Entry<'a>>,
    /// First agent of each id.
    by_id: FxHashMap<&'a str, u32>,
}

impl<'a> AgentIndex<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        let count = count(&plan.agent);
        let mut entries = Vec::with_capacity(count);
        let root = Entry { agent: &plan.agent, parent: 0, position: 0, depth: 0, slot: Slot::Root };
        let mut stack = vec![root];
        while let Some(entry) = stack.pop() {
            let (agent, n, depth) = (entry.agent, entries.len() as u32, entry.depth + 1);
            entries.push(entry);
            let child = |agent, position, slot| Entry { agent, parent: n, position, depth, slot };
            let mut children: Vec<Entry<'a>> =
                agent.agents.iter().enumerate().map(|(i, c)| child(c, i as u32, Slot::Child)).collect();
            children.extend(agent.map.as_ref().map(|m| child(&m.agent, 0, Slot::Map)));
            children.extend(agent.join.as_deref().map(|j| child(j, 0, Slot::Join)));
            children.extend(agent.reduce.as_deref().map(|r| child(r, 0, Slot::Reduce)));
            children.extend(agent.gather.as_ref().and_then(|g| g.agent.as_ref()).map(|g| child(g, 0, Slot::Gather)));
            stack.extend(children.into_iter().rev());
        }
        let mut by_id = FxHashMap::with_capacity_and_hasher(entries.len(), Default::default());
        for (i, e) in entries.iter().enumerate() {
            by_id.entry(e.agent.id.as_str()).or_insert(i as u32);
        }
        AgentIndex { entries, by_id }
    }

    pub fn iter(&self) -> impl Iterator<Item = AgentRef<'_>> + '_ {
        (0..self.entries.len()).filter_map(|n| self.at(n))
    }

    /// The `n`th agent of `iter`.
    pub fn at(&self, n: usize) -> Option<AgentRef<'_>> {
        let e = self.entries.get(n)?;
        let parent = (e.slot != Slot::Root).then(|| self.entries[e.parent as usize].agent);
        Some(AgentRef {
            agent: e.agent,
            pointer: Pointer { index: self, n: n as u32 },
            depth: e.depth as usize,
            parent,
            slot: e.slot,
        })
    }

    pub fn get(&self, id: &str) -> Option<AgentRef<'_>> {
        self.at(*self.by_id.get(id)? as usize)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How many agents the tree under `agent` holds, itself included.
pub fn count(agent: &Agent) -> usize {
    let mut stack = vec![agent];
    let mut n = 0;
    while let Some(a) = stack.pop() {
        n += 1;
        stack.extend(a.agents.iter());
        stack.extend(a.map.as_ref().map(|m| &m.agent));
        stack.extend(a.join.as_deref());
        stack.extend(a.reduce.as_deref());
        stack.extend(a.gather.as_ref().and_then(|g| g.agent.as_ref()));
    }
    n
}

/// The pattern an agent's children follow (children without a pattern run as a pipeline).
pub fn pattern_of(agent: &Agent) -> Pattern {
    agent.pattern.unwrap_or(if agent.map.is_some() { Pattern::Mapreduce } else { Pattern::Pipeline })
}
