//! `bbpipe check`: verifies access to a workspace and explains any failure.

use crate::cli::{ApiArgs, CheckArgs};
use crate::client::{client_for, credentials_from_env, warn_if_deprecated};
use crate::exit::{self, Exit};
use crate::explicit_options::ExplicitOptions;
use bbpipe_pipeline::config::NightlyConfig;
use bbpipe_pipeline::extract::api::{ApiError, Client, Credentials, RepositoriesPage};
use bbpipe_pipeline::model::bitbucket::segment_problem;
use serde_json::json;

struct Outcome {
    code: (&'static str, u8),
    message: String,
    hint: String,
    auth_mode: Option<&'static str>,
    repositories: Option<u64>,
}

impl Outcome {
    /// The `--json` object: ok, code, message, hint, auth_mode, repositories.
    fn json(&self) -> serde_json::Value {
        json!({
            "ok": self.code.1 == 0,
            "code": self.code.0,
            "message": self.message,
            "hint": self.hint,
            "auth_mode": self.auth_mode,
            "repositories": self.repositories,
        })
    }
}

/// Ends `check` with `code`; what went wrong was already printed.
fn exit_with(code: u8) -> anyhow::Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Exit {
        code,
        message: String::new(),
    }
    .into())
}

fn credentials_hint(mode: &str) -> String {
    match mode {
        "access_token" => "access tokens are sent as `Authorization: Bearer`: check that BITBUCKET_ACCESS_TOKEN \
             is the whole token, not expired or revoked, and made for this workspace, project or repository"
            .into(),
        "api_token" => "Atlassian API tokens authenticate with the account's EMAIL as the username, not the \
             Bitbucket username: check BITBUCKET_EMAIL, and that BITBUCKET_API_TOKEN is an API token with scopes"
            .into(),
        "oauth_consumer" => "an OAuth consumer's key and secret go to the token URL \
             (BITBUCKET_OAUTH_TOKEN_URL, default https://bitbucket.org/site/oauth2/access_token): check that \
             BITBUCKET_OAUTH_CLIENT_ID is the consumer's Key and BITBUCKET_OAUTH_CLIENT_SECRET its Secret, and \
             that the consumer is private (the client credentials grant needs that) with the Repositories: Read \
             and Pipelines: Read permissions"
            .into(),
        _ => "app passwords were removed by Atlassian on 2026-07-28 and Bitbucket refuses every one: use \
             BITBUCKET_EMAIL + BITBUCKET_API_TOKEN, an access token or a workspace OAuth consumer"
            .into(),
    }
}

fn scopes_hint(missing: &[String]) -> String {
    let needed = "access tokens need the `repository` and `pipeline` scopes; Atlassian API tokens need \
                  read:repository:bitbucket, read:pipeline:bitbucket and read:workspace:bitbucket";
    if missing.is_empty() {
        needed.to_string()
    } else {
        format!("missing scope {}: {needed}", missing.join(", "))
    }
}

fn failure(
    error: &ApiError,
    listing: bool,
    mode: &'static str,
    workspace: &str,
    api_url: &str,
) -> Outcome {
    let code = exit::classify(error, listing);
    let hint = match (code, error) {
        (exit::INVALID_CREDENTIALS, _) => credentials_hint(mode),
        (exit::INVALID_PERMISSIONS, ApiError::Status { missing_scopes, .. }) => {
            scopes_hint(missing_scopes)
        }
        (exit::WORKSPACE_NOT_FOUND, _) => format!(
            "no workspace `{workspace}` visible: the workspace is the first path segment of \
             https://bitbucket.org/<workspace>/ (its slug, not its display name)"
        ),
        (exit::UNREACHABLE, _) => format!(
            "cannot reach {api_url}: check --api-url / BITBUCKET_API_URL, proxy variables and network access"
        ),
        _ => "see the message; run again with -v for details".into(),
    };
    Outcome {
        code,
        message: error.to_string(),
        hint,
        auth_mode: Some(mode),
        repositories: None,
    }
}

/// Checks one credential against one workspace.
async fn probe(
    credentials: Result<Credentials, String>,
    workspace: &str,
    api: &ApiArgs,
    api_url: &str,
) -> Outcome {
    let credentials = match credentials {
        Ok(c) => c,
        Err(message) => {
            return Outcome {
                code: exit::INVALID_CREDENTIALS,
                message,
                hint: "credentials come from the environment or files, never from flags or the \
                       config file (see bbpipe export --help, docs/guides/nightly.md)"
                    .into(),
                auth_mode: None,
                repositories: None,
            };
        }
    };
    warn_if_deprecated(&credentials);
    let mode = credentials.mode();
    let client = match client_for(
        vec![("default".into(), credentials)],
        api,
        api_url,
        bbpipe_pipeline::model::defaults::MAX_REQUESTS_PER_HOUR,
    ) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                code: exit::FAILED,
                message: e.to_string(),
                hint: String::new(),
                auth_mode: Some(mode),
                repositories: None,
            };
        }
    };
    let workspace = &bbpipe_pipeline::normalize_workspace(workspace);
    let listed = match first_repositories(&client, workspace).await {
        Ok(listed) => listed,
        Err(e) => return failure(&e, true, mode, workspace, api_url),
    };
    let visible = listed.size.unwrap_or(listed.repositories.len() as u64);
    // The first repository whose slug can be asked about (export sets the others aside).
    let Some(first) = listed
        .repositories
        .iter()
        .map(|r| &r.slug)
        .find(|slug| segment_problem(slug).is_none())
    else {
        return Outcome {
            code: exit::NO_RESOURCES,
            message: format!("the credentials see no repository in workspace {workspace}"),
            hint: "a repository access token sees only its repository and a project token only its project; \
                   check the workspace slug and what the token was created for"
                .into(),
            auth_mode: Some(mode),
            repositories: Some(0),
        };
    };
    let answer = first_pipelines(&client, workspace, first).await;
    readable(answer, visible, workspace, first, mode, api_url)
}

/// The first page of the workspace's repositories (ten are enough to find one to ask about).
async fn first_repositories(
    client: &Client,
    workspace: &str,
) -> Result<RepositoriesPage, ApiError> {
    let mut url = client.endpoint(&["repositories", workspace])?;
    url.query_pairs_mut().append_pair("pagelen", "10");
    let body = client.get(&url).await?;
    RepositoriesPage::parse(url.as_str(), &body)
}

/// One run of the repository's pipelines: whether they can be read.
async fn first_pipelines(client: &Client, workspace: &str, slug: &str) -> Result<(), ApiError> {
    let mut url = client.endpoint(&["repositories", workspace, slug, "pipelines"])?;
    url.query_pairs_mut().append_pair("pagelen", "1");
    client.get(&url).await.map(drop)
}

/// The outcome once repositories were listed: what reading `first`'s pipelines answered.
fn readable(
    answer: Result<(), ApiError>,
    visible: u64,
    workspace: &str,
    first: &str,
    mode: &'static str,
    api_url: &str,
) -> Outcome {
    match answer {
        Ok(_) => Outcome {
            code: ("ok", 0),
            message: format!(
                "{visible} repositories visible in {workspace}; pipelines readable ({workspace}/{first})"
            ),
            hint: format!("run: bbpipe export --workspace {workspace} --out <DEST>"),
            auth_mode: Some(mode),
            repositories: Some(visible),
        },
        Err(e) if e.status() == Some(404) => Outcome {
            code: ("ok", 0),
            message: format!(
                "{visible} repositories visible in {workspace}; {workspace}/{first} has no pipelines (404): \
                 Pipelines may be off for it"
            ),
            hint: "repositories without Pipelines are skipped by export".into(),
            auth_mode: Some(mode),
            repositories: Some(visible),
        },
        Err(e) => {
            let mut outcome = failure(&e, false, mode, workspace, api_url);
            outcome.repositories = Some(visible);
            outcome
        }
    }
}

pub async fn run(args: CheckArgs, given: &ExplicitOptions) -> anyhow::Result<()> {
    if let Some(path) = &args.config {
        return run_config(&args, path, given).await;
    }
    let Some(workspace) = &args.workspace else {
        return Err(anyhow::anyhow!("--workspace is required without --config"));
    };
    let credentials = credentials_from_env(&args.api).map_err(|e| e.to_string());
    let outcome = probe(credentials, workspace, &args.api, &args.api.api_url).await;
    let (name, code) = outcome.code;
    if args.json {
        println!("{}", outcome.json());
    } else {
        let mode = outcome.auth_mode.unwrap_or("none");
        println!("{name}: {} (auth: {mode})", outcome.message);
        if !outcome.hint.is_empty() {
            println!("hint: {}", outcome.hint);
        }
    }
    exit_with(code)
}

/// `bbpipe check --config`: every workspace of the file (or the one --workspace names) with
/// each of its credentials, one line each; the exit code of the worst.
async fn run_config(
    args: &CheckArgs,
    path: &std::path::Path,
    given: &ExplicitOptions,
) -> anyhow::Result<()> {
    let config = NightlyConfig::load(path).map_err(|e| Exit {
        code: 2,
        message: e.to_string(),
    })?;
    let api_url = match (&config.api_url, given.has("api_url")) {
        (Some(url), false) => url.clone(),
        _ => args.api.api_url.clone(),
    };
    let lookup = |name: &str| std::env::var(name).ok();
    let mut codes = Vec::new();
    for workspace in &config.workspaces {
        if args
            .workspace
            .as_ref()
            .is_some_and(|w| !w.eq_ignore_ascii_case(&workspace.name))
        {
            continue;
        }
        for credential in &workspace.credentials {
            let resolved = credential
                .resolve(&workspace.name, &lookup)
                .map_err(|e| e.to_string());
            let outcome = probe(resolved, &workspace.name, &args.api, &api_url).await;
            let (name, code) = outcome.code;
            codes.push(code);
            if args.json {
                let mut value = outcome.json();
                value["workspace"] = json!(workspace.name);
                value["credential"] = json!(credential.name);
                println!("{value}");
            } else {
                println!(
                    "{} {}: {name}: {} (auth: {})",
                    workspace.name,
                    credential.name,
                    outcome.message,
                    outcome.auth_mode.unwrap_or("none")
                );
            }
        }
    }
    if codes.is_empty() {
        return Err(Exit {
            code: 2,
            message: format!(
                "{} has no workspace {}",
                path.display(),
                args.workspace.as_deref().unwrap_or("")
            ),
        }
        .into());
    }
    exit_with(exit::worst(&codes))
}
