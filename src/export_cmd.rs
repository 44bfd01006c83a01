//! `bbpipe export`: one workspace from the command line, with a progress display and the report
//! at the end; with --config, the nightly job ([`crate::nightly`]).

use crate::cli::ExportArgs;
use crate::client::{client_for, credentials_from_env, warn_if_deprecated};
use crate::exit::{self, Exit};
use crate::explicit_options::ExplicitOptions;
use crate::export_job::{Effective, job};
use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::write_cmd::{failed, finish};
use crate::{metrics, nightly};
use anyhow::anyhow;
use bbpipe_pipeline::normalize_workspace;
use std::sync::Arc;

pub async fn run(args: ExportArgs, given: &ExplicitOptions, quiet: bool) -> anyhow::Result<()> {
    if args.config.is_some() {
        return nightly::run(args, given, quiet).await;
    }
    let (Some(workspace), Some(out)) = (args.workspace.clone(), args.out.clone()) else {
        return Err(anyhow!(
            "--workspace and --out are required without --config"
        ));
    };
    let effective = Effective::of_args(&args, normalize_workspace(&workspace), out);
    let credentials = credentials_from_env(&args.api).map_err(|e| Exit {
        code: exit::INVALID_CREDENTIALS.1,
        message: e.to_string(),
    })?;
    warn_if_deprecated(&credentials);
    let job = job(&args, &effective)?;
    let client = Arc::new(client_for(
        vec![("default".into(), credentials)],
        &args.api,
        &effective.api_url,
        effective.max_requests_per_hour,
    )?);
    let result = match bbpipe_pipeline::Export::open(job, Arc::clone(&client)).await {
        Ok(export) => {
            let progress = Progress::start(export.progress(), Arc::clone(client.stats()), quiet);
            let result = export.run().await;
            progress.finish().await;
            result
        }
        Err(error) => Err(error),
    };
    // The metrics file says how it ended either way: a failure keeps the last success time.
    let outcome = match &result {
        Ok(report) => Outcome::of(&effective.workspace, Ok(report.clone())),
        Err(error) => Outcome::of(
            &effective.workspace,
            Err((exit::of(error), error.to_string())),
        ),
    };
    metrics::write(args.metrics_file.as_deref(), std::slice::from_ref(&outcome))?;
    finish(&result.map_err(failed)?, args.summary, quiet)
}
