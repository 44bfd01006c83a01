//! The nightly job's configuration file (`bbpipe.toml`): where to write, which workspaces,
//! with which options and credentials. Credentials are referenced by the name of an
//! environment variable or a file, never written in the file. Unknown keys are errors that
//! name the key and its line. `bbpipe init` prints [`template`].

mod credentials;

pub use credentials::CredentialRef;

use bbpipe_model::{Extras, Granularity};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A commented starting point, as `bbpipe init` prints it (parsed by the tests), with the
/// defaults of [`bbpipe_model::defaults`] written in.
pub fn template() -> String {
    use bbpipe_model::defaults;
    include_str!("template.toml")
        .replace("{lookback}", defaults::LOOKBACK.text)
        .replace("{concurrency}", &defaults::CONCURRENCY.to_string())
        .replace(
            "{parallel_workspaces}",
            &defaults::PARALLEL_WORKSPACES.to_string(),
        )
        .replace(
            "{max_requests_per_hour}",
            &defaults::MAX_REQUESTS_PER_HOUR.to_string(),
        )
        .replace("{api_url}", bbpipe_extract::api::DEFAULT_API_URL)
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or a key that does not exist (the parser names key, line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// Well-formed but unusable: a missing destination, a bad value, a workspace twice.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
    /// A credential's variable or file is missing or unreadable.
    #[error("workspace {workspace}, credential {credential}: {message}")]
    Credential {
        /// The workspace.
        workspace: String,
        /// The credential's name.
        credential: String,
        /// What is missing, by variable or file name (never a value).
        message: String,
    },
}

/// The file, as written (paths not yet resolved).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NightlyConfig {
    /// The destination: a directory or `s3://bucket/prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// Deploy rules (relative to the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<PathBuf>,
    /// Optional tables, as `--with` takes them: `"steps,environments,commits"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// `--lookback`, e.g. `"2d"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<String>,
    /// `--concurrency`: requests in flight per workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// `--parallel-workspaces`: workspaces exported at once (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_workspaces: Option<usize>,
    /// `--max-requests-per-hour`, per credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_hour: Option<u32>,
    /// `--api-url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// `--partition-by` for a new dataset: `month` or `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// `--format` for a new dataset: `parquet` or `delta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `--steps-since`, e.g. `"30d"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_since: Option<String>,
    /// `--max-commits-per-deployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_commits_per_deployment: Option<u32>,
    /// The workspaces, each with its credentials.
    #[serde(default, rename = "workspace")]
    pub workspaces: Vec<WorkspaceConfig>,
}

/// One workspace of the file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Its slug.
    pub name: String,
    /// Only repositories matching these globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<String>,
    /// Leave out repositories matching these globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Its own deploy rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<PathBuf>,
    /// Its own optional tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// Written under this prefix of the destination (`<out>/<prefix>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// One or more credentials; requests go to one with budget left.
    #[serde(default, rename = "credential")]
    pub credentials: Vec<CredentialRef>,
}

impl NightlyConfig {
    /// Reads and checks `path`; relative paths in it (rules, a local destination, secret files)
    /// are taken from its directory.
    pub fn load(path: &Path) -> Result<NightlyConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut config = NightlyConfig::parse(&text, &shown)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(path) = p.as_mut()
                && path.is_relative()
            {
                *path = base.join(&*path);
            }
        };
        resolve(&mut config.rules);
        // A local destination too (not s3://...): a scheduler's working directory is not the
        // file's.
        if let Some(out) = config.out.as_mut()
            && !out.contains("://")
            && Path::new(out.as_str()).is_relative()
        {
            *out = base.join(out.as_str()).display().to_string();
        }
        for workspace in &mut config.workspaces {
            resolve(&mut workspace.rules);
            for credential in &mut workspace.credentials {
                credential.resolve_files(base);
            }
        }
        Ok(config)
    }

    /// Parses and checks `text` (`shown` names it in errors).
    pub fn parse(text: &str, shown: &str) -> Result<NightlyConfig, ConfigError> {
        let config: NightlyConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: shown.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.check(shown)?;
        Ok(config)
    }

    /// Checks the file's rules one after another (workspaces, credentials, values), each naming its
    /// line; a flat list.
    fn check(&self, shown: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.to_string(),
            message,
        };
        if self.workspaces.is_empty() {
            return Err(invalid("no [[workspace]]: name at least one".into()));
        }
        if let Some(url) = &self.api_url {
            let parsed = url::Url::parse(url).map_err(|e| invalid(format!("api_url: {e}")))?;
            bbpipe_extract::api::check_api_url(&parsed)
                .map_err(|e| invalid(format!("api_url: {e}")))?;
        }
        let mut names = HashSet::new();
        for workspace in &self.workspaces {
            let name = &workspace.name;
            if name.trim().is_empty() {
                return Err(invalid("a [[workspace]] without a name".into()));
            }
            if let Some(problem) = bbpipe_model::bitbucket::workspace_slug_problem(name) {
                return Err(invalid(format!(
                    "workspace {:?}: not a Bitbucket workspace slug: {problem}",
                    bbpipe_model::bitbucket::shown(name)
                )));
            }
            if !names.insert(name.to_lowercase()) {
                return Err(invalid(format!("workspace {name} is listed twice")));
            }
            if workspace.credentials.is_empty() {
                return Err(invalid(format!(
                    "workspace {name} has no [[workspace.credential]]"
                )));
            }
            let mut credential_names = HashSet::new();
            for credential in &workspace.credentials {
                if !credential_names.insert(credential.name.as_str()) {
                    return Err(invalid(format!(
                        "workspace {name}: credential {} is listed twice",
                        credential.name
                    )));
                }
                credential.check().map_err(|message| {
                    invalid(format!(
                        "workspace {name}, credential {}: {message}",
                        credential.name
                    ))
                })?;
            }
            if let Some(with) = &workspace.with {
                with.parse::<Extras>()
                    .map_err(|e| invalid(format!("workspace {name}: with: {e}")))?;
            }
        }
        if let Some(with) = &self.with {
            with.parse::<Extras>()
                .map_err(|e| invalid(format!("with: {e}")))?;
        }
        if let Some(by) = &self.partition_by {
            by.parse::<Granularity>()
                .map_err(|e| invalid(format!("partition_by: {e}")))?;
        }
        if let Some(format) = &self.format {
            format
                .parse::<bbpipe_model::Format>()
                .map_err(|e| invalid(format!("format: {e}")))?;
        }
        for (key, value) in [
            ("lookback", &self.lookback),
            ("steps_since", &self.steps_since),
        ] {
            if let Some(text) = value {
                humantime::parse_duration(text)
                    .map_err(|e| invalid(format!("{key}: {text:?}: {e} (e.g. 2d, 36h)")))?;
            }
        }
        if self.parallel_workspaces == Some(0) || self.concurrency == Some(0) {
            return Err(invalid(
                "parallel_workspaces and concurrency are at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The workspace named `name` (case-insensitive, as slugs are).
    pub fn workspace(&self, name: &str) -> Option<&WorkspaceConfig> {
        self.workspaces
            .iter()
            .find(|w| w.name.eq_ignore_ascii_case(name))
    }

    /// The file as `bbpipe config show` prints it: credentials by reference, never by value.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

impl WorkspaceConfig {
    /// The destination of this workspace under `out`.
    pub fn destination(&self, out: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{}/{}", out.trim_end_matches('/'), prefix.trim_matches('/')),
            None => out.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
