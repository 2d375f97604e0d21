-- Average spend per line over time: for every bill period, the visible lines billed in it, their
-- plan spend (SUBSCRIPTION + USAGE), all their line-level charges, and the averages per line.
-- Grain: one row per bill period (all periods in the lake).
-- Parameters: scope only.
with billing as (
    select b.bill_period, b.msisdn, b.charge_type, b.amount
    from fct_billing as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      -- account-level charges belong to no line
      and b.msisdn <> ''
),

per_period as (
    select
        bill_period,
        count(distinct msisdn) as lines,
        sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then amount else 0 end)
            as plan_spend,
        sum(amount) as total_spend,
        -- amounts have 4 decimals: x 10000 is exact, so the averages round exactly
        cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then amount else 0 end)
            * 10000 as bigint) as plan_spend4,
        cast(sum(amount) * 10000 as bigint) as total_spend4,
    from billing
    group by bill_period
),

final as (
    select
        bill_period,
        lines,
        plan_spend,
        total_spend,
        -- averages rounded half up to 1e-4 ZAR: floor((2s + n) / 2n)
        cast(cast((2 * plan_spend4 + lines) // (2 * lines) as decimal(38, 0)) * 0.0001
            as decimal(18, 4)) as avg_plan_spend_per_line,
        cast(cast((2 * total_spend4 + lines) // (2 * lines) as decimal(38, 0)) * 0.0001
            as decimal(18, 4)) as avg_spend_per_line,
    from per_period
)

select * from final
order by bill_period
