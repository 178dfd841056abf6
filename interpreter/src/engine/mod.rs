//! The engine: runs a compiled plan. The scheduler decides *when* a node runs;
//! `prepare` turns a node into work, `render` fills its templates, and an `Executor`
//! (`process`) decides *how* it runs, off the scheduler's loop.

pub(crate) mod accept;
pub(crate) mod actions;
pub(crate) mod agents;
pub(crate) mod approval;
pub(crate) mod best_of;
pub(crate) mod budget;
pub(crate) mod cache;
pub(crate) mod consensus;
pub(crate) mod context;
pub(crate) mod cow;
pub(crate) mod gateway;
pub(crate) mod job;
pub(crate) mod merge;
pub(crate) mod prepare;
pub(crate) mod process;
pub(crate) mod program;
pub(crate) mod publish;
pub(crate) mod render;
pub(crate) mod retry;
pub(crate) mod sandbox;
pub(crate) mod scheduler;
pub(crate) mod strays;
pub(crate) mod tree;
pub(crate) mod workspace;
