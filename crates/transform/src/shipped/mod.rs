//! Commits and lead time: which successful deployments need their commits looked up, and the
//! rows of `deployment_commits` built from the answers.
//!
//! A deployment ships the commits reachable from its commit and not from the commit of the
//! previous successful deployment of the same repository, service and environment (failed
//! deployments ship nothing: their commits go with the next success). [`plan`] walks each
//! such chain in deployment order and asks only about deployments the dataset has not
//! answered yet, or whose predecessor or time changed since; [`CommitRowsBuilder`] turns an
//! answer into rows.

mod plan;
mod rows;

/// Commits kept per deployment unless told otherwise (`--max-commits-per-deployment`).
pub const DEFAULT_MAX_COMMITS: usize = bbpipe_model::defaults::MAX_COMMITS_PER_DEPLOYMENT;

pub use plan::{Deployed, EarlierLookup, Lookup, LookupPlan, plan};
pub use rows::{Answer, CommitRowsBuilder, Reason};
