-- One row per step of a pipeline run's attempt (`--with steps`).
select
    workspace,
    repository,
    pipeline_uuid as pipeline_run_uuid,
    uuid as step_uuid,
    name as step,
    status,
    duration_seconds,
    build_seconds_used,
    {{ bbpipe.utc('run_created_at') }} as run_created_at
from {{ bbpipe.bbpipe_table('pipeline_steps', {
    'workspace': 'varchar', 'repository': 'varchar', 'pipeline_uuid': 'varchar',
    'uuid': 'varchar', 'name': 'varchar', 'status': 'varchar', 'duration_seconds': 'bigint',
    'build_seconds_used': 'bigint', 'run_created_at': 'timestamptz'}) }}
