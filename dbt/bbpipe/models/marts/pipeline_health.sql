-- Pipeline health per repository and ISO week (Monday, UTC) of created_at: runs by status,
-- success rate (success / (success + failure): cancelled runs apart), p50 and p90 of the
-- duration of completed runs, build minutes.
select
    repository,
    {{ bbpipe.week_start('created_at') }} as week_start,
    count(*) as runs,
    sum(case when status = 'success' then 1 else 0 end) as successful_runs,
    sum(case when status = 'failure' then 1 else 0 end) as failed_runs,
    sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_runs,
    sum(case when coalesce(state, '') <> 'COMPLETED' then 1 else 0 end) as unfinished_runs,
    cast(sum(case when status = 'success' then 1 else 0 end) as {{ bbpipe.type_double() }})
        / nullif(sum(case when status in ('success', 'failure') then 1 else 0 end), 0) as success_rate,
    {{ bbpipe.percentile('case when completed_at is not null then duration_seconds end', 0.5) }} as duration_p50_seconds,
    {{ bbpipe.percentile('case when completed_at is not null then duration_seconds end', 0.9) }} as duration_p90_seconds,
    sum(coalesce(build_seconds_used, 0)) / 60.0 as build_minutes
from {{ ref('stg_bbpipe__pipeline_runs') }}
group by 1, 2
