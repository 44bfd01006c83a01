//! The endpoints the mock serves, one function each, and Bitbucket's page-number pagination.

use super::State;
use super::data::{deployments, environments, new_run, steps, walk};
use super::http::{Request, Response};
use super::test_reports::{listed, report, steps_of_every_attempt};
use serde_json::{Value, json};

/// What every route needs of the request: its page, page length, workspace and origin.
struct Asked<'a> {
    request: &'a Request,
    page: usize,
    pagelen: usize,
    workspace: String,
    base: &'a str,
}

impl Asked<'_> {
    fn param(&self, name: &str) -> Option<String> {
        self.request.param(name)
    }

    /// A page of `values` in Bitbucket's envelope; `next` keeps page and pagelen and drops
    /// sort, as Bitbucket's does.
    fn paginate(&self, values: Vec<Value>, next_base: String) -> Value {
        let (page, pagelen) = (self.page, self.pagelen);
        let size = values.len();
        let start = (page - 1) * pagelen;
        let chunk: Vec<Value> = values.into_iter().skip(start).take(pagelen).collect();
        let mut body = json!({"pagelen": pagelen, "size": size, "page": page, "values": chunk});
        if start + pagelen < size {
            body["next"] = json!(format!("{next_base}?pagelen={pagelen}&page={}", page + 1));
        }
        body
    }
}

/// The answer to `request`, past the gate.
pub fn route(state: &mut State, request: &Request, base: &str) -> Response {
    let pagelen: usize = request
        .param("pagelen")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    if pagelen > 100 {
        let detail = json!("pagelen must be at most 100");
        return Response::error("400 Bad Request", "Invalid pagelen", detail);
    }
    let page: usize = request
        .param("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let parts = request.parts();
    let workspace = match parts.get(1) {
        Some(asked) if state.also_workspaces.iter().any(|w| w == asked) => asked.to_string(),
        _ => state.workspace.clone(),
    };
    let asked = Asked {
        request,
        page,
        pagelen,
        workspace: workspace.clone(),
        base,
    };
    match parts.as_slice() {
        ["repositories", ws] if *ws == workspace => repositories(state, &asked),
        ["repositories", ws, slug, "pipelines"] if *ws == workspace => {
            pipelines(state, &asked, slug)
        }
        ["repositories", ws, slug, "pipelines", uuid, "steps"] if *ws == workspace => {
            run_steps(state, &asked, slug, uuid)
        }
        [
            "repositories",
            ws,
            slug,
            "pipelines",
            _,
            "steps",
            step,
            "test_reports",
        ] if *ws == workspace => test_report(state, slug, step),
        [
            "repositories",
            ws,
            slug,
            "pipelines",
            _,
            "steps",
            step,
            "test_reports",
            "test_cases",
        ] if *ws == workspace => test_cases(state, &asked, slug, step),
        [
            "repositories",
            ws,
            slug,
            listing @ ("environments" | "deployments"),
        ] if *ws == workspace => listing_page(state, &asked, slug, listing),
        ["repositories", ws, slug, "commits", revision] if *ws == workspace => {
            commits(state, &asked, slug, revision)
        }
        ["repositories", ws, slug, "pipelines", uuid] if *ws == workspace => {
            one_run(state, slug, uuid)
        }
        _ => Response::not_found("There is no API hosted at this URL"),
    }
}

fn repositories(state: &State, asked: &Asked) -> Response {
    let workspace = &asked.workspace;
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
        .unwrap_or_else(|| asked.base.to_string());
    Response::ok(&asked.paginate(values, format!("{origin}/repositories/{workspace}")))
}

fn pipelines(state: &mut State, asked: &Asked, slug: &str) -> Response {
    state.listings += 1;
    if state.fault_rate > 0.0 && state.chance() < state.fault_rate {
        return Response::new("502 Bad Gateway", "text/html", "<html>502</html>");
    }
    if let Some(every) = state.arrive_every
        && state.listings.is_multiple_of(every)
        && let Some(index) = state.repos.iter().position(|r| r.slug == slug)
    {
        let run = new_run(state, &state.repos[index], "COMPLETED", Some("SUCCESSFUL"));
        state.repos[index].runs.push(run);
    }
    let Some(repo) = state
        .repos
        .iter()
        .find(|r| r.slug == slug && !r.pipelines_missing)
    else {
        return Response::not_found("Repository not found");
    };
    let sort = asked.param("sort");
    if state.reject_run_creation_sort && sort.as_deref() == Some("-run_creation_date") {
        return Response::error("400 Bad Request", "Invalid sort field", Value::Null);
    }
    let key = |run: &Value, field: &str| run[field].as_str().unwrap_or("").to_string();
    let mut runs = repo.runs.clone();
    // `status` (repeatable): runs whose state, stage or result is any of them.
    let statuses = asked.request.params("status");
    if !statuses.is_empty() && !state.ignore_status_filter {
        let names = |run: &Value| {
            let state = &run["state"];
            [
                &state["name"],
                &state["stage"]["name"],
                &state["result"]["name"],
            ]
            .map(|v| v.as_str().unwrap_or("").to_string())
        };
        runs.retain(|run| names(run).iter().any(|n| statuses.contains(n)));
    }
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
                let message = format!("Invalid sort: {other}");
                return Response::error("400 Bad Request", &message, Value::Null);
            }
        }
    }
    let (base, workspace) = (asked.base, &asked.workspace);
    let next = format!("{base}/repositories/{workspace}/{slug}/pipelines");
    Response::ok(&asked.paginate(runs, next))
}

fn run_steps(state: &State, asked: &Asked, slug: &str, uuid: &str) -> Response {
    let repo = state.repos.iter().find(|r| r.slug == slug);
    let Some((repo, run)) = repo.and_then(|r| {
        r.runs
            .iter()
            .find(|run| run["uuid"] == *uuid)
            .map(|run| (r, run))
    }) else {
        return Response::not_found("Pipeline not found");
    };
    let (base, workspace, page) = (asked.base, &asked.workspace, asked.page);
    let next = format!("{base}/repositories/{workspace}/{slug}/pipelines/{uuid}/steps");
    let all = match state.test_suite {
        Some(_) => steps_of_every_attempt(state, repo, run),
        None => steps(repo, run),
    };
    let body = match state.steps_per_page {
        None => asked.paginate(all, next),
        Some(per) => {
            let size = all.len();
            let chunk: Vec<Value> = all.into_iter().skip((page - 1) * per).take(per).collect();
            let mut body = json!({"pagelen": per, "size": size, "page": page, "values": chunk});
            if page * per < size {
                body["next"] = json!(format!("{next}?page={}", page + 1));
            }
            body
        }
    };
    Response::ok(&body)
}

fn test_report(state: &State, slug: &str, step: &str) -> Response {
    let repo = state.repos.iter().find(|r| r.slug == slug);
    match repo.and_then(|repo| report(state, repo, step)) {
        Some(body) => Response::ok(&body),
        None => Response::not_found("No test report"),
    }
}

fn test_cases(state: &State, asked: &Asked, slug: &str, step: &str) -> Response {
    let repo = state.repos.iter().find(|r| r.slug == slug);
    let statuses = asked.request.params("status");
    let Some(cases) = repo.and_then(|repo| listed(state, repo, step, &statuses)) else {
        return Response::not_found("No test report");
    };
    let (base, workspace) = (asked.base, &asked.workspace);
    let next = format!(
        "{base}/repositories/{workspace}/{slug}/pipelines/x/steps/{step}/test_reports/test_cases"
    );
    Response::ok(&asked.paginate(cases, next))
}

fn listing_page(state: &State, asked: &Asked, slug: &str, listing: &str) -> Response {
    let Some(repo) = state.repos.iter().find(|r| r.slug == slug) else {
        return Response::not_found("Repository not found");
    };
    let sort = asked.param("sort");
    if listing == "deployments" && state.reject_deployment_sort && sort.is_some() {
        return Response::error("400 Bad Request", "Invalid field name: sort", Value::Null);
    }
    let values = if listing == "environments" {
        environments(repo)
    } else {
        let mut all = deployments(repo);
        if state.ignore_deployment_sort || sort.as_deref() != Some("-state.started_on") {
            all.reverse();
        }
        all
    };
    let (base, workspace) = (asked.base, &asked.workspace);
    let next = format!("{base}/repositories/{workspace}/{slug}/{listing}");
    Response::ok(&asked.paginate(values, next))
}

/// `GET .../commits/{revision}?exclude=`, with opaque page tokens, as Bitbucket's commit
/// listings use: the client must copy them.
fn commits(state: &State, asked: &Asked, slug: &str, revision: &str) -> Response {
    let Some(repo) = state.repos.iter().find(|r| r.slug == slug) else {
        return Response::not_found("Repository not found");
    };
    let exclude = asked.param("exclude");
    let Some(shipped) = walk(&repo.commits, revision, exclude.as_deref()) else {
        return Response::not_found("Commit not found");
    };
    let wanted: usize = asked
        .param("pagelen")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let per = wanted.min(100).min(state.commits_per_page.unwrap_or(100));
    let page: usize = asked
        .param("page")
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
        let (base, workspace) = (asked.base, &asked.workspace);
        let mut next = format!(
            "{base}/repositories/{workspace}/{slug}/commits/{revision}?page=tok-{}-x",
            page + 1
        );
        if let Some(exclude) = exclude {
            next.push_str(&format!("&exclude={exclude}"));
        }
        body["next"] = json!(next);
    }
    Response::ok(&body)
}

fn one_run(state: &State, slug: &str, uuid: &str) -> Response {
    let run = state
        .repos
        .iter()
        .find(|r| r.slug == slug)
        .and_then(|r| r.runs.iter().find(|run| run["uuid"] == *uuid));
    match run {
        Some(run) => Response::ok(run),
        None => Response::not_found("Pipeline not found"),
    }
}
