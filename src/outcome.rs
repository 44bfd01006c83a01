//! How one workspace's export ended: what the nightly summary and the metrics file report.

use crate::exit;
use bbpipe_pipeline::Report;
use serde::Serialize;

/// How one workspace's export ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub workspace: String,
    /// `ok`, `rejected_runs` (committed, some runs set aside) or `failed`.
    pub outcome: &'static str,
    pub exit_code: u8,
    /// Why it failed.
    pub error: Option<String>,
    /// What it did (`null` when it failed).
    pub report: Option<Report>,
}

impl Outcome {
    pub fn of(workspace: &str, result: Result<Report, (u8, String)>) -> Outcome {
        match result {
            Ok(report) => {
                let rejected = report.rejected > 0;
                Outcome {
                    workspace: workspace.to_string(),
                    outcome: if rejected { exit::REJECTED.0 } else { "ok" },
                    exit_code: if rejected { exit::REJECTED.1 } else { 0 },
                    error: None,
                    report: Some(report),
                }
            }
            Err((code, message)) => Outcome {
                workspace: workspace.to_string(),
                outcome: "failed",
                exit_code: code,
                error: Some(message),
                report: None,
            },
        }
    }
}
