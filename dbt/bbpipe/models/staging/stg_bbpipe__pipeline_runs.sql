-- One row per pipeline run, in its newest version (bbpipe keeps one per run).
select
    workspace,
    repository,
    repo_slug,
    uuid as pipeline_run_uuid,
    build_number,
    name as pipeline,
    status,
    state,
    {{ bbpipe.utc('created_at') }} as created_at,
    {{ bbpipe.utc('completed_at') }} as completed_at,
    duration_seconds,
    build_seconds_used
from {{ bbpipe.bbpipe_table('pipeline_runs', {}) }}
