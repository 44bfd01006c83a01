//! What a value from outside must look like before bbpipe puts it into a URL path or a file
//! path. A workspace is named by the user, so a bad one is refused; a repository slug comes from
//! the API, so a repository whose slug cannot be one path segment is set aside.

/// The longest file-system path segment on common file systems, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Why `given` is not a Bitbucket workspace slug (lower-case letters, digits, `-` and `_`, read
/// as bbpipe reads a workspace: trimmed and lower-cased), or `None` when it is one.
pub fn workspace_slug_problem(given: &str) -> Option<&'static str> {
    let slug = given.trim().to_lowercase();
    if slug.is_empty() {
        Some("it is empty")
    } else if slug.len() > MAX_SEGMENT_BYTES {
        Some("it is longer than 255 bytes")
    } else if !slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        Some("a workspace slug has only lower-case letters, digits, - and _")
    } else {
        None
    }
}

/// Why `value` cannot be one path segment, of a URL or of a file path (`.`, `..`, a `/` or `\`,
/// a NUL or control character, empty, over 255 bytes), or `None` when it can.
pub fn segment_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("it is empty")
    } else if value == "." || value == ".." {
        Some("it is . or ..")
    } else if value.contains(['/', '\\']) {
        Some("it holds a / or \\")
    } else if value.chars().any(char::is_control) {
        Some("it holds a control character")
    } else if value.len() > MAX_SEGMENT_BYTES {
        Some("it is longer than 255 bytes")
    } else {
        None
    }
}

/// `text` as it may appear in an error or a log line: whole when short, else its first 200
/// characters and how long it was. A value from outside can be megabytes long.
pub fn shown(text: &str) -> String {
    const SHOWN: usize = 200;
    match text.char_indices().nth(SHOWN) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_slugs_and_segments() {
        for ok in ["acme", "acme-corp_2", "a", "Acme", " acme "] {
            assert_eq!(workspace_slug_problem(ok), None, "{ok}");
        }
        for bad in ["", "../x", "a b", "a/b", &"x".repeat(256)] {
            assert!(workspace_slug_problem(bad).is_some(), "{bad}");
        }
        for ok in ["web-app", "with space", "ü", "{a-uuid}", ".hidden", "a..b"] {
            assert_eq!(segment_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../../x",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(segment_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        assert_eq!(shown("short"), "short");
        let long = "é".repeat(1000);
        let cut = shown(&long);
        assert!(cut.starts_with(&"é".repeat(200)));
        assert!(cut.ends_with("… (2000 bytes in all)"), "{cut}");
    }
}
