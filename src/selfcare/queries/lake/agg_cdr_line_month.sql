-- Usage summary rebuilt at load time for the partitions the load touched.
-- Grain: one row per tenant, bill period, msisdn, service, direction and roaming country
-- ('' at home). Reads: fct_cdr_affected (the fct_cdr rows of the (tenant, bill period)
-- partitions this load added CDRs to; the loader defines it). Parameters: none.
with cdr as (
    select
        c.tenant_id,
        c.bill_period,
        c.msisdn,
        c.service,
        c.direction,
        coalesce(c.roaming_country, '') as roaming_country,
        c.duration_s,
        c.volume_kb,
        c.charge,
    from fct_cdr_affected as c
),

final as (
    select
        tenant_id,
        bill_period,
        msisdn,
        service,
        direction,
        roaming_country,
        count(*) as events,
        -- in bundle: the event drew on an allowance or was free, so it cost nothing
        count(case when charge = 0 then 1 end) as in_bundle_events,
        cast(coalesce(sum(duration_s), 0) as bigint) as duration_s,
        cast(coalesce(sum(volume_kb), 0) as bigint) as volume_kb,
        -- sum() widens DECIMAL(18,4) to DECIMAL(38,4); the lake keeps amounts at (18,4)
        cast(coalesce(sum(charge), 0) as decimal(18, 4)) as charge,
    from cdr
    group by tenant_id, bill_period, msisdn, service, direction, roaming_country
)

select * from final
