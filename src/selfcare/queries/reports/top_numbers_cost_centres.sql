-- The cost centres of the viewer's lines, for the Top 50 numbers dialled filter: a manager sees
-- only the cost centres their own chain's lines belong to.
-- Grain: one row per cost centre (incl. 'UNASSIGNED' lines without an employee, and for admin
-- and finance 'UNKNOWN': usage of lines missing from the register), by name.
-- Parameters: scope only.
with attribution as (
    select
        a.cost_centre_id,
        a.cost_centre_name,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

final as (
    select distinct
        cost_centre_id,
        cost_centre_name,
    from attribution
    where cost_centre_id is not null

    union

    select
        'UNKNOWN' as cost_centre_id,
        'Unknown lines' as cost_centre_name,
    where $scope_all_lines
)

select * from final
order by cost_centre_name, cost_centre_id
