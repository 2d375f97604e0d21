-- The tariff model's usage buckets per line and month (docs/tariff-model.md), rebuilt at load
-- time for the partitions the load touched; the tariff analyser prices them under every plan.
-- Grain: one row per tenant, bill period and msisdn.
-- Reads: fct_cdr_affected (defined by the loader). Parameters: none.
with cdr as (
    select
        c.tenant_id,
        c.bill_period,
        c.msisdn,
        c.service,
        c.direction,
        coalesce(c.destination_class, '') as destination_class,
        coalesce(c.roaming_country, '') <> '' as roaming,
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
        cast(coalesce(sum(case when not roaming and service = 'VOICE' and direction = 'MO'
            and destination_class in ('ONNET', 'OFFNET', 'FIXED')
            then duration_s end), 0) as bigint) as nat_voice_s,
        cast(coalesce(sum(case when not roaming and service = 'VOICE' and direction = 'MO'
            and destination_class = 'INTERNATIONAL'
            then duration_s end), 0) as bigint) as intl_voice_s,
        -- PREMIUM is charged on its own and TOLLFREE at home is free: neither counts as a message
        count(case when not roaming and service = 'SMS' and direction = 'MO'
            and destination_class not in ('PREMIUM', 'TOLLFREE') then 1 end) as sms_home,
        count(case when not roaming and service = 'MMS' and direction = 'MO'
            and destination_class not in ('PREMIUM', 'TOLLFREE') then 1 end) as mms_home,
        cast(coalesce(sum(case when not roaming and service = 'DATA'
            then volume_kb end), 0) as bigint) as data_kb_home,
        -- roaming voice is charged both ways (MO and MT)
        cast(coalesce(sum(case when roaming and service = 'VOICE'
            and destination_class <> 'PREMIUM'
            then duration_s end), 0) as bigint) as roam_voice_s,
        cast(coalesce(sum(case when roaming and service = 'DATA'
            then volume_kb end), 0) as bigint) as roam_data_kb,
        count(case when roaming and service = 'SMS' and direction = 'MO'
            and destination_class <> 'PREMIUM' then 1 end) as roam_sms,
        count(case when roaming and service = 'MMS' and direction = 'MO'
            and destination_class <> 'PREMIUM' then 1 end) as roam_mms,
        cast(coalesce(sum(case when destination_class = 'PREMIUM'
            then charge end), 0) as decimal(18, 4)) as premium_charge,
        cast(coalesce(sum(charge), 0) as decimal(18, 4)) as usage_charge,
    from cdr
    group by tenant_id, bill_period, msisdn
)

select * from final
