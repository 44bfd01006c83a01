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

#[cfg(test)]
mod tests {
    use super::normalized_status;

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
