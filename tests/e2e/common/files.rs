//! Finding the Parquet files of a dataset. No dependency on the bbpipe binary, so crate tests
//! include it too (`#[path]`).

use std::path::{Path, PathBuf};

/// Every `.parquet` file under `dir`, sorted; none when `dir` does not exist.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
