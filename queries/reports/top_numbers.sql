-- Top 50 numbers dialled: the numbers the viewer's lines called (or texted) most in the period,
-- ranked by calls, minutes or cost, with their destination class, their share of the chosen
-- measure over every number dialled under the same filters, and how many distinct lines called
-- them. A number dialled is an outgoing (MO) event of the chosen service with a non-empty
-- other_party; the cost centre is the calling line's (v_line_attribution; a line missing from
-- the register counts as 'UNKNOWN').
-- Grain: one row per number dialled (other_party), at most 50 rows, rank 1 first.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive), $service ('VOICE' | 'SMS'),
--   $by ('calls' | 'minutes' | 'cost'), $destination_class (NULL = all),
--   $cost_centre (cost_centre_id, NULL = all); scope parameters.
with cdr as (
    select
        c.msisdn,
        c.other_party,
        c.destination_class,
        c.duration_s,
        c.charge,
    from fct_cdr as c
    where c.tenant_id = $scope_tenant_id
      and ($scope_all_lines or c.msisdn in (select unnest($scope_msisdns)))
      and c.bill_period between $period_from and $period_to
      and c.direction = 'MO'
      and c.service = $service
      and c.other_party is not null
      and c.other_party <> ''
      and ($destination_class is null or c.destination_class = $destination_class)
),

attribution as (
    select
        a.msisdn,
        a.cost_centre_id,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

dialled as (
    select cdr.*
    from cdr
    left join attribution as a
        on a.msisdn = cdr.msisdn
    where $cost_centre is null
       or coalesce(a.cost_centre_id, 'UNKNOWN') = $cost_centre
),

per_number as (
    select
        other_party,
        -- a number keeps one class in practice; min() makes the choice deterministic anyway
        min(destination_class) as destination_class,
        count(*) as calls,
        sum(duration_s) as duration_s,
        sum(charge) as cost,
        count(distinct msisdn) as lines,
    from dialled
    group by other_party
),

measured as (
    select
        per_number.*,
        case $by
            when 'calls' then cast(calls as decimal(18, 4))
            when 'minutes' then cast(duration_s as decimal(18, 4))
            else cost
        end as measure,
    from per_number
),

ranked as (
    select
        measured.*,
        row_number() over (order by measure desc, other_party asc) as rank,
        sum(measure) over () as total_measure,
    from measured
),

final as (
    select
        rank,
        other_party,
        destination_class,
        calls,
        round(duration_s / 60.0, 4) as minutes,
        cost,
        lines,
        -- share of the chosen measure over every number dialled under the same filters
        case
            when total_measure = 0 then null
            else round(cast(measure as double) / cast(total_measure as double), 6)
        end as share,
    from ranked
    where rank <= 50
)

select * from final
order by rank
