//! The little the extractor reads of a page: enough to paginate and to keep its state.
//! Transform decodes the same bytes in full.

use super::error::ApiError;
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope<T> {
    values: Vec<T>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    next: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Repo {
    slug: Option<String>,
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct Run {
    uuid: String,
    #[serde(default)]
    created_on: Option<String>,
    #[serde(default)]
    state: Option<State>,
}

#[derive(Deserialize)]
struct State {
    #[serde(default)]
    name: Option<String>,
}

fn parse<'a, T: Deserialize<'a>>(url: &str, body: &'a [u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| ApiError::Body {
        url: url.to_string(),
        path: format!("$.{}", e.path()),
        message: e.into_inner().to_string(),
    })
}

/// A page of `GET /repositories/{workspace}`.
#[derive(Debug)]
pub struct RepositoriesPage {
    pub slugs: Vec<String>,
    pub size: Option<u64>,
    pub has_next: bool,
}

impl RepositoriesPage {
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        let page: Envelope<Repo> = parse(url, body)?;
        let slugs = page
            .values
            .into_iter()
            .filter_map(|r| {
                r.slug.or_else(|| {
                    r.full_name
                        .and_then(|f| f.split_once('/').map(|(_, s)| s.to_string()))
                })
            })
            .collect();
        Ok(RepositoriesPage {
            slugs,
            size: page.size,
            has_next: page.next.is_some(),
        })
    }
}

/// What the extractor needs to know of one pipeline run.
#[derive(Debug, Clone)]
pub struct RunHeader {
    pub uuid: String,
    pub created_on: Option<DateTime<Utc>>,
    pub completed: bool,
}

impl RunHeader {
    fn from(run: Run) -> Self {
        RunHeader {
            created_on: run
                .created_on
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            completed: run.state.and_then(|s| s.name).as_deref() == Some("COMPLETED"),
            uuid: run.uuid,
        }
    }

    /// One run, as `GET .../pipelines/{uuid}` returns it.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        parse::<Run>(url, body).map(RunHeader::from)
    }
}

/// A page of `GET .../pipelines`.
#[derive(Debug)]
pub struct PipelinesPage {
    pub runs: Vec<RunHeader>,
    pub size: Option<u64>,
    pub has_next: bool,
}

impl PipelinesPage {
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        let page: Envelope<Run> = parse(url, body)?;
        let runs = page.values.into_iter().map(RunHeader::from).collect();
        Ok(PipelinesPage {
            runs,
            size: page.size,
            has_next: page.next.is_some(),
        })
    }

    /// The oldest creation time on the page (pages come newest first).
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        self.runs.iter().filter_map(|r| r.created_on).min()
    }
}
