-- The cost centres of the viewer's lines, for the Tariff analyser's cost-centre filter.
-- Grain: one row per cost centre (including "Unassigned lines"). Parameters: scope only.
with lines as (
    select a.cost_centre_id, a.cost_centre_name
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

final as (
    select distinct cost_centre_id, cost_centre_name
    from lines
)

select * from final
order by cost_centre_name, cost_centre_id
