-- Each failed deployment, with the next successful deployment of the same service and
-- environment that restored it (strictly later; none yet: restored_at is null) and the time in
-- between. The report's time to restore is the median of seconds_to_restore over the failures
-- deployed in its window.
with deployments as (
    select * from {{ ref('stg_bbpipe__deployments') }}
),

failures as (
    select * from deployments where not success
),

restores as (
    select
        failure.reference_id,
        min(success.deployed_at) as restored_at
    from failures as failure
    inner join deployments as success
        on success.success
        and success.service = failure.service
        and success.environment = failure.environment
        and success.deployed_at > failure.deployed_at
    group by failure.reference_id
)

select
    failures.reference_id,
    failures.workspace,
    failures.service,
    failures.environment,
    failures.deployed_at,
    {{ bbpipe.week_start('failures.deployed_at') }} as week_start,
    restores.restored_at,
    {{ dbt.datediff('failures.deployed_at', 'restores.restored_at', 'microsecond') }} / 1e6 as seconds_to_restore,
    {{ dbt.datediff('failures.deployed_at', 'restores.restored_at', 'microsecond') }} / 3.6e9 as hours_to_restore
from failures
left join restores on restores.reference_id = failures.reference_id
