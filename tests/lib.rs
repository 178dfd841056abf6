//! End-to-end tests: they drive the built `plan` binary.

mod support;

mod docs;
mod durable;
mod examples;
mod git;
mod graph;
mod intake;
mod lint;
mod run;
mod targets;
