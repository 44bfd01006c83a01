//! Deployment environments and Bitbucket's own deployments to them
//! (`GET .../environments`, `GET .../deployments`).

use super::{Named, Str, Text, Uuid};
use serde::Deserialize;

/// A deployment environment of a repository.
#[derive(Deserialize)]
pub struct Environment<'a> {
    /// Its uuid, with braces.
    #[serde(borrow)]
    pub uuid: Str<'a>,
    /// Free text, renamed at will ("Prod-EU").
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// Its slug.
    #[serde(borrow, default)]
    pub slug: Text<'a>,
    /// Test, Staging or Production, with a rank: what survives renames.
    #[serde(borrow, default)]
    pub environment_type: Option<EnvironmentType<'a>>,
    /// Whether it is hidden in Bitbucket's deployments view.
    #[serde(default)]
    pub hidden: Option<bool>,
    /// OPEN, LOCKED, ...
    #[serde(borrow, default)]
    pub lock: Option<Named<'a>>,
}

/// An environment's type.
#[derive(Deserialize)]
pub struct EnvironmentType<'a> {
    /// Test, Staging or Production.
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// 0, 1 or 2.
    #[serde(default)]
    pub rank: Option<i64>,
}

/// A deployment as Bitbucket records it: a deploy step of a pipeline run.
#[derive(Deserialize)]
pub struct Deployment<'a> {
    /// Its uuid, with braces.
    #[serde(borrow)]
    pub uuid: Str<'a>,
    /// The environment deployed to.
    #[serde(borrow, default)]
    pub environment: Option<Uuid<'a>>,
    /// The deploy step.
    #[serde(borrow, default)]
    pub step: Option<Uuid<'a>>,
    /// What was deployed: the pipeline run, its name (`#<build_number>`) and commit.
    #[serde(borrow, default)]
    pub deployable: Option<Deployable<'a>>,
    /// `release` in older responses: the same shape.
    #[serde(borrow, default)]
    pub release: Option<Deployable<'a>>,
    /// Where it stands; the outcome is `state.status`, not `state.name`.
    #[serde(borrow, default)]
    pub state: Option<DeploymentState<'a>>,
    /// The commit, where given at the top level.
    #[serde(borrow, default)]
    pub commit: Option<super::Commit<'a>>,
    /// When Bitbucket last changed it (undeployed by a later one, say).
    #[serde(borrow, default)]
    pub last_update_time: Text<'a>,
    /// Bitbucket's version of the object.
    #[serde(default)]
    pub version: Option<i64>,
}

impl<'a> Deployment<'a> {
    /// `deployable`, else `release`.
    pub fn deployable(&self) -> Option<&Deployable<'a>> {
        self.deployable.as_ref().or(self.release.as_ref())
    }

    /// The deployed commit: the deployable's, else the top-level one.
    pub fn commit_hash(&self) -> Option<&str> {
        self.deployable()
            .and_then(|d| d.commit.as_ref())
            .or(self.commit.as_ref())
            .and_then(|c| c.hash.as_deref())
    }
}

/// What a deployment deployed.
#[derive(Deserialize)]
pub struct Deployable<'a> {
    /// The pipeline run.
    #[serde(borrow, default)]
    pub pipeline: Option<Uuid<'a>>,
    /// `#<build_number>`.
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// The commit.
    #[serde(borrow, default)]
    pub commit: Option<super::Commit<'a>>,
    /// When the release was created.
    #[serde(borrow, default)]
    pub created_on: Text<'a>,
}

/// A deployment's state.
#[derive(Deserialize)]
pub struct DeploymentState<'a> {
    /// COMPLETED, IN_PROGRESS or UNDEPLOYED.
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// The outcome: SUCCESSFUL, FAILED or STOPPED.
    #[serde(borrow, default)]
    pub status: Option<Named<'a>>,
    /// When it started (`start_date` in the published spec).
    #[serde(borrow, default, alias = "start_date")]
    pub started_on: Text<'a>,
    /// When it completed (`completion_date` in the published spec).
    #[serde(borrow, default, alias = "completion_date")]
    pub completed_on: Text<'a>,
}

impl Deployable<'_> {
    /// The build number in the name `#<build_number>`.
    pub fn build_number(&self) -> Option<i64> {
        self.name.as_deref()?.trim().strip_prefix('#')?.parse().ok()
    }
}
