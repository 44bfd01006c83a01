//! The pipeline as a library: runs a replay or an export in-process and returns a [`Report`].
//!
//! [`replay`] and [`Export`] wire extract → transform → load with bounded channels, take the
//! workspaces' leases, read the sync state the last export committed, and stop cleanly on
//! SIGTERM/SIGINT once [`signal::install`] was called. [`delivery`] turns a dataset into the
//! delivery report. The `bbpipe` binary only parses
//! arguments, calls these and prints what they return.
//!
//! ```no_run
//! use bbpipe_pipeline::{ReplayJob, WriteOptions, replay};
//!
//! # async fn run() -> Result<(), bbpipe_pipeline::PipelineError> {
//! let mut write = WriteOptions::new("./out");
//! write.rules = Some("fixtures/demo/deploy-rules.toml".into());
//! let job = ReplayJob {
//!     fixtures: "fixtures/demo".into(),
//!     write,
//!     extras: Default::default(),
//!     max_commits_per_deployment: 500,
//! };
//! let report = replay(&job).await?;
//! println!("{} runs, {} deployments", report.pipeline_runs, report.deployments);
//! # Ok(())
//! # }
//! ```

pub mod config;
mod delivery;
mod error;
mod export;
mod options;
mod replay;
mod report;
mod rules_apply;
mod runs;
mod shipped;
pub mod signal;
mod stages;
mod watchdog;
mod writer;

// The stages, for callers that need their types (credentials, rules, destinations): a user of
// the library depends on this crate alone.
pub use bbpipe_extract as extract;
pub use bbpipe_load as load;
pub use bbpipe_model as model;
pub use bbpipe_report as delivery_report;
pub use bbpipe_transform as transform;
pub use delivery::{DeliveryJob, DeliveryOutput, delivery};
pub use error::PipelineError;
pub use export::{Export, ExportJob, normalize_workspace};
pub use options::{LockOptions, WriteOptions};
pub use replay::{ReplayJob, replay};
pub use report::{CredentialReport, ExportReport, Report, Requests, TableReport};
pub use rules_apply::{
    RULES_STATE_KEY, Rederived, RuleChange, RulesApplied, RulesApplyJob, apply_rules,
};
pub use runs::{VisitError, for_each_batch, for_each_run_batch};
pub use shipped::CommitsReport;
