//! Micro-benchmarks of transform's hot paths: `cargo bench -p bbpipe-transform`.
//! Input: a real-shaped page of the bundled demo (100 pipeline runs).

// Test and benchmark code fails loudly: unwrap and panic are how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bbpipe_model::bitbucket::{Page, PipelineRun, decode};
use bbpipe_model::{Endpoint, PageSource, RawPage};
use bbpipe_transform::rules::{DeploymentBuilder, RunColumns};
use bbpipe_transform::{RuleSet, TransformOptions, Transformer};
use std::hint::black_box;

const PAGE: &[u8] = include_bytes!("../../../fixtures/demo/acme/web-app/pipelines/page-0001.json");
const RULES: &str = include_str!("../../../fixtures/demo/deploy-rules.toml");

fn main() {
    divan::main();
}

fn page() -> RawPage {
    RawPage {
        source: PageSource {
            workspace: "acme".into(),
            repo_slug: Some("web-app".into()),
            endpoint: Endpoint::Pipelines,
            location: "bench".into(),
            page: 1,
            fetched_at: chrono::Utc::now(),
            run: None,
            step: None,
        },
        body: bytes::Bytes::from_static(PAGE),
    }
}

/// serde_json into the borrowed shapes only: the floor under everything else.
#[divan::bench]
fn decode_page() -> usize {
    let parsed: Page<PipelineRun> = decode(black_box(PAGE)).unwrap();
    parsed.values.len()
}

/// Decoding plus appending to the Arrow builders, per page.
#[divan::bench]
fn page_to_builders(bencher: divan::Bencher) {
    let page = page();
    bencher
        .with_inputs(|| Transformer::new(TransformOptions::default()))
        .bench_local_values(|mut t| {
            let mut out = Vec::new();
            t.push(&page, &mut out).unwrap();
            t
        });
}

/// Building a finished 8,192-row batch from 82 pages.
#[divan::bench(sample_count = 20)]
fn build_batch() -> usize {
    let page = page();
    let mut t = Transformer::new(TransformOptions::default());
    let mut out = Vec::new();
    for _ in 0..82 {
        t.push(&page, &mut out).unwrap();
    }
    t.finish(&mut out).unwrap();
    out.iter().map(|b| b.batch.num_rows()).sum()
}

/// The demo rules over a 100-run batch, as transform applies them.
#[divan::bench]
fn rule_matching(bencher: divan::Bencher) {
    let rules = RuleSet::parse(RULES, "demo").unwrap();
    let mut t = Transformer::new(TransformOptions::default());
    let mut out = Vec::new();
    t.push(&page(), &mut out).unwrap();
    t.finish(&mut out).unwrap();
    let batch = out.remove(0).batch;
    bencher.bench_local(|| {
        let mut deployments = DeploymentBuilder::default();
        deployments.append_runs(&rules, black_box(&batch)).unwrap();
        let columns = RunColumns::new(&batch).unwrap();
        (deployments.len(), columns.len())
    });
}
