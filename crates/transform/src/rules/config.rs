//! The rules file as written by users (TOML), before validation.

use serde::{Deserialize, Serialize};

/// `deploy-rules.toml`: a list of `[[rule]]` tables.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default)]
    /// The rules, in file order.
    pub rule: Vec<RuleSpec>,
}

/// One `[[rule]]`. Predicates left out match every run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name: in deployments' `rule` column and in explanations.
    pub name: String,
    /// What the rule reads: `pipelines` (the default: pipeline runs) or `environments`
    /// (the deployments Bitbucket recorded, `--with environments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `source = "environments"`: environment types (Test, Staging, Production); any of them
    /// matches, regardless of case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_type: Option<Vec<String>>,
    /// `source = "environments"`: regex on the environment's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_name: Option<String>,
    /// Regex on the repository slug or full name (`workspace/slug`).
    pub repository: Option<String>,
    /// Regex on the pipeline name the run executed (selector pattern, or `default`).
    pub workflow: Option<String>,
    /// Regex on the branch deployed: the ref name, the pull-request destination or the
    /// merge-queue target branch.
    pub target_branch: Option<String>,
    /// Trigger names (PUSH, MANUAL, SCHEDULE, ...); any of them matches.
    pub trigger: Option<Vec<String>>,
    /// `branch` or `tag` (or another raw ref type).
    pub ref_type: Option<String>,
    /// Raw selector type: branches, tags, custom, default, pull-requests, merge-queues, ...
    pub selector_type: Option<String>,
    #[serde(default = "production")]
    /// Environment the deployment goes to, e.g. production.
    pub environment: String,
    /// Literal, or a template with {workspace}, {repo_slug}, {repository}, {workflow}.
    #[serde(default = "repo_slug_template")]
    pub service: String,
    /// Branch deployments integrate, if any.
    pub integration_branch: Option<String>,
    /// Whether runs that did not succeed become deployments with success = false.
    #[serde(default = "yes")]
    pub include_failed: bool,
}

fn production() -> String {
    "production".into()
}

fn repo_slug_template() -> String {
    "{repo_slug}".into()
}

fn yes() -> bool {
    true
}
