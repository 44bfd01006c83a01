//! Numbered logs: `<dir>/<workspace>/<n:012>.json`, the layout of both the manifest log and
//! the lease chain (zero-padded, so names sort in number order).

use object_store::path::Path;

/// The object numbered `n` in `workspace`'s log under `dir`.
pub(crate) fn numbered_path(dir: &str, workspace: &str, n: u64) -> Path {
    Path::from(dir)
        .join(workspace)
        .join(format!("{n:012}.json"))
}

/// The number of a log entry from its path; `None` for anything else.
pub(crate) fn number_of(path: &Path) -> Option<u64> {
    path.filename()?.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_other_names_are_not_entries() {
        let path = numbered_path("_leases", "acme", 42);
        assert_eq!(path.as_ref(), "_leases/acme/000000000042.json");
        assert_eq!(number_of(&path), Some(42));
        assert_eq!(number_of(&Path::from("_leases/.probe-x")), None);
        assert_eq!(number_of(&Path::from("_leases/acme/notes.txt")), None);
    }
}
