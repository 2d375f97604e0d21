-- The lines whose spend grew most from the month before the selection's last month to that month
-- (e.g. to = 2026-06: 2026-05 → 2026-06). A line without a bill in the earlier month counts from 0.
-- Grain: one row per line with an increase (> 0), largest first. Account-level charges are not a
-- line and are left out; unknown lines (not in the register) are kept with cost centre UNKNOWN.
-- Parameters: $period_from, $period_to ('YYYY-MM'); only the last month and the one before it are
-- compared, and a selection whose from is after its to returns nothing.
-- Amounts excl. VAT, with incl. VAT twins from the invoice's own vat column.
with billing as (
    select
        b.bill_period,
        b.msisdn,
        b.employee_id,
        b.employee_name,
        b.cost_centre_id,
        b.cost_centre_name,
        b.amount,
        b.vat,
    from v_billing_attributed as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
),

months as (
    select
        $period_to as current_period,
        strftime(cast($period_to || '-01' as date) - to_months(1), '%Y-%m') as previous_period,
    where $period_from <= $period_to
),

per_line as (
    select
        b.msisdn,
        b.employee_id,
        b.employee_name,
        b.cost_centre_id,
        b.cost_centre_name,
        m.previous_period,
        m.current_period,
        coalesce(sum(case when b.bill_period = m.previous_period then b.amount end), 0)
            as previous_amount,
        coalesce(sum(case when b.bill_period = m.previous_period then b.amount + b.vat end), 0)
            as previous_amount_incl_vat,
        coalesce(sum(case when b.bill_period = m.current_period then b.amount end), 0)
            as current_amount,
        coalesce(sum(case when b.bill_period = m.current_period then b.amount + b.vat end), 0)
            as current_amount_incl_vat,
    from billing as b
    inner join months as m
        on b.bill_period in (m.previous_period, m.current_period)
    where b.msisdn is not null
      and b.msisdn <> ''
    group by
        b.msisdn,
        b.employee_id,
        b.employee_name,
        b.cost_centre_id,
        b.cost_centre_name,
        m.previous_period,
        m.current_period
),

final as (
    select
        msisdn,
        employee_id,
        employee_name,
        cost_centre_id,
        cost_centre_name,
        previous_period,
        current_period,
        previous_amount,
        current_amount,
        current_amount - previous_amount as increase,
        previous_amount_incl_vat,
        current_amount_incl_vat,
        current_amount_incl_vat - previous_amount_incl_vat as increase_incl_vat,
    from per_line
    where current_amount > previous_amount
)

select * from final
order by increase desc, msisdn
