-- Deploy frequency and change failure rate: per service, environment and ISO week (Monday,
-- UTC) of deployed_at. Deploy frequency over a window is successful_deployments summed over
-- its weeks divided by the number of weeks.
select
    service,
    environment,
    {{ bbpipe.week_start('deployed_at') }} as week_start,
    count(*) as deployments,
    sum(case when success then 1 else 0 end) as successful_deployments,
    sum(case when success then 0 else 1 end) as failed_deployments,
    cast(sum(case when success then 0 else 1 end) as {{ bbpipe.type_double() }}) / count(*) as change_failure_rate
from {{ ref('stg_bbpipe__deployments') }}
group by 1, 2, 3
