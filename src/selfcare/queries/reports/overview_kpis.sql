-- Overview KPIs for the viewer's lines: spend in the selected bill periods and in the previous
-- periods of the same length (e.g. 2026-04..2026-06 → 2026-01..2026-03), active lines in the
-- current line register, and usage volumes from the monthly usage summary.
-- Grain: one row.
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive).
-- Amounts excl. VAT; incl. VAT adds the invoice's own vat column. Voice minutes and SMS count both
-- directions (made and received); data GB = volume_kb / 1,048,576.
with billing as (
    select
        b.bill_period,
        b.amount,
        b.vat,
    from fct_billing as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
),

lines as (
    select
        l.msisdn,
        l.status,
    from dim_line as l
    where l.tenant_id = $scope_tenant_id
      and ($scope_all_lines or l.msisdn in (select unnest($scope_msisdns)))
),

usage as (
    select
        u.service,
        u.events,
        u.duration_s,
        u.volume_kb,
    from agg_cdr_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period between $period_from and $period_to
),

selection as (
    select
        cast($period_from || '-01' as date) as from_date,
        cast($period_to || '-01' as date) as to_date,
),

previous as (
    -- the same number of bill periods, ending just before the selection starts
    select
        strftime(
            from_date - to_months(cast(date_diff('month', from_date, to_date) + 1 as integer)),
            '%Y-%m'
        ) as previous_from,
        strftime(from_date - to_months(1), '%Y-%m') as previous_to,
    from selection
),

spend as (
    select
        coalesce(sum(case when b.bill_period between $period_from and $period_to
            then b.amount end), 0) as amount_excl_vat,
        coalesce(sum(case when b.bill_period between $period_from and $period_to
            then b.vat end), 0) as vat,
        coalesce(sum(case when b.bill_period between p.previous_from and p.previous_to
            then b.amount end), 0) as previous_amount_excl_vat,
        coalesce(sum(case when b.bill_period between p.previous_from and p.previous_to
            then b.vat end), 0) as previous_vat,
    from previous as p
    left join billing as b
        on b.bill_period between p.previous_from and $period_to
),

volumes as (
    select
        coalesce(sum(case when u.service = 'VOICE' then u.duration_s end), 0) / 60.0
            as voice_minutes,
        cast(coalesce(sum(case when u.service = 'SMS' then u.events end), 0) as bigint) as sms,
        coalesce(sum(case when u.service = 'DATA' then u.volume_kb end), 0) / 1048576.0
            as data_gb,
    from usage as u
),

active as (
    select count(distinct l.msisdn) as active_lines,
    from lines as l
    where l.status = 'ACTIVE'
),

final as (
    select
        s.amount_excl_vat,
        s.vat,
        s.amount_excl_vat + s.vat as amount_incl_vat,
        s.previous_amount_excl_vat,
        s.previous_vat,
        s.previous_amount_excl_vat + s.previous_vat as previous_amount_incl_vat,
        p.previous_from,
        p.previous_to,
        a.active_lines,
        v.voice_minutes,
        v.sms,
        v.data_gb,
    from spend as s
    cross join previous as p
    cross join active as a
    cross join volumes as v
)

select * from final
