-- Which employee each demo profile is linked to, picked from the loaded HR feed by shape rather
-- than by id, so the demo works for any seed: the admin heads the largest tree, finance sits in a
-- finance cost centre (if any), the manager has at least two levels below them, and the end user
-- manages nobody and has the most lines.
-- Grain: one row (admin, finance, manager, end_user; each NULL when no employee fits).
-- Parameters: $tenant_id.
with recursive tree as (
    select
        employee_id as top,
        employee_id,
        0 as depth,
    from dim_employee
    where tenant_id = $tenant_id

    union all

    select
        tree.top,
        e.employee_id,
        tree.depth + 1 as depth,
    from dim_employee as e
    inner join tree
        on e.manager_employee_id = tree.employee_id
    where e.tenant_id = $tenant_id
      -- a cycle in a bad HR feed must not loop forever
      and tree.depth < 64
),

reach as (
    select
        top as employee_id,
        max(depth) as levels,
        count(*) - 1 as below,
    from tree
    group by top
),

with_lines as (
    select
        employee_id,
        count(*) as n,
    from dim_line
    where tenant_id = $tenant_id
      and employee_id is not null
    group by employee_id
),

final as (
    select
        (select r.employee_id from reach as r inner join dim_employee as e using (employee_id)
         where e.manager_employee_id is null
         order by r.below desc, r.employee_id limit 1) as admin,
        (select e.employee_id from dim_employee as e
         inner join dim_cost_centre as c using (cost_centre_id)
         where e.tenant_id = $tenant_id
         order by (lower(c.name) like '%financ%') desc, e.employee_id limit 1) as finance,
        (select r.employee_id from reach as r inner join dim_employee as e using (employee_id)
         where e.manager_employee_id is not null and r.levels >= 2
         order by r.below desc, r.employee_id limit 1) as manager,
        (select r.employee_id from reach as r inner join with_lines as w using (employee_id)
         where r.below = 0
         order by w.n desc, r.employee_id limit 1) as end_user,
)

select * from final
