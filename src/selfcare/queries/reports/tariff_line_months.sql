-- Tariff drill-down: month by month, what each visible line was billed (SUBSCRIPTION + USAGE)
-- and what exactly the same usage would have cost on every catalogue plan of the same payment
-- type (the tariff model, priced in the model view v_tariff_line_month_costs), over the last
-- $months bill periods ending at $period_to.
-- Grain: one row per line, bill period and candidate plan.
-- Parameters: $period_from (accepted so every export takes from/to; the window is set by
--   $period_to and $months alone), $period_to 'YYYY-MM', $months 1..12,
--   $msisdn (null or '' = all lines).
with params as (
    -- $period_from is accepted so every export takes from/to; the window ignores it
    select cast($period_from as varchar) as period_from,
),

priced as (
    select p.*
    from v_tariff_line_month_costs as p
    where p.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, p.msisdn))
      -- the last $months bill periods ending at $period_to, written out rather than read from
      -- params: a plain expression (no subquery) is pushed down through the view to the scans,
      -- and so is list_contains where an IN (subquery) would filter only after the pricing
      and p.bill_period between strftime(
              cast(cast($period_to as varchar) || '-01' as date)
              - to_months(cast($months as integer) - 1),
              '%Y-%m'
          ) and cast($period_to as varchar)
      and (coalesce(cast($msisdn as varchar), '') = '' or p.msisdn = cast($msisdn as varchar))
),

final as (
    select
        msisdn,
        bill_period,
        plan_code,
        plan_name,
        plan_code = current_plan as is_current,
        cast(cast(cost4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as cost,
        cast(cast(billed4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as billed_current,
        cast(cast(billed4 - cost4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as saving,
        cast(cast(vat4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as billed_vat,
    from priced
)

select * from final
order by msisdn, bill_period, plan_code
