//! What `--with` adds to an export or a replay: the optional tables and their endpoints.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Optional tables, each costing requests of its own (docs/guides/steps-and-environments.md: "What each `--with` costs").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Extras {
    /// `pipeline_steps`: one request per new or changed pipeline run.
    pub steps: bool,
    /// `environments` and `environment_deployments`: two listings per repository.
    pub environments: bool,
    /// `deployment_commits`: one request per 100 commits of each new successful deployment.
    pub commits: bool,
    /// Commit messages in `deployment_commits` (implies `commits`).
    pub commit_messages: bool,
}

impl Extras {
    /// The names `--with` accepts.
    pub const NAMES: [&'static str; 4] = ["steps", "environments", "commits", "commit-messages"];
}

impl FromStr for Extras {
    type Err = String;

    /// A comma-separated list, e.g. `steps,environments`.
    fn from_str(text: &str) -> Result<Extras, String> {
        let mut extras = Extras::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "steps" => extras.steps = true,
                "environments" => extras.environments = true,
                "commits" => extras.commits = true,
                "commit-messages" => {
                    extras.commits = true;
                    extras.commit_messages = true;
                }
                other => {
                    return Err(format!(
                        "unknown '{other}': expected a comma-separated list of {}",
                        Extras::NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(extras)
    }
}

impl fmt::Display for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.steps, "steps"),
            (self.environments, "environments"),
            (self.commits && !self.commit_messages, "commits"),
            (self.commit_messages, "commit-messages"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::Extras;

    #[test]
    fn parses_lists_and_names_what_is_wrong() {
        let both: Extras = "steps, environments".parse().unwrap();
        assert!(both.steps && both.environments);
        assert_eq!(both.to_string(), "steps,environments");
        assert_eq!("".parse::<Extras>().unwrap(), Extras::default());
        let error = "steps,commit".parse::<Extras>().unwrap_err();
        assert!(error.contains("'commit'"), "{error}");
        let messages: Extras = "commit-messages".parse().unwrap();
        assert!(messages.commits && messages.commit_messages);
        assert_eq!(messages.to_string(), "commit-messages");
        let commits: Extras = "commits".parse().unwrap();
        assert_eq!(commits.to_string(), "commits");
    }
}
