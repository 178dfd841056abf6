//! YAML with source positions: the first stage of loading. Parses text into a tree
//! whose every node knows its span, refuses what a plan can never be (several
//! documents, absurd nesting, alias bombs), and reports duplicate keys.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::load::source::{Pos, Source, Span};

/// Deepest nesting accepted; real plans stay far below it.
pub const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to (aliases included).
pub const MAX_NODES: usize = 2_000_000;

/// A YAML node and where it stands in the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; duplicates are dropped (and reported).
    Map(Vec<(Node, Node)>),
    /// The `n`th collection handed to a `Fold` while parsing, which keeps it.
    Folded(usize),
}

/// Takes complete collections while the document is parsed, so that a large one is
/// never held whole: the tree keeps `NodeKind::Folded(n)` in their place. A role names
/// where a collection stands, as the folder sees it; role 0 is left alone.
pub trait Fold {
    /// The role of a collection opened in a parent of role `parent` (none at the top),
    /// under `key` (none in a sequence).
    fn role(&self, parent: Option<u8>, key: Option<&str>, is_map: bool) -> u8;
    /// Offers the complete collection `node` of `role` as fold `n`: `None` when the
    /// folder kept it, or the node back for the tree.
    fn fold(&mut self, role: u8, n: usize, node: Node) -> Option<Node>;
}

/// A parse that folds nothing.
struct Whole;

impl Fold for Whole {
    fn role(&self, _: Option<u8>, _: Option<&str>, _: bool) -> u8 {
        0
    }
    fn fold(&mut self, _: u8, _: usize, node: Node) -> Option<Node> {
        Some(node)
    }
}

/// What a parse found besides the tree.
#[derive(Debug, Default)]
pub struct Parsed {
    pub problems: Vec<YamlProblem>,
    /// Whether an alias repeated a node (a folder may then have seen a copy twice).
    pub aliases: bool,
}

/// What went wrong while reading YAML.
#[derive(Clone, Debug, PartialEq)]
pub enum YamlProblem {
    Syntax { span: Span, message: String },
    DuplicateKey { key: String, span: Span, first: Span },
    TooDeep { span: Span },
    TooLarge { span: Span },
    MultipleDocuments { span: Span },
    Empty,
}

enum Frame {
    Seq { span: Span, anchor: usize, role: u8, items: Vec<Node> },
    Map { span: Span, anchor: usize, role: u8, entries: Vec<(Node, Node)>, key: Option<Node> },
}

/// Parses the first and only document of `source`. Duplicate keys are reported in
/// the returned problems but do not stop parsing.
pub fn parse(source: &Source) -> (Option<Node>, Vec<YamlProblem>) {
    let (root, parsed) = parse_folding(source, &mut Whole);
    (root, parsed.problems)
}

/// Parses like `parse`, handing complete collections to `folder` as it goes.
pub fn parse_folding(source: &Source, folder: &mut impl Fold) -> (Option<Node>, Parsed) {
    let (mut problems, mut aliases, mut folds) = (Vec::new(), false, 0usize);
    let mut parser = Parser::new_from_str(&source.text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut documents = 0usize;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(ev) => ev,
            Err(e) => {
                let mut span = span_at(source, e.marker(), 1);
                if e.info().contains("tab") {
                    // The scanner reports where its token began; point at the tab.
                    span = next_tab(source, span).unwrap_or(span);
                }
                problems.push(YamlProblem::Syntax { span, message: e.info().to_string() });
                return (None, Parsed { problems, aliases });
            }
        };
        let node = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    problems.push(YamlProblem::MultipleDocuments { span: span_at(source, &mark, 3) });
                    return (None, Parsed { problems, aliases });
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    problems.push(YamlProblem::TooDeep { span: span_at(source, &mark, 1) });
                    return (None, Parsed { problems, aliases });
                }
                let span = span_at(source, &mark, 1);
                let is_map = matches!(event, Event::MappingStart(..));
                let role = match stack.last() {
                    None => folder.role(None, None, is_map),
                    Some(Frame::Seq { role, .. }) => folder.role(Some(*role), None, is_map),
                    Some(Frame::Map { role, key, .. }) => {
                        let key = key.as_ref().and_then(|k| match &k.kind {
                            NodeKind::Str(s) => Some(s.as_str()),
                            _ => None,
                        });
                        folder.role(Some(*role), key, is_map)
                    }
                };
                stack.push(if is_map {
                    Frame::Map { span, anchor, role, entries: Vec::new(), key: None }
                } else {
                    Frame::Seq { span, anchor, role, items: Vec::new() }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, role) = match stack.pop() {
                    // Vectors keep no spare room: a plan of 100,000 agents has as many maps.
                    Some(Frame::Seq { span, anchor, role, mut items }) => {
                        items.shrink_to_fit();
                        (Node { span, kind: NodeKind::Seq(items) }, anchor, role)
                    }
                    Some(Frame::Map { span, anchor, role, entries, .. }) => {
                        let mut entries = merge_keys(entries);
                        entries.shrink_to_fit();
                        (Node { span, kind: NodeKind::Map(entries) }, anchor, role)
                    }
                    None => continue,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                if role == 0 {
                    node
                } else {
                    let span = node.span;
                    folds += 1;
                    folder.fold(role, folds - 1, node).unwrap_or(Node { span, kind: NodeKind::Folded(folds - 1) })
                }
            }
            Event::Scalar(text, style, anchor, _) => {
                let node = scalar(source, &mark, text, style);
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    problems.push(YamlProblem::Syntax {
                        span: span_at(source, &mark, 1),
                        message: "alias names an unknown anchor".into(),
                    });
                    return (None, Parsed { problems, aliases });
                };
                nodes += count(target);
                aliases = true;
                let mut node = target.clone();
                node.span = span_at(source, &mark, 1);
                node
            }
        };
        nodes += 1;
        if nodes > MAX_NODES {
            problems.push(YamlProblem::TooLarge { span: node.span });
            return (None, Parsed { problems, aliases });
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let name = key_text(&k);
                    if let Some((first, _)) = entries.iter().find(|(e, _)| key_is(e, &name)) {
                        problems.push(YamlProblem::DuplicateKey { key: name, span: k.span, first: first.span });
                    } else {
                        entries.push((k, node));
                    }
                }
            },
        }
    }
    if root.is_none() && problems.is_empty() {
        problems.push(YamlProblem::Empty);
    }
    (root, Parsed { problems, aliases })
}

/// The first tab at or after `from`.
fn next_tab(source: &Source, from: Span) -> Option<Span> {
    let mut line = from.start.line;
    let mut skip = from.start.col.saturating_sub(1);
    while line <= source.line_count() {
        if let Some(col) = source.line(line).chars().skip(skip).position(|c| c == '\t') {
            return Some(Span::new(line, skip + col + 1, 1));
        }
        line += 1;
        skip = 0;
    }
    None
}

/// YAML merge keys: `<<: *base` (or a list of anchors) adds the entries of those
/// mappings that the mapping does not set itself.
fn merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| key_is(k, "<<")) {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| key_is(k, "<<"));
    for (_, value) in merges {
        let sources = match value.kind {
            NodeKind::Map(m) => vec![m],
            NodeKind::Seq(items) => items
                .into_iter()
                .filter_map(|i| match i.kind {
                    NodeKind::Map(m) => Some(m),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for (k, v) in sources.into_iter().flatten() {
            let name = key_text(&k);
            if !own.iter().any(|(o, _)| key_is(o, &name)) {
                own.push((k, v));
            }
        }
    }
    own
}

fn count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(entries) => 1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
        _ => 1,
    }
}

pub(crate) fn scalar(source: &Source, mark: &Marker, text: String, style: TScalarStyle) -> Node {
    let start = pos_of(mark);
    let rest = source.rest_of_line(start);
    let len = match style {
        TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => quoted_len(rest),
        TScalarStyle::Plain => {
            let first_line = text.lines().next().unwrap_or("").chars().count();
            // Counts no further than the scalar: linear on long lines.
            rest.chars().take(first_line).count()
        }
        _ => 1,
    };
    let span = Span::new(start.line, start.col, len);
    let kind = if style != TScalarStyle::Plain { NodeKind::Str(text) } else { resolve_plain(text) };
    Node { span, kind }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: String) -> NodeKind {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        _ => {}
    }
    let looks_numeric = text.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.');
    if looks_numeric {
        if let Ok(i) = text.parse::<i64>() {
            return NodeKind::Int(i);
        }
        if let Some(hex) = text.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return NodeKind::Int(i);
            }
        }
        if text.bytes().any(|b| b.is_ascii_digit()) && !text.contains(['_', ' ']) {
            if let Ok(f) = text.parse::<f64>() {
                if f.is_finite() {
                    return NodeKind::Float(f);
                }
            }
        }
    }
    NodeKind::Str(text)
}

fn quoted_len(rest: &str) -> usize {
    let mut chars = rest.chars();
    let Some(quote) = chars.next() else { return 1 };
    let mut len = 1;
    let mut escaped = false;
    for c in chars {
        len += 1;
        if quote == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == quote && !escaped {
            return len;
        }
        escaped = false;
    }
    len
}

fn pos_of(mark: &Marker) -> Pos {
    Pos { line: mark.line().max(1), col: mark.col() + 1 }
}

pub(crate) fn span_at(source: &Source, mark: &Marker, len: usize) -> Span {
    let pos = pos_of(mark);
    let line = if pos.line > source.line_count() { source.line_count() } else { pos.line };
    Span::new(line, pos.col, len)
}

mod node;
use node::key_is;
pub use node::{key_text, pointer_segments};

#[cfg(test)]
mod tests;
