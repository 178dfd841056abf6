//! One value's position, found by reading the YAML events without building the tree:
//! a warning about a plan of 100,000 agents needs a line, not a second copy of the
//! plan. The scan stops at the value (or at the container that lacks it).

use yaml_rust2::parser::{Event, Parser};

use crate::load::source::{Source, Span};
use crate::load::yaml::{key_text, scalar, span_at};

/// Where a value is, and the key that names it (none for sequence items and the root).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Located {
    pub value: Span,
    pub key: Option<Span>,
}

enum Frame {
    Seq { next: usize, on_path: bool },
    Map { key: Option<(String, Span)>, on_path: bool },
}

/// The value at a JSON pointer's segments, or the nearest one of its ancestors that
/// exists, as `Node::lookup` finds it. `None` when the answer may lie elsewhere in the
/// text (an alias, a merge key) or the text does not parse: ask the tree then.
pub fn locate(source: &Source, segments: &[String]) -> Option<Located> {
    let mut parser = Parser::new_from_str(&source.text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut best: Option<Located> = None;
    loop {
        let (event, mark) = parser.next_token().ok()?;
        let (text, style, collection) = match event {
            Event::StreamEnd => return best,
            Event::Alias(_) => return None,
            Event::SequenceEnd | Event::MappingEnd => {
                let ended_on_path =
                    matches!(stack.pop(), Some(Frame::Seq { on_path: true, .. } | Frame::Map { on_path: true, .. }));
                // The container on the path ended without the rest of the pointer.
                if ended_on_path {
                    return best;
                }
                continue;
            }
            Event::Scalar(text, style, ..) => (Some(text), Some(style), None),
            Event::SequenceStart(..) => (None, None, Some(true)),
            Event::MappingStart(..) => (None, None, Some(false)),
            _ => continue,
        };
        let depth = stack.len();
        let segment = depth.checked_sub(1).and_then(|d| segments.get(d));
        // Whether the node that starts is a key, and else whether it is on the path.
        let (is_key, on_path, key_span) = match stack.last_mut() {
            None => (false, true, None),
            Some(Frame::Seq { next, on_path }) => {
                let i = *next;
                *next += 1;
                (false, *on_path && segment.is_some_and(|s| s.parse::<usize>() == Ok(i)), None)
            }
            Some(Frame::Map { key, on_path }) => match key.take() {
                None => (true, false, None),
                Some((k, span)) => (false, *on_path && segment == Some(&k), Some(span)),
            },
        };
        let span = match (text, style) {
            (Some(text), Some(style)) => {
                let node = scalar(source, &mark, text, style);
                if is_key {
                    let name = key_text(&node);
                    if name == "<<" {
                        return None;
                    }
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = Some((name, node.span));
                    }
                    continue;
                }
                node.span
            }
            _ => span_at(source, &mark, 1),
        };
        if is_key {
            // A collection as a key: it names nothing a pointer can reach.
            if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                *key = Some(("<complex key>".into(), span));
            }
        }
        if on_path {
            best = Some(Located { value: span, key: key_span });
            if depth == segments.len() || collection.is_none() {
                return best;
            }
        }
        if let Some(is_seq) = collection {
            let on_path = on_path && !is_key;
            stack.push(if is_seq { Frame::Seq { next: 0, on_path } } else { Frame::Map { key: None, on_path } });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse, pointer_segments};

    /// The scan and the tree agree, on values that exist and on those that do not.
    #[test]
    fn agrees_with_the_tree() {
        let text = "version: 1\nname: x\nagent:\n  id: a\n  agents:\n    - { id: b, run: \"echo\" }\n    - id: c\n      needs: [b]\n      with: { k: [1, {z: 2}] }\nlast: true\n";
        let source = Source::new("p.yaml", text);
        let tree = parse(&source).0.unwrap();
        for pointer in [
            "",
            "/version",
            "/agent",
            "/agent/id",
            "/agent/agents/0/run",
            "/agent/agents/1/needs/0",
            "/agent/agents/1/with/k/1/z",
            "/agent/agents/1/timeout",
            "/agent/agents/7/id",
            "/agent/id/deeper",
            "/last",
            "/missing",
        ] {
            let segments = pointer_segments(pointer);
            let (node, key) = tree.lookup(&segments);
            let expected = Located { value: node.span, key: key.map(|k| k.span) };
            assert_eq!(locate(&source, &segments), Some(expected), "{pointer}");
        }
    }

    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Nested maps, lists and scalars, with keys a plan would have.
    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(Value::from),
            (0i64..1000).prop_map(Value::from),
            "[a-z ]{0,12}".prop_map(Value::from),
            Just(json!("line one\nline two")),
            Just(json!("{{ issue.title }}")),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Every pointer into `v`, and one past each of them that does not exist.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        out.push(format!("{at}/missing"));
        match v {
            Value::Array(items) => {
                out.push(format!("{at}/{}", items.len()));
                for (i, item) in items.iter().enumerate() {
                    pointers(item, format!("{at}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    pointers(item, format!("{at}/{k}"), out);
                }
            }
            _ => {}
        }
    }

    proptest! {
        /// In block style (as people write plans) and in flow style (JSON), the scan
        /// finds what the tree finds.
        #[test]
        fn agrees_with_the_tree_on_any_document(v in values()) {
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            for text in [serde_yaml::to_string(&v).unwrap(), serde_json::to_string_pretty(&v).unwrap()] {
                let source = Source::new("p.yaml", text.clone());
                let tree = parse(&source).0;
                prop_assert!(tree.is_some(), "{}", text);
                let tree = tree.unwrap();
                for pointer in &all {
                    let segments = pointer_segments(pointer);
                    let (node, key) = tree.lookup(&segments);
                    let expected = Located { value: node.span, key: key.map(|k| k.span) };
                    prop_assert_eq!(locate(&source, &segments), Some(expected), "{} in\n{}", pointer, text);
                }
            }
        }
    }

    #[test]
    fn aliases_and_merge_keys_are_left_to_the_tree() {
        let source = Source::new("p.yaml", "x-base: &b { timeout: 5s }\nagent:\n  <<: *b\n  id: a\n");
        assert_eq!(locate(&source, &pointer_segments("/agent/id")), None);
    }
}
