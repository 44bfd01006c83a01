//! What `--with` adds to an export or a replay: the optional tables and their endpoints.

use crate::Optional;
use std::fmt;
use std::str::FromStr;

/// Optional tables, each costing requests of its own (docs/guides/steps-and-environments.md:
/// "What each `--with` costs"): the [`Optional`]s turned on, and whether commit messages are
/// kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    /// The options on, one bit per [`Optional`] (by declaration order).
    on: u32,
    /// Commit messages in `deployment_commits` (implies [`Optional::Commits`]).
    pub commit_messages: bool,
}

/// What `--with commit-messages` adds to `commits`.
const COMMIT_MESSAGES: &str = "commit-messages";

impl Extras {
    /// These options and `optional`.
    pub fn with(mut self, optional: Optional) -> Extras {
        self.on |= 1 << optional as u32;
        match optional.implies() {
            Some(needed) => self.with(needed),
            None => self,
        }
    }

    /// Whether these options turn on `optional`.
    pub fn includes(&self, optional: Optional) -> bool {
        self.on & (1 << optional as u32) != 0
    }

    /// The names `--with` accepts.
    pub fn names() -> Vec<&'static str> {
        let names = Optional::ALL.iter().map(|o| o.name());
        names.chain([COMMIT_MESSAGES]).collect()
    }
}

impl FromStr for Extras {
    type Err = String;

    /// A comma-separated list, e.g. `steps,environments`.
    fn from_str(text: &str) -> Result<Extras, String> {
        let mut extras = Extras::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == COMMIT_MESSAGES {
                extras = extras.with(Optional::Commits);
                extras.commit_messages = true;
                continue;
            }
            let Some(&optional) = Optional::ALL.iter().find(|o| o.name() == name) else {
                return Err(format!(
                    "unknown '{name}': expected a comma-separated list of {}",
                    Extras::names().join(", ")
                ));
            };
            extras = extras.with(optional);
        }
        Ok(extras)
    }
}

impl fmt::Display for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Optional::ALL
            .iter()
            .filter(|&&o| self.includes(o))
            .map(|&o| match o {
                Optional::Commits if self.commit_messages => COMMIT_MESSAGES,
                _ => o.name(),
            })
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::{Extras, Optional};

    #[test]
    fn parses_lists_and_names_what_is_wrong() {
        let both: Extras = "steps, environments".parse().unwrap();
        assert!(both.includes(Optional::Steps) && both.includes(Optional::Environments));
        assert!(!both.includes(Optional::Commits));
        assert_eq!(both.to_string(), "steps,environments");
        assert_eq!("".parse::<Extras>().unwrap(), Extras::default());
        let error = "steps,commit".parse::<Extras>().unwrap_err();
        assert!(error.contains("'commit'"), "{error}");
        let messages: Extras = "commit-messages".parse().unwrap();
        assert!(messages.includes(Optional::Commits) && messages.commit_messages);
        assert_eq!(messages.to_string(), "commit-messages");
        let commits: Extras = "commits".parse().unwrap();
        assert_eq!(commits.to_string(), "commits");
        let tests: Extras = "tests".parse().unwrap();
        assert!(tests.includes(Optional::Steps), "tests imply steps");
        assert_eq!(tests.to_string(), "steps,tests");
    }
}
