//! A credential of the configuration file: where its parts are (environment variables or
//! files), never what they are.

use super::ConfigError;
use bbpipe_extract::api::{Credentials, Secret};
use serde::{Deserialize, Serialize};

/// One credential, by reference: an access token (`token_env` or `token_file`), an Atlassian
/// API token with its account's email (`email` or `email_env`, and `api_token_env` or
/// `api_token_file`), or a deprecated app password (`username` or `username_env`, and
/// `app_password_env` or `app_password_file`).
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

/// The one source among `values` (key, value, 0 literal / 1 variable / 2 file) that is given.
fn one<'a>(
    values: [(&'static str, &'a Option<String>, u8); 3],
) -> Result<Option<Source<'a>>, String> {
    let given: Vec<_> = values.iter().filter(|(_, v, _)| v.is_some()).collect();
    match given.as_slice() {
        [] => Ok(None),
        [(_, Some(value), kind)] => Ok(Some(match kind {
            0 => Source::Literal(value),
            1 => Source::Env(value),
            _ => Source::File(value),
        })),
        _ => Err(format!(
            "give only one of {}",
            values
                .iter()
                .map(|(k, _, _)| *k)
                .filter(|k| !k.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Where one part of a credential is.
enum Source<'a> {
    Literal(&'a str),
    Env(&'a str),
    File(&'a str),
}

impl CredentialRef {
    /// Exactly one kind, with each of its parts given exactly once.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("a credential needs a name".into());
        }
        let kinds = [
            self.token_env.is_some() || self.token_file.is_some(),
            self.api_token_env.is_some() || self.api_token_file.is_some(),
            self.app_password_env.is_some() || self.app_password_file.is_some(),
        ];
        match kinds.iter().filter(|k| **k).count() {
            0 => {
                return Err(
                    "no secret: give token_env or token_file, api_token_env or api_token_file \
                     (with email or email_env), or app_password_env or app_password_file (with \
                     username or username_env)"
                        .into(),
                );
            }
            1 => {}
            _ => return Err("several kinds of secret: keep exactly one".into()),
        }
        self.parts().map(|_| ())
    }

    /// (user part, secret part) sources, for the kind given.
    fn parts(&self) -> Result<(Option<Source<'_>>, Source<'_>), String> {
        let none = &None;
        if self.token_env.is_some() || self.token_file.is_some() {
            let secret = one([
                ("token_env", &self.token_env, 1),
                ("token_file", &self.token_file, 2),
                ("", none, 0),
            ])?;
            return secret
                .map(|s| (None, s))
                .ok_or_else(|| "no token".to_string());
        }
        let (user, secret, user_keys, secret_keys) =
            if self.api_token_env.is_some() || self.api_token_file.is_some() {
                (
                    one([
                        ("email", &self.email, 0),
                        ("email_env", &self.email_env, 1),
                        ("", none, 0),
                    ])?,
                    one([
                        ("api_token_env", &self.api_token_env, 1),
                        ("api_token_file", &self.api_token_file, 2),
                        ("", none, 0),
                    ])?,
                    "email or email_env",
                    "api_token_env or api_token_file",
                )
            } else {
                (
                    one([
                        ("username", &self.username, 0),
                        ("username_env", &self.username_env, 1),
                        ("", none, 0),
                    ])?,
                    one([
                        ("app_password_env", &self.app_password_env, 1),
                        ("app_password_file", &self.app_password_file, 2),
                        ("", none, 0),
                    ])?,
                    "username or username_env",
                    "app_password_env or app_password_file",
                )
            };
        let user = user.ok_or_else(|| format!("{secret_keys} needs {user_keys}"))?;
        let secret = secret.ok_or_else(|| format!("{user_keys} needs {secret_keys}"))?;
        Ok((Some(user), secret))
    }

    /// Secret files named relative to the configuration file, made absolute from `base`.
    pub(crate) fn resolve_files(&mut self, base: &std::path::Path) {
        for file in [
            &mut self.token_file,
            &mut self.api_token_file,
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
        let (user, secret) = self.parts().map_err(fail)?;
        let user = user.as_ref().map(read).transpose()?;
        let secret = Secret::new(read(&secret)?);
        Ok(
            match (
                user,
                self.api_token_env.is_some() || self.api_token_file.is_some(),
            ) {
                (None, _) => Credentials::AccessToken(secret),
                (Some(email), true) => Credentials::ApiToken {
                    email,
                    token: secret,
                },
                (Some(username), false) => Credentials::AppPassword {
                    username,
                    password: secret,
                },
            },
        )
    }
}
