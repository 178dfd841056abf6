//! The variables of the commonest templates without compiling them: text with only
//! `{{ name.field }}` expressions, as most `run` lines are. A plan of 100,000 agents
//! has 100,000 of them, and compiling each with minijinja was a sixth of its lint.
//! Anything else (a filter, a block, a comment, whitespace control, a literal, a
//! keyword) is left to minijinja; a property test holds both to the same answer.

/// Words minijinja reads as literals or operators, never as a variable.
const RESERVED: &[&str] =
    &["true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"];

/// The dotted variables of `text`, sorted and without repeats, when every expression
/// in it is a plain dotted name; `None` when minijinja must read it.
pub fn simple_variables(text: &str) -> Option<Vec<&str>> {
    if text.contains("{%") || text.contains("{#") {
        return None;
    }
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let name = after[..close].trim_matches(|c| c == ' ');
        if !is_dotted_name(name) {
            return None;
        }
        names.push(name);
        rest = &after[close + 2..];
    }
    names.sort_unstable();
    names.dedup();
    Some(names)
}

/// `a`, `a.b`, `a_1.b_2`: identifiers joined by dots, none of them reserved.
fn is_dotted_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !RESERVED.contains(&part)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What minijinja says: the undeclared variables, sorted, or `None` when the text
    /// does not parse.
    fn minijinja(text: &str) -> Option<Vec<String>> {
        let env = crate::check::template_env::environment();
        let t = env.template_from_str(text).ok()?;
        let mut names: Vec<String> = t.undeclared_variables(true).into_iter().collect();
        names.sort();
        Some(names)
    }

    #[test]
    fn reads_plain_names_and_leaves_the_rest() {
        assert_eq!(
            simple_variables("echo {{ vars.cmd }} {{ issue.number }} {{vars.cmd}}"),
            Some(vec!["issue.number", "vars.cmd"])
        );
        assert_eq!(simple_variables("no template"), Some(vec![]));
        assert_eq!(minijinja("{{ a.b.c }} {{ x }}"), Some(vec!["a.b.c".to_string(), "x".to_string()]));
        assert_eq!(simple_variables("{{ a.b.c }} {{ x }}"), Some(vec!["a.b.c", "x"]));
        for other in [
            "{{ x | slug }}",
            "{% if x %}{% endif %}",
            "{# c #}",
            "{{- x }}",
            "{{ 1 }}",
            "{{ true }}",
            "{{ x",
            "{{ a.if }}",
            "{{ a. b }}",
        ] {
            assert_eq!(simple_variables(other), None, "{other}");
        }
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z ]{0,6}",
            Just("{{".to_string()),
            Just("}}".to_string()),
            Just(" ".to_string()),
            Just(".".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            "[a-zA-Z_][a-zA-Z0-9_]{0,4}",
            Just("true".to_string()),
            Just("not".to_string()),
            Just("1".to_string()),
            Just("|".to_string()),
            Just("\n".to_string()),
        ]
    }

    /// Text around `{{ name.field }}` expressions, with noise that sometimes breaks them.
    fn template() -> impl Strategy<Value = String> {
        let expr = ("[ ]{0,2}", proptest::collection::vec("[a-zA-Z_][a-zA-Z0-9_]{0,3}|true|not|1x|", 1..4), "[ ]{0,2}")
            .prop_map(|(l, parts, r)| format!("{{{{{l}{}{r}}}}}", parts.join(".")));
        proptest::collection::vec(prop_oneof![expr, piece()], 0..8).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Whenever the quick reading answers, minijinja parses the text and finds the
        /// same variables: on templates, and on loose pieces of them.
        #[test]
        fn agrees_with_minijinja(
            text in prop_oneof![template(), proptest::collection::vec(piece(), 0..12).prop_map(|p| p.concat())],
        ) {
            if let Some(names) = simple_variables(&text) {
                let names: Vec<String> = names.into_iter().map(str::to_string).collect();
                prop_assert_eq!(Some(names), minijinja(&text), "{:?}", text);
            }
        }
    }
}
