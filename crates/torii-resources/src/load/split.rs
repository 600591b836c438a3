//! Splitting a multi-document YAML stream into one text per document.
//!
//! Each document is parsed on its own so that a syntax error in one does not hide the others,
//! and so that every error can be placed on a line of the file. YAML forbids `---` and `...`
//! at the start of a line inside a document (they are always markers), so splitting on those
//! lines agrees with a YAML parser on every valid stream.

/// One document of a stream: its text and where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk<'a> {
    /// The document's text, including its `---` marker line when it has one.
    pub text: &'a str,
    /// 1-based line of the first line of `text` in the file.
    pub first_line: usize,
    /// 1-based line of the document's first line of content (not a marker, comment or blank).
    pub content_line: usize,
}

/// The documents of `text` that have content; empty documents (only comments, directives or
/// blank lines) are skipped.
pub(crate) fn documents(text: &str) -> Documents<'_> {
    Documents {
        text,
        pos: 0,
        line: 1,
    }
}

/// Iterator over the documents of a stream, see [`documents`].
pub(crate) struct Documents<'a> {
    text: &'a str,
    /// Byte offset of the next line to read.
    pos: usize,
    /// 1-based line number of the line at `pos`.
    line: usize,
}

impl<'a> Iterator for Documents<'a> {
    type Item = Chunk<'a>;

    fn next(&mut self) -> Option<Chunk<'a>> {
        let mut start = self.pos;
        let mut first_line = self.line;
        let mut content_line = None;
        let mut seen_marker = false;
        while self.pos < self.text.len() {
            let rest = &self.text[self.pos..];
            let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let bare = rest[..len].trim_end_matches(['\n', '\r']);
            if let Some(after) = marker(bare, "---") {
                if content_line.is_some() {
                    // This marker starts the next document; leave it for the next call.
                    break;
                }
                if seen_marker {
                    // The document since the previous marker was empty: drop it.
                    start = self.pos;
                    first_line = self.line;
                }
                seen_marker = true;
                if is_content(after) {
                    content_line = Some(self.line);
                }
            } else if marker(bare, "...").is_some() {
                self.advance(len);
                if content_line.is_some() {
                    break;
                }
                // An empty document ended: start afresh after it.
                start = self.pos;
                first_line = self.line;
                seen_marker = false;
                continue;
            } else if bare.starts_with('%') {
                // A directive (always one at column 0) opens the preamble of the next document.
                if content_line.is_some() {
                    break;
                }
                if seen_marker {
                    start = self.pos;
                    first_line = self.line;
                    seen_marker = false;
                }
            } else if content_line.is_none() && is_content(bare) {
                content_line = Some(self.line);
            }
            self.advance(len);
        }
        content_line.map(|content_line| Chunk {
            text: &self.text[start..self.pos],
            first_line,
            content_line,
        })
    }
}

impl Documents<'_> {
    fn advance(&mut self, len: usize) {
        self.pos += len;
        self.line += 1;
    }
}

/// If `line` is the marker `---` or `...` (alone or followed by a space or tab), what follows it.
fn marker<'l>(line: &'l str, marker: &str) -> Option<&'l str> {
    let after = line.strip_prefix(marker)?;
    (after.is_empty() || after.starts_with([' ', '\t'])).then_some(after)
}

/// True when a line (or the rest of a marker line) holds YAML content, not a comment or blank.
fn is_content(line: &str) -> bool {
    let trimmed = line.trim_start();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An expected document: (text, first_line, content_line).
    type Doc = (&'static str, usize, usize);

    /// (text, expected documents).
    const CASES: &[(&str, &[Doc])] = &[
        ("", &[]),
        ("\n\n# only a comment\n", &[]),
        ("a: 1\n", &[("a: 1\n", 1, 1)]),
        ("a: 1", &[("a: 1", 1, 1)]),
        (
            "a: 1\n---\nb: 2\n",
            &[("a: 1\n", 1, 1), ("---\nb: 2\n", 2, 3)],
        ),
        (
            "---\n# c\na: 1\n---\n---\n\n---\nb: 2\n",
            &[("---\n# c\na: 1\n", 1, 3), ("---\nb: 2\n", 7, 8)],
        ),
        // Content on the marker line, and a marker followed by a comment.
        (
            "--- {a: 1}\n--- # next\nb: 2\n",
            &[("--- {a: 1}\n", 1, 1), ("--- # next\nb: 2\n", 2, 3)],
        ),
        // Document end markers, and a bare document after one.
        (
            "a: 1\n...\nb: 2\n...\n...\n",
            &[("a: 1\n...\n", 1, 1), ("b: 2\n...\n", 3, 3)],
        ),
        // A directive belongs to the document after it.
        (
            "a: 1\n---\n%YAML 1.2\n---\nb: 2\n",
            &[("a: 1\n", 1, 1), ("%YAML 1.2\n---\nb: 2\n", 3, 5)],
        ),
        (
            "a: 1\n%YAML 1.2\n---\nb: 2\n",
            &[("a: 1\n", 1, 1), ("%YAML 1.2\n---\nb: 2\n", 2, 4)],
        ),
        // CRLF line ends.
        (
            "a: 1\r\n---\r\nb: 2\r\n",
            &[("a: 1\r\n", 1, 1), ("---\r\nb: 2\r\n", 2, 3)],
        ),
        // Not markers: more dashes, indented, or text right after the dashes.
        (
            "a: |\n  ---\nb: ----\n---x: 1\n",
            &[("a: |\n  ---\nb: ----\n---x: 1\n", 1, 1)],
        ),
    ];

    #[test]
    fn splits_documents() {
        for (text, expected) in CASES {
            let got: Vec<_> = documents(text)
                .map(|c| (c.text, c.first_line, c.content_line))
                .collect();
            assert_eq!(&got, expected, "splitting {text:?}");
        }
    }

    #[test]
    fn chunks_cover_their_lines() {
        // Every chunk starts on its first_line: counting newlines before it agrees.
        let text = "# head\n---\na: 1\n\n---\n# x\n\nb: [1,\n 2]\n...\nc: 3\n";
        for chunk in documents(text) {
            let offset = chunk.text.as_ptr() as usize - text.as_ptr() as usize;
            let line = text[..offset].matches('\n').count() + 1;
            assert_eq!(line, chunk.first_line, "{chunk:?}");
            let content = text.lines().nth(chunk.content_line - 1).unwrap_or_default();
            assert!(is_content(content.trim_start_matches("---")), "{chunk:?}");
        }
    }
}
