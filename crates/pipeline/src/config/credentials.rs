//! A credential of the configuration file: where its parts are (environment variables or
//! files), never what they are.

use super::ConfigError;
use bbpipe_extract::api::{Credentials, Secret};
use serde::{Deserialize, Serialize};

/// One credential, by reference: an access token (`token_env` or `token_file`), an Atlassian
/// API token with its account's email (`email` or `email_env`, and `api_token_env` or
/// `api_token_file`), a workspace OAuth consumer (`oauth_client_id` or `oauth_client_id_env`,
/// and `oauth_client_secret_env` or `oauth_client_secret_file`; `oauth_token_url` to change
/// where tokens are asked for), or an app password (`username` or `username_env`, and `app_password_env` or
/// `app_password_file`; Atlassian removed them on 2026-07-28).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRef {
    /// Its name, in logs and summaries (never its value).
    pub name: String,
    /// Environment variable holding an access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// File holding an access token (a mounted secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The account's email, for an API token (not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Environment variable holding that email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_env: Option<String>,
    /// Environment variable holding an Atlassian API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_env: Option<String>,
    /// File holding an Atlassian API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<String>,
    /// An OAuth consumer's key (its client id; not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id: Option<String>,
    /// Environment variable holding that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id_env: Option<String>,
    /// Environment variable holding the OAuth consumer's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_secret_env: Option<String>,
    /// File holding the OAuth consumer's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_secret_file: Option<String>,
    /// Where the OAuth consumer's access tokens are asked for (default Bitbucket's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token_url: Option<String>,
    /// The Bitbucket username, for an app password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Environment variable holding that username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_env: Option<String>,
    /// Environment variable holding an app password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_password_env: Option<String>,
    /// File holding an app password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_password_file: Option<String>,
}

/// Where one part of a credential is.
enum Source<'a> {
    Literal(&'a str),
    Env(&'a str),
    File(&'a str),
}

/// One part of a credential, given by one of two keys (a value, a variable or a file).
type Part<'a> = (&'static str, &'a Option<String>, fn(&'a str) -> Source<'a>);

/// The one of the two keys that is given, if any; both is an error naming them.
fn either<'a>(first: Part<'a>, second: Part<'a>) -> Result<Option<Source<'a>>, String> {
    match (first.1, second.1) {
        (Some(_), Some(_)) => Err(format!("give only one of {}, {}", first.0, second.0)),
        (Some(value), None) => Ok(Some((first.2)(value))),
        (None, Some(value)) => Ok(Some((second.2)(value))),
        (None, None) => Ok(None),
    }
}

/// The kinds of credential, as Bitbucket takes them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    AccessToken,
    ApiToken,
    OAuthConsumer,
    AppPassword,
}

impl CredentialRef {
    /// Exactly one kind, with each of its parts given exactly once.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("a credential needs a name".into());
        }
        self.parts().map(|_| ())
    }

    /// The kind of secret given: exactly one.
    fn kind(&self) -> Result<Kind, String> {
        let given = [
            (
                Kind::AccessToken,
                self.token_env.is_some() || self.token_file.is_some(),
            ),
            (
                Kind::ApiToken,
                self.api_token_env.is_some() || self.api_token_file.is_some(),
            ),
            (
                Kind::OAuthConsumer,
                self.oauth_client_secret_env.is_some() || self.oauth_client_secret_file.is_some(),
            ),
            (
                Kind::AppPassword,
                self.app_password_env.is_some() || self.app_password_file.is_some(),
            ),
        ];
        let mut kinds = given
            .iter()
            .filter(|(_, given)| *given)
            .map(|(kind, _)| *kind);
        match (kinds.next(), kinds.next()) {
            (Some(kind), None) => Ok(kind),
            (Some(_), Some(_)) => Err("several kinds of secret: keep exactly one".into()),
            (None, _) => Err(
                "no secret: give token_env or token_file, api_token_env or api_token_file \
                 (with email or email_env), oauth_client_secret_env or oauth_client_secret_file \
                 (with oauth_client_id or oauth_client_id_env), or app_password_env or app_password_file (with \
                 username or username_env)"
                    .into(),
            ),
        }
    }

    /// The kind, and its (user part, secret part) sources.
    fn parts(&self) -> Result<(Kind, Option<Source<'_>>, Source<'_>), String> {
        let kind = self.kind()?;
        let (user, secret, user_keys, secret_keys) = match kind {
            Kind::AccessToken => (
                None,
                either(
                    ("token_env", &self.token_env, Source::Env),
                    ("token_file", &self.token_file, Source::File),
                )?,
                "",
                "token_env or token_file",
            ),
            Kind::ApiToken => (
                either(
                    ("email", &self.email, Source::Literal),
                    ("email_env", &self.email_env, Source::Env),
                )?,
                either(
                    ("api_token_env", &self.api_token_env, Source::Env),
                    ("api_token_file", &self.api_token_file, Source::File),
                )?,
                "email or email_env",
                "api_token_env or api_token_file",
            ),
            Kind::OAuthConsumer => (
                either(
                    ("oauth_client_id", &self.oauth_client_id, Source::Literal),
                    (
                        "oauth_client_id_env",
                        &self.oauth_client_id_env,
                        Source::Env,
                    ),
                )?,
                either(
                    (
                        "oauth_client_secret_env",
                        &self.oauth_client_secret_env,
                        Source::Env,
                    ),
                    (
                        "oauth_client_secret_file",
                        &self.oauth_client_secret_file,
                        Source::File,
                    ),
                )?,
                "oauth_client_id or oauth_client_id_env",
                "oauth_client_secret_env or oauth_client_secret_file",
            ),
            Kind::AppPassword => (
                either(
                    ("username", &self.username, Source::Literal),
                    ("username_env", &self.username_env, Source::Env),
                )?,
                either(
                    ("app_password_env", &self.app_password_env, Source::Env),
                    ("app_password_file", &self.app_password_file, Source::File),
                )?,
                "username or username_env",
                "app_password_env or app_password_file",
            ),
        };
        // kind() saw one of the secret's keys, so `either` found it.
        let secret = secret.ok_or_else(|| format!("no {secret_keys}"))?;
        if kind != Kind::AccessToken && user.is_none() {
            return Err(format!("{secret_keys} needs {user_keys}"));
        }
        Ok((kind, user, secret))
    }

    /// Secret files named relative to the configuration file, made absolute from `base`.
    pub(crate) fn resolve_files(&mut self, base: &std::path::Path) {
        for file in [
            &mut self.token_file,
            &mut self.api_token_file,
            &mut self.oauth_client_secret_file,
            &mut self.app_password_file,
        ]
        .into_iter()
        .flatten()
        {
            if std::path::Path::new(file.as_str()).is_relative() {
                *file = base.join(file.as_str()).display().to_string();
            }
        }
    }

    /// Reads the credential's parts, through `lookup` for environment variables.
    pub fn resolve(
        &self,
        workspace: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ConfigError> {
        let fail = |message: String| ConfigError::Credential {
            workspace: workspace.to_string(),
            credential: self.name.clone(),
            message,
        };
        let read = |source: &Source<'_>| -> Result<String, ConfigError> {
            let (value, from) = match source {
                Source::Literal(value) => return Ok(value.to_string()),
                Source::Env(name) => (
                    lookup(name).ok_or_else(|| fail(format!("{name} is not set")))?,
                    name.to_string(),
                ),
                Source::File(path) => (
                    std::fs::read_to_string(path)
                        .map_err(|e| fail(format!("cannot read {path}: {e}")))?
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                    path.to_string(),
                ),
            };
            if value.trim().is_empty() {
                return Err(fail(format!("{from} is empty")));
            }
            if value.chars().any(char::is_control) {
                return Err(fail(format!(
                    "{from} holds a newline or another control character"
                )));
            }
            Ok(value)
        };
        let (kind, user, secret) = self.parts().map_err(fail)?;
        let user = user.as_ref().map(read).transpose()?;
        let secret = Secret::new(read(&secret)?);
        Ok(match (kind, user) {
            (Kind::ApiToken, Some(email)) => Credentials::ApiToken {
                email,
                token: secret,
            },
            (Kind::OAuthConsumer, Some(client_id)) => Credentials::OAuthConsumer {
                client_id,
                secret,
                token_url: bbpipe_extract::api::token_url(
                    self.oauth_token_url
                        .as_deref()
                        .unwrap_or(bbpipe_extract::api::DEFAULT_TOKEN_URL),
                )
                .map_err(|e| fail(e.to_string()))?,
            },
            (Kind::AppPassword, Some(username)) => Credentials::AppPassword {
                username,
                password: secret,
            },
            _ => Credentials::AccessToken(secret),
        })
    }
}
