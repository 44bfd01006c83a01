//! The shapes of Bitbucket's JSON, as far as bbpipe reads them.
//!
//! Strings borrow from the page where they can. Every enum-like value (states, results, target
//! and trigger types) stays a string, so a value Bitbucket adds tomorrow is kept, not rejected.
//! Fields not listed here are skipped unread, among them secrets such as variables.

use serde::Deserialize;
use std::borrow::Cow;

type Text<'a> = Option<Str<'a>>;

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

/// The pagination envelope. Only `values` is needed here; `next` matters to the extractor.
#[derive(Deserialize)]
pub struct Page<T> {
    pub values: Vec<T>,
}

#[derive(Deserialize)]
pub struct NameAndType<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
}

#[derive(Deserialize)]
pub struct Named<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
}

#[derive(Deserialize)]
pub struct Repository<'a> {
    #[serde(borrow)]
    pub uuid: Str<'a>,
    #[serde(borrow, default)]
    pub slug: Text<'a>,
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub full_name: Text<'a>,
    #[serde(default)]
    pub is_private: Option<bool>,
    #[serde(borrow, default)]
    pub description: Text<'a>,
    #[serde(borrow, default)]
    pub language: Text<'a>,
    #[serde(borrow, default)]
    pub project: Option<Project<'a>>,
    #[serde(borrow, default)]
    pub mainbranch: Option<Named<'a>>,
    #[serde(borrow, default)]
    pub created_on: Text<'a>,
    #[serde(borrow, default)]
    pub updated_on: Text<'a>,
}

#[derive(Deserialize)]
pub struct Project<'a> {
    #[serde(borrow, default)]
    pub key: Text<'a>,
    #[serde(borrow, default)]
    pub name: Text<'a>,
}

#[derive(Deserialize)]
pub struct PipelineRun<'a> {
    #[serde(borrow)]
    pub uuid: Str<'a>,
    pub build_number: i64,
    #[serde(default)]
    pub run_number: Option<i64>,
    #[serde(borrow, default)]
    pub state: Option<State<'a>>,
    #[serde(borrow, default)]
    pub target: Option<Target<'a>>,
    #[serde(borrow, default)]
    pub trigger: Option<NameAndType<'a>>,
    #[serde(borrow, default)]
    pub creator: Option<Creator<'a>>,
    #[serde(borrow, default)]
    pub repository: Option<RepositoryRef<'a>>,
    #[serde(borrow, default)]
    pub created_on: Text<'a>,
    #[serde(borrow, default)]
    pub run_creation_date: Text<'a>,
    #[serde(borrow, default)]
    pub completed_on: Text<'a>,
    #[serde(default)]
    pub duration_in_seconds: Option<i64>,
    #[serde(default)]
    pub build_seconds_used: Option<i64>,
    #[serde(default)]
    pub first_successful: Option<bool>,
    #[serde(default)]
    pub expired: Option<bool>,
    #[serde(default)]
    pub has_variables: Option<bool>,
}

#[derive(Deserialize)]
pub struct State<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub result: Option<NameAndType<'a>>,
    #[serde(borrow, default)]
    pub stage: Option<NameAndType<'a>>,
}

#[derive(Deserialize)]
pub struct Target<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub ref_type: Text<'a>,
    #[serde(borrow, default)]
    pub ref_name: Text<'a>,
    #[serde(borrow, default)]
    pub commit: Option<Commit<'a>>,
    #[serde(borrow, default)]
    pub selector: Option<Selector<'a>>,
    /// Pull-request targets: source and destination branches.
    #[serde(borrow, default)]
    pub source: Text<'a>,
    #[serde(borrow, default)]
    pub destination: Text<'a>,
    #[serde(default)]
    pub pullrequest: Option<PullRequest>,
    /// Merge-queue targets: the branch the queue merges into, and the queued pull requests.
    #[serde(borrow, default)]
    pub target_branch: Text<'a>,
    #[serde(default)]
    pub pullrequest_ids: Option<Vec<i64>>,
}

#[derive(Deserialize)]
pub struct Commit<'a> {
    #[serde(borrow, default)]
    pub hash: Text<'a>,
}

#[derive(Deserialize)]
pub struct Selector<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub pattern: Text<'a>,
}

#[derive(Deserialize)]
pub struct PullRequest {
    #[serde(default)]
    pub id: Option<i64>,
}

#[derive(Deserialize)]
pub struct Creator<'a> {
    #[serde(borrow, default)]
    pub uuid: Text<'a>,
    #[serde(borrow, default)]
    pub account_id: Text<'a>,
    #[serde(borrow, default)]
    pub display_name: Text<'a>,
}

#[derive(Deserialize)]
pub struct RepositoryRef<'a> {
    #[serde(borrow, default)]
    pub uuid: Text<'a>,
}

/// Decodes `body` as `T`; on failure decodes again, slowly, to learn the JSON path of the fault.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, (String, String)> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Ok(value) => Ok(value),
                Err(err) => {
                    let path = json_path(&err.path().to_string());
                    Err((path, err.into_inner().to_string()))
                }
            }
        }
    }
}

fn json_path(path: &str) -> String {
    match path {
        "." | "" => "$".to_string(),
        p if p.starts_with('[') => format!("${p}"),
        p => format!("$.{p}"),
    }
}
