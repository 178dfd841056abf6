//! End-to-end tests: they drive the built `plan` binary.

mod support;

mod agents;
mod approvals;
mod attacks;
mod bookkeeping;
mod cache;
mod docs;
mod durable;
mod eval;
mod exactly_once;
mod examples;
mod execution;
mod feedback;
mod gateway;
mod git;
mod graph;
mod intake;
mod intake_eval;
mod intake_review;
mod intake_run;
mod limits;
mod lint;
mod model;
mod planner;
mod processes;
mod publish_gate;
mod run;
mod sandbox;
mod secrets;
mod serve;
mod serve_support;
mod targets;
mod verified;
mod webhooks;
mod workspaces;
