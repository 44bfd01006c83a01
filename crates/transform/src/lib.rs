//! Transform: raw Bitbucket pages to normalized Arrow record batches.
//!
//! [`Transformer`] decodes one [`RawPage`](bbpipe_model::RawPage) at a time with the shapes of
//! [`bbpipe_model::bitbucket`] (strings borrowed from the page) straight into Arrow builders, and emits a
//! [`TableBatch`](bbpipe_model::TableBatch) whenever a table's batch fills up. Unknown enum
//! values are kept as strings; a run that cannot be decoded goes to the `rejects` table, and a
//! page that is not the JSON Bitbucket sends is an error naming the page and the JSON path.
//! [`rules`] infers deployments from completed runs.

mod environments;
mod error;
mod rejects;
mod repositories;
mod row;
pub mod rules;
mod runs;
pub mod shipped;
mod stage;
mod status;
mod steps;
mod test_reports;
mod timestamp;
mod transformer;

pub use error::TransformError;
pub use rules::{RuleSet, RulesError};
pub use stage::run_stage;
pub use status::{normalized_status, normalized_step_status};
pub use timestamp::parse_micros;
pub use transformer::{TransformOptions, TransformSummary, Transformer};
