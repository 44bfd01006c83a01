//! Record mode: every raw page written in the fixture layout, for offline replay.

use crate::error::ExtractError;
use crate::layout::{
    COMMITS_GONE_FILE, RECORDING_FILE, Recording, commit_range_dir, listing_path, page_path,
    run_path, steps_path, test_page_path,
};
use bbpipe_model::bitbucket::Page;
use bbpipe_model::{Endpoint, Recorded};
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Writes response bodies as received, less the secrets Bitbucket puts in them. bbpipe's own
/// Authorization header is never part of a response; but runs carry the values of unsecured
/// pipeline variables (left out) and steps carry image credentials
/// and `*_commands` with the clone command's token template (a steps page is recorded with only
/// the fields `pipeline_steps` exports).
pub struct Recorder {
    root: PathBuf,
    runs_written: AtomicU32,
    /// Pipelines pages written per repository: they are numbered in the order read, so a
    /// page read twice (a walk started again) never overwrites the first reading.
    pages_written: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Recorder {
    /// Refuses a directory that already holds files: pages of an older recording left beside
    /// the new ones would replay as if fetched together.
    pub fn new(root: &Path) -> Result<Self, ExtractError> {
        std::fs::create_dir_all(root).map_err(ExtractError::io(root))?;
        let mut entries = std::fs::read_dir(root).map_err(ExtractError::io(root))?;
        if entries.next().is_some() {
            return Err(ExtractError::Layout {
                path: root.to_path_buf(),
                message: "--record needs a new or empty directory".into(),
            });
        }
        Ok(Recorder {
            root: root.to_path_buf(),
            runs_written: AtomicU32::new(0),
            pages_written: std::sync::Mutex::default(),
        })
    }

    async fn write(&self, path: PathBuf, body: &[u8]) -> Result<(), ExtractError> {
        // Paths are built from slugs and uuids the API sent: nothing lands outside the root,
        // whatever they held (discovery sets unsafe slugs aside; this is the last word).
        let inside = path.strip_prefix(&self.root).is_ok_and(|rest| {
            rest.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        });
        if !inside {
            return Err(ExtractError::Layout {
                path: PathBuf::from(bbpipe_model::bitbucket::shown(&path.to_string_lossy())),
                message: "a value from the API would put this recorded page outside the \
                          recording: not written"
                    .into(),
            });
        }
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(ExtractError::io(dir))?;
        }
        tokio::fs::write(&path, body)
            .await
            .map_err(ExtractError::io(&path))
    }

    /// A page: repositories pages by their page number, pipelines pages numbered in the order
    /// they were read.
    async fn page(
        &self,
        workspace: &str,
        repo_slug: Option<&str>,
        page: u32,
        body: &[u8],
    ) -> Result<(), ExtractError> {
        let number = match repo_slug {
            None => page,
            Some(slug) => self.next_number(&format!("{workspace}/{slug}")),
        };
        let path = page_path(&self.root, workspace, repo_slug, number);
        let body = match repo_slug {
            Some(_) => without_variables(body, true).map_err(|message| ExtractError::Layout {
                path: path.clone(),
                message,
            })?,
            None => Cow::Borrowed(body),
        };
        self.write(path, &body).await
    }

    /// A page of a repository's environments or deployments, numbered in the order read.
    async fn listing(
        &self,
        workspace: &str,
        repo_slug: &str,
        endpoint: Endpoint,
        body: &[u8],
    ) -> Result<(), ExtractError> {
        let number = self.next_number(&format!("{workspace}/{repo_slug}/{}", endpoint.as_str()));
        self.write(
            listing_path(&self.root, workspace, repo_slug, endpoint, number),
            body,
        )
        .await
    }

    /// Page `page` of a run's steps, secrets left out: only the fields exported are kept.
    pub async fn steps(
        &self,
        workspace: &str,
        repo_slug: &str,
        run_uuid: &str,
        page: u32,
        body: &[u8],
    ) -> Result<(), ExtractError> {
        let path = steps_path(&self.root, workspace, repo_slug, run_uuid, page);
        let redacted = redact_steps(body).map_err(|message| ExtractError::Layout {
            path: path.clone(),
            message,
        })?;
        self.write(path, &redacted).await
    }

    /// A page of a step's test report (the counts, or a page of its cases), numbered in the
    /// order read under the step, with only the fields its table reads: a failure's message
    /// and stack trace (which can quote anything the test saw) are left out.
    pub async fn test_page(
        &self,
        workspace: &str,
        repo_slug: &str,
        endpoint: Endpoint,
        (run_uuid, step_uuid): (&str, &str),
        body: &[u8],
    ) -> Result<(), ExtractError> {
        let key = format!(
            "{workspace}/{repo_slug}/{}/{run_uuid}/{step_uuid}",
            endpoint.as_str()
        );
        let n = self.next_number(&key);
        let path = test_page_path(
            &self.root,
            workspace,
            repo_slug,
            endpoint,
            (run_uuid, step_uuid),
            n,
        );
        let redacted =
            redact_test_page(endpoint, body).map_err(|message| ExtractError::Layout {
                path: path.clone(),
                message,
            })?;
        self.write(path, &redacted).await
    }

    /// The answer to one commits question (`new`, less what `old` reaches): its pages, each
    /// cut down to what `deployment_commits` reads (messages only when `messages`), or `None`
    /// for a 404. Written to a `.partial` directory renamed at the end, so that an interrupted
    /// recording never holds half an answer.
    pub async fn commits(
        &self,
        workspace: &str,
        repo_slug: &str,
        range: (&str, Option<&str>),
        pages: Option<&[bytes::Bytes]>,
        messages: bool,
    ) -> Result<(), ExtractError> {
        let dir = commit_range_dir(&self.root, workspace, repo_slug, range.0, range.1);
        let partial = dir.with_extension("partial");
        match pages {
            None => {
                let body = br#"{"type": "error", "error": {"message": "Commit not found"}}"#;
                self.write(partial.join(COMMITS_GONE_FILE), body).await?;
            }
            Some(pages) => {
                for (index, body) in pages.iter().enumerate() {
                    let path = partial.join(format!("page-{:04}.json", index + 1));
                    let redacted =
                        redact_commits(body, messages).map_err(|message| ExtractError::Layout {
                            path: path.clone(),
                            message,
                        })?;
                    self.write(path, &redacted).await?;
                }
            }
        }
        tokio::fs::rename(&partial, &dir)
            .await
            .map_err(ExtractError::io(&dir))
    }

    /// Records a page as its endpoint's spec says ([`Recorded`]): repositories by page number,
    /// pipelines pages and listings numbered in the order read, single runs across
    /// repositories. Steps are recorded under their run ([`Recorder::steps`]) and commits by
    /// the commits pass ([`Recorder::commits`]); a page of theirs here is a bug, an error.
    pub(crate) async fn record(
        &self,
        workspace: &str,
        endpoint: Endpoint,
        repo_slug: Option<&str>,
        url: &url::Url,
        page: u32,
        body: &[u8],
    ) -> Result<(), ExtractError> {
        match (endpoint.spec().recording, repo_slug) {
            (Recorded::AsReceivedByPage | Recorded::RunsInReadOrder, _) => {
                self.page(workspace, repo_slug, page, body).await
            }
            (Recorded::SingleRuns, Some(slug)) => self.run(workspace, slug, body).await,
            (Recorded::AsReceivedInReadOrder, Some(slug)) => {
                self.listing(workspace, slug, endpoint, body).await
            }
            (
                Recorded::StepFieldsOnly | Recorded::CommitFieldsOnly | Recorded::TestFieldsOnly,
                _,
            )
            | (Recorded::SingleRuns | Recorded::AsReceivedInReadOrder, None) => {
                Err(self.misplaced(endpoint, url))
            }
        }
    }

    /// The error for a page `record` cannot place: one whose endpoint is recorded elsewhere.
    fn misplaced(&self, endpoint: Endpoint, url: &url::Url) -> ExtractError {
        ExtractError::Layout {
            path: self.root.clone(),
            message: format!(
                "{} page {url} reached the recorder without what its layout needs \
                 (a repository, or its run): a bug in bbpipe",
                endpoint.as_str()
            ),
        }
    }

    fn next_number(&self, key: &str) -> u32 {
        let mut written = self
            .pages_written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = written.entry(key.to_string()).or_default();
        *n += 1;
        *n
    }

    /// Writes every page it receives to the recording, passing it on.
    async fn run(&self, workspace: &str, repo_slug: &str, body: &[u8]) -> Result<(), ExtractError> {
        // Numbered across repositories, so two repositories never clash.
        let n = self.runs_written.fetch_add(1, Ordering::Relaxed) + 1;
        let path = run_path(&self.root, workspace, repo_slug, n);
        let body = without_variables(body, false).map_err(|message| ExtractError::Layout {
            path: path.clone(),
            message,
        })?;
        self.write(path, &body).await
    }

    /// Written last: a recording without it was interrupted.
    pub async fn finish(
        &self,
        recorded_at: DateTime<Utc>,
        source: &str,
    ) -> Result<(), ExtractError> {
        let recording = Recording {
            format: 1,
            recorded_at,
            source: source.to_string(),
        };
        let json = serde_json::to_vec_pretty(&recording).map_err(|e| ExtractError::Layout {
            path: self.root.clone(),
            message: e.to_string(),
        })?;
        self.write(self.root.join(RECORDING_FILE), &json).await
    }
}

/// A pipelines page (`listing`) or one run without the runs' `variables`: Bitbucket returns the
/// values of unsecured pipeline variables, and bbpipe never records them. Only the runs that
/// carry them are rewritten (their keys then in order); the rest of the page stays as received.
pub fn without_variables(body: &[u8], listing: bool) -> Result<Cow<'_, [u8]>, String> {
    const KEY: &[u8] = b"\"variables\"";
    let mentions = |bytes: &[u8]| bytes.windows(KEY.len()).any(|w| w == KEY);
    if !mentions(body) {
        return Ok(Cow::Borrowed(body));
    }
    if !listing {
        return Ok(redact_run(body).map_or(Cow::Borrowed(body), Cow::Owned));
    }
    let Ok(page) = serde_json::from_slice::<Page<&RawValue>>(body) else {
        // Not a page: transform reports it; it holds no run's variables to keep out.
        return Ok(Cow::Borrowed(body));
    };
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    for raw in page.values {
        let text = raw.get().as_bytes();
        if !mentions(text) {
            continue;
        }
        let Some(redacted) = redact_run(text) else {
            continue;
        };
        // The run's place in the body: RawValue borrows from it.
        let at = (text.as_ptr() as usize)
            .checked_sub(body.as_ptr() as usize)
            .filter(|at| at + text.len() <= body.len())
            .ok_or("a run outside its page")?;
        out.extend_from_slice(&body[copied..at]);
        out.extend_from_slice(&redacted);
        copied = at + text.len();
    }
    out.extend_from_slice(&body[copied..]);
    Ok(Cow::Owned(out))
}

/// One run's JSON without its `variables`; `None` when it has none or is not an object.
fn redact_run(run: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(run).ok()?;
    value.remove("variables")?;
    serde_json::to_vec(&value).ok()
}

/// The fields of a step that `pipeline_steps` reads: everything else (image credentials,
/// script, setup and teardown commands, variables, whatever Bitbucket adds) is left out of a
/// recording.
const STEP_FIELDS: &[&str] = &[
    "type",
    "uuid",
    "name",
    "pipeline",
    "run_number",
    "started_on",
    "completed_on",
    "duration_in_seconds",
    "build_seconds_used",
    "maxTime",
    "max_time",
    "trigger",
    "state",
    "size",
    "resource_limits",
    "environment",
];

/// A steps page with each step cut down to [`STEP_FIELDS`], and its image to its name.
pub fn redact_steps(body: &[u8]) -> Result<Vec<u8>, String> {
    use serde_json::{Map, Value};
    let mut page: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| format!("a steps page that is not JSON: {e}"))?;
    if let Some(Value::Array(steps)) = page.get_mut("values") {
        for step in steps.iter_mut() {
            let Value::Object(fields) = step else {
                continue;
            };
            let image = fields
                .get("image")
                .and_then(|i| i.get("name"))
                .cloned()
                .map(|name| Value::Object(Map::from_iter([("name".to_string(), name)])));
            fields.retain(|key, _| STEP_FIELDS.contains(&key.as_str()));
            if let Some(image) = image {
                fields.insert("image".into(), image);
            }
        }
    }
    serde_json::to_vec_pretty(&Value::Object(page)).map_err(|e| e.to_string())
}

/// The fields of a test report's counts and of a test case that their tables read.
const TEST_REPORT_FIELDS: &[&str] = &[
    "number_of_test_cases",
    "number_of_successful_test_cases",
    "number_of_failed_test_cases",
    "number_of_error_test_cases",
    "number_of_skipped_test_cases",
];
const TEST_CASE_FIELDS: &[&str] = &[
    "uuid",
    "name",
    "fully_qualified_name",
    "package_name",
    "status",
    "duration",
];

/// A test report (its counts) or a page of its cases, cut down to what the tables read.
pub fn redact_test_page(endpoint: Endpoint, body: &[u8]) -> Result<Vec<u8>, String> {
    use serde_json::{Map, Value};
    let mut object: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| format!("a {} page that is not JSON: {e}", endpoint.as_str()))?;
    if endpoint == Endpoint::TestReports {
        object.retain(|key, _| TEST_REPORT_FIELDS.contains(&key.as_str()));
    } else if let Some(Value::Array(cases)) = object.get_mut("values") {
        for case in cases.iter_mut() {
            if let Value::Object(fields) = case {
                fields.retain(|key, _| TEST_CASE_FIELDS.contains(&key.as_str()));
            }
        }
    }
    serde_json::to_vec_pretty(&Value::Object(object)).map_err(|e| e.to_string())
}

/// A commits page with each commit cut down to its hash, date, author's account id, parents'
/// hashes and (only with `messages`) its message: the author's name and email (`raw`), the
/// rendered summary and links are left out of a recording.
pub fn redact_commits(body: &[u8], messages: bool) -> Result<Vec<u8>, String> {
    use serde_json::{Map, Value, json};
    let mut page: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| format!("a commits page that is not JSON: {e}"))?;
    if let Some(Value::Array(commits)) = page.get_mut("values") {
        for commit in commits.iter_mut() {
            let Value::Object(fields) = commit else {
                continue;
            };
            let mut kept = Map::new();
            for key in ["type", "hash", "date"] {
                if let Some(value) = fields.get(key) {
                    kept.insert(key.into(), value.clone());
                }
            }
            let account = fields
                .get("author")
                .and_then(|a| a.pointer("/user/account_id"));
            if let Some(account) = account {
                kept.insert(
                    "author".into(),
                    json!({"type": "author", "user": {"account_id": account}}),
                );
            }
            if let Some(Value::Array(parents)) = fields.get("parents") {
                let parents: Vec<Value> = parents
                    .iter()
                    .filter_map(|p| p.get("hash"))
                    .map(|hash| json!({"hash": hash}))
                    .collect();
                kept.insert("parents".into(), Value::Array(parents));
            }
            if messages && let Some(message) = fields.get("message") {
                kept.insert("message".into(), message.clone());
            }
            *fields = kept;
        }
    }
    serde_json::to_vec_pretty(&Value::Object(page)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::{Cow, redact_commits, redact_steps, without_variables};

    #[test]
    fn recorded_commits_keep_only_what_is_exported() {
        let body = br#"{"values": [{"hash": "abc", "date": "2026-11-20T10:00:00+00:00",
            "author": {"raw": "Ann Example <ann@example.test>", "user": {"account_id": "557058:ann", "display_name": "Ann"}},
            "message": "fix: rotate the key hunter2", "summary": {"raw": "fix: rotate the key hunter2"},
            "parents": [{"hash": "p1", "links": {}}, {"hash": "p2"}]}], "next": "https://api/next?page=2"}"#;
        let plain = String::from_utf8(redact_commits(body, false).unwrap()).unwrap();
        for gone in ["hunter2", "ann@example.test", "Ann Example", "links"] {
            assert!(!plain.contains(gone), "{gone} in {plain}");
        }
        for kept in [
            "abc",
            "557058:ann",
            "p1",
            "p2",
            "2026-11-20T10:00:00+00:00",
            "page=2",
        ] {
            assert!(plain.contains(kept), "{kept} missing from {plain}");
        }
        let with = String::from_utf8(redact_commits(body, true).unwrap()).unwrap();
        assert!(with.contains("fix: rotate the key hunter2"));
        assert!(!with.contains("ann@example.test"));
    }

    #[test]
    fn recorded_runs_keep_no_variables() {
        let page = br#"{"values": [{"uuid": "{a}", "variables": [{"key": "K", "value": "s3cret"}]},
            {"uuid": "{b}"}], "page": 1}"#;
        let kept = without_variables(page, true).unwrap();
        let text = String::from_utf8(kept.to_vec()).unwrap();
        assert!(!text.contains("s3cret") && text.contains("{b}"), "{text}");
        let run = br#"{"uuid": "{a}", "variables": [{"key": "K", "value": "s3cret"}]}"#;
        let kept = without_variables(run, false).unwrap();
        assert!(!String::from_utf8_lossy(&kept).contains("s3cret"));
        let plain = br#"{"values": []}"#;
        assert!(matches!(
            without_variables(plain, true).unwrap(),
            Cow::Borrowed(_)
        ));
        // Runs without variables keep their bytes, spacing and key order.
        assert!(text.contains(r#"{"uuid": "{b}"}], "page": 1}"#), "{text}");
    }

    #[test]
    fn recorded_steps_keep_no_secret() {
        let body = br#"{"values": [{"uuid": "{s}", "name": "Deploy",
            "image": {"name": "acme/deploy:1", "username": "bot", "password": "hunter2", "email": "bot@acme.test"},
            "setup_commands": [{"command": "git clone https://x-token-auth:{access_token}@bitbucket.org/a/b.git"}],
            "script_commands": [{"command": "deploy --token $SECRET"}],
            "teardown_commands": [], "variables": [{"key": "K", "value": "v"}],
            "state": {"name": "COMPLETED"}}], "page": 1, "next": "https://api/next"}"#;
        let redacted = String::from_utf8(redact_steps(body).unwrap()).unwrap();
        for secret in [
            "hunter2",
            "bot@acme.test",
            "x-token-auth",
            "SECRET",
            "\"bot\"",
            "variables",
        ] {
            assert!(!redacted.contains(secret), "{secret} in {redacted}");
        }
        for kept in ["acme/deploy:1", "Deploy", "COMPLETED", "https://api/next"] {
            assert!(redacted.contains(kept), "{kept} missing from {redacted}");
        }
    }
}
