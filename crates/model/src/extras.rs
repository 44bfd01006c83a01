//! What `--with` adds to an export or a replay: the optional tables and their endpoints.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Optional tables, each costing requests of its own (README: "What each `--with` costs").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extras {
    /// `pipeline_steps`: one request per new or changed pipeline run.
    pub steps: bool,
    /// `environments` and `environment_deployments`: two listings per repository.
    pub environments: bool,
}

impl Extras {
    /// The names `--with` accepts.
    pub const NAMES: [&'static str; 2] = ["steps", "environments"];
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
        let names: Vec<&str> = [(self.steps, "steps"), (self.environments, "environments")]
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
        let error = "steps,commits".parse::<Extras>().unwrap_err();
        assert!(error.contains("'commits'"), "{error}");
    }
}
