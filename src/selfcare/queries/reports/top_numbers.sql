-- Top 50 numbers dialled: the numbers the viewer's lines called (or texted) most in the period,
-- ranked by calls, minutes or cost, with their destination class, their share of the chosen
-- measure over every number dialled under the same filters, and how many distinct lines called
-- them. A number dialled is an outgoing (MO) event of the chosen service with a non-empty
-- other_party; the cost centre is the calling line's (v_line_attribution; a line missing from
-- the register counts as 'UNKNOWN').
-- Reads the load-time summaries, never the raw CDRs: a viewer who sees the whole tenant and asks
-- for no cost centre gets the per-tenant summary agg_cdr_number_month (the lines column then
-- counts the callers of the 50 numbers only); anyone else the per-line agg_cdr_line_number_month.
-- Grain: one row per number dialled (other_party), at most 50 rows, rank 1 first.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive), $service ('VOICE' | 'SMS'),
--   $by ('calls' | 'minutes' | 'cost'), $destination_class (NULL = all),
--   $cost_centre (cost_centre_id, NULL = all); scope parameters.
with tenant_numbers as (
    select
        n.other_party,
        n.destination_class,
        n.calls,
        n.duration_s,
        n.cost,
    from agg_cdr_number_month as n
    where n.tenant_id = $scope_tenant_id
      -- tenant totals hold every line's calls: only for a viewer who sees every line (and so
      -- has no list of lines) and who filters on no cost centre (that needs the calling line)
      and $scope_all_lines
      and len($scope_msisdns) = 0
      and $cost_centre is null
      and n.bill_period between $period_from and $period_to
      and n.service = $service
      and ($destination_class is null or n.destination_class = $destination_class)
),

-- not materialized: each use below pushes its own filters down to the summary's scan
line_numbers as not materialized (
    select
        l.msisdn,
        l.other_party,
        l.destination_class,
        l.calls,
        l.duration_s,
        l.cost,
    from agg_cdr_line_number_month as l
    where l.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, l.msisdn))
      and l.bill_period between $period_from and $period_to
      and l.service = $service
      and ($destination_class is null or l.destination_class = $destination_class)
),

attribution as (
    select
        a.msisdn,
        a.cost_centre_id,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, a.msisdn))
),

dialled as (
    select line_numbers.*
    from line_numbers
    left join attribution as a
        on a.msisdn = line_numbers.msisdn
    -- the per-line path: a viewer limited to some lines, or a cost centre filter
    where not ($scope_all_lines and $cost_centre is null)
      and ($cost_centre is null or coalesce(a.cost_centre_id, 'UNKNOWN') = $cost_centre)
),

per_number as (
    select
        other_party,
        -- a number keeps one class in practice; min() makes the choice deterministic anyway
        min(destination_class) as destination_class,
        cast(sum(calls) as bigint) as calls,
        sum(duration_s) as duration_s,
        sum(cost) as cost,
        count(distinct msisdn) as lines,
    from dialled
    group by other_party

    union all

    select
        other_party,
        min(destination_class) as destination_class,
        cast(sum(calls) as bigint) as calls,
        sum(duration_s) as duration_s,
        sum(cost) as cost,
        -- counted below for the 50 numbers shown: distinct lines do not add up over months
        cast(null as bigint) as lines,
    from tenant_numbers
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

top_ranked as (
    select *
    from ranked
    where rank <= 50
),

tenant_lines as (
    -- distinct calling lines of the tenant-wide Top 50 (the summary is sorted by number, so
    -- these 50 numbers are found in few row groups)
    select
        l.other_party,
        count(distinct l.msisdn) as lines,
    from line_numbers as l
    where $scope_all_lines
      and $cost_centre is null
      and l.other_party in (select t.other_party from top_ranked as t where t.lines is null)
    group by l.other_party
),

final as (
    select
        top.rank,
        top.other_party,
        top.destination_class,
        top.calls,
        round(top.duration_s / 60.0, 4) as minutes,
        top.cost,
        coalesce(top.lines, tenant_lines.lines) as lines,
        -- share of the chosen measure over every number dialled under the same filters
        case
            when top.total_measure = 0 then null
            else round(cast(top.measure as double) / cast(top.total_measure as double), 6)
        end as share,
    from top_ranked as top
    left join tenant_lines
        on tenant_lines.other_party = top.other_party
)

select * from final
order by rank
