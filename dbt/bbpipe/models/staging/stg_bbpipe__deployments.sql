-- One row per deployment the deploy rules inferred.
select
    reference_id,
    workspace,
    repository,
    service,
    environment,
    {{ bbpipe.utc('deployed_at') }} as deployed_at,
    success,
    commit_sha,
    pipeline_run_uuid,
    build_number
from {{ bbpipe.bbpipe_table('deployments', {
    'reference_id': 'varchar', 'workspace': 'varchar', 'repository': 'varchar',
    'service': 'varchar', 'environment': 'varchar', 'deployed_at': 'timestamptz',
    'success': 'boolean', 'commit_sha': 'varchar', 'pipeline_run_uuid': 'varchar',
    'build_number': 'bigint'}) }}
