-- Growth of spend and usage across the whole customer base, by industry (of the tenant) and by
-- product type (of the line's plan), month on month and year on year. Aggregate only: no tenant,
-- line, number or person is ever output, and a segment-month with fewer than $scope_min_lines
-- distinct lines is suppressed (growth is computed on the rows that remain, so a suppressed month
-- cannot be recovered from a neighbour's growth rate).
-- spend: invoiced amounts excl. VAT (spend_incl_vat adds the invoice's VAT); usage_value: usage
-- events. Account-level invoice lines count towards their tenant's industry and the total, but
-- carry no line, so on their own ('Account level' product type) they are always suppressed.
-- Grain: one row per dimension (total, industry, product_type), segment and bill period.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive); $scope_min_lines (bound by the gate).
with billing as (
    select * from fct_billing as b
    where b.bill_period <= $period_to
),

usage as (
    select * from agg_cdr_line_month as u
    where u.bill_period <= $period_to
),

lines as (
    select * from dim_line
),

tenants as (
    select * from dim_tenant
),

plans as (
    select * from dim_plan
),

billing_segments as (
    select
        b.bill_period,
        b.amount,
        b.vat,
        -- an empty msisdn is an account-level charge: no line to count
        nullif(b.tenant_id || ':' || coalesce(b.msisdn, ''), b.tenant_id || ':') as line_key,
        coalesce(t.industry, 'Unknown industry') as industry,
        case
            when b.msisdn is null or b.msisdn = '' then 'Account level'
            when l.msisdn is null then 'Unknown lines'
            else coalesce(p.product_type, 'Unknown plan')
        end as product_type,
    from billing as b
    left join tenants as t
        on t.tenant_id = b.tenant_id
    left join lines as l
        on l.msisdn = b.msisdn
        and l.tenant_id = b.tenant_id
    left join plans as p
        on p.plan_code = l.plan_code
),

usage_segments as (
    select
        u.bill_period,
        u.events,
        u.tenant_id || ':' || u.msisdn as line_key,
        coalesce(t.industry, 'Unknown industry') as industry,
        case
            when l.msisdn is null then 'Unknown lines'
            else coalesce(p.product_type, 'Unknown plan')
        end as product_type,
    from usage as u
    left join tenants as t
        on t.tenant_id = u.tenant_id
    left join lines as l
        on l.msisdn = u.msisdn
        and l.tenant_id = u.tenant_id
    left join plans as p
        on p.plan_code = l.plan_code
),

-- one row per segment-month and source, with the lines seen, before suppression
facts as (
    select 'total' as dimension, 'Total' as segment, bill_period, line_key,
        amount, vat, 0 as events,
    from billing_segments
    union all
    select 'industry', industry, bill_period, line_key, amount, vat, 0,
    from billing_segments
    union all
    select 'product_type', product_type, bill_period, line_key, amount, vat, 0,
    from billing_segments
    union all
    select 'total', 'Total', bill_period, line_key, 0, 0, events,
    from usage_segments
    union all
    select 'industry', industry, bill_period, line_key, 0, 0, events,
    from usage_segments
    union all
    select 'product_type', product_type, bill_period, line_key, 0, 0, events,
    from usage_segments
),

series as (
    select
        dimension,
        segment,
        bill_period,
        count(distinct line_key) as lines,
        sum(amount) as spend,
        sum(amount + vat) as spend_incl_vat,
        cast(sum(events) as double) as usage_value,
    from facts
    group by dimension, segment, bill_period
    having count(distinct line_key) >= $scope_min_lines
),

indexed as (
    select
        series.*,
        cast(substr(bill_period, 1, 4) as integer) * 12
            + cast(substr(bill_period, 6, 2) as integer) as month_no,
    from series
),

final as (
    select
        cur.dimension,
        -- the total has a fixed id, as in reports.growth_segments
        case when cur.dimension = 'total' then 'ALL' else cur.segment end as segment_id,
        cur.segment,
        cur.bill_period,
        cur.lines,
        cur.spend,
        cur.spend_incl_vat,
        cur.usage_value,
        'events' as usage_unit,
        case when prev.spend <> 0
            then (cast(cur.spend as double) / cast(prev.spend as double) - 1) * 100
        end as mom_pct,
        case when last_year.spend <> 0
            then (cast(cur.spend as double) / cast(last_year.spend as double) - 1) * 100
        end as yoy_pct,
        case when prev.usage_value <> 0
            then (cur.usage_value / prev.usage_value - 1) * 100
        end as usage_mom_pct,
        case when last_year.usage_value <> 0
            then (cur.usage_value / last_year.usage_value - 1) * 100
        end as usage_yoy_pct,
    from indexed as cur
    left join indexed as prev
        on prev.dimension = cur.dimension
        and prev.segment = cur.segment
        and prev.month_no = cur.month_no - 1
    left join indexed as last_year
        on last_year.dimension = cur.dimension
        and last_year.segment = cur.segment
        and last_year.month_no = cur.month_no - 12
    where cur.bill_period between $period_from and $period_to
)

select * from final
order by dimension, segment, bill_period
