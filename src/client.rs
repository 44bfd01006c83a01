//! The Bitbucket API client as the command line and the configuration file set it up.

use crate::cli::ApiArgs;
use bbpipe_pipeline::extract::api::{AuthError, Client, ClientOptions, Credentials};
use std::time::Duration;

/// A client of named credentials for the API at `api_url`, tuned by `api`.
pub fn client_for(
    credentials: Vec<(String, Credentials)>,
    api: &ApiArgs,
    api_url: &str,
    per_hour: u32,
) -> anyhow::Result<Client> {
    let url = url::Url::parse(api_url).map_err(|e| anyhow::anyhow!("--api-url: {e}"))?;
    let mut options = ClientOptions::new(url);
    options.max_requests_per_hour = per_hour;
    options.max_retries = api.max_retries;
    options.min_delay = Duration::from_millis(api.retry_delay_ms);
    options.rate_limit_patience = Duration::from_secs(api.rate_limit_patience);
    options.max_response_bytes = (api.max_response_mib as usize) << 20;
    Ok(Client::with_credentials(credentials, options)?)
}

/// The credential of the environment, its OAuth token URL from `--oauth-token-url` (which
/// clap also reads from BITBUCKET_OAUTH_TOKEN_URL).
pub fn credentials_from_env(api: &ApiArgs) -> Result<Credentials, AuthError> {
    Credentials::from_lookup(|name| match name {
        "BITBUCKET_OAUTH_TOKEN_URL" => api.oauth_token_url.clone(),
        _ => std::env::var(name).ok(),
    })
}

pub fn warn_if_deprecated(credentials: &Credentials) {
    if matches!(credentials, Credentials::AppPassword { .. }) {
        tracing::warn!(
            "app passwords were removed by Atlassian on 2026-07-28 and Bitbucket answers them 401: \
             set BITBUCKET_EMAIL and BITBUCKET_API_TOKEN (Atlassian API token), \
             BITBUCKET_ACCESS_TOKEN, or BITBUCKET_OAUTH_CLIENT_ID and \
             BITBUCKET_OAUTH_CLIENT_SECRET (workspace OAuth consumer) instead"
        );
    }
}
