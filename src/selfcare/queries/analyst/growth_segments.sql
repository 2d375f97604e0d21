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
--
-- Each fact CTE is read once (billing_lines is a second, narrower read of fct_billing): DuckDB
-- materialises a CTE that is read twice, which cost more than scanning the Parquet again.
with billing as (
    select b.tenant_id, b.bill_period, b.msisdn, b.amount, b.vat,
    from fct_billing as b
    where b.bill_period <= $period_to
),

billing_lines as (
    select b.tenant_id, b.bill_period, b.msisdn,
    from fct_billing as b
    where b.bill_period <= $period_to
      and b.msisdn <> ''
),

usage as (
    select u.tenant_id, u.bill_period, u.msisdn, u.events,
    from agg_cdr_line_month as u
    where u.bill_period <= $period_to
),

-- the line-months with usage: agg_tariff_usage_line_month holds exactly one row per tenant, bill
-- period and msisdn of fct_cdr (the same CDRs as agg_cdr_line_month, rebuilt by the same load),
-- so it lists them without regrouping the usage summary's service-level rows
usage_lines as (
    select u.tenant_id, u.bill_period, u.msisdn,
    from agg_tariff_usage_line_month as u
    where u.bill_period <= $period_to
),

lines as (
    select l.tenant_id, l.msisdn, l.plan_code,
    from dim_line as l
),

tenants as (
    select t.tenant_id, t.industry,
    from dim_tenant as t
),

plans as (
    select p.plan_code, p.product_type,
    from dim_plan as p
),

-- the product type of every line in the register, so the facts are joined once (not to the line
-- and then to its plan)
line_segments as (
    select
        l.tenant_id,
        l.msisdn,
        coalesce(p.product_type, 'Unknown plan') as product_type,
        -- a number per product type: the facts are grouped by it, cheaper than by the text
        dense_rank() over (order by coalesce(p.product_type, 'Unknown plan')) as product_no,
    from lines as l
    left join plans as p
        on p.plan_code = l.plan_code
),

-- sums are taken at the grain of the segments (tenant, product type, month) before the tenant's
-- industry is looked up: the facts are joined once to the line register and never carried at
-- line level
billing_sums as (
    select
        b.tenant_id,
        b.bill_period,
        case
            when b.msisdn is null or b.msisdn = '' then 'Account level'
            when l.msisdn is null then 'Unknown lines'
            else l.product_type
        end as product_type,
        sum(b.amount) as spend,
        sum(b.amount + b.vat) as spend_incl_vat,
        0 as events,
    from billing as b
    left join line_segments as l
        on l.msisdn = b.msisdn
        and l.tenant_id = b.tenant_id
    group by all
),

usage_products as (
    select
        u.tenant_id,
        u.bill_period,
        l.product_no,
        sum(u.events) as events,
    from usage as u
    left join line_segments as l
        on l.msisdn = u.msisdn
        and l.tenant_id = u.tenant_id
    group by u.tenant_id, u.bill_period, l.product_no
),

usage_sums as (
    select
        u.tenant_id,
        u.bill_period,
        coalesce(n.product_type, 'Unknown lines') as product_type,
        0 as spend,
        0 as spend_incl_vat,
        u.events,
    from usage_products as u
    left join (select distinct product_no, product_type from line_segments) as n
        on n.product_no = u.product_no
),

-- every line seen in a month (an invoice line or usage), once; an invoice line without msisdn is
-- the account's, not a line's
line_months as (
    select b.tenant_id, b.bill_period, b.msisdn,
    from billing_lines as b
    union
    select u.tenant_id, u.bill_period, u.msisdn,
    from usage_lines as u
    where u.msisdn is not null
),

-- a line has one product type (the register is keyed by msisdn within a tenant), so counting the
-- distinct line-months of a tenant and product type counts each line once; the dimensions then
-- add these counts up without counting distinct again
line_counts as (
    select
        m.tenant_id,
        m.bill_period,
        case
            when l.msisdn is null then 'Unknown lines'
            else l.product_type
        end as product_type,
        0 as spend,
        0 as spend_incl_vat,
        0 as events,
        count(*) as lines,
    from line_months as m
    left join line_segments as l
        on l.msisdn = m.msisdn
        and l.tenant_id = m.tenant_id
    group by all
),

-- one row per tenant, bill period and product type: everything the dimensions add up
cells as (
    select
        c.tenant_id,
        c.bill_period,
        c.product_type,
        coalesce(t.industry, 'Unknown industry') as industry,
        sum(c.lines) as lines,
        sum(c.spend) as spend,
        sum(c.spend_incl_vat) as spend_incl_vat,
        sum(c.events) as events,
    from (
        select tenant_id, bill_period, product_type, spend, spend_incl_vat, events, 0 as lines,
        from billing_sums
        union all
        select tenant_id, bill_period, product_type, spend, spend_incl_vat, events, 0 as lines,
        from usage_sums
        union all
        select tenant_id, bill_period, product_type, spend, spend_incl_vat, events, lines,
        from line_counts
    ) as c
    left join tenants as t
        on t.tenant_id = c.tenant_id
    group by all
),

facts as (
    select 'total' as dimension, 'Total' as segment, bill_period, lines, spend, spend_incl_vat,
        events,
    from cells
    union all
    select 'industry', industry, bill_period, lines, spend, spend_incl_vat, events,
    from cells
    union all
    select 'product_type', product_type, bill_period, lines, spend, spend_incl_vat, events,
    from cells
),

series as (
    select
        dimension,
        segment,
        bill_period,
        cast(sum(lines) as bigint) as lines,
        sum(spend) as spend,
        sum(spend_incl_vat) as spend_incl_vat,
        cast(sum(events) as double) as usage_value,
    from facts
    group by dimension, segment, bill_period
    having sum(lines) >= $scope_min_lines
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
