//! End-to-end tests: the real `bbpipe` binary against the bundled fixtures, a local mock of
//! the Bitbucket API (`common::mock`) and a local S3 (moto, started by scripts/test). One test
//! binary with a module per area, so the whole dependency tree is linked once:
//! `cargo test --test e2e export::` runs one area, `cargo test --test e2e -- NAME` one test.

// Test helpers fail loudly: unwrap and panic are how they report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod bad_input;
mod delta;
mod deployment_commits;
mod deployments;
mod docs;
mod export;
mod hostile;
mod load_guarantees;
mod nightly;
mod no_hang;
mod no_run_lost;
mod oauth;
mod partitioning;
mod replay;
mod report;
mod rules_apply;
mod shared_destinations;
mod steps_environments;
mod test_reports;
