//! Turning YAML and serde errors into the parts of a [`LoadError`](super::LoadError).
//!
//! A document is parsed on its own, so the parser's line numbers count from the document's
//! first line; here they are moved to file lines, and the location and path the parser writes
//! into its message are taken out (the [`LoadError`](super::LoadError) prints them itself).

/// The file line and the bare message of a YAML error in a document starting on `first_line`
/// (1-based); `field` is the field path already known, removed from the front of the message.
pub(crate) fn yaml_error(
    error: &serde_yaml_ng::Error,
    first_line: usize,
    field: Option<&str>,
) -> (Option<usize>, String) {
    let offset = first_line.saturating_sub(1);
    let mut message = shift_lines(&error.to_string(), offset);
    let line = error.location().map(|location| {
        let line = location.line().saturating_add(offset);
        let at = format!(" at line {line} column {}", location.column());
        if let Some(i) = message.find(&at) {
            message.replace_range(i..i + at.len(), "");
        }
        line
    });
    if let Some(field) = field {
        if let Some(rest) = message
            .strip_prefix(field)
            .and_then(|m| m.strip_prefix(": "))
        {
            message = rest.to_owned();
        }
    }
    (line, message)
}

/// Adds `offset` to every `at line N column` in `message`.
fn shift_lines(message: &str, offset: usize) -> String {
    const AT_LINE: &str = "at line ";
    let mut out = String::with_capacity(message.len() + 8);
    let mut rest = message;
    while let Some(i) = rest.find(AT_LINE) {
        let (head, tail) = rest.split_at(i + AT_LINE.len());
        out.push_str(head);
        let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match tail[..digits].parse::<usize>() {
            Ok(n) if tail[digits..].starts_with(" column ") => {
                out.push_str(&n.saturating_add(offset).to_string());
            }
            _ => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// Formats a path reported by `serde_ignored` like `serde_path_to_error` does:
/// `spec.rules[0].matches[0].foo`.
pub(crate) fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_line_numbers() {
        let cases = [
            ("x at line 2 column 3", 10, "x at line 12 column 3"),
            (
                "a at line 1 column 1, while parsing at line 3 column 2",
                4,
                "a at line 5 column 1, while parsing at line 7 column 2",
            ),
            ("no location", 4, "no location"),
            ("at line x column 1", 4, "at line x column 1"),
            ("at line 7", 4, "at line 7"),
            ("at line 1 column 1", 0, "at line 1 column 1"),
        ];
        for (message, offset, expected) in cases {
            assert_eq!(shift_lines(message, offset), expected, "{message}");
        }
    }

    #[test]
    fn yaml_errors_get_file_lines() {
        /// (document text, first line in the file, known field, expected line and message)
        type Case = (
            &'static str,
            usize,
            Option<&'static str>,
            Option<usize>,
            &'static str,
        );
        let cases: &[Case] = &[
            (
                "a: 1\nb: [\n",
                10,
                None,
                Some(12),
                "did not find expected node content, while parsing a flow node",
            ),
            (
                "a:\n  - 1\n  b: 2\n",
                5,
                None,
                Some(7),
                "did not find expected '-' indicator, while parsing a block collection at line 6 column 3",
            ),
            // The parser places a duplicate key at the start of its mapping.
            ("a: 1\na: 2\n", 3, None, Some(3), "duplicate entry with key \"a\""),
        ];
        for (text, first_line, field, line, expected) in cases {
            let error = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
                .expect_err("the text is invalid");
            let (got_line, message) = yaml_error(&error, *first_line, *field);
            assert_eq!((got_line, message.as_str()), (*line, *expected), "{text:?}");
        }
    }

    #[test]
    fn strips_the_known_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Vec<Inner>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            port: u16,
        }
        let text = "inner:\n- port: 80\n- port: nope\n";
        let error = serde_yaml_ng::from_str::<Outer>(text).expect_err("port is not a number");
        let (line, message) = yaml_error(&error, 2, Some("inner[1].port"));
        assert_eq!(line, Some(4));
        assert_eq!(message, "invalid type: string \"nope\", expected u16");
    }
}
