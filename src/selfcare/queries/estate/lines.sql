-- The line register of one tenant as the operator's latest snapshot has it: owner, cost centre
-- (the owner's), account, plan with its payment type, status, CUG and APNs, and the snapshot's
-- as-of date (orders completed from that date on are applied on top by the services).
-- Grain: one row per msisdn.
-- Parameters: $tenant_id.
with lines as (
    select
        l.msisdn,
        l.account_id,
        l.employee_id,
        l.plan_code,
        l.status,
        l.cug_id,
        l.apns,
        l.as_of,
    from dim_line as l
    where l.tenant_id = $tenant_id
),

final as (
    select
        lines.msisdn,
        lines.account_id,
        lines.employee_id,
        e.full_name as employee_name,
        e.cost_centre_id,
        c.name as cost_centre_name,
        lines.plan_code,
        p.plan_name,
        p.payment,
        lines.status,
        lines.cug_id,
        array_to_string(lines.apns, ';') as apns,
        cast(lines.as_of as varchar) as as_of,
    from lines
    left join dim_employee as e
        on e.employee_id = lines.employee_id
        and e.tenant_id = $tenant_id
    left join dim_cost_centre as c
        on c.cost_centre_id = e.cost_centre_id
        and c.tenant_id = $tenant_id
    left join dim_plan as p
        on p.plan_code = lines.plan_code
)

select * from final
order by msisdn
