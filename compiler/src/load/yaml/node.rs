//! Reading a YAML tree: its JSON value, and the node at a JSON pointer.

use serde_json::{Map, Number, Value};

use super::{Node, NodeKind};

impl Node {
    /// The JSON value of this node, as the schema and serde see it. Consumes the
    /// tree as it goes, so that a large plan is never held twice.
    pub fn into_json(self) -> Value {
        match self.kind {
            NodeKind::Null | NodeKind::Folded(_) => Value::Null,
            NodeKind::Bool(b) => Value::Bool(b),
            NodeKind::Int(i) => Value::Number(i.into()),
            NodeKind::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            NodeKind::Str(s) => Value::String(s),
            NodeKind::Seq(items) => Value::Array(items.into_iter().map(Node::into_json).collect()),
            NodeKind::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = match k.kind {
                        NodeKind::Str(s) => s,
                        _ => key_text(&k),
                    };
                    map.insert(key, v.into_json());
                }
                Value::Object(map)
            }
        }
    }

    /// The node at a JSON pointer's segments, and the key node that names it (if any).
    pub fn lookup<'a>(&'a self, segments: &[String]) -> (&'a Node, Option<&'a Node>) {
        let mut node = self;
        let mut key = None;
        for seg in segments {
            let next = match &node.kind {
                NodeKind::Map(entries) => entries.iter().find(|(k, _)| key_is(k, seg)).map(|(k, v)| (v, Some(k))),
                NodeKind::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)).map(|v| (v, None)),
                _ => None,
            };
            match next {
                Some((v, k)) => {
                    node = v;
                    key = k;
                }
                None => break,
            }
        }
        (node, key)
    }

    /// The key node of entry `name` in this mapping.
    pub fn key(&self, name: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| key_is(k, name)).map(|(k, _)| k),
            _ => None,
        }
    }

    /// The value node of entry `name` in this mapping.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| key_is(k, name)).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Splits a JSON pointer (`/agent/agents/0`) into unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

/// Whether a mapping key names `name`, without allocating for the usual string key.
pub(super) fn key_is(key: &Node, name: &str) -> bool {
    match &key.kind {
        NodeKind::Str(s) => s == name,
        _ => key_text(key) == name,
    }
}

/// The text of a mapping key as JSON would name it.
pub fn key_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str(s) => s.clone(),
        NodeKind::Null | NodeKind::Folded(_) => "null".into(),
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Float(f) => f.to_string(),
        NodeKind::Seq(_) | NodeKind::Map(_) => "<complex key>".into(),
    }
}
