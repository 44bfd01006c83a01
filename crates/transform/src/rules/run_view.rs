//! What rules see of a pipeline run: its predicates and its templates read the same view.

/// The fields of a pipeline run that rules look at, borrowed from a row.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunView<'a> {
    pub workspace: &'a str,
    pub repo_slug: &'a str,
    pub repository: &'a str,
    pub name: Option<&'a str>,
    pub state: Option<&'a str>,
    pub result: Option<&'a str>,
    pub trigger: Option<&'a str>,
    pub ref_type: Option<&'a str>,
    pub ref_name: Option<&'a str>,
    pub pr_destination_branch: Option<&'a str>,
    pub selector_type: Option<&'a str>,
}

impl RunView<'_> {
    /// The branch a deployment goes out from: the pull-request destination or merge-queue
    /// target where there is one, else the ref built.
    pub fn target_branch(&self) -> Option<&str> {
        self.pr_destination_branch.or(self.ref_name)
    }
}
