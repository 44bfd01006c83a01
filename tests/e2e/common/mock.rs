//! A local Bitbucket Cloud API for the tests, quirks included: page-number pagination with
//! `size` and absolute `next` links that drop `sort`, oldest-first unless `sort=-created_on`,
//! a 400 for pagelen above 100, JSON error bodies, 429s in text/plain without Retry-After, HTML
//! 502s from a "proxy", connections reset mid-body. One request per connection, on 127.0.0.1.

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
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
        run["run_number"] = json!(run["run_number"].as_i64().unwrap() + 1);
        run["run_creation_date"] = json!(now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        run["state"] = json!({"name": "COMPLETED", "type": "pipeline_state_completed",
            "result": {"name": result, "type": format!("pipeline_state_completed_{}", result.to_lowercase())}});
        run["completed_on"] = json!(
            (now + chrono::Duration::minutes(1))
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        );
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

/// The environments of a repository: Staging and one of type Production named "Prod-EU".
pub fn environments(repo: &Repo) -> Vec<Value> {
    let id = fxhash(&repo.slug);
    [("Staging", "Staging", 1), ("Prod-EU", "Production", 2)]
        .into_iter()
        .map(|(name, kind, rank)| {
            json!({"type": "deployment_environment", "name": name, "slug": name.to_lowercase(),
                   "uuid": format!("{{{rank:08x}-eeee-4eee-8eee-{id:012x}}}"),
                   "environment_type": {"type": "deployment_environment_type", "name": kind, "rank": rank},
                   "hidden": false, "rank": rank,
                   "lock": {"type": "deployment_environment_lock_open", "name": "OPEN"}})
        })
        .collect()
}

/// The steps of a run's latest attempt: "Build", then an unnamed deploy step to Prod-EU.
/// New uuids for every attempt; image credentials and commands as Bitbucket sends them.
pub fn steps(repo: &Repo, run: &Value) -> Vec<Value> {
    let attempt = run["run_number"].as_i64().unwrap_or(1);
    let build = run["build_number"].as_i64().unwrap();
    let started = run["run_creation_date"]
        .as_str()
        .or(run["created_on"].as_str())
        .unwrap()
        .to_string();
    let result = run["state"]["result"]["name"].as_str();
    let env = &environments(repo)[1];
    (0..2)
        .map(|i| {
            let mut step = json!({
                "type": "pipeline_step",
                "uuid": format!("{{{build:08x}-{attempt:04x}-4{i:03x}-8555-{:012x}}}", fxhash(&repo.slug)),
                "pipeline": {"type": "pipeline", "uuid": run["uuid"]},
                "run_number": attempt,
                "trigger": {"type": if attempt > 1 && i == 1 { "pipeline_step_trigger_redeploy" } else { "pipeline_step_trigger_automatic" }},
                "image": {"name": "atlassian/default-image:4", "username": "mock-registry-user",
                          "password": "mock-registry-password", "email": "mock@registry.example"},
                "setup_commands": [{"command": "git clone https://x-token-auth:{access_token}@bitbucket.org/x/y.git"}],
                "script_commands": [{"command": "deploy --token mock-script-secret"}],
                "maxTime": 120,
                "state": {"name": "PENDING", "type": "pipeline_step_state_pending"},
            });
            if i == 0 {
                step["name"] = json!("Build");
            } else {
                step["environment"] = json!({"uuid": env["uuid"]});
            }
            if let Some(result) = result {
                let result = if i == 0 { "SUCCESSFUL" } else { result };
                step["state"] = json!({"name": "COMPLETED", "type": "pipeline_step_state_completed",
                    "result": {"name": result, "type": format!("pipeline_step_state_completed_{}", result.to_lowercase())}});
                step["started_on"] = json!(started);
                step["completed_on"] = json!(started);
                step["duration_in_seconds"] = json!(30);
                step["build_seconds_used"] = json!(30 + i);
            }
            step
        })
        .collect()
}

/// Bitbucket's deployments of a repository: one per completed attempt of each run (its deploy
/// step), newest first; the outcome in `state.status`, the state name COMPLETED whatever it is.
pub fn deployments(repo: &Repo) -> Vec<Value> {
    let env = &environments(repo)[1];
    let mut all: Vec<Value> = repo
        .runs
        .iter()
        .filter_map(|run| {
            let result = run["state"]["result"]["name"].as_str()?;
            let step = &steps(repo, run)[1];
            let status = if result == "SUCCESSFUL" {
                "SUCCESSFUL"
            } else {
                "FAILED"
            };
            Some(json!({
                "type": "deployment",
                "uuid": step["uuid"].as_str().unwrap().replace("-8555-", "-8ddd-"),
                "environment": {"uuid": env["uuid"]},
                "step": {"uuid": step["uuid"]},
                "deployable": {"pipeline": {"uuid": run["uuid"]},
                               "name": format!("#{}", run["build_number"]),
                               "commit": {"hash": run["target"]["commit"]["hash"]},
                               "created_on": run["created_on"]},
                "state": {"name": "COMPLETED", "type": "deployment_state_completed",
                          "status": {"name": status}, "started_on": step["started_on"],
                          "completed_on": run["completed_on"]},
                "last_update_time": run["completed_on"],
                "version": 1,
            }))
        })
        .collect();
    all.sort_by_key(|d| {
        std::cmp::Reverse(d["state"]["started_on"].as_str().unwrap_or("").to_string())
    });
    all
}

/// Build n is created n spacings after the base (by default hours after 2026-06-01).
fn new_run(state: &State, repo: &Repo, state_name: &str, result: Option<&str>) -> Value {
    let workspace = &state.workspace;
    let build = repo.runs.len() as i32 + 1;
    let created = state.base + state.spacing * build;
    let mut state = json!({"name": state_name, "type": format!("pipeline_state_{}", state_name.to_lowercase())});
    if let Some(result) = result {
        state["result"] = json!({"name": result, "type": format!("pipeline_state_completed_{}", result.to_lowercase())});
    }
    let mut run = json!({
        "type": "pipeline",
        "uuid": format!("{{{:08x}-1111-4222-8333-{:012x}}}", build, fxhash(&repo.slug)),
        "build_number": i64::from(build),
        "run_number": 1,
        "state": state,
        "created_on": created.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "run_creation_date": created.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "duration_in_seconds": 60,
        "build_seconds_used": 60,
        "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                   "commit": {"type": "commit", "hash": format!("{:040x}", build)},
                   "selector": {"type": "custom", "pattern": "deploy-to-production"}},
        "trigger": {"name": "MANUAL", "type": "pipeline_trigger_manual"},
        "creator": {"type": "user", "uuid": "{u}", "display_name": "Ada"},
        "repository": {"type": "repository", "uuid": repo.uuid, "full_name": format!("{workspace}/{}", repo.slug)},
        "first_successful": false, "expired": false, "has_variables": false,
    });
    if state_name == "COMPLETED" {
        run["completed_on"] = json!(
            (created + chrono::Duration::minutes(1))
                .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
                .to_string()
        );
    }
    run
}

/// `git log new ^old` over `commits`, newest first; `None` when either is unknown.
fn walk(commits: &[Value], new: &str, old: Option<&str>) -> Option<Vec<Value>> {
    let by_hash: std::collections::HashMap<&str, &Value> = commits
        .iter()
        .map(|c| (c["hash"].as_str().unwrap(), c))
        .collect();
    let reach = |from: &str, stop: &std::collections::HashSet<String>| {
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(hash) = todo.pop() {
            if stop.contains(&hash)
                || !by_hash.contains_key(hash.as_str())
                || !seen.insert(hash.clone())
            {
                continue;
            }
            for parent in by_hash[hash.as_str()]["parents"].as_array().unwrap() {
                todo.push(parent["hash"].as_str().unwrap().to_string());
            }
        }
        seen
    };
    by_hash.get(new)?;
    let excluded = match old {
        Some(old) => {
            by_hash.get(old)?;
            reach(old, &Default::default())
        }
        None => Default::default(),
    };
    let mut shipped: Vec<Value> = reach(new, &excluded)
        .into_iter()
        .map(|h| by_hash[h.as_str()].clone())
        .collect();
    shipped.sort_by(|a, b| {
        let key = |c: &Value| {
            (
                c["date"].as_str().unwrap().to_string(),
                c["hash"].as_str().unwrap().to_string(),
            )
        };
        key(b).cmp(&key(a))
    });
    Some(shipped)
}

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) & 0xffff_ffff_ffff
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn error(stream: &mut TcpStream, status: &str, message: &str, detail: Value) {
    let body = json!({"type": "error", "error": {"message": message, "detail": detail}});
    respond(
        stream,
        status,
        "application/json",
        body.to_string().as_bytes(),
    );
}

fn serve(mut stream: TcpStream, state: &Mutex<State>, base: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_string());
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let path = percent_decode(path);
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };

    let delay = state.lock().unwrap().delay_ms;
    std::thread::sleep(std::time::Duration::from_millis(delay));
    let mut state = state.lock().unwrap();
    state.log.push(Logged {
        path: target.clone(),
        authorization: authorization.clone(),
    });
    let accepted = authorization.as_deref() == Some(state.auth.header().as_str())
        || state
            .also_accepted
            .iter()
            .any(|t| authorization.as_deref() == Some(format!("Bearer {t}").as_str()));
    if !accepted {
        return error(
            &mut stream,
            "401 Unauthorized",
            "Invalid credentials",
            Value::Null,
        );
    }
    if !state.missing_scopes.is_empty() {
        let granted: Vec<&str> = ["repository", "pipeline"]
            .into_iter()
            .filter(|s| !state.missing_scopes.iter().any(|m| m == s))
            .collect();
        let detail = json!({"required": ["repository", "pipeline"], "granted": granted});
        return error(
            &mut stream,
            "403 Forbidden",
            "Your credentials lack one or more required privilege scopes.",
            detail,
        );
    }
    if let (Some(every), Some(header)) = (state.rate_limit_every_per_credential, &authorization) {
        let seen = state.per_credential.entry(header.clone()).or_default();
        *seen += 1;
        if (*seen).is_multiple_of(every) {
            return respond(
                &mut stream,
                "429 Too Many Requests",
                "text/plain",
                b"Rate limit for this resource has been exceeded",
            );
        }
    } else if let Some(header) = &authorization {
        *state.per_credential.entry(header.clone()).or_default() += 1;
    }
    match state.faults.pop_front() {
        Some(Fault::RateLimited) => {
            return respond(
                &mut stream,
                "429 Too Many Requests",
                "text/plain",
                b"Rate limit for this resource has been exceeded",
            );
        }
        Some(Fault::RetryAfter(value)) => {
            let body = "Rate limit for this resource has been exceeded";
            let head = format!(
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nRetry-After: {value}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
            return;
        }
        Some(Fault::BadGatewayHtml) => {
            return respond(
                &mut stream,
                "502 Bad Gateway",
                "text/html",
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            );
        }
        Some(Fault::ResetMidBody) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n{\"values\": [";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        None => {}
    }
    let pagelen: usize = param("pagelen").and_then(|p| p.parse().ok()).unwrap_or(10);
    if pagelen > 100 {
        return error(
            &mut stream,
            "400 Bad Request",
            "Invalid pagelen",
            json!("pagelen must be at most 100"),
        );
    }
    let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let workspace = match parts.get(1) {
        Some(asked) if state.also_workspaces.iter().any(|w| w == asked) => asked.to_string(),
        _ => state.workspace.clone(),
    };
    let paginate = |values: Vec<Value>, next_base: String| -> Value {
        let size = values.len();
        let start = (page - 1) * pagelen;
        let chunk: Vec<Value> = values.into_iter().skip(start).take(pagelen).collect();
        let mut body = json!({"pagelen": pagelen, "size": size, "page": page, "values": chunk});
        if start + pagelen < size {
            // Bitbucket's next link keeps page and pagelen, and drops sort.
            body["next"] = json!(format!("{next_base}?pagelen={pagelen}&page={}", page + 1));
        }
        body
    };
    match parts.as_slice() {
        ["repositories", ws] if *ws == workspace => {
            let values = state
                .repos
                .iter()
                .map(|r| {
                    json!({"type": "repository", "uuid": r.uuid, "slug": r.slug, "name": r.slug,
                                 "full_name": format!("{workspace}/{}", r.slug), "is_private": true,
                                 "language": "", "mainbranch": {"name": "main", "type": "branch"},
                                 "created_on": "2024-01-01T00:00:00.000000+00:00",
                                 "updated_on": "2026-01-01T00:00:00.000000+00:00"})
                })
                .collect();
            let origin = state
                .next_origin
                .clone()
                .unwrap_or_else(|| base.to_string());
            let body = paginate(values, format!("{origin}/repositories/{workspace}"));
            respond(
                &mut stream,
                "200 OK",
                "application/json",
                body.to_string().as_bytes(),
            );
        }
        ["repositories", ws, slug, "pipelines"] if *ws == workspace => {
            state.listings += 1;
            if state.fault_rate > 0.0 && state.chance() < state.fault_rate {
                return respond(
                    &mut stream,
                    "502 Bad Gateway",
                    "text/html",
                    b"<html>502</html>",
                );
            }
            if let Some(every) = state.arrive_every
                && state.listings.is_multiple_of(every)
                && let Some(index) = state.repos.iter().position(|r| r.slug == *slug)
            {
                let run = new_run(&state, &state.repos[index], "COMPLETED", Some("SUCCESSFUL"));
                state.repos[index].runs.push(run);
            }
            let Some(repo) = state
                .repos
                .iter()
                .find(|r| r.slug == *slug && !r.pipelines_missing)
            else {
                return error(
                    &mut stream,
                    "404 Not Found",
                    "Repository not found",
                    Value::Null,
                );
            };
            let sort = param("sort");
            if state.reject_run_creation_sort && sort.as_deref() == Some("-run_creation_date") {
                return error(
                    &mut stream,
                    "400 Bad Request",
                    "Invalid sort field",
                    Value::Null,
                );
            }
            let key = |run: &Value, field: &str| run[field].as_str().unwrap_or("").to_string();
            let mut runs = repo.runs.clone();
            if !state.ignore_sort {
                match sort.as_deref() {
                    None | Some("created_on") => {} // default order is oldest first
                    Some("-created_on") => runs.reverse(),
                    Some("run_creation_date") => runs.sort_by_key(|r| key(r, "run_creation_date")),
                    Some("-run_creation_date") => {
                        runs.reverse();
                        runs.sort_by_key(|r| std::cmp::Reverse(key(r, "run_creation_date")));
                    }
                    Some(other) => {
                        return error(
                            &mut stream,
                            "400 Bad Request",
                            &format!("Invalid sort: {other}"),
                            Value::Null,
                        );
                    }
                }
            }
            let body = paginate(
                runs,
                format!("{base}/repositories/{workspace}/{slug}/pipelines"),
            );
            respond(
                &mut stream,
                "200 OK",
                "application/json",
                body.to_string().as_bytes(),
            );
        }
        ["repositories", ws, slug, "pipelines", uuid, "steps"] if *ws == workspace => {
            let repo = state.repos.iter().find(|r| r.slug == *slug);
            let run = repo.and_then(|r| {
                r.runs
                    .iter()
                    .find(|run| run["uuid"] == *uuid)
                    .map(|run| (r, run))
            });
            match run {
                Some((repo, run)) => {
                    let next =
                        format!("{base}/repositories/{workspace}/{slug}/pipelines/{uuid}/steps");
                    let all = steps(repo, run);
                    let body = match state.steps_per_page {
                        None => paginate(all, next),
                        Some(per) => {
                            let size = all.len();
                            let chunk: Vec<Value> =
                                all.into_iter().skip((page - 1) * per).take(per).collect();
                            let mut body = json!({"pagelen": per, "size": size, "page": page, "values": chunk});
                            if page * per < size {
                                body["next"] = json!(format!("{next}?page={}", page + 1));
                            }
                            body
                        }
                    };
                    respond(
                        &mut stream,
                        "200 OK",
                        "application/json",
                        body.to_string().as_bytes(),
                    )
                }
                None => error(
                    &mut stream,
                    "404 Not Found",
                    "Pipeline not found",
                    Value::Null,
                ),
            }
        }
        [
            "repositories",
            ws,
            slug,
            listing @ ("environments" | "deployments"),
        ] if *ws == workspace => {
            let Some(repo) = state.repos.iter().find(|r| r.slug == *slug) else {
                return error(
                    &mut stream,
                    "404 Not Found",
                    "Repository not found",
                    Value::Null,
                );
            };
            if *listing == "deployments" && state.reject_deployment_sort && param("sort").is_some()
            {
                return error(
                    &mut stream,
                    "400 Bad Request",
                    "Invalid field name: sort",
                    Value::Null,
                );
            }
            let values = if *listing == "environments" {
                environments(repo)
            } else {
                let mut all = deployments(repo);
                if state.ignore_deployment_sort
                    || param("sort").as_deref() != Some("-state.started_on")
                {
                    all.reverse();
                }
                all
            };
            let body = paginate(
                values,
                format!("{base}/repositories/{workspace}/{slug}/{listing}"),
            );
            respond(
                &mut stream,
                "200 OK",
                "application/json",
                body.to_string().as_bytes(),
            )
        }
        ["repositories", ws, slug, "commits", revision] if *ws == workspace => {
            let Some(repo) = state.repos.iter().find(|r| r.slug == *slug) else {
                return error(
                    &mut stream,
                    "404 Not Found",
                    "Repository not found",
                    Value::Null,
                );
            };
            let Some(shipped) = walk(&repo.commits, revision, param("exclude").as_deref()) else {
                return error(
                    &mut stream,
                    "404 Not Found",
                    "Commit not found",
                    Value::Null,
                );
            };
            // Opaque page tokens, as Bitbucket's commit listings use: the client must copy them.
            let asked: usize = param("pagelen").and_then(|p| p.parse().ok()).unwrap_or(30);
            let per = asked.min(100).min(state.commits_per_page.unwrap_or(100));
            let page: usize = param("page")
                .and_then(|p| p.strip_prefix("tok-")?.strip_suffix("-x")?.parse().ok())
                .unwrap_or(1);
            let values: Vec<Value> = shipped
                .iter()
                .skip((page - 1) * per)
                .take(per)
                .cloned()
                .collect();
            let mut body = json!({"pagelen": per, "values": values});
            if page * per < shipped.len() {
                let mut next = format!(
                    "{base}/repositories/{workspace}/{slug}/commits/{revision}?page=tok-{}-x",
                    page + 1
                );
                if let Some(exclude) = param("exclude") {
                    next.push_str(&format!("&exclude={exclude}"));
                }
                body["next"] = json!(next);
            }
            respond(
                &mut stream,
                "200 OK",
                "application/json",
                body.to_string().as_bytes(),
            )
        }
        ["repositories", ws, slug, "pipelines", uuid] if *ws == workspace => {
            let run = state
                .repos
                .iter()
                .find(|r| r.slug == *slug)
                .and_then(|r| r.runs.iter().find(|run| run["uuid"] == *uuid));
            match run {
                Some(run) => respond(
                    &mut stream,
                    "200 OK",
                    "application/json",
                    run.to_string().as_bytes(),
                ),
                None => error(
                    &mut stream,
                    "404 Not Found",
                    "Pipeline not found",
                    Value::Null,
                ),
            }
        }
        _ => error(
            &mut stream,
            "404 Not Found",
            "There is no API hosted at this URL",
            Value::Null,
        ),
    }
}
