//! Credentials, from the environment (or files named by it), never from the command line.

use std::fmt;

/// A secret string. `Debug` and `Display` print `***`, so it cannot leak into logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How bbpipe authenticates to Bitbucket Cloud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// Workspace, project or repository access token: `Authorization: Bearer`.
    AccessToken(Secret),
    /// Atlassian API token: HTTP Basic with the account's email.
    ApiToken {
        /// The account's email.
        email: String,
        /// The API token.
        token: Secret,
    },
    /// A workspace OAuth consumer (client credentials grant): its key and secret go to the
    /// token URL only, for an access token that goes out as Bearer and is renewed before it
    /// expires (or when the API says it has).
    OAuthConsumer {
        /// The consumer's key (its client id).
        client_id: String,
        /// The consumer's secret.
        secret: Secret,
        /// Where access tokens are asked for.
        token_url: url::Url,
    },
    /// App password: HTTP Basic with the Bitbucket username. Atlassian removed app passwords
    /// on 2026-07-28; the API answers them 401.
    AppPassword {
        /// The Bitbucket username.
        username: String,
        /// The app password.
        password: Secret,
    },
}

/// Why no credentials could be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "no Bitbucket credentials: set BITBUCKET_ACCESS_TOKEN (access token), or BITBUCKET_EMAIL \
         and BITBUCKET_API_TOKEN (Atlassian API token), or BITBUCKET_OAUTH_CLIENT_ID and \
         BITBUCKET_OAUTH_CLIENT_SECRET (workspace OAuth consumer); each also as <NAME>_FILE"
    )]
    /// No credential variable is set.
    Missing,
    #[error("ambiguous Bitbucket credentials: {0} are all set; keep exactly one kind")]
    /// Variables of several kinds are set (named).
    Ambiguous(String),
    #[error("incomplete Bitbucket credentials: {set} is set but {missing} is not")]
    /// One variable of a pair is set without the other.
    Partial {
        /// The variable that is set.
        set: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    #[error("{name}: cannot read {path}: {message}")]
    /// A `<NAME>_FILE` variable names a file that cannot be read.
    File {
        /// The variable.
        name: String,
        /// The file.
        path: String,
        /// Why it cannot be read.
        message: String,
    },
    #[error("{0} is set but empty")]
    /// A variable is set to nothing (named).
    Empty(&'static str),
    /// A newline or other control character cannot go into an HTTP header: a token pasted with
    /// one would fail every request, and could smuggle a header.
    #[error("{0} holds a newline or another control character (a copy-paste slip?)")]
    ControlCharacter(&'static str),
    /// The token URL cannot be one: the consumer's secret would have nowhere safe to go.
    #[error("BITBUCKET_OAUTH_TOKEN_URL {0:?}: not an https:// URL (http:// only to loopback)")]
    TokenUrl(String),
}

/// Where Bitbucket Cloud hands out OAuth access tokens.
pub const DEFAULT_TOKEN_URL: &str = "https://bitbucket.org/site/oauth2/access_token";

impl Credentials {
    /// Reads the process environment.
    pub fn from_env() -> Result<Credentials, AuthError> {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`; `NAME_FILE` names a file holding `NAME`'s value
    /// (as container secrets are mounted), trailing newline removed.
    ///
    /// Long because it reads each kind of credential in turn and says exactly which half of which
    /// kind is missing; the checks are a flat list.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Credentials, AuthError> {
        let read = |name: &'static str| -> Result<Option<String>, AuthError> {
            let value = match lookup(name) {
                Some(v) => Some(v),
                None => match lookup(&format!("{name}_FILE")) {
                    Some(path) => Some(
                        std::fs::read_to_string(&path)
                            .map_err(|e| AuthError::File {
                                name: format!("{name}_FILE"),
                                path: path.clone(),
                                message: e.to_string(),
                            })?
                            .trim_end_matches(['\n', '\r'])
                            .to_string(),
                    ),
                    None => None,
                },
            };
            match value {
                Some(v) if v.trim().is_empty() => Err(AuthError::Empty(name)),
                Some(v) if v.chars().any(char::is_control) => {
                    Err(AuthError::ControlCharacter(name))
                }
                other => Ok(other),
            }
        };
        let token = read("BITBUCKET_ACCESS_TOKEN")?;
        let email = read("BITBUCKET_EMAIL")?;
        let api_token = read("BITBUCKET_API_TOKEN")?;
        let username = read("BITBUCKET_USERNAME")?;
        let app_password = read("BITBUCKET_APP_PASSWORD")?;
        let client_id = read("BITBUCKET_OAUTH_CLIENT_ID")?;
        let client_secret = read("BITBUCKET_OAUTH_CLIENT_SECRET")?;

        let mut kinds = Vec::new();
        if token.is_some() {
            kinds.push("BITBUCKET_ACCESS_TOKEN");
        }
        if email.is_some() || api_token.is_some() {
            kinds.push("BITBUCKET_EMAIL/BITBUCKET_API_TOKEN");
        }
        if username.is_some() || app_password.is_some() {
            kinds.push("BITBUCKET_USERNAME/BITBUCKET_APP_PASSWORD");
        }
        if client_id.is_some() || client_secret.is_some() {
            kinds.push("BITBUCKET_OAUTH_CLIENT_ID/BITBUCKET_OAUTH_CLIENT_SECRET");
        }
        if kinds.len() > 1 {
            return Err(AuthError::Ambiguous(kinds.join(", ")));
        }
        if let Some(token) = token {
            return Ok(Credentials::AccessToken(Secret::new(token)));
        }
        match (email, api_token) {
            (Some(email), Some(token)) => {
                return Ok(Credentials::ApiToken {
                    email,
                    token: Secret::new(token),
                });
            }
            (Some(_), None) => {
                return Err(AuthError::Partial {
                    set: "BITBUCKET_EMAIL",
                    missing: "BITBUCKET_API_TOKEN",
                });
            }
            (None, Some(_)) => {
                return Err(AuthError::Partial {
                    set: "BITBUCKET_API_TOKEN",
                    missing: "BITBUCKET_EMAIL",
                });
            }
            (None, None) => {}
        }
        match (client_id, client_secret) {
            (Some(client_id), Some(secret)) => {
                let asked = lookup("BITBUCKET_OAUTH_TOKEN_URL");
                let text = asked.as_deref().unwrap_or(DEFAULT_TOKEN_URL);
                return Ok(Credentials::OAuthConsumer {
                    client_id,
                    secret: Secret::new(secret),
                    token_url: token_url(text)?,
                });
            }
            (Some(_), None) => {
                return Err(AuthError::Partial {
                    set: "BITBUCKET_OAUTH_CLIENT_ID",
                    missing: "BITBUCKET_OAUTH_CLIENT_SECRET",
                });
            }
            (None, Some(_)) => {
                return Err(AuthError::Partial {
                    set: "BITBUCKET_OAUTH_CLIENT_SECRET",
                    missing: "BITBUCKET_OAUTH_CLIENT_ID",
                });
            }
            (None, None) => {}
        }
        match (username, app_password) {
            (Some(username), Some(password)) => Ok(Credentials::AppPassword {
                username,
                password: Secret::new(password),
            }),
            (Some(_), None) => Err(AuthError::Partial {
                set: "BITBUCKET_USERNAME",
                missing: "BITBUCKET_APP_PASSWORD",
            }),
            (None, Some(_)) => Err(AuthError::Partial {
                set: "BITBUCKET_APP_PASSWORD",
                missing: "BITBUCKET_USERNAME",
            }),
            (None, None) => Err(AuthError::Missing),
        }
    }

    /// `access_token`, `api_token`, `oauth_consumer` or `app_password`.
    pub fn mode(&self) -> &'static str {
        match self {
            Credentials::AccessToken(_) => "access_token",
            Credentials::ApiToken { .. } => "api_token",
            Credentials::OAuthConsumer { .. } => "oauth_consumer",
            Credentials::AppPassword { .. } => "app_password",
        }
    }

    /// Adds the credential to a request of the API; an OAuth consumer's current access token
    /// is `bearer` (the client holds it).
    pub(crate) fn apply(
        &self,
        request: reqwest::RequestBuilder,
        bearer: Option<&Secret>,
    ) -> reqwest::RequestBuilder {
        match self {
            Credentials::AccessToken(token) => request.bearer_auth(token.expose()),
            Credentials::OAuthConsumer { .. } => match bearer {
                Some(token) => request.bearer_auth(token.expose()),
                None => request,
            },
            Credentials::ApiToken { email, token } => {
                request.basic_auth(email, Some(token.expose()))
            }
            Credentials::AppPassword { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
        }
    }
}

/// A token URL the consumer's secret may go to: https, or http to a loopback address (a local
/// test server).
pub fn token_url(text: &str) -> Result<url::Url, AuthError> {
    let bad = || AuthError::TokenUrl(text.to_string());
    let url = url::Url::parse(text).map_err(|_| bad())?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Credentials, AuthError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Credentials::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn each_mode_and_the_wrong_ones() {
        assert_eq!(
            from(&[("BITBUCKET_ACCESS_TOKEN", "t")]).unwrap().mode(),
            "access_token"
        );
        let api = from(&[("BITBUCKET_EMAIL", "a@b.c"), ("BITBUCKET_API_TOKEN", "t")]).unwrap();
        assert_eq!(api.mode(), "api_token");
        let app = from(&[("BITBUCKET_USERNAME", "u"), ("BITBUCKET_APP_PASSWORD", "p")]).unwrap();
        assert_eq!(app.mode(), "app_password");
        assert_eq!(from(&[]), Err(AuthError::Missing));
        assert_eq!(
            from(&[("BITBUCKET_ACCESS_TOKEN", "abc\ndef")]),
            Err(AuthError::ControlCharacter("BITBUCKET_ACCESS_TOKEN"))
        );
        assert!(matches!(
            from(&[
                ("BITBUCKET_ACCESS_TOKEN", "t"),
                ("BITBUCKET_EMAIL", "a@b.c")
            ]),
            Err(AuthError::Ambiguous(_))
        ));
        assert_eq!(
            from(&[("BITBUCKET_EMAIL", "a@b.c")]),
            Err(AuthError::Partial {
                set: "BITBUCKET_EMAIL",
                missing: "BITBUCKET_API_TOKEN"
            })
        );
        assert_eq!(
            from(&[("BITBUCKET_ACCESS_TOKEN", " ")]),
            Err(AuthError::Empty("BITBUCKET_ACCESS_TOKEN"))
        );
    }

    #[test]
    fn secrets_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cr3t-value\n").unwrap();
        let creds = from(&[("BITBUCKET_ACCESS_TOKEN_FILE", file.to_str().unwrap())]).unwrap();
        assert_eq!(creds, Credentials::AccessToken(Secret::new("s3cr3t-value")));
        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }

    #[test]
    fn an_oauth_consumer_needs_both_halves_and_a_safe_token_url() {
        let both = [
            ("BITBUCKET_OAUTH_CLIENT_ID", "key"),
            ("BITBUCKET_OAUTH_CLIENT_SECRET", "s"),
        ];
        let consumer = from(&both).unwrap();
        assert_eq!(consumer.mode(), "oauth_consumer");
        let Credentials::OAuthConsumer { token_url, .. } = &consumer else {
            panic!("{consumer:?}");
        };
        assert_eq!(token_url.as_str(), DEFAULT_TOKEN_URL);
        assert!(!format!("{consumer:?}").contains("\"s\""));
        assert_eq!(
            from(&both[..1]),
            Err(AuthError::Partial {
                set: "BITBUCKET_OAUTH_CLIENT_ID",
                missing: "BITBUCKET_OAUTH_CLIENT_SECRET"
            })
        );
        let with_token = [both[0], both[1], ("BITBUCKET_ACCESS_TOKEN", "t")];
        assert!(matches!(from(&with_token), Err(AuthError::Ambiguous(_))));
        for (url, ok) in [
            ("https://bitbucket.org/site/oauth2/access_token", true),
            ("http://127.0.0.1:8080/site/oauth2/access_token", true),
            ("http://localhost/token", true),
            ("http://bitbucket.org/site/oauth2/access_token", false),
            ("ftp://bitbucket.org/x", false),
            ("not a url", false),
        ] {
            let vars = [both[0], both[1], ("BITBUCKET_OAUTH_TOKEN_URL", url)];
            assert_eq!(from(&vars).is_ok(), ok, "{url}");
        }
    }
}
