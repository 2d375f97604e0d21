-- The HR feed of one tenant as the order rules need it: who reports to whom, with names and
-- cost centres (the current employees snapshot).
-- Grain: one row per employee.
-- Parameters: $tenant_id.
with employees as (
    select
        e.employee_id,
        e.full_name,
        e.email,
        e.manager_employee_id,
        e.cost_centre_id,
    from dim_employee as e
    where e.tenant_id = $tenant_id
),

final as (
    select
        employees.employee_id,
        employees.full_name,
        employees.email,
        employees.manager_employee_id,
        employees.cost_centre_id,
        c.name as cost_centre_name,
    from employees
    left join dim_cost_centre as c
        on c.cost_centre_id = employees.cost_centre_id
        and c.tenant_id = $tenant_id
)

select * from final
order by employee_id
