-- Tariff options: for each visible line and every catalogue plan of the same payment type as its
-- current plan, the average monthly cost of exactly the line's usage over the last $months bill
-- periods ending at $period_to (the tariff model, docs/tariff-model.md), and in how many of those
-- months that plan would have cost less than the bill. The pricing CTEs are the same text as in
-- tariff_analysis.sql (a test checks it).
-- Grain: one row per line and candidate plan.
-- Parameters: $period_from (accepted so every export takes from/to; the window is set by
--   $period_to and $months alone), $period_to 'YYYY-MM', $months 1..12,
--   $msisdn (null or '' = all lines).
with params as (
    select
        cast($period_from as varchar) as period_from,
        cast($period_to as varchar) as period_to,
        strftime(
            cast(cast($period_to as varchar) || '-01' as date)
            - to_months(cast($months as integer) - 1),
            '%Y-%m'
        ) as period_start,
        coalesce(cast($msisdn as varchar), '') as msisdn,
),

billing as (
    select b.bill_period, b.msisdn, b.charge_type, b.amount, b.vat
    from fct_billing as b
    where b.tenant_id = $scope_tenant_id
      and ($scope_all_lines or b.msisdn in (select unnest($scope_msisdns)))
      and b.msisdn <> ''
      and b.bill_period between (select period_start from params)
          and (select period_to from params)
),

lines as (
    select a.msisdn, a.plan_code, a.employee_name, a.cost_centre_id, a.cost_centre_name
    from v_line_attribution as a
    where a.tenant_id = $scope_tenant_id
      and ($scope_all_lines or a.msisdn in (select unnest($scope_msisdns)))
),

usage as (
    select u.*
    from agg_tariff_usage_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period between (select period_start from params)
          and (select period_to from params)
),

plans as (
    -- one row per plan code: the newest catalogue entry
    select *
    from (
        select
            p.*,
            row_number() over (partition by p.plan_code order by p.as_of desc) as newest,
        from dim_plan as p
    ) as ranked
    where newest = 1
),

billed_months as (
    select
        bill_period,
        msisdn,
        count(case when charge_type in ('SUBSCRIPTION', 'USAGE') then 1 end) as plan_charges,
        -- amounts have 4 decimals, so x 10000 is an exact integer count of 1e-4 ZAR
        cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then amount else 0 end)
            * 10000 as bigint) as billed4,
        cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then vat else 0 end)
            * 10000 as bigint) as vat4,
        cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then 0 else amount end)
            * 10000 as bigint) as other4,
    from billing
    group by bill_period, msisdn
),

line_months as (
    select
        m.bill_period,
        m.msisdn,
        m.billed4,
        m.vat4,
        m.other4,
        l.plan_code as current_plan,
        coalesce(u.nat_voice_s, 0) as nat_voice_s,
        coalesce(u.intl_voice_s, 0) as intl_voice_s,
        coalesce(u.sms_home, 0) as sms_home,
        coalesce(u.mms_home, 0) as mms_home,
        coalesce(u.data_kb_home, 0) as data_kb_home,
        coalesce(u.roam_voice_s, 0) as roam_voice_s,
        coalesce(u.roam_data_kb, 0) as roam_data_kb,
        coalesce(u.roam_sms, 0) as roam_sms,
        coalesce(u.roam_mms, 0) as roam_mms,
        coalesce(u.premium_charge, 0) as premium_charge,
    from billed_months as m
    inner join lines as l
        on l.msisdn = m.msisdn
    -- a line-month without usage has no row in the usage summary: still priced (fee only)
    left join usage as u
        on u.msisdn = m.msisdn
        and u.bill_period = m.bill_period
    where m.plan_charges > 0
),

candidates as (
    select
        lm.*,
        cand.plan_code,
        cand.monthly_fee,
        cand.incl_voice_min,
        cand.incl_sms,
        cand.incl_data_mb,
        cand.rate_voice_national,
        cand.rate_voice_international,
        cand.rate_sms,
        cand.rate_mms,
        cand.rate_data_mb,
        cand.rate_roaming_voice,
        cand.rate_roaming_data_mb,
    from line_months as lm
    inner join plans as cur
        on cur.plan_code = lm.current_plan
    -- only plans of the same payment type: prepaid and postpaid are not interchangeable
    inner join plans as cand
        on cand.payment = cur.payment
),

priced as (
    -- The tariff model in exact integers: x15360 (= lcm(60, 1024)) makes per-second voice and
    -- per-KB data integral; (x + 7680) // 15360 rounds the exact total half up to 1e-4 ZAR.
    select
        c.bill_period,
        c.msisdn,
        c.current_plan,
        c.plan_code,
        c.billed4,
        c.vat4,
        c.other4,
        cast(c.monthly_fee * 10000 as bigint)
        + (
            greatest(0, c.nat_voice_s - c.incl_voice_min * 60)
                * cast(c.rate_voice_national * 10000 as hugeint) * 256
            + c.intl_voice_s * cast(c.rate_voice_international * 10000 as hugeint) * 256
            + greatest(0, c.sms_home - c.incl_sms)
                * cast(c.rate_sms * 10000 as hugeint) * 15360
            + c.mms_home * cast(c.rate_mms * 10000 as hugeint) * 15360
            + greatest(0, c.data_kb_home - c.incl_data_mb * 1024)
                * cast(c.rate_data_mb * 10000 as hugeint) * 15
            + c.roam_voice_s * cast(c.rate_roaming_voice * 10000 as hugeint) * 256
            + c.roam_data_kb * cast(c.rate_roaming_data_mb * 10000 as hugeint) * 15
            + c.roam_sms * cast(c.rate_sms * 10000 as hugeint) * 15360
            + c.roam_mms * cast(c.rate_mms * 10000 as hugeint) * 15360
            + cast(c.premium_charge * 10000 as hugeint) * 15360
            + 7680
        ) // 15360 as cost4,
    from candidates as c
),

per_plan as (
    select
        p.msisdn,
        p.plan_code,
        p.plan_code = p.current_plan as is_current,
        count(*) as months,
        sum(p.cost4) as cost_sum4,
        count(case when p.cost4 < p.billed4 then 1 end) as months_cheaper,
    from priced as p
    where (select msisdn from params) = ''
       or p.msisdn = (select msisdn from params)
    group by p.msisdn, p.plan_code, p.plan_code = p.current_plan
),

final as (
    select
        pp.msisdn,
        pp.plan_code,
        -- rounded half up to 1e-4 ZAR, as in the analysis
        cast(cast((2 * pp.cost_sum4 + pp.months) // (2 * pp.months) as decimal(38, 0)) * 0.0001
            as decimal(18, 4)) as avg_cost,
        pl.plan_name,
        pp.is_current,
        pp.months,
        pp.months_cheaper,
    from per_plan as pp
    inner join plans as pl
        on pl.plan_code = pp.plan_code
)

select * from final
order by msisdn, avg_cost, plan_code
