//! A local Bitbucket Cloud API for the tests, quirks included: page-number pagination with
//! `size` and absolute `next` links that drop `sort`, oldest-first unless `sort=-created_on`,
//! a 400 for pagelen above 100, JSON error bodies, 429s in text/plain without Retry-After, HTML
//! 502s from a "proxy", connections reset mid-body. One request per connection, on 127.0.0.1.

//!
//! By job: `http` (requests and responses), `gate` (credentials, scopes, rate limits, queued
//! faults), `routes` (one function per endpoint, pagination) and `data` (what it serves,
//! generated from its state); this file holds the state and the tests' handle on it.

mod data;
mod gate;
mod http;
pub mod oauth;
mod routes;
pub mod test_reports;

use data::{new_run, steps};
use http::{Request, base64};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the server accepts as credentials: the exact Authorization header value.
#[derive(Clone, Debug)]
pub enum Auth {
    Bearer(String),
    Basic { user: String, password: String },
}

impl Auth {
    fn header(&self) -> String {
        match self {
            Auth::Bearer(token) => format!("Bearer {token}"),
            Auth::Basic { user, password } => {
                format!("Basic {}", base64(&format!("{user}:{password}")))
            }
        }
    }
}

/// A failure served instead of the next response.
#[derive(Clone, Debug)]
pub enum Fault {
    RateLimited,
    /// A 429 with this `Retry-After` value.
    RetryAfter(String),
    BadGatewayHtml,
    ResetMidBody,
}

#[derive(Clone, Debug)]
pub struct Repo {
    pub slug: String,
    pub uuid: String,
    /// Oldest first.
    pub runs: Vec<Value>,
    pub pipelines_missing: bool,
    /// The commit graph (`GET .../commits/{rev}?exclude=`), in any order.
    pub commits: Vec<Value>,
}

#[derive(Clone, Debug)]
pub struct Logged {
    pub path: String,
    pub authorization: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub workspace: String,
    pub auth: Auth,
    /// Scopes the credentials lack: every request answers 403 naming them.
    pub missing_scopes: Vec<String>,
    pub repos: Vec<Repo>,
    pub faults: VecDeque<Fault>,
    /// Origin put in `next` links of repository pages (to test that credentials stay home).
    pub next_origin: Option<String>,
    pub log: Vec<Logged>,
    /// The pipelines listing ignores `sort` (serves its default order, oldest first).
    pub ignore_sort: bool,
    /// The pipelines listing answers 400 to `sort=-run_creation_date`.
    pub reject_run_creation_sort: bool,
    /// The deployments listing ignores `sort` (serves oldest first).
    pub ignore_deployment_sort: bool,
    /// The deployments listing answers 400 to any `sort`.
    pub reject_deployment_sort: bool,
    /// Steps come this many to a page, whatever `pagelen` asks (Bitbucket usually sends them
    /// all on one).
    pub steps_per_page: Option<usize>,
    /// Commits come at most this many to a page, whatever `pagelen` asks.
    pub commits_per_page: Option<usize>,
    /// Other workspaces served with the same repositories (several workspaces in one run).
    pub also_workspaces: Vec<String>,
    /// Other bearer tokens accepted besides `auth` (several credentials for one workspace).
    pub also_accepted: Vec<String>,
    /// Every Nth request of each credential is answered 429: each has its own allowance.
    pub rate_limit_every_per_credential: Option<usize>,
    /// Requests seen per Authorization header.
    pub per_credential: std::collections::HashMap<String, usize>,
    /// A busy day: every Nth pipelines listing request, a new run arrives in that repository
    /// first.
    pub arrive_every: Option<usize>,
    /// Share of pipelines listing requests answered with an HTML 502 (deterministic).
    pub fault_rate: f64,
    pub listings: usize,
    rng: u64,
    /// Milliseconds every response waits (outside the lock: requests overlap).
    pub delay_ms: u64,
    /// When build 1 is created, and the time between builds.
    pub base: chrono::DateTime<chrono::FixedOffset>,
    pub spacing: chrono::Duration,
    /// The pipelines listing ignores `status` (lists every run).
    pub ignore_status_filter: bool,
    /// A workspace OAuth consumer: API requests then need one of its access tokens.
    pub oauth: Option<oauth::Consumer>,
    /// Build steps publish test reports of this suite; steps list every attempt.
    pub test_suite: Option<test_reports::Suite>,
    /// Results and creation times of the earlier attempts of re-run runs, by run uuid, oldest
    /// first.
    pub earlier_results: std::collections::HashMap<String, Vec<(String, String)>>,
}

pub struct MockBitbucket {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl MockBitbucket {
    pub fn start(workspace: &str, auth: Auth) -> MockBitbucket {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            workspace: workspace.to_string(),
            auth,
            missing_scopes: vec![],
            repos: vec![],
            faults: VecDeque::new(),
            next_origin: None,
            log: vec![],
            ignore_sort: false,
            reject_run_creation_sort: false,
            ignore_deployment_sort: false,
            reject_deployment_sort: false,
            steps_per_page: None,
            commits_per_page: None,
            also_workspaces: vec![],
            also_accepted: vec![],
            rate_limit_every_per_credential: None,
            per_credential: std::collections::HashMap::new(),
            arrive_every: None,
            fault_rate: 0.0,
            listings: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            delay_ms: 0,
            base: chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap(),
            spacing: chrono::Duration::hours(1),
            oauth: None,
            ignore_status_filter: false,
            test_suite: None,
            earlier_results: std::collections::HashMap::new(),
        }));
        let shared = Arc::clone(&state);
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, base) = (Arc::clone(&shared), base.clone());
                std::thread::spawn(move || serve(stream, &state, &base));
            }
        });
        MockBitbucket { url, state }
    }

    /// Runs from now on are created from `base`, `spacing` apart (default: from 2026-06-01,
    /// hourly). Call before adding repositories.
    pub fn clock(&self, base: chrono::DateTime<chrono::Utc>, spacing: chrono::Duration) {
        let mut state = self.state.lock().unwrap();
        state.base = base.fixed_offset();
        state.spacing = spacing;
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Takes credentials from the OAuth consumer `client_id:secret` only, its tokens living
    /// `lifetime_s` (and expiring after `expire_after_requests` API requests, if given).
    pub fn oauth_consumer(
        &self,
        client_id: &str,
        secret: &str,
        lifetime_s: u64,
        expire_after_requests: Option<usize>,
    ) {
        self.state.lock().unwrap().oauth = Some(oauth::Consumer {
            client_id: client_id.into(),
            secret: secret.into(),
            lifetime_s,
            expire_after_requests,
            ..oauth::Consumer::default()
        });
    }

    /// (Token requests, tokens issued) of the OAuth consumer.
    pub fn oauth_counts(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        let consumer = state.oauth.as_ref().unwrap();
        (consumer.token_requests, consumer.issued.len())
    }

    /// API requests answered with each access token, in the order issued.
    pub fn oauth_uses(&self) -> Vec<usize> {
        let state = self.state.lock().unwrap();
        let consumer = state.oauth.as_ref().unwrap();
        consumer.issued.iter().map(|(_, used, _)| *used).collect()
    }

    pub fn add_repo(&self, slug: &str, runs: usize) {
        let mut state = self.state.lock().unwrap();
        let uuid = format!("{{00000000-0000-4000-8000-{:012x}}}", state.repos.len() + 1);
        let mut repo = Repo {
            slug: slug.to_string(),
            uuid,
            runs: vec![],
            pipelines_missing: false,
            commits: vec![],
        };
        for _ in 0..runs {
            let run = new_run(&state, &repo, "COMPLETED", Some("SUCCESSFUL"));
            repo.runs.push(run);
        }
        state.repos.push(repo);
    }

    /// Appends a run to a repository, one hour after its newest.
    pub fn push_run(&self, slug: &str, state_name: &str, result: Option<&str>) -> String {
        let mut state = self.state.lock().unwrap();
        let index = state.repos.iter().position(|r| r.slug == slug).unwrap();
        let run = new_run(&state, &state.repos[index], state_name, result);
        let uuid = run["uuid"].as_str().unwrap().to_string();
        state.repos[index].runs.push(run);
        uuid
    }

    /// Bitbucket's "Rerun": same uuid, build number and created_on; run_number + 1, a new
    /// run_creation_date (after every time the mock has served), the new result.
    pub fn rerun(&self, slug: &str, uuid: &str, result: &str) {
        let mut state = self.state.lock().unwrap();
        let now = state.latest_time().max(chrono::Utc::now().fixed_offset())
            + chrono::Duration::minutes(1);
        let repo = state.repos.iter_mut().find(|r| r.slug == slug).unwrap();
        let run = repo.runs.iter_mut().find(|r| r["uuid"] == uuid).unwrap();
        let previous = (
            run["state"]["result"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            run["run_creation_date"].as_str().unwrap_or("").to_string(),
        );
        run["run_number"] = json!(run["run_number"].as_i64().unwrap() + 1);
        run["run_creation_date"] = json!(now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        run["state"] = json!({"name": "COMPLETED", "type": "pipeline_state_completed",
            "result": {"name": result, "type": format!("pipeline_state_completed_{}", result.to_lowercase())}});
        run["completed_on"] = json!(
            (now + chrono::Duration::minutes(1))
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        );
        let uuid = uuid.to_string();
        state
            .earlier_results
            .entry(uuid)
            .or_default()
            .push(previous);
    }

    /// Appends a run created now (after every time the mock has served): what arrives after
    /// an export.
    pub fn push_run_now(&self, slug: &str, result: &str) -> String {
        let uuid = self.push_run(slug, "COMPLETED", Some(result));
        let now = {
            let state = self.state.lock().unwrap();
            state.latest_time().max(chrono::Utc::now().fixed_offset())
                + chrono::Duration::minutes(1)
        };
        self.update_run(slug, &uuid, |run| {
            let at = |t: chrono::DateTime<chrono::FixedOffset>| {
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            };
            run["created_on"] = json!(at(now));
            run["run_creation_date"] = json!(at(now));
            run["completed_on"] = json!(at(now + chrono::Duration::minutes(1)));
        });
        uuid
    }

    /// Build steps publish reports of a suite of `tests` tests; steps list every attempt.
    pub fn test_suite(&self, tests: usize) {
        self.state.lock().unwrap().test_suite = Some(test_reports::Suite { tests });
    }

    /// Every test case the API lists as FAILED or ERROR for a failed step with a report:
    /// (repository slug, step uuid, the case as served), sorted.
    pub fn failed_cases(&self) -> Vec<(String, String, Value)> {
        let state = self.state.lock().unwrap();
        let mut all = Vec::new();
        for repo in &state.repos {
            for run in &repo.runs {
                for step in test_reports::steps_of_every_attempt(&state, repo, run) {
                    let uuid = step["uuid"].as_str().unwrap().to_string();
                    let failing = ["FAILED".to_string(), "ERROR".to_string()];
                    let Some(cases) = test_reports::listed(&state, repo, &uuid, &failing) else {
                        continue;
                    };
                    for case in cases {
                        all.push((repo.slug.clone(), uuid.clone(), case));
                    }
                }
            }
        }
        all.sort_by_key(|(slug, step, case)| {
            (slug.clone(), step.clone(), case["uuid"].to_string())
        });
        all
    }

    /// Every run of every repository (uuid and run number), for comparing with a dataset.
    pub fn all_runs(&self) -> Vec<(String, i64)> {
        let state = self.state.lock().unwrap();
        let mut runs: Vec<(String, i64)> = state
            .repos
            .iter()
            .flat_map(|r| r.runs.iter())
            .map(|r| {
                (
                    r["uuid"].as_str().unwrap().to_string(),
                    r["run_number"].as_i64().unwrap(),
                )
            })
            .collect();
        runs.sort();
        runs
    }

    /// Sets a repository's commit graph: commits as the API lists them (hash, date,
    /// parents); a commit left out answers 404, as after a force-push.
    pub fn set_commits(&self, slug: &str, commits: Vec<Value>) {
        let mut state = self.state.lock().unwrap();
        state
            .repos
            .iter_mut()
            .find(|r| r.slug == slug)
            .unwrap()
            .commits = commits;
    }

    /// The mock's steps of every run, as (step uuid, run_number, status) sorted.
    pub fn all_steps(&self) -> Vec<(String, i64, String)> {
        let state = self.state.lock().unwrap();
        let mut all = Vec::new();
        for repo in &state.repos {
            for run in &repo.runs {
                for step in steps(repo, run) {
                    all.push((
                        step["uuid"].as_str().unwrap().to_string(),
                        step["run_number"].as_i64().unwrap(),
                        step["state"]["result"]["name"]
                            .as_str()
                            .unwrap_or("PENDING")
                            .to_string(),
                    ));
                }
            }
        }
        all.sort();
        all
    }

    pub fn update_run(&self, slug: &str, uuid: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let repo = state.repos.iter_mut().find(|r| r.slug == slug).unwrap();
        edit(repo.runs.iter_mut().find(|r| r["uuid"] == uuid).unwrap());
    }
}

impl State {
    /// The latest time any run carries: re-runs happen after it.
    fn latest_time(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.repos
            .iter()
            .flat_map(|r| r.runs.iter())
            .flat_map(|r| [r["created_on"].as_str(), r["run_creation_date"].as_str()])
            .flatten()
            .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .max()
            .unwrap_or_else(|| {
                chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap()
            })
    }

    /// xorshift: the same faults on every run of a test.
    /// A uniform draw in [0, 1), deterministic: splitmix64. (A bare xorshift from this seed
    /// stayed above 0.15 for its first 30 draws, so "15% faults" injected none.)
    fn chance(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One connection: read the request, log it, answer from the gate or the routes.
fn serve(mut stream: TcpStream, state: &Mutex<State>, base: &str) {
    let Some(request) = Request::read(&stream) else {
        return;
    };
    let delay = state.lock().unwrap().delay_ms;
    std::thread::sleep(std::time::Duration::from_millis(delay));
    let mut state = state.lock().unwrap();
    state.log.push(Logged {
        path: request.target.clone(),
        authorization: request.authorization.clone(),
    });
    if request.path == oauth::TOKEN_PATH {
        return oauth::token(&mut state, &request).write(&mut stream);
    }
    let response = gate::check(&mut state, &request)
        .unwrap_or_else(|| routes::route(&mut state, &request, base));
    response.write(&mut stream);
}
