-- Tariff options: for each visible line and every catalogue plan of the same payment type as its
-- current plan, the average monthly cost of exactly the line's usage over the last $months bill
-- periods ending at $period_to (the tariff model, priced in the model view
-- v_tariff_line_month_costs), and in how many of those months that plan would have cost less
-- than the bill.
-- Grain: one row per line and candidate plan.
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

per_plan as (
    select
        msisdn,
        plan_code,
        plan_name,
        plan_code = current_plan as is_current,
        count(*) as months,
        sum(cost4) as cost_sum4,
        count(case when cost4 < billed4 then 1 end) as months_cheaper,
    from priced
    group by msisdn, plan_code, plan_name, plan_code = current_plan
),

final as (
    select
        msisdn,
        plan_code,
        -- rounded half up to 1e-4 ZAR, as in the analysis
        cast(cast((2 * cost_sum4 + months) // (2 * months) as decimal(38, 0)) * 0.0001
            as decimal(18, 4)) as avg_cost,
        plan_name,
        is_current,
        months,
        months_cheaper,
    from per_plan
)

select * from final
order by msisdn, avg_cost, plan_code
