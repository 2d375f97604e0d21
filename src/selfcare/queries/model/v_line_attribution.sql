-- Who a line belongs to: msisdn → line → employee → cost centre, in the current snapshots.
-- Grain: one row per line in the register. Not scoped itself: it is a model view that the gate
-- creates at start-up; every report reading it filters by the viewer's scope.
with lines as (
    select * from dim_line
),

employees as (
    select * from dim_employee
),

cost_centres as (
    select * from dim_cost_centre
),

final as (
    select
        l.msisdn,
        l.tenant_id,
        l.account_id,
        l.plan_code,
        l.status,
        l.activated_on,
        l.cancelled_on,
        l.employee_id,
        e.full_name as employee_name,
        e.territory,
        -- an unassigned line (no employee) has no cost centre of its own
        case when e.employee_id is null then 'UNASSIGNED' else e.cost_centre_id end
            as cost_centre_id,
        case when e.employee_id is null then 'Unassigned lines' else cc.name end
            as cost_centre_name,
    from lines as l
    left join employees as e
        on e.employee_id = l.employee_id
        and e.tenant_id = l.tenant_id
    left join cost_centres as cc
        on cc.cost_centre_id = e.cost_centre_id
        and cc.tenant_id = e.tenant_id
)

select * from final
