-- The tariff model (docs/tariff-model.md) priced once for every report: each billed line-month
-- (a month with SUBSCRIPTION or USAGE invoice lines), what it was billed, and what exactly the
-- same usage would have cost on every catalogue plan of the same payment type as the line's
-- current plan. Amounts are exact integer counts of 1e-4 ZAR (suffix 4) so the reports can sum
-- and compare them without rounding; cost4 is rounded half up to 1e-4 ZAR per month.
-- Grain: one row per line, bill period and candidate plan. A model view created by the gate; it
-- computes every tenant and period, and reports apply the scope and the window on top (all three
-- are columns of the grain, so the filters commute with the pricing).
-- Besides the named columns, line_no (the line's rank by msisdn within its tenant) and plan_no
-- (the plan's rank by plan_code in the catalogue) are integer stand-ins for msisdn and
-- plan_code: a report that groups millions of priced rows groups by them (grouping by two
-- integers cost half what grouping by the text keys did at 100 M CDRs).
with billing as (
    select b.tenant_id, b.bill_period, b.msisdn, b.charge_type, b.amount, b.vat
    from fct_billing as b
    where b.msisdn <> ''
),

lines as (
    -- dim_line, not v_line_attribution: only the plan is needed here, and msisdn is the
    -- register's key, so this is the same one row per line without the employee joins
    select
        l.tenant_id,
        l.msisdn,
        l.plan_code,
        row_number() over (partition by l.tenant_id order by l.msisdn) as line_no,
    from dim_line as l
),

usage as (
    select u.*
    from agg_tariff_usage_line_month as u
),

plans as (
    -- one row per plan code: the newest catalogue entry, its amounts as exact integers: the fee
    -- in 1e-4 ZAR, each rate in 1e-4 ZAR already multiplied by its scale (see final), computed
    -- once per plan rather than once per candidate line-month
    select
        plan_code,
        row_number() over (order by plan_code) as plan_no,
        plan_name,
        payment,
        cast(monthly_fee * 10000 as bigint) as fee4,
        cast(incl_voice_min as bigint) * 60 as incl_voice_s,
        cast(incl_sms as bigint) as incl_sms,
        cast(incl_data_mb as bigint) * 1024 as incl_data_kb,
        cast(rate_voice_national * 10000 as bigint) * 256 as voice_nat_s,
        cast(rate_voice_international * 10000 as bigint) * 256 as voice_intl_s,
        cast(rate_sms * 10000 as bigint) * 15360 as sms_each,
        cast(rate_mms * 10000 as bigint) * 15360 as mms_each,
        cast(rate_data_mb * 10000 as bigint) * 15 as data_kb,
        cast(rate_roaming_voice * 10000 as bigint) * 256 as roam_voice_s,
        cast(rate_roaming_data_mb * 10000 as bigint) * 15 as roam_data_kb,
    from (
        select
            p.*,
            row_number() over (partition by p.plan_code order by p.as_of desc) as newest,
        from dim_plan as p
    ) as ranked
    where newest = 1
),

billed_months as (
    -- amounts have 4 decimals, so a sum x 10000 is an exact integer count of 1e-4 ZAR; the sum
    -- is narrowed to DECIMAL(18, 4) first so that the scaling stays in 64-bit arithmetic (from
    -- the sum's DECIMAL(38, 4) it took 128-bit steps: 40 % of this aggregate at 100 M CDRs); a
    -- line-month beyond 1e14 ZAR raises rather than wraps
    select
        tenant_id,
        bill_period,
        msisdn,
        count(case when charge_type in ('SUBSCRIPTION', 'USAGE') then 1 end) as plan_charges,
        cast(cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then amount else 0 end)
            as decimal(18, 4)) * 10000 as bigint) as billed4,
        cast(cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then vat else 0 end)
            as decimal(18, 4)) * 10000 as bigint) as vat4,
        cast(cast(sum(case when charge_type in ('SUBSCRIPTION', 'USAGE') then 0 else amount end)
            as decimal(18, 4)) * 10000 as bigint) as other4,
    from billing
    group by tenant_id, bill_period, msisdn
),

line_months as (
    select
        m.tenant_id,
        m.bill_period,
        m.msisdn,
        l.line_no,
        m.billed4,
        m.vat4,
        m.other4,
        l.plan_code as current_plan,
        p.payment,
        coalesce(u.nat_voice_s, 0) as nat_voice_s,
        coalesce(u.intl_voice_s, 0) as intl_voice_s,
        coalesce(u.sms_home, 0) as sms_home,
        coalesce(u.mms_home, 0) as mms_home,
        coalesce(u.data_kb_home, 0) as data_kb_home,
        coalesce(u.roam_voice_s, 0) as roam_voice_s,
        coalesce(u.roam_data_kb, 0) as roam_data_kb,
        coalesce(u.roam_sms, 0) as roam_sms,
        coalesce(u.roam_mms, 0) as roam_mms,
        -- the premium charge as a scaled integer (see final)
        cast(coalesce(u.premium_charge, 0) * 10000 as bigint) * 15360 as premium_scaled,
    from billed_months as m
    inner join lines as l
        on l.msisdn = m.msisdn
        and l.tenant_id = m.tenant_id
    -- a line whose current plan is not in the catalogue has no candidates
    inner join plans as p
        on p.plan_code = l.plan_code
    -- a line-month without usage has no row in the usage summary: still priced (fee only)
    left join usage as u
        on u.msisdn = m.msisdn
        and u.tenant_id = m.tenant_id
        and u.bill_period = m.bill_period
    where m.plan_charges > 0
),

candidates as (
    -- every line-month x every plan of its payment type (prepaid and postpaid are not
    -- interchangeable), joined after the usage: the optimiser does not move an inner join
    -- below the left join above, so the usage is joined to 0.3 M line-months, not to the 3.3 M
    -- candidate rows (11x the probes when both joins were inner joins of one block)
    select
        lm.* exclude (payment),
        cand.plan_no,
        cand.plan_code,
        cand.plan_name,
        cand.fee4,
        cand.incl_voice_s,
        cand.incl_sms,
        cand.incl_data_kb,
        cand.voice_nat_s,
        cand.voice_intl_s,
        cand.sms_each,
        cand.mms_each,
        cand.data_kb,
        cand.roam_voice_s as roam_voice_rate,
        cand.roam_data_kb as roam_data_rate,
    from line_months as lm
    inner join plans as cand
        on cand.payment = lm.payment
),

final as (
    -- The tariff model in exact integers: x15360 (= lcm(60, 1024)) makes per-second voice and
    -- per-KB data integral; (x + 7680) // 15360 rounds the exact total half up to 1e-4 ZAR.
    -- BIGINT, not HUGEINT: the largest term (a month of usage x a rate in 1e-4 ZAR x 15360) is
    -- about 1e15, four orders below BIGINT's 9.2e18, and DuckDB raises on an overflow rather
    -- than wrapping, so exactness is kept; 128-bit arithmetic cost a third of a whole-tenant
    -- analysis (1.2 s of 3.3 M candidate line-months at 100 M CDRs).
    select
        c.tenant_id,
        c.bill_period,
        c.msisdn,
        c.current_plan,
        c.plan_code,
        c.plan_name,
        c.billed4,
        c.vat4,
        c.other4,
        c.fee4
        + (
            greatest(0, c.nat_voice_s - c.incl_voice_s) * c.voice_nat_s
            + c.intl_voice_s * c.voice_intl_s
            + greatest(0, c.sms_home - c.incl_sms) * c.sms_each
            + c.mms_home * c.mms_each
            + greatest(0, c.data_kb_home - c.incl_data_kb) * c.data_kb
            + c.roam_voice_s * c.roam_voice_rate
            + c.roam_data_kb * c.roam_data_rate
            + c.roam_sms * c.sms_each
            + c.roam_mms * c.mms_each
            + c.premium_scaled
            + 7680
        ) // 15360 as cost4,
        c.line_no,
        c.plan_no,
    from candidates as c
)

select * from final
