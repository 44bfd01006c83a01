//! The little the extractor reads of a page: enough to paginate and to keep its state.
//! Transform decodes the same bytes in full; both with the shapes of [`bitbucket`].

use super::PAGELEN;
use super::error::ApiError;
use bbpipe_model::bitbucket::{self, ListedRepository, Page};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Decodes a body from `url` as `T`; the error names the URL and the JSON path.
pub(crate) fn parse<'a, T: Deserialize<'a>>(url: &str, body: &'a [u8]) -> Result<T, ApiError> {
    bitbucket::decode(body).map_err(|e| ApiError::Body {
        url: url.to_string(),
        path: e.path,
        message: e.message,
    })
}

/// A repository as discovery lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its slug, as in request paths.
    pub slug: String,
    /// Its uuid: the key of its sync state (slugs change when repositories are renamed).
    pub uuid: String,
}

/// A page of `GET /repositories/{workspace}`.
#[derive(Debug)]
pub struct RepositoriesPage {
    /// The repositories on the page.
    pub repositories: Vec<Listed>,
    /// The total Bitbucket reports, if it does.
    pub size: Option<u64>,
    /// Whether a next page exists.
    pub has_next: bool,
}

impl RepositoriesPage {
    /// Parses one page; the error names the URL and JSON path.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        let page: Page<ListedRepository> = parse(url, body)?;
        let repositories = page
            .values
            .iter()
            .filter_map(|r| {
                let slug = r.slug()?.to_string();
                let uuid = r
                    .uuid
                    .as_deref()
                    .map_or_else(|| slug.clone(), str::to_string);
                Some(Listed { slug, uuid })
            })
            .collect();
        Ok(RepositoriesPage {
            repositories,
            size: page.size,
            has_next: page.next.is_some(),
        })
    }
}

/// What the extractor needs to know of one pipeline run.
#[derive(Debug, Clone)]
pub struct RunHeader {
    /// The run's uuid.
    pub uuid: String,
    /// When it was first created.
    pub created_on: Option<DateTime<Utc>>,
    /// When its latest run (attempt) was created; a re-run raises it.
    pub run_creation_date: Option<DateTime<Utc>>,
    /// Whether it has completed.
    pub completed: bool,
    /// Its build number, where readable.
    pub build_number: Option<i64>,
    /// Its attempt (1 unless re-run).
    pub run_number: Option<i64>,
    /// What changes when anything about an unfinished run changes: state, stage, attempt,
    /// duration and build seconds. A run whose fingerprint is as last read has the same steps.
    pub fingerprint: String,
    /// The commit it built (test reports are matched by it).
    pub commit: Option<String>,
    /// The branch or tag it built; a pull request's source branch.
    pub ref_name: Option<String>,
}

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl RunHeader {
    fn from(run: bitbucket::RunHeader) -> Self {
        let state = run.state.as_ref();
        let name = state.and_then(|s| s.name.as_deref());
        let stage = state
            .and_then(|s| s.stage.as_ref())
            .and_then(|s| s.name.as_deref());
        let number = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
        let fingerprint = format!(
            "{}/{}/{}/{}/{}",
            name.unwrap_or("-"),
            stage.unwrap_or("-"),
            number(run.run_number),
            number(run.duration_in_seconds),
            number(run.build_seconds_used)
        );
        let target = run.target();
        let target = target.as_ref();
        RunHeader {
            commit: target.and_then(|t| t.commit_hash()).map(str::to_string),
            ref_name: target.and_then(|t| t.branch()).map(str::to_string),
            created_on: time(run.created_on.as_deref()),
            run_creation_date: time(run.run_creation_date.as_deref()),
            completed: name == Some("COMPLETED"),
            fingerprint,
            uuid: run.uuid.to_string(),
            build_number: run.build_number,
            run_number: run.run_number,
        }
    }

    /// The time `-run_creation_date` orders by: the latest attempt's, else the creation.
    pub fn latest_run_at(&self) -> Option<DateTime<Utc>> {
        self.run_creation_date.or(self.created_on)
    }

    /// One run, as `GET .../pipelines/{uuid}` returns it.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        parse::<bitbucket::RunHeader>(url, body).map(RunHeader::from)
    }
}

/// A page of `GET .../pipelines`.
#[derive(Debug)]
pub struct PipelinesPage {
    /// The runs on the page whose header could be read.
    pub runs: Vec<RunHeader>,
    /// Values on the page, readable or not: what tells a short (last) page.
    pub count: usize,
    /// The total Bitbucket reports, if it does.
    pub size: Option<u64>,
    /// Whether a next page exists.
    pub has_next: bool,
}

impl PipelinesPage {
    /// Parses the page; a run whose header cannot be read is left out here (transform reports
    /// it, with its path, in the `rejects` table) rather than failing the whole page.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        let page: Page<&serde_json::value::RawValue> = parse(url, body)?;
        let count = page.values.len();
        let runs = page
            .values
            .into_iter()
            .filter_map(|raw| serde_json::from_str::<bitbucket::RunHeader>(raw.get()).ok())
            .map(RunHeader::from)
            .collect();
        Ok(PipelinesPage {
            runs,
            count,
            size: page.size,
            has_next: page.next.is_some(),
        })
    }

    /// How many pages the whole listing has, where Bitbucket reports its size.
    pub fn page_count(&self) -> Option<u32> {
        self.size
            .map(|size| u32::try_from(size.div_ceil(u64::from(PAGELEN))).unwrap_or(u32::MAX))
    }

    /// The oldest creation time on the page.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        self.runs.iter().filter_map(|r| r.created_on).min()
    }

    /// The oldest latest-run time on the page.
    pub fn oldest_run_at(&self) -> Option<DateTime<Utc>> {
        self.runs.iter().filter_map(RunHeader::latest_run_at).min()
    }

    /// The newest creation time on the page.
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        self.runs.iter().filter_map(|r| r.created_on).max()
    }
}

/// How a listing is sorted, and so in which order its times must come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOrder {
    /// `sort=created_on`: oldest first. New runs only append at the end.
    CreatedAscending,
    /// `sort=-created_on`: newest first.
    CreatedDescending,
    /// `sort=-run_creation_date`: latest attempt first; re-runs come to the top.
    RunCreationDescending,
}

impl RunOrder {
    /// The `sort` parameter.
    pub fn sort(self) -> &'static str {
        match self {
            RunOrder::CreatedAscending => "created_on",
            RunOrder::CreatedDescending => "-created_on",
            RunOrder::RunCreationDescending => "-run_creation_date",
        }
    }

    fn key(self, run: &RunHeader) -> Option<DateTime<Utc>> {
        match self {
            RunOrder::CreatedAscending | RunOrder::CreatedDescending => run.created_on,
            RunOrder::RunCreationDescending => run.latest_run_at(),
        }
    }

    /// Whether `runs`, following a run whose key was `before`, come in this order. Equal times
    /// are in order; runs without the time are not judged.
    pub fn holds(self, before: Option<DateTime<Utc>>, runs: &[RunHeader]) -> bool {
        let mut previous = before;
        for key in runs.iter().filter_map(|r| self.key(r)) {
            if let Some(p) = previous {
                let ordered = match self {
                    RunOrder::CreatedAscending => p <= key,
                    _ => p >= key,
                };
                if !ordered {
                    return false;
                }
            }
            previous = Some(key);
        }
        true
    }

    /// The key of the last run of `runs` that has one.
    pub fn last_key(self, runs: &[RunHeader]) -> Option<DateTime<Utc>> {
        runs.iter().rev().find_map(|r| self.key(r))
    }
}

/// A page of a listing extract only paginates (environments, steps): whether more follow.
#[derive(Debug)]
pub struct ListingPage {
    /// Items on the page.
    pub count: usize,
    /// Whether a next page exists.
    pub has_next: bool,
}

impl ListingPage {
    /// Parses the envelope; the values are transform's to read.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        let page: Page<serde::de::IgnoredAny> = parse(url, body)?;
        Ok(ListingPage {
            count: page.values.len(),
            has_next: page.next.is_some(),
        })
    }
}

/// A page of `GET .../deployments`: when each deployment started, to stop at the watermark.
#[derive(Debug)]
pub struct DeploymentsPage {
    /// `state.started_on` of each deployment, in page order (`None` where absent).
    pub started: Vec<Option<DateTime<Utc>>>,
    /// Whether a next page exists.
    pub has_next: bool,
}

impl DeploymentsPage {
    /// Parses the page; a deployment whose start cannot be read counts as not started.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        let page: Page<&serde_json::value::RawValue> = parse(url, body)?;
        let started = page
            .values
            .iter()
            .map(|raw| {
                serde_json::from_str::<bitbucket::Deployment>(raw.get())
                    .ok()
                    .and_then(|d| d.state)
                    .and_then(|s| time(s.started_on.as_deref()))
            })
            .collect();
        Ok(DeploymentsPage {
            started,
            has_next: page.next.is_some(),
        })
    }

    /// The oldest start on the page.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        self.started.iter().flatten().min().copied()
    }

    /// Whether starts come newest first, after a page whose last start was `before`.
    pub fn newest_first(&self, before: Option<DateTime<Utc>>) -> bool {
        let mut previous = before;
        for started in self.started.iter().flatten() {
            if previous.is_some_and(|p| p < *started) {
                return false;
            }
            previous = Some(*started);
        }
        true
    }

    /// The last start on the page.
    pub fn last(&self) -> Option<DateTime<Utc>> {
        self.started.iter().rev().flatten().next().copied()
    }
}

/// A page of `GET .../commits/{revision}`: how many commits, and where the next page starts.
#[derive(Debug)]
pub struct CommitsPage {
    /// Commits on the page.
    pub count: usize,
    /// The `page` parameter of the `next` link (Bitbucket's commit pages may be opaque
    /// tokens): bbpipe builds the next URL itself, on the configured origin.
    pub next_page: Option<String>,
    /// Whether a next page exists.
    pub has_next: bool,
}

impl CommitsPage {
    /// Parses the envelope; the commits are transform's to read.
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Envelope {
            values: Vec<serde::de::IgnoredAny>,
            #[serde(default)]
            next: Option<String>,
        }
        let page: Envelope = parse(url, body)?;
        let next_page = page.next.as_deref().and_then(|next| {
            let next = url::Url::parse(next).ok()?;
            next.query_pairs()
                .find(|(name, _)| name == "page")
                .map(|(_, value)| value.into_owned())
        });
        Ok(CommitsPage {
            count: page.values.len(),
            has_next: page.next.is_some(),
            next_page,
        })
    }
}
