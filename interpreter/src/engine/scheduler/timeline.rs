//! Where a run's wall time went. The chain of nodes that decided when the run ended
//! is walked back from the last node to finish: each node waited for the result
//! handled just before it started (a dependency, or the node that freed its
//! concurrency slot). Along that chain, time is the agents' (their processes' lives),
//! the kernel's (starting processes, for this agent or any other), or the
//! scheduler's: the coordination overhead.

use std::time::{Duration, Instant};

/// No node: the chain starts at the run's start.
const NONE: u32 = u32::MAX;
/// Not finished (or restored from the journal, with no time in this run).
const UNKNOWN: u64 = u64::MAX;
/// Process starts held unmerged before they are merged into spans.
const MERGE_EVERY: usize = 4096;

/// What the scheduler notes as the run goes, in microseconds since the run started.
#[derive(Clone)]
pub(super) struct Timeline {
    origin: Instant,
    /// When each node finished.
    finished: Vec<u64>,
    /// The node whose result was handled last before each node was dispatched.
    after: Vec<u32>,
    last_handled: u32,
    /// Spans in which the kernel was starting a process; merged now and then.
    starts: Vec<(u64, u64)>,
    merged: usize,
}

/// The wall time beyond the agents' own: the kernel's and the scheduler's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Time on the deciding chain in which processes were being started.
    pub process_start: Duration,
    /// Time on the deciding chain in which neither an agent of it nor the kernel
    /// starting a process was at work: preparing, handing over, recording results.
    pub coordination: Duration,
}

impl Timeline {
    pub(super) fn new(nodes: usize) -> Self {
        Timeline {
            origin: Instant::now(),
            finished: vec![UNKNOWN; nodes],
            after: vec![NONE; nodes],
            last_handled: NONE,
            starts: Vec::new(),
            merged: 0,
        }
    }

    /// When the run started.
    pub(super) fn origin(&self) -> Instant {
        self.origin
    }

    /// The run starts now; times count from here.
    pub(super) fn begin(&mut self) -> Instant {
        self.origin = Instant::now();
        self.origin
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_micros()).unwrap_or(UNKNOWN - 1)
    }

    /// A node is dispatched (the first time): it waited for the last result handled.
    pub(super) fn dispatched(&mut self, node: usize) {
        if let Some(a) = self.after.get_mut(node) {
            if *a == NONE {
                *a = self.last_handled;
            }
        }
    }

    /// A node's result was handled at `at`.
    pub(super) fn finished(&mut self, node: usize, at: Instant) {
        let t = self.micros(at);
        if let Some(f) = self.finished.get_mut(node) {
            *f = t;
            self.last_handled = u32::try_from(node).unwrap_or(NONE);
        }
    }

    /// The kernel started a process from `at`, taking `took`.
    pub(super) fn process_started(&mut self, at: Instant, took: Duration) {
        let from = self.micros(at);
        let to = from.saturating_add(u64::try_from(took.as_micros()).unwrap_or(0));
        self.starts.push((from, to));
        if self.starts.len() - self.merged >= MERGE_EVERY {
            merge(&mut self.starts);
            self.merged = self.starts.len();
        }
    }

    /// The split of `wall`, given when each node's own time began.
    pub(super) fn split(mut self, wall: Duration, started: impl Fn(usize) -> Option<Instant>) -> Split {
        merge(&mut self.starts);
        let wall = u64::try_from(wall.as_micros()).unwrap_or(UNKNOWN - 1);
        let last = (0..self.finished.len()).filter(|&n| self.finished[n] != UNKNOWN).max_by_key(|&n| self.finished[n]);
        let mut gaps = Vec::new();
        let mut end = wall;
        let mut node = last.map_or(NONE, |n| n as u32);
        // Each step goes to a node handled earlier, so the walk ends; the bound is a guard.
        for _ in 0..=self.finished.len() {
            if node == NONE {
                gaps.push((0, end));
                break;
            }
            let n = node as usize;
            let finish = self.finished[n];
            if finish == UNKNOWN {
                break;
            }
            gaps.push((finish.min(end), end));
            let start = started(n).map_or(finish, |at| self.micros(at)).min(finish);
            end = start.min(end);
            node = self.after[n];
        }
        let gap: u64 = gaps.iter().map(|(a, b)| b.saturating_sub(*a)).sum();
        let covered: u64 = gaps.iter().map(|&(a, b)| overlap(&self.starts, a, b)).sum();
        Split {
            process_start: Duration::from_micros(covered),
            coordination: Duration::from_micros(gap.saturating_sub(covered)),
        }
    }
}

/// Sorts spans and joins those that overlap or touch.
fn merge(spans: &mut Vec<(u64, u64)>) {
    spans.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for &(a, b) in spans.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *spans = out;
}

/// How much of `[from, to)` the sorted, disjoint spans cover.
fn overlap(spans: &[(u64, u64)], from: u64, to: u64) -> u64 {
    let first = spans.partition_point(|s| s.1 <= from);
    spans[first..].iter().take_while(|s| s.0 < to).map(|&(a, b)| b.min(to).saturating_sub(a.max(from))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A timeline with nodes that ran `(start, finish, after)` milliseconds after its origin.
    fn timeline(nodes: &[(u64, u64, u32)]) -> (Timeline, Vec<Instant>) {
        let mut t = Timeline::new(nodes.len());
        let mut starts = Vec::new();
        for (n, &(start, finish, after)) in nodes.iter().enumerate() {
            t.finished[n] = finish * 1000;
            t.after[n] = after;
            starts.push(t.origin + ms(start));
        }
        (t, starts)
    }

    #[test]
    fn a_chain_with_gaps_between_its_agents_counts_the_gaps() {
        // a: 1-11, b waits for a: 13-23; the run ends at 24.
        let (t, starts) = timeline(&[(1, 11, NONE), (13, 23, 0)]);
        let split = t.split(ms(24), |n| Some(starts[n]));
        assert_eq!(split, Split { process_start: ms(0), coordination: ms(4) });
    }

    #[test]
    fn process_starts_on_the_chain_are_the_kernels() {
        // 100 processes started one after another over 50 ms; the last ends the run.
        let (mut t, starts) = timeline(&[(0, 100, NONE), (50, 150, NONE)]);
        for i in 0..100 {
            t.process_started(t.origin + Duration::from_micros(i * 500), Duration::from_micros(450));
        }
        let split = t.split(ms(151), |n| Some(starts[n]));
        // 0-50 ms: 100 starts of 0.45 ms; the 50 µs between them and the last 1 ms are the scheduler's.
        assert_eq!(split.process_start, Duration::from_micros(45_000));
        assert_eq!(split.coordination, Duration::from_micros(5_000 + 1_000));
    }

    #[test]
    fn a_node_waits_for_the_result_that_released_it() {
        let mut t = Timeline::new(3);
        let origin = t.begin();
        t.dispatched(0);
        t.finished(0, origin + ms(10));
        t.dispatched(1);
        t.dispatched(2);
        t.finished(2, origin + ms(12));
        t.dispatched(1);
        assert_eq!(t.after, vec![NONE, 0, 0], "a second dispatch (a retry) keeps the first");
        t.finished(1, origin + ms(30));
        // 0 ran 0-10 and 1 ran 15-30: the chain 0 -> 1 lost 10-15 to coordination.
        let starts = [ms(0), ms(15), ms(11)];
        let split = t.split(ms(30), |n| Some(origin + starts[n]));
        assert_eq!(split, Split { process_start: ms(0), coordination: ms(5) });
    }

    #[test]
    fn an_empty_run_is_all_coordination() {
        let t = Timeline::new(0);
        assert_eq!(t.split(ms(3), |_| None), Split { process_start: ms(0), coordination: ms(3) });
    }

    #[test]
    fn spans_merge_and_overlap() {
        let mut spans = vec![(5, 8), (1, 3), (2, 4), (8, 9)];
        merge(&mut spans);
        assert_eq!(spans, vec![(1, 4), (5, 9)]);
        assert_eq!(overlap(&spans, 0, 10), 7);
        assert_eq!(overlap(&spans, 3, 6), 2);
        assert_eq!(overlap(&spans, 9, 12), 0);
    }
}
