//! `bbpipe check`: verifies access to a workspace and explains any failure.

use crate::cli::{ApiArgs, CheckArgs};
use crate::exit::{self, Exit};
use bbpipe_pipeline::extract::api::{
    ApiError, Client, ClientOptions, Credentials, RepositoriesPage,
};
use serde_json::json;
use std::time::Duration;

struct Outcome {
    code: (&'static str, u8),
    message: String,
    hint: String,
    auth_mode: Option<&'static str>,
    repositories: Option<u64>,
}

pub fn client(credentials: Credentials, api: &ApiArgs, per_hour: u32) -> anyhow::Result<Client> {
    client_for(
        vec![("default".into(), credentials)],
        api,
        &api.api_url,
        per_hour,
    )
}

/// A client of named credentials for the API at `api_url`, tuned by `api`.
pub fn client_for(
    credentials: Vec<(String, Credentials)>,
    api: &ApiArgs,
    api_url: &str,
    per_hour: u32,
) -> anyhow::Result<Client> {
    let url =
        url::Url::parse(api_url).map_err(|e| anyhow::anyhow!("--api-url {api_url:?}: {e}"))?;
    let mut options = ClientOptions::new(url);
    options.max_requests_per_hour = per_hour;
    options.max_retries = api.max_retries;
    options.min_delay = Duration::from_millis(api.retry_delay_ms);
    options.rate_limit_patience = Duration::from_secs(api.rate_limit_patience);
    Ok(Client::with_credentials(credentials, options)?)
}

pub fn warn_if_deprecated(credentials: &Credentials) {
    if matches!(credentials, Credentials::AppPassword { .. }) {
        tracing::warn!(
            "app passwords are deprecated and being switched off by Atlassian during 2026: create an \
             Atlassian API token and set BITBUCKET_EMAIL and BITBUCKET_API_TOKEN instead"
        );
    }
}

fn credentials_hint(mode: &str) -> String {
    match mode {
        "access_token" => "access tokens are sent as `Authorization: Bearer`: check that BITBUCKET_ACCESS_TOKEN \
             is the whole token, not expired or revoked, and made for this workspace, project or repository"
            .into(),
        "api_token" => "Atlassian API tokens authenticate with the account's EMAIL as the username, not the \
             Bitbucket username: check BITBUCKET_EMAIL, and that BITBUCKET_API_TOKEN is an API token with scopes"
            .into(),
        _ => "app passwords authenticate with the Bitbucket USERNAME (not the email), and Atlassian is \
             switching them off in 2026: prefer BITBUCKET_EMAIL + BITBUCKET_API_TOKEN"
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

async fn probe(args: &CheckArgs) -> Outcome {
    let credentials = match Credentials::from_env() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                code: exit::INVALID_CREDENTIALS,
                message: e.to_string(),
                hint: "credentials come from the environment, never from flags (see bbpipe export --help)".into(),
                auth_mode: None,
                repositories: None,
            };
        }
    };
    warn_if_deprecated(&credentials);
    let mode = credentials.mode();
    let client = match client(credentials, &args.api, 1000) {
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
    let workspace = &bbpipe_pipeline::normalize_workspace(&args.workspace);
    let mut url = client.endpoint(&format!("repositories/{workspace}"));
    url.query_pairs_mut().append_pair("pagelen", "10");
    let listed = match client.get(&url).await {
        Ok(body) => RepositoriesPage::parse(url.as_str(), &body),
        Err(e) => Err(e),
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(e) => return failure(&e, true, mode, workspace, &args.api.api_url),
    };
    let visible = listed.size.unwrap_or(listed.repositories.len() as u64);
    let Some(first) = listed.repositories.first().map(|r| &r.slug) else {
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
    let mut url = client.endpoint(&format!("repositories/{workspace}/{first}/pipelines"));
    url.query_pairs_mut().append_pair("pagelen", "1");
    match client.get(&url).await {
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
            let mut outcome = failure(&e, false, mode, workspace, &args.api.api_url);
            outcome.repositories = Some(visible);
            outcome
        }
    }
}

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let outcome = probe(&args).await;
    let (name, code) = outcome.code;
    if args.json {
        let value = json!({
            "ok": code == 0,
            "code": name,
            "message": outcome.message,
            "hint": outcome.hint,
            "auth_mode": outcome.auth_mode,
            "repositories": outcome.repositories,
        });
        println!("{value}");
    } else {
        let mode = outcome.auth_mode.unwrap_or("none");
        println!("{name}: {} (auth: {mode})", outcome.message);
        if !outcome.hint.is_empty() {
            println!("hint: {}", outcome.hint);
        }
    }
    if code == 0 {
        Ok(())
    } else {
        // Already printed; the exit code carries the outcome.
        Err(Exit {
            code,
            message: String::new(),
        }
        .into())
    }
}
