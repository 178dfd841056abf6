//! How each pattern compiles its children: pipeline and saga in sequence, fork-join
//! with its join, mapreduce with its copies and reduce, scatter-gather with its
//! replicas and vote.

use super::*;

/// Pipeline and saga: one child after another.
pub(super) fn compile_sequence(
    g: &mut PlanGraph,
    agent: &Agent,
    path: &mut Vec<String>,
    glob: GlobExpander<'_>,
) -> Block {
    let mut block = Block::default();
    for child in &agent.agents {
        let b = compile_agent(g, child, path, glob);
        if b.entries.is_empty() {
            continue;
        }
        if block.entries.is_empty() {
            block.entries = b.entries.clone();
        } else {
            g.connect(&block.exits, &b.entries, EdgeKind::Order);
        }
        block.exits = b.exits;
    }
    if agent.pattern == Some(Pattern::Saga) {
        g.sagas.push(Saga { agent: agent.id.clone(), steps: agent.agents.iter().map(|c| c.id.clone()).collect() });
    }
    block
}

/// Fork-join: every child at once, then the join.
pub(super) fn compile_fork_join(
    g: &mut PlanGraph,
    agent: &Agent,
    path: &mut Vec<String>,
    glob: GlobExpander<'_>,
) -> Block {
    let mut block = Block::default();
    for child in &agent.agents {
        let b = compile_agent(g, child, path, glob);
        block.entries.extend(b.entries);
        block.exits.extend(b.exits);
    }
    if let Some(join) = &agent.join {
        let j = compile_as(g, join, path, glob, UnitKind::Join);
        g.connect(&block.exits, &j.entries, EdgeKind::Join);
        block.exits = j.exits;
        if block.entries.is_empty() {
            block.entries = j.entries;
        }
    }
    block
}

/// Mapreduce: a copy of the map agent per item (or one run-time node), then reduce.
pub(super) fn compile_mapreduce(
    g: &mut PlanGraph,
    agent: &Agent,
    path: &mut Vec<String>,
    glob: GlobExpander<'_>,
) -> Block {
    let mut block = Block::default();
    if let Some(map) = &agent.map {
        let items: Option<Vec<Value>> = match &map.over {
            Over::List(items) => Some(items.clone()),
            Over::Glob { glob: pattern } => Some(glob(pattern).into_iter().map(Value::String).collect()),
            Over::LinesOf { .. } | Over::Template(_) => None,
        };
        path.push(map.agent.id.clone());
        let copies: Vec<NodeIndex> = match items {
            Some(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    let id = format!("{}[{index}]", map.agent.id);
                    let u =
                        unit(g, id, UnitKind::MapCopy { index: index as u32, item: Box::new(item) }, &map.agent, path);
                    g.add(u)
                })
                .collect(),
            None => {
                let u = unit(g, format!("{}[*]", map.agent.id), UnitKind::DynamicMap, &map.agent, path);
                vec![g.add(u)]
            }
        };
        path.pop();
        if let Over::LinesOf { lines_of } = &map.over {
            if let Some(src) = g.block(lines_of).map(|b| b.exits.to_vec()) {
                g.connect(&src, &copies, EdgeKind::Data);
            }
        }
        g.set_block(&map.agent.id, &Block { entries: copies.clone(), exits: copies.clone() });
        block = Block { entries: copies.clone(), exits: copies };
    }
    if let Some(reduce) = &agent.reduce {
        let r = compile_as(g, reduce, path, glob, UnitKind::Reduce);
        g.connect(&block.exits, &r.entries, EdgeKind::Data);
        if block.entries.is_empty() {
            block.entries = r.entries.clone();
        }
        block.exits = r.exits;
    }
    block
}

/// Scatter-gather: every child (or replica), then the vote.
pub(super) fn compile_scatter_gather(
    g: &mut PlanGraph,
    agent: &Agent,
    path: &mut Vec<String>,
    glob: GlobExpander<'_>,
) -> Block {
    let mut block = Block::default();
    match (agent.replicas, agent.agents.as_slice()) {
        (Some(n), [only]) => {
            path.push(only.id.clone());
            let copies: Vec<NodeIndex> = (0..(n as usize).min(g.copy_limit))
                .map(|index| {
                    let u =
                        unit(g, format!("{}[{index}]", only.id), UnitKind::Replica { index: index as u32 }, only, path);
                    g.add(u)
                })
                .collect();
            path.pop();
            g.set_block(&only.id, &Block { entries: copies.clone(), exits: copies.clone() });
            block = Block { entries: copies.clone(), exits: copies };
        }
        _ => {
            for child in &agent.agents {
                let b = compile_agent(g, child, path, glob);
                block.entries.extend(b.entries);
                block.exits.extend(b.exits);
            }
        }
    }
    let gather = agent.gather.as_deref();
    let consensus = gather.map(|g| g.consensus).unwrap_or(Consensus::Majority);
    let gather_agent = gather.and_then(|g| g.agent.as_ref());
    let node = match gather_agent {
        Some(ga) => {
            path.push(ga.id.clone());
            let u = unit(g, ga.id.clone(), UnitKind::Gather { consensus, has_agent: true }, ga, path);
            let ix = g.add(u);
            path.pop();
            g.set_block(&ga.id, &Block { entries: vec![ix], exits: vec![ix] });
            ix
        }
        None => {
            let u =
                unit(g, format!("{}.gather", agent.id), UnitKind::Gather { consensus, has_agent: false }, agent, path);
            g.add(u)
        }
    };
    g.connect(&block.exits, &[node], EdgeKind::Join);
    if block.entries.is_empty() {
        block.entries = vec![node];
    }
    block.exits = vec![node];
    block
}
