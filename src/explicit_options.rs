//! Which options the command line gave (or their environment variables): those win over the
//! configuration file.

use std::collections::HashSet;

/// The options given on the command line (or by an environment variable clap reads): these
/// win over the configuration file.
#[derive(Debug, Default)]
pub struct ExplicitOptions(HashSet<String>);

impl ExplicitOptions {
    /// From the matches of the subcommand that runs.
    pub fn of(matches: Option<&clap::ArgMatches>) -> ExplicitOptions {
        use clap::parser::ValueSource;
        let Some(matches) = matches else {
            return ExplicitOptions::default();
        };
        ExplicitOptions(
            matches
                .ids()
                .filter(|id| {
                    matches!(
                        matches.value_source(id.as_str()),
                        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                    )
                })
                .map(|id| id.as_str().to_string())
                .collect(),
        )
    }

    /// Whether option `id` (clap's id: the field name) was given.
    pub fn has(&self, id: &str) -> bool {
        self.0.contains(id)
    }
}
