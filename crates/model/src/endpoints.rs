//! Each Bitbucket endpoint bbpipe reads, described once: its API path, where its pages sit in
//! a fixture, the `--with` option that turns it on, the tables its rows go to, and how a
//! recording keeps its pages. Export, replay, the recorder and the fixture layout read these
//! values; every `match` over them is exhaustive, so an endpoint added here is a compile
//! error wherever it needs a decision.

use crate::{Endpoint, Extras, Table};

/// Everything about one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSpec {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The API path, under the API's base URL (placeholders in braces).
    pub api_path: &'static str,
    /// Where its pages sit under `<fixture>/<workspace>/`.
    pub fixture: Fixture,
    /// The `--with` option it needs; `None`: always read.
    pub with: Option<Optional>,
    /// The tables its rows go to.
    pub tables: &'static [Table],
    /// What a recording keeps of its pages.
    pub recording: Recorded,
}

/// Where an endpoint's pages sit in the fixture layout, under the workspace's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixture {
    /// Whose directory holds them: the workspace's, or a repository's (`<repo_slug>/`).
    pub under: Under,
    /// The directories below that one (`["pipelines", "runs"]`).
    pub dir: &'static [&'static str],
    /// How its files are named.
    pub files: FileNames,
}

/// Whose directory holds an endpoint's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Under {
    /// `<workspace>/`.
    Workspace,
    /// `<workspace>/<repo_slug>/`.
    Repository,
    /// `<workspace>/<repo_slug>/<dir>/<run uuid without braces>/`.
    Run,
}

/// How an endpoint's files are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileNames {
    /// `page-0001.json`, `page-0002.json`, ...
    Pages,
    /// `0001.json`, ...: single objects, numbered in the order read.
    Numbered,
    /// Not page files replay sends: the commits pass reads them as a commit graph or as
    /// recorded answers (see the fixture layout).
    CommitAnswers,
}

/// The optional tables `--with` turns on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optional {
    /// `--with steps`.
    Steps,
    /// `--with environments`.
    Environments,
    /// `--with commits` (or `commit-messages`).
    Commits,
}

/// What a recording keeps of an endpoint's pages, and how it numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// As received, by the API's page number.
    AsReceivedByPage,
    /// Numbered in the order read, each run's `variables` left out.
    RunsInReadOrder,
    /// One run per file, numbered across repositories in the order read, `variables` left out.
    SingleRuns,
    /// As received, numbered in the order read.
    AsReceivedInReadOrder,
    /// Only the fields `pipeline_steps` reads, under the run's directory.
    StepFieldsOnly,
    /// Only the fields `deployment_commits` reads, one directory per question.
    CommitFieldsOnly,
}

impl Extras {
    /// Whether these options turn on `optional`.
    pub fn includes(&self, optional: Optional) -> bool {
        match optional {
            Optional::Steps => self.steps,
            Optional::Environments => self.environments,
            Optional::Commits => self.commits,
        }
    }
}

const RUN_TABLES: &[Table] = &[Table::PipelineRuns, Table::Deployments, Table::Rejects];

impl Endpoint {
    /// Every endpoint, in the order replay sends a workspace's pages.
    pub const ALL: [Endpoint; 7] = [
        Endpoint::Repositories,
        Endpoint::Pipelines,
        Endpoint::PipelineRun,
        Endpoint::Steps,
        Endpoint::Environments,
        Endpoint::Deployments,
        Endpoint::Commits,
    ];

    /// The endpoint's description.
    ///
    /// A declarative table, one arm per endpoint: long because every endpoint is described here.
    pub const fn spec(self) -> EndpointSpec {
        type Parts = (
            &'static str,
            Under,
            &'static [&'static str],
            FileNames,
            Option<Optional>,
            &'static [Table],
            Recorded,
        );
        let (api_path, under, dir, files, with, tables, recording): Parts = match self {
            Endpoint::Repositories => (
                "/repositories/{workspace}",
                Under::Workspace,
                &["repositories"],
                FileNames::Pages,
                None,
                &[Table::Repositories],
                Recorded::AsReceivedByPage,
            ),
            Endpoint::Pipelines => (
                "/repositories/{workspace}/{repo_slug}/pipelines",
                Under::Repository,
                &["pipelines"],
                FileNames::Pages,
                None,
                RUN_TABLES,
                Recorded::RunsInReadOrder,
            ),
            Endpoint::PipelineRun => (
                "/repositories/{workspace}/{repo_slug}/pipelines/{uuid}",
                Under::Repository,
                &["pipelines", "runs"],
                FileNames::Numbered,
                None,
                RUN_TABLES,
                Recorded::SingleRuns,
            ),
            Endpoint::Steps => (
                "/repositories/{workspace}/{repo_slug}/pipelines/{uuid}/steps",
                Under::Run,
                &["pipelines", "steps"],
                FileNames::Pages,
                Some(Optional::Steps),
                &[Table::PipelineSteps],
                Recorded::StepFieldsOnly,
            ),
            Endpoint::Environments => (
                "/repositories/{workspace}/{repo_slug}/environments",
                Under::Repository,
                &["environments"],
                FileNames::Pages,
                Some(Optional::Environments),
                &[Table::Environments],
                Recorded::AsReceivedInReadOrder,
            ),
            Endpoint::Deployments => (
                "/repositories/{workspace}/{repo_slug}/deployments",
                Under::Repository,
                &["deployments"],
                FileNames::Pages,
                Some(Optional::Environments),
                &[Table::EnvironmentDeployments],
                Recorded::AsReceivedInReadOrder,
            ),
            Endpoint::Commits => (
                "/repositories/{workspace}/{repo_slug}/commits/{revision}",
                Under::Repository,
                &["commits"],
                FileNames::CommitAnswers,
                Some(Optional::Commits),
                &[Table::DeploymentCommits],
                Recorded::CommitFieldsOnly,
            ),
        };
        EndpointSpec {
            endpoint: self,
            api_path,
            fixture: Fixture { under, dir, files },
            with,
            tables,
            recording,
        }
    }

    /// Whether a run with these options reads this endpoint.
    pub fn wanted(self, extras: &Extras) -> bool {
        self.spec()
            .with
            .is_none_or(|optional| extras.includes(optional))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_but_the_derived_ones_comes_from_an_endpoint_and_each_fixture_dir_is_one() {
        let mut dirs: Vec<(Under, &[&str])> = vec![];
        for endpoint in Endpoint::ALL {
            let spec = endpoint.spec();
            assert_eq!(spec.endpoint, endpoint);
            assert!(!spec.tables.is_empty(), "{endpoint:?}");
            let place = (spec.fixture.under, spec.fixture.dir);
            assert!(!dirs.contains(&place), "{endpoint:?} shares {place:?}");
            dirs.push(place);
        }
        for table in Table::ALL {
            assert!(
                Endpoint::ALL
                    .iter()
                    .any(|e| e.spec().tables.contains(&table)),
                "{table:?} comes from no endpoint"
            );
        }
    }

    #[test]
    fn optional_endpoints_are_read_only_with_their_option() {
        let none = Extras::default();
        let steps: Extras = "steps".parse().unwrap();
        assert!(Endpoint::Pipelines.wanted(&none));
        assert!(!Endpoint::Steps.wanted(&none) && Endpoint::Steps.wanted(&steps));
        assert!(!Endpoint::Deployments.wanted(&steps));
        let messages: Extras = "commit-messages".parse().unwrap();
        assert!(Endpoint::Commits.wanted(&messages));
    }
}
