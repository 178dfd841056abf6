//! The agent tree as the interpreter needs it at run time: each agent's own settings
//! (without its subtree) and the ids of the agents around it, owned and shareable.
//!
//! The tree takes the agents out of the plan rather than copying them, and keeps
//! each list of children in the vector it was read into: a plan of 100,000 agents is
//! held once, in place. What stays in `Plan::agent` is the root's own fields (its id,
//! pattern and settings), without children.

use hashbrown::hash_table::{Entry, HashTable};

use plan_compiler::graph::id_hash;
use plan_compiler::load::agents::pattern_of;
use plan_schema::{Agent, Over, Pattern, Plan};

/// An agent's place in the tree: where it is and what is around it, as indices (a
/// plan of 100,000 agents holds no second copy of their ids).
#[derive(Clone, Debug)]
pub struct Place {
    /// Where the agent is: `groups[group][slot]`.
    group: u32,
    slot: u32,
    pub depth: usize,
    /// The parent's place.
    parent: Link,
    pub pattern: Pattern,
    pub has_children: bool,
    /// The group that holds the children, and those of the single join, reduce and
    /// gather agents.
    children: Link,
    join: Link,
    reduce: Link,
    gather: Link,
    /// Map agent id, what it maps over, and the item variable.
    pub map: Option<Box<(String, Over, String)>>,
    pub replicas: Option<u32>,
}

/// An index that may be absent, in four bytes (`Option<u32>` takes eight, and a plan
/// of 100,000 agents has five of them per agent).
#[derive(Clone, Copy, Debug)]
struct Link(u32);

impl Link {
    const NONE: Link = Link(u32::MAX);

    fn get(self) -> Option<u32> {
        (self.0 != u32::MAX).then_some(self.0)
    }
}

impl From<Option<u32>> for Link {
    fn from(n: Option<u32>) -> Link {
        n.map_or(Link::NONE, Link)
    }
}

/// One agent and its place in the tree.
#[derive(Clone, Copy, Debug)]
pub struct AgentMeta<'a> {
    /// The agent's own fields; its children are only named in its place.
    pub agent: &'a Agent,
    pub place: &'a Place,
    tree: &'a Tree,
}

impl std::ops::Deref for AgentMeta<'_> {
    type Target = Place;
    fn deref(&self) -> &Place {
        self.place
    }
}

impl<'a> AgentMeta<'a> {
    /// The parent agent.
    pub fn parent(&self) -> Option<AgentMeta<'a>> {
        self.tree.at(self.place.parent.get()? as usize)
    }

    /// The parent agent's id.
    pub fn parent_id(&self) -> Option<&'a str> {
        self.parent().map(|p| p.agent.id.as_str())
    }

    /// The ids of the children, in order.
    pub fn children(&self) -> impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator + 'a {
        let group: &'a [Agent] = self.place.children.get().map_or(&[], |g| &self.tree.groups[g as usize]);
        group.iter().map(|a| a.id.as_str())
    }

    fn single(&self, group: Link) -> Option<&'a str> {
        Some(self.tree.groups[group.get()? as usize].first()?.id.as_str())
    }

    /// The id of the fork-join's join agent.
    pub fn join(&self) -> Option<&'a str> {
        self.single(self.place.join)
    }

    /// The id of the mapreduce's reduce agent.
    pub fn reduce(&self) -> Option<&'a str> {
        self.single(self.place.reduce)
    }

    /// The id of the scatter-gather's gather agent.
    pub fn gather(&self) -> Option<&'a str> {
        self.single(self.place.gather)
    }
}

/// Every agent by id.
#[derive(Debug, Default)]
pub struct Tree {
    /// Lists of agents as the plan held them (children of one agent, or a single
    /// `join`, `reduce`, map or gather agent), their subtrees taken out.
    groups: Vec<Vec<Agent>>,
    places: Vec<Place>,
    /// Places by agent id, found by hashing the id the agent holds (not a copy of it).
    index: HashTable<u32>,
    /// The root agent's id.
    pub root: String,
}

impl Tree {
    /// Moves the agents of `plan` into the tree, leaving the root's own fields in
    /// `plan.agent`.
    pub fn take(plan: &mut Plan) -> Self {
        let root = std::mem::take(&mut plan.agent);
        let n = plan_compiler::load::agents::count(&root);
        let mut tree = Tree {
            root: root.id.clone(),
            groups: vec![vec![root]],
            places: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        };
        // Depth first, children in order, as `AgentIndex` walks them; the first of a
        // duplicated id wins (lint refuses duplicates).
        let mut stack: Vec<(u32, u32, usize, Option<u32>)> = vec![(0, 0, 0, None)];
        while let Some((group, slot, depth, parent)) = stack.pop() {
            let a = &mut tree.groups[group as usize][slot as usize];
            let pattern = pattern_of(a);
            let has_children = a.has_children();
            let agents = std::mem::take(&mut a.agents);
            let map = a.map.take().map(|m| *m);
            let join = a.join.take().map(|j| *j);
            let reduce = a.reduce.take().map(|r| *r);
            let gather = a.gather.take().and_then(|g| g.agent);
            let replicas = a.replicas;
            let at = tree.places.len() as u32;
            let mut place = Place {
                group,
                slot,
                depth,
                parent: parent.into(),
                pattern,
                has_children,
                children: Link::NONE,
                join: Link::NONE,
                reduce: Link::NONE,
                gather: Link::NONE,
                map: map.as_ref().map(|m| Box::new((m.agent.id.clone(), m.over.clone(), m.var.clone()))),
                replicas,
            };
            let mut kids: Vec<(u32, u32)> = Vec::new();
            if !agents.is_empty() {
                let g = tree.groups.len() as u32;
                place.children = Link(g);
                kids.extend((0..agents.len() as u32).map(|s| (g, s)));
                tree.groups.push(agents);
            }
            // The single map, join, reduce and gather agents: a group each, in this order.
            let mut single = |agent: Agent| {
                let g = tree.groups.len() as u32;
                kids.push((g, 0));
                tree.groups.push(vec![agent]);
                g
            };
            if let Some(m) = map {
                single(m.agent);
            }
            place.join = join.map(&mut single).into();
            place.reduce = reduce.map(&mut single).into();
            place.gather = gather.map(&mut single).into();
            stack.extend(kids.into_iter().rev().map(|(g, s)| (g, s, depth + 1, Some(at))));
            tree.places.push(place);
            let Tree { groups, places, index, .. } = &mut tree;
            let id_at = |n: u32| {
                let p = &places[n as usize];
                groups[p.group as usize][p.slot as usize].id.as_str()
            };
            let id = id_at(at);
            if let Entry::Vacant(free) = index.entry(id_hash(id), |&n| id_at(n) == id, |&n| id_hash(id_at(n))) {
                free.insert(at);
            }
        }
        plan.agent = tree.groups[0][0].clone();
        tree
    }

    pub fn get(&self, id: &str) -> Option<AgentMeta<'_>> {
        let n = self.index.find(id_hash(id), |&n| self.at(n as usize).is_some_and(|m| m.agent.id == id))?;
        self.at(*n as usize)
    }

    /// The agent at place `n`.
    fn at(&self, n: usize) -> Option<AgentMeta<'_>> {
        let place = self.places.get(n)?;
        Some(AgentMeta { agent: &self.groups[place.group as usize][place.slot as usize], place, tree: self })
    }

    /// The root agent's pattern.
    pub fn root_pattern(&self) -> Pattern {
        self.get(&self.root).map_or(Pattern::Pipeline, |m| m.pattern)
    }
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
        let mut ids: Vec<&str> = tree.index.iter().map(|&n| tree.at(n as usize).unwrap().agent.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a", "item", "j", "m", "primary", "sum"]);
        assert_eq!(plan.agent.id, "primary");
        assert!(plan.agent.agents.is_empty() && plan.agent.join.is_none());
        assert_eq!(tree.root_pattern(), Pattern::ForkJoin);
        let m = tree.get("m").unwrap();
        assert_eq!((m.pattern, m.map.as_deref().map(|x| x.0.as_str())), (Pattern::Mapreduce, Some("item")));
        assert_eq!((m.reduce(), m.parent_id(), m.depth), (Some("sum"), Some("primary"), 1));
        assert_eq!(tree.get("item").unwrap().depth, 2);
        assert_eq!(tree.get("primary").unwrap().children().collect::<Vec<_>>(), ["a", "m"]);
        assert_eq!(tree.get("primary").unwrap().join(), Some("j"));
        assert_eq!(tree.get("item").unwrap().parent_id(), Some("m"));
    }
}
