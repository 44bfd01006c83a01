//! What rules see of a pipeline run: its predicates and its templates read the same view.

/// The fields of a pipeline run that rules look at, borrowed from a row.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunView<'a> {
    /// Workspace slug.
    pub workspace: &'a str,
    /// Repository slug.
    pub repo_slug: &'a str,
    /// `workspace/slug`.
    pub repository: &'a str,
    /// Pipeline definition name.
    pub name: Option<&'a str>,
    /// Raw state name.
    pub state: Option<&'a str>,
    /// Raw result name.
    pub result: Option<&'a str>,
    /// Trigger name.
    pub trigger: Option<&'a str>,
    /// Ref type.
    pub ref_type: Option<&'a str>,
    /// Branch or tag built.
    pub ref_name: Option<&'a str>,
    /// Pull-request destination or merge-queue target branch.
    pub pr_destination_branch: Option<&'a str>,
    /// Raw selector type.
    pub selector_type: Option<&'a str>,
    /// Set when the candidate is a deployment Bitbucket recorded (`environment_deployments`),
    /// not a pipeline run: the environment it went to.
    pub environment: Option<EnvironmentView<'a>>,
}

/// The environment of a Bitbucket deployment, as rules with `source = "environments"` see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvironmentView<'a> {
    /// Test, Staging or Production.
    pub environment_type: Option<&'a str>,
    /// The environment's name.
    pub name: Option<&'a str>,
}

impl RunView<'_> {
    /// The branch a deployment goes out from: the pull-request destination or merge-queue
    /// target where there is one, else the ref built.
    pub fn target_branch(&self) -> Option<&str> {
        self.pr_destination_branch.or(self.ref_name)
    }
}
