//! One value's position, found by reading the YAML events without building the tree:
//! a warning about a plan of 100,000 agents needs a line, not a second copy of the
//! plan. The scan stops at the value (or at the container that lacks it).

use yaml_rust2::parser::{Event, Parser};

use crate::source::{Source, Span};
use crate::yaml::{key_text, scalar, span_at};

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
    use crate::yaml::{parse, pointer_segments};

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

    #[test]
    fn aliases_and_merge_keys_are_left_to_the_tree() {
        let source = Source::new("p.yaml", "x-base: &b { timeout: 5s }\nagent:\n  <<: *b\n  id: a\n");
        assert_eq!(locate(&source, &pointer_segments("/agent/id")), None);
    }
}
