//! The shapes of Bitbucket's JSON, as far as bbpipe reads them: the one place that knows them.
//!
//! Extract reads a little of each page (to paginate and keep its state), transform reads it
//! whole; both decode with these types and report faults with [`decode`]'s JSON paths.
//! Strings borrow from the page where they can. Every enum-like value (states, results, target
//! and trigger types) stays a string, so a value Bitbucket adds tomorrow is kept, not rejected.
//! Fields not listed here are skipped unread, among them secrets such as variables, step
//! commands and image credentials.

mod commit;
mod environment;
mod repository;
mod run;
mod slug;
mod step;
mod test_reports;

pub use commit::{AccountRef, CommitAuthor, RepositoryCommit};
pub use environment::{Deployable, Deployment, DeploymentState, Environment, EnvironmentType};
pub use repository::{ListedRepository, Project, Repository, slug_of};
pub use run::{
    Commit, Creator, PipelineRun, PullRequest, RepositoryRef, RunHeader, Selector, State,
    StateName, Target, TargetHeader,
};
pub use slug::{MAX_SEGMENT_BYTES, segment_problem, shown, workspace_slug_problem};
pub use step::{Image, ResourceLimits, Step, StepState};
pub use test_reports::{TestCase, TestReport, duration_seconds};

use serde::Deserialize;
use std::borrow::Cow;

/// An optional JSON string.
pub type Text<'a> = Option<Str<'a>>;

/// A JSON string, borrowed from the page unless it contains escapes.
///
/// serde's own `Cow<str>` always copies when wrapped in an `Option`; this does not.
pub struct Str<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// The pagination envelope of every list endpoint.
#[derive(Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub values: Vec<T>,
    /// The total number of items, where Bitbucket counts them.
    #[serde(default)]
    pub size: Option<u64>,
    /// Present unless this is the last page. Its URL is not followed (pages are requested by
    /// number, and credentials never go where a link says), so it is not read.
    #[serde(default)]
    pub next: Option<serde::de::IgnoredAny>,
}

/// `name` and `type`, as states, results, stages and triggers carry them.
#[derive(Deserialize)]
pub struct NameAndType<'a> {
    /// e.g. `SUCCESSFUL`.
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// e.g. `pipeline_state_completed_successful`.
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
}

/// An object of which only the uuid is read: a repository, a run, a step, an environment.
#[derive(Deserialize)]
pub struct Uuid<'a> {
    /// Its uuid, with braces.
    #[serde(borrow, default)]
    pub uuid: Text<'a>,
}

/// An object of which only the name is read.
#[derive(Deserialize)]
pub struct Named<'a> {
    /// Its name.
    #[serde(borrow, default)]
    pub name: Text<'a>,
}

/// Where in a body decoding failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {path}: {message}")]
pub struct DecodeError {
    /// JSON path of the offending value, e.g. `$.values[3].build_number`.
    pub path: String,
    /// What was wrong there.
    pub message: String,
}

/// Decodes `body` as `T`; on failure decodes again, slowly, to learn the JSON path of the fault.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            // A value from outside can be megabytes long: the error shows its start and length.
            serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|err| DecodeError {
                path: shown(&json_path(&err.path().to_string())),
                message: shown(&err.into_inner().to_string()),
            })
        }
    }
}

/// `$`-rooted JSON path from serde_path_to_error's (`.` at the root, `[3].a` in arrays).
pub fn json_path(path: &str) -> String {
    match path {
        "." | "" => "$".to_string(),
        p if p.starts_with('[') => format!("${p}"),
        p => format!("$.{p}"),
    }
}

/// The path of `inner` (a path within item `index` of a page's `values`) in the page.
pub fn value_path(index: usize, inner: &str) -> String {
    format!("$.values[{index}]{}", inner.trim_start_matches('$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_are_rooted_at_dollar() {
        assert_eq!(json_path("."), "$");
        assert_eq!(json_path("values[3].uuid"), "$.values[3].uuid");
        assert_eq!(json_path("[2]"), "$[2]");
        assert_eq!(value_path(7, "$.created_on"), "$.values[7].created_on");
        assert_eq!(value_path(7, "$"), "$.values[7]");
        let error = decode::<Page<PipelineRun>>(br#"{"values": [{"uuid": "{a}"}]}"#)
            .err()
            .map(|e| e.path);
        assert_eq!(error.as_deref(), Some("$.values[0]"));
        let error = decode::<Page<RunHeader>>(b"[]").err().map(|e| e.path);
        assert_eq!(error.as_deref(), Some("$"));
    }

    #[test]
    fn a_long_bad_value_is_shown_cut() {
        // A string where a number belongs: serde's message quotes the value, whole.
        let body = format!(
            r#"{{"values": [{{"uuid": "{{a}}", "build_number": "{}"}}]}}"#,
            "9".repeat(100_000)
        );
        let message = decode::<Page<PipelineRun>>(body.as_bytes())
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(
            message.len() < 400,
            "{} bytes: {}",
            message.len(),
            shown(&message)
        );
        assert!(message.contains("bytes in all"), "{message}");
    }
}
