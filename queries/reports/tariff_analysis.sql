-- Tariff analysis: for each visible line, its average monthly cost as billed (SUBSCRIPTION +
-- USAGE invoice lines) over the last $months bill periods ending at $period_to; what exactly the
-- same usage would have cost on every catalogue plan of the same payment type (the tariff model,
-- priced in the model view v_tariff_line_month_costs); the cheapest plan, the risk band of the
-- saving and whether a change is recommended.
-- Grain: one row per line with at least one billed month in the window and a catalogue plan.
-- Parameters: $period_from (accepted so every export takes from/to; the window is set by
--   $period_to and $months alone), $period_to 'YYYY-MM', $months 1..12, $min_saving (ZAR),
--   $min_pct (percent of the current cost), $cost_centre (null or '' = all cost
--   centres).
-- Rule: recommended when the best plan is another plan, its average saving is above both
--   $min_saving and $min_pct, and it would have been cheaper in more than $months / 2 months.
with params as (
    select
        cast($period_from as varchar) as period_from,
        cast($period_to as varchar) as period_to,
        -- "possibly redundant" looks at the last three bill periods, whatever $months is
        strftime(cast(cast($period_to as varchar) || '-01' as date) - to_months(2), '%Y-%m')
            as quiet_start,
        cast($months as integer) as months,
        -- thresholds in 1e-4 ZAR and percent, compared in exact arithmetic
        cast(cast($min_saving as decimal(18, 4)) * 10000 as bigint) as min_saving4,
        cast($min_pct as decimal(18, 4)) as min_pct,
        coalesce(cast($cost_centre as varchar), '') as cost_centre,
),

lines as (
    select a.msisdn, a.plan_code, a.employee_name, a.cost_centre_id, a.cost_centre_name
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

priced as (
    select
        p.bill_period,
        p.msisdn,
        p.current_plan,
        p.plan_code,
        p.billed4,
        p.vat4,
        p.other4,
        p.cost4,
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
),

recent_events as (
    select e.msisdn, sum(e.events) as events
    from agg_cdr_line_month as e
    where e.tenant_id = $scope_tenant_id
      and ($scope_all_lines or e.msisdn in (select unnest($scope_msisdns)))
      and e.bill_period between (select quiet_start from params)
          and (select period_to from params)
    group by e.msisdn
),

per_plan as (
    -- one pass over the priced line-months: each plan's total and, against what was billed,
    -- the month-by-month band (the best plan's row is picked below); a second pass joining the
    -- best plan back to every priced month costs as much again on a whole tenant
    select
        msisdn,
        current_plan,
        plan_code,
        count(*) as months,
        sum(cost4) as cost_sum4,
        sum(billed4) as billed_sum4,
        sum(vat4) as vat_sum4,
        sum(other4) as other_sum4,
        count(case when billed4 - cost4 > 0 then 1 end) as months_better,
        min(billed4 - cost4) as min_saving4,
        max(billed4 - cost4) as max_saving4,
    from priced
    group by msisdn, current_plan, plan_code
),

best as (
    -- cheapest over the window; a tie keeps the current plan, then the lowest plan code
    select
        msisdn,
        plan_code as best_plan,
        cost_sum4 as best_sum4,
        months,
        billed_sum4,
        vat_sum4,
        other_sum4,
        months_better,
        min_saving4,
        max_saving4,
    from (
        select
            pp.*,
            row_number() over (
                partition by pp.msisdn
                order by
                    pp.cost_sum4,
                    case when pp.plan_code = pp.current_plan then 0 else 1 end,
                    pp.plan_code
            ) as rank_in_line,
        from per_plan as pp
    ) as ranked
    where rank_in_line = 1
),

averaged as (
    -- averages rounded half up to 1e-4 ZAR (sums of billed amounts are never negative)
    select
        l.msisdn,
        l.plan_code as current_plan,
        l.employee_name,
        l.cost_centre_id,
        l.cost_centre_name,
        b.months,
        (2 * b.billed_sum4 + b.months) // (2 * b.months) as avg_current4,
        (2 * b.vat_sum4 + b.months) // (2 * b.months) as avg_vat4,
        (2 * b.other_sum4 + b.months) // (2 * b.months) as avg_other4,
        b.best_plan,
        (2 * b.best_sum4 + b.months) // (2 * b.months) as avg_best4,
        b.months_better,
        b.min_saving4,
        b.max_saving4,
        coalesce(e.events, 0) = 0 as possibly_redundant,
    from best as b
    inner join lines as l
        on l.msisdn = b.msisdn
    left join recent_events as e
        on e.msisdn = b.msisdn
    where (select cost_centre from params) = ''
       or l.cost_centre_id = (select cost_centre from params)
),

judged as (
    select
        a.*,
        a.avg_current4 - a.avg_best4 as avg_saving4,
        a.best_plan <> a.current_plan
        and a.avg_current4 - a.avg_best4 > (select min_saving4 from params)
        and (a.avg_current4 - a.avg_best4) * 100
            > (select min_pct from params) * a.avg_current4
        and 2 * a.months_better > (select months from params) as recommended,
    from averaged as a
),

final as (
    select
        msisdn,
        current_plan,
        months,
        cast(cast(avg_current4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as avg_cost_current,
        best_plan,
        cast(cast(avg_best4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as avg_cost_best,
        cast(cast(avg_saving4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as avg_saving,
        months_better,
        cast(cast(min_saving4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as min_saving,
        cast(cast(max_saving4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as max_saving,
        recommended,
        case when avg_current4 > 0 then round(100.0 * avg_saving4 / avg_current4, 2) end
            as saving_pct,
        possibly_redundant,
        cast(cast(avg_vat4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as avg_vat_current,
        cast(cast(avg_other4 as decimal(38, 0)) * 0.0001 as decimal(18, 4)) as avg_other_charges,
        cost_centre_id,
        cost_centre_name,
        employee_name,
    from judged
)

select * from final
order by recommended desc, avg_saving desc, msisdn
