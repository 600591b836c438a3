//! Commands torii prints for people to copy: they name the running binary by its path, shell
//! quoted, so they work as printed even when no `torii` is on the PATH (`cargo run`).

/// The running binary as a shell word: its path (`std::env::current_exe`), quoted; `torii`
/// when the path cannot be found.
pub fn program() -> String {
    match std::env::current_exe() {
        Ok(path) => quote(&path.to_string_lossy()),
        Err(_) => "torii".to_owned(),
    }
}

/// `word` as one POSIX shell word: unchanged when it holds only characters no shell treats
/// specially (no `=` either: `a=b` first on a line is an assignment), else in single quotes
/// (a `'` inside written as `'\''`).
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_a_shell_would_change() {
        let cases = [
            ("/usr/local/bin/torii", "/usr/local/bin/torii"),
            ("target/release/torii", "target/release/torii"),
            ("/home/a b/torii", "'/home/a b/torii'"),
            ("/tmp/it's/torii", r"'/tmp/it'\''s/torii'"),
            ("/tmp/$HOME/torii", "'/tmp/$HOME/torii'"),
            ("/tmp/x;rm -rf/torii", "'/tmp/x;rm -rf/torii'"),
            ("/tmp/*/torii", "'/tmp/*/torii'"),
            ("~/torii", "'~/torii'"),
            ("/opt/a=b/torii", "'/opt/a=b/torii'"),
            ("", "''"),
        ];
        for (word, expected) in cases {
            assert_eq!(quote(word), expected, "{word}");
        }
    }

    /// Every quoted word reads back as itself in a real shell.
    #[test]
    fn a_shell_reads_the_quoted_word_back() {
        let words = [
            "/home/a b/torii",
            "it's",
            "$(id)",
            "a\"b",
            "tab\there",
            "new\nline",
        ];
        let script: Vec<String> = words
            .iter()
            .map(|w| format!("printf '%s\\0' {}", quote(w)))
            .collect();
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script.join("; "))
            .output()
            .expect("run sh");
        assert!(output.status.success());
        let read: Vec<&str> = std::str::from_utf8(&output.stdout)
            .expect("utf-8")
            .split_terminator('\0')
            .collect();
        assert_eq!(read, words);
    }
}
