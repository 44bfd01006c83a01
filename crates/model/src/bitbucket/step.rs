//! Pipeline steps, as `GET .../pipelines/{uuid}/steps` lists them.
//!
//! Only what `pipeline_steps` exports is declared: `script_commands`, `setup_commands` (its
//! clone command carries a token template), `teardown_commands`, variables and the image's
//! `username`, `password` and `email` are never read.

use super::{NameAndType, Str, Text, Uuid};
use serde::Deserialize;

/// A step of one attempt (`run_number`) of a pipeline run.
#[derive(Deserialize)]
pub struct Step<'a> {
    /// The step's uuid, with braces.
    #[serde(borrow)]
    pub uuid: Str<'a>,
    /// Its name; absent for unnamed steps.
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// The run it belongs to.
    #[serde(borrow, default)]
    pub pipeline: Option<Uuid<'a>>,
    /// The attempt it belongs to.
    #[serde(default)]
    pub run_number: Option<i64>,
    /// When it started; absent if it never did.
    #[serde(borrow, default)]
    pub started_on: Text<'a>,
    /// When it completed; absent if it never started.
    #[serde(borrow, default)]
    pub completed_on: Text<'a>,
    /// Wall-clock duration.
    #[serde(default)]
    pub duration_in_seconds: Option<i64>,
    /// Billed build seconds.
    #[serde(default)]
    pub build_seconds_used: Option<i64>,
    /// Its time limit in minutes: `maxTime` in the API (`max_time` in some captures).
    #[serde(default, rename = "maxTime", alias = "max_time")]
    pub max_time: Option<i64>,
    /// automatic, manual or redeploy, as `pipeline_step_trigger_*`.
    #[serde(borrow, default)]
    pub trigger: Option<NameAndType<'a>>,
    /// Where it stands: a name and, once completed, a result.
    #[serde(borrow, default)]
    pub state: Option<StepState<'a>>,
    /// The build image, of which only the name is read.
    #[serde(borrow, default)]
    pub image: Option<Image<'a>>,
    /// `1x`, `2x`, ... where the step sets it.
    #[serde(borrow, default)]
    pub size: Text<'a>,
    /// CPU and memory limits, where reported.
    #[serde(default)]
    pub resource_limits: Option<ResourceLimits>,
    /// The environment a deploy step deploys to, where the response says.
    #[serde(borrow, default)]
    pub environment: Option<Uuid<'a>>,
}

/// A step's state.
#[derive(Deserialize)]
pub struct StepState<'a> {
    /// PENDING, READY, IN_PROGRESS, PAUSED, HALTED, COMPLETED, ...
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// SUCCESSFUL, FAILED, ERROR, STOPPED, NOT_RUN, SKIPPED, EXPIRED, ...
    #[serde(borrow, default)]
    pub result: Option<NameAndType<'a>>,
}

/// A step's image: only its name (the same object holds registry credentials).
#[derive(Deserialize)]
pub struct Image<'a> {
    /// e.g. `atlassian/default-image:4`.
    #[serde(borrow, default)]
    pub name: Text<'a>,
}

/// CPU and memory limits of a step.
#[derive(Deserialize)]
pub struct ResourceLimits {
    /// Millicores.
    #[serde(default)]
    pub cpu_limit_in_millicores: Option<i64>,
    /// Megabytes.
    #[serde(default)]
    pub memory_limit_in_megabytes: Option<i64>,
}
