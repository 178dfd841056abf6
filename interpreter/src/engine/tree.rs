//! The agent tree as the interpreter needs it at run time: each agent's own settings
//! (without its subtree) and the ids of the agents around it, owned and shareable.
//!
//! The tree takes the agents out of the plan rather than copying them, and keeps
//! each list of children in the vector it was read into: a plan of 100,000 agents is
//! held once, in place. What stays in `Plan::agent` is the root's own fields (its id,
//! pattern and settings), without children.

use rustc_hash::FxHashMap;

use plan_compiler::agents::pattern_of;
use plan_schema::{Agent, Over, Pattern, Plan};

/// An agent's place in the tree.
#[derive(Clone, Debug)]
pub struct Place {
    /// Where the agent is: `groups[group][slot]`.
    group: u32,
    slot: u32,
    pub depth: usize,
    pub parent: Option<String>,
    pub pattern: Pattern,
    pub has_children: bool,
    pub children: Vec<String>,
    pub join: Option<String>,
    pub reduce: Option<String>,
    /// Map agent id, what it maps over, and the item variable.
    pub map: Option<Box<(String, Over, String)>>,
    pub gather: Option<String>,
    pub replicas: Option<u32>,
}

/// One agent and its place in the tree.
#[derive(Clone, Copy, Debug)]
pub struct AgentMeta<'a> {
    /// The agent's own fields; its children are only named in its place.
    pub agent: &'a Agent,
    pub place: &'a Place,
}

impl std::ops::Deref for AgentMeta<'_> {
    type Target = Place;
    fn deref(&self) -> &Place {
        self.place
    }
}

/// Every agent by id.
#[derive(Debug, Default)]
pub struct Tree {
    /// Lists of agents as the plan held them (children of one agent, or a single
    /// `join`, `reduce`, map or gather agent), their subtrees taken out.
    groups: Vec<Vec<Agent>>,
    places: Vec<Place>,
    index: FxHashMap<String, u32>,
    /// The root agent's id.
    pub root: String,
}

impl Tree {
    /// Moves the agents of `plan` into the tree, leaving the root's own fields in
    /// `plan.agent`.
    pub fn take(plan: &mut Plan) -> Self {
        let root = std::mem::take(&mut plan.agent);
        let n = count(&root);
        let mut tree = Tree {
            root: root.id.clone(),
            groups: vec![vec![root]],
            places: Vec::with_capacity(n),
            index: FxHashMap::with_capacity_and_hasher(n, Default::default()),
        };
        // Depth first, children in order, as `AgentIndex` walks them; the first of a
        // duplicated id wins (lint refuses duplicates).
        let mut stack: Vec<(u32, u32, usize, Option<String>)> = vec![(0, 0, 0, None)];
        while let Some((group, slot, depth, parent)) = stack.pop() {
            let a = &mut tree.groups[group as usize][slot as usize];
            let pattern = pattern_of(a);
            let has_children = a.has_children();
            let agents = std::mem::take(&mut a.agents);
            let map = a.map.take().map(|m| *m);
            let join = a.join.take().map(|j| *j);
            let reduce = a.reduce.take().map(|r| *r);
            let gather = a.gather.take().and_then(|g| g.agent);
            let id = a.id.clone();
            let place = Place {
                group,
                slot,
                depth,
                parent,
                pattern,
                has_children,
                children: agents.iter().map(|c| c.id.clone()).collect(),
                join: join.as_ref().map(|j| j.id.clone()),
                reduce: reduce.as_ref().map(|r| r.id.clone()),
                map: map.as_ref().map(|m| Box::new((m.agent.id.clone(), m.over.clone(), m.var.clone()))),
                gather: gather.as_ref().map(|g| g.id.clone()),
                replicas: a.replicas,
            };
            let mut kids: Vec<(u32, u32)> = Vec::new();
            if !agents.is_empty() {
                let g = tree.groups.len() as u32;
                kids.extend((0..agents.len() as u32).map(|s| (g, s)));
                tree.groups.push(agents);
            }
            for single in [map.map(|m| m.agent), join, reduce, gather].into_iter().flatten() {
                kids.push((tree.groups.len() as u32, 0));
                tree.groups.push(vec![single]);
            }
            stack.extend(kids.into_iter().rev().map(|(g, s)| (g, s, depth + 1, Some(id.clone()))));
            let at = tree.places.len() as u32;
            tree.places.push(place);
            tree.index.entry(id).or_insert(at);
        }
        plan.agent = tree.groups[0][0].clone();
        tree
    }

    pub fn get(&self, id: &str) -> Option<AgentMeta<'_>> {
        let place = &self.places[*self.index.get(id)? as usize];
        Some(AgentMeta { agent: &self.groups[place.group as usize][place.slot as usize], place })
    }

    /// The root agent's pattern.
    pub fn root_pattern(&self) -> Pattern {
        self.get(&self.root).map_or(Pattern::Pipeline, |m| m.pattern)
    }
}

/// How many agents `a` and its subtree hold.
fn count(a: &Agent) -> usize {
    let mut n = 0;
    let mut stack = vec![a];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_every_agent_once_and_keeps_the_root() {
        let yaml = r#"
version: 1
name: t
complexity: moderate
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: a, run: "echo a" }
    - id: m
      map: { over: [1, 2], agent: { id: item, run: "echo {{ item }}" } }
      reduce: { id: sum, run: "echo sum" }
  join: { id: j, uses: noop }
"#;
        let mut plan: Plan = serde_yaml::from_str(yaml).unwrap();
        let tree = Tree::take(&mut plan);
        let mut ids: Vec<&str> = tree.index.keys().map(String::as_str).collect();
        ids.sort();
        assert_eq!(ids, ["a", "item", "j", "m", "primary", "sum"]);
        assert_eq!(plan.agent.id, "primary");
        assert!(plan.agent.agents.is_empty() && plan.agent.join.is_none());
        assert_eq!(tree.root_pattern(), Pattern::ForkJoin);
        let m = tree.get("m").unwrap();
        assert_eq!((m.pattern, m.map.as_deref().map(|x| x.0.as_str())), (Pattern::Mapreduce, Some("item")));
        assert_eq!((m.reduce.as_deref(), m.parent.as_deref(), m.depth), (Some("sum"), Some("primary"), 1));
        assert_eq!(tree.get("item").unwrap().depth, 2);
        assert_eq!(tree.get("primary").unwrap().children, ["a", "m"]);
        assert_eq!(tree.get("primary").unwrap().join.as_deref(), Some("j"));
    }
}
