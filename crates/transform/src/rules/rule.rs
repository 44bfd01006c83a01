//! A validated deploy rule and how it judges one pipeline run.

use super::config::RuleSpec;
use super::deployments::{ENVIRONMENT_DEPLOYMENT_COLUMNS, RUN_COLUMNS};
use super::run_view::RunView;
use super::template::Template;
use bbpipe_model::Table;
use regex::Regex;
use std::fmt;

/// Why a rule did not match a run: the first predicate that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Predicates that passed before this one, to find the nearest rule.
    pub passed: usize,
    /// Why the run failed it.
    pub reason: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// What is wrong with one field of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field, as the rules file names it.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// What a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Pipeline runs (`pipeline_runs`).
    Pipelines,
    /// Deployments Bitbucket recorded (`environment_deployments`).
    Environments,
}

impl Source {
    /// Every table rules judge.
    pub const ALL: [Source; 2] = [Source::Pipelines, Source::Environments];

    /// The table its rows come from.
    pub fn table(self) -> Table {
        match self {
            Source::Pipelines => Table::PipelineRuns,
            Source::Environments => Table::EnvironmentDeployments,
        }
    }

    /// The columns rules read of that table.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Source::Pipelines => RUN_COLUMNS,
            Source::Environments => ENVIRONMENT_DEPLOYMENT_COLUMNS,
        }
    }

    /// What rules judge in `table`, if anything.
    pub fn of(table: Table) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|source| source.table() == table)
    }
}

/// A rule ready to use: regexes compiled once, templates parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its unique name.
    pub name: String,
    /// What it reads.
    pub source: Source,
    repository: Option<Regex>,
    environment_type: Option<Vec<String>>,
    environment_name: Option<Regex>,
    workflow: Option<Regex>,
    target_branch: Option<Regex>,
    trigger: Option<Vec<String>>,
    ref_type: Option<String>,
    selector_type: Option<String>,
    /// Environment of its deployments.
    pub environment: String,
    /// Service of its deployments, from the run.
    pub service: Template,
    /// Branch its deployments integrate, if any.
    pub integration_branch: Option<String>,
    /// Whether failed runs count as (failed) deployments.
    pub include_failed: bool,
    spec: RuleSpec,
}

impl Rule {
    /// Compiles a spec; the error names the field.
    ///
    /// A flat list: each field of the spec compiled and checked in turn, so that the error names
    /// the first bad field.
    pub(super) fn compile(spec: RuleSpec) -> Result<Rule, FieldProblem> {
        let problem = |field: &'static str, message: String| FieldProblem { field, message };
        let regex = |field: &'static str, pattern: &Option<String>| match pattern {
            None => Ok(None),
            Some(p) if p.is_empty() => Err(problem(
                field,
                "an empty pattern would match every run; leave the field out if that is what \
                 you mean"
                    .into(),
            )),
            Some(p) => Regex::new(p)
                .map(Some)
                .map_err(|e| problem(field, e.to_string())),
        };
        if spec.name.trim().is_empty() {
            return Err(problem("name", "must not be empty".into()));
        }
        if spec.environment.trim().is_empty() {
            return Err(problem("environment", "must not be empty".into()));
        }
        let service =
            Template::parse(&spec.service).map_err(|e| problem("service", e.to_string()))?;
        let source = match spec.source.as_deref() {
            None | Some("pipelines") => Source::Pipelines,
            Some("environments") => Source::Environments,
            Some(other) => {
                return Err(problem(
                    "source",
                    format!("'{other}': expected \"pipelines\" or \"environments\""),
                ));
            }
        };
        let set = |present: bool, field: &'static str| (present).then_some(field);
        let misplaced = match source {
            Source::Environments => [
                set(spec.workflow.is_some(), "workflow"),
                set(spec.target_branch.is_some(), "target_branch"),
                set(spec.trigger.is_some(), "trigger"),
                set(spec.ref_type.is_some(), "ref_type"),
                set(spec.selector_type.is_some(), "selector_type"),
            ]
            .into_iter()
            .flatten()
            .next(),
            Source::Pipelines => [
                set(spec.environment_type.is_some(), "environment_type"),
                set(spec.environment_name.is_some(), "environment_name"),
            ]
            .into_iter()
            .flatten()
            .next(),
        };
        if let Some(field) = misplaced {
            let why = match source {
                Source::Environments => {
                    "describes pipeline runs; a rule with source = \"environments\" matches \
                     Bitbucket deployments by repository, environment_type and environment_name"
                }
                Source::Pipelines => {
                    "applies to Bitbucket deployments only: add source = \"environments\""
                }
            };
            return Err(problem(field, why.into()));
        }
        Ok(Rule {
            name: spec.name.clone(),
            source,
            environment_type: spec.environment_type.clone(),
            environment_name: regex("environment_name", &spec.environment_name)?,
            repository: regex("repository", &spec.repository)?,
            workflow: regex("workflow", &spec.workflow)?,
            target_branch: regex("target_branch", &spec.target_branch)?,
            trigger: spec.trigger.clone(),
            ref_type: spec.ref_type.clone(),
            selector_type: spec.selector_type.clone(),
            environment: spec.environment.clone(),
            service,
            integration_branch: spec.integration_branch.clone(),
            include_failed: spec.include_failed,
            spec,
        })
    }

    /// The rule as written.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// Ok when the rule turns `run` into a deployment; otherwise the first predicate that failed.
    /// Predicates are checked in a fixed order, so the explanation is predictable.
    pub fn evaluate(&self, run: &RunView<'_>) -> Result<(), Mismatch> {
        for (passed, check) in Self::PREDICATES.iter().enumerate() {
            if let Some(reason) = check(self, run) {
                return Err(Mismatch { passed, reason });
            }
        }
        Ok(())
    }

    /// Each returns why the run fails it, or None.
    /// The state comes late so that, for a run still in progress, the nearest rule is the one
    /// that will match it once it completes.
    const PREDICATES: [fn(&Rule, &RunView<'_>) -> Option<String>; 11] = [
        Rule::check_source,
        Rule::check_repository,
        Rule::check_environment_type,
        Rule::check_environment_name,
        Rule::check_workflow,
        Rule::check_target_branch,
        Rule::check_trigger,
        Rule::check_ref_type,
        Rule::check_selector_type,
        Rule::check_state,
        Rule::check_result,
    ];

    fn check_source(&self, run: &RunView<'_>) -> Option<String> {
        match (self.source, run.environment.is_some()) {
            (Source::Pipelines, true) => {
                Some("a Bitbucket deployment; the rule reads pipeline runs".into())
            }
            (Source::Environments, false) => Some(
                "a pipeline run; the rule reads Bitbucket deployments (source = \"environments\")"
                    .into(),
            ),
            _ => None,
        }
    }

    fn check_environment_type(&self, run: &RunView<'_>) -> Option<String> {
        let types = self.environment_type.as_ref()?;
        let kind = run
            .environment
            .and_then(|e| e.environment_type)
            .unwrap_or("");
        (!types.iter().any(|t| t.eq_ignore_ascii_case(kind)))
            .then(|| format!("environment_type '{kind}' not in {types:?}"))
    }

    fn check_environment_name(&self, run: &RunView<'_>) -> Option<String> {
        let re = self.environment_name.as_ref()?;
        match run.environment.and_then(|e| e.name) {
            Some(name) if re.is_match(name) => None,
            Some(name) => Some(format!("environment_name '{name}' !~ '{}'", re.as_str())),
            None => Some(format!(
                "environment_name: the deployment's environment is unknown (not among the \
                 environments read) to match '{}'",
                re.as_str()
            )),
        }
    }

    fn check_state(&self, run: &RunView<'_>) -> Option<String> {
        if run.environment.is_some() {
            // An undeployed deployment was deployed first: it counts.
            return (!matches!(run.state, Some("COMPLETED" | "UNDEPLOYED"))).then(|| {
                format!(
                    "state {} is not COMPLETED or UNDEPLOYED (deployed once it completes)",
                    run.state.unwrap_or("<none>")
                )
            });
        }
        (run.state != Some("COMPLETED")).then(|| {
            format!(
                "state {} is not COMPLETED (deployed once it completes)",
                run.state.unwrap_or("<none>")
            )
        })
    }

    fn check_repository(&self, run: &RunView<'_>) -> Option<String> {
        let re = self.repository.as_ref()?;
        (!re.is_match(run.repo_slug) && !re.is_match(run.repository))
            .then(|| format!("repository '{}' !~ '{}'", run.repository, re.as_str()))
    }

    fn check_workflow(&self, run: &RunView<'_>) -> Option<String> {
        let re = self.workflow.as_ref()?;
        match run.name {
            Some(name) if re.is_match(name) => None,
            Some(name) => Some(format!("workflow '{name}' !~ '{}'", re.as_str())),
            None => Some(format!(
                "workflow: the run has no pipeline name (no selector) to match '{}'",
                re.as_str()
            )),
        }
    }

    fn check_target_branch(&self, run: &RunView<'_>) -> Option<String> {
        let re = self.target_branch.as_ref()?;
        match run.target_branch() {
            Some(branch) if re.is_match(branch) => None,
            Some(branch) => Some(format!("target_branch '{branch}' !~ '{}'", re.as_str())),
            None => Some(format!(
                "target_branch: the run has no branch to match '{}'",
                re.as_str()
            )),
        }
    }

    fn check_trigger(&self, run: &RunView<'_>) -> Option<String> {
        let triggers = self.trigger.as_ref()?;
        let trigger = run.trigger.unwrap_or("");
        (!triggers.iter().any(|t| t.eq_ignore_ascii_case(trigger)))
            .then(|| format!("trigger '{trigger}' not in {triggers:?}"))
    }

    fn check_ref_type(&self, run: &RunView<'_>) -> Option<String> {
        let want = self.ref_type.as_deref()?;
        (run.ref_type != Some(want))
            .then(|| format!("ref_type '{}' != '{want}'", run.ref_type.unwrap_or("")))
    }

    fn check_selector_type(&self, run: &RunView<'_>) -> Option<String> {
        let want = self.selector_type.as_deref()?;
        (run.selector_type != Some(want)).then(|| {
            format!(
                "selector_type '{}' != '{want}'",
                run.selector_type.unwrap_or("")
            )
        })
    }

    fn check_result(&self, run: &RunView<'_>) -> Option<String> {
        (!self.include_failed && run.result != Some("SUCCESSFUL")).then(|| {
            format!(
                "result {} is not SUCCESSFUL and include_failed = false",
                run.result.unwrap_or("<none>")
            )
        })
    }
}

#[cfg(test)]
mod source_tests {
    use super::Source;
    use bbpipe_model::Table;

    /// Rules name their columns as text: each must be a column of its table's spec.
    #[test]
    fn every_column_rules_read_is_in_its_tables_spec_and_each_source_is_found_by_its_table() {
        for source in Source::ALL {
            let missing = source.table().missing(source.columns());
            assert!(missing.is_empty(), "{source:?}: {missing:?}");
            assert_eq!(Source::of(source.table()), Some(source));
        }
        assert_eq!(Source::of(Table::PipelineSteps), None);
    }
}
