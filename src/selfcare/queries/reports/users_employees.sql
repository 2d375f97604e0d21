-- The employees of the viewer's tenant, for the Users page: the employee picker when adding a
-- portal user, the employee's name in the users grid, and the server-side check that an employee
-- id sent by the browser belongs to the administrator's own tenant.
-- Grain: one row per employee. Parameters: scope only (an employee is visible when the scope
-- covers all lines of the tenant, or when one of the scope's lines is theirs).
with employees as (
    select e.employee_id, e.full_name, e.tenant_id
    from dim_employee as e
    where e.tenant_id = $scope_tenant_id
      and (
          $scope_all_lines
          or e.employee_id in (
              select l.employee_id
              from dim_line as l
              where l.tenant_id = $scope_tenant_id
                and ($scope_all_lines or list_contains($scope_msisdns, l.msisdn))
          )
      )
),

final as (
    select distinct employee_id, full_name as employee_name, tenant_id
    from employees
)

select * from final
order by employee_name, employee_id
