-- Which of the viewer's lines called one number in the period: the drill-down of the Top 50
-- numbers dialled. Only lines in the viewer's scope appear (a manager never sees who else in the
-- company called the number).
-- Grain: one row per calling line (msisdn), most calls first, then msisdn.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive), $number (the other_party),
--   $service ('VOICE' | 'SMS'), $cost_centre (cost_centre_id of the calling line, NULL = all);
--   scope parameters.
with cdr as (
    -- the per-line summary of numbers dialled, sorted by number: one number's callers sit in
    -- few row groups (each row is a line's calls to one number in one month)
    select
        c.msisdn,
        c.calls,
        c.duration_s,
        c.cost,
    from agg_cdr_line_number_month as c
    where c.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, c.msisdn))
      and c.bill_period between $period_from and $period_to
      and c.service = $service
      and c.other_party = $number
),

attribution as (
    select
        a.msisdn,
        a.employee_name,
        a.cost_centre_id,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

per_line as (
    select
        cdr.msisdn,
        min(a.employee_name) as employee_name,
        min(coalesce(a.cost_centre_id, 'UNKNOWN')) as cost_centre_id,
        cast(sum(cdr.calls) as bigint) as calls,
        sum(cdr.duration_s) as duration_s,
        sum(cdr.cost) as cost,
    from cdr
    left join attribution as a
        on a.msisdn = cdr.msisdn
    group by cdr.msisdn
),

final as (
    select
        msisdn,
        employee_name,
        calls,
        round(duration_s / 60.0, 4) as minutes,
        cost,
    from per_line
    where $cost_centre is null
       or cost_centre_id = $cost_centre
)

select * from final
order by calls desc, msisdn
