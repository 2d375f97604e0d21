-- Growth of spend and usage per segment, month on month and year on year, for the viewer's lines.
-- Dimensions: total, product_type (of the line's plan), service, cost_centre, territory.
-- spend: invoiced amounts (fct_billing) excl. VAT; spend_incl_vat adds the invoice's own VAT. For
-- the service dimension invoices say nothing about the service, so spend there is the rated usage
-- charge of the CDRs (incl. VAT at 15 %). usage_value: usage events, except for the service
-- dimension where it is in the service's own unit (usage_unit: minutes, messages or MB).
-- Account-level invoice lines, lines missing from the register, lines without an employee and
-- plans missing from the catalogue keep their own segments, so nothing is dropped.
-- Grain: one row per dimension, segment and bill period with spend or usage.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive); growth looks back 1 and 12 months
-- before each period, also before $period_from. Scope: $scope_tenant_id, $scope_all_lines,
-- $scope_msisdns.
-- The facts are summed per bill period and "cell" (a line's cost centre, plan product type and
-- territory: a few hundred per tenant) before any segment is derived, so each invoice line and
-- usage row is joined once to a small integer and never carried further at line level.
with attribution as (
    select
        a.msisdn,
        a.cost_centre_id,
        a.cost_centre_name,
        a.territory,
        coalesce(p.product_type, 'Unknown plan') as product_type,
        -- lines with the same segments share a cell
        dense_rank() over (
            order by a.cost_centre_id, a.cost_centre_name, p.product_type, a.territory
        ) as cell,
    from v_line_attribution as a
    left join dim_plan as p
        on p.plan_code = a.plan_code
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or list_contains($scope_msisdns, a.msisdn))
),

cells as (
    select distinct cell, cost_centre_id, cost_centre_name, territory, product_type,
    from attribution
),

-- invoice lines per cell and month; an invoice line without msisdn is the account's, and one
-- whose msisdn is not in the register has no cell (as in v_billing_attributed)
billing as (
    select
        b.bill_period,
        b.msisdn is null or b.msisdn = '' as account_level,
        a.cell,
        sum(b.amount) as amount,
        sum(b.amount + b.vat) as amount_incl_vat,
    from fct_billing as b
    left join attribution as a
        on a.msisdn = b.msisdn
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.bill_period <= $period_to
    group by b.bill_period, b.msisdn is null or b.msisdn = '', a.cell
),

-- usage per cell, service and month (no cell: a line missing from the register)
usage as (
    select
        u.bill_period,
        u.service,
        a.cell,
        sum(u.events) as events,
        sum(u.duration_s) as duration_s,
        sum(u.volume_kb) as volume_kb,
        sum(u.charge) as charge,
    from agg_cdr_line_month as u
    left join attribution as a
        on a.msisdn = u.msisdn
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period <= $period_to
    group by u.bill_period, u.service, a.cell
),

-- the attribution of v_billing_attributed: account level, unknown lines, else the line's
billing_attributed as (
    select
        b.bill_period,
        b.amount,
        b.amount_incl_vat,
        case
            when b.account_level then 'ACCOUNT_LEVEL'
            when b.cell is null then 'UNKNOWN'
            else c.cost_centre_id
        end as cost_centre_id,
        case
            when b.account_level then 'Account level'
            when b.cell is null then 'Unknown lines'
            else c.cost_centre_name
        end as cost_centre_name,
        c.product_type as plan_product_type,
        c.territory,
    from billing as b
    left join cells as c
        on c.cell = b.cell
),

-- the invoice sums with the segments they belong to
billing_segments as (
    select
        b.bill_period,
        b.amount,
        b.amount_incl_vat,
        b.cost_centre_id,
        b.cost_centre_name,
        case
            when b.cost_centre_id in ('ACCOUNT_LEVEL', 'UNKNOWN') then b.cost_centre_name
            else b.plan_product_type
        end as product_type,
        case
            when b.cost_centre_id in ('ACCOUNT_LEVEL', 'UNKNOWN', 'UNASSIGNED')
                then b.cost_centre_name
            else b.territory
        end as territory,
    from billing_attributed as b
),

-- the usage sums with the segments they belong to (usage always has a line)
usage_segments as (
    select
        u.bill_period,
        u.service,
        u.events,
        u.duration_s,
        u.volume_kb,
        u.charge,
        case
            when u.cell is null then 'Unknown lines'
            else c.product_type
        end as product_type,
        case when u.cell is null then 'UNKNOWN' else c.cost_centre_id end as cost_centre_id,
        case when u.cell is null then 'Unknown lines' else c.cost_centre_name end
            as cost_centre_name,
        case
            when u.cell is null then 'Unknown lines'
            when c.cost_centre_id = 'UNASSIGNED' then 'Unassigned lines'
            else c.territory
        end as territory,
    from usage as u
    left join cells as c
        on c.cell = u.cell
),

spend_monthly as (
    select 'total' as dimension, 'ALL' as segment_id, 'Total' as segment, bill_period,
        sum(amount) as spend, sum(amount_incl_vat) as spend_incl_vat,
    from billing_segments
    group by bill_period
    union all
    select 'product_type', product_type, product_type, bill_period,
        sum(amount), sum(amount_incl_vat),
    from billing_segments
    group by product_type, bill_period
    union all
    select 'cost_centre', cost_centre_id, cost_centre_name, bill_period,
        sum(amount), sum(amount_incl_vat),
    from billing_segments
    group by cost_centre_id, cost_centre_name, bill_period
    union all
    select 'territory', territory, territory, bill_period,
        sum(amount), sum(amount_incl_vat),
    from billing_segments
    group by territory, bill_period
    union all
    -- CDR-derived costs carry VAT at the standard 15 %
    select 'service', service, service, bill_period,
        sum(charge), round(sum(charge) * 1.15, 4),
    from usage_segments
    group by service, bill_period
),

usage_monthly as (
    select 'total' as dimension, 'ALL' as segment_id, 'Total' as segment, bill_period,
        cast(sum(events) as double) as usage_value,
    from usage_segments
    group by bill_period
    union all
    select 'product_type', product_type, product_type, bill_period,
        cast(sum(events) as double),
    from usage_segments
    group by product_type, bill_period
    union all
    select 'cost_centre', cost_centre_id, cost_centre_name, bill_period,
        cast(sum(events) as double),
    from usage_segments
    group by cost_centre_id, cost_centre_name, bill_period
    union all
    select 'territory', territory, territory, bill_period,
        cast(sum(events) as double),
    from usage_segments
    group by territory, bill_period
    union all
    -- minutes for calls, MB (1024 KB) for data, messages for SMS and MMS
    select 'service', service, service, bill_period,
        case service
            when 'VOICE' then cast(sum(duration_s) as double) / 60
            when 'DATA' then cast(sum(volume_kb) as double) / 1024
            else cast(sum(events) as double)
        end,
    from usage_segments
    group by service, bill_period
),

series as (
    select
        coalesce(s.dimension, u.dimension) as dimension,
        coalesce(s.segment_id, u.segment_id) as segment_id,
        coalesce(s.segment, u.segment) as segment,
        coalesce(s.bill_period, u.bill_period) as bill_period,
        coalesce(s.spend, 0) as spend,
        coalesce(s.spend_incl_vat, 0) as spend_incl_vat,
        coalesce(u.usage_value, 0) as usage_value,
    from spend_monthly as s
    full outer join usage_monthly as u
        on u.dimension = s.dimension
        and u.segment_id = s.segment_id
        and u.bill_period = s.bill_period
),

indexed as (
    select
        series.*,
        -- a month number, so "one month / one year earlier" is plain arithmetic
        cast(substr(bill_period, 1, 4) as integer) * 12
            + cast(substr(bill_period, 6, 2) as integer) as month_no,
    from series
),

final as (
    select
        cur.dimension,
        cur.segment_id,
        cur.segment,
        cur.bill_period,
        cur.spend,
        cur.spend_incl_vat,
        cur.usage_value,
        case
            when cur.dimension <> 'service' then 'events'
            when cur.segment_id = 'VOICE' then 'minutes'
            when cur.segment_id = 'DATA' then 'MB'
            else 'messages'
        end as usage_unit,
        -- growth from nothing is undefined: NULL ("n/a"), never infinite
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
        and prev.segment_id = cur.segment_id
        and prev.month_no = cur.month_no - 1
    left join indexed as last_year
        on last_year.dimension = cur.dimension
        and last_year.segment_id = cur.segment_id
        and last_year.month_no = cur.month_no - 12
    where cur.bill_period between $period_from and $period_to
)

select * from final
order by dimension, segment, bill_period
