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
        cast($months as integer) as months,
        -- thresholds in 1e-4 ZAR and percent, compared in exact arithmetic
        cast(cast($min_saving as decimal(18, 4)) * 10000 as bigint) as min_saving4,
        cast($min_pct as decimal(18, 4)) as min_pct,
        coalesce(cast($cost_centre as varchar), '') as cost_centre,
),

lines as (
    -- line_no numbers the tenant's lines by msisdn before the scope filter, exactly as the
    -- model view numbers them (its comment): the priced rows are grouped by that integer and
    -- their text found here, on 27 k lines rather than in 3.3 M priced rows
    select
        a.msisdn,
        a.plan_code,
        a.employee_name,
        a.cost_centre_id,
        a.cost_centre_name,
        a.line_no,
    from (
        select
            t.*,
            row_number() over (order by t.msisdn) as line_no,
        from v_line_attribution as t
        where t.tenant_id = $scope_tenant_id
    ) as a
    where $scope_all_lines or a.msisdn in (select unnest($scope_msisdns))
),

priced as (
    select
        p.line_no,
        p.plan_no,
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
    -- "possibly redundant" looks at the last three bill periods, whatever $months is
    select e.msisdn, sum(e.events) as events
    from agg_cdr_line_month as e
    where e.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, e.msisdn))
      -- written out, not read from params: a plain expression is pushed down to the scan
      and e.bill_period between strftime(
              cast(cast($period_to as varchar) || '-01' as date) - to_months(2), '%Y-%m'
          ) and cast($period_to as varchar)
    group by e.msisdn
),

per_plan as (
    -- one pass over the priced line-months: each plan's total and, against what was billed,
    -- the month-by-month band (the best plan's row is picked below); a second pass joining the
    -- best plan back to every priced month costs as much again on a whole tenant. Grouped by
    -- the view's integer stand-ins for (msisdn, plan_code), not by the text (a line has one
    -- current plan): text keys, or carrying the msisdn and plans along, cost 2x over 3.3 M rows
    select
        line_no,
        plan_no,
        any_value(plan_code) as plan_code,
        count(*) as months,
        sum(cost4) as cost_sum4,
        sum(billed4) as billed_sum4,
        sum(vat4) as vat_sum4,
        sum(other4) as other_sum4,
        count(case when billed4 - cost4 > 0 then 1 end) as months_better,
        min(billed4 - cost4) as min_saving4,
        max(billed4 - cost4) as max_saving4,
    from priced
    group by line_no, plan_no
),

best as (
    -- cheapest over the window; a tie keeps the current plan, then the lowest plan code
    -- (plan_no follows plan_code); arg_min per line rather than a window sort of every plan
    select
        pp.line_no,
        arg_min(
            struct_pack(
                best_plan := pp.plan_code,
                best_sum4 := pp.cost_sum4,
                pp.months,
                pp.billed_sum4,
                pp.vat_sum4,
                pp.other_sum4,
                pp.months_better,
                pp.min_saving4,
                pp.max_saving4
            ),
            [pp.cost_sum4, case when pp.plan_code = l.plan_code then 0 else 1 end, pp.plan_no]
        ) as b,
    from per_plan as pp
    inner join lines as l
        on l.line_no = pp.line_no
    group by pp.line_no
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
    from (select best.line_no, unnest(best.b) from best) as b
    inner join lines as l
        on l.line_no = b.line_no
    left join recent_events as e
        on e.msisdn = l.msisdn
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
