//! The parse limit for `scripts/bench`: reads every page of a fixture directory and decodes it
//! with serde_json into the same fields transform reads, and nothing else (no Arrow, no Parquet).
//! Replay can be no faster than this; `scripts/bench` reports it as a fraction of this.
//!
//!     cargo run --release -p bbpipe-transform --example parse_limit -- /tmp/bench-100k [--io-only]
//!
//! `--io-only` only reads the files: the I/O limit.

// Test and benchmark code fails loudly: unwrap and panic are how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bbpipe_model::bitbucket::{Page, PipelineRun, Repository, decode};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            pages(&path, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("page-"))
        {
            out.push(path);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: parse_limit DIR [--io-only]"));
    let io_only = args.next().as_deref() == Some("--io-only");
    let mut files = Vec::new();
    pages(&root, &mut files);
    let start = Instant::now();
    let (mut bytes, mut runs) = (0u64, 0u64);
    for file in &files {
        let body = std::fs::read(file).expect("readable page");
        bytes += body.len() as u64;
        if io_only {
            black_box(&body);
            continue;
        }
        let is_repositories = file
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "repositories");
        if is_repositories {
            let page: Page<Repository> = decode(&body).expect("a repositories page");
            black_box(page.values.len());
        } else {
            let page: Page<PipelineRun> = decode(&body).expect("a pipelines page");
            runs += page.values.len() as u64;
            black_box(&page.values);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"mode\": \"{}\", \"files\": {}, \"bytes\": {bytes}, \"runs\": {runs}, \"seconds\": {seconds:.4}}}",
        if io_only { "io" } else { "parse" },
        files.len()
    );
}
