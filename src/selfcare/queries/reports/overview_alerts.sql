-- Unusual spend in the selected bill periods, one alert per line, month and rule:
--   ROAMING_SHOCK: a line's roaming charges in a month (usage away from home, from the usage
--     summary) exceed R1,000, or exceed 3x its average roaming charge over its earlier months with
--     usage (months without roaming count as 0; this rule needs an earlier average above 0).
--   SPEND_SPIKE: a line's billed spend in a month is more than 2x its average over its earlier
--     billed months and at least R500 above that average.
-- "Earlier months" are all earlier bill periods in the lake, not only those in the selection.
-- Grain: one row per line, bill period and rule. Parameters: $period_from, $period_to.
-- Amounts excl. VAT; incl. VAT uses the invoice's vat for billed spend and 15 % for roaming
-- charges (CDR-derived).
-- Only a few line-months can alert, so the history is built for those lines alone rather than for
-- every line of the tenant (windows over all of a large tenant's line-months dominated the cost):
-- a roaming alert needs roaming charges above 0 in the month; a spend spike needs the month's
-- spend at least R500 above the earlier average, so at least R500 above the line's lowest month.
with roaming as (
    select
        u.msisdn,
        u.bill_period,
        u.charge,
    from agg_cdr_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period <= $period_to
      and u.roaming_country <> ''
),

billing as (
    select
        b.msisdn,
        b.bill_period,
        b.amount,
        b.vat,
    from fct_billing as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.bill_period <= $period_to
      and b.msisdn <> ''
),

attribution as (
    select
        a.msisdn,
        a.employee_id,
        a.employee_name,
        a.cost_centre_id,
        a.cost_centre_name,
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, a.msisdn))
),

roaming_charges as (
    select
        msisdn,
        bill_period,
        sum(charge) as amount,
    from roaming
    group by msisdn, bill_period
),

roaming_lines as (
    select distinct msisdn,
    from roaming_charges
    where bill_period between $period_from and $period_to
),

-- every month with usage of those lines (months without roaming count, as 0):
-- agg_tariff_usage_line_month has one row per line and month of fct_cdr, exactly the line-months
-- of agg_cdr_line_month (the same load rebuilds both from the same CDRs), without regrouping
roaming_months as (
    select
        u.msisdn,
        u.bill_period,
    from agg_tariff_usage_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period <= $period_to
      and u.msisdn in (select msisdn from roaming_lines)
),

spend_all_months as (
    select
        msisdn,
        bill_period,
        sum(amount) as amount,
        sum(vat) as vat,
    from billing
    group by msisdn, bill_period
),

spend_lines as (
    select msisdn,
    from spend_all_months
    group by msisdn
    having max(case when bill_period between $period_from and $period_to then amount end)
        - min(amount) >= 500
),

spend_months as (
    select s.*,
    from spend_all_months as s
    where s.msisdn in (select msisdn from spend_lines)
),

roaming_history as (
    select
        m.msisdn,
        m.bill_period,
        coalesce(r.amount, 0) as amount,
        coalesce(r.amount, 0) * 0.15 as vat,
        coalesce(sum(coalesce(r.amount, 0)) over (
            partition by m.msisdn order by m.bill_period
            rows between unbounded preceding and 1 preceding
        ), 0) as earlier_total,
        count(*) over (
            partition by m.msisdn order by m.bill_period
            rows between unbounded preceding and 1 preceding
        ) as earlier_months,
    from roaming_months as m
    left join roaming_charges as r
        on r.msisdn = m.msisdn
        and r.bill_period = m.bill_period
),

spend_history as (
    select
        msisdn,
        bill_period,
        amount,
        vat,
        coalesce(sum(amount) over (
            partition by msisdn order by bill_period
            rows between unbounded preceding and 1 preceding
        ), 0) as earlier_total,
        count(*) over (
            partition by msisdn order by bill_period
            rows between unbounded preceding and 1 preceding
        ) as earlier_months,
    from spend_months
),

-- comparisons multiply out the average (amount > k * total / n  ⇔  amount * n > k * total) so
-- they stay exact in DECIMAL
roaming_alerts as (
    select
        'ROAMING_SHOCK' as alert,
        case when amount > 1000 then 'roaming charges over R1,000'
            else 'roaming charges over 3x the earlier average' end as reason,
        *,
    from roaming_history
    where bill_period between $period_from and $period_to
      and (
          amount > 1000
          or (earlier_total > 0 and amount * earlier_months > 3 * earlier_total)
      )
),

spend_alerts as (
    select
        'SPEND_SPIKE' as alert,
        'spend over 2x the earlier average and R500 above it' as reason,
        *,
    from spend_history
    where bill_period between $period_from and $period_to
      and earlier_months > 0
      and amount * earlier_months > 2 * earlier_total
      and amount * earlier_months - earlier_total >= 500 * earlier_months
),

alerts as (
    select * from roaming_alerts
    union all
    select * from spend_alerts
),

final as (
    select
        x.bill_period,
        x.msisdn,
        a.employee_id,
        a.employee_name,
        coalesce(a.cost_centre_id, 'UNKNOWN') as cost_centre_id,
        coalesce(a.cost_centre_name, 'Unknown lines') as cost_centre_name,
        x.alert,
        x.reason,
        x.amount as amount_excl_vat,
        x.amount + x.vat as amount_incl_vat,
        case when x.earlier_months > 0
            then cast(x.earlier_total / x.earlier_months as decimal(18, 4)) end
            as earlier_average_excl_vat,
        x.earlier_months,
    from alerts as x
    left join attribution as a
        on a.msisdn = x.msisdn
)

select * from final
order by bill_period desc, alert, amount_excl_vat desc, msisdn
