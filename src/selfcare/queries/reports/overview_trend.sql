-- The spend trend: the 12 bill periods ending at the selected `to`, by charge type.
-- Grain: one row per bill period and charge type (periods without invoice lines have no rows).
-- Parameters: $period_to ('YYYY-MM').
-- Amounts excl. VAT; vat is the invoice's own VAT for the incl. VAT view.
with billing as (
    select
        b.bill_period,
        b.charge_type,
        b.amount,
        b.vat,
    from fct_billing as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
),

window_start as (
    select strftime(cast($period_to || '-01' as date) - to_months(11), '%Y-%m') as first_period,
),

final as (
    select
        b.bill_period,
        b.charge_type,
        sum(b.amount) as amount_excl_vat,
        sum(b.vat) as vat,
        sum(b.amount) + sum(b.vat) as amount_incl_vat,
    from billing as b
    cross join window_start as w
    where b.bill_period between w.first_period and $period_to
    group by b.bill_period, b.charge_type
)

select * from final
order by bill_period, charge_type
