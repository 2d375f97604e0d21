-- The lines the viewer may pick on the itemised usage page, with their employee.
-- Grain: one row per line in the register visible to the viewer, by msisdn.
-- Parameters: scope only.
with attribution as (
    select
        a.msisdn,
        a.employee_name,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

final as (
    select
        msisdn,
        employee_name,
    from attribution
)

select * from final
order by msisdn
