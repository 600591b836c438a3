//! Properties of path normalisation over arbitrary inputs.

use proptest::prelude::*;
use torii_normalize::{normalize_path, EscapedSlashes};

/// Paths built from the pieces bypass attempts are made of.
fn path_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just("//".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("%2e".to_string()),
        Just("%2E".to_string()),
        Just("%2f".to_string()),
        Just("%5C".to_string()),
        Just("\\".to_string()),
        Just("%61".to_string()),
        Just("%3a".to_string()),
        Just(";x=1".to_string()),
        Just(" ".to_string()),
        "[a-z]{1,4}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| format!("/{}", pieces.concat()))
}

proptest! {
    /// Normalising twice changes nothing the second time, and the second time borrows.
    #[test]
    fn normalisation_is_idempotent(path in path_strategy()) {
        for slashes in [EscapedSlashes::Keep, EscapedSlashes::Redirect] {
            let Ok(once) = normalize_path(&path, slashes) else { continue };
            let twice = normalize_path(&once.path, slashes).expect("a normal path is valid");
            prop_assert_eq!(&twice.path, &once.path);
            prop_assert!(matches!(twice.path, std::borrow::Cow::Borrowed(_)));
            prop_assert!(!twice.redirect);
        }
    }

    /// A normal path has no dot segment, no empty segment but a final one, and starts with `/`.
    #[test]
    fn normal_paths_have_no_dot_or_empty_segments(path in path_strategy()) {
        let Ok(normal) = normalize_path(&path, EscapedSlashes::Redirect) else { return Ok(()) };
        let normal = normal.path;
        prop_assert!(normal.starts_with('/'));
        prop_assert!(!normal.contains("//"));
        let segments: Vec<&str> = normal[1..].split('/').collect();
        for segment in &segments {
            prop_assert!(*segment != "." && *segment != "..", "{}", normal);
        }
        prop_assert!(!normal.contains('\\'));
        prop_assert!(!normal.to_ascii_lowercase().contains("%2f"));
    }

    /// Arbitrary strings never panic.
    #[test]
    fn arbitrary_input_never_panics(path in "\\PC*") {
        for slashes in [EscapedSlashes::Keep, EscapedSlashes::Reject, EscapedSlashes::Redirect] {
            let _ = normalize_path(&path, slashes);
            let _ = torii_normalize::parse_authority(path.as_bytes());
        }
        let _ = torii_normalize::match_view(&path);
    }
}
