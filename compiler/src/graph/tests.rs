//! Tests of `graph.rs`.

use super::*;
use petgraph::algo::has_path_connecting;
use plan_schema::{Command, Complexity, Gather};
use proptest::prelude::*;

fn leaf(id: String) -> Agent {
    Agent { id, run: Some(Command::Shell("true".into())), ..Agent::default() }
}

/// The shape of one level of a random agent tree: its pattern (every pattern but
/// mapreduce, whose copies the examples cover) and, per child, whether it has
/// children of its own (< 3) or is a leaf.
fn level_shape() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (0u8..4, proptest::collection::vec(0u8..6, 2..5))
}

fn build_agent(next: &mut usize, shape: &[(u8, Vec<u8>)], level: usize) -> Agent {
    *next += 1;
    let id = format!("a{next}");
    let Some((pattern, kids)) = shape.get(level) else {
        return leaf(id);
    };
    let pattern = [Pattern::Pipeline, Pattern::ForkJoin, Pattern::Saga, Pattern::ScatterGather][*pattern as usize];
    let agents = kids
        .iter()
        .map(|k| {
            if *k < 3 {
                build_agent(next, shape, level + 1)
            } else {
                *next += 1;
                leaf(format!("a{next}"))
            }
        })
        .collect();
    let mut agent = Agent { id, pattern: Some(pattern), agents, ..Agent::default() };
    if level.is_multiple_of(2) {
        agent.run = Some(Command::Shell("true".into()));
    }
    if pattern == Pattern::ScatterGather {
        agent.gather = Some(Box::new(Gather { consensus: Consensus::Majority, agent: None }));
    }
    agent
}

fn plan(agent: Agent) -> Plan {
    Plan {
        version: 1,
        name: "p".into(),
        issue: None,
        complexity: Complexity::Complex,
        vars: Default::default(),
        defaults: None,
        concurrency: None,
        runners: Default::default(),
        prices: Default::default(),
        budget: None,
        limits: None,
        agent,
        git: None,
        merge: None,
    }
}

fn ids(agent: &Agent, out: &mut Vec<String>) {
    out.push(agent.id.clone());
    for c in &agent.agents {
        ids(c, out);
    }
}

fn ordered_children(agent: &Agent, out: &mut Vec<Vec<String>>) {
    if matches!(agent.pattern, Some(Pattern::Pipeline | Pattern::Saga)) {
        out.push(agent.agents.iter().map(|c| c.id.clone()).collect());
    }
    for c in &agent.agents {
        ordered_children(c, out);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn compiled_graphs_are_sound(shape in proptest::collection::vec(level_shape(), 1..4)) {
        let mut next = 0;
        let p = plan(build_agent(&mut next, &shape, 0));
        let g = build(&p, &|_: &str| Vec::new());
        let order = g.topo_order();
        prop_assert!(order.is_ok(), "cycle");
        let order = order.unwrap();
        // A topological order honours every edge.
        let mut pos = vec![0; g.graph.node_count()];
        for (i, n) in order.iter().enumerate() {
            pos[n.index()] = i;
        }
        for e in g.graph.edge_references() {
            prop_assert!(pos[e.source().index()] < pos[e.target().index()]);
        }
        // Every agent appears in the hierarchy of some node.
        let mut all = Vec::new();
        ids(&p.agent, &mut all);
        for id in &all {
            prop_assert!(g.graph.node_weights().any(|u| u.path().contains(&id.as_str())), "{id} missing");
        }
        // Pipeline and saga order: each step's exits reach the next step's entries.
        let mut seqs = Vec::new();
        ordered_children(&p.agent, &mut seqs);
        for seq in seqs {
            for pair in seq.windows(2) {
                let (a, b) = (g.block(&pair[0]).unwrap(), g.block(&pair[1]).unwrap());
                for x in a.exits {
                    for y in b.entries {
                        prop_assert!(has_path_connecting(&g.graph, *x, *y, None), "{} !-> {}", pair[0], pair[1]);
                    }
                }
            }
        }
    }
}
