-- Spend by employee within one cost centre and every cost centre below it (the drill-down from
-- the cost-centre tree). Lines without an employee (unassigned, unknown) and account-level
-- charges form one row with an empty employee.
-- Grain: one row per employee (and their cost centre).
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive), $cost_centre_id (a cost centre id
-- or ACCOUNT_LEVEL, UNASSIGNED, UNKNOWN). Amounts excl. VAT; vat from the invoices.
with recursive subtree as (
    select
        cast($cost_centre_id as varchar) as cost_centre_id,
        0 as depth,

    -- union all (Spark refuses a deduplicating union in a recursive CTE): the depth bound ends a
    -- cycle, and the subtree is only read through IN, where a repeat changes nothing
    union all

    select
        c.cost_centre_id,
        s.depth + 1 as depth,
    from dim_cost_centre as c
    inner join subtree as s
        on c.parent_cost_centre_id = s.cost_centre_id
    where c.tenant_id = $scope_tenant_id
      and s.depth < 64
),

billing as (
    select
        b.employee_id,
        b.employee_name,
        b.cost_centre_id,
        b.cost_centre_name,
        b.msisdn,
        b.amount,
        b.vat,
    from v_billing_attributed as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.bill_period between $period_from and $period_to
      and b.cost_centre_id in (select cost_centre_id from subtree)
),

final as (
    select
        employee_id,
        employee_name,
        cost_centre_id,
        coalesce(cost_centre_name, cost_centre_id) as cost_centre_name,
        count(distinct nullif(msisdn, '')) as lines,
        sum(amount) as amount_excl_vat,
        sum(vat) as vat,
        sum(amount) + sum(vat) as amount_incl_vat,
    from billing
    group by employee_id, employee_name, cost_centre_id, coalesce(cost_centre_name, cost_centre_id)
)

select * from final
order by amount_excl_vat desc, employee_id nulls last
