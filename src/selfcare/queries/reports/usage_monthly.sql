-- Usage per bill period and service: volumes in their own units, in-bundle vs out-of-bundle, and
-- what roaming cost, for the viewer's lines.
-- Grain: one row per bill period and service (VOICE, SMS, MMS, DATA).
-- Parameters: $period_from, $period_to ('YYYY-MM', inclusive), $service (NULL: every service);
-- scope: $scope_tenant_id, $scope_all_lines, $scope_msisdns.
with usage as (
    select * from agg_cdr_line_month as u
    where u.tenant_id = $scope_tenant_id
      and ($scope_all_lines or u.msisdn in (select unnest($scope_msisdns)))
      and u.bill_period between $period_from and $period_to
      and ($service is null or u.service = $service)
),

final as (
    select
        u.bill_period,
        u.service,
        cast(sum(u.events) as bigint) as events,
        -- minutes only mean something for calls, MB only for data: other services show 0
        cast(sum(case when u.service = 'VOICE' then u.duration_s else 0 end) as double) / 60
            as minutes,
        cast(sum(case when u.service = 'SMS' then u.events else 0 end) as bigint) as sms,
        cast(sum(case when u.service = 'MMS' then u.events else 0 end) as bigint) as mms,
        -- 1 MB = 1024 KB, as in the tariff model
        cast(sum(case when u.service = 'DATA' then u.volume_kb else 0 end) as double) / 1024
            as data_mb,
        cast(sum(u.in_bundle_events) as bigint) as in_bundle_events,
        -- in-bundle events are charged 0, so every charge is out of bundle
        sum(u.charge) as out_of_bundle_charge,
        coalesce(sum(case when u.roaming_country <> '' then u.charge end), 0) as roaming_charge,
    from usage as u
    group by u.bill_period, u.service
)

select * from final
order by bill_period, service
