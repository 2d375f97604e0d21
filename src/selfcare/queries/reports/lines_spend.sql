-- The viewer's lines with their spend in the selected bill periods: every line of the register in
-- scope (a line without bills shows 0) plus, for admin and finance, billed numbers missing from
-- the register (cost centre UNKNOWN, no status). Account-level charges are not a line.
-- Grain: one row per line (msisdn).
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive); $cost_centre_id (NULL: all; else
-- that cost centre and every cost centre below it, or UNASSIGNED / UNKNOWN); $employee_id (NULL:
-- all). Amounts excl. VAT; vat from the invoices.
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

register as (
    select
        a.msisdn,
        a.employee_id,
        a.employee_name,
        a.cost_centre_id,
        a.plan_code,
        a.status,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

billing as (
    select
        b.msisdn,
        b.cost_centre_id,
        b.amount,
        b.vat,
    from v_billing_attributed as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.bill_period between $period_from and $period_to
      and b.msisdn <> ''
),

spend as (
    select
        msisdn,
        min(cost_centre_id) as cost_centre_id,
        sum(amount) as amount,
        sum(vat) as vat,
    from billing
    group by msisdn
),

joined as (
    select
        coalesce(r.msisdn, s.msisdn) as msisdn,
        r.employee_id,
        r.employee_name,
        coalesce(r.cost_centre_id, s.cost_centre_id) as cost_centre_id,
        r.plan_code,
        r.status,
        coalesce(s.amount, 0) as amount_excl_vat,
        coalesce(s.vat, 0) as vat,
    from register as r
    full outer join spend as s
        on s.msisdn = r.msisdn
),

final as (
    select
        msisdn,
        employee_id,
        employee_name,
        cost_centre_id,
        plan_code,
        status,
        amount_excl_vat,
        vat,
        amount_excl_vat + vat as amount_incl_vat,
    from joined
    where ($cost_centre_id is null or cost_centre_id in (select cost_centre_id from subtree))
      and ($employee_id is null or employee_id = $employee_id)
)

select * from final
order by amount_excl_vat desc, msisdn
