//! The normalized status of a pipeline run.

/// Maps Bitbucket's state and result names to one of success, failure, cancelled, running or
/// unknown. A COMPLETED run is never a success without a SUCCESSFUL result: the result decides.
pub fn normalized_status(state: Option<&str>, result: Option<&str>) -> &'static str {
    match (state, result) {
        (Some("COMPLETED"), Some("SUCCESSFUL")) => "success",
        (Some("COMPLETED"), Some("FAILED" | "ERROR")) => "failure",
        (Some("COMPLETED"), Some("STOPPED" | "EXPIRED")) => "cancelled",
        (Some("PENDING" | "PARSING" | "IN_PROGRESS"), _) => "running",
        _ => "unknown",
    }
}

/// The normalized status of a step: the run vocabulary, plus `not_run` (a step after a
/// failure, or a manual step never triggered) and `skipped` (a condition left it out).
pub fn normalized_step_status(state: Option<&str>, result: Option<&str>) -> &'static str {
    match (state, result) {
        (_, Some("NOT_RUN")) | (Some("NOT_RUN"), _) => "not_run",
        (_, Some("SKIPPED")) | (Some("SKIPPED"), _) => "skipped",
        (Some("PENDING" | "READY"), _) => "running",
        _ => normalized_status(state, result),
    }
}

#[cfg(test)]
mod tests {
    use super::{normalized_status, normalized_step_status};

    #[test]
    fn step_states_add_not_run_and_skipped() {
        let cases = [
            (Some("COMPLETED"), Some("SUCCESSFUL"), "success"),
            (Some("COMPLETED"), Some("NOT_RUN"), "not_run"),
            (Some("NOT_RUN"), None, "not_run"),
            (Some("COMPLETED"), Some("SKIPPED"), "skipped"),
            (Some("READY"), None, "running"),
            (Some("PENDING"), None, "running"),
            (Some("PAUSED"), None, "unknown"),
            (Some("COMPLETED"), Some("STOPPED"), "cancelled"),
        ];
        for (state, result, want) in cases {
            assert_eq!(normalized_step_status(state, result), want);
        }
    }

    #[test]
    fn every_state_and_result() {
        let cases = [
            (Some("COMPLETED"), Some("SUCCESSFUL"), "success"),
            (Some("COMPLETED"), Some("FAILED"), "failure"),
            (Some("COMPLETED"), Some("ERROR"), "failure"),
            (Some("COMPLETED"), Some("STOPPED"), "cancelled"),
            (Some("COMPLETED"), Some("EXPIRED"), "cancelled"),
            (Some("COMPLETED"), Some("SOMETHING_NEW"), "unknown"),
            (Some("COMPLETED"), None, "unknown"),
            (Some("PENDING"), None, "running"),
            (Some("PARSING"), None, "running"),
            (Some("IN_PROGRESS"), None, "running"),
            (Some("HALTED"), None, "unknown"),
            (None, None, "unknown"),
        ];
        for (state, result, want) in cases {
            assert_eq!(
                normalized_status(state, result),
                want,
                "{state:?} {result:?}"
            );
        }
    }
}
