//! Each Bitbucket endpoint bbpipe reads, described once: its API path, where its pages sit in
//! a fixture, the `--with` option that turns it on, the tables its rows go to, and how a
//! recording keeps its pages. Export, replay, the recorder and the fixture layout read these
//! values; every `match` over them is exhaustive, so an endpoint added here is a compile
//! error wherever it needs a decision.

use crate::{Extras, Table};

/// Which Bitbucket endpoint a page came from, and so how transform must read it. Declared in
/// the order replay sends a workspace's pages; everything else about it is in [`Endpoint::spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum Endpoint {
    /// `GET /repositories/{workspace}`: a paginated list of repositories.
    Repositories,
    /// `GET /repositories/{workspace}/{repo_slug}/pipelines`: a paginated list of pipeline runs.
    Pipelines,
    /// `GET /repositories/{workspace}/{repo_slug}/pipelines/{uuid}`: one pipeline run, unwrapped.
    PipelineRun,
    /// `GET .../pipelines/{uuid}/steps`: the steps of one pipeline run (the page's
    /// [`PageSource::run`](crate::PageSource::run) names the run).
    Steps,
    /// `GET .../steps/{step_uuid}/test_reports`: the counts of a step's test report (the page's
    /// [`PageSource::step`](crate::PageSource::step) names the step).
    TestReports,
    /// `GET .../steps/{step_uuid}/test_reports/test_cases?status=`: a step's test cases of one
    /// status.
    TestCases,
    /// `GET /repositories/{workspace}/{repo_slug}/environments`: deployment environments.
    Environments,
    /// `GET /repositories/{workspace}/{repo_slug}/deployments`: Bitbucket's own deployments.
    Deployments,
    /// `GET /repositories/{workspace}/{repo_slug}/commits/{revision}?exclude={revision}`: the
    /// commits a deployment shipped (read after the runs, not sent down the page channel).
    Commits,
}

/// Everything about one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSpec {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its name in logs and error messages.
    pub name: &'static str,
    /// The API path, under the API's base URL (placeholders in braces).
    pub api_path: &'static str,
    /// How export reads it and when replay sends its pages.
    pub read: Read,
    /// Where its pages sit under `<fixture>/<workspace>/`.
    pub fixture: Fixture,
    /// The `--with` option it needs; `None`: always read.
    pub with: Option<Optional>,
    /// The tables its rows go to.
    pub tables: &'static [Table],
    /// What a recording keeps of its pages.
    pub recording: Recorded,
    /// Whether every transform worker must read its pages: they name things (repository
    /// uuids, environments) that pages read by other workers refer to.
    pub reference: bool,
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

impl EndpointSpec {
    /// The API path's segments with its placeholders filled in from `values` (name, value),
    /// e.g. `[("workspace", "acme"), ("repo_slug", "api")]`; one not given stays as it is.
    pub fn segments<'a>(&self, values: &[(&str, &'a str)]) -> Vec<&'a str> {
        let path = self.api_path.trim_start_matches('/').split('/');
        path.map(|segment| {
            let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            let value = values.iter().find(|(n, _)| Some(*n) == name);
            value.map_or(segment, |(_, value)| value)
        })
        .collect()
    }
}

impl Fixture {
    /// `page-NNNN.json` files in `dir` under `under`'s directory.
    const fn pages(under: Under, dir: &'static [&'static str]) -> Fixture {
        Fixture::pages_in(under, dir, FileNames::Pages)
    }

    /// `files` in `dir` under `under`'s directory.
    const fn pages_in(under: Under, dir: &'static [&'static str], files: FileNames) -> Fixture {
        Fixture { under, dir, files }
    }
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
    /// `<workspace>/<repo_slug>/<dir>/<run uuid>/<step uuid>/` (uuids without braces).
    Step,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum Optional {
    /// `--with steps`.
    Steps,
    /// `--with environments`.
    Environments,
    /// `--with commits` (or `commit-messages`).
    Commits,
    /// `--with tests` (implies steps).
    Tests,
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
    /// Only the fields `test_reports` and `test_cases` read, under the step's directory.
    TestFieldsOnly,
}

impl Optional {
    /// Every option, in the order `--with` lists them.
    pub const ALL: &'static [Optional] = <Optional as strum::VariantArray>::VARIANTS;

    /// Its name in `--with`.
    pub const fn name(self) -> &'static str {
        match self {
            Optional::Steps => "steps",
            Optional::Environments => "environments",
            Optional::Commits => "commits",
            Optional::Tests => "tests",
        }
    }

    /// The option it needs to be of use: tests are read for the steps read.
    pub const fn implies(self) -> Option<Optional> {
        match self {
            Optional::Tests => Some(Optional::Steps),
            Optional::Steps | Optional::Environments | Optional::Commits => None,
        }
    }
}

const RUN_TABLES: &[Table] = &[Table::PipelineRuns, Table::Deployments, Table::Rejects];

/// How export reads an endpoint and when replay sends its pages; endpoints of one kind share
/// the code that reads them, so an endpoint of an existing kind needs no code of its own there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The workspace's repository listing, before anything else.
    Repositories,
    /// A repository's pipeline runs, paged by creation up to the watermarks.
    Runs,
    /// Single pipeline runs asked for by uuid (revisits of unfinished runs).
    Run,
    /// A page per pipeline run, sent right after the page that listed the run.
    OfRun,
    /// Pages of a step, read for the steps that need them (see extract's `tests`) and sent
    /// right after their run's steps.
    OfStep,
    /// Every page of a repository listing, every export, after the runs (`next` followed).
    Listing,
    /// A repository listing newest first back to the deployments watermark, after the
    /// listings it names.
    SinceDeploymentsWatermark,
    /// Asked per successful deployment by the commits pass; never sent down the page channel.
    PerDeployment,
}

impl Endpoint {
    /// Every endpoint, in the order replay sends a workspace's pages.
    pub const ALL: &'static [Endpoint] = <Endpoint as strum::VariantArray>::VARIANTS;

    /// The endpoint's description.
    ///
    /// A declarative table, one arm per endpoint: long because every endpoint is described here.
    pub const fn spec(self) -> EndpointSpec {
        let (fixture, dir) = (Fixture::pages, Fixture::pages_in);
        match self {
            Endpoint::Repositories => EndpointSpec {
                endpoint: self,
                name: "repositories",
                api_path: "/repositories/{workspace}",
                read: Read::Repositories,
                fixture: fixture(Under::Workspace, &["repositories"]),
                with: None,
                tables: &[Table::Repositories],
                recording: Recorded::AsReceivedByPage,
                reference: true,
            },
            Endpoint::Pipelines => EndpointSpec {
                endpoint: self,
                name: "pipelines",
                api_path: "/repositories/{workspace}/{repo_slug}/pipelines",
                read: Read::Runs,
                fixture: fixture(Under::Repository, &["pipelines"]),
                with: None,
                tables: RUN_TABLES,
                recording: Recorded::RunsInReadOrder,
                reference: false,
            },
            Endpoint::PipelineRun => EndpointSpec {
                endpoint: self,
                name: "pipeline run",
                api_path: "/repositories/{workspace}/{repo_slug}/pipelines/{uuid}",
                read: Read::Run,
                fixture: dir(
                    Under::Repository,
                    &["pipelines", "runs"],
                    FileNames::Numbered,
                ),
                with: None,
                tables: RUN_TABLES,
                recording: Recorded::SingleRuns,
                reference: false,
            },
            Endpoint::Steps => EndpointSpec {
                endpoint: self,
                name: "steps",
                api_path: "/repositories/{workspace}/{repo_slug}/pipelines/{uuid}/steps",
                read: Read::OfRun,
                fixture: fixture(Under::Run, &["pipelines", "steps"]),
                with: Some(Optional::Steps),
                tables: &[Table::PipelineSteps],
                recording: Recorded::StepFieldsOnly,
                reference: false,
            },
            Endpoint::TestReports => EndpointSpec {
                endpoint: self,
                name: "test reports",
                api_path: "/repositories/{workspace}/{repo_slug}/pipelines/{uuid}/steps/{step_uuid}/test_reports",
                read: Read::OfStep,
                fixture: fixture(Under::Step, &["pipelines", "test_reports"]),
                with: Some(Optional::Tests),
                tables: &[Table::TestReports],
                recording: Recorded::TestFieldsOnly,
                reference: false,
            },
            Endpoint::TestCases => EndpointSpec {
                endpoint: self,
                name: "test cases",
                api_path: "/repositories/{workspace}/{repo_slug}/pipelines/{uuid}/steps/{step_uuid}/test_reports/test_cases",
                read: Read::OfStep,
                fixture: dir(
                    Under::Step,
                    &["pipelines", "test_cases"],
                    FileNames::Numbered,
                ),
                with: Some(Optional::Tests),
                tables: &[Table::TestCases],
                recording: Recorded::TestFieldsOnly,
                reference: false,
            },
            Endpoint::Environments => EndpointSpec {
                endpoint: self,
                name: "environments",
                api_path: "/repositories/{workspace}/{repo_slug}/environments",
                read: Read::Listing,
                fixture: fixture(Under::Repository, &["environments"]),
                with: Some(Optional::Environments),
                tables: &[Table::Environments],
                recording: Recorded::AsReceivedInReadOrder,
                reference: true,
            },
            Endpoint::Deployments => EndpointSpec {
                endpoint: self,
                name: "deployments",
                api_path: "/repositories/{workspace}/{repo_slug}/deployments",
                read: Read::SinceDeploymentsWatermark,
                fixture: fixture(Under::Repository, &["deployments"]),
                with: Some(Optional::Environments),
                tables: &[Table::EnvironmentDeployments],
                recording: Recorded::AsReceivedInReadOrder,
                reference: false,
            },
            Endpoint::Commits => EndpointSpec {
                endpoint: self,
                name: "commits",
                api_path: "/repositories/{workspace}/{repo_slug}/commits/{revision}",
                read: Read::PerDeployment,
                fixture: dir(Under::Repository, &["commits"], FileNames::CommitAnswers),
                with: Some(Optional::Commits),
                tables: &[Table::DeploymentCommits],
                recording: Recorded::CommitFieldsOnly,
                reference: false,
            },
        }
    }

    /// The endpoint's name in logs and fixture paths.
    pub const fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// See [`EndpointSpec::reference`].
    pub const fn is_reference(self) -> bool {
        self.spec().reference
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
        for &endpoint in Endpoint::ALL {
            let spec = endpoint.spec();
            assert_eq!(spec.endpoint, endpoint);
            assert!(!spec.tables.is_empty(), "{endpoint:?}");
            let place = (spec.fixture.under, spec.fixture.dir);
            assert!(!dirs.contains(&place), "{endpoint:?} shares {place:?}");
            dirs.push(place);
        }
        for &table in Table::ALL {
            assert!(
                Endpoint::ALL
                    .iter()
                    .any(|e| e.spec().tables.contains(&table)),
                "{table:?} comes from no endpoint"
            );
        }
    }

    #[test]
    fn an_api_path_is_filled_in_for_a_repository() {
        let spec = Endpoint::Environments.spec();
        let repo = [("workspace", "acme"), ("repo_slug", "web-app")];
        assert_eq!(
            spec.segments(&repo),
            ["repositories", "acme", "web-app", "environments"]
        );
        let steps = Endpoint::Steps.spec().segments(&repo);
        assert_eq!(steps[2..], ["web-app", "pipelines", "{uuid}", "steps"]);
        let run = Endpoint::Steps
            .spec()
            .segments(&[("uuid", "{u-1}"), repo[1], repo[0]]);
        assert_eq!(
            run,
            [
                "repositories",
                "acme",
                "web-app",
                "pipelines",
                "{u-1}",
                "steps"
            ]
        );
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
