//! A source file's text and where its lines start: turns parser marks into
//! `line:col` positions and hands diagnostics the line to draw.

/// A 1-based line and column (in characters), and the byte offset they stand for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A span on one line: where it starts and how many characters it covers (at least 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Pos,
    pub len: usize,
}

impl Span {
    pub fn new(line: usize, col: usize, len: usize) -> Self {
        Span { start: Pos { line, col }, len: len.max(1) }
    }
}

/// A file's name as given by the user, and its text.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
    /// Whether each line is ASCII: there a column is a byte offset, which keeps
    /// positions on very long lines linear.
    ascii: Vec<bool>,
}

impl Source {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let ascii = line_starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = line_starts.get(i + 1).map_or(text.len(), |e| e - 1);
                text.get(start..end).is_some_and(str::is_ascii)
            })
            .collect();
        Source { path: path.into(), text, line_starts, ascii }
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self.line_starts.get(line).map_or(self.text.len(), |e| e - 1);
        self.text.get(start..end).unwrap_or("").trim_end_matches('\r')
    }

    /// The rest of line `line` from 1-based character column `col`.
    pub fn rest_of_line(&self, pos: Pos) -> &str {
        let line = self.line(pos.line);
        let skip: usize = if self.ascii.get(pos.line.wrapping_sub(1)).copied().unwrap_or(false) {
            pos.col.saturating_sub(1)
        } else {
            line.chars().take(pos.col.saturating_sub(1)).map(char::len_utf8).sum()
        };
        &line[skip.min(line.len())..]
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_rest() {
        let s = Source::new("f", "a: 1\r\nbé: xyz\n");
        assert_eq!(s.line(1), "a: 1");
        assert_eq!(s.line(2), "bé: xyz");
        assert_eq!(s.line(9), "");
        assert_eq!(s.rest_of_line(Pos { line: 2, col: 5 }), "xyz");
    }
}
