-- Lead time for changes: per successful deployment, the commits it shipped and the median and
-- p90 of their lead time (deployed_at - the commit's date). Empty without `--with commits`.
select
    reference_id,
    workspace,
    service,
    environment,
    deployed_at,
    {{ bbpipe.week_start('deployed_at') }} as week_start,
    count(*) as commits,
    {{ bbpipe.percentile('lead_time_seconds', 0.5) }} as median_lead_time_seconds,
    {{ bbpipe.percentile('lead_time_seconds', 0.9) }} as p90_lead_time_seconds
from {{ ref('stg_bbpipe__deployment_commits') }}
where commit_sha is not null and lead_time_seconds is not null
group by 1, 2, 3, 4, 5, 6
