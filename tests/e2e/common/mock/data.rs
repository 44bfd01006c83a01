//! The data the mock serves, generated from its state: a repository's environments, a run's
//! steps, Bitbucket's deployments, new runs, and `git log new ^old` over a commit graph.

use super::{Repo, State};
use serde_json::{Value, json};

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
pub(super) fn new_run(state: &State, repo: &Repo, state_name: &str, result: Option<&str>) -> Value {
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
pub(super) fn walk(commits: &[Value], new: &str, old: Option<&str>) -> Option<Vec<Value>> {
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

pub(super) fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) & 0xffff_ffff_ffff
}
