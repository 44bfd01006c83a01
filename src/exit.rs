//! Exit codes, documented in docs/reference/exit-codes.md: 0 ok, 1 failure, 2 usage, 3-7 access problems, 8 runs
//! rejected, 9 another export holds the workspace, 10 nothing to report in the window, 130/143
//! interrupted.

use bbpipe_pipeline::PipelineError;
use bbpipe_pipeline::extract::ExtractError;
use bbpipe_pipeline::extract::api::ApiError;
use std::fmt;

/// An error that ends the process with a specific exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The outcome names of `bbpipe check`, with their exit codes.
pub const INVALID_CREDENTIALS: (&str, u8) = ("invalid_credentials", 3);
pub const INVALID_PERMISSIONS: (&str, u8) = ("invalid_permissions", 4);
pub const NO_RESOURCES: (&str, u8) = ("no_resources", 5);
pub const WORKSPACE_NOT_FOUND: (&str, u8) = ("workspace_not_found", 6);
pub const UNREACHABLE: (&str, u8) = ("unreachable", 7);
pub const FAILED: (&str, u8) = ("error", 1);
/// Runs that could not be decoded were set aside in the `rejects` table; the rest committed.
pub const REJECTED: (&str, u8) = ("rejected_runs", 8);
/// Another export holds the workspace's lease (or took it over, or committed first).
pub const LOCKED: (&str, u8) = ("locked", 9);
/// `bbpipe report`: the window holds no run and no deployment.
pub const EMPTY_REPORT: (&str, u8) = ("empty_report", 10);

/// Classifies an API error as `check` reports it; `listing` says whether it came from the
/// repositories listing (where 404 means the workspace does not exist).
pub fn classify(error: &ApiError, listing: bool) -> (&'static str, u8) {
    match error {
        ApiError::Status { status: 401, .. } => INVALID_CREDENTIALS,
        ApiError::Token {
            status: 400 | 401, ..
        } => INVALID_CREDENTIALS,
        ApiError::Status { status: 403, .. } => INVALID_PERMISSIONS,
        ApiError::Status { status: 404, .. } if listing => WORKSPACE_NOT_FOUND,
        ApiError::Unreachable { .. } => UNREACHABLE,
        _ => FAILED,
    }
}

/// The exit code of a failed replay or export: access problems keep `check`'s codes (a 404
/// can only come from the repositories listing: a repository's 404 is skipped), another
/// writer is 9, a signal 128 + its number, anything else 1.
pub fn of(error: &PipelineError) -> u8 {
    match error.root() {
        PipelineError::Contention(_) => LOCKED.1,
        PipelineError::EmptyReport { .. } => EMPTY_REPORT.1,
        PipelineError::Interrupted(signal) => signal.exit_code(),
        PipelineError::Extract(ExtractError::Api(api)) => classify(api, true).1,
        _ => FAILED.1,
    }
}

/// The worst of exit codes: a failure (the highest code among them), else 8 (runs set aside),
/// else 0.
pub fn worst(codes: &[u8]) -> u8 {
    let failures = codes
        .iter()
        .copied()
        .filter(|c| *c != 0 && *c != REJECTED.1);
    failures.max().unwrap_or_else(|| {
        if codes.contains(&REJECTED.1) {
            REJECTED.1
        } else {
            0
        }
    })
}
