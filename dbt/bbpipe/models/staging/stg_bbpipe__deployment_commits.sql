-- One row per commit a successful deployment shipped (`--with commits`).
select
    reference_id,
    workspace,
    repository,
    service,
    environment,
    {{ bbpipe.utc('deployed_at') }} as deployed_at,
    commit_sha,
    {{ bbpipe.utc('commit_date') }} as commit_date,
    lead_time_seconds
from {{ bbpipe.bbpipe_table('deployment_commits', {
    'reference_id': 'varchar', 'workspace': 'varchar', 'repository': 'varchar',
    'service': 'varchar', 'environment': 'varchar', 'deployed_at': 'timestamptz',
    'commit_sha': 'varchar', 'commit_date': 'timestamptz', 'lead_time_seconds': 'bigint'}) }}
