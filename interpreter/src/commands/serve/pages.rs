//! The pages: one HTML shell for `/` and `/runs/<id>`, its script and its style,
//! embedded in the binary (no network needed). The script builds the page from the
//! JSON API with `textContent` only: issue text and logs never become markup.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// Scripts and styles from this server only; nothing inline, no frames.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    static CSS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| state_css() + STYLE);
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS.as_str())
}

/// A variable and a badge and node rule per state, from the states' own colours
/// (the drawings use the same table).
fn state_css() -> String {
    use plan_schema::NodeState;
    let mut css = String::from(":root {");
    for s in NodeState::ALL {
        css.push_str(&format!(" --{}: {};", s.as_str(), s.colour()));
    }
    css.push_str(" }\n");
    for s in NodeState::ALL {
        css.push_str(&format!(
            ".s-{0} {{ background: var(--{0}); }} svg .node.s-{0} rect {{ fill: var(--{0}); }}\n",
            s.as_str()
        ));
    }
    css
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_state_has_its_colour_in_the_style() {
        let css = super::state_css();
        for s in plan_schema::NodeState::ALL {
            assert!(css.contains(&format!("--{}: {};", s.as_str(), s.colour())), "{css}");
            assert!(css.contains(&format!(".s-{} {{", s.as_str())), "{css}");
        }
    }
}
