//! Semantic rules: one file each, with a stable kebab-case code. `check_all` runs
//! every rule and collects every finding (never first-error-wins).
//!
//! Each rule's file documents what it checks, why, an example and the fix.

mod accept;
mod agent_without_work;
mod dependency_cycle;
mod duplicate_agent_id;
mod gateway;
mod limits;
mod missing_file;
mod pattern_shape;
mod resolvable;
mod sandbox;
mod template_check;
mod tier_fit;
mod unknown_need;
mod unquoted_issue_text;

use std::path::Path;

use plan_schema::Plan;

use crate::check::diagnostic::{Diagnostic, Severity};
use crate::check::templates::{template_fields, TemplateField};
use crate::graph::PlanGraph;
use crate::load::agents::AgentIndex;
use crate::load::source::Span;
use crate::load::Loaded;

/// What a rule sees: the typed plan, the loaded file for positions, and the DAG.
pub struct Ctx<'a> {
    pub file: &'a str,
    pub plan: &'a Plan,
    /// The loaded file: positions for diagnostics.
    pub loaded: &'a Loaded,
    pub agents: &'a AgentIndex<'a>,
    pub graph: &'a PlanGraph,
    pub base_dir: &'a Path,
}

impl<'a> Ctx<'a> {
    /// Every template of the plan, file templates read, made as they are walked.
    pub fn templates(&self) -> impl Iterator<Item = TemplateField<'a>> + 'a {
        template_fields(self.plan, self.agents, self.base_dir)
    }

    /// Span of the value at a JSON pointer (the nearest existing ancestor if absent).
    pub fn value_span(&self, pointer: &str) -> Span {
        self.loaded.value_span(pointer)
    }

    /// Span of the key that names the value at a JSON pointer (the value's span for
    /// sequence items).
    pub fn key_span(&self, pointer: &str) -> Span {
        self.loaded.key_span(pointer)
    }

    pub fn error(&self, code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, self.file, span, message)
    }

    pub fn warning(&self, code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(code, self.file, span, message)
    }
}

/// A rule of the registry.
pub struct Rule {
    /// The codes this rule reports.
    pub codes: &'static [(&'static str, Severity)],
    pub summary: &'static str,
    pub check: fn(&Ctx, &mut Vec<Diagnostic>),
}

/// Every semantic rule, in the order they run.
pub const RULES: &[Rule] = &[
    duplicate_agent_id::RULE,
    unknown_need::RULE,
    dependency_cycle::RULE,
    pattern_shape::RULE,
    agent_without_work::RULE,
    limits::RULE,
    resolvable::RULE,
    sandbox::RULE,
    gateway::RULE,
    missing_file::RULE,
    accept::RULE,
    template_check::RULE,
    unquoted_issue_text::RULE,
    tier_fit::RULE,
];

/// Runs every rule.
pub fn check_all(ctx: &Ctx) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in RULES {
        (rule.check)(ctx, &mut out);
    }
    out
}
